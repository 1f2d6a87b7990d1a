//! Discord's limits and failures: long answers split across messages, the per-channel
//! budget, 429s from Discord, SiteAssist failures, and start-up errors.
#![cfg(feature = "discord")]

mod fake_discord;
mod support;

use fake_discord::harness::{self, reply_shown, WAIT};
use fake_discord::payloads::Msg;
use fake_discord::{Failure, FakeDiscord, Limits, Op, SUPPORT};
use siteassist_bridge::adapters::discord::config::DiscordSettings;
use siteassist_bridge::adapters::discord::format::render;
use siteassist_bridge::adapters::discord::{DiscordBot, DiscordError};
use siteassist_bridge::bridge::split::split_message;
use siteassist_bridge::secret::Secret;
use siteassist_bridge::simulator::{answer_for, Fault};
use siteassist_bridge::store::MemoryStore;
use std::sync::Arc;
use std::time::Duration;
use support::{client, simulator};

#[tokio::test]
async fn a_long_answer_arrives_as_three_messages_within_the_channel_budget() {
    let fake = FakeDiscord::start().await;
    let sim = simulator(5).await;
    let bot = harness::start(&fake, Arc::new(MemoryStore::new()), client(&sim, 3)).await;
    let q = "Tell me everything";
    let answer = answer_for(q);
    assert!(answer.chars().count() > 4500, "{}", answer.chars().count());
    let id = fake.next_id();
    fake.dispatch("MESSAGE_CREATE", Msg::mention(id, SUPPORT, q).json());
    let parts = split_message(&render(&answer), 1900);
    assert_eq!(parts.len(), 3);
    fake.wait_until("three final messages", WAIT, |r| {
        let shown: Vec<&str> = r.messages_in(id).iter().map(|m| m.text()).collect();
        shown == parts.iter().map(String::as_str).collect::<Vec<_>>()
    })
    .await;
    for text in
        fake.read(|r| r.messages_in(id).iter().map(|m| m.text().to_string()).collect::<Vec<_>>())
    {
        assert!(text.chars().count() < 2000, "{}", text.chars().count());
        assert_eq!(text.matches("```").count() % 2, 0, "a code fence is broken:\n{text}");
    }
    // Never more than 5 posts and edits in the thread in any 5 seconds.
    let times = fake.read(|r| {
        r.calls
            .iter()
            .filter(|c| {
                matches!(c.op, Op::CreateMessage | Op::EditMessage) && c.channel == Some(id)
            })
            .map(|c| c.at)
            .collect::<Vec<_>>()
    });
    for (i, t) in times.iter().enumerate() {
        let in_window =
            times[i..].iter().filter(|u| u.duration_since(*t) < Duration::from_secs(5)).count();
        assert!(in_window <= 5, "{in_window} actions within 5 s from #{i}");
    }
    bot.stop().await.unwrap();
}

/// Discord enforces its own per-channel limit whatever the bridge's budget says (its
/// clock is not ours): a bridge that goes past it is refused with 429s, waits them out,
/// and the answer lands whole.
#[tokio::test]
async fn a_burst_over_discords_channel_limit_waits_and_loses_nothing() {
    let fake = FakeDiscord::start().await;
    fake.set_limits(Limits {
        channel_actions: 2,
        channel_window: Duration::from_secs(1),
        ..Limits::default()
    });
    let sim = simulator(5).await;
    let bot = harness::start(&fake, Arc::new(MemoryStore::new()), client(&sim, 3)).await;
    let q = "How do refunds work?";
    let id = fake.next_id();
    fake.dispatch("MESSAGE_CREATE", Msg::mention(id, SUPPORT, q).json());
    reply_shown(&fake, id, &render(&answer_for(q))).await;
    let refused =
        fake.read(|r| r.calls.iter().filter(|c| c.status == 429 && c.channel == Some(id)).count());
    assert!(refused >= 1, "the burst went past the fake's limit of 2 a second");
    assert_eq!(fake.read(|r| r.messages_in(id).len()), 1, "one reply, nothing posted twice");
    bot.stop().await.unwrap();
}

