//! Secrets never reach the output: the real binary runs a Slack conversation at trace
//! level, and neither its logs nor `print-config` contain any token, key or SiteAssist
//! session token.
#![cfg(feature = "slack")]

mod fake_slack;
mod support;

use fake_slack::{FakeSlack, FakeSlackConfig};
use siteassist_bridge::simulator::answer_for;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_siteassist-bridge");
const BOT_TOKEN: &str = "xoxb-SECRET-bot-token-7f3a9";
const APP_TOKEN: &str = "xapp-SECRET-app-token-51c2e";
const SIGNING_SECRET: &str = "SECRET-signing-9d8e7f";
const KEY: &str = "pk_live_SECRET_publishable_4b1d";
const DISCORD: &str = "SECRET.discord.token-a1b2";

fn env(sim_url: &str, slack: &FakeSlack) -> Vec<(&'static str, String)> {
    vec![
        ("SITEASSIST_PUBLISHABLE_KEY", KEY.into()),
        ("SITEASSIST_BRIDGE__SITEASSIST__API_URL", sim_url.into()),
        ("SITEASSIST_BRIDGE__STORE__BACKEND", "memory".into()),
        ("SITEASSIST_BRIDGE__SLACK__ENABLED", "true".into()),
        ("SITEASSIST_BRIDGE__SLACK__API_URL", slack.api_url()),
        ("SLACK_BOT_TOKEN", BOT_TOKEN.into()),
        ("SLACK_APP_TOKEN", APP_TOKEN.into()),
        ("SLACK_SIGNING_SECRET", SIGNING_SECRET.into()),
        ("DISCORD_TOKEN", DISCORD.into()),
        ("RUST_LOG", "trace".into()),
    ]
}

#[track_caller]
fn assert_no_secret(output: &str) {
    for secret in [BOT_TOKEN, APP_TOKEN, SIGNING_SECRET, KEY, DISCORD, "SECRET"] {
        assert!(!output.contains(secret), "{secret} leaked");
    }
    // SiteAssist session tokens (JWT-shaped, from the simulator) must not appear either.
    assert!(!output.contains("eyJ"), "a session token leaked");
}

#[tokio::test(flavor = "multi_thread")]
async fn trace_logs_and_print_config_hold_no_secret() {
    let sim = support::simulator(1).await;
    let slack = FakeSlack::start_with(FakeSlackConfig {
        bot_token: BOT_TOKEN.into(),
        app_token: APP_TOKEN.into(),
        ..FakeSlackConfig::default()
    })
    .await;
    let bridge = support::ReportingChild::spawn(
        Command::new(BIN)
            .env_clear()
            .envs(env(&sim.base_url, &slack))
            .stdin(Stdio::null())
            .stdout(Stdio::null()),
    );
    slack.wait_for_socket_connections(1).await;
    let q = "How do I reset my password?";
    let answer_ts =
        slack.ask("EvS", "C0SEC", "U0SEC", q, "1700003000.000100", &answer_for(q)).await;
    slack.send_socket_event(fake_slack::reaction(
        "EvS2", true, "U0SEC", "+1", "C0SEC", &answer_ts, "UBOT",
    ));
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        sim.sim.wait_until(|s| s.feedback_log().len() == 1),
    )
    .await
    .unwrap();
    // The simulator logs feedback before it answers; the bridge logs and counts it after.
    // Killing before the count would cut the feedback path's trace lines from the check.
    support::wait_for_metrics(&bridge.base_url(), "the feedback count", |page| {
        support::metric_sample(page, "siteassist_bridge_feedback_sent_total", &[]) == Some(1.0)
    })
    .await;
    let logs = bridge.kill_and_logs();
    assert!(logs.lines().count() > 50, "trace logging was on: {} lines", logs.lines().count());
    assert!(logs.contains("TRACE") || logs.contains("\"level\":\"TRACE\""), "trace lines present");
    assert_no_secret(&logs);

    let printed = Command::new(BIN)
        .arg("print-config")
        .env_clear()
        .envs(env(&sim.base_url, &slack))
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&printed.stdout).into_owned();
    assert!(printed.contains("bot_token = \"***\""), "{printed}");
    assert_no_secret(&printed);
}
