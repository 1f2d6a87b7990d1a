//! What the bridge adds to a question: the thread's earlier messages (issue #14).

use super::*;

/// The page content SiteAssist got with the question `content`.
#[track_caller]
fn page_content_of(sim: &RunningSimulator, content: &str) -> Option<String> {
    let asked = sim.sim.questions();
    let q = asked.iter().find(|q| q.content == content);
    q.unwrap_or_else(|| panic!("SiteAssist never got {content:?}: {asked:#?}")).page_content.clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_first_mention_in_a_thread_carries_its_earlier_messages_in_order() {
    let sim = support::simulator(1).await;
    let slack = FakeSlack::start().await;
    slack.set_user(USER, "alice", "Alice Liddell", "Alice");
    slack.set_user("U0BOB", "bob", "Bob Stone", "Bob");
    let bridge = Bridge::in_memory(&slack, &sim, SlackMode::Socket).await;

    // Five messages between people, none for the bot: a parent and four replies.
    let parent = "1700000100.000100";
    let said = [
        (USER, parent, "Checkout fails with error &lt;E42&gt; since this morning"),
        ("U0BOB", "1700000101.000100", "Same here, on <https://shop.example/cart|the cart page>"),
        (USER, "1700000102.000100", "Cleared the cache,\nno change"),
        ("U0BOB", "1700000103.000100", "Only with Visa cards it seems"),
        (USER, "1700000104.000100", "Support said to ask here"),
    ];
    for (i, (user, ts, text)) in said.iter().enumerate() {
        let thread_ts = (*ts != parent).then_some(parent);
        let id = format!("EvCtx{i}");
        slack.send_socket_event(fake_slack::message(&id, CHANNEL, user, text, ts, thread_ts));
    }
    // The bot's first question in the thread.
    let q = "How do I reset my password?";
    let text = format!("<@UBOT> {q}");
    let ts = "1700000105.000100";
    slack.send_socket_event(fake_slack::app_mention(
        "EvCtxQ",
        CHANNEL,
        USER,
        &text,
        ts,
        Some(parent),
    ));
    wait_for_final(&slack, parent, &to_slack(&answer_for(q))).await;

    assert_eq!(
        page_content_of(&sim, q).as_deref(),
        Some(
            "Earlier messages in this thread, oldest first:\n\
             Alice: Checkout fails with error <E42> since this morning\n\
             Bob: Same here, on the cart page (https://shop.example/cart)\n\
             Alice: Cleared the cache, no change\n\
             Bob: Only with Visa cards it seems\n\
             Alice: Support said to ask here"
        )
    );
    let replies = slack.calls_to("conversations.replies");
    assert_eq!(replies.len(), 1, "history read once: {replies:#?}");
    assert_eq!(replies[0].params["latest"], ts, "only what came before the question");

    // The conversation has them now: a follow-up carries no history.
    let follow_up = "And what about refunds?";
    let ts2 = "1700000106.000100";
    slack.send_socket_event(fake_slack::message(
        "EvCtxF",
        CHANNEL,
        USER,
        follow_up,
        ts2,
        Some(parent),
    ));
    wait_for_final(&slack, parent, &to_slack(&answer_for(follow_up))).await;
    assert_eq!(page_content_of(&sim, follow_up), None);
    assert_eq!(slack.calls_to("conversations.replies").len(), 1);
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn history_that_cannot_be_read_leaves_the_question_without_it() {
    let sim = support::simulator(1).await;
    let slack = FakeSlack::start().await;
    let bridge = Bridge::in_memory(&slack, &sim, SlackMode::Socket).await;
    let parent = "1700000200.000100";
    slack.send_socket_event(fake_slack::message("EvH0", CHANNEL, USER, "Anyone?", parent, None));
    slack.fail_next("conversations.replies", FailKind::Error("missing_scope"));
    let q = "What are your prices?";
    let text = format!("<@UBOT> {q}");
    let ts = "1700000201.000100";
    slack.send_socket_event(fake_slack::app_mention(
        "EvH1",
        CHANNEL,
        USER,
        &text,
        ts,
        Some(parent),
    ));
    wait_for_final(&slack, parent, &to_slack(&answer_for(q))).await;
    assert_eq!(page_content_of(&sim, q), None);
    assert_eq!(slack.queued_failures(), 0, "the history call was made and failed");
    bridge.stop().await;
}
