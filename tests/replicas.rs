//! Several bridge processes on one PostgreSQL store behave as one bot: the real binary,
//! three (or two) replicas in Slack Events mode, each on its own port, against the
//! fake Slack and the SiteAssist simulator. The test chooses which replica gets each
//! event, as a load balancer would.
//!
//! - Follow-ups in the same threads sent to different replicas are answered exactly
//!   once each, in per-thread order, and no replica touches another's live replies.
//! - `kill -9` of a replica while its replies stream: each is finished or closed by
//!   another replica within 10 s, exactly once.
//! - SIGTERM of a replica: it finishes its reply, then its leases are gone at once (the
//!   ttl here is a minute, so expiry cannot be what freed them) and the thread it
//!   answered in is answered by another replica without waiting.
//!
//! Needs PostgreSQL: `SITEASSIST_TEST_DATABASE_URL` (set by `.ci/run`); without it the
//! tests are listed as ignored (see `build.rs`).
#![cfg(all(unix, feature = "slack"))]

mod fake_slack;
mod support;

use fake_slack::{app_mention, post_event, unix_now, FakeSlack, SIGNING_SECRET};
use futures_util::FutureExt;
use siteassist_bridge::adapters::slack::format::to_slack;
use siteassist_bridge::simulator::{answer_for, RunningSimulator};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_siteassist-bridge");
const STARTUP: Duration = Duration::from_secs(30);

/// One database schema, simulator and fake Slack shared by the replicas of a test.
struct Cluster {
    url: String,
    db: tokio_postgres::Client,
    schema: String,
    sim: RunningSimulator,
    slack: FakeSlack,
}

/// A replica: its process, its Events API URL and its replica id.
struct Replica {
    bridge: support::ReportingChild,
    events: String,
    id: String,
}

impl Cluster {
    async fn start(word_delay_ms: u64) -> Self {
        let base = std::env::var("SITEASSIST_TEST_DATABASE_URL").unwrap();
        let schema = format!("sab_replicas_{}", uuid::Uuid::new_v4().simple());
        let (db, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        db.batch_execute(&format!("CREATE SCHEMA {schema}")).await.unwrap();
        // `%20`, not the `+` that form encoding would write: libpq URLs decode only `%`.
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
        let sim = support::simulator(word_delay_ms).await;
        let slack = FakeSlack::start().await;
        // Slack's 50 updates a minute (split between the replicas) would make 90
        // streamed answers take minutes: these tests are about order and takeover.
        slack.set_limits(fake_slack::SlackLimits {
            updates_per_window: 100_000,
            ..Default::default()
        });
        Self { url, db, schema, sim, slack }
    }

    /// Starts a replica with `extra` settings and waits until it takes events.
    fn replica(&self, extra: &[(&str, &str)]) -> Replica {
        let env = [
            ("SITEASSIST_PUBLISHABLE_KEY", "pk_test_replicas"),
            ("SITEASSIST_BRIDGE__SITEASSIST__API_URL", self.sim.base_url.as_str()),
            ("SITEASSIST_BRIDGE__STORE__BACKEND", "postgres"),
            ("DATABASE_URL", &self.url),
            ("SITEASSIST_BRIDGE__BRIDGE__USER_QUESTIONS_PER_MINUTE", "0"),
            ("SITEASSIST_BRIDGE__BRIDGE__CHANNEL_QUESTIONS_PER_MINUTE", "0"),
            ("SITEASSIST_BRIDGE__SLACK__ENABLED", "true"),
            ("SITEASSIST_BRIDGE__SLACK__MODE", "events"),
            ("SITEASSIST_BRIDGE__SLACK__LISTEN", "127.0.0.1:0"),
            ("SITEASSIST_BRIDGE__SLACK__API_URL", &self.slack.api_url()),
            ("SITEASSIST_BRIDGE__SLACK__EDIT_BUDGET_PER_MINUTE", "100000"),
            ("SLACK_BOT_TOKEN", fake_slack::BOT_TOKEN),
            ("SLACK_SIGNING_SECRET", SIGNING_SECRET),
        ];
        let bridge = support::ReportingChild::spawn(
            Command::new(BIN)
                .env_clear()
                .envs(env)
                .envs(extra.iter().copied())
                .stdin(Stdio::null())
                .stdout(Stdio::null()),
        );
        let joined = bridge.wait_for_line("joined the replicas", STARTUP);
        // JSON logs (not a terminal): `"replica":"<id>"`.
        let id = joined
            .split("\"replica\":\"")
            .nth(1)
            .map(|rest| rest.chars().take_while(char::is_ascii_alphanumeric).collect())
            .unwrap_or_else(|| panic!("no replica id in {joined:?}"));
        let port = bridge.wait_for_port("Slack Events API listening", STARTUP);
        Replica { bridge, events: format!("http://127.0.0.1:{port}/slack/events"), id }
    }

    /// Sends a question mentioning the bot to `replica`, as Slack would (top-level when
    /// `thread_ts` is `None`). Returns once the replica acknowledged it: by then its
    /// claim and in-flight record are in the store.
    async fn ask(
        &self,
        replica: &Replica,
        event: &str,
        channel: &str,
        q: &str,
        ts: &str,
        thread_ts: Option<&str>,
    ) {
        let text = format!("<@{}> {q}", fake_slack::BOT_USER_ID);
        let body = app_mention(event, channel, "U0REP", &text, ts, thread_ts);
        self.slack.remember(&body);
        let (status, said) =
            post_event(&replica.events, SIGNING_SECRET, &body, unix_now(), None).await;
        assert!(status.is_success(), "{status}: {said}");
    }

    /// Table scans and rows written in this test's schema per question, from
    /// PostgreSQL's statistics (a measurement to print, not to assert on).
    async fn table_work(&self, questions: usize) -> String {
        let q =
            "SELECT relname, seq_scan + COALESCE(idx_scan, 0), n_tup_ins + n_tup_upd + n_tup_del
                 FROM pg_stat_user_tables WHERE schemaname = $1 ORDER BY relname";
        let rows = self.db.query(q, &[&self.schema]).await.unwrap();
        let per = |n: i64| n as f64 / questions as f64;
        rows.iter()
            .map(|r| {
                format!(
                    "{}: {:.1} scans, {:.1} rows written",
                    r.get::<_, &str>(0),
                    per(r.get(1)),
                    per(r.get(2))
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The leases in the store, as `(key, holder)`.
    async fn leases(&self) -> Vec<(String, String)> {
        let q = format!("SELECT key, holder FROM {}.sab_leases ORDER BY key", self.schema);
        let rows = self.db.query(&q, &[]).await.unwrap();
        rows.iter().map(|r| (r.get(0), r.get(1))).collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let (url, schema) =
            (std::env::var("SITEASSIST_TEST_DATABASE_URL").unwrap(), self.schema.clone());
        // A fresh runtime on its own thread: the test's runtime may be shutting down.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let Ok((client, conn)) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await
                else {
                    return;
                };
                tokio::spawn(conn);
                let _ = client.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).await;
            })
        })
        .join();
    }
}

