//! `/readyz` follows the database: the real binary on PostgreSQL reached through a TCP
//! proxy this test controls, against the fake Slack. With the proxy down (every
//! connection cut, new ones closed at once) readiness fails naming the store; with it
//! back, readiness returns and the bridge answers again. On the way, `/metrics` shows
//! the pool and the store operations' latency.
//!
//! Needs PostgreSQL: `SITEASSIST_TEST_DATABASE_URL` (set by `.ci/run`); without it the
//! test is listed as ignored (see `build.rs`).
#![cfg(feature = "slack")]

mod db_proxy;
mod fake_slack;
mod support;

use db_proxy::{wait_ready_status, Proxy};
use fake_slack::{shows_answer, FakeSlack};
use siteassist_bridge::simulator::answer_for;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_siteassist-bridge");

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(test_database),
    ignore = "needs PostgreSQL: set SITEASSIST_TEST_DATABASE_URL (.ci/run sets it)"
)]
async fn readyz_fails_while_the_database_is_unreachable_and_recovers() {
    let base = std::env::var("SITEASSIST_TEST_DATABASE_URL").unwrap();
    let schema = format!("sab_ready_{}", uuid::Uuid::new_v4().simple());
    let (db, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    db.batch_execute(&format!("CREATE SCHEMA {schema}")).await.unwrap();
    let (proxy, url) = Proxy::in_front_of(&base).await;
    let url = url::Url::parse(&url).unwrap();
    // `%20`, not the `+` that form encoding would write: libpq URLs decode only `%`.
    let sep = if url.query().is_some() { '&' } else { '?' };
    let url = format!("{url}{sep}options=-c%20search_path%3D{schema}");

    let sim = support::simulator(1).await;
    let slack = FakeSlack::start().await;
    let env = [
        ("SITEASSIST_PUBLISHABLE_KEY", "pk_test_ready"),
        ("SITEASSIST_BRIDGE__SITEASSIST__API_URL", sim.base_url.as_str()),
        ("SITEASSIST_BRIDGE__STORE__BACKEND", "postgres"),
        ("DATABASE_URL", &url),
        ("SITEASSIST_BRIDGE__SLACK__ENABLED", "true"),
        ("SITEASSIST_BRIDGE__SLACK__API_URL", &slack.api_url()),
        ("SLACK_BOT_TOKEN", fake_slack::BOT_TOKEN),
        ("SLACK_APP_TOKEN", fake_slack::APP_TOKEN),
    ];
    let bridge = support::ReportingChild::spawn(
        Command::new(BIN).env_clear().envs(env).stdin(Stdio::null()).stdout(Stdio::null()),
    );
    slack.wait_for_socket_connections(1).await;
    let ops = bridge.base_url();
    wait_ready_status(&ops, 200).await;
    let q = "How do I reset my password?";
    slack.ask("EvR1", "C0RDY", "U0RDY", q, "1700003000.000100", &answer_for(q)).await;
    // The pool and the store's operations are measured.
    let metrics = reqwest::get(format!("{ops}/metrics")).await.unwrap().text().await.unwrap();
    let sample = |name: &str, labels: &[&str]| support::metric_sample(&metrics, name, labels);
    let operations = sample("siteassist_bridge_store_query_seconds_count", &[]);
    assert!(operations.unwrap_or(0.0) >= 2.0, "store operations timed: {operations:?}");
    let open = sample("siteassist_bridge_store_pool_connections", &["state=\"open\""]);
    assert!(open.unwrap_or(0.0) >= 1.0, "the pool's connections: {open:?}");
    let in_use = sample("siteassist_bridge_store_pool_connections", &["state=\"in_use\""]);
    assert!(in_use.is_some_and(|n| n <= open.unwrap()), "lent out: {in_use:?} of {open:?}");

    proxy.set_up(false);
    let (took, body) = wait_ready_status(&ops, 503).await;
    assert!(body.contains("store: store backend failed: postgres"), "the store is named: {body}");
    eprintln!("not ready {} ms after the database went away: {body}", took.as_millis());

    // A question while the database is away cannot be made durable, so it must not be
    // acknowledged: Slack redelivers it, and it is answered once the database is back.
    let lost = "Can I pay by invoice?";
    let (channel, ts) = ("C0RDY", "1700003002.000100");
    let text = format!("<@{}> {lost}", fake_slack::BOT_USER_ID);
    let envelope =
        slack.send_socket_event(fake_slack::app_mention("EvR3", channel, "U0RDY", &text, ts, None));

    proxy.set_up(true);
    let (took, _) = wait_ready_status(&ops, 200).await;
    eprintln!("ready again {} ms after it came back", took.as_millis());
    let acked = slack.acks().iter().filter(|e| **e == envelope).count();
    eprintln!("the question asked during the outage was acknowledged {acked} times by then");
    if acked == 0 {
        slack.redeliver(&envelope);
    }
    let expected = answer_for(lost);
    slack
        .wait_until("the answer to the question asked during the outage", |f| {
            f.messages_in_thread(channel, ts)
                .last()
                .is_some_and(|(_, t)| shows_answer(t, &expected))
        })
        .await;
    let asked = sim.sim.questions().iter().filter(|q| q.content == lost).count();
    assert_eq!(asked, 1, "SiteAssist got the question once (acked before redelivery: {acked})");
    assert_eq!(slack.messages_in_thread(channel, ts).len(), 1, "one answer in the thread");
    let q = "What are your prices?";
    slack.ask("EvR2", "C0RDY", "U0RDY", q, "1700003001.000100", &answer_for(q)).await;

    drop(bridge);
    db.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).await.unwrap();
}
