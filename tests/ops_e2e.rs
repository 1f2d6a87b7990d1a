//! Operations, end to end with the real binary: the health, readiness and metrics
//! endpoints of a bridge running Slack against the fakes, and `check` reporting what
//! works and what does not.
#![cfg(all(feature = "slack", feature = "discord"))]

mod fake_discord;
mod fake_slack;
mod support;

use fake_slack::FakeSlack;
use siteassist_bridge::simulator::answer_for;
use std::process::{Command, Stdio};
use std::time::Duration;
use support::metric_sample;

const BIN: &str = env!("CARGO_BIN_EXE_siteassist-bridge");

fn base_env(sim_url: &str, slack: &FakeSlack) -> Vec<(String, String)> {
    [
        ("SITEASSIST_PUBLISHABLE_KEY", "pk_test_ops"),
        ("SITEASSIST_BRIDGE__SITEASSIST__API_URL", sim_url),
        ("SITEASSIST_BRIDGE__STORE__BACKEND", "memory"),
        ("SITEASSIST_BRIDGE__SLACK__ENABLED", "true"),
        ("SITEASSIST_BRIDGE__SLACK__API_URL", &slack.api_url()),
        ("SLACK_BOT_TOKEN", fake_slack::BOT_TOKEN),
        ("SLACK_APP_TOKEN", fake_slack::APP_TOKEN),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

async fn get(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.expect("endpoint answers");
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn health_readiness_and_metrics_of_a_running_bridge() {
    let sim = support::simulator(1).await;
    let slack = FakeSlack::start().await;
    let bridge = support::ReportingChild::spawn(
        Command::new(BIN)
            .env_clear()
            .envs(base_env(&sim.base_url, &slack))
            .stdin(Stdio::null())
            .stdout(Stdio::null()),
    );
    slack.wait_for_socket_connections(1).await;
    let base = bridge.base_url();
    assert_eq!(get(&format!("{base}/healthz")).await.0, 200);
    // The endpoints read no body: one that comes with a body is refused unread.
    let with_body = reqwest::Client::new()
        .get(format!("{base}/metrics"))
        .body(vec![b'x'; 10_000])
        .send()
        .await
        .expect("endpoint answers");
    assert_eq!(with_body.status().as_u16(), 413);
    // Readiness waits for the first SiteAssist probe, which runs at start in another
    // process; a bounded poll is the only way to observe it from here.
    let mut ready = (0, String::new());
    for _ in 0..100 {
        ready = get(&format!("{base}/readyz")).await;
        if ready.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(ready.0, 200, "{}", ready.1);

    // Every series is there from the start, described, at zero: alert rules and
    // dashboards need no first event.
    let (_, fresh) = get(&format!("{base}/metrics")).await;
    for described in [
        "# HELP siteassist_bridge_events_received_total",
        "# TYPE siteassist_bridge_events_received_total counter",
        "# HELP siteassist_bridge_reply_first_text_seconds",
        "# HELP siteassist_bridge_store_claims",
    ] {
        assert!(fresh.contains(described), "{described} in\n{fresh}");
    }
    let on_slack = r#"platform="slack""#;
    for (name, labels) in [
        ("siteassist_bridge_events_received_total", vec![on_slack, r#"kind="message""#]),
        ("siteassist_bridge_events_ignored_total", vec![on_slack, r#"reason="duplicate""#]),
        ("siteassist_bridge_replies_finished_total", vec![on_slack, r#"outcome="failed""#]),
        ("siteassist_bridge_feedback_sent_total", vec![r#"value="dislike""#]),
    ] {
        assert_eq!(metric_sample(&fresh, name, &labels), Some(0.0), "{name} {labels:?}\n{fresh}");
    }

    let q = "How do I reset my password?";
    let answer_ts =
        slack.ask("EvOps", "C0OPS", "U0OPS", q, "1700002000.000100", &answer_for(q)).await;
    slack.send_socket_event(fake_slack::reaction(
        "EvOpsR", true, "U0OPS", "+1", "C0OPS", &answer_ts, "UBOT",
    ));
    tokio::time::timeout(
        Duration::from_secs(10),
        sim.sim.wait_until(|s| s.feedback_log().len() == 1),
    )
    .await
    .unwrap();

    // The simulator logs feedback before it answers, and the bridge counts it after the
    // answer arrives; the reply counters likewise follow the final edit the fake saw. So
    // the test waits on the counters themselves: every expected sample, read in one page.
    let slack_label = r#"platform="slack""#;
    let expected: Vec<(&str, Vec<&str>, f64)> = vec![
        ("siteassist_bridge_events_received_total", vec![slack_label, r#"kind="message""#], 1.0),
        ("siteassist_bridge_events_received_total", vec![slack_label, r#"kind="reaction""#], 1.0),
        ("siteassist_bridge_replies_started_total", vec![slack_label], 1.0),
        (
            "siteassist_bridge_replies_finished_total",
            vec![slack_label, r#"outcome="answered""#],
            1.0,
        ),
        ("siteassist_bridge_replies_in_flight", vec![slack_label], 0.0),
        ("siteassist_bridge_feedback_sent_total", vec![r#"value="like""#], 1.0),
        ("siteassist_bridge_reply_edits_count", vec![slack_label], 1.0),
        ("siteassist_bridge_reply_first_text_seconds_count", vec![slack_label], 1.0),
        ("siteassist_bridge_stream_duration_seconds_count", vec![slack_label], 1.0),
    ];
    let counted = |page: &str| {
        expected
            .iter()
            .all(|(name, labels, value)| metric_sample(page, name, labels) == Some(*value))
    };
    // Panics with the last page read unless every sample reaches its value in time.
    support::wait_for_metrics(&base, "the feedback and reply counters", counted).await;
}

fn run_check(env: Vec<(String, String)>) -> (bool, String) {
    let out = Command::new(BIN).arg("check").env_clear().envs(env).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `check` with `env`, for at most 30 s.
async fn checked(env: Vec<(String, String)>) -> (bool, String) {
    let run = tokio::task::spawn_blocking(move || run_check(env));
    tokio::time::timeout(Duration::from_secs(30), run).await.expect("check finishes").unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn check_reports_each_component_and_names_the_one_that_fails() {
    let sim = support::simulator(1).await;
    let slack = FakeSlack::start().await;
    let discord = fake_discord::FakeDiscord::start().await;
    let mut env = base_env(&sim.base_url, &slack);
    env.extend([
        ("SITEASSIST_BRIDGE__DISCORD__ENABLED".to_string(), "true".to_string()),
        ("SITEASSIST_BRIDGE__DISCORD__API_URL".to_string(), discord.api_url.clone()),
        ("DISCORD_TOKEN".to_string(), fake_discord::TOKEN.to_string()),
    ]);
    let good = env.clone();
    let (ok, out) = checked(good).await;
    assert!(ok, "{out}");
    for component in ["ok   SiteAssist", "ok   Slack", "ok   Discord"] {
        assert!(out.contains(component), "{component} in {out}");
    }

    let mut bad = env.clone();
    bad.retain(|(k, _)| k != "SLACK_BOT_TOKEN");
    bad.push(("SLACK_BOT_TOKEN".into(), "xoxb-wrong".into()));
    let (ok, out) = checked(bad).await;
    assert!(!ok, "{out}");
    assert!(out.contains("FAIL Slack") && out.contains("invalid_auth"), "{out}");
    assert!(out.contains("ok   SiteAssist") && out.contains("ok   Discord"), "{out}");
    assert!(!out.contains("xoxb-wrong"), "the token is not printed: {out}");

    let mut bad = env;
    bad.retain(|(k, _)| k != "DISCORD_TOKEN");
    bad.push(("DISCORD_TOKEN".into(), "MTIz.wrong.token".into()));
    let (ok, out) = checked(bad).await;
    assert!(!ok && out.contains("FAIL Discord"), "{out}");
}
