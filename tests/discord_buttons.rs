//! Buttons under the bot's Discord answers: the answer's link buttons, 👍 / 👎 as
//! feedback, and Stop while an answer streams. Presses arrive as INTERACTION_CREATE
//! from the fake gateway and must be answered within Discord's 3 seconds.
#![cfg(feature = "discord")]

mod fake_discord;
mod support;

use fake_discord::harness::{self, Running, WAIT};
use fake_discord::payloads::{self, Msg};
use fake_discord::{FakeDiscord, Op, SUPPORT};
use serde_json::Value;
use siteassist_bridge::adapters::discord::Outcome;
use siteassist_bridge::bridge::{Disposition, Ignored};
use siteassist_bridge::simulator::RunningSimulator;
use siteassist_bridge::store::MemoryStore;
use std::sync::Arc;
use std::time::Duration;
use support::{client, simulator};

const LIKE: &str = "siteassist:like";
const DISLIKE: &str = "siteassist:dislike";
const STOP: &str = "siteassist:stop";

async fn setup(word_delay_ms: u64) -> (FakeDiscord, RunningSimulator, Running) {
    let fake = FakeDiscord::start().await;
    let sim = simulator(word_delay_ms).await;
    let bot = harness::start(&fake, Arc::new(MemoryStore::new()), client(&sim, 3)).await;
    (fake, sim, bot)
}

/// The `custom_id`s (or `url`s, for link buttons) of a message's buttons, row by row.
fn buttons(components: &Value) -> Vec<Vec<String>> {
    let rows = components.as_array().cloned().unwrap_or_default();
    rows.iter()
        .map(|row| {
            let buttons = row["components"].as_array().cloned().unwrap_or_default();
            buttons
                .iter()
                .map(|b| b["custom_id"].as_str().or(b["url"].as_str()).unwrap_or("?").to_string())
                .collect()
        })
        .collect()
}

/// Every press was answered with a deferred update within 3 seconds, and answered
/// again only when replayed (`replays` times in all).
#[track_caller]
fn presses_answered_in_time(fake: &FakeDiscord, replays: usize) {
    let interactions = fake.read(|r| r.interactions.clone());
    for i in &interactions {
        assert_eq!(i.answers.len(), 1, "press {} answered: {i:?}", i.id);
        let (kind, at) = i.answers[0];
        assert_eq!(kind, 6, "a deferred update");
        assert!(at.duration_since(i.sent_at) < Duration::from_secs(3), "{i:?}");
    }
    assert_eq!(interactions.iter().map(|i| i.answered_again).sum::<usize>(), replays);
}

/// An answer citing three sources (one twice) and offering a display-link action shows
/// two source links and one link button, and 👍 / 👎 buttons that become feedback
/// under the same rules as reactions.
#[tokio::test]
async fn an_answer_offers_its_link_and_feedback_buttons() {
    let (fake, sim, mut bot) = setup(1).await;
    let thread = fake.next_id();
    fake.dispatch("MESSAGE_CREATE", Msg::mention(thread, SUPPORT, "Where are the docs?").json());
    fake.wait_until("the final answer with its buttons", WAIT, |r| {
        r.messages_in(thread).first().is_some_and(|m| buttons(&m.components).len() == 2)
    })
    .await;
    let (answer, text, components) = fake.read(|r| {
        let m = r.messages_in(thread)[0];
        (m.id, m.text().to_string(), m.components.clone())
    });
    assert_eq!(text.matches("](<https://").count(), 2, "two source links: {text}");
    assert!(text.contains("-# Sources:"), "{text}");
    assert_eq!(
        buttons(&components),
        [vec!["https://example.com/orders".to_string()], vec![LIKE.into(), DISLIKE.into()]]
    );
    assert_eq!(components[0]["components"][0]["label"], "Track your order");
    assert_eq!(components[0]["components"][0]["style"], 5);
    // While it streamed, the reply carried Stop and nothing else.
    let first_post = fake.read(|r| r.calls_of(Op::CreateMessage)[0].body.clone());
    assert_eq!(buttons(&first_post["components"]), [vec![STOP.to_string()]]);

    let feedback = |n: usize| support::feedback_values(&sim, n, WAIT);
    let queued = Outcome::Core(Disposition::Queued);
    let alice = payloads::alice();
    fake.press(thread, answer, LIKE, &alice);
    assert_eq!(bot.button_outcome(answer).await, queued);
    assert_eq!(feedback(1).await, [Some("like".to_string())]);
    let switch = fake.press(thread, answer, DISLIKE, &alice);
    assert_eq!(bot.button_outcome(answer).await, queued);
    assert_eq!(feedback(2).await, [Some("like".into()), Some("dislike".into())]);
    fake.press(thread, answer, LIKE, &alice);
    assert_eq!(bot.button_outcome(answer).await, queued);
    assert_eq!(
        feedback(3).await,
        [Some("like".into()), Some("dislike".into()), Some("like".into())]
    );

    // Someone else's press, a replay of a press, and Stop on a finished answer change
    // nothing.
    fake.press(thread, answer, DISLIKE, &payloads::bob());
    assert_eq!(
        bot.button_outcome(answer).await,
        Outcome::Core(Disposition::Ignored(Ignored::NotAsker))
    );
    fake.dispatch_press(switch, &format!("token-{switch}"), thread, answer, DISLIKE, &alice);
    assert_eq!(
        bot.button_outcome(answer).await,
        Outcome::Core(Disposition::Ignored(Ignored::Duplicate))
    );
    fake.press(thread, answer, STOP, &alice);
    assert_eq!(
        bot.button_outcome(answer).await,
        Outcome::Core(Disposition::Ignored(Ignored::NotStreaming))
    );
    assert_eq!(sim.sim.feedback_log().len(), 3, "nothing more reached SiteAssist");
    assert_eq!(fake.read(|r| r.interactions.len()), 5, "five presses, one of them replayed");
    presses_answered_in_time(&fake, 1);
    bot.stop().await.unwrap();
}