/// At `max_message_chars = 2000`, Discord's own limit, no part of a long answer is ever
/// longer (the fake would refuse it with 50035, and fail the test when dropped).
#[tokio::test]
async fn answers_at_discords_full_length_never_send_an_oversized_message() {
    let fake = FakeDiscord::start().await;
    let sim = simulator(1).await;
    let settings = DiscordSettings { max_message_chars: 2000, ..harness::settings(&fake) };
    let bot =
        harness::start_with(&fake, &settings, Arc::new(MemoryStore::new()), client(&sim, 3)).await;
    let q = "Tell me everything";
    let id = fake.next_id();
    fake.dispatch("MESSAGE_CREATE", Msg::mention(id, SUPPORT, q).json());
    let parts = split_message(&render(&answer_for(q)), 2000);
    fake.wait_until("every part final", WAIT, |r| {
        let shown: Vec<&str> = r.messages_in(id).iter().map(|m| m.text()).collect();
        shown == parts.iter().map(String::as_str).collect::<Vec<_>>()
    })
    .await;
    let longest = fake.read(|r| {
        r.calls.iter().filter_map(|c| c.body["content"].as_str()).map(|t| t.chars().count()).max()
    });
    assert!(longest.is_some_and(|n| n <= 2000), "{longest:?}");
    assert!(fake.read(|r| r.calls.iter().all(|c| c.status != 400)), "nothing refused");
    bot.stop().await.unwrap();
}

#[tokio::test]
async fn a_429_on_an_edit_is_retried_after_retry_after_and_the_final_text_lands() {
    let fake = FakeDiscord::start().await;
    let sim = simulator(30).await;
    let bot = harness::start(&fake, Arc::new(MemoryStore::new()), client(&sim, 3)).await;
    fake.fail_next(Op::EditMessage, Failure::rate_limited(0.6));
    // Thread creation is rate limited too; the core's retry of the post retries it.
    fake.fail_next(Op::CreateThread, Failure::rate_limited(0.1));
    let q = "How do I reset my password?";
    let id = fake.next_id();
    fake.dispatch("MESSAGE_CREATE", Msg::mention(id, SUPPORT, q).json());
    reply_shown(&fake, id, &render(&answer_for(q))).await;
    let edits = fake.read(|r| r.calls_of(Op::EditMessage).into_iter().cloned().collect::<Vec<_>>());
    assert_eq!(edits[0].status, 429);
    let retry = edits.iter().skip(1).find(|c| c.message == edits[0].message).expect("edit retried");
    let waited = retry.at.duration_since(edits[0].at);
    assert!(waited >= Duration::from_millis(600), "retried after {waited:?}");
    let threads =
        fake.read(|r| r.calls_of(Op::CreateThread).iter().map(|c| c.status).collect::<Vec<_>>());
    assert_eq!(threads, vec![429, 201]);
    assert_eq!(fake.read(|r| r.messages_in(id).len()), 1, "one reply message");
    bot.stop().await.unwrap();
}

/// Discord created the placeholder but answered 500: the retry finds it in the thread
/// instead of posting a second one.
#[tokio::test]
async fn a_message_created_despite_a_500_is_kept_not_posted_twice() {
    let fake = FakeDiscord::start().await;
    let sim = simulator(1).await;
    let bot = harness::start(&fake, Arc::new(MemoryStore::new()), client(&sim, 3)).await;
    fake.fail_after_effect(Op::CreateMessage, 500);
    let q = "How do I reset my password?";
    let id = fake.next_id();
    fake.dispatch("MESSAGE_CREATE", Msg::mention(id, SUPPORT, q).json());
    reply_shown(&fake, id, &render(&answer_for(q))).await;
    let creates =
        fake.read(|r| r.calls_of(Op::CreateMessage).iter().map(|c| c.status).collect::<Vec<_>>());
    assert_eq!(creates, vec![500], "no second post after the 500");
    assert_eq!(fake.read(|r| r.messages_in(id).len()), 1, "one reply message");
    assert_eq!(fake.read(|r| r.calls_of(Op::ListMessages).len()), 1, "looked once");
    bot.stop().await.unwrap();
}

/// Regression (seed 11 of the campaign): the look after a 500 was itself answered 429,
/// and the bridge posted the placeholder a second time. The look is retried now.
#[tokio::test]
async fn a_rate_limited_look_after_a_500_still_posts_once() {
    let fake = FakeDiscord::start().await;
    let sim = simulator(1).await;
    let bot = harness::start(&fake, Arc::new(MemoryStore::new()), client(&sim, 3)).await;
    fake.fail_after_effect(Op::CreateMessage, 500);
    fake.fail_next(Op::ListMessages, Failure::rate_limited(0.05));
    let q = "How do I reset my password?";
    let id = fake.next_id();
    fake.dispatch("MESSAGE_CREATE", Msg::mention(id, SUPPORT, q).json());
    reply_shown(&fake, id, &render(&answer_for(q))).await;
    let creates =
        fake.read(|r| r.calls_of(Op::CreateMessage).iter().map(|c| c.status).collect::<Vec<_>>());
    assert_eq!(creates, vec![500], "no second post after the 500");
    let looks =
        fake.read(|r| r.calls_of(Op::ListMessages).iter().map(|c| c.status).collect::<Vec<_>>());
    assert_eq!(looks, vec![429, 200], "looked again after the 429");
    assert_eq!(fake.read(|r| r.messages_in(id).len()), 1, "one reply message");
    bot.stop().await.unwrap();
}

