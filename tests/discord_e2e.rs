//! The Discord adapter end to end: a fake Discord (REST + gateway) on 127.0.0.1, the
//! SiteAssist simulator, and the real core in between.
#![cfg(feature = "discord")]

mod fake_discord;
#[path = "discord_e2e/files.rs"]
mod files;
mod support;
#[path = "discord_e2e/context.rs"]
mod thread_context;

use fake_discord::harness::{self, reply_shown, Running, WAIT};
use fake_discord::payloads::{self, Msg};
use fake_discord::{
    FakeDiscord, Op, ALICE, AUTO, BOB, BOT, BOT_ROLE, DM, FORUM, GUILD, QUIET_FORUM, SUPPORT,
};
use serde_json::json;
use siteassist_bridge::adapters::discord::format::render;
use siteassist_bridge::adapters::discord::{Outcome, INTENT_BITS};
use siteassist_bridge::bridge::{Disposition, Ignored};
use siteassist_bridge::simulator::answer_for;
use siteassist_bridge::store::{MemoryStore, SledStore, Store};
use std::sync::Arc;
use support::{client, simulator};

const QUEUED: Outcome = Outcome::Core(Disposition::Queued);

async fn setup(
    word_delay_ms: u64,
) -> (FakeDiscord, siteassist_bridge::simulator::RunningSimulator, Running) {
    let fake = FakeDiscord::start().await;
    let sim = simulator(word_delay_ms).await;
    let bot = harness::start(&fake, Arc::new(MemoryStore::new()), client(&sim, 3)).await;
    (fake, sim, bot)
}

#[tokio::test]
async fn a_mention_opens_one_thread_and_streams_the_answer_into_it() {
    let (fake, sim, mut bot) = setup(30).await;
    let identify = fake.read(|r| r.identifies[0].clone());
    assert_eq!(identify["intents"], json!(INTENT_BITS), "{identify}");
    for bit in [0, 9, 10, 12, 13, 15] {
        assert_ne!(INTENT_BITS & (1 << bit), 0, "intent bit {bit}");
    }
    // serenity identifies with the HTTP form of the token, which Discord accepts.
    assert_eq!(identify["token"], json!(format!("Bot {}", fake_discord::TOKEN)));

    let question = "How do I reset my password?";
    let id = fake.next_id();
    fake.dispatch("MESSAGE_CREATE", Msg::mention(id, SUPPORT, question).json());
    assert_eq!(bot.message_outcome(id).await, QUEUED);
    let expected = render(&answer_for(question));
    let shown = reply_shown(&fake, id, &expected).await;

    // One thread, started on the question, named after it.
    let threads =
        fake.read(|r| r.calls_of(Op::CreateThread).into_iter().cloned().collect::<Vec<_>>());
    assert_eq!(threads.len(), 1);
    assert_eq!((threads[0].channel, threads[0].message), (Some(SUPPORT), Some(id)));
    assert_eq!(threads[0].body["name"], json!(question));
    // One placeholder, then at least two edits with growing text, ending in the answer.
    let posts = fake.read(|r| r.messages_in(id).len());
    assert_eq!(posts, 1, "one message in the thread");
    assert_eq!(shown[0], "Thinking…");
    assert!(shown.len() >= 3, "placeholder + at least two edits: {shown:#?}");
    for pair in shown[1..].windows(2) {
        assert!(
            pair[1].len() > pair[0].len() && pair[1].starts_with(pair[0].trim_end()),
            "{pair:#?}"
        );
    }
    assert_eq!(shown.last(), Some(&expected));
    assert_eq!(sim.sim.conversation_count(), 1);
    // The typing indicator ran in the thread, nothing sent could ping anyone, and no
    // link preview made the answer jump while it streamed.
    assert!(fake.read(|r| r.calls_of(Op::Typing).iter().any(|c| c.channel == Some(id))));
    for body in harness::message_bodies(&fake) {
        assert_eq!(body["allowed_mentions"], json!({ "parse": [] }), "{body}");
        assert_eq!(body["flags"], json!(4), "SUPPRESS_EMBEDS: {body}");
    }
    bot.stop().await.unwrap();
}