/// Stop while an answer streams: SiteAssist's stream is closed within a second, the
/// reply keeps what it showed and ends with "(stopped)", and no edit follows.
#[tokio::test]
async fn stop_ends_a_streaming_answer_where_it_is() {
    let (fake, sim, mut bot) = setup(80).await;
    let thread = fake.next_id();
    let q = "Give me the full guide";
    fake.dispatch("MESSAGE_CREATE", Msg::mention(thread, SUPPORT, q).json());
    // The placeholder and three edits with answer text.
    fake.wait_until("three streamed edits", WAIT, |r| {
        r.messages_in(thread).first().is_some_and(|m| m.texts.len() >= 4)
    })
    .await;
    let reply = fake.read(|r| r.messages_in(thread)[0].id);
    assert_eq!(sim.sim.open_streams(), 1, "still streaming");
    let aborts = sim.sim.client_aborts();

    fake.press(thread, reply, STOP, &payloads::bob());
    assert_eq!(
        bot.button_outcome(reply).await,
        Outcome::Core(Disposition::Ignored(Ignored::NotAsker))
    );
    let stop = fake.press(thread, reply, STOP, &payloads::alice());
    assert_eq!(bot.button_outcome(reply).await, Outcome::Core(Disposition::Stopped));
    tokio::time::timeout(
        Duration::from_secs(1),
        sim.sim.wait_until(|s| s.client_aborts() > aborts),
    )
    .await
    .expect("the bridge closes SiteAssist's stream within 1 s");
    fake.wait_until("the stopped answer", WAIT, |r| {
        r.messages_in(thread)[0].text().ends_with("_(stopped)_")
    })
    .await;
    let (texts, components) = fake.read(|r| {
        let m = r.messages_in(thread)[0];
        (m.texts.clone(), m.components.clone())
    });
    let last = texts.last().unwrap();
    let kept = last.trim_end_matches("_(stopped)_").trim_end();
    assert!(
        !kept.is_empty() && texts[..texts.len() - 1].iter().any(|t| t.trim_end() == kept),
        "it keeps what was shown, nothing more: {last:?}"
    );
    assert_eq!(buttons(&components), [vec![LIKE.to_string(), DISLIKE.into()]], "Stop is gone");

    // A replayed Stop does nothing, and nothing is edited in the next 5 seconds (the
    // stream would have gone on for a minute).
    fake.dispatch_press(stop, &format!("token-{stop}"), thread, reply, STOP, &payloads::alice());
    assert_eq!(
        bot.button_outcome(reply).await,
        Outcome::Core(Disposition::Ignored(Ignored::NotStreaming))
    );
    let edits = fake.read(|r| r.calls_of(Op::EditMessage).len());
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(fake.read(|r| r.calls_of(Op::EditMessage).len()), edits, "no edit after the stop");
    assert_eq!(fake.read(|r| r.messages_in(thread).len()), 1);
    presses_answered_in_time(&fake, 1);
    bot.stop().await.unwrap();
}
