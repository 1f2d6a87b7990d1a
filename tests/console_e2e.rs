//! End to end through the console adapter and the core against the simulator on
//! 127.0.0.1: what a user at the terminal sees, and what SiteAssist receives.

mod support;

use siteassist_bridge::adapters::console::{ConsoleEvent, LineOutcome};
use siteassist_bridge::bridge::{notice, Ignored};
use siteassist_bridge::simulator::{answer_for, Fault};
use siteassist_bridge::store::{MemoryStore, SledStore, Store};
use std::sync::Arc;
use std::time::Duration;
use support::{client, first_message_texts, simulator, Console};

#[track_caller]
fn replied(outcome: LineOutcome) -> String {
    match outcome {
        LineOutcome::Replied { text, .. } => text,
        other => panic!("expected a reply, got {other:?}"),
    }
}

#[tokio::test]
async fn a_question_streams_with_several_edits_and_the_exact_final_text() {
    let sim = simulator(8).await;
    let mut console = Console::new(client(&sim, 3), Arc::new(MemoryStore::new()), "t1");
    let question = "How do I reset my password?";
    let text = replied(console.session.submit_line(question).await.unwrap());
    assert_eq!(text, answer_for(question));

    let shown = first_message_texts(&console.drain_events());
    assert_eq!(shown.first().map(String::as_str), Some("Thinking…"), "placeholder first");
    let growing: Vec<&String> = shown.iter().skip(1).collect();
    assert!(growing.len() >= 3, "placeholder + at least two edits before the final: {shown:#?}");
    for pair in growing.windows(2) {
        assert!(pair[1].len() >= pair[0].len(), "text only grows: {pair:?}");
    }
    assert_eq!(shown.last(), Some(&answer_for(question)));
}

#[tokio::test]
async fn a_second_question_in_the_thread_reuses_the_conversation() {
    let sim = simulator(1).await;
    let mut console = Console::new(client(&sim, 3), Arc::new(MemoryStore::new()), "t2");
    replied(console.session.submit_line("What are your prices?").await.unwrap());
    replied(console.session.submit_line("And how do refunds work?").await.unwrap());
    assert_eq!(sim.sim.conversation_count(), 1);
    console.session.submit_line("/new").await.unwrap();
    replied(console.session.submit_line("Shipping times?").await.unwrap());
    assert_eq!(sim.sim.conversation_count(), 2, "/new starts a new conversation");
}

#[tokio::test]
async fn after_a_restart_on_the_same_sled_path_the_thread_continues() {
    let sim = simulator(1).await;
    let dir = tempfile::tempdir().unwrap();
    {
        let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
        let mut console = Console::new(client(&sim, 3), store, "kept");
        replied(console.session.submit_line("How do I reset my password?").await.unwrap());
        console.bridge.shutdown(std::time::Duration::from_secs(2)).await;
    }
    let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
    let mut console = Console::new(client(&sim, 3), store, "kept");
    replied(console.session.submit_line("And my API key?").await.unwrap());
    assert_eq!(sim.sim.conversation_count(), 1, "same conversation after the restart");
}

#[tokio::test]
async fn reactions_become_feedback_on_the_answer() {
    let sim = simulator(1).await;
    let mut console = Console::new(client(&sim, 3), Arc::new(MemoryStore::new()), "fb");
    replied(console.session.submit_line("How do refunds work?").await.unwrap());
    console.session.submit_line("/react +1").await.unwrap();
    console.session.submit_line("/unreact +1").await.unwrap();
    console.session.submit_line("/react 👎").await.unwrap();
    console.session.submit_line("/react tada").await.unwrap();
    let values: Vec<Option<String>> = sim.sim.feedback_log().into_iter().map(|r| r.value).collect();
    assert_eq!(values, vec![Some("like".into()), None, Some("dislike".into())]);
}

#[tokio::test]
async fn a_rate_limit_with_retry_after_is_retried_and_then_answered() {
    let sim = simulator(1).await;
    sim.sim.push_fault(Fault::RateLimited { retry_after_secs: 1 });
    let mut console = Console::new(client(&sim, 3), Arc::new(MemoryStore::new()), "rl");
    let q = "How do I reset my password?";
    assert_eq!(replied(console.session.submit_line(q).await.unwrap()), answer_for(q));
    assert_eq!(sim.sim.message_posts(), 2, "one refused, one answered");
}

