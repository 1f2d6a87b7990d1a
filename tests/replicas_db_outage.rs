//! The database goes away for 5 s in the middle of a run of three replicas, and
//! nothing is lost or doubled: the real binary, three replicas in Socket Mode on one
//! PostgreSQL schema reached through a TCP proxy this test switches off (every
//! connection cut, new ones closed at once) and on again, against the fake Slack and
//! the SiteAssist simulator.
//!
//! The outage starts while the first round of answers streams; the second round is
//! asked while it lasts. Every replica's `/readyz` fails naming the store and recovers;
//! an event the bridge could not make durable is not acknowledged, so it is delivered
//! again (on another connection, as Slack does) and answered then; in the end every
//! question is answered exactly once, in thread order, by one replica, with no
//! takeover of a live replica's reply.
//!
//! Needs PostgreSQL: `SITEASSIST_TEST_DATABASE_URL` (set by `.ci/run`); without it the
//! test is listed as ignored (see `build.rs`).
#![cfg(all(unix, feature = "slack"))]

mod db_proxy;
mod fake_slack;
mod replicas_cluster;
mod support;

use db_proxy::{wait_ready_status, Proxy};
use fake_slack::app_mention;
use replicas_cluster::{check_threads, question, root_ts, Cluster, Replica};
use siteassist_bridge::adapters::slack::format::to_slack;
use siteassist_bridge::simulator::answer_for;
use std::time::{Duration, Instant};

const THREADS: usize = 12;
const ASKED: usize = 3;
const OUTAGE: Duration = Duration::from_secs(5);

/// Sends question `k` of every thread, spread over the open connections from `next`;
/// returns the envelope ids.
fn send_round(cluster: &Cluster, k: usize, next: &mut usize) -> Vec<String> {
    (0..THREADS)
        .map(|i| {
            let root = root_ts(i);
            let ts = format!("{}.{:06}", 1_700_100_000 + i * 10, 100 + k * 100);
            let thread_ts = (k > 0).then_some(root.as_str());
            let text = format!("<@{}> {}", fake_slack::BOT_USER_ID, question(i, k));
            let event = app_mention(
                &format!("EvOut{i}x{k}"),
                &format!("C0OUT{i}"),
                "U0REP",
                &text,
                &ts,
                thread_ts,
            );
            *next += 1;
            cluster.slack.send_socket_event_on(*next, event)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(test_database),
    ignore = "needs PostgreSQL: set SITEASSIST_TEST_DATABASE_URL (.ci/run sets it)"
)]
async fn a_5_s_database_outage_mid_run_loses_and_doubles_nothing() {
    let base = std::env::var("SITEASSIST_TEST_DATABASE_URL").unwrap();
    let (proxy, via) = Proxy::in_front_of(&base).await;
    // 100 ms a word: the first round's answers are still streaming when the cut comes.
    let cluster = Cluster::start_via(100, Some(&via)).await;
    let replicas: Vec<Replica> = (0..3).map(|_| cluster.socket_replica()).collect();
    cluster.slack.wait_for_socket_connections(3).await;
    for r in &replicas {
        wait_ready_status(&r.bridge.base_url(), 200).await;
    }
    let started = Instant::now();
    let mut next = 0;

    // Round one: acknowledged means claimed and recorded, so durable before the cut.
    for envelope in send_round(&cluster, 0, &mut next) {
        cluster.slack.wait_for_ack(&envelope).await;
    }
    proxy.set_up(false);
    let cut = Instant::now();
    for r in &replicas {
        let (took, body) = wait_ready_status(&r.bridge.base_url(), 503).await;
        assert!(body.contains("store"), "/readyz names the store: {body}");
        eprintln!("replica {} not ready {} ms into the outage", r.id, took.as_millis());
    }
    let unfinished = (0..THREADS)
        .filter(|&i| {
            let shown = cluster.slack.messages_in_thread(&format!("C0OUT{i}"), &root_ts(i));
            shown.last().map(|(_, t)| t.as_str()) != Some(&to_slack(&answer_for(&question(i, 0))))
        })
        .count();
    eprintln!("{unfinished} of {THREADS} first answers unfinished when the outage began");

    // Round two, asked while the database is away.
    let during = send_round(&cluster, 1, &mut next);
    // The outage lasts its full length whatever the replicas do meanwhile.
    tokio::time::sleep(OUTAGE.saturating_sub(cut.elapsed())).await;
    proxy.set_up(true);
    eprintln!("database back after {} ms", cut.elapsed().as_millis());
    for r in &replicas {
        let (took, _) = wait_ready_status(&r.bridge.base_url(), 200).await;
        eprintln!(
            "replica {} ready again {} ms after the database came back",
            r.id,
            took.as_millis()
        );
    }

    // What was not acknowledged Slack delivers again, on another connection.
    let acks = cluster.slack.acks();
    let mut again = 0;
    for envelope in &during {
        if !acks.contains(envelope) {
            next += 1;
            cluster.slack.redeliver_on(next, envelope);
            again += 1;
        }
    }
    eprintln!("{again} of {THREADS} questions asked during the outage delivered again");
    for envelope in &during {
        cluster.slack.wait_for_ack(envelope).await;
    }

    // Round three, after the outage.
    for envelope in send_round(&cluster, 2, &mut next) {
        cluster.slack.wait_for_ack(&envelope).await;
    }
    let replicas = check_threads(&cluster, "C0OUT", THREADS, ASKED, replicas, started).await;
    drop(replicas);
}
