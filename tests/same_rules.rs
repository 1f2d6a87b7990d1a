//! The answer rules live in the core, so Slack and Discord behave alike. Each platform
//! runs through its real adapter against its fake on 127.0.0.1 and the simulator, with
//! the same script: an empty mention, a message to a colleague in an auto-respond
//! channel, a question in a DM, `!new` there, and the next question. Both must reach the
//! same dispositions and show the same effects.
#![cfg(all(feature = "slack", feature = "discord"))]

mod fake_discord;
mod fake_slack;
mod support;

use siteassist_bridge::bridge::{Disposition, Ignored};
use siteassist_bridge::simulator::{answer_for, RunningSimulator};

const FIRST: &str = "How do refunds work?";
const SECOND: &str = "What are your prices?";

/// What the script must lead to, on every platform.
const EXPECTED: [Disposition; 5] = [
    Disposition::Ignored(Ignored::Empty),
    Disposition::Ignored(Ignored::AddressedToOthers),
    Disposition::Queued,
    Disposition::NewConversation,
    Disposition::Queued,
];

/// The effects on SiteAssist: nothing for the two ignored messages, one conversation
/// per side of `!new`.
#[track_caller]
fn assert_siteassist_saw_two_questions_in_two_conversations(sim: &RunningSimulator) {
    assert_eq!(sim.sim.message_posts(), 2, "only the two DM questions reached SiteAssist");
    assert_eq!(sim.sim.conversation_count(), 2, "!new started a second conversation");
}

mod slack {
    use super::*;
    use crate::fake_slack::{self, FakeSlack};
    use siteassist_bridge::adapters::slack::config::SlackMode;
    use siteassist_bridge::adapters::slack::format::to_slack;
    use siteassist_bridge::adapters::slack::{Delivered, SlackBridge};
    use siteassist_bridge::bridge::ids::ThreadKey;
    use siteassist_bridge::bridge::notice;
    use siteassist_bridge::store::MemoryStore;
    use std::sync::Arc;

    const CHANNEL: &str = "C0SUPPORT";
    const AUTO: &str = "C0AUTO";
    const DM: &str = "D0ALICE";
    const ALICE: &str = "U0ALICE";

    /// The bot's texts in the DM, oldest first.
    fn dm_texts(slack: &FakeSlack) -> Vec<String> {
        slack.messages().into_iter().filter(|m| m.channel == DM).map(|m| m.text).collect()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn slack_follows_the_rules() {
        let sim = support::simulator(1).await;
        let slack = FakeSlack::start().await;
        let settings = siteassist_bridge::adapters::slack::config::SlackSettings {
            auto_respond_channels: vec![AUTO.into()],
            ..slack.bridge_settings(SlackMode::Socket)
        };
        let store = Arc::new(MemoryStore::new());
        let app = SlackBridge::connect(
            &settings,
            store,
            support::client(&sim, 3),
            support::fast_config(),
        )
        .await
        .expect("connects to the fake Slack");
        let bot = format!("<@{}>", fake_slack::BOT_USER_ID);
        let dm = ThreadKey::new(format!("slack:{}:{DM}", fake_slack::TEAM_ID));
        let to_bob = "<@U0BOB> can you check this?";
        let script = [
            fake_slack::app_mention("Ev1", CHANNEL, ALICE, &bot, "1.000001", None),
            fake_slack::message("Ev2", AUTO, ALICE, to_bob, "1.000002", None),
            fake_slack::im_message("Ev3", DM, ALICE, FIRST, "1.000003", None),
            fake_slack::im_message("Ev4", DM, ALICE, "!new", "1.000004", None),
            fake_slack::im_message("Ev5", DM, ALICE, SECOND, "1.000005", None),
        ];
        let mut got = Vec::new();
        for payload in &script {
            match app.deliver(payload).await.expect("handled") {
                Delivered::Handled(disposition) => got.push(disposition),
                other => panic!("not handed to the core: {other:?}"),
            }
        }
        assert_eq!(got, EXPECTED);
        app.bridge().barrier(&dm).await;

        let expected = [
            to_slack(&answer_for(FIRST)),
            notice::new_conversation(),
            to_slack(&answer_for(SECOND)),
        ];
        assert_eq!(dm_texts(&slack), expected, "answer, note, answer in the DM");
        let elsewhere: Vec<_> = slack.messages().into_iter().filter(|m| m.channel != DM).collect();
        assert!(elsewhere.is_empty(), "nothing posted for the ignored messages: {elsewhere:?}");
        assert_siteassist_saw_two_questions_in_two_conversations(&sim);
        app.bridge().shutdown(std::time::Duration::from_secs(5)).await;
    }
}

mod discord {
    use super::*;
    use crate::fake_discord::harness::{self, WAIT};
    use crate::fake_discord::payloads::{self, Msg};
    use crate::fake_discord::{FakeDiscord, AUTO, BOB, DM, SUPPORT};
    use siteassist_bridge::adapters::discord::format::render;
    use siteassist_bridge::adapters::discord::Outcome;
    use siteassist_bridge::bridge::notice;
    use siteassist_bridge::store::MemoryStore;
    use std::sync::Arc;

    #[tokio::test(flavor = "multi_thread")]
    async fn discord_follows_the_rules() {
        let sim = support::simulator(1).await;
        let fake = FakeDiscord::start().await;
        let mut bot =
            harness::start(&fake, Arc::new(MemoryStore::new()), support::client(&sim, 3)).await;
        let mut to_bob =
            Msg::in_guild(fake.next_id(), AUTO, &format!("<@{BOB}> can you check this?"));
        to_bob.mentions = vec![payloads::bob()];
        let script = [
            Msg::mention(fake.next_id(), SUPPORT, ""),
            to_bob,
            Msg::dm(fake.next_id(), FIRST),
            Msg::dm(fake.next_id(), "!new"),
            Msg::dm(fake.next_id(), SECOND),
        ];
        let mut got = Vec::new();
        for msg in &script {
            fake.dispatch("MESSAGE_CREATE", msg.json());
            match bot.message_outcome(msg.id).await {
                Outcome::Core(disposition) => got.push(disposition),
                other => panic!("not handed to the core: {other:?}"),
            }
        }
        assert_eq!(got, EXPECTED);

        let expected = [
            render(&answer_for(FIRST)),
            render(&notice::new_conversation()),
            render(&answer_for(SECOND)),
        ];
        fake.wait_until("answer, note, answer in the DM", WAIT, |r| {
            let shown: Vec<&str> = r.messages_in(DM).iter().map(|m| m.text()).collect();
            shown == expected.iter().map(String::as_str).collect::<Vec<_>>()
        })
        .await;
        let elsewhere = fake.read(|r| r.messages.iter().filter(|m| m.channel != DM).count());
        assert_eq!(elsewhere, 0, "nothing posted for the ignored messages");
        assert_siteassist_saw_two_questions_in_two_conversations(&sim);
        bot.stop().await.unwrap();
    }
}