#[tokio::test]
async fn a_persistent_503_gives_a_clear_error() {
    let sim = simulator(1).await;
    sim.sim.set_persistent_fault(Some(Fault::Unavailable { retry_after_secs: 1 }));
    let mut console = Console::new(client(&sim, 2), Arc::new(MemoryStore::new()), "down");
    let text = replied(console.session.submit_line("Anyone there?").await.unwrap());
    assert!(text.contains("SiteAssist is unavailable right now"), "{text}");
    assert_eq!(sim.sim.message_posts(), 2, "retried up to max_attempts");
}

#[tokio::test]
async fn a_message_over_10000_characters_is_refused_without_a_call() {
    let sim = simulator(1).await;
    let mut console = Console::new(client(&sim, 3), Arc::new(MemoryStore::new()), "long");
    let outcome = console.session.submit_line(&"a".repeat(10_001)).await.unwrap();
    assert_eq!(outcome, LineOutcome::Ignored(Ignored::TooLong));
    // The console returns once the notice is shown.
    let shown: Vec<String> = console
        .drain_events()
        .into_iter()
        .filter_map(|e| match e {
            ConsoleEvent::Posted { text, .. } => Some(text),
            _ => None,
        })
        .collect();
    assert_eq!(shown.len(), 1, "one notice and no placeholder: {shown:?}");
    assert!(shown[0].contains("10001 characters") && shown[0].contains("10000"), "{shown:?}");
    assert_eq!(sim.sim.message_posts(), 0);
    assert_eq!(sim.sim.conversation_count(), 0, "no conversation was created for it");
}

#[tokio::test]
async fn an_error_chunk_keeps_the_partial_answer_and_says_it_was_cut_short() {
    let sim = simulator(1).await;
    sim.sim.push_fault(Fault::ErrorChunk { after_words: 5 });
    let mut console = Console::new(client(&sim, 3), Arc::new(MemoryStore::new()), "cut");
    let q = "How do I reset my password?";
    let text = replied(console.session.submit_line(q).await.unwrap());
    let first_words: String = answer_for(q).split_inclusive(' ').take(5).collect();
    assert!(text.starts_with(first_words.trim_end()), "{text}");
    assert!(text.contains("cut short"), "{text}");
}

#[tokio::test]
async fn a_human_handled_conversation_says_a_person_will_reply() {
    let sim = simulator(1).await;
    sim.sim.push_fault(Fault::HumanHandled);
    let mut console = Console::new(client(&sim, 3), Arc::new(MemoryStore::new()), "human");
    let text = replied(console.session.submit_line("I want a person").await.unwrap());
    assert!(text.contains("a person will reply"), "{text}");
}

#[tokio::test]
async fn a_user_over_the_question_limit_is_told_once_then_dropped() {
    use siteassist_bridge::adapters::console::ConsoleEvent;
    use siteassist_bridge::bridge::{BridgeConfig, Ignored};
    let sim = simulator(1).await;
    let cfg = BridgeConfig { user_questions_per_minute: 2, ..support::fast_config() };
    let mut console =
        Console::with_config(client(&sim, 3), Arc::new(MemoryStore::new()), "limit", cfg);
    replied(console.session.submit_line("What are your prices?").await.unwrap());
    replied(console.session.submit_line("How do refunds work?").await.unwrap());
    console.drain_events();
    let third = console.session.submit_line("And shipping?").await.unwrap();
    assert_eq!(third, LineOutcome::Ignored(Ignored::RateLimited));
    // The notice is posted and finished as a reply of its own.
    let notice = loop {
        if let ConsoleEvent::Finished { text, .. } = console.events.recv().await.unwrap() {
            break text;
        }
    };
    assert!(notice.contains("faster than I can answer"), "{notice}");
    let fourth = console.session.submit_line("Hello?").await.unwrap();
    assert_eq!(fourth, LineOutcome::Ignored(Ignored::RateLimited));
    assert!(console.drain_events().is_empty(), "told once, not again");
    assert_eq!(sim.sim.message_posts(), 2, "nothing over the limit reached SiteAssist");
}