#[tokio::test]
async fn a_follow_up_in_the_thread_continues_the_conversation_even_after_a_restart() {
    let fake = FakeDiscord::start().await;
    let sim = simulator(1).await;
    let dir = tempfile::tempdir().unwrap();
    let q1 = "What are your prices?";
    let thread = fake.next_id();
    {
        let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
        let mut bot = harness::start(&fake, store, client(&sim, 3)).await;
        fake.dispatch("MESSAGE_CREATE", Msg::mention(thread, SUPPORT, q1).json());
        assert_eq!(bot.message_outcome(thread).await, QUEUED);
        reply_shown(&fake, thread, &render(&answer_for(q1))).await;

        // No mention needed in the thread.
        let q2 = "And how do refunds work?";
        let id = fake.next_id();
        fake.dispatch("MESSAGE_CREATE", Msg::in_guild(id, thread, q2).json());
        assert_eq!(bot.message_outcome(id).await, QUEUED);
        let expected = render(&answer_for(q2));
        fake.wait_until("the follow-up answer", WAIT, |r| {
            r.messages_in(thread).get(1).is_some_and(|m| m.text() == expected)
        })
        .await;
        assert_eq!(sim.sim.conversation_count(), 1);
        bot.stop().await.unwrap();
    }
    // A new process on the same store: the thread still has its conversation.
    let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
    let mut bot = harness::start(&fake, store, client(&sim, 3)).await;
    let q3 = "Shipping times?";
    let id = fake.next_id();
    fake.dispatch("MESSAGE_CREATE", Msg::in_guild(id, thread, q3).json());
    assert_eq!(bot.message_outcome(id).await, QUEUED);
    let expected = render(&answer_for(q3));
    fake.wait_until("the answer after the restart", WAIT, |r| {
        r.messages_in(thread).get(2).is_some_and(|m| m.text() == expected)
    })
    .await;
    assert_eq!(sim.sim.conversation_count(), 1, "same conversation after the restart");
    assert_eq!(fake.read(|r| r.calls_of(Op::CreateThread).len()), 1);
    bot.stop().await.unwrap();
}

#[tokio::test]
async fn a_dm_is_one_conversation_until_new() {
    let (fake, sim, mut bot) = setup(1).await;
    let ask = |q: &'static str| {
        let id = fake.next_id();
        fake.dispatch("MESSAGE_CREATE", Msg::dm(id, q).json());
        id
    };
    let q1 = "How do refunds work?";
    let id = ask(q1);
    assert_eq!(bot.message_outcome(id).await, QUEUED);
    reply_shown(&fake, DM, &render(&answer_for(q1))).await;
    let id = ask("What are your prices?");
    assert_eq!(bot.message_outcome(id).await, QUEUED);
    fake.wait_until("the second DM answer", WAIT, |r| r.messages_in(DM).len() == 2).await;
    assert_eq!(sim.sim.conversation_count(), 1);

    let id = ask("/new");
    assert_eq!(bot.message_outcome(id).await, Outcome::Core(Disposition::NewConversation));
    let q3 = "Shipping times?";
    let id = ask(q3);
    assert_eq!(bot.message_outcome(id).await, QUEUED);
    let expected = render(&answer_for(q3));
    fake.wait_until("the answer after /new", WAIT, |r| {
        r.messages_in(DM).get(3).is_some_and(|m| m.text() == expected)
    })
    .await;
    let note = fake.read(|r| r.messages_in(DM)[2].text().to_string());
    assert!(note.contains("new conversation"), "{note}");
    assert_eq!(sim.sim.conversation_count(), 2, "/new started a fresh conversation");
    assert_eq!(fake.read(|r| r.calls_of(Op::CreateThread).len()), 0, "no threads in DMs");
    bot.stop().await.unwrap();
}

