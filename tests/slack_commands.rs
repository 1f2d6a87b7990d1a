//! `/siteassist` on Slack: a question shows as the bot's message and is answered in a
//! thread on it; `new` starts over in a DM; `help` answers privately. Over Socket Mode
//! (the acknowledgement carries the private reply) and over HTTP (signed like events).
#![cfg(feature = "slack")]

mod fake_slack;
mod support;

use fake_slack::commands::post_command;
use fake_slack::signing::unix_now;
use fake_slack::{FakeSlack, SIGNING_SECRET};
use siteassist_bridge::adapters::slack::config::SlackMode;
use siteassist_bridge::adapters::slack::format::to_slack;
use siteassist_bridge::adapters::slack::SlackBridge;
use siteassist_bridge::simulator::{answer_for, RunningSimulator};
use siteassist_bridge::store::MemoryStore;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

const CHANNEL: &str = "C0SUPPORT";
const DM: &str = "D0ALICE";
const ALICE: &str = "U0ALICE";

async fn start(
    slack: &FakeSlack,
    sim: &RunningSimulator,
    mode: SlackMode,
) -> (Arc<SlackBridge>, oneshot::Sender<()>, tokio::task::JoinHandle<()>, Option<String>) {
    let settings = slack.bridge_settings(mode);
    let app = SlackBridge::connect(
        &settings,
        Arc::new(MemoryStore::new()),
        support::client(sim, 3),
        support::fast_config(),
    );
    let app = Arc::new(app.await.expect("connects to the fake Slack"));
    let (stop, stopped) = oneshot::channel::<()>();
    let stopped = async move {
        let _ = stopped.await;
    };
    let served = app.clone();
    match mode {
        SlackMode::Socket => {
            let task =
                tokio::spawn(async move { served.serve_socket_mode(stopped).await.unwrap() });
            slack.wait_for_socket_connections(1).await;
            (app, stop, task, None)
        }
        SlackMode::Events => {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}/slack/commands", listener.local_addr().unwrap());
            let task =
                tokio::spawn(async move { served.serve_events(listener, stopped).await.unwrap() });
            (app, stop, task, Some(url))
        }
    }
}

/// The bot's messages in `channel` whose text is `text`, as `(ts, thread_ts)`.
fn posted(slack: &FakeSlack, channel: &str, text: &str) -> Vec<(String, Option<String>)> {
    slack
        .messages()
        .into_iter()
        .filter(|m| m.channel == channel && m.text == text)
        .map(|m| (m.ts, m.thread_ts))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slash_question_is_shown_and_answered_in_a_thread_on_it() {
    let slack = FakeSlack::start().await;
    let sim = support::simulator(1).await;
    let (app, stop, task, _) = start(&slack, &sim, SlackMode::Socket).await;
    let q = "How do refunds work?";
    let envelope = slack.command_socket(CHANNEL, ALICE, q);
    slack.wait_for_ack(&envelope).await;
    let shown = format!("*<@{ALICE}> asked:*\n>{q}");
    slack.wait_until("the question shows", |f| !posted(f, CHANNEL, &shown).is_empty()).await;
    let (question_ts, thread) = posted(&slack, CHANNEL, &shown).remove(0);
    assert_eq!(thread, None, "at the channel's top level");
    let answer = to_slack(&answer_for(q));
    slack
        .wait_until("the answer in a thread on the question", |f| {
            f.messages()
                .iter()
                .any(|m| m.thread_ts.as_deref() == Some(&question_ts) && m.text == answer)
        })
        .await;
    let asked = sim.sim.questions();
    assert_eq!(asked.iter().filter(|a| a.content == q).count(), 1, "asked once");

    // help answers privately, in the acknowledgement; nothing is posted.
    let posts = slack.calls_to("chat.postMessage").len();
    let envelope = slack.command_socket(CHANNEL, ALICE, "help");
    slack.wait_for_ack(&envelope).await;
    let reply = slack.ack_payload(&envelope).expect("a private reply");
    assert_eq!(reply["response_type"], "ephemeral");
    assert!(reply["text"].as_str().unwrap().contains("/siteassist new"), "{reply}");
    // new outside a DM says where it works, privately.
    let envelope = slack.command_socket(CHANNEL, ALICE, "new");
    slack.wait_for_ack(&envelope).await;
    let reply = slack.ack_payload(&envelope).expect("a private reply");
    assert!(reply["text"].as_str().unwrap().contains("direct message"), "{reply}");
    assert_eq!(slack.calls_to("chat.postMessage").len(), posts, "nothing posted");
    let _ = stop.send(());
    let _ = task.await;
    app.bridge().shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn over_http_commands_are_signed_and_new_starts_over_in_a_dm() {
    let slack = FakeSlack::start().await;
    let sim = support::simulator(1).await;
    let (app, stop, task, url) = start(&slack, &sim, SlackMode::Events).await;
    let url = url.unwrap();
    let now = unix_now();

    let fields = slack.command_fields(DM, ALICE, "What are your prices?");
    let (status, _) = post_command(&url, "not-the-secret", &fields, now).await;
    assert_eq!(status, 401, "a bad signature is refused");
    assert!(slack.calls_to("chat.postMessage").is_empty(), "and changes nothing");
    assert_eq!(sim.sim.conversation_count(), 0);

    let (status, body) = post_command(&url, SIGNING_SECRET, &fields, now).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, ""), "a question gets an empty ack");
    let answer = to_slack(&answer_for("What are your prices?"));
    slack.wait_until("the answer in the DM", |f| !posted(f, DM, &answer).is_empty()).await;
    assert_eq!(sim.sim.conversation_count(), 1);

    let new = slack.command_fields(DM, ALICE, "new");
    let (status, body) = post_command(&url, SIGNING_SECRET, &new, now).await;
    assert_eq!(status, 200);
    assert!(body.contains("ephemeral") && body.contains("Starting a new conversation"), "{body}");
    slack
        .wait_until("the new-conversation note", |f| {
            !posted(f, DM, &to_slack(&siteassist_bridge::bridge::notice::new_conversation()))
                .is_empty()
        })
        .await;
    let again = slack.command_fields(DM, ALICE, "What are your prices?");
    let (status, _) = post_command(&url, SIGNING_SECRET, &again, now).await;
    assert_eq!(status, 200);
    tokio::time::timeout(
        Duration::from_secs(10),
        sim.sim.wait_until(|s| s.conversation_count() == 2),
    )
    .await
    .expect("the next question opens a new conversation");
    let _ = stop.send(());
    let _ = task.await;
    app.bridge().shutdown(Duration::from_secs(5)).await;
}
