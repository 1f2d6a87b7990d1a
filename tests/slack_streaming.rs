//! Native streaming (issue 13): the real Slack adapter and core against the fake Slack
//! (which implements `chat.startStream` / `appendStream` / `stopStream` and their
//! limits) and the SiteAssist simulator, all on 127.0.0.1.
#![cfg(feature = "slack")]

mod fake_slack;
mod slack_socket;
mod support;

use fake_slack::{FakeSlack, StreamPolicy};
use siteassist_bridge::adapters::slack::config::{SlackSettings, StreamingMode};
use siteassist_bridge::adapters::slack::format::to_slack;
use siteassist_bridge::simulator::{answer_for, Fault};
use siteassist_bridge::store::{SledStore, Store};
use slack_socket::{squeeze, SocketBridge};
use std::sync::Arc;
use std::time::Duration;

const CHANNEL: &str = "C0SUPPORT";
const USER: &str = "U0ALICE";
const QUESTION: &str = "give me the full guide";

/// Asks the long question in a new thread under `ts` and waits until its reply is
/// finished.
async fn ask_and_settle(bridge: &SocketBridge, slack: &FakeSlack, ts: &str) {
    let mention = format!("<@UBOT> {QUESTION}");
    let event = fake_slack::app_mention(&format!("Ev{ts}"), CHANNEL, USER, &mention, ts, None);
    slack.send_socket_event(event);
    slack
        .wait_until("the reply to be finished", |f| {
            f.messages_in_thread(CHANNEL, ts)
                .iter()
                .any(|(_, t)| t.contains("Sources") || t.len() > 2000)
                && (!f.calls_to("chat.stopStream").is_empty()
                    || !f.calls_to("chat.update").is_empty())
        })
        .await;
    bridge.settle(CHANNEL, ts).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_answer_streams_natively_with_feedback_buttons_and_no_update() {
    let sim = support::simulator(3).await;
    let slack = FakeSlack::start().await;
    let bridge =
        SocketBridge::start_with(&slack, &sim, |s| s.streaming = StreamingMode::Auto).await;
    let ts = "1700004000.000100";
    ask_and_settle(&bridge, &slack, ts).await;
    let answer = answer_for(QUESTION);
    assert!(answer.split_whitespace().count() >= 300, "a long answer");
    let methods: Vec<String> =
        slack.calls().into_iter().map(|c| c.method).filter(|m| m.starts_with("chat.")).collect();
    // The placeholder (with Stop) first, kept above the stream while it runs, then
    // deleted just before the stream stops with the buttons.
    assert_eq!(&methods[..2], ["chat.postMessage", "chat.startStream"], "{methods:?}");
    assert_eq!(&methods[methods.len() - 2..], ["chat.delete", "chat.stopStream"], "{methods:?}");
    let placeholder = &slack.calls_to("chat.postMessage")[0];
    assert!(placeholder.params["blocks"].to_string().contains("siteassist:stop"));
    let deleted = slack.calls_to("chat.delete")[0].params["ts"].as_str().unwrap().to_string();
    assert!(slack.message_text(CHANNEL, &deleted).is_none(), "the placeholder is gone");
    let appends = methods.iter().filter(|m| *m == "chat.appendStream").count();
    assert!(appends >= 2, "{methods:?}");
    assert_eq!(methods.iter().filter(|m| *m == "chat.postMessage").count(), 1, "{methods:?}");
    assert!(!methods.iter().any(|m| m == "chat.update"), "{methods:?}");
    let messages = slack.messages_in_thread(CHANNEL, ts);
    assert_eq!(messages.len(), 1, "one message");
    assert_eq!(squeeze(&messages[0].1), squeeze(&answer), "the streamed text is the answer");
    let stop = &slack.calls_to("chat.stopStream")[0];
    assert!(stop.params["blocks"].to_string().contains("feedback_buttons"), "{}", stop.params);
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_rate_limited_mid_way_completes_once_by_update() {
    let sim = support::simulator(3).await;
    let slack = FakeSlack::start().await;
    slack.set_stream_policy(StreamPolicy::RateLimitAfter(1));
    let bridge =
        SocketBridge::start_with(&slack, &sim, |s| s.streaming = StreamingMode::Auto).await;
    let ts = "1700004100.000100";
    ask_and_settle(&bridge, &slack, ts).await;
    let refused = slack.calls_to("chat.appendStream");
    assert!(refused.iter().any(|c| c.error.as_deref() == Some("ratelimited")), "{refused:?}");
    let started = slack.calls_to("chat.startStream");
    assert_eq!(started.len(), 1, "one stream, never restarted");
    assert!(!slack.calls_to("chat.update").is_empty(), "finished by chat.update");
    let messages = slack.messages_in_thread(CHANNEL, ts);
    let joined: String = messages.iter().map(|(_, t)| t.as_str()).collect();
    let answer = siteassist_bridge::adapters::slack::format::to_slack(&answer_for(QUESTION));
    // The first paragraph shows exactly once across the reply's messages.
    let first_line = answer.lines().find(|l| l.len() > 20).unwrap();
    assert_eq!(joined.matches(first_line).count(), 1, "{messages:?}");
    // The stream's message is the reply's first message, corrected in place.
    let last = &answer.trim_end().lines().last().unwrap()[..20];
    assert!(joined.contains(last), "the answer is complete: {messages:?}");
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn streaming_edit_uses_chat_update_only() {
    let sim = support::simulator(3).await;
    let slack = FakeSlack::start().await;
    let bridge =
        SocketBridge::start_with(&slack, &sim, |s| s.streaming = StreamingMode::Edit).await;
    let ts = "1700004200.000100";
    ask_and_settle(&bridge, &slack, ts).await;
    for m in ["chat.startStream", "chat.appendStream", "chat.stopStream"] {
        assert!(slack.calls_to(m).is_empty(), "{m} in edit mode");
    }
    assert!(!slack.calls_to("chat.update").is_empty());
    bridge.stop().await;
}

/// Appends have their own budget (Slack limits each method on its own): an edit budget
/// of one `chat.update` a minute does not hold a native stream back. Before, appends
/// took slots of `chat.update`'s workspace budget, and this answer needed minutes.
#[tokio::test(flavor = "multi_thread")]
async fn appends_do_not_spend_the_edit_budget() {
    let sim = support::simulator(3).await;
    let slack = FakeSlack::start().await;
    let bridge = SocketBridge::start_with(&slack, &sim, |s| {
        s.streaming = StreamingMode::Native;
        s.edit_budget_per_minute = 1;
    })
    .await;
    let ts = "1700004300.000100";
    ask_and_settle(&bridge, &slack, ts).await;
    let appends = slack.calls_to("chat.appendStream");
    assert!(appends.len() >= 3, "{} appends", appends.len());
    assert!(appends.iter().all(|c| c.error.is_none()), "{appends:?}");
    assert!(slack.calls_to("chat.update").is_empty());
    let messages = slack.messages_in_thread(CHANNEL, ts);
    assert_eq!(squeeze(&messages[0].1), squeeze(&answer_for(QUESTION)));
    bridge.stop().await;
}

/// A post is not an edit: Slack limits `chat.postMessage` per channel, not by
/// `chat.update`'s workspace budget, so the placeholder leaves that budget to the
/// edits. With two updates a minute, a short answer needs exactly those two (its first
/// words, its end); when the placeholder took one, the end waited out the minute.
#[tokio::test(flavor = "multi_thread")]
async fn posts_do_not_spend_the_edit_budget() {
    let sim = support::simulator(1).await;
    let slack = FakeSlack::start().await;
    let bridge = SocketBridge::start_with(&slack, &sim, |s| {
        s.streaming = StreamingMode::Edit;
        s.edit_budget_per_minute = 2;
    })
    .await;
    let (q, ts) = ("How do refunds work?", "1700004350.000100");
    let event =
        fake_slack::app_mention("EvPostBudget", CHANNEL, USER, &format!("<@UBOT> {q}"), ts, None);
    slack.send_socket_event(event);
    let answer = to_slack(&answer_for(q));
    slack
        .wait_until("the whole answer", |f| {
            f.messages_in_thread(CHANNEL, ts).last().is_some_and(|(_, t)| *t == answer)
        })
        .await;
    assert_eq!(slack.calls_to("chat.postMessage").len(), 1, "the placeholder");
    assert!(slack.calls_to("chat.update").len() <= 2);
    bridge.stop().await;
}

/// Stop while a native stream runs: the placeholder above the stream keeps its Stop
/// button; the asker's press closes SiteAssist's stream, the stream ends with what it
/// showed and the stopped note (no `chat.update`), and the placeholder goes.
#[tokio::test(flavor = "multi_thread")]
async fn stop_ends_a_native_stream_with_what_it_showed() {
    let sim = support::simulator(80).await;
    let slack = FakeSlack::start().await;
    let bridge =
        SocketBridge::start_with(&slack, &sim, |s| s.streaming = StreamingMode::Native).await;
    let ts = "1700004400.000100";
    let mention = format!("<@UBOT> {QUESTION}");
    slack.send_socket_event(fake_slack::app_mention("EvNStop", CHANNEL, USER, &mention, ts, None));
    slack.wait_until("two appends", |f| f.calls_to("chat.appendStream").len() >= 2).await;
    let thread = slack.messages_in_thread(CHANNEL, ts);
    assert_eq!(thread.len(), 2, "the placeholder above the stream: {thread:?}");
    let (placeholder, stream) = (thread[0].0.clone(), thread[1].0.clone());
    let aborts = sim.sim.client_aborts();
    let (_, envelope) = slack.press_socket(CHANNEL, &placeholder, USER, "siteassist:stop");
    slack.wait_for_ack(&envelope).await;
    let closed = sim.sim.wait_until(|s| s.client_aborts() > aborts);
    tokio::time::timeout(Duration::from_secs(2), closed).await.expect("SiteAssist's stream closed");
    slack.wait_until("the stream stopped", |f| !f.calls_to("chat.stopStream").is_empty()).await;
    bridge.settle(CHANNEL, ts).await;
    let text = slack.message_text(CHANNEL, &stream).expect("the stream message stays");
    assert!(text.trim_end().ends_with("_(stopped)_"), "{text}");
    assert!(squeeze(&answer_for(QUESTION))
        .starts_with(&squeeze(text.trim_end().trim_end_matches("_(stopped)_"))));
    assert!(slack.message_text(CHANNEL, &placeholder).is_none(), "the placeholder is gone");
    assert!(slack.calls_to("chat.update").is_empty());
    bridge.stop().await;
}

/// A run killed while its answer streams natively leaves a message still streaming and,
/// above it, the placeholder with a Stop button nothing answers any more. The next
/// start stops the stream, deletes that placeholder, and shows SiteAssist's finished
/// answer in the stream's message: one message, no stale Stop.
#[test]
fn a_stream_left_open_by_a_killed_run_is_stopped_and_its_stop_button_removed() {
    let main_rt = tokio::runtime::Runtime::new().unwrap();
    let (sim, slack) = main_rt.block_on(async {
        let sim = support::simulator(5).await;
        // SiteAssist's stream to the bridge stalls; SiteAssist finishes the answer.
        sim.sim.push_fault(Fault::Stall { after_words: 40 });
        (sim, FakeSlack::start().await)
    });
    let dir = tempfile::tempdir().unwrap();
    let ts = "1700004500.000100";
    let native = |s: &mut SlackSettings| s.streaming = StreamingMode::Native;

    let crashing_rt = tokio::runtime::Runtime::new().unwrap();
    let (placeholder, stream) = crashing_rt.block_on(async {
        let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
        let _bridge = SocketBridge::start_on(&slack, &sim, store, native).await;
        let mention = format!("<@UBOT> {QUESTION}");
        slack.send_socket_event(fake_slack::app_mention(
            "EvKill", CHANNEL, USER, &mention, ts, None,
        ));
        slack.wait_until("an append", |f| !f.calls_to("chat.appendStream").is_empty()).await;
        let thread = slack.messages_in_thread(CHANNEL, ts);
        assert_eq!(thread.len(), 2, "the placeholder above the stream: {thread:?}");
        (thread[0].0.clone(), thread[1].0.clone())
    });
    // Killed: no cleanup runs, only the store survives.
    crashing_rt.shutdown_timeout(Duration::from_millis(200));

    main_rt.block_on(async {
        let finished = sim.sim.wait_until(|s| s.generations_in_flight() == 0);
        tokio::time::timeout(Duration::from_secs(10), finished).await.expect("SiteAssist finishes");
        let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
        let left = store.in_flight().await.unwrap();
        assert!(left[0].open_stream.is_some(), "the record says a stream is open: {left:?}");
        assert!(slack.calls_to("chat.stopStream").is_empty());
        let bridge = SocketBridge::start_on(&slack, &sim, store.clone(), native).await;
        assert_eq!(bridge.app.bridge().recover_unfinished().await.unwrap(), 1);

        let stops = slack.calls_to("chat.stopStream");
        assert_eq!(stops.len(), 1, "{stops:?}");
        assert_eq!(stops[0].params["ts"], stream.as_str());
        assert_eq!(stops[0].error, None, "the stream was still open");
        assert!(slack.message_text(CHANNEL, &placeholder).is_none(), "the Stop message is gone");
        // The stream's message first, then the rest of the long answer (edited, it
        // obeys the length limit that streaming did not have to).
        let thread = slack.messages_in_thread(CHANNEL, ts);
        assert_eq!(thread[0].0, stream, "{thread:?}");
        let joined: String = thread.iter().map(|(_, t)| t.as_str()).collect();
        let answer = to_slack(&answer_for(QUESTION));
        let (first, last) = (answer.lines().next().unwrap(), answer.trim_end().lines().last());
        assert!(thread[0].1.starts_with(first), "{thread:?}");
        assert_eq!(joined.matches(first).count(), 1, "once: {thread:?}");
        assert!(joined.contains(last.unwrap()), "the whole answer: {thread:?}");
        assert!(!joined.contains("interrupted"), "{thread:?}");
        let stale = slack.messages().into_iter().filter(|m| {
            m.blocks.as_ref().is_some_and(|b| b.to_string().contains("siteassist:stop"))
        });
        assert_eq!(stale.count(), 0, "no Stop button left");
        assert!(store.in_flight().await.unwrap().is_empty());
        bridge.stop().await;
    });
}

/// The fake refuses what Slack refuses: more than a method's rate, each method counted
/// on its own (20 `chat.startStream` a minute; appends have their own 100).
#[tokio::test(flavor = "multi_thread")]
async fn the_fake_limits_each_stream_method_on_its_own() {
    let slack = FakeSlack::start().await;
    let http = reqwest::Client::new();
    let call = |method: &str, body: serde_json::Value| {
        http.post(format!("{}/{method}", slack.api_url().trim_end_matches('/')))
            .bearer_auth(fake_slack::BOT_TOKEN)
            .json(&body)
            .send()
    };
    let mut first = None;
    for i in 0..20 {
        let body = serde_json::json!({"channel": "D0X", "thread_ts": format!("1700005000.{i:06}"),
            "markdown_text": "hi"});
        let r = call("chat.startStream", body).await.unwrap();
        assert_eq!(r.status(), 200, "start {i}");
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["ok"], true, "start {i}: {v}");
        first.get_or_insert(v["ts"].as_str().unwrap().to_string());
    }
    let body = serde_json::json!({"channel": "D0X", "thread_ts": "1700005001.000100",
        "markdown_text": "hi"});
    let r = call("chat.startStream", body).await.unwrap();
    assert_eq!(r.status(), 429, "the 21st start in a minute");
    assert!(r.headers().contains_key("retry-after"));
    let append = serde_json::json!({"channel": "D0X", "ts": first.unwrap(), "markdown_text": "!"});
    let r = call("chat.appendStream", append).await.unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["ok"], true, "appends have their own budget: {v}");
}