#[tokio::test]
async fn auto_respond_channels_and_forums_need_no_mention() {
    let (fake, sim, mut bot) = setup(1).await;
    // A top-level message in the auto-respond channel gets a thread and an answer.
    let q1 = "How do I reset my password?";
    let id = fake.next_id();
    fake.dispatch("MESSAGE_CREATE", Msg::in_guild(id, AUTO, q1).json());
    assert_eq!(bot.message_outcome(id).await, QUEUED);
    reply_shown(&fake, id, &render(&answer_for(q1))).await;
    let created = fake.read(|r| r.calls_of(Op::CreateThread)[0].channel);
    assert_eq!(created, Some(AUTO));

    // A new post in the auto-respond forum is a conversation in the post itself; its
    // title is part of the question.
    let post = fake.next_id();
    let thread = payloads::thread(post, FORUM, "API keys", ALICE);
    fake.add_channel(thread.clone());
    fake.dispatch("THREAD_CREATE", thread);
    fake.dispatch("MESSAGE_CREATE", Msg::in_guild(post, post, "how do I make one?").json());
    assert_eq!(bot.message_outcome(post).await, QUEUED);
    let expected = render(&answer_for("API keys\n\nhow do I make one?"));
    reply_shown(&fake, post, &expected).await;
    assert_eq!(fake.read(|r| r.calls_of(Op::CreateThread).len()), 1, "the post is the thread");
    assert_eq!(sim.sim.conversation_count(), 2);

    // Elsewhere, nothing happens without a mention.
    let quiet = fake.next_id();
    fake.add_channel(payloads::thread(quiet, QUIET_FORUM, "An idea", ALICE));
    fake.dispatch("MESSAGE_CREATE", Msg::in_guild(quiet, quiet, "what about dark mode?").json());
    assert_eq!(
        bot.message_outcome(quiet).await,
        Outcome::Core(Disposition::Ignored(Ignored::NotForBot))
    );
    let plain = fake.next_id();
    fake.dispatch("MESSAGE_CREATE", Msg::in_guild(plain, SUPPORT, "hello all").json());
    assert_eq!(
        bot.message_outcome(plain).await,
        Outcome::Core(Disposition::Ignored(Ignored::NotForBot))
    );
    let to_bob = fake.next_id();
    let mut m = Msg::in_guild(to_bob, AUTO, &format!("<@{BOB}> can you check?"));
    m.mentions = vec![payloads::bob()];
    fake.dispatch("MESSAGE_CREATE", m.json());
    assert_eq!(
        bot.message_outcome(to_bob).await,
        Outcome::Core(Disposition::Ignored(Ignored::AddressedToOthers))
    );
    assert_eq!(sim.sim.message_posts(), 2);
    bot.stop().await.unwrap();
}

#[tokio::test]
async fn a_redelivered_message_gets_no_second_answer() {
    let (fake, sim, mut bot) = setup(1).await;
    let q = "What are your prices?";
    let id = fake.next_id();
    let msg = Msg::mention(id, SUPPORT, q).json();
    fake.dispatch("MESSAGE_CREATE", msg.clone());
    assert_eq!(bot.message_outcome(id).await, QUEUED);
    fake.dispatch("MESSAGE_CREATE", msg);
    assert_eq!(
        bot.message_outcome(id).await,
        Outcome::Core(Disposition::Ignored(Ignored::Duplicate))
    );
    reply_shown(&fake, id, &render(&answer_for(q))).await;
    assert_eq!(sim.sim.message_posts(), 1);
    assert_eq!(fake.read(|r| r.calls_of(Op::CreateThread).len()), 1);
    assert_eq!(fake.read(|r| r.messages.len()), 1);
    bot.stop().await.unwrap();
}

