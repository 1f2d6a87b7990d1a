//! Buttons under the bot's Slack answers: Stop while an answer streams, Slack's 👍 / 👎
//! feedback buttons when it is done. Presses come from the fake Slack as
//! `block_actions` payloads, over Socket Mode (an `interactive` envelope, acked within
//! 3 s or the fake fails the test) or signed to `POST /slack/interactions`. The
//! Discord twin is `discord_buttons.rs`.
#![cfg(feature = "slack")]

mod fake_slack;
mod support;

use fake_slack::{action_ids, FakeSlack, RecordedCall, SIGNING_SECRET};
use serde_json::Value;
use siteassist_bridge::adapters::slack::config::{SlackMode, StreamingMode};
use siteassist_bridge::adapters::slack::format::to_slack;
use siteassist_bridge::adapters::slack::{PressReport, SlackBridge};
use siteassist_bridge::bridge::{notice, Disposition, Ignored};
use siteassist_bridge::simulator::RunningSimulator;
use siteassist_bridge::store::MemoryStore;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, oneshot};

const CHANNEL: &str = "C0SUPPORT";
const ALICE: &str = "U0ALICE";
const BOB: &str = "U0BOB";
const LIKE: &str = "siteassist:like";
const DISLIKE: &str = "siteassist:dislike";
const STOP: &str = "siteassist:stop";

/// One running Slack bridge on a memory store, and the reports of its presses.
struct Bridge {
    app: Arc<SlackBridge>,
    reports: broadcast::Receiver<PressReport>,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    /// `http://…/slack` in Events mode (append `/events` or `/interactions`).
    base_url: Option<String>,
}

impl Bridge {
    async fn start(slack: &FakeSlack, sim: &RunningSimulator, mode: SlackMode) -> Self {
        Self::start_streaming(slack, sim, mode, StreamingMode::default()).await
    }

    /// [`Self::start`] streaming as `streaming` says.
    async fn start_streaming(
        slack: &FakeSlack,
        sim: &RunningSimulator,
        mode: SlackMode,
        streaming: StreamingMode,
    ) -> Self {
        let store = Arc::new(MemoryStore::new());
        let mut settings = slack.bridge_settings(mode);
        settings.streaming = streaming;
        let client = support::client(sim, 3);
        let app = SlackBridge::connect(&settings, store, client, support::fast_config());
        let app = Arc::new(app.await.expect("connects to the fake Slack"));
        let reports = app.press_reports();
        let (stop, stopped) = oneshot::channel::<()>();
        let stopped = async move {
            let _ = stopped.await;
        };
        let served = app.clone();
        let (task, base_url) = match mode {
            SlackMode::Socket => {
                let task = tokio::spawn(async move {
                    served.serve_socket_mode(stopped).await.expect("socket mode")
                });
                slack.wait_for_socket_connections(1).await;
                (task, None)
            }
            SlackMode::Events => {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let url = format!("http://{}/slack", listener.local_addr().unwrap());
                let task =
                    tokio::spawn(
                        async move { served.serve_events(listener, stopped).await.unwrap() },
                    );
                (task, Some(url))
            }
        };
        Self { app, reports, stop, task, base_url }
    }

    /// The report of the next press the core handled (they come in arrival order).
    async fn next_press(&mut self) -> Result<Disposition, String> {
        let report = tokio::time::timeout(Duration::from_secs(10), self.reports.recv())
            .await
            .expect("a press reaches the core")
            .expect("press reports keep coming");
        report.outcome
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
        self.app.bridge().shutdown(Duration::from_secs(5)).await;
    }
}

/// Asks `question` as Alice with a top-level mention at `ts` over Socket Mode.
fn ask(slack: &FakeSlack, event_id: &str, question: &str, ts: &str) {
    let text = format!("<@{}> {question}", fake_slack::BOT_USER_ID);
    slack.send_socket_event(fake_slack::app_mention(event_id, CHANNEL, ALICE, &text, ts, None));
}

/// The bot's one reply in the thread under `ts`.
fn reply(slack: &FakeSlack, ts: &str) -> fake_slack::PostedMessage {
    let mut replies: Vec<_> =
        slack.messages().into_iter().filter(|m| m.thread_ts.as_deref() == Some(ts)).collect();
    assert_eq!(replies.len(), 1, "one reply message: {replies:?}");
    replies.remove(0)
}