/// The bridge reads every answer to its end (`[DONE]` and the end of the body), so
/// SiteAssist sees no client abort and the connection goes back to the pool.
#[tokio::test]
async fn answers_are_read_to_the_end_of_the_stream() {
    let sim = simulator(1).await;
    let mut console = Console::new(client(&sim, 3), Arc::new(MemoryStore::new()), "done");
    for q in ["How do I reset my password?", "How do refunds work?"] {
        assert_eq!(replied(console.session.submit_line(q).await.unwrap()), answer_for(q));
    }
    // Bodies are dropped by the server once sent; wait for that, bounded.
    tokio::time::timeout(Duration::from_secs(10), sim.sim.wait_until(|s| s.open_streams() == 0))
        .await
        .expect("both answer bodies closed");
    assert_eq!(sim.sim.client_aborts(), 0, "no answer was cut off by the bridge");
}

/// The console shows a person's replies too: after the handover note, the agent's
/// message arrives as a reply of its own, with their name.
#[tokio::test]
async fn a_human_agents_reply_arrives_in_the_console() {
    let sim = simulator(1).await;
    sim.sim.push_fault(Fault::HumanHandled);
    let mut console = Console::new(client(&sim, 3), Arc::new(MemoryStore::new()), "human");
    let text = replied(console.session.submit_line("I want a person").await.unwrap());
    assert!(text.contains("a person will reply"), "{text}");
    let conversation = sim.sim.conversation_ids().pop().expect("a conversation");
    let opened = sim.sim.wait_until(|s| s.open_sockets() == 1);
    tokio::time::timeout(Duration::from_secs(5), opened).await.expect("the relay's socket");
    sim.sim.hand_over(&conversation, "Dana");
    sim.sim.agent_message(&conversation, "Hello from Dana.").unwrap();
    let arrived = async {
        loop {
            match console.events.recv().await {
                Ok(ConsoleEvent::Posted { text, .. } | ConsoleEvent::Edited { text, .. })
                    if text.contains("Hello from Dana.") =>
                {
                    return text
                }
                Ok(_) => {}
                Err(e) => panic!("console events ended: {e}"),
            }
        }
    };
    let shown =
        tokio::time::timeout(Duration::from_secs(5), arrived).await.expect("the agent's reply");
    assert!(shown.contains("Dana"), "{shown}");
}

/// After an answer the bridge listens for a person only after `listen_after` (so that
/// a burst of answers ending together shows its final texts first); a person who wrote
/// meanwhile still shows, once, when the socket connects and catches up.
#[tokio::test]
async fn listening_after_an_answer_waits_a_moment_and_misses_nothing() {
    let sim = simulator(1).await;
    let cfg = support::fast_config();
    let after = cfg.handoff.listen_after;
    assert!(after >= Duration::from_secs(1), "the default waits: {after:?}");
    let mut console =
        Console::with_config(client(&sim, 3), Arc::new(MemoryStore::new()), "later", cfg);
    let q = "How do refunds work?";
    assert_eq!(replied(console.session.submit_line(q).await.unwrap()), answer_for(q));
    let answered = std::time::Instant::now();
    // Within the wait (the reply returned before it began): no socket yet.
    assert_eq!(sim.sim.sockets_opened(), 0, "listening waits after the answer");
    let conversation = sim.sim.conversation_ids().pop().expect("a conversation");
    assert!(sim.sim.hand_over(&conversation, "Dana"));
    sim.sim.agent_message(&conversation, "Dana here, written before anyone listened.").unwrap();
    let opened = sim.sim.wait_until(|s| s.open_sockets() == 1);
    tokio::time::timeout(after + Duration::from_secs(5), opened).await.expect("listening");
    assert!(answered.elapsed() >= after, "opened after {:?}", answered.elapsed());
    let shown = posted(&mut console, "written before anyone listened").await;
    assert_eq!(shown, "**Dana:** Dana here, written before anyone listened.");
    let again = console.drain_events().into_iter().filter(|e| {
        matches!(e, ConsoleEvent::Posted { text, .. } if text.contains("before anyone listened"))
    });
    assert_eq!(again.count(), 0, "shown once");
}

