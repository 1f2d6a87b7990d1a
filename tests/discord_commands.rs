//! Slash commands on Discord (`/ask`, `/new`, `/help`), with the privileged Message
//! Content intent switched off: commands, mentions and buttons need no privileged
//! intent.
#![cfg(feature = "discord")]

mod fake_discord;
mod support;

use fake_discord::harness::{self, reply_shown, WAIT};
use fake_discord::payloads;
use fake_discord::{FakeDiscord, DM, SUPPORT};
use serde_json::json;
use siteassist_bridge::adapters::discord::format::render;
use siteassist_bridge::adapters::discord::{Outcome, INTENT_BITS, MESSAGE_CONTENT};
use siteassist_bridge::bridge::Disposition;
use siteassist_bridge::simulator::answer_for;
use siteassist_bridge::store::MemoryStore;
use std::sync::Arc;
use std::time::Duration;
use support::{client, simulator};

#[tokio::test]
async fn ask_works_without_the_message_content_intent_and_its_buttons_give_feedback() {
    let fake = FakeDiscord::start().await;
    let sim = simulator(1).await;
    let mut settings = harness::settings(&fake);
    settings.message_content = false;
    settings.auto_respond_channels.clear();
    let store = Arc::new(MemoryStore::new());
    let mut bot = harness::start_with(&fake, &settings, store, client(&sim, 3)).await;
    let identify = fake.read(|r| r.identifies[0].clone());
    assert_eq!(identify["intents"], json!(INTENT_BITS & !MESSAGE_CONTENT), "{identify}");
    let names = fake.read(|r| r.commands.get(&None).cloned()).expect("global commands");
    let names: Vec<&str> =
        names.as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["ask", "new", "help"]);

    let q = "How do I reset my password?";
    let options = json!([{ "name": "question", "type": 3, "value": q }]);
    let ask = fake.command(SUPPORT, "ask", options, &payloads::alice());
    assert_eq!(bot.command_outcome(ask).await, Outcome::Core(Disposition::Queued));
    let i = fake.read(|r| r.interactions.iter().find(|i| i.id == ask).cloned()).unwrap();
    assert_eq!(i.answers.len(), 1, "{i:?}");
    assert_eq!(i.answers[0].0, 4, "answered with the question itself");
    assert!(i.answers[0].1.duration_since(i.sent_at) < Duration::from_secs(3));
    let shown = i.shown.expect("the question shows as a message");
    let question =
        fake.read(|r| r.messages.iter().find(|m| m.id == shown).unwrap().text().to_string());
    assert_eq!(question, format!("**alice (display)** asked:\n> {q}"));
    // The answer streams into a thread started on the shown question.
    let answer_text = reply_shown(&fake, shown, &render(&answer_for(q))).await;
    assert_eq!(answer_text[0], "Thinking…");
    let asked = sim.sim.questions();
    assert_eq!(asked.last().map(|a| a.content.as_str()), Some(q));

    let answer = fake.read(|r| r.messages_in(shown)[0].id);
    fake.wait_until("the feedback buttons", WAIT, |r| {
        r.messages_in(shown)[0].components.as_array().is_some_and(|rows| !rows.is_empty())
    })
    .await;
    let alice = payloads::alice();
    let mut want = Vec::new();
    for (button, value) in [
        ("siteassist:like", "like"),
        ("siteassist:dislike", "dislike"),
        ("siteassist:like", "like"),
    ] {
        fake.press(shown, answer, button, &alice);
        assert_eq!(bot.button_outcome(answer).await, Outcome::Core(Disposition::Queued));
        want.push(Some(value.to_string()));
        assert_eq!(support::feedback_values(&sim, want.len(), WAIT).await, want);
    }
    bot.stop().await.unwrap();
}

#[tokio::test]
async fn new_and_help_answer_privately() {
    let fake = FakeDiscord::start().await;
    let sim = simulator(1).await;
    let mut bot = harness::start(&fake, Arc::new(MemoryStore::new()), client(&sim, 3)).await;
    let private = |id: u64| {
        fake.read(|r| r.interactions.iter().find(|i| i.id == id).unwrap().private.clone())
    };

    let help = fake.command(DM, "help", json!([]), &payloads::alice());
    assert_eq!(bot.command_outcome(help).await, Outcome::Core(Disposition::Help));
    let said = private(help);
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].contains("`/ask`") && said[0].contains("`/new`"), "{said:?}");

    // A DM conversation, then /new: the next question opens a new conversation.
    let options = json!([{ "name": "question", "type": 3, "value": "What are your prices?" }]);
    let ask = fake.command(DM, "ask", options.clone(), &payloads::alice());
    assert_eq!(bot.command_outcome(ask).await, Outcome::Core(Disposition::Queued));
    fake.wait_until("the answer in the DM", WAIT, |r| {
        r.messages_in(DM).iter().any(|m| m.text() == render(&answer_for("What are your prices?")))
    })
    .await;
    let new = fake.command(DM, "new", json!([]), &payloads::alice());
    assert_eq!(bot.command_outcome(new).await, Outcome::Core(Disposition::NewConversation));
    assert_eq!(private(new), ["Starting a new conversation here."]);
    let again = fake.command(DM, "ask", options, &payloads::alice());
    assert_eq!(bot.command_outcome(again).await, Outcome::Core(Disposition::Queued));
    tokio::time::timeout(WAIT, sim.sim.wait_until(|s| s.conversation_count() == 2))
        .await
        .expect("a second conversation");

    // /new at a channel's top level has no conversation to restart.
    let top = fake.command(SUPPORT, "new", json!([]), &payloads::alice());
    assert!(matches!(bot.command_outcome(top).await, Outcome::Skipped(_)));
    assert!(private(top)[0].starts_with("Use /new in a thread"), "{:?}", private(top));
    for i in fake.read(|r| r.interactions.clone()) {
        assert_eq!(i.answers.len(), 1, "{i:?}");
        assert!(i.answers[0].1.duration_since(i.sent_at) < Duration::from_secs(3), "{i:?}");
    }
    bot.stop().await.unwrap();
}