#[tokio::test]
async fn bots_webhooks_system_messages_and_talk_to_others_are_ignored() {
    let (fake, sim, mut bot) = setup(1).await;
    // Open a conversation in a thread first (mentioning the bot's role counts).
    let thread = fake.next_id();
    let mut m = Msg::in_guild(thread, SUPPORT, &format!("<@&{BOT_ROLE}> What are your prices?"));
    m.mention_roles = vec![BOT_ROLE];
    fake.dispatch("MESSAGE_CREATE", m.json());
    assert_eq!(bot.message_outcome(thread).await, QUEUED);
    reply_shown(&fake, thread, &render(&answer_for("What are your prices?"))).await;

    let mut cases = Vec::new();
    let mut other_bot = Msg::mention(fake.next_id(), SUPPORT, "ping");
    other_bot.author = payloads::other_bot();
    cases.push((other_bot, Outcome::Core(Disposition::Ignored(Ignored::FromBot))));
    let mut hook = Msg::in_guild(fake.next_id(), thread, "deploy finished");
    hook.webhook_id = Some(42);
    hook.author = payloads::user(42, "Deploys", true);
    cases.push((hook, Outcome::Core(Disposition::Ignored(Ignored::FromBot))));
    let mut own = Msg::in_guild(fake.next_id(), thread, "an echo of my own answer");
    own.author = payloads::bot_user();
    cases.push((own, Outcome::Core(Disposition::Ignored(Ignored::FromSelf))));
    let mut join = Msg::in_guild(fake.next_id(), AUTO, "");
    join.kind = 7;
    cases.push((join, Outcome::Core(Disposition::Ignored(Ignored::System))));
    let mut to_bob = Msg::in_guild(fake.next_id(), thread, &format!("<@{BOB}> you asked this too"));
    to_bob.mentions = vec![payloads::bob()];
    cases.push((to_bob, Outcome::Core(Disposition::Ignored(Ignored::AddressedToOthers))));
    let only_mention = Msg::mention(fake.next_id(), SUPPORT, "");
    cases.push((only_mention, Outcome::Core(Disposition::Ignored(Ignored::Empty))));
    for (msg, expected) in cases {
        fake.dispatch("MESSAGE_CREATE", msg.json());
        assert_eq!(bot.message_outcome(msg.id).await, expected, "{msg:?}");
    }
    assert_eq!(sim.sim.message_posts(), 1);
    assert_eq!(fake.read(|r| r.messages.len()), 1);
    let _ = GUILD;
    bot.stop().await.unwrap();
}

#[tokio::test]
async fn the_payload_fixtures_parse_as_serenity_models() {
    use serenity::all::{Guild, GuildChannel, Message, Reaction, Ready};
    serde_json::from_value::<Ready>(payloads::ready("ws://127.0.0.1:1")).unwrap();
    let post = payloads::thread(7, FORUM, "post", ALICE);
    serde_json::from_value::<Guild>(payloads::guild_create(vec![post.clone()])).unwrap();
    serde_json::from_value::<GuildChannel>(post).unwrap();
    serde_json::from_value::<Message>(Msg::mention(1, SUPPORT, "q").json()).unwrap();
    serde_json::from_value::<Message>(Msg::dm(1, "q").json()).unwrap();
    serde_json::from_value::<Message>(payloads::rest_message(1, 2, "x")).unwrap();
    for added in [true, false] {
        serde_json::from_value::<Reaction>(payloads::reaction(
            added,
            &payloads::alice(),
            1,
            2,
            BOT,
            "👍",
        ))
        .unwrap();
    }
}

/// A person takes the conversation over: their messages arrive in the thread with their
/// name, once each; handing back says so.
#[tokio::test]
async fn a_human_agents_replies_reach_the_thread() {
    let (fake, sim, mut bot) = setup(1).await;
    let thread = fake.next_id();
    sim.sim.push_fault(siteassist_bridge::simulator::Fault::HumanHandled);
    fake.dispatch("MESSAGE_CREATE", Msg::mention(thread, SUPPORT, "A person, please").json());
    assert_eq!(bot.message_outcome(thread).await, QUEUED);
    let handed = render(&siteassist_bridge::bridge::notice::human_handled());
    reply_shown(&fake, thread, &handed).await;
    let conversation = sim.sim.conversation_ids().pop().expect("a conversation");
    let opened = sim.sim.wait_until(|s| s.open_sockets() == 1);
    tokio::time::timeout(WAIT, opened).await.expect("the relay's socket");

    assert!(sim.sim.hand_over(&conversation, "Dana"));
    for text in ["Hi, Dana here.", "Your order ships today."] {
        sim.sim.agent_message(&conversation, text).unwrap();
    }
    assert!(sim.sim.hand_back(&conversation));
    let expected = [
        handed,
        render(&siteassist_bridge::bridge::notice::agent_joined("Dana")),
        render("**Dana:** Hi, Dana here."),
        render("**Dana:** Your order ships today."),
        render(&siteassist_bridge::bridge::notice::handed_back()),
    ];
    fake.wait_until("the agent's messages and the hand-back note", WAIT, |r| {
        r.messages_in(thread).len() >= expected.len()
    })
    .await;
    let shown: Vec<String> =
        fake.read(|r| r.messages_in(thread).iter().map(|m| m.text().to_string()).collect());
    assert_eq!(shown, expected);
    bot.stop().await.unwrap();
}