/// Waits (up to 5 s) for the console to post a message containing `needle`.
async fn posted(console: &mut Console, needle: &str) -> String {
    let arrived = async {
        loop {
            match console.events.recv().await {
                Ok(ConsoleEvent::Posted { text, .. } | ConsoleEvent::Edited { text, .. })
                    if text.contains(needle) =>
                {
                    return text
                }
                Ok(_) => {}
                Err(e) => panic!("console events ended: {e}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), arrived).await.expect(needle)
}

/// The console shows the whole handover: an agent who writes first in a thread the AI
/// just answered shows at once; a question to them says "(sent to Dana)" and nothing
/// else; handed back, the AI answers again.
#[tokio::test]
async fn the_console_follows_a_handover_end_to_end() {
    let sim = simulator(1).await;
    let mut console = Console::new(client(&sim, 3), Arc::new(MemoryStore::new()), "relay");
    let q1 = "How do refunds work?";
    assert_eq!(replied(console.session.submit_line(q1).await.unwrap()), answer_for(q1));
    let listening = sim.sim.wait_until(|s| s.open_sockets() == 1);
    tokio::time::timeout(Duration::from_secs(5), listening).await.expect("listening");
    let conversation = sim.sim.conversation_ids().pop().expect("a conversation");
    sim.sim.hand_over(&conversation, "Dana");
    sim.sim.agent_message(&conversation, "Dana here, I can help.").unwrap();
    posted(&mut console, &notice::agent_joined("Dana")).await;
    assert_eq!(posted(&mut console, "Dana here").await, "**Dana:** Dana here, I can help.");

    let outcome = console.session.submit_line("Great, order 1234.").await.unwrap();
    assert_eq!(outcome, LineOutcome::Delivered { agent: Some("Dana".into()) });
    let shown: Vec<ConsoleEvent> = console.drain_events();
    assert!(
        !shown.iter().any(|e| matches!(e, ConsoleEvent::Posted { .. })),
        "no placeholder for a question to a person: {shown:?}"
    );
    let stored = sim.sim.conversation_messages(&conversation);
    assert!(stored.iter().any(|(_, text, _)| text == "Great, order 1234."), "{stored:?}");

    // A long message in many-byte characters: far beyond the socket's 4 KiB buffer.
    let long = "é".repeat(9_000);
    sim.sim.agent_message(&conversation, &long).unwrap();
    let whole = async {
        loop {
            if let Ok(ConsoleEvent::Finished { text, .. }) = console.events.recv().await {
                if text.contains('é') {
                    return text;
                }
            }
        }
    };
    let shown = tokio::time::timeout(Duration::from_secs(5), whole).await.expect("long message");
    assert_eq!(shown.chars().filter(|c| *c == 'é').count(), 9_000, "all of it");

    sim.sim.hand_back(&conversation);
    posted(&mut console, &notice::handed_back()).await;
    let q3 = "What is the return window?";
    assert_eq!(replied(console.session.submit_line(q3).await.unwrap()), answer_for(q3));
}

/// The console prints an answer's sources as one plain line, each once, and its link
/// button as a plain line under it; while the answer streams, its reference
/// definitions never show raw.
#[tokio::test]
async fn the_console_prints_sources_as_a_plain_line() {
    // Slow enough that several edits land while the definitions stream in.
    let sim = simulator(30).await;
    let mut console = Console::new(client(&sim, 3), Arc::new(MemoryStore::new()), "src");
    let text = replied(console.session.submit_line("Which docs cover returns?").await.unwrap());
    assert_eq!(
        text,
        "Orders ship within **2 business days** [1], and you can return anything within 30 \
         days (see [the returns policy](https://example.com/docs/returns)).\n\n\
         Sources: [1] Shipping guide (https://example.com/docs/shipping) · \
         Returns policy (https://example.com/docs/returns)\n\
         → Track your order: https://example.com/orders"
    );
    let shown = first_message_texts(&console.drain_events());
    assert!(shown.len() > 5, "it streamed: {shown:?}");
    assert!(shown.iter().all(|t| !t.contains("]: http")), "a raw definition showed: {shown:#?}");
}