/// The blocks a `chat.postMessage` / `chat.update` call sent (`Null` for none).
fn blocks_of(call: &RecordedCall) -> Value {
    match &call.params["blocks"] {
        Value::String(s) => serde_json::from_str(s).expect("blocks are JSON"),
        other => other.clone(),
    }
}

fn updates_of(slack: &FakeSlack, ts: &str) -> Vec<RecordedCall> {
    let of_reply = |c: &RecordedCall| c.params["ts"].as_str() == Some(ts) && c.error.is_none();
    slack.calls_to("chat.update").into_iter().filter(of_reply).collect()
}

/// Feedback values SiteAssist has received, once it has `n`.
async fn feedback(sim: &RunningSimulator, n: usize) -> Vec<String> {
    let reached = sim.sim.wait_until(|s| s.feedback_log().len() >= n);
    tokio::time::timeout(Duration::from_secs(10), reached)
        .await
        .expect("feedback reaches SiteAssist");
    sim.sim.feedback_log().into_iter().map(|r| r.value.unwrap_or_default()).collect()
}

/// Stop while an answer streams: SiteAssist's stream is closed within a second, the
/// reply keeps what it showed and ends with "(stopped)", Stop gives way to 👍 / 👎, and
/// nothing is edited afterwards; a non-asker's Stop and a replayed one do nothing.
/// While it streamed, every edit carried the same Stop block and changed the text:
/// the button cost no `chat.update` of its own. This is the edit path
/// (`streaming = "edit"`); tests/slack_streaming.rs stops a native stream.
#[tokio::test(flavor = "multi_thread")]
async fn stop_ends_a_streaming_answer_where_it_is() {
    let slack = FakeSlack::start().await;
    let sim = support::simulator(80).await;
    let mut bridge =
        Bridge::start_streaming(&slack, &sim, SlackMode::Socket, StreamingMode::Edit).await;
    let ts = "1700100000.000100";
    ask(&slack, "EvStop1", "Give me the full guide", ts);
    slack
        .wait_until("three streamed edits", |f| {
            f.messages().iter().any(|m| m.thread_ts.as_deref() == Some(ts) && m.edits >= 3)
        })
        .await;
    let answer = reply(&slack, ts).ts;
    assert_eq!(sim.sim.open_streams(), 1, "still streaming");
    assert_eq!(action_ids(&reply(&slack, ts)), [STOP], "a streaming answer shows Stop");
    let aborts = sim.sim.client_aborts();

    let (_, envelope) = slack.press_socket(CHANNEL, &answer, BOB, STOP);
    slack.wait_for_ack(&envelope).await;
    assert_eq!(bridge.next_press().await, Ok(Disposition::Ignored(Ignored::NotAsker)));
    let (press, envelope) = slack.press_socket(CHANNEL, &answer, ALICE, STOP);
    slack.wait_for_ack(&envelope).await;
    assert_eq!(bridge.next_press().await, Ok(Disposition::Stopped));
    let closed = sim.sim.wait_until(|s| s.client_aborts() > aborts);
    tokio::time::timeout(Duration::from_secs(1), closed)
        .await
        .expect("the bridge closes SiteAssist's stream within 1 s");
    let stopped = to_slack(notice::STOPPED);
    slack
        .wait_until("the stopped answer", |f| {
            f.message_text(CHANNEL, &answer).is_some_and(|t| t.ends_with(&stopped))
        })
        .await;

    let updates = updates_of(&slack, &answer);
    let texts: Vec<&str> = updates.iter().map(|c| c.params["text"].as_str().unwrap()).collect();
    let (last, streamed) = texts.split_last().unwrap();
    let kept = last.trim_end_matches(stopped.as_str()).trim_end();
    assert!(
        !kept.is_empty() && streamed.iter().any(|t| t.trim_end() == kept),
        "it keeps what was shown, nothing more: {last:?}"
    );
    assert_eq!(action_ids(&reply(&slack, ts)), [LIKE, DISLIKE], "Stop is gone");
    let stop_block = |call: &RecordedCall| blocks_of(call).as_array().unwrap().last().cloned();
    let first_post = blocks_of(&slack.calls_to("chat.postMessage")[0]);
    let posted_stop = first_post.as_array().unwrap().last().cloned();
    for (i, update) in updates[..updates.len() - 1].iter().enumerate() {
        assert_eq!(stop_block(update), posted_stop, "edit {i} carries the same Stop block");
        let before = if i == 0 { "" } else { texts[i - 1] };
        assert_ne!(texts[i], before, "edit {i} changes the text");
    }

    // A replayed Stop does nothing, and nothing is edited in the next 5 seconds (the
    // stream would have gone on for a minute).
    // Which rule turns it away depends on whether the reply has cleared its in-flight
    // record yet (not streaming) or not (the press's id is claimed): either way nothing.
    let replay = slack.send_socket_interaction(press);
    slack.wait_for_ack(&replay).await;
    let replayed = bridge.next_press().await;
    assert!(
        matches!(replayed, Ok(Disposition::Ignored(Ignored::NotStreaming | Ignored::Duplicate))),
        "{replayed:?}"
    );
    let edits = slack.calls_to("chat.update").len();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(slack.calls_to("chat.update").len(), edits, "no edit after the stop");
    assert_eq!(slack.messages_in_thread(CHANNEL, ts).len(), 1);
    bridge.stop().await;
}