#[tokio::test]
async fn siteassist_rate_limits_are_waited_out_and_outages_explained() {
    let fake = FakeDiscord::start().await;
    let sim = simulator(1).await;
    let bot = harness::start(&fake, Arc::new(MemoryStore::new()), client(&sim, 2)).await;
    sim.sim.push_fault(Fault::RateLimited { retry_after_secs: 1 });
    let q = "What are your prices?";
    let id = fake.next_id();
    fake.dispatch("MESSAGE_CREATE", Msg::mention(id, SUPPORT, q).json());
    reply_shown(&fake, id, &render(&answer_for(q))).await;
    assert_eq!(sim.sim.message_posts(), 2, "one refused, one answered");

    sim.sim.set_persistent_fault(Some(Fault::Unavailable { retry_after_secs: 1 }));
    let id = fake.next_id();
    fake.dispatch("MESSAGE_CREATE", Msg::mention(id, SUPPORT, "Anyone there?").json());
    fake.wait_until("the outage notice", WAIT, |r| {
        r.messages_in(id)
            .first()
            .is_some_and(|m| m.text().contains("SiteAssist is unavailable right now"))
    })
    .await;
    assert_eq!(sim.sim.message_posts(), 4, "retried up to max_attempts");
    bot.stop().await.unwrap();
}

#[tokio::test]
async fn a_missing_message_content_intent_stops_with_what_to_switch_on() {
    let fake = FakeDiscord::start().await;
    let sim = simulator(1).await;
    fake.close_after_identify(4014);
    let settings = harness::settings(&fake);
    let bot = DiscordBot::connect(
        &settings,
        Arc::new(MemoryStore::new()),
        client(&sim, 2),
        harness::bridge_config(),
    )
    .await
    .unwrap();
    let served =
        tokio::time::timeout(WAIT, bot.serve(std::future::pending(), Duration::from_secs(1)))
            .await
            .expect("the bot gives up instead of reconnecting");
    let err = served.unwrap_err();
    assert!(matches!(err, DiscordError::MessageContentIntent), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("Privileged Gateway Intents") && text.contains("MESSAGE CONTENT INTENT"),
        "{text}"
    );
}

/// A restart often meets the limit its previous run used up: a 429 (and a 5xx) on
/// identifying the bot or asking for the gateway are waited out, not a reason to exit
/// (nor, for the gateway, to fall back to Discord's public URL behind a proxy).
#[tokio::test]
async fn a_rate_limit_at_start_is_waited_out() {
    let fake = FakeDiscord::start().await;
    let sim = simulator(1).await;
    fake.fail_next(Op::Me, Failure::rate_limited(0.05));
    let server_error = Failure {
        status: 502,
        headers: vec![],
        body: serde_json::json!({"message": "Bad Gateway", "code": 0}),
    };
    fake.fail_next(Op::Me, server_error);
    // serenity's own GET /gateway and the adapter's first one.
    fake.fail_next(Op::Gateway, Failure::rate_limited(0.05));
    fake.fail_next(Op::Gateway, Failure::rate_limited(0.05));
    let bot = harness::start(&fake, Arc::new(MemoryStore::new()), client(&sim, 2)).await;
    assert_eq!(fake.queued_failures(), 0, "every failure met");
    assert_eq!(fake.read(|r| r.calls_of(Op::Me).len()), 3);
    assert_eq!(fake.read(|r| r.calls_of(Op::Gateway).len()), 3);
    bot.stop().await.unwrap();
}

#[tokio::test]
async fn a_wrong_token_is_reported_at_start() {
    let fake = FakeDiscord::start().await;
    let sim = simulator(1).await;
    let mut settings = harness::settings(&fake);
    settings.token = Secret::new("MTIz.wrong.token");
    let result = DiscordBot::connect(
        &settings,
        Arc::new(MemoryStore::new()),
        client(&sim, 2),
        harness::bridge_config(),
    )
    .await;
    assert!(matches!(result, Err(DiscordError::InvalidToken(_))), "{:?}", result.err());
    settings.token = Secret::new("");
    let result = DiscordBot::connect(
        &settings,
        Arc::new(MemoryStore::new()),
        client(&sim, 2),
        harness::bridge_config(),
    )
    .await;
    assert!(
        matches!(result, Err(DiscordError::Config { key: "discord.token", .. })),
        "{:?}",
        result.err()
    );
}
