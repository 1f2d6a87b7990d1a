//! SIGTERM mid-answer: the bridge stops taking events, lets the reply finish within
//! `bridge.shutdown_grace_secs`, and closes it visibly when the grace runs out.
#![cfg(all(unix, feature = "slack"))]

mod fake_slack;
mod support;

use fake_slack::{shows_answer, FakeSlack};
use siteassist_bridge::simulator::answer_for;
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_siteassist-bridge");
const Q: &str = "How do I reset my password?";

/// Starts the bridge, asks `Q`, sends SIGTERM once the answer is visibly streaming, and
/// returns the thread's final text and whether the process exited cleanly.
async fn ask_then_terminate(word_delay_ms: u64, grace_secs: u64) -> (String, bool) {
    let sim = support::simulator(word_delay_ms).await;
    let slack = FakeSlack::start().await;
    let mut child = Command::new(BIN)
        .env_clear()
        .envs([
            ("SITEASSIST_PUBLISHABLE_KEY", "pk_test_term".to_string()),
            ("SITEASSIST_BRIDGE__SITEASSIST__API_URL", sim.base_url.clone()),
            ("SITEASSIST_BRIDGE__STORE__BACKEND", "memory".into()),
            // The ops server is not used here: any free port the kernel picks.
            ("SITEASSIST_BRIDGE__SERVER__LISTEN", "127.0.0.1:0".into()),
            ("SITEASSIST_BRIDGE__BRIDGE__SHUTDOWN_GRACE_SECS", grace_secs.to_string()),
            ("SITEASSIST_BRIDGE__SLACK__ENABLED", "true".into()),
            ("SITEASSIST_BRIDGE__SLACK__API_URL", slack.api_url()),
            ("SLACK_BOT_TOKEN", fake_slack::BOT_TOKEN.into()),
            ("SLACK_APP_TOKEN", fake_slack::APP_TOKEN.into()),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    slack.wait_for_socket_connections(1).await;
    let ts = "1700004000.000100";
    slack.send_socket_event(fake_slack::app_mention(
        "EvT",
        "C0T",
        "U0T",
        &format!("<@UBOT> {Q}"),
        ts,
        None,
    ));
    // The answer is streaming once words show: in the placeholder (edits), or in the
    // stream below it (native streams, the default).
    slack
        .wait_until("streaming text", |f| {
            f.messages_in_thread("C0T", ts).iter().any(|(_, t)| t != "Thinking…")
        })
        .await;
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = tokio::task::spawn_blocking(move || {
        support::wait_child(&mut child, Duration::from_secs(60))
    })
    .await
    .unwrap();
    let thread = slack.messages_in_thread("C0T", ts);
    // Finished or closed, nothing is left thinking (nor a Stop button under it).
    assert!(thread.iter().all(|(_, t)| t != "Thinking…"), "{thread:?}");
    let text = thread.last().map(|(_, t)| t.clone()).unwrap_or_default();
    (text, status.success())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reply_in_flight_finishes_within_the_grace_period() {
    let (text, clean) = ask_then_terminate(40, 20).await;
    assert!(clean, "exit status 0");
    assert!(shows_answer(&text, &answer_for(Q)), "the whole answer landed after SIGTERM: {text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reply_still_streaming_when_the_grace_runs_out_is_closed_visibly() {
    let (text, clean) = ask_then_terminate(400, 1).await;
    assert!(clean, "exit status 0");
    assert!(text.contains("interrupted") && text.contains("ask again"), "{text}");
}
