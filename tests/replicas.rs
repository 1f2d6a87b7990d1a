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
//! - Socket Mode: every replica opens its own connection; envelopes are spread over
//!   the three and one in ten is delivered again on another connection, as Slack does
//!   with a late ack: each question is still answered once, in thread order.
//! - Human handoff: one replica holds a conversation's socket whichever replicas
//!   answered in the thread, the other answers a question there as it would (marked
//!   delivered), and adopts the relay when that one is killed; each agent message
//!   shows once.
//!
//! Needs PostgreSQL: `SITEASSIST_TEST_DATABASE_URL` (set by `.ci/run`); without it the
//! tests are listed as ignored (see `build.rs`).
#![cfg(all(unix, feature = "slack"))]

mod fake_slack;
mod replicas_cluster;
mod support;

use fake_slack::{app_mention, FakeSlack};
use replicas_cluster::{check_threads, metric, question, root_ts, Cluster, Replica};
use siteassist_bridge::adapters::slack::format::to_slack;
use siteassist_bridge::simulator::answer_for;
use std::process::Command;
use std::time::{Duration, Instant};

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
    let replicas = check_threads(&cluster, "C0REP", THREADS, ASKED, replicas, started).await;
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
    const STREAMING: usize = 20;
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

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(test_database),
    ignore = "needs PostgreSQL: set SITEASSIST_TEST_DATABASE_URL (.ci/run sets it)"
)]
async fn socket_mode_envelopes_spread_over_three_connections_are_answered_once_in_order() {
    const THREADS: usize = 20;
    const ASKED: usize = 3;
    let cluster = Cluster::start(15).await;
    let replicas: Vec<Replica> = (0..3).map(|_| cluster.socket_replica()).collect();
    cluster.slack.wait_for_socket_connections(3).await;
    let started = Instant::now();
    let mut next = 0;
    let mut again = 0;
    for k in 0..ASKED {
        let mut round = Vec::new();
        for i in 0..THREADS {
            let root = root_ts(i);
            let ts = format!("{}.{:06}", 1_700_100_000 + i * 10, 100 + k * 100);
            let thread_ts = (k > 0).then_some(root.as_str());
            let text = format!("<@{}> {}", fake_slack::BOT_USER_ID, question(i, k));
            let event = app_mention(
                &format!("EvSock{i}x{k}"),
                &format!("C0SOK{i}"),
                "U0REP",
                &text,
                &ts,
                thread_ts,
            );
            let envelope = cluster.slack.send_socket_event_on(next, event);
            next += 1;
            if (i + k) % 10 == 0 {
                // Delivered again, on the next connection.
                cluster.slack.redeliver_on(next, &envelope);
                again += 1;
            }
            round.push(envelope);
        }
        // Acknowledged means claimed and recorded: the next round arrives after it.
        for envelope in &round {
            cluster.slack.wait_for_ack(envelope).await;
        }
    }
    eprintln!("{again} of {} envelopes delivered twice", THREADS * ASKED);
    check_threads(&cluster, "C0SOK", THREADS, ASKED, replicas, started).await;
}

/// Human handoff across replicas: one replica at a time holds a conversation's socket
/// (its relay lease), whichever replicas answered in the thread; the agent's messages
/// appear once; and when that replica is killed, another adopts the relay within the
/// takeover bound and the next agent message still appears, once.
#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(test_database),
    ignore = "needs PostgreSQL: set SITEASSIST_TEST_DATABASE_URL (.ci/run sets it)"
)]
async fn one_replica_relays_a_handed_over_conversation_and_another_adopts_it_when_it_dies() {
    let cluster = Cluster::start(1).await;
    let mut first = cluster.replica(&[]);
    let second = cluster.replica(&[]);
    let (channel, root) = ("C0HND", root_ts(0));
    let answered = |k: usize| {
        let want = to_slack(&answer_for(&question(0, k)));
        cluster.slack.wait_until_within("an answer", Duration::from_secs(20), move |f| {
            f.messages_in_thread(channel, &root_ts(0)).iter().any(|(_, t)| *t == want)
        })
    };
    // The first question is answered by one replica, which then listens for a takeover.
    cluster.ask(&first, "EvHnd0", channel, &question(0, 0), &root, None).await;
    answered(0).await;
    let sim = &cluster.sim.sim;
    tokio::time::timeout(Duration::from_secs(10), sim.wait_until(|s| s.open_sockets() == 1))
        .await
        .expect("the first replica listens on the conversation's socket");
    // Two follow-ups answered by the other: by the time the second is shown, the first's
    // answer job, which ends by starting (or leaving) the thread's relay, is done there.
    for k in 1..3 {
        let ts = format!("{}.{:06}", 1_700_100_000, 100 + k * 100);
        cluster
            .ask(&second, &format!("EvHnd{k}"), channel, &question(0, k), &ts, Some(&root))
            .await;
        answered(k).await;
    }
    let relays = "siteassist_bridge_handoff_relays";
    assert_eq!(metric(&first, relays, &[]).await, 1.0, "the first replica relays the thread");
    assert_eq!(metric(&second, relays, &[]).await, 0.0, "the second leaves it to the first");
    assert_eq!((sim.open_sockets(), sim.sockets_opened()), (1, 1), "one socket in all");

    let conversation = sim.conversation_ids().pop().expect("a conversation");
    assert!(sim.hand_over(&conversation, "Dana"));
    sim.agent_message(&conversation, "Hi, Dana here.").unwrap();
    let hi = to_slack("**Dana:** Hi, Dana here.");
    let shown = |text: String| {
        cluster.slack.wait_until_within("an agent message", Duration::from_secs(20), move |f| {
            f.messages_in_thread(channel, &root_ts(0)).iter().any(|(_, t)| *t == text)
        })
    };
    shown(hi.clone()).await;
    // A question the replica without the relay takes is answered as the relaying one
    // would: marked delivered, with no placeholder and no second handover note.
    let before = cluster.slack.messages_in_thread(channel, &root).len();
    let ts = format!("{}.{:06}", 1_700_100_000, 900);
    cluster.ask(&second, "EvHndQ", channel, "Is anyone there?", &ts, Some(&root)).await;
    cluster
        .slack
        .wait_until_within("the question marked delivered", Duration::from_secs(20), |f| {
            f.calls_to("reactions.add").iter().any(|c| {
                c.params["timestamp"] == ts.as_str() && c.params["name"] == "white_check_mark"
            })
        })
        .await;
    let after = cluster.slack.messages_in_thread(channel, &root);
    assert_eq!(after.len(), before, "nothing posted for it: {after:?}");

    first.bridge.child.kill().unwrap(); // SIGKILL
    let killed = Instant::now();
    tokio::time::timeout(
        Duration::from_secs(15),
        sim.wait_until(|s| s.sockets_opened() == 2 && s.open_sockets() == 1),
    )
    .await
    .expect("the second replica adopts the relay");
    eprintln!("relay adopted {} ms after the kill", killed.elapsed().as_millis());
    let _ = first.bridge.child.wait();
    sim.agent_message(&conversation, "Found it: all fixed.").unwrap();
    let fixed = to_slack("**Dana:** Found it: all fixed.");
    shown(fixed.clone()).await;
    assert_eq!(metric(&second, relays, &[]).await, 1.0);

    let texts: Vec<String> =
        cluster.slack.messages_in_thread(channel, &root).into_iter().map(|(_, t)| t).collect();
    for text in [&hi, &fixed] {
        assert_eq!(texts.iter().filter(|t| *t == text).count(), 1, "{text:?} once: {texts:?}");
    }
}