/// The thread opened for a question is named as people read the question: mentions of
/// people and channels by name, custom emoji by name, no raw `<@id>` markup.
#[tokio::test]
async fn thread_names_read_as_people_see_the_question() {
    let (fake, _sim, mut bot) = setup(1).await;
    let id = fake.next_id();
    let mut msg = Msg::mention(id, SUPPORT, &format!("ask <@{BOB}> in <#{SUPPORT}> <:party:123>"));
    msg.mentions.push(payloads::bob());
    fake.dispatch("MESSAGE_CREATE", msg.json());
    assert_eq!(bot.message_outcome(id).await, QUEUED);
    fake.wait_until("the thread", WAIT, |r| !r.calls_of(Op::CreateThread).is_empty()).await;
    let name = fake.read(|r| r.calls_of(Op::CreateThread)[0].body["name"].clone());
    assert_eq!(name, "ask @bob (display) in #support :party:");
    bot.stop().await.unwrap();
}

/// An answer that cites sources ends with one small line of them, each once, links
/// without previews; the reference definitions do not show.
#[tokio::test]
async fn an_answer_ends_with_its_sources_each_once() {
    let (fake, _sim, mut bot) = setup(1).await;
    let thread = fake.next_id();
    fake.dispatch("MESSAGE_CREATE", Msg::mention(thread, SUPPORT, "Where are the docs?").json());
    assert_eq!(bot.message_outcome(thread).await, QUEUED);
    let expected = "Orders ship within **2 business days** [1], and you can return anything \
        within 30 days (see [the returns policy](https://example.com/docs/returns)).\n\n\
        -# Sources: \\[1\\] [Shipping guide](<https://example.com/docs/shipping>) · \
        [Returns policy](<https://example.com/docs/returns>)";
    let texts = reply_shown(&fake, thread, expected).await;
    assert!(texts.iter().all(|t| !t.contains("]: https://")), "no raw definitions at the end");
    assert_eq!(fake.read(|r| r.messages_in(thread).len()), 1);
    bot.stop().await.unwrap();
}

/// An agent takes over a thread the AI answered a moment ago and writes first: the
/// bridge was listening, so it shows within seconds; a follow-up then goes to the agent
/// with a ✅ on it and no placeholder.
#[tokio::test]
async fn an_agent_who_writes_first_shows_and_follow_ups_get_a_delivery_mark() {
    let (fake, sim, mut bot) = setup(1).await;
    let thread = fake.next_id();
    let q = "What are your prices?";
    fake.dispatch("MESSAGE_CREATE", Msg::mention(thread, SUPPORT, q).json());
    assert_eq!(bot.message_outcome(thread).await, QUEUED);
    reply_shown(&fake, thread, &render(&answer_for(q))).await;
    let listening = sim.sim.wait_until(|s| s.open_sockets() == 1);
    tokio::time::timeout(WAIT, listening).await.expect("listening");

    let conversation = sim.sim.conversation_ids().pop().expect("a conversation");
    assert!(sim.sim.hand_over(&conversation, "Dana"));
    sim.sim.agent_message(&conversation, "Hi, Dana here.").unwrap();
    let written = render("**Dana:** Hi, Dana here.");
    let within = std::time::Duration::from_secs(5);
    fake.wait_until("the agent's first message", within, |r| {
        r.messages_in(thread).last().is_some_and(|m| m.text() == written)
    })
    .await;

    let follow_up = fake.next_id();
    fake.dispatch("MESSAGE_CREATE", Msg::in_guild(follow_up, thread, "Thanks, Dana!").json());
    assert_eq!(bot.message_outcome(follow_up).await, QUEUED);
    fake.wait_until("the delivery mark", WAIT, |r| {
        r.reactions.contains(&(thread, follow_up, "✅".to_string()))
    })
    .await;
    let stored = sim.sim.conversation_messages(&conversation);
    assert!(stored.iter().any(|(_, text, _)| text == "Thanks, Dana!"), "{stored:?}");
    let shown: Vec<String> =
        fake.read(|r| r.messages_in(thread).iter().map(|m| m.text().to_string()).collect());
    let joined = render(&siteassist_bridge::bridge::notice::agent_joined("Dana"));
    assert_eq!(shown, [render(&answer_for(q)), joined, written], "no placeholder, no note");
    bot.stop().await.unwrap();
}

