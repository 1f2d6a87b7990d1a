//! A reply cut off by a crash is closed visibly at the next start.
//!
//! The "crash" drops the bridge's whole runtime while the answer is streaming, so no
//! cleanup code runs, as with kill -9; only what the store holds survives.

mod support;

use siteassist_bridge::adapters::console::ConsoleEvent;
use siteassist_bridge::simulator::{answer_for, Fault};
use siteassist_bridge::store::{SledStore, Store};
use std::sync::Arc;
use std::time::Duration;
use support::{client, simulator, Console};

const QUESTION: &str = "How do I reset my password?";

/// Opens the store the crashed run used. Its runtime is gone, but a store write it had
/// handed to a blocking thread (a flush) may still hold sled's lock on the directory
/// for a moment on a loaded machine: the lock's release is no event this test can
/// await, so it looks again every 50 ms, for at most 10 s.
fn reopen(dir: &std::path::Path) -> Arc<dyn Store> {
    let started = std::time::Instant::now();
    loop {
        match SledStore::open(dir) {
            Ok(store) => return Arc::new(store),
            Err(e) if started.elapsed() < Duration::from_secs(10) => {
                eprintln!("the crashed run still holds the store ({e}); looking again");
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("the crashed run's store never came free: {e}"),
        }
    }
}

#[test]
fn a_reply_cut_by_a_crash_is_finished_at_the_next_start() {
    let main_rt = tokio::runtime::Runtime::new().unwrap();
    let sim = main_rt.block_on(simulator(5));
    // The connection stalls after four words; SiteAssist itself finishes the answer.
    sim.sim.push_fault(Fault::Stall { after_words: 4 });
    let dir = tempfile::tempdir().unwrap();

    let crashing_rt = tokio::runtime::Runtime::new().unwrap();
    crashing_rt.block_on(async {
        let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
        let Console { mut session, mut events, .. } = Console::new(client(&sim, 3), store, "crash");
        tokio::spawn(async move { session.submit_line(QUESTION).await });
        loop {
            match events.recv().await.expect("console events") {
                ConsoleEvent::Edited { text, .. } if text != "Thinking…" => break,
                _ => {}
            }
        }
    });
    crashing_rt.shutdown_timeout(Duration::from_millis(200));

    main_rt.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(10),
            sim.sim.wait_until(|s| s.generations_in_flight() == 0),
        )
        .await
        .expect("SiteAssist finishes the answer server-side");

        let store = reopen(dir.path());
        assert_eq!(store.in_flight().await.unwrap().len(), 1, "the crash left its record");
        let mut console = Console::new(client(&sim, 3), store.clone(), "crash");
        assert_eq!(console.bridge.recover_unfinished().await.unwrap(), 1);

        let events = console.drain_events();
        let final_text = events.iter().find_map(|e| match e {
            ConsoleEvent::Finished { text, .. } => Some(text.clone()),
            _ => None,
        });
        assert_eq!(final_text, Some(answer_for(QUESTION)), "events: {events:#?}");
        assert!(store.in_flight().await.unwrap().is_empty(), "nothing left unfinished");
    });
}

#[test]
fn a_question_the_crash_left_unanswered_gets_a_note_to_ask_again() {
    let main_rt = tokio::runtime::Runtime::new().unwrap();
    let sim = main_rt.block_on(simulator(5));
    // SiteAssist never answers in time: the first byte is slower than the crash.
    sim.sim.push_fault(Fault::SlowFirstByte { delay_ms: 60_000 });
    let dir = tempfile::tempdir().unwrap();

    let crashing_rt = tokio::runtime::Runtime::new().unwrap();
    crashing_rt.block_on(async {
        let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
        let Console { mut session, mut events, .. } = Console::new(client(&sim, 3), store, "q");
        tokio::spawn(async move { session.submit_line(QUESTION).await });
        // The placeholder is up and the question is with SiteAssist.
        while !matches!(events.recv().await, Ok(ConsoleEvent::Posted { .. })) {}
        sim.sim.wait_until(|s| s.message_posts() == 1).await;
    });
    crashing_rt.shutdown_timeout(Duration::from_millis(200));

    main_rt.block_on(async {
        let store = reopen(dir.path());
        let mut console = Console::new(client(&sim, 3), store.clone(), "q");
        assert_eq!(console.bridge.recover_unfinished().await.unwrap(), 1);
        let text = console.drain_events().into_iter().find_map(|e| match e {
            ConsoleEvent::Finished { text, .. } => Some(text),
            _ => None,
        });
        let text = text.expect("the interrupted reply was closed");
        assert!(text.contains("interrupted") && text.contains("ask again"), "{text}");
        assert!(store.in_flight().await.unwrap().is_empty());
    });
}
