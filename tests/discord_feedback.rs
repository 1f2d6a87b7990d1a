//! Reactions on the bot's Discord answers become SiteAssist feedback.
#![cfg(feature = "discord")]

mod fake_discord;
mod support;

use fake_discord::harness::{self, reply_shown, WAIT};
use fake_discord::payloads::{self, Msg};
use fake_discord::{FakeDiscord, ALICE, BOB, BOT, SUPPORT};
use siteassist_bridge::adapters::discord::format::render;
use siteassist_bridge::adapters::discord::Outcome;
use siteassist_bridge::bridge::{Disposition, Ignored};
use siteassist_bridge::simulator::answer_for;
use siteassist_bridge::store::MemoryStore;
use std::sync::Arc;
use support::{client, simulator};

#[tokio::test]
async fn thumbs_on_the_answer_become_like_null_and_dislike() {
    let fake = FakeDiscord::start().await;
    let sim = simulator(1).await;
    let mut bot = harness::start(&fake, Arc::new(MemoryStore::new()), client(&sim, 3)).await;
    let q = "How do refunds work?";
    let question = fake.next_id();
    fake.dispatch("MESSAGE_CREATE", Msg::mention(question, SUPPORT, q).json());
    reply_shown(&fake, question, &render(&answer_for(q))).await;
    let (thread, answer) = (question, fake.read(|r| r.messages_in(question)[0].id));

    let alice = payloads::alice();
    let react = |added: bool, user: &serde_json::Value, message: u64, author: u64, emoji: &str| {
        let t = if added { "MESSAGE_REACTION_ADD" } else { "MESSAGE_REACTION_REMOVE" };
        fake.dispatch(t, payloads::reaction(added, user, thread, message, author, emoji));
    };
    let feedback = |n: usize| support::feedback_values(&sim, n, WAIT);
    let queued = Outcome::Core(Disposition::Queued);

    react(true, &alice, answer, BOT, "👍");
    assert_eq!(bot.reaction_outcome(answer).await, queued);
    assert_eq!(feedback(1).await, vec![Some("like".to_string())]);
    react(false, &alice, answer, BOT, "👍");
    assert_eq!(bot.reaction_outcome(answer).await, queued);
    assert_eq!(feedback(2).await, vec![Some("like".into()), None]);
    // A skin tone is still a thumbs down.
    react(true, &alice, answer, BOT, "👎🏽");
    assert_eq!(bot.reaction_outcome(answer).await, queued);
    assert_eq!(feedback(3).await, vec![Some("like".into()), None, Some("dislike".into())]);

    // Reactions elsewhere do nothing: another emoji, someone else's reaction, a reaction
    // on the question, and one on a message in another channel.
    let ignored = |why| Outcome::Core(Disposition::Ignored(why));
    react(true, &alice, answer, BOT, "🎉");
    assert_eq!(bot.reaction_outcome(answer).await, ignored(Ignored::NotFeedbackEmoji));
    react(true, &payloads::bob(), answer, BOT, "👍");
    assert_eq!(bot.reaction_outcome(answer).await, ignored(Ignored::NotAsker));
    fake.dispatch(
        "MESSAGE_REACTION_ADD",
        payloads::reaction(true, &alice, SUPPORT, question, ALICE, "👍"),
    );
    assert_eq!(bot.reaction_outcome(question).await, Outcome::Skipped(Ignored::NotOurReply));
    let stranger = fake.next_id();
    fake.dispatch(
        "MESSAGE_REACTION_REMOVE",
        payloads::reaction(false, &alice, SUPPORT, stranger, BOT, "👍"),
    );
    assert_eq!(bot.reaction_outcome(stranger).await, ignored(Ignored::NotOurReply));
    assert_eq!(sim.sim.feedback_log().len(), 3, "nothing more reached SiteAssist");
    let _ = BOB;
    bot.stop().await.unwrap();
}
