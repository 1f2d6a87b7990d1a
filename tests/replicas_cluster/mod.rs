//! The harness of `tests/replicas*.rs`: bridge processes on one PostgreSQL schema,
//! with the simulator and the fake Slack they share.
#![allow(dead_code)]

use crate::fake_slack::{self, app_mention, post_event, unix_now, FakeSlack, SIGNING_SECRET};
use crate::support;
use futures_util::FutureExt;
use siteassist_bridge::adapters::slack::format::to_slack;
use siteassist_bridge::simulator::{answer_for, RunningSimulator};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_siteassist-bridge");
pub const STARTUP: Duration = Duration::from_secs(30);

/// One database schema, simulator and fake Slack shared by the replicas of a test.
pub struct Cluster {
    pub url: String,
    pub db: tokio_postgres::Client,
    pub schema: String,
    pub sim: RunningSimulator,
    pub slack: FakeSlack,
}

/// A replica: its process, its Events API URL and its replica id.
pub struct Replica {
    pub bridge: support::ReportingChild,
    pub events: String,
    pub id: String,
}

impl Cluster {
    pub async fn start(word_delay_ms: u64) -> Self {
        Self::start_via(word_delay_ms, None).await
    }

    /// [`Self::start`] with the replicas reaching the database at `via` (the same
    /// server through a proxy, say) instead of the test's own URL.
    pub async fn start_via(word_delay_ms: u64, via: Option<&str>) -> Self {
        let base = std::env::var("SITEASSIST_TEST_DATABASE_URL").unwrap();
        let schema = format!("sab_replicas_{}", uuid::Uuid::new_v4().simple());
        let (db, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        db.batch_execute(&format!("CREATE SCHEMA {schema}")).await.unwrap();
        // `%20`, not the `+` that form encoding would write: libpq URLs decode only `%`.
        let replicas_base = via.unwrap_or(&base);
        let sep = if replicas_base.contains('?') { '&' } else { '?' };
        let url = format!("{replicas_base}{sep}options=-c%20search_path%3D{schema}");
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

    /// Starts a replica in Events mode with `extra` settings and waits until it takes
    /// events.
    pub fn replica(&self, extra: &[(&str, &str)]) -> Replica {
        self.spawn("events", extra)
    }

    /// Starts a replica in Socket Mode and waits until its connection is up.
    pub fn socket_replica(&self) -> Replica {
        self.spawn("socket", &[])
    }

    fn spawn(&self, mode: &str, extra: &[(&str, &str)]) -> Replica {
        let env = [
            ("SITEASSIST_PUBLISHABLE_KEY", "pk_test_replicas"),
            ("SITEASSIST_BRIDGE__SITEASSIST__API_URL", self.sim.base_url.as_str()),
            ("SITEASSIST_BRIDGE__STORE__BACKEND", "postgres"),
            ("DATABASE_URL", &self.url),
            ("SITEASSIST_BRIDGE__BRIDGE__USER_QUESTIONS_PER_MINUTE", "0"),
            ("SITEASSIST_BRIDGE__BRIDGE__CHANNEL_QUESTIONS_PER_MINUTE", "0"),
            ("SITEASSIST_BRIDGE__SLACK__ENABLED", "true"),
            ("SITEASSIST_BRIDGE__SLACK__MODE", mode),
            // The edit path: these runs check answers by their rendered text and count
            // edits; native streams, and their recovery after a kill, are tested in
            // tests/slack_streaming.rs.
            ("SITEASSIST_BRIDGE__SLACK__STREAMING", "edit"),
            ("SITEASSIST_BRIDGE__SLACK__LISTEN", "127.0.0.1:0"),
            ("SITEASSIST_BRIDGE__SLACK__API_URL", &self.slack.api_url()),
            ("SITEASSIST_BRIDGE__SLACK__EDIT_BUDGET_PER_MINUTE", "100000"),
            ("SLACK_BOT_TOKEN", fake_slack::BOT_TOKEN),
            ("SLACK_SIGNING_SECRET", SIGNING_SECRET),
            ("SLACK_APP_TOKEN", fake_slack::APP_TOKEN),
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
        if mode == "socket" {
            bridge.wait_for_line("Slack Socket Mode connected", STARTUP);
            return Replica { bridge, events: String::new(), id };
        }
        let port = bridge.wait_for_port("Slack Events API listening", STARTUP);
        Replica { bridge, events: format!("http://127.0.0.1:{port}/slack/events"), id }
    }

    /// Sends a question mentioning the bot to `replica`, as Slack would (top-level when
    /// `thread_ts` is `None`). Returns once the replica acknowledged it: by then its
    /// claim and in-flight record are in the store.
    pub async fn ask(
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
    pub async fn table_work(&self, questions: usize) -> String {
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
    pub async fn leases(&self) -> Vec<(String, String)> {
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
pub fn report(
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
pub async fn metric(replica: &Replica, name: &str, labels: &[&str]) -> f64 {
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
pub fn question(i: usize, k: usize) -> String {
    let topic =
        ["How do I reset my password?", "Can I get a refund?", "Where is my API key?"][k % 3];
    format!("Thread {i} question {k}: {topic}")
}

pub fn root_ts(i: usize) -> String {
    format!("{}.000100", 1_700_100_000 + i * 10)
}

/// Waits (at most 120 s) until each of `threads` threads (channel `{prefix}{i}`, root
/// [`root_ts`]) shows its `asked_per_thread` answers in order, then checks that each
/// reply was finished before the next in its thread began, that SiteAssist got every
/// question once and in thread order, and that every replica answered some and took
/// over nothing. Gives the replicas back.
pub async fn check_threads(
    cluster: &Cluster,
    prefix: &str,
    threads: usize,
    asked_per_thread: usize,
    replicas: Vec<Replica>,
    started: Instant,
) -> Vec<Replica> {
    let expected = |i: usize| -> Vec<String> {
        (0..asked_per_thread).map(|k| to_slack(&answer_for(&question(i, k)))).collect()
    };
    let answered = |f: &FakeSlack, i: usize| {
        let texts: Vec<String> = f
            .messages_in_thread(&format!("{prefix}{i}"), &root_ts(i))
            .into_iter()
            .map(|(_, t)| t)
            .collect();
        texts == expected(i)
    };
    let all = cluster.slack.wait_until_within(
        "every thread's three answers",
        Duration::from_secs(120),
        |f| (0..threads).all(|i| answered(f, i)),
    );
    if std::panic::AssertUnwindSafe(all).catch_unwind().await.is_err() {
        report(cluster, replicas, |i| format!("{prefix}{i}"), threads);
    }
    eprintln!(
        "{} questions over {threads} threads answered by {} replicas in {} ms",
        threads * asked_per_thread,
        replicas.len(),
        started.elapsed().as_millis()
    );

    // One replica at a time in a thread: once a thread's next reply is posted, the one
    // before it is never edited again (it was finished before the next one started).
    for i in 0..threads {
        let channel = format!("{prefix}{i}");
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
    for i in 0..threads {
        let at: Vec<usize> = (0..asked_per_thread)
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
        (threads * asked_per_thread) as f64,
        "every question was taken on by exactly one replica"
    );
    replicas
}
