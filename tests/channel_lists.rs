//! Channel allow and deny lists end to end: the Slack and Discord adapters against their
//! fakes on 127.0.0.1 and the SiteAssist simulator. A message in an excluded channel gets
//! no reply and never reaches SiteAssist; allowed channels and DMs are answered as usual;
//! feedback on answers that already exist keeps working.

mod support;

#[cfg(feature = "slack")]
mod fake_slack;

#[cfg(feature = "discord")]
mod fake_discord;

#[cfg(feature = "slack")]
mod slack {
    use crate::fake_slack::{self, FakeSlack};
    use crate::support;
    use siteassist_bridge::adapters::slack::config::{SlackMode, SlackSettings};
    use siteassist_bridge::adapters::slack::format::to_slack;
    use siteassist_bridge::adapters::slack::SlackBridge;
    use siteassist_bridge::bridge::ids::ThreadKey;
    use siteassist_bridge::simulator::{answer_for, RunningSimulator};
    use siteassist_bridge::store::{MemoryStore, Store};
    use std::sync::Arc;
    use std::time::Duration;
    use tokio::sync::oneshot;

    /// On the allow list.
    const ALLOWED: &str = "C0ALLOWED";
    /// On the allow list and the deny list: deny wins.
    const DENIED: &str = "C0DENIED";
    /// On neither list, while an allow list exists.
    const UNLISTED: &str = "C0UNLISTED";
    const DM: &str = "D0ALICE";
    const USER: &str = "U0ALICE";

    fn settings(slack: &FakeSlack, allow: &[&str], deny: &[&str]) -> SlackSettings {
        let list = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect();
        SlackSettings {
            allow_channels: list(allow),
            deny_channels: list(deny),
            ..slack.bridge_settings(SlackMode::Socket)
        }
    }

    /// A Slack bridge serving Socket Mode.
    struct Running {
        app: Arc<SlackBridge>,
        stop: oneshot::Sender<()>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Running {
        async fn start(
            slack: &FakeSlack,
            sim: &RunningSimulator,
            store: Arc<dyn Store>,
            settings: &SlackSettings,
        ) -> Self {
            let connections = slack.socket_connections_total();
            let client = support::client(sim, 3);
            let app = SlackBridge::connect(settings, store, client, support::fast_config())
                .await
                .expect("connects to the fake Slack");
            let app = Arc::new(app);
            let (stop, stopped) = oneshot::channel::<()>();
            let serving = app.clone();
            let task = tokio::spawn(async move {
                let stopped = async move {
                    let _ = stopped.await;
                };
                serving.serve_socket_mode(stopped).await.expect("socket mode");
            });
            slack
                .wait_until("a new socket connection", |f| {
                    f.socket_connections_total() > connections && f.socket_connections() >= 1
                })
                .await;
            Self { app, stop, task }
        }

        async fn stop(self) {
            let _ = self.stop.send(());
            let _ = self.task.await;
            self.app.bridge().shutdown(Duration::from_secs(5)).await;
        }

        /// Waits until everything queued for the thread under `ts` in `channel` has been
        /// answered; returns at once if nothing was.
        async fn settled(&self, channel: &str, ts: &str) {
            let key = ThreadKey::new(format!("slack:{}:{channel}:{ts}", fake_slack::TEAM_ID));
            tokio::time::timeout(Duration::from_secs(10), self.app.bridge().barrier(&key))
                .await
                .expect("the thread settles");
        }
    }

    fn mention(event_id: &str, channel: &str, q: &str, ts: &str) -> serde_json::Value {
        let text = format!("<@{}> {q}", fake_slack::BOT_USER_ID);
        fake_slack::app_mention(event_id, channel, USER, &text, ts, None)
    }

    async fn answered(slack: &FakeSlack, channel: &str, ts: &str, q: &str) {
        let expected = to_slack(&answer_for(q));
        slack
            .wait_until("the answer", |f| {
                f.messages_in_thread(channel, ts).last().map(|(_, t)| t.as_str())
                    == Some(expected.as_str())
            })
            .await;
    }

