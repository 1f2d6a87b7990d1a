//! The Slack adapter end to end: a fake Slack on 127.0.0.1 (Web API recording every
//! call, a Socket Mode websocket, signed Events API requests) and the SiteAssist
//! simulator, with the real core and a sled store in between.
#![cfg(feature = "slack")]

mod fake_slack;
#[path = "slack_e2e/files.rs"]
mod files;
mod support;
#[path = "slack_e2e/context.rs"]
mod thread_context;

use fake_slack::{FailKind, FakeSlack, SlackLimits};
use siteassist_bridge::adapters::slack::config::SlackMode;
use siteassist_bridge::adapters::slack::format::to_slack;
use siteassist_bridge::adapters::slack::SlackBridge;
use siteassist_bridge::bridge::ids::{MessageRef, ThreadKey};
use siteassist_bridge::bridge::notice;
use siteassist_bridge::simulator::{answer_for, Fault, RunningSimulator};
use siteassist_bridge::siteassist::model::Role;
use siteassist_bridge::store::{InFlightReply, SledStore, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

const CHANNEL: &str = "C0SUPPORT";
const USER: &str = "U0ALICE";

/// One running Slack bridge.
struct Bridge {
    app: Arc<SlackBridge>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    events_url: Option<String>,
}

impl Bridge {
    async fn start(
        slack: &FakeSlack,
        sim: &RunningSimulator,
        store: Arc<dyn Store>,
        mode: SlackMode,
    ) -> Self {
        Self::start_with(slack, sim, store, mode, support::fast_config()).await
    }

    async fn start_with(
        slack: &FakeSlack,
        sim: &RunningSimulator,
        store: Arc<dyn Store>,
        mode: SlackMode,
        cfg: siteassist_bridge::bridge::BridgeConfig,
    ) -> Self {
        let app = Arc::new(
            SlackBridge::connect(&slack.bridge_settings(mode), store, support::client(sim, 3), cfg)
                .await
                .expect("connects to the fake Slack"),
        );
        let (tx, rx) = oneshot::channel::<()>();
        let stopped = async move {
            let _ = rx.await;
        };
        let (task, events_url) = match mode {
            SlackMode::Socket => {
                // This bridge's own connection: a stopped bridge's may still be listed
                // as open for a moment, and an envelope sent to it would be lost.
                let before = slack.socket_connections_total();
                let app = app.clone();
                let task = tokio::spawn(async move {
                    app.serve_socket_mode(stopped).await.expect("socket mode")
                });
                slack
                    .wait_until("this bridge's Socket Mode connection", |f| {
                        f.socket_connections_total() > before
                    })
                    .await;
                (task, None)
            }
            SlackMode::Events => {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let url = format!("http://{}/slack/events", listener.local_addr().unwrap());
                let app = app.clone();
                (
                    tokio::spawn(async move { app.serve_events(listener, stopped).await.unwrap() }),
                    Some(url),
                )
            }
        };
        Self { app, stop: Some(tx), task, events_url }
    }

    /// A bridge on a memory store (tests that need no restart).
    async fn in_memory(slack: &FakeSlack, sim: &RunningSimulator, mode: SlackMode) -> Self {
        Self::start(slack, sim, Arc::new(siteassist_bridge::store::MemoryStore::new()), mode).await
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        let _ = self.task.await;
        self.app.bridge().shutdown(Duration::from_secs(5)).await;
    }
}

/// Waits until the thread under `ts` shows `expected` as the bot's last message.
async fn wait_for_final(
    slack: &FakeSlack,
    thread_ts: &str,
    expected: &str,
) -> Vec<(String, String)> {
    slack
        .wait_until("the final answer in the thread", |f| {
            f.messages_in_thread(CHANNEL, thread_ts).last().map(|(_, t)| t.as_str())
                == Some(expected)
        })
        .await;
    slack.messages_in_thread(CHANNEL, thread_ts)
}

/// A top-level mention of the bot asking `q`, as Slack sends it.
fn mention(event_id: &str, q: &str, ts: &str) -> serde_json::Value {
    fake_slack::app_mention(event_id, CHANNEL, USER, &format!("<@UBOT> {q}"), ts, None)
}

fn updates_of(slack: &FakeSlack, ts: &str) -> Vec<String> {
    slack
        .calls_to("chat.update")
        .into_iter()
        .filter(|c| c.params["ts"] == ts)
        .map(|c| c.params["text"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn posts_in_thread(slack: &FakeSlack, thread_ts: &str) -> usize {
    slack.calls_to("chat.postMessage").iter().filter(|c| c.params["thread_ts"] == thread_ts).count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mention_streams_into_one_reply_and_follow_ups_survive_a_restart() {
    let sim = support::simulator(30).await;
    let slack = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
    slack.set_channel_name(CHANNEL, "support");
    slack.set_user(USER, "alice", "Alice Liddell", "Alice");
    let bridge = Bridge::start(&slack, &sim, store.clone(), SlackMode::Socket).await;

    let q = "How do I reset my password?";
    let ts = "1700000100.000100";
    slack.send_socket_event(mention("Ev1", q, ts));
    let expected = to_slack(&answer_for(q));
    let thread = wait_for_final(&slack, ts, &expected).await;
    assert_eq!(thread.len(), 1, "one reply message: {thread:?}");
    assert_eq!(posts_in_thread(&slack, ts), 1, "one placeholder");
    let reply_ts = &thread[0].0;
    let updates = updates_of(&slack, reply_ts);
    assert!(updates.len() >= 2, "at least two chat.update calls: {updates:#?}");
    for pair in updates.windows(2) {
        assert!(pair[1].len() >= pair[0].len(), "growing text: {pair:?}");
    }
    let placeholder = &slack.calls_to("chat.postMessage")[0];
    assert_eq!(placeholder.params["text"], "Thinking…");
    let key = ThreadKey::new(format!("slack:T0001:{CHANNEL}:{ts}"));
    let link = store.thread_link(&key).await.unwrap().expect("thread linked in sled");
    // SiteAssist's dashboard shows where the question came from and who asked.
    let asked = support::client(&sim, 1)
        .list_messages(&link.owner, &link.conversation, &Default::default())
        .await
        .unwrap();
    let question = asked.iter().find(|m| m.role == Role::User).expect("the user message");
    assert_eq!(question.page_title.as_deref(), Some("Slack #support in Fake Team, asked by Alice"));
    assert_eq!(
        question.page_url.as_deref(),
        Some(format!("https://fake-team.slack.com/archives/{CHANNEL}/p1700000100000100").as_str())
    );

    // A follow-up without a mention continues the conversation.
    slack.send_socket_event(fake_slack::message(
        "Ev2",
        CHANNEL,
        USER,
        "And what about refunds?",
        "1700000200.000100",
        Some(ts),
    ));
    wait_for_final(&slack, ts, &to_slack(&answer_for("And what about refunds?"))).await;
    assert_eq!(sim.sim.conversation_count(), 1);
    bridge.stop().await;
    // Nothing of the stopped bridge holds the store (and its lock) any more.
    assert_eq!(Arc::strong_count(&store), 1, "the store is released on stop");
    drop(store);

    // After a restart on the same sled path, it still does.
    let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
    assert_eq!(store.thread_link(&key).await.unwrap(), Some(link));
    let bridge = Bridge::start(&slack, &sim, store, SlackMode::Socket).await;
    slack.send_socket_event(fake_slack::message(
        "Ev3",
        CHANNEL,
        USER,
        "How long is shipping?",
        "1700000300.000100",
        Some(ts),
    ));
    wait_for_final(&slack, ts, &to_slack(&answer_for("How long is shipping?"))).await;
    assert_eq!(sim.sim.conversation_count(), 1, "same conversation after the restart");
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn retried_and_redelivered_events_get_no_second_answer() {
    let sim = support::simulator(1).await;
    let slack = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
    let bridge = Bridge::start(&slack, &sim, store, SlackMode::Events).await;
    let url = bridge.events_url.clone().unwrap();
    let q = "What are your prices?";
    let ts = "1700000400.000100";
    let event = mention("EvA", q, ts);
    let (status, _) = fake_slack::post_event(
        &url,
        fake_slack::SIGNING_SECRET,
        &event,
        fake_slack::unix_now(),
        None,
    )
    .await;
    assert_eq!(status, 200);
    wait_for_final(&slack, ts, &to_slack(&answer_for(q))).await;
    // Slack's retry (same event id, X-Slack-Retry-Num), then a redelivery with a new event id.
    let (status, _) = fake_slack::post_event(
        &url,
        fake_slack::SIGNING_SECRET,
        &event,
        fake_slack::unix_now(),
        Some(1),
    )
    .await;
    assert_eq!(status, 200);
    let again = mention("EvB", q, ts);
    let (status, _) = fake_slack::post_event(
        &url,
        fake_slack::SIGNING_SECRET,
        &again,
        fake_slack::unix_now(),
        None,
    )
    .await;
    assert_eq!(status, 200);
    // Both go through the same path as a new question; this one proves they were handled.
    let other = fake_slack::app_mention(
        "EvC",
        CHANNEL,
        USER,
        "<@UBOT> refunds?",
        "1700000500.000100",
        None,
    );
    fake_slack::post_event(&url, fake_slack::SIGNING_SECRET, &other, fake_slack::unix_now(), None)
        .await;
    wait_for_final(&slack, "1700000500.000100", &to_slack(&answer_for("refunds?"))).await;
    bridge.app.bridge().barrier(&ThreadKey::new(format!("slack:T0001:{CHANNEL}:{ts}"))).await;
    assert_eq!(posts_in_thread(&slack, ts), 1, "no second answer");
    assert_eq!(sim.sim.message_posts(), 2);
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn socket_mode_redelivery_gets_no_second_answer() {
    let sim = support::simulator(1).await;
    let slack = FakeSlack::start().await;
    let store: Arc<dyn Store> = Arc::new(siteassist_bridge::store::MemoryStore::new());
    let bridge = Bridge::start(&slack, &sim, store, SlackMode::Socket).await;
    let ts = "1700000600.000100";
    let envelope = slack
        .send_socket_event(fake_slack::im_message("EvD", "D0ALICE", USER, "pricing?", ts, None));
    slack
        .wait_until("a DM answer", |f| {
            f.messages()
                .iter()
                .any(|m| m.channel == "D0ALICE" && m.text == to_slack(&answer_for("pricing?")))
        })
        .await;
    slack.redeliver(&envelope);
    slack.wait_for_acks_of(&envelope, 2).await;
    bridge.app.bridge().barrier(&ThreadKey::new("slack:T0001:D0ALICE")).await;
    assert_eq!(slack.calls_to("chat.postMessage").len(), 1, "one answer in the DM");
    assert_eq!(sim.sim.message_posts(), 1);
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_signatures_and_stale_timestamps_are_refused_and_change_nothing() {
    let sim = support::simulator(1).await;
    let slack = FakeSlack::start().await;
    let bridge = Bridge::in_memory(&slack, &sim, SlackMode::Events).await;
    let url = bridge.events_url.clone().unwrap();
    let event =
        fake_slack::app_mention("EvX", CHANNEL, USER, "<@UBOT> hi", "1700000700.000100", None);
    let now = fake_slack::unix_now();
    let (status, _) = fake_slack::post_event(&url, "the-wrong-secret", &event, now, None).await;
    assert_eq!(status, 401, "wrong secret");
    let (status, _) =
        fake_slack::post_event(&url, fake_slack::SIGNING_SECRET, &event, now - 600, None).await;
    assert_eq!(status, 401, "stale timestamp");
    let raw = event.to_string();
    let signature = fake_slack::sign(fake_slack::SIGNING_SECRET, now, &raw);
    let tampered = raw.replace("hi", "ho");
    let (status, _) = fake_slack::post_signed_body(&url, &tampered, now, &signature, None).await;
    assert_eq!(status, 401, "changed body");
    let (status, _) = fake_slack::post_signed_body(
        &url,
        "{not json",
        now,
        &fake_slack::sign(fake_slack::SIGNING_SECRET, now, "{not json"),
        None,
    )
    .await;
    assert_eq!(status, 400, "malformed JSON");
    let huge = format!("{{\"type\":\"event_callback\",\"pad\":\"{}\"}}", "x".repeat(300_000));
    let (status, _) = fake_slack::post_signed_body(
        &url,
        &huge,
        now,
        &fake_slack::sign(fake_slack::SIGNING_SECRET, now, &huge),
        None,
    )
    .await;
    assert_eq!(status, 413, "oversized");
    // URL verification still works with a good signature.
    let (status, body) = fake_slack::post_event(
        &url,
        fake_slack::SIGNING_SECRET,
        &fake_slack::url_verification("chal-123"),
        now,
        None,
    )
    .await;
    assert_eq!((status.as_u16(), body.contains("chal-123")), (200, true));
    assert_eq!(sim.sim.message_posts(), 0, "no SiteAssist call");
    assert!(slack.calls_to("chat.postMessage").is_empty(), "nothing posted");
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reactions_on_the_answer_become_feedback_and_others_do_nothing() {
    let sim = support::simulator(1).await;
    let slack = FakeSlack::start().await;
    let bridge = Bridge::in_memory(&slack, &sim, SlackMode::Socket).await;
    let ts = "1700000800.000100";
    let q = "How do refunds work?";
    slack.send_socket_event(mention("EvR", q, ts));
    let thread = wait_for_final(&slack, ts, &to_slack(&answer_for(q))).await;
    let answer_ts = thread[0].0.clone();
    let feedback = |n: usize| {
        let sim = sim.sim.clone();
        async move {
            tokio::time::timeout(
                Duration::from_secs(10),
                sim.wait_until(move |s| s.feedback_log().len() == n),
            )
            .await
            .expect("feedback recorded");
        }
    };
    // A reaction on the user's own message is not feedback (delivered synchronously).
    let on_question = fake_slack::reaction("EvR0", true, USER, "+1", CHANNEL, ts, USER);
    bridge.app.deliver(&on_question).await.unwrap();
    slack.send_socket_event(fake_slack::reaction(
        "EvR1", true, USER, "+1", CHANNEL, &answer_ts, "UBOT",
    ));
    feedback(1).await;
    slack.send_socket_event(fake_slack::reaction(
        "EvR2", false, USER, "+1", CHANNEL, &answer_ts, "UBOT",
    ));
    feedback(2).await;
    slack.send_socket_event(fake_slack::reaction(
        "EvR3", true, USER, "-1", CHANNEL, &answer_ts, "UBOT",
    ));
    feedback(3).await;
    let values: Vec<Option<String>> = sim.sim.feedback_log().into_iter().map(|r| r.value).collect();
    assert_eq!(values, vec![Some("like".into()), None, Some("dislike".into())]);
    bridge.stop().await;
}

/// A reaction while the answer still streams counts too: the answer's messages are
/// linked to it as soon as the stream names its id (before, only once it ended, and a
/// reaction meanwhile was ignored as "not our reply").
#[tokio::test(flavor = "multi_thread")]
async fn a_reaction_while_the_answer_streams_becomes_feedback() {
    use siteassist_bridge::adapters::slack::Delivered;
    use siteassist_bridge::bridge::Disposition;
    let sim = support::simulator(40).await;
    let slack = FakeSlack::start().await;
    let bridge = Bridge::in_memory(&slack, &sim, SlackMode::Socket).await;
    let (ts, q) = ("1700000850.000100", "How do refunds work?");
    slack.send_socket_event(mention("EvRs", q, ts));
    // Two edits with words: the first show and the link after it are done.
    slack
        .wait_until("the answer streaming", |f| {
            f.messages().iter().any(|m| m.thread_ts.as_deref() == Some(ts) && m.edits >= 2)
        })
        .await;
    let answer_ts = slack.messages_in_thread(CHANNEL, ts)[0].0.clone();
    assert_ne!(slack.messages_in_thread(CHANNEL, ts)[0].1, to_slack(&answer_for(q)), "mid-stream");
    let like = fake_slack::reaction("EvRs1", true, USER, "+1", CHANNEL, &answer_ts, "UBOT");
    let delivered = bridge.app.deliver(&like).await.unwrap();
    assert!(matches!(delivered, Delivered::Handled(Disposition::Queued)), "{delivered:?}");
    let recorded = sim.sim.wait_until(|s| s.feedback_log().len() == 1);
    tokio::time::timeout(Duration::from_secs(10), recorded).await.expect("feedback recorded");
    assert_eq!(sim.sim.feedback_log()[0].value.as_deref(), Some("like"));
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_5000_character_answer_arrives_as_two_messages_with_fences_intact() {
    let sim = support::simulator(0).await;
    let slack = FakeSlack::start().await;
    let bridge = Bridge::in_memory(&slack, &sim, SlackMode::Socket).await;
    let q = "tell me everything";
    let answer = answer_for(q);
    assert!(answer.chars().count() > 4500, "the simulator's long answer");
    let ts = "1700000900.000100";
    slack.send_socket_event(mention("EvL", q, ts));
    slack
        .wait_until("two finished parts", |f| {
            let parts = f.messages_in_thread(CHANNEL, ts);
            parts.len() == 2
                && parts[1]
                    .1
                    .trim_end()
                    .ends_with(to_slack(&answer).trim_end().rsplit('\n').next().unwrap())
        })
        .await;
    bridge.app.bridge().barrier(&ThreadKey::new(format!("slack:T0001:{CHANNEL}:{ts}"))).await;
    let parts = slack.messages_in_thread(CHANNEL, ts);
    assert_eq!(parts.len(), 2, "{parts:#?}");
    for (_, text) in &parts {
        assert!(text.chars().count() <= 3900);
        let fences = text.lines().filter(|l| l.trim_start().starts_with("```")).count();
        assert_eq!(fences % 2, 0, "balanced fences in {text}");
    }
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn siteassist_and_slack_rate_limits_are_waited_out_and_a_persistent_503_is_explained() {
    let sim = support::simulator(1).await;
    let slack = FakeSlack::start().await;
    let bridge = Bridge::in_memory(&slack, &sim, SlackMode::Socket).await;
    // SiteAssist 429 then success, with Slack also refusing one chat.update.
    sim.sim.push_fault(Fault::RateLimited { retry_after_secs: 1 });
    slack.fail_next("chat.update", FailKind::RateLimited { retry_after_secs: 1 });
    let q = "How do I reset my password?";
    slack.send_socket_event(mention("Ev429", q, "1700001000.000100"));
    wait_for_final(&slack, "1700001000.000100", &to_slack(&answer_for(q))).await;
    assert!(
        slack.calls().iter().any(|c| c.error.as_deref() == Some("ratelimited")),
        "Slack's 429 happened"
    );
    // A persistent 503 ends in a clear notice.
    sim.sim.set_persistent_fault(Some(Fault::Unavailable { retry_after_secs: 1 }));
    let ts = "1700001100.000100";
    slack.send_socket_event(fake_slack::app_mention(
        "Ev503",
        CHANNEL,
        USER,
        "<@UBOT> anyone there?",
        ts,
        None,
    ));
    slack
        .wait_until("the outage notice", |f| {
            f.messages_in_thread(CHANNEL, ts)
                .last()
                .is_some_and(|(_, t)| t.contains("SiteAssist is unavailable right now"))
        })
        .await;
    bridge.stop().await;
}

/// What a killed run left behind in thread `ts`: a message it posted as the bot
/// (returns its ts), and its in-flight record naming `messages` and, if it got that
/// far, the text it was to end with.
async fn killed_run(
    slack: &FakeSlack,
    store: &Arc<dyn Store>,
    ts: &str,
    posted_text: &str,
    record_names_it: bool,
    final_markdown: Option<&str>,
) -> String {
    let posted: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/chat.postMessage", slack.api_url()))
        .bearer_auth(fake_slack::BOT_TOKEN)
        .json(&serde_json::json!({"channel": CHANNEL, "thread_ts": ts, "text": posted_text}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bot_ts = posted["ts"].as_str().expect("posted").to_string();
    let key = format!("slack:{}:{CHANNEL}:{ts}", fake_slack::TEAM_ID);
    let bot_message = format!("slack:{}:{CHANNEL}:{bot_ts}", fake_slack::TEAM_ID);
    let record = InFlightReply {
        messages: if record_names_it { vec![MessageRef::new(bot_message)] } else { vec![] },
        final_markdown: final_markdown.map(str::to_owned),
        ..InFlightReply::new(
            format!("killed-run-{ts}"),
            "slack",
            ThreadKey::new(key.clone()),
            MessageRef::new(key),
            1,
        )
    };
    store.put_in_flight(&record).await.unwrap();
    bot_ts
}

/// A run killed between posting a person's relayed message and recording its ts: the
/// record holds the message's final text and names no message. The next start finds
/// the post in the thread and keeps it, rather than post the person's words twice.
#[tokio::test(flavor = "multi_thread")]
async fn an_agent_message_the_killed_run_posted_but_never_recorded_is_kept() {
    let slack = FakeSlack::start().await;
    let sim = support::simulator(1).await;
    let store: Arc<dyn Store> = Arc::new(siteassist_bridge::store::MemoryStore::new());
    let ts = "1600000100.000100";
    let markdown = "**Dana:** Your order ships today.";
    let posted = killed_run(&slack, &store, ts, &to_slack(markdown), false, Some(markdown)).await;
    let bridge = Bridge::start(&slack, &sim, store.clone(), SlackMode::Socket).await;
    assert_eq!(bridge.app.bridge().recover_unfinished().await.unwrap(), 1);
    let shown = slack.messages_in_thread(CHANNEL, ts);
    assert_eq!(shown, [(posted, to_slack(markdown))], "kept, not posted again");
    assert!(store.in_flight().await.unwrap().is_empty());
    bridge.stop().await;
}

/// A run killed between posting the placeholder and recording its ts left a
/// "Thinking…" no record names. The next start finds it in the thread and finishes it,
/// rather than leaving it thinking forever beside a second message.
#[tokio::test(flavor = "multi_thread")]
async fn a_placeholder_the_killed_run_never_recorded_is_finished_in_place() {
    let slack = FakeSlack::start().await;
    let sim = support::simulator(1).await;
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
    // Older than any ts the fake mints for the bot, as a question is older than its reply.
    let ts = "1600000000.000100";
    // The killed run posted its placeholder but died before its record named it.
    let placeholder = killed_run(&slack, &store, ts, "Thinking…", false, None).await;
    let bridge = Bridge::start(&slack, &sim, store.clone(), SlackMode::Socket).await;
    // A restart looks in every unfinished thread at once; a 429 on the look is waited
    // out, not taken for "nothing there".
    slack.fail_next("conversations.replies", FailKind::RateLimited { retry_after_secs: 0 });
    assert_eq!(bridge.app.bridge().recover_unfinished().await.unwrap(), 1);
    assert_eq!(slack.queued_failures(), 0, "the look met the 429");
    let shown = slack.messages_in_thread(CHANNEL, ts);
    assert_eq!(shown.len(), 1, "one message, the adopted placeholder: {shown:?}");
    assert_eq!(shown[0].0, placeholder);
    assert!(shown[0].1.contains("interrupted"), "finished with the notice: {shown:?}");
    assert!(store.in_flight().await.unwrap().is_empty());
    bridge.stop().await;
}

/// A run killed after showing its last text (here a notice) but before forgetting the
/// reply leaves a finished reply and a record. The next start keeps what the user reads
/// (the campaign caught recovery replacing such a notice with "interrupted").
#[tokio::test(flavor = "multi_thread")]
async fn a_reply_the_killed_run_had_finished_keeps_its_text() {
    let slack = FakeSlack::start().await;
    let sim = support::simulator(1).await;
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
    let ts = "1600000000.000200";
    let notice = "⚠️ SiteAssist is unavailable right now, so your question was not answered.";
    // The killed run's last show, and its record naming it and the text it ends with.
    let bot_ts = killed_run(&slack, &store, ts, notice, true, Some(notice)).await;
    let bridge = Bridge::start(&slack, &sim, store.clone(), SlackMode::Socket).await;
    assert_eq!(bridge.app.bridge().recover_unfinished().await.unwrap(), 1);
    let shown = slack.messages_in_thread(CHANNEL, ts);
    assert_eq!(shown, vec![(bot_ts, to_slack(notice))], "the notice stays, alone");
    assert!(store.in_flight().await.unwrap().is_empty());
    bridge.stop().await;
}

/// `!new` in a thread starts a new conversation there, and the bot stays part of the
/// thread: the next message needs no mention.
#[tokio::test(flavor = "multi_thread")]
async fn new_in_a_thread_starts_over_and_the_thread_stays_the_bots() {
    let slack = FakeSlack::start().await;
    let sim = support::simulator(1).await;
    let bridge = Bridge::in_memory(&slack, &sim, SlackMode::Socket).await;
    let ts = "1700002400.000100";
    slack.send_socket_event(mention("EvN1", "What are your prices?", ts));
    wait_for_final(&slack, ts, &to_slack(&answer_for("What are your prices?"))).await;
    let reply =
        |id: &str, text: &str, at: &str| fake_slack::message(id, CHANNEL, USER, text, at, Some(ts));
    slack.send_socket_event(reply("EvN2", "!new", "1700002401.000100"));
    let note = notice::new_conversation();
    slack
        .wait_until("the note", |f| {
            f.messages_in_thread(CHANNEL, ts).iter().any(|(_, t)| *t == note)
        })
        .await;
    assert_eq!(sim.sim.conversation_count(), 2, "a new conversation for the thread");
    let q = "How do refunds work?";
    slack.send_socket_event(reply("EvN3", q, "1700002402.000100"));
    wait_for_final(&slack, ts, &to_slack(&answer_for(q))).await;
    assert_eq!(sim.sim.conversation_count(), 2, "the follow-up went to the new one");
    assert_eq!(sim.sim.message_posts(), 2, "two questions, no /new sent to SiteAssist");
    bridge.stop().await;
}

/// Slack's Tier 3 limit is its own, whatever the bridge's budget says: a bridge that
/// goes past it is refused with 429 and `Retry-After`, waits, and the answer lands whole.
#[tokio::test(flavor = "multi_thread")]
async fn updates_over_slacks_tier_3_limit_wait_and_lose_nothing() {
    let slack = FakeSlack::start().await;
    slack.set_limits(SlackLimits {
        updates_per_window: 1,
        update_window: Duration::from_secs(2),
        ..SlackLimits::default()
    });
    // About two seconds of streaming: the bridge edits once a second, Slack allows one
    // update in two.
    let sim = support::simulator(40).await;
    let bridge = Bridge::in_memory(&slack, &sim, SlackMode::Socket).await;
    let (q, ts) = ("How do refunds work?", "1700002200.000100");
    slack.send_socket_event(mention("EvTier3", q, ts));
    let shown = wait_for_final(&slack, ts, &to_slack(&answer_for(q))).await;
    assert_eq!(shown.len(), 1, "one reply: {shown:?}");
    let refused = slack
        .calls_to("chat.update")
        .iter()
        .filter(|c| c.error.as_deref() == Some("ratelimited"))
        .count();
    assert!(refused >= 1, "the bridge went past one update in two seconds");
    bridge.stop().await;
}

/// A Socket Mode error makes the bridge not ready once the reconnect grace has passed
/// without a new connection; Slack's `hello` on the next connection makes it ready.
#[tokio::test(flavor = "multi_thread")]
async fn a_socket_error_without_a_new_hello_is_reported_not_ready() {
    use siteassist_bridge::ops::health::{Readiness, RECONNECT_GRACE};
    use std::time::Instant;
    let slack = FakeSlack::start().await;
    let sim = support::simulator(1).await;
    let bridge = Bridge::in_memory(&slack, &sim, SlackMode::Socket).await;
    let ready = Readiness::default();
    ready.expect_adapter("slack");
    bridge.app.report_to(ready.clone());
    ready.adapter_up("slack");
    let later = || Instant::now() + RECONNECT_GRACE + Duration::from_secs(1);
    let not_ready = |ready: &Readiness| ready.check(later(), Ok(()), Some(later())).is_err();
    // A frame Slack never sends: slack-morphism reports it to the error handler. Nothing
    // else signals that, so a bounded poll of the readiness state.
    slack.send_socket_binary(b"\x00garbage");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !not_ready(&ready) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let reasons = ready.check(later(), Ok(()), Some(later())).unwrap_err();
    assert!(reasons[0].starts_with("slack: connection lost"), "{reasons:?}");
    let now = Instant::now();
    assert!(ready.check(now, Ok(()), Some(now)).is_ok(), "within the grace it is still ready");
    // Slack refreshes the connection; the new one's hello makes the bridge ready.
    let total = slack.socket_connections_total();
    slack.disconnect_socket("refresh_requested");
    slack.wait_until("a new connection", |f| f.socket_connections_total() > total).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while not_ready(&ready) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!not_ready(&ready), "ready again after hello");
    bridge.stop().await;
}

/// Slack posted the placeholder but answered 500 (a timeout after the work was done):
/// the retry finds the message instead of posting a second one.
#[tokio::test(flavor = "multi_thread")]
async fn a_post_made_despite_a_500_is_kept_not_posted_twice() {
    let slack = FakeSlack::start().await;
    let sim = support::simulator(1).await;
    let bridge = Bridge::in_memory(&slack, &sim, SlackMode::Socket).await;
    slack.fail_next("chat.postMessage", FailKind::StatusAfterEffect(500));
    let q = "How do I reset my password?";
    let ts = "1600000000.000100";
    slack.send_socket_event(mention("Ev500", q, ts));
    let shown = wait_for_final(&slack, ts, &to_slack(&answer_for(q))).await;
    assert_eq!(shown.len(), 1, "one reply message: {shown:?}");
    let posts = slack.calls_to("chat.postMessage");
    assert_eq!(posts.len(), 1, "no second post after the 500: {posts:#?}");
    assert_eq!(slack.calls_to("conversations.replies").len(), 1, "looked once");
    bridge.stop().await;
}

/// A person takes the conversation over: the question gets the handover note, the
/// agent's messages appear in the thread with their name, each once (a dropped socket
/// and a message written while it was down included), and handing back says so and
/// lets the AI answer again.
#[tokio::test(flavor = "multi_thread")]
async fn a_human_agents_replies_reach_the_thread_once() {
    let slack = FakeSlack::start().await;
    let sim = support::simulator(1).await;
    let bridge = Bridge::in_memory(&slack, &sim, SlackMode::Socket).await;
    let ts = "1700003000.000100";
    sim.sim.push_fault(siteassist_bridge::simulator::Fault::HumanHandled);
    slack.send_socket_event(mention("EvH1", "Can I talk to a person?", ts));
    wait_for_final(&slack, ts, &to_slack(&notice::human_handled())).await;
    let conversation = sim.sim.conversation_ids().pop().expect("a conversation");
    let opened = || sim.sim.wait_until(|s| s.open_sockets() == 1);
    tokio::time::timeout(Duration::from_secs(5), opened()).await.expect("the relay's socket");

    assert!(sim.sim.hand_over(&conversation, "Dana"));
    sim.sim.agent_message(&conversation, "Hi, Dana here. Let me look.").unwrap();
    let first = to_slack("**Dana:** Hi, Dana here. Let me look.");
    wait_for_final(&slack, ts, &first).await;

    // The socket drops; the agent writes meanwhile; the relay catches up once.
    let opened_before = sim.sim.sockets_opened();
    sim.sim.drop_sockets();
    sim.sim.agent_message(&conversation, "Found it: your account is fixed.").unwrap();
    let reopened = || sim.sim.wait_until(|s| s.sockets_opened() > opened_before);
    tokio::time::timeout(Duration::from_secs(10), reopened()).await.expect("reconnected");
    let second = to_slack("**Dana:** Found it: your account is fixed.");
    wait_for_final(&slack, ts, &second).await;
    sim.sim.agent_message(&conversation, "Anything else?").unwrap();
    wait_for_final(&slack, ts, &to_slack("**Dana:** Anything else?")).await;

    assert!(sim.sim.hand_back(&conversation));
    slack
        .wait_until("the hand-back note", |f| {
            f.messages_in_thread(CHANNEL, ts)
                .last()
                .is_some_and(|(_, t)| t.contains("handed this conversation back"))
        })
        .await;
    let texts: Vec<String> =
        slack.messages_in_thread(CHANNEL, ts).into_iter().map(|(_, t)| t).collect();
    let joined = to_slack(&notice::agent_joined("Dana"));
    assert_eq!(texts.len(), 6, "handover note, joined, three messages, hand-back: {texts:?}");
    assert_eq!(texts[1..5], [joined, first, second, to_slack("**Dana:** Anything else?")]);
    tokio::time::timeout(Duration::from_secs(5), sim.sim.wait_until(|s| s.open_sockets() == 0))
        .await
        .expect("the relay closed its socket");
    assert_eq!(bridge.app.bridge().handoff_relays(), 0);

    // Back with the AI: the next question is answered.
    let q = "How do refunds work?";
    slack.send_socket_event(fake_slack::message(
        "EvH2",
        CHANNEL,
        USER,
        q,
        "1700003001.000100",
        Some(ts),
    ));
    wait_for_final(&slack, ts, &to_slack(&answer_for(q))).await;
    bridge.stop().await;
}

/// An answer that cites sources (two streamed twice and once, plus reference
/// definitions in its text): the definitions leave the text, `[label][ref]` becomes a
/// link, and one line of linked sources ends the answer, each source once. Its
/// display-link action is a link button under the text, which then shows in sections.
#[tokio::test(flavor = "multi_thread")]
async fn an_answer_ends_with_its_sources_each_once() {
    let slack = FakeSlack::start().await;
    let sim = support::simulator(1).await;
    let bridge = Bridge::in_memory(&slack, &sim, SlackMode::Socket).await;
    let ts = "1700003600.000100";
    slack.send_socket_event(mention("EvS1", "Where are the shipping docs?", ts));
    let expected = "Orders ship within *2 business days* [1], and you can return anything \
        within 30 days (see <https://example.com/docs/returns|the returns policy>).\n\n\
        Sources: [1] <https://example.com/docs/shipping|Shipping guide> · \
        <https://example.com/docs/returns|Returns policy>";
    let shown = wait_for_final(&slack, ts, expected).await;
    assert_eq!(shown.len(), 1, "one message: {shown:?}");
    let message = slack.messages().into_iter().find(|m| m.thread_ts.as_deref() == Some(ts));
    let blocks = message.and_then(|m| m.blocks).expect("the answer has blocks");
    let blocks = blocks.as_array().unwrap();
    let [sections @ .., actions, feedback] = blocks.as_slice() else {
        panic!("sections, links and feedback: {blocks:?}")
    };
    let text: String = sections.iter().map(|b| b["text"]["text"].as_str().unwrap()).collect();
    assert_eq!(text, expected, "the sections show the answer");
    assert_eq!(actions["type"], "actions");
    let buttons = actions["elements"].as_array().unwrap();
    assert_eq!(buttons.len(), 1, "{buttons:?}");
    assert_eq!(buttons[0]["url"], "https://example.com/orders");
    assert_eq!(buttons[0]["text"]["text"], "Track your order");
    assert_eq!(feedback["type"], "context_actions", "then Slack's 👍 / 👎");
    assert_eq!(feedback["elements"][0]["type"], "feedback_buttons");
    // While it streamed, the reply carried Stop and nothing else.
    let first = &slack.calls_to("chat.postMessage")[0];
    let posted: serde_json::Value = match &first.params["blocks"] {
        serde_json::Value::String(s) => serde_json::from_str(s).unwrap(),
        other => other.clone(),
    };
    let elements = &posted.as_array().unwrap().last().unwrap()["elements"];
    assert_eq!(elements.as_array().map(Vec::len), Some(1), "{posted}");
    assert_eq!(elements[0]["action_id"], "siteassist:stop");
    bridge.stop().await;
}

/// The texts of the bot's messages in the thread under `ts`, oldest first.
fn thread_texts(slack: &FakeSlack, ts: &str) -> Vec<String> {
    slack.messages_in_thread(CHANNEL, ts).into_iter().map(|(_, t)| t).collect()
}

/// An agent takes over a thread the AI answered a moment ago and writes first, before
/// the user says anything: the bridge was listening, so the note that they joined and
/// their message reach the thread within seconds, without waiting for a question.
#[tokio::test(flavor = "multi_thread")]
async fn an_agent_who_writes_first_reaches_a_recently_answered_thread() {
    let slack = FakeSlack::start().await;
    let sim = support::simulator(1).await;
    let bridge = Bridge::in_memory(&slack, &sim, SlackMode::Socket).await;
    let ts = "1700003200.000100";
    let q = "How do refunds work?";
    slack.send_socket_event(mention("EvW1", q, ts));
    wait_for_final(&slack, ts, &to_slack(&answer_for(q))).await;
    let listening = sim.sim.wait_until(|s| s.open_sockets() == 1);
    tokio::time::timeout(Duration::from_secs(5), listening).await.expect("listening");

    let conversation = sim.sim.conversation_ids().pop().expect("a conversation");
    assert!(sim.sim.hand_over(&conversation, "Dana"));
    sim.sim.agent_message(&conversation, "Hi, Dana here. I saw your question.").unwrap();
    let written = to_slack("**Dana:** Hi, Dana here. I saw your question.");
    slack
        .wait_until_within("the agent's first message", Duration::from_secs(5), |f| {
            f.messages_in_thread(CHANNEL, ts).last().is_some_and(|(_, t)| *t == written)
        })
        .await;
    let joined = to_slack(&notice::agent_joined("Dana"));
    assert_eq!(thread_texts(&slack, ts), [to_slack(&answer_for(q)), joined, written]);
    assert_eq!(bridge.app.bridge().handoff_relays(), 1, "relaying now");
    bridge.stop().await;
}

/// A handover learnt from a question (nobody listened: `watch` is off): the question's
/// reply is the one note that Dana joined; the next question gets a ✅ and no
/// placeholder; Dana's three messages arrive in order; handed back, the AI answers.
#[tokio::test(flavor = "multi_thread")]
async fn a_handover_learnt_from_a_question_marks_later_questions_delivered() {
    let slack = FakeSlack::start().await;
    let sim = support::simulator(1).await;
    let mut cfg = support::fast_config();
    cfg.handoff.watch = Duration::ZERO;
    let store: Arc<dyn Store> = Arc::new(siteassist_bridge::store::MemoryStore::new());
    let bridge = Bridge::start_with(&slack, &sim, store, SlackMode::Socket, cfg).await;
    let ts = "1700003300.000100";
    let q1 = "How do refunds work?";
    slack.send_socket_event(mention("EvD1", q1, ts));
    wait_for_final(&slack, ts, &to_slack(&answer_for(q1))).await;
    assert_eq!(sim.sim.sockets_opened(), 0, "nobody listens with watch off");
    let conversation = sim.sim.conversation_ids().pop().expect("a conversation");
    assert!(sim.sim.hand_over(&conversation, "Dana"));

    let in_thread =
        |event: &str, q: &str, at: &str| fake_slack::message(event, CHANNEL, USER, q, at, Some(ts));
    slack.send_socket_event(in_thread("EvD2", "Still there?", "1700003301.000100"));
    let joined = to_slack(&notice::agent_joined("Dana"));
    wait_for_final(&slack, ts, &joined).await;
    let relaying = sim.sim.wait_until(|s| s.open_sockets() == 1);
    tokio::time::timeout(Duration::from_secs(5), relaying).await.expect("relaying");

    let q3_ts = "1700003302.000100";
    slack.send_socket_event(in_thread("EvD3", "My order is 1234.", q3_ts));
    let mark = (CHANNEL.to_string(), q3_ts.to_string(), "white_check_mark".to_string());
    slack.wait_until("the delivery mark", |f| f.reactions().contains(&mark)).await;
    let placeholders = slack
        .calls_to("chat.postMessage")
        .iter()
        .filter(|c| c.params["text"] == "Thinking…")
        .count();
    assert_eq!(placeholders, 2, "the first two questions only");

    let said = ["Found order 1234.", "It ships **today**.", "Anything else?"];
    for text in said {
        sim.sim.agent_message(&conversation, text).unwrap();
    }
    let last = to_slack(&format!("**Dana:** {}", said[2]));
    wait_for_final(&slack, ts, &last).await;
    assert!(sim.sim.hand_back(&conversation));
    let back = to_slack(&notice::handed_back());
    wait_for_final(&slack, ts, &back).await;
    let q4 = "What is the return window?";
    slack.send_socket_event(in_thread("EvD4", q4, "1700003303.000100"));
    wait_for_final(&slack, ts, &to_slack(&answer_for(q4))).await;

    let mut expected = vec![to_slack(&answer_for(q1)), joined];
    expected.extend(said.iter().map(|t| to_slack(&format!("**Dana:** {t}"))));
    expected.extend([back, to_slack(&answer_for(q4))]);
    assert_eq!(thread_texts(&slack, ts), expected);
    assert_eq!(slack.reactions().len(), 1, "one mark: {:?}", slack.reactions());
    bridge.stop().await;
}

/// The agent closes the conversation: one note, the relay stops, and the next
/// question starts a new conversation answered by the AI.
#[tokio::test(flavor = "multi_thread")]
async fn a_closed_handover_says_so_and_starts_afresh() {
    let slack = FakeSlack::start().await;
    let sim = support::simulator(1).await;
    let bridge = Bridge::in_memory(&slack, &sim, SlackMode::Socket).await;
    let ts = "1700003400.000100";
    let q1 = "How do refunds work?";
    slack.send_socket_event(mention("EvC1", q1, ts));
    wait_for_final(&slack, ts, &to_slack(&answer_for(q1))).await;
    let conversation = sim.sim.conversation_ids().pop().expect("a conversation");
    let listening = sim.sim.wait_until(|s| s.open_sockets() == 1);
    tokio::time::timeout(Duration::from_secs(5), listening).await.expect("listening");
    assert!(sim.sim.hand_over(&conversation, "Dana"));
    sim.sim.agent_message(&conversation, "Sorted, closing this.").unwrap();
    wait_for_final(&slack, ts, &to_slack("**Dana:** Sorted, closing this.")).await;

    assert!(sim.sim.close_conversation(&conversation));
    let closed = to_slack(&notice::handoff_closed());
    wait_for_final(&slack, ts, &closed).await;
    let q2 = "What is the return window?";
    let at = "1700003401.000100";
    slack.send_socket_event(fake_slack::message("EvC2", CHANNEL, USER, q2, at, Some(ts)));
    wait_for_final(&slack, ts, &to_slack(&answer_for(q2))).await;
    let conversations = sim.sim.conversation_ids();
    assert_eq!(conversations.len(), 2, "a new conversation after the close");
    assert_eq!(sim.sim.conversation_messages(&conversations[1]).len(), 2, "question and answer");
    let texts = thread_texts(&slack, ts);
    assert_eq!(texts.iter().filter(|t| **t == closed).count(), 1, "one note: {texts:?}");
    bridge.stop().await;
}

/// Bounds: with room for two sockets, a third answered thread closes the least
/// recently active relay; what its agent writes meanwhile arrives when the user writes
/// again (caught up from the message list), once. A listening relay whose window
/// passes closes its socket and forgets its record.
#[tokio::test(flavor = "multi_thread")]
async fn relays_beyond_the_cap_close_oldest_first_and_catch_up_when_woken() {
    let slack = FakeSlack::start().await;
    let sim = support::simulator(1).await;
    let mut cfg = support::fast_config();
    cfg.handoff.max_sockets = 2;
    let store: Arc<dyn Store> = Arc::new(siteassist_bridge::store::MemoryStore::new());
    let bridge = Bridge::start_with(&slack, &sim, store.clone(), SlackMode::Socket, cfg).await;
    let threads = ["1700003500.000100", "1700003501.000100", "1700003502.000100"];
    let q = "How do refunds work?";
    for (i, ts) in threads.iter().enumerate() {
        slack.send_socket_event(mention(&format!("EvK{i}"), q, ts));
        wait_for_final(&slack, ts, &to_slack(&answer_for(q))).await;
        let n = (i + 1).min(2);
        let open = sim.sim.wait_until(|s| s.open_sockets() == n);
        tokio::time::timeout(Duration::from_secs(5), open).await.expect("sockets");
    }
    assert_eq!(bridge.app.bridge().handoff_listeners(), 2, "the cap holds");
    let first = sim.sim.conversation_ids()[0].clone();
    assert!(sim.sim.hand_over(&first, "Dana"));
    sim.sim.agent_message(&first, "Written while nobody listened.").unwrap();
    // The user writes again in the first thread: it wakes, and the message arrives.
    let again =
        fake_slack::message("EvK9", CHANNEL, USER, "Hello?", "1700003509.000100", Some(threads[0]));
    slack.send_socket_event(again);
    let written = to_slack("**Dana:** Written while nobody listened.");
    wait_for_final(&slack, threads[0], &written).await;
    let texts = thread_texts(&slack, threads[0]);
    assert_eq!(texts.iter().filter(|t| **t == written).count(), 1, "once: {texts:?}");
    assert_eq!(bridge.app.bridge().handoff_listeners(), 2, "still two");
    bridge.stop().await;

    // A short window: the listening relay closes by itself and forgets its record.
    let mut cfg = support::fast_config();
    cfg.handoff.watch = Duration::from_millis(300);
    let store: Arc<dyn Store> = Arc::new(siteassist_bridge::store::MemoryStore::new());
    let bridge = Bridge::start_with(&slack, &sim, store.clone(), SlackMode::Socket, cfg).await;
    let ts = "1700003510.000100";
    let opened = sim.sim.sockets_opened();
    slack.send_socket_event(mention("EvK10", q, ts));
    wait_for_final(&slack, ts, &to_slack(&answer_for(q))).await;
    let listened = sim.sim.wait_until(|s| s.sockets_opened() > opened);
    tokio::time::timeout(Duration::from_secs(5), listened).await.expect("listened");
    let closed = sim.sim.wait_until(|s| s.open_sockets() == 0);
    tokio::time::timeout(Duration::from_secs(5), closed).await.expect("closed when idle");
    let forgotten = async {
        while !store.handoffs().await.unwrap().is_empty()
            || bridge.app.bridge().handoff_listeners() > 0
        {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), forgotten).await.expect("record forgotten");
    bridge.stop().await;
}

/// A restart re-opens the relay of a conversation a person was handling: what they
/// wrote while the bridge was down arrives once, and nothing shown before comes again.
#[tokio::test(flavor = "multi_thread")]
async fn a_restart_resumes_the_handoff_and_catches_up_once() {
    let slack = FakeSlack::start().await;
    let sim = support::simulator(1).await;
    let store: Arc<dyn Store> = Arc::new(siteassist_bridge::store::MemoryStore::new());
    let ts = "1700003100.000100";
    let first = to_slack("**Dana:** Before the restart.");
    let conversation = {
        let bridge = Bridge::start(&slack, &sim, store.clone(), SlackMode::Socket).await;
        sim.sim.push_fault(siteassist_bridge::simulator::Fault::HumanHandled);
        slack.send_socket_event(mention("EvR1", "A person, please", ts));
        wait_for_final(&slack, ts, &to_slack(&notice::human_handled())).await;
        let conversation = sim.sim.conversation_ids().pop().expect("a conversation");
        let opened = sim.sim.wait_until(|s| s.open_sockets() == 1);
        tokio::time::timeout(Duration::from_secs(5), opened).await.expect("the relay's socket");
        sim.sim.hand_over(&conversation, "Dana");
        sim.sim.agent_message(&conversation, "Before the restart.").unwrap();
        wait_for_final(&slack, ts, &first).await;
        bridge.stop().await;
        let closed = sim.sim.wait_until(|s| s.open_sockets() == 0);
        tokio::time::timeout(Duration::from_secs(5), closed).await.expect("the relay stopped");
        conversation
    };
    // Written while no bridge runs.
    sim.sim.agent_message(&conversation, "While you were away.").unwrap();
    let bridge = Bridge::start(&slack, &sim, store.clone(), SlackMode::Socket).await;
    bridge.app.bridge().recover_unfinished().await.unwrap();
    let second = to_slack("**Dana:** While you were away.");
    wait_for_final(&slack, ts, &second).await;
    sim.sim.agent_message(&conversation, "And now live.").unwrap();
    let third = to_slack("**Dana:** And now live.");
    wait_for_final(&slack, ts, &third).await;
    let texts: Vec<String> =
        slack.messages_in_thread(CHANNEL, ts).into_iter().map(|(_, t)| t).collect();
    let joined = to_slack(&notice::agent_joined("Dana"));
    assert_eq!(texts[1..], [joined, first, second, third], "each once, in order: {texts:?}");
    bridge.stop().await;
}