/// 👍, then 👎 (a switch), then 👍 again reach SiteAssist as exactly like, dislike,
/// like. Someone else's click, a replayed click and a link button's click change
/// nothing; each envelope is acknowledged at once.
#[tokio::test(flavor = "multi_thread")]
async fn feedback_buttons_become_feedback_for_the_asker_only() {
    let slack = FakeSlack::start().await;
    let sim = support::simulator(1).await;
    let mut bridge = Bridge::start(&slack, &sim, SlackMode::Socket).await;
    let ts = "1700100100.000100";
    ask(&slack, "EvFb1", "Where are the shipping docs?", ts);
    slack
        .wait_until("the answer with its buttons", |f| {
            f.messages().iter().any(|m| {
                m.thread_ts.as_deref() == Some(ts) && action_ids(m).contains(&LIKE.to_string())
            })
        })
        .await;
    let answer = reply(&slack, ts);
    assert_eq!(action_ids(&answer), ["siteassist:link:0", LIKE, DISLIKE]);
    let answer = answer.ts;

    let queued = Ok(Disposition::Queued);
    let press = |user: &str, button: &str| {
        let (payload, envelope) = slack.press_socket(CHANNEL, &answer, user, button);
        (payload, envelope)
    };
    let (_, like) = press(ALICE, LIKE);
    slack.wait_for_ack(&like).await;
    assert_eq!(bridge.next_press().await, queued);
    assert_eq!(feedback(&sim, 1).await, ["like"]);
    let (switch, _) = press(ALICE, DISLIKE);
    assert_eq!(bridge.next_press().await, queued);
    assert_eq!(feedback(&sim, 2).await, ["like", "dislike"]);
    press(ALICE, LIKE);
    assert_eq!(bridge.next_press().await, queued);
    assert_eq!(feedback(&sim, 3).await, ["like", "dislike", "like"]);

    // A link button's click is acknowledged and goes no further: the next report is
    // Bob's press, which the default `feedback_from = "asker"` ignores.
    let (_, link) = press(ALICE, "siteassist:link:0");
    slack.wait_for_ack(&link).await;
    press(BOB, DISLIKE);
    assert_eq!(bridge.next_press().await, Ok(Disposition::Ignored(Ignored::NotAsker)));
    let replay = slack.send_socket_interaction(switch);
    slack.wait_for_ack(&replay).await;
    assert_eq!(bridge.next_press().await, Ok(Disposition::Ignored(Ignored::Duplicate)));
    bridge.app.bridge().barrier(&answer_thread(ts)).await;
    let values: Vec<_> = sim.sim.feedback_log().into_iter().map(|r| r.value).collect();
    assert_eq!(values.len(), 3, "nothing more reached SiteAssist: {values:?}");
    bridge.stop().await;
}

fn answer_thread(ts: &str) -> siteassist_bridge::bridge::ids::ThreadKey {
    siteassist_bridge::bridge::ids::ThreadKey::new(format!(
        "slack:{}:{CHANNEL}:{ts}",
        fake_slack::TEAM_ID
    ))
}

