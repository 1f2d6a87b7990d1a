//! What the bridge adds to a question: the thread's earlier messages (issue #14).

use super::*;

/// The page content SiteAssist got with the question `content`.
#[track_caller]
fn page_content_of(
    sim: &siteassist_bridge::simulator::RunningSimulator,
    content: &str,
) -> Option<String> {
    let asked = sim.sim.questions();
    let q = asked.iter().find(|q| q.content == content);
    q.unwrap_or_else(|| panic!("SiteAssist never got {content:?}: {asked:#?}")).page_content.clone()
}

#[tokio::test]
async fn a_first_mention_in_a_thread_carries_its_earlier_messages_in_order() {
    let (fake, sim, mut bot) = setup(1).await;
    let thread = fake.next_id();
    fake.add_channel(payloads::thread(thread, SUPPORT, "Checkout trouble", ALICE));
    let said: [(bool, &str); 5] = [
        (true, "Checkout fails with E42 since this morning"),
        (false, "Same here <:sad:123>, see <#SUPPORT>"),
        (true, "Cleared the cache,\nno change"),
        (false, "Only with Visa cards it seems"),
        (true, "<@BOB> thanks, asking the bot"),
    ];
    for (alice, text) in said {
        let text = text.replace("SUPPORT", &SUPPORT.to_string()).replace("BOB", &BOB.to_string());
        let id = fake.next_id();
        let mut m = Msg::in_guild(id, thread, &text);
        if !alice {
            m.author = payloads::bob();
        }
        if text.contains("<@") {
            m.mentions = vec![payloads::bob()];
        }
        fake.dispatch("MESSAGE_CREATE", m.json());
        let outcome = bot.message_outcome(id).await;
        assert!(matches!(outcome, Outcome::Core(Disposition::Ignored(_))), "{outcome:?}");
    }
    let q = "How do I reset my password?";
    let id = fake.next_id();
    fake.dispatch("MESSAGE_CREATE", Msg::mention(id, thread, q).json());
    assert_eq!(bot.message_outcome(id).await, QUEUED);
    reply_shown(&fake, thread, &render(&answer_for(q))).await;

    assert_eq!(
        page_content_of(&sim, q).as_deref(),
        Some(
            "Earlier messages in this thread, oldest first:\n\
             alice (display): Checkout fails with E42 since this morning\n\
             bob (display): Same here :sad:, see #support\n\
             alice (display): Cleared the cache, no change\n\
             bob (display): Only with Visa cards it seems\n\
             alice (display): @bob (display) thanks, asking the bot"
        )
    );
    let listed =
        fake.read(|r| r.calls_of(Op::ListMessages).into_iter().cloned().collect::<Vec<_>>());
    assert_eq!(listed.len(), 1, "history read once");
    assert!(
        listed[0].path.ends_with(&format!("/channels/{thread}/messages")),
        "{}",
        listed[0].path
    );

    // The conversation has them now: a follow-up carries no history.
    let follow_up = "And how do refunds work?";
    let id = fake.next_id();
    fake.dispatch("MESSAGE_CREATE", Msg::in_guild(id, thread, follow_up).json());
    assert_eq!(bot.message_outcome(id).await, QUEUED);
    let expected = render(&answer_for(follow_up));
    fake.wait_until("the follow-up answer", WAIT, |r| {
        r.messages_in(thread).get(1).is_some_and(|m| m.text() == expected)
    })
    .await;
    assert_eq!(page_content_of(&sim, follow_up), None);
    assert_eq!(fake.read(|r| r.calls_of(Op::ListMessages).len()), 1);
    bot.stop().await.unwrap();
}

#[tokio::test]
async fn a_mention_that_opens_a_thread_reads_no_history() {
    let (fake, sim, mut bot) = setup(1).await;
    let q = "What are your prices?";
    let id = fake.next_id();
    fake.dispatch("MESSAGE_CREATE", Msg::mention(id, SUPPORT, q).json());
    assert_eq!(bot.message_outcome(id).await, QUEUED);
    reply_shown(&fake, id, &render(&answer_for(q))).await;
    assert_eq!(page_content_of(&sim, q), None);
    assert_eq!(fake.read(|r| r.calls_of(Op::ListMessages).len()), 0);
    bot.stop().await.unwrap();
}