/// Says which threads are not answered as expected and what the replicas logged
/// above INFO, then fails.
fn report(
    cluster: &Cluster,
    replicas: Vec<Replica>,
    channel: impl Fn(usize) -> String,
    threads: usize,
) -> ! {
    for i in 0..threads {
        let texts = cluster.slack.messages_in_thread(&channel(i), &root_ts(i));
        let short: Vec<String> = texts
            .iter()
            .map(|(ts, t)| format!("{ts}: {}", t.chars().take(40).collect::<String>()))
            .collect();
        eprintln!("thread {i}: {short:?}");
    }
    for r in replicas {
        let id = r.id.clone();
        let logs = r.bridge.kill_and_logs();
        let notable: Vec<&str> =
            logs.lines().filter(|l| !l.contains("\"INFO\"")).take(40).collect();
        eprintln!("replica {id}:\n{}", notable.join("\n"));
    }
    panic!("not every thread was answered as expected");
}

/// A metric of a replica (0 when absent).
async fn metric(replica: &Replica, name: &str, labels: &[&str]) -> f64 {
    let text = reqwest::get(format!("{}/metrics", replica.bridge.base_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    support::metric_sample(&text, name, labels).unwrap_or(0.0)
}

/// Question `k` (0-based) of thread `i`: three topics, so every answer differs from the
/// one before it in its thread.
fn question(i: usize, k: usize) -> String {
    let topic =
        ["How do I reset my password?", "Can I get a refund?", "Where is my API key?"][k % 3];
    format!("Thread {i} question {k}: {topic}")
}

fn root_ts(i: usize) -> String {
    format!("{}.000100", 1_700_100_000 + i * 10)
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(test_database),
    ignore = "needs PostgreSQL: set SITEASSIST_TEST_DATABASE_URL (.ci/run sets it)"
)]
async fn follow_ups_on_different_replicas_are_answered_once_and_in_thread_order() {
    const THREADS: usize = 30;
    const ASKED: usize = 3;
    let cluster = Cluster::start(15).await;
    let replicas: Vec<Replica> = (0..3).map(|_| cluster.replica(&[])).collect();
    // Each sees the others at its next heartbeat, and splits the edit budgets by three.
    for r in &replicas {
        support::wait_for_metrics(&r.bridge.base_url(), "three replicas alive", |m| {
            support::metric_sample(m, "siteassist_bridge_replicas_alive", &[]) == Some(3.0)
        })
        .await;
    }
    let started = Instant::now();
    // Round k sends every thread's question k, to replica (i + k) % 3, all at once and
    // without waiting for answers, so follow-ups arrive while earlier answers stream on
    // other replicas.
    for k in 0..ASKED {
        let sends = (0..THREADS).map(|i| {
            let (root, ts) =
                (root_ts(i), format!("{}.{:06}", 1_700_100_000 + i * 10, 100 + k * 100));
            let thread_ts = (k > 0).then_some(root.clone());
            let (cluster, replica) = (&cluster, &replicas[(i + k) % 3]);
            async move {
                let (event, channel) = (format!("EvRep{i}x{k}"), format!("C0REP{i}"));
                cluster
                    .ask(replica, &event, &channel, &question(i, k), &ts, thread_ts.as_deref())
                    .await
            }
        });
        futures_util::future::join_all(sends).await;
    }
    let expected = |i: usize| -> Vec<String> {
        (0..ASKED).map(|k| to_slack(&answer_for(&question(i, k)))).collect()
    };
    let answered = |f: &FakeSlack, i: usize| {
        let texts: Vec<String> = f
            .messages_in_thread(&format!("C0REP{i}"), &root_ts(i))
            .into_iter()
            .map(|(_, t)| t)
            .collect();
        texts == expected(i)
    };
    let all = cluster.slack.wait_until_within(
        "every thread's three answers",
        Duration::from_secs(120),
        |f| (0..THREADS).all(|i| answered(f, i)),
    );
    if std::panic::AssertUnwindSafe(all).catch_unwind().await.is_err() {
        report(&cluster, replicas, |i| format!("C0REP{i}"), THREADS);
    }
    eprintln!(
        "{} questions over {THREADS} threads answered by {} replicas in {} ms",
        THREADS * ASKED,
        replicas.len(),
        started.elapsed().as_millis()
    );

    // One replica at a time in a thread: once a thread's next reply is posted, the one
    // before it is never edited again (it was finished before the next one started).
    for i in 0..THREADS {
        let channel = format!("C0REP{i}");
        let replies: Vec<String> = cluster
            .slack
            .messages_in_thread(&channel, &root_ts(i))
            .into_iter()
            .map(|(ts, _)| ts)
            .collect();
        let mut current: Option<usize> = None;
        for call in cluster.slack.calls().iter().filter(|c| c.params["channel"] == channel.as_str())
        {
            match call.method.as_str() {
                "chat.postMessage" => current = Some(current.map_or(0, |c| c + 1)),
                "chat.update" => {
                    let edited = replies.iter().position(|ts| call.params["ts"] == ts.as_str());
                    assert_eq!(
                        edited, current,
                        "thread {i}: an earlier reply edited after a later one began"
                    );
                }
                _ => {}
            }
        }
    }
    // SiteAssist got each question once, and each thread's in the order asked.
    let asked: Vec<String> = cluster.sim.sim.questions().into_iter().map(|q| q.content).collect();
    for i in 0..THREADS {
        let at: Vec<usize> = (0..ASKED)
            .map(|k| {
                let q = question(i, k);
                assert_eq!(asked.iter().filter(|a| **a == q).count(), 1, "{q:?} relayed once");
                asked.iter().position(|a| *a == q).unwrap()
            })
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "thread {i} relayed in order: {at:?}");
    }
    // Each replica answered its share, and none took over a live replica's reply.
    let mut total = 0.0;
    for r in &replicas {
        let started =
            metric(r, "siteassist_bridge_replies_started_total", &["platform=\"slack\""]).await;
        assert!(started > 0.0, "replica {} answered some", r.id);
        total += started;
        assert_eq!(
            metric(r, "siteassist_bridge_takeovers_total", &["platform=\"slack\""]).await,
            0.0
        );
    }
    assert_eq!(
        total,
        (THREADS * ASKED) as f64,
        "every question was taken on by exactly one replica"
    );
    // What it cost the database, per question: stopped gracefully, each replica's
    // connections report their table statistics as they close.
    for mut r in replicas {
        let pid = r.bridge.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        assert!(support::wait_child(&mut r.bridge.child, Duration::from_secs(30)).success());
    }
    eprintln!("store work per question: {}", cluster.table_work(THREADS * ASKED).await);
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(test_database),
    ignore = "needs PostgreSQL: set SITEASSIST_TEST_DATABASE_URL (.ci/run sets it)"
)]
async fn a_killed_replicas_streaming_replies_are_closed_by_another_within_10_s() {
    const STREAMING: usize = 8;
    // Slow words: every reply is still streaming when its replica dies.
    let cluster = Cluster::start(150).await;
    let mut doomed = cluster.replica(&[]);
    let others: Vec<Replica> = (0..2).map(|_| cluster.replica(&[])).collect();
    for i in 0..STREAMING {
        let q = question(i, 0);
        cluster
            .ask(&doomed, &format!("EvKill{i}"), &format!("C0KIL{i}"), &q, &root_ts(i), None)
            .await;
    }
    cluster
        .slack
        .wait_until_within("every reply streaming", Duration::from_secs(30), |f| {
            (0..STREAMING).all(|i| {
                f.messages_in_thread(&format!("C0KIL{i}"), &root_ts(i))
                    .first()
                    .is_some_and(|(_, t)| t != "Thinking…")
            })
        })
        .await;
    doomed.bridge.child.kill().unwrap(); // SIGKILL
    let killed = Instant::now();
    let closed = |f: &FakeSlack, i: usize| {
        let texts = f.messages_in_thread(&format!("C0KIL{i}"), &root_ts(i));
        let done = to_slack(&answer_for(&question(i, 0)));
        texts.len() == 1 && (texts[0].1 == done || texts[0].1.contains("interrupted"))
    };
    cluster
        .slack
        .wait_until_within("every reply finished or closed", Duration::from_secs(10), |f| {
            (0..STREAMING).all(|i| closed(f, i))
        })
        .await;
    eprintln!(
        "{STREAMING} replies of a killed replica closed {} ms after the kill",
        killed.elapsed().as_millis()
    );
    let _ = doomed.bridge.child.wait();

    let mut taken = 0.0;
    for r in &others {
        taken += metric(r, "siteassist_bridge_takeovers_total", &["platform=\"slack\""]).await;
    }
    assert_eq!(taken, STREAMING as f64, "each reply taken over by exactly one replica");
    // The thread is free again: a follow-up there goes to a live replica and is answered
    // after the closed reply (its turn does not wait on the dead replica).
    let follow_up = question(0, 1);
    let ts = format!("{}.000200", 1_700_100_000);
    cluster.ask(&others[0], "EvKillF", "C0KIL0", &follow_up, &ts, Some(&root_ts(0))).await;
    let want = to_slack(&answer_for(&follow_up));
    cluster
        .slack
        .wait_until_within("the follow-up's answer", Duration::from_secs(20), |f| {
            let texts = f.messages_in_thread("C0KIL0", &root_ts(0));
            texts.len() == 2 && texts[1].1 == want
        })
        .await;
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(test_database),
    ignore = "needs PostgreSQL: set SITEASSIST_TEST_DATABASE_URL (.ci/run sets it)"
)]
async fn a_replica_stopped_by_sigterm_releases_its_leases_at_once() {
    // A minute's ttl: if the leases were left to expire, the others would wait that long.
    let minute = [("SITEASSIST_BRIDGE__STORE__LEASE_TTL_MS", "60000")];
    let cluster = Cluster::start(60).await;
    let mut leaving = cluster.replica(&minute);
    let staying = cluster.replica(&minute);
    let holders =
        |leases: &[(String, String)], id: &str| leases.iter().filter(|(_, h)| h == id).count();
    assert_eq!(holders(&cluster.leases().await, &leaving.id), 1, "its replica lease");

    let (channel, root) = ("C0TERM", root_ts(0));
    let first = question(0, 0);
    cluster.ask(&leaving, "EvTerm0", channel, &first, &root, None).await;
    cluster
        .slack
        .wait_until("streaming text", |f| {
            f.messages_in_thread(channel, &root).first().is_some_and(|(_, t)| t != "Thinking…")
        })
        .await;
    // Mid-answer it holds the thread's lease as well.
    assert_eq!(holders(&cluster.leases().await, &leaving.id), 2, "{:?}", cluster.leases().await);
    let pid = leaving.bridge.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let child = &mut leaving.bridge.child;
    let status = support::wait_child(child, Duration::from_secs(30));
    assert!(status.success(), "exit status 0");
    let left = cluster.leases().await;
    assert_eq!(holders(&left, &leaving.id), 0, "every lease released at exit: {left:?}");
    assert_eq!(holders(&left, &staying.id), 1, "the other replica's lease stays: {left:?}");
    let done = to_slack(&answer_for(&first));
    assert_eq!(
        cluster.slack.messages_in_thread(channel, &root).last().map(|(_, t)| t.clone()),
        Some(done)
    );

    // The thread goes on at once on the other replica.
    let asked = Instant::now();
    let follow_up = question(0, 1);
    cluster
        .ask(
            &staying,
            "EvTerm1",
            channel,
            &follow_up,
            &format!("{}.000200", 1_700_100_000),
            Some(&root),
        )
        .await;
    let want = to_slack(&answer_for(&follow_up));
    cluster
        .slack
        .wait_until_within("the follow-up's answer", Duration::from_secs(20), |f| {
            f.messages_in_thread(channel, &root).last().map(|(_, t)| t.as_str())
                == Some(want.as_str())
        })
        .await;
    eprintln!(
        "follow-up answered by the other replica {} ms after it was asked",
        asked.elapsed().as_millis()
    );
}