/// Events mode: a press POSTed with a bad signature is refused with 401 and changes
/// nothing, a form without a payload is a 400, and a good press works.
#[tokio::test(flavor = "multi_thread")]
async fn events_mode_presses_are_signature_checked() {
    let slack = FakeSlack::start().await;
    let sim = support::simulator(1).await;
    let mut bridge = Bridge::start(&slack, &sim, SlackMode::Events).await;
    let base = bridge.base_url.clone().unwrap();
    let ts = "1700100200.000100";
    let text = format!("<@{}> How do I reset my password?", fake_slack::BOT_USER_ID);
    let event = fake_slack::app_mention("EvEv1", CHANNEL, ALICE, &text, ts, None);
    slack.remember(&event);
    let now = fake_slack::unix_now();
    let (status, _) =
        fake_slack::post_event(&format!("{base}/events"), SIGNING_SECRET, &event, now, None).await;
    assert_eq!(status, 200);
    slack
        .wait_until("the answer with its buttons", |f| {
            f.messages().iter().any(|m| {
                m.thread_ts.as_deref() == Some(ts) && action_ids(m).contains(&LIKE.to_string())
            })
        })
        .await;
    let answer = reply(&slack, ts).ts;
    let url = format!("{base}/interactions");

    let dislike = slack.press_payload(CHANNEL, &answer, ALICE, DISLIKE);
    let (status, _) = fake_slack::post_interaction(&url, "the-wrong-secret", &dislike, now).await;
    assert_eq!(status, 401, "wrong secret");
    let (status, _) = fake_slack::post_interaction(&url, SIGNING_SECRET, &dislike, now - 600).await;
    assert_eq!(status, 401, "stale timestamp");
    let body = fake_slack::form_body(&dislike);
    let signature = fake_slack::sign(SIGNING_SECRET, now, &body);
    let tampered = body.replace("dislike", "like");
    let (status, _) = fake_slack::signing::post_form(&url, &tampered, now, &signature).await;
    assert_eq!(status, 401, "changed body");
    let empty = "nothing=here";
    let signature = fake_slack::sign(SIGNING_SECRET, now, empty);
    let (status, _) = fake_slack::signing::post_form(&url, empty, now, &signature).await;
    assert_eq!(status, 400, "no payload");

    let like = slack.press_payload(CHANNEL, &answer, ALICE, LIKE);
    let (status, _) = fake_slack::post_interaction(&url, SIGNING_SECRET, &like, now).await;
    assert_eq!(status, 200);
    // Presses are handled in order: had a refused one got through, it would come first.
    assert_eq!(bridge.next_press().await, Ok(Disposition::Queued));
    assert_eq!(feedback(&sim, 1).await, ["like"]);
    bridge.app.bridge().barrier(&answer_thread(ts)).await;
    assert_eq!(sim.sim.feedback_log().len(), 1, "only the signed press counted");
    bridge.stop().await;
}

/// Interactions that are not presses of the bridge's buttons (an envelope slack-morphism
/// cannot read, another app's button) are acknowledged and go no further: the next
/// press the core sees is the real one, and Socket Mode still counts as healthy.
#[tokio::test(flavor = "multi_thread")]
async fn foreign_and_malformed_interactions_are_acked_and_change_nothing() {
    use siteassist_bridge::ops::health::Readiness;
    use std::time::Instant;
    let slack = FakeSlack::start().await;
    let sim = support::simulator(1).await;
    let mut bridge = Bridge::start(&slack, &sim, SlackMode::Socket).await;
    let readiness = Readiness::default();
    readiness.adapter_up("slack");
    bridge.app.report_to(readiness.clone());
    let ts = "1700100300.000100";
    ask(&slack, "EvOdd1", "How do I reset my password?", ts);
    slack
        .wait_until("the answer with its buttons", |f| {
            f.messages().iter().any(|m| {
                m.thread_ts.as_deref() == Some(ts) && action_ids(m).contains(&LIKE.to_string())
            })
        })
        .await;
    let answer = reply(&slack, ts).ts;

    let malformed = slack.send_socket_interaction(serde_json::json!({"type": "block_actions"}));
    slack.wait_for_ack(&malformed).await;
    let mut foreign = slack.press_payload(CHANNEL, &answer, ALICE, LIKE);
    foreign["actions"][0]["type"] = "button".into();
    foreign["actions"][0]["action_id"] = "another-app:approve".into();
    let foreign = slack.send_socket_interaction(foreign);
    slack.wait_for_ack(&foreign).await;
    slack.press_socket(CHANNEL, &answer, ALICE, LIKE);
    assert_eq!(bridge.next_press().await, Ok(Disposition::Queued), "the real press comes next");
    assert_eq!(feedback(&sim, 1).await, ["like"]);

    // Long after any reconnect grace: a malformed envelope is no lost connection.
    let later = Instant::now() + Duration::from_secs(3600);
    assert_eq!(readiness.check(later, Ok(()), Some(later)), Ok(()));
    bridge.stop().await;
}