    /// Channels the bot looked up or wrote in, by any Web API call.
    fn channels_touched(slack: &FakeSlack) -> Vec<String> {
        slack
            .calls()
            .iter()
            .filter_map(|c| c.params.get("channel").and_then(|v| v.as_str()).map(String::from))
            .collect()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn mentions_in_excluded_channels_get_no_reply_and_never_reach_siteassist() {
        let sim = support::simulator(1).await;
        let slack = FakeSlack::start().await;
        let settings = settings(&slack, &[ALLOWED, DENIED], &[DENIED]);
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let bridge = Running::start(&slack, &sim, store, &settings).await;

        // Through the adapter's entry point, which returns once the event is ignored or
        // queued; the barriers then wait for any answer a queued one would get.
        bridge.app.deliver(&mention("Ev1", DENIED, "prices?", "1700000001.000100")).await.unwrap();
        bridge
            .app
            .deliver(&mention("Ev2", UNLISTED, "refunds?", "1700000002.000100"))
            .await
            .unwrap();
        bridge.settled(DENIED, "1700000001.000100").await;
        bridge.settled(UNLISTED, "1700000002.000100").await;
        assert!(slack.messages().is_empty(), "no reply: {:#?}", slack.messages());
        assert_eq!(sim.sim.message_posts(), 0, "nothing sent to SiteAssist");

        // Over Socket Mode: the excluded mention first, then the allowed one and a DM,
        // which are answered as usual.
        slack.send_socket_event(mention("Ev3", DENIED, "shipping?", "1700000003.000100"));
        let q = "How do I reset my password?";
        slack.send_socket_event(mention("Ev4", ALLOWED, q, "1700000004.000100"));
        answered(&slack, ALLOWED, "1700000004.000100", q).await;
        let dm = "What are your prices?";
        slack.send_socket_event(fake_slack::im_message(
            "Ev5",
            DM,
            USER,
            dm,
            "1700000005.000100",
            None,
        ));
        slack
            .wait_until("the DM answer", |f| {
                f.messages().iter().any(|m| m.channel == DM && m.text == to_slack(&answer_for(dm)))
            })
            .await;
        bridge.settled(DENIED, "1700000003.000100").await;

        let posted: Vec<String> = slack.messages().into_iter().map(|m| m.channel).collect();
        assert!(posted.iter().all(|c| c == ALLOWED || c == DM), "{posted:?}");
        let touched = channels_touched(&slack);
        assert!(!touched.iter().any(|c| c == DENIED || c == UNLISTED), "{touched:?}");
        assert_eq!(sim.sim.message_posts(), 2, "only the allowed mention and the DM");
        assert_eq!(sim.sim.conversation_count(), 2);
        bridge.stop().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn feedback_on_an_answer_in_a_channel_denied_since_still_counts() {
        let sim = support::simulator(1).await;
        let slack = FakeSlack::start().await;
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let bridge = Running::start(&slack, &sim, store.clone(), &settings(&slack, &[], &[])).await;
        let (q, ts) = ("How do refunds work?", "1700000010.000100");
        let answer_ts = slack.ask("Ev10", DENIED, USER, q, ts, &answer_for(q)).await;
        bridge.stop().await;

        // The same workspace and store, now with the channel denied.
        let bridge = Running::start(&slack, &sim, store, &settings(&slack, &[], &[DENIED])).await;
        let reaction = fake_slack::reaction("Ev11", true, USER, "+1", DENIED, &answer_ts, "UBOT");
        slack.send_socket_event(reaction);
        tokio::time::timeout(
            Duration::from_secs(10),
            sim.sim.wait_until(|s| s.feedback_log().len() == 1),
        )
        .await
        .expect("feedback recorded");
        assert_eq!(sim.sim.feedback_log()[0].value.as_deref(), Some("like"));

        // A new question there is ignored.
        let again = mention("Ev12", DENIED, "and shipping?", "1700000012.000100");
        bridge.app.deliver(&again).await.unwrap();
        bridge.settled(DENIED, "1700000012.000100").await;
        assert_eq!(sim.sim.message_posts(), 1, "only the question asked before");
        bridge.stop().await;
    }
}

#[cfg(feature = "discord")]
mod discord {
    use crate::fake_discord::harness::{self, reply_shown, WAIT};
    use crate::fake_discord::payloads::{self, Msg};
    use crate::fake_discord::{FakeDiscord, Op, ALICE, AUTO, FORUM, QUIET_FORUM, SUPPORT};
    use crate::support::{client, simulator};
    use siteassist_bridge::adapters::discord::config::DiscordSettings;
    use siteassist_bridge::adapters::discord::format::render;
    use siteassist_bridge::adapters::discord::{DiscordBot, Handled, Outcome};
    use siteassist_bridge::bridge::{Disposition, Ignored};
    use siteassist_bridge::simulator::answer_for;
    use siteassist_bridge::store::MemoryStore;
    use std::sync::Arc;
    use std::time::Duration;
    use tokio::sync::{broadcast, oneshot};

    const QUEUED: Outcome = Outcome::Core(Disposition::Queued);
    const NOT_ALLOWED: Outcome = Outcome::Core(Disposition::Ignored(Ignored::ChannelNotAllowed));

    /// Waits for what became of message `id`.
    async fn outcome(reports: &mut broadcast::Receiver<Handled>, id: u64) -> Outcome {
        let wait = async {
            loop {
                match reports.recv().await {
                    Ok(Handled::Message { id: got, outcome }) if got == id => return outcome,
                    Ok(_) => {}
                    Err(e) => panic!("reports ended: {e}"),
                }
            }
        };
        tokio::time::timeout(WAIT, wait).await.unwrap_or_else(|_| panic!("message {id} handled"))
    }

    #[tokio::test]
    async fn excluded_channels_and_their_threads_are_skipped_and_allowed_ones_answered() {
        let fake = FakeDiscord::start().await;
        let sim = simulator(1).await;
        // SUPPORT and the FORUM are allowed; AUTO (an auto-respond channel) is allowed but
        // denied too; QUIET_FORUM is on neither list.
        let id = |c: u64| c.to_string();
        let settings = DiscordSettings {
            allow_channels: vec![id(SUPPORT), id(FORUM), id(AUTO)],
            deny_channels: vec![id(AUTO)],
            ..harness::settings(&fake)
        };
        let sessions = fake.read(|r| r.sessions_opened);
        let bot = DiscordBot::connect(
            &settings,
            Arc::new(MemoryStore::new()),
            client(&sim, 3),
            harness::bridge_config(),
        )
        .await
        .expect("the bot connects to the fake");
        let mut reports = bot.subscribe();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(bot.serve(
            async move {
                let _ = stopped.await;
            },
            Duration::from_secs(5),
        ));
        let ready = async { while !matches!(reports.recv().await, Ok(Handled::Ready)) {} };
        tokio::time::timeout(WAIT, ready).await.expect("READY handled");
        fake.wait_until("a gateway session", WAIT, move |r| r.sessions_opened > sessions).await;

        // A mention (and plain auto-respond text) in the denied channel.
        let denied = fake.next_id();
        fake.dispatch("MESSAGE_CREATE", Msg::mention(denied, AUTO, "prices?").json());
        assert_eq!(outcome(&mut reports, denied).await, NOT_ALLOWED);
        let auto = fake.next_id();
        fake.dispatch("MESSAGE_CREATE", Msg::in_guild(auto, AUTO, "refunds?").json());
        assert_eq!(outcome(&mut reports, auto).await, NOT_ALLOWED);
        // A thread in the denied channel counts as the channel.
        let old = fake.next_id();
        let thread = payloads::thread(old, AUTO, "an older thread", ALICE);
        fake.add_channel(thread.clone());
        fake.dispatch("THREAD_CREATE", thread);
        let in_old = fake.next_id();
        fake.dispatch("MESSAGE_CREATE", Msg::mention(in_old, old, "still there?").json());
        assert_eq!(outcome(&mut reports, in_old).await, NOT_ALLOWED);
        // A post in a forum that is not on the allow list.
        let quiet = fake.next_id();
        fake.add_channel(payloads::thread(quiet, QUIET_FORUM, "An idea", ALICE));
        fake.dispatch("MESSAGE_CREATE", Msg::mention(quiet, quiet, "dark mode?").json());
        assert_eq!(outcome(&mut reports, quiet).await, NOT_ALLOWED);

        // The allowed channel: a thread and an answer; a follow-up in that thread (whose
        // own id is on no list) is answered because its parent is allowed.
        let q1 = "How do I reset my password?";
        let asked = fake.next_id();
        fake.dispatch("MESSAGE_CREATE", Msg::mention(asked, SUPPORT, q1).json());
        assert_eq!(outcome(&mut reports, asked).await, QUEUED);
        reply_shown(&fake, asked, &render(&answer_for(q1))).await;
        let q2 = "And refunds?";
        let follow_up = fake.next_id();
        fake.dispatch("MESSAGE_CREATE", Msg::in_guild(follow_up, asked, q2).json());
        assert_eq!(outcome(&mut reports, follow_up).await, QUEUED);
        let expected = render(&answer_for(q2));
        fake.wait_until("the follow-up answer", WAIT, |r| {
            r.messages_in(asked).get(1).is_some_and(|m| m.text() == expected)
        })
        .await;
        // A new post in the allowed (auto-respond) forum, and a DM, which no list covers.
        let post = fake.next_id();
        let thread = payloads::thread(post, FORUM, "API keys", ALICE);
        fake.add_channel(thread.clone());
        fake.dispatch("THREAD_CREATE", thread);
        fake.dispatch("MESSAGE_CREATE", Msg::in_guild(post, post, "how do I make one?").json());
        assert_eq!(outcome(&mut reports, post).await, QUEUED);
        reply_shown(&fake, post, &render(&answer_for("API keys\n\nhow do I make one?"))).await;
        let dm = fake.next_id();
        fake.dispatch("MESSAGE_CREATE", Msg::dm(dm, "Shipping times?").json());
        assert_eq!(outcome(&mut reports, dm).await, QUEUED);
        reply_shown(&fake, crate::fake_discord::DM, &render(&answer_for("Shipping times?"))).await;

        // Nothing was posted or started for the excluded messages, and SiteAssist saw
        // only the four answered questions.
        for channel in [AUTO, denied, auto, old, quiet] {
            assert!(fake.read(|r| r.messages_in(channel).is_empty()), "a reply in {channel}");
        }
        let threads_in: Vec<Option<u64>> =
            fake.read(|r| r.calls_of(Op::CreateThread).iter().map(|c| c.channel).collect());
        assert_eq!(threads_in, vec![Some(SUPPORT)]);
        assert_eq!(sim.sim.message_posts(), 4);
        let _ = stop.send(());
        let stopped = tokio::time::timeout(WAIT, task).await.expect("the bot stops");
        stopped.expect("no panic").expect("a clean stop");
    }
}