/// SiteAssist refuses the conversation's socket (a deleted conversation): one note in
/// the thread, one attempt, no retry storm.
#[tokio::test]
async fn a_refused_socket_is_said_once_and_not_retried() {
    let (fake, sim, mut bot) = setup(1).await;
    sim.sim.refuse_sockets(Some(404));
    let thread = fake.next_id();
    sim.sim.push_fault(siteassist_bridge::simulator::Fault::HumanHandled);
    fake.dispatch("MESSAGE_CREATE", Msg::mention(thread, SUPPORT, "A person, please").json());
    assert_eq!(bot.message_outcome(thread).await, QUEUED);
    let refused = render(&siteassist_bridge::bridge::notice::handoff_refused());
    fake.wait_until("the note", WAIT, |r| {
        r.messages_in(thread).last().is_some_and(|m| m.text() == refused)
    })
    .await;
    assert_eq!(sim.sim.socket_attempts(), 1);
    assert_eq!(fake.read(|r| r.messages_in(thread).len()), 2, "the handover note, then this one");
    bot.stop().await.unwrap();
}

/// A run killed after taking a question but before opening its thread left a record
/// for a thread Discord does not know: the next start opens the thread (from the
/// question, in its channel) and closes the reply there, rather than lose it.
#[tokio::test]
async fn a_thread_the_killed_run_never_opened_is_opened_by_recovery() {
    use siteassist_bridge::bridge::ids::{MessageRef, ThreadKey};
    use siteassist_bridge::store::InFlightReply;
    let fake = FakeDiscord::start().await;
    let sim = simulator(1).await;
    let question = fake.next_id();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let record = InFlightReply::new(
        "killed-before-the-thread",
        "discord",
        ThreadKey::new(format!("discord:{}:{question}", fake_discord::GUILD)),
        MessageRef::new(format!("discord:{SUPPORT}:{question}")),
        1,
    );
    store.put_in_flight(&record).await.unwrap();
    // Discord's rate limit on the look at the thread is waited out, not taken for "it
    // exists" (the fault campaign lost a question that way).
    fake.fail_next(Op::GetChannel, fake_discord::Failure::rate_limited(0.05));
    let bot = harness::start(&fake, store.clone(), client(&sim, 3)).await;
    let interrupted = render(&siteassist_bridge::bridge::notice::interrupted());
    fake.wait_until("the note in the new thread", WAIT, |r| {
        r.messages_in(question).iter().any(|m| m.text() == interrupted)
    })
    .await;
    let opened = fake.read(|r| {
        r.calls_of(Op::CreateThread)
            .iter()
            .map(|c| (c.channel, c.message, c.status))
            .collect::<Vec<_>>()
    });
    assert_eq!(
        opened,
        vec![(Some(SUPPORT), Some(question), 201)],
        "opened once, from the question"
    );
    assert_eq!(fake.queued_failures(), 0, "the look met the 429");
    assert!(store.in_flight().await.unwrap().is_empty());
    bot.stop().await.unwrap();
}
