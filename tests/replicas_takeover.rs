//! The replica rules without a database: console bridges in one process on a shared
//! in-memory store ([`MemoryStore::new_shared`]) act as replicas of one another, each
//! with its own [`Replica`] lease. `tests/replicas.rs` shows the same with real
//! processes on PostgreSQL; these run everywhere and in a few seconds.

mod support;

use siteassist_bridge::adapters::console::ConsoleEvent;
use siteassist_bridge::bridge::ids::{MessageRef, ThreadKey};
use siteassist_bridge::bridge::replica::Replica;
use siteassist_bridge::bridge::BridgeConfig;
use siteassist_bridge::simulator::answer_for;
use siteassist_bridge::store::{InFlightReply, MemoryStore, Store};
use std::sync::Arc;
use std::time::Duration;
use support::{client, fast_config, simulator, Console};

/// A reply left in flight in console thread `thread`, owned by `replica`.
fn record(id: &str, thread: &str, replica: Option<&str>) -> InFlightReply {
    InFlightReply {
        replica: replica.map(str::to_owned),
        ..InFlightReply::new(
            id,
            "console",
            ThreadKey::new(format!("console:{thread}")),
            MessageRef::new(format!("console:{thread}:old:u1")),
            1,
        )
    }
}

/// A console bridge that is a replica of `store` with lease `ttl`, beating until the
/// test ends.
async fn replica(
    sim: &siteassist_bridge::simulator::RunningSimulator,
    store: &Arc<dyn Store>,
    thread: &str,
    ttl: Duration,
) -> Console {
    let me = Replica::join(store.clone(), ttl).await.unwrap();
    tokio::spawn(me.clone().heartbeat(std::future::pending()));
    let cfg = BridgeConfig { replica: me, ..fast_config() };
    Console::with_config(client(sim, 3), store.clone(), thread, cfg)
}

fn finished_in(events: &[ConsoleEvent], thread: &str) -> usize {
    let key = format!("console:{thread}");
    events
        .iter()
        .filter(|e| matches!(e, ConsoleEvent::Finished { thread: t, .. } if t.as_str() == key))
        .count()
}

fn ids(records: &[InFlightReply]) -> Vec<&str> {
    records.iter().map(|r| r.id.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn only_replies_of_dead_replicas_or_of_none_are_taken_over_each_once() {
    let sim = simulator(1).await;
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new_shared());
    let ttl = Duration::from_millis(1000);
    // A replica that stays alive, and one that dies (its lease is never renewed).
    let live = Replica::join(store.clone(), Duration::from_secs(600)).await.unwrap();
    let dying = Replica::join(store.clone(), ttl).await.unwrap();
    store.put_in_flight(&record("of-live", "t1", Some(live.id()))).await.unwrap();
    store.put_in_flight(&record("of-dying", "t2", Some(dying.id()))).await.unwrap();
    store.put_in_flight(&record("of-old-release", "t3", None)).await.unwrap();

    // Two replicas start together: the record of no replica is closed, by one of them;
    // the others belong to live replicas and are left alone.
    let mut a = replica(&sim, &store, "a", ttl).await;
    let mut b = replica(&sim, &store, "b", ttl).await;
    let (closed_a, closed_b) =
        tokio::join!(a.bridge.recover_unfinished(), b.bridge.recover_unfinished());
    assert_eq!(closed_a.unwrap() + closed_b.unwrap(), 1);
    assert_eq!(ids(&store.in_flight().await.unwrap()), ["of-dying", "of-live"]);

    // Once the dying replica's lease expires, the scans close its reply: once.
    let mut seen = Vec::new();
    let taken = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            tokio::select! {
                Ok(e) = a.events.recv() => seen.push(e),
                Ok(e) = b.events.recv() => seen.push(e),
            }
            if finished_in(&seen, "t2") == 1 {
                return;
            }
        }
    })
    .await;
    assert!(taken.is_ok(), "the dead replica's reply was taken over within 1.25 x its ttl");
    a.bridge.barrier(&ThreadKey::new("console:t2")).await;
    b.bridge.barrier(&ThreadKey::new("console:t2")).await;
    seen.extend(a.drain_events());
    seen.extend(b.drain_events());
    assert_eq!(finished_in(&seen, "t2"), 1, "closed once: {seen:#?}");
    assert_eq!(finished_in(&seen, "t1"), 0, "the live replica's reply untouched");
    assert_eq!(ids(&store.in_flight().await.unwrap()), ["of-live"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_follow_up_on_another_replica_waits_for_the_answer_before_it() {
    // Slow words: the first answer still streams when the follow-up arrives.
    let sim = simulator(40).await;
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new_shared());
    let ttl = Duration::from_secs(8);
    let first = replica(&sim, &store, "shared", ttl).await;
    let mut second = replica(&sim, &store, "shared", ttl).await;
    let Console { session: mut first_session, events: mut first_events, .. } = first;
    let (q1, q2) = ("How do I reset my password?", "Can I get a refund?");
    let asked = tokio::spawn(async move { first_session.submit_line(q1).await.unwrap() });
    loop {
        match first_events.recv().await.expect("first replica's events") {
            ConsoleEvent::Edited { text, .. } if text != "Thinking…" => break,
            _ => {}
        }
    }
    // The follow-up reaches the other replica while the first answer streams. Its
    // placeholder goes up only on its turn, after the first answer is final.
    let mut session = second.session;
    let follow_up = tokio::spawn(async move { session.submit_line(q2).await.unwrap() });
    loop {
        if let ConsoleEvent::Posted { .. } = second.events.recv().await.expect("events") {
            break;
        }
    }
    let mut before = Vec::new();
    while let Ok(e) = first_events.try_recv() {
        before.push(e);
    }
    let finished: Vec<String> = before
        .iter()
        .filter_map(|e| match e {
            ConsoleEvent::Finished { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(finished, [answer_for(q1)], "the first answer was final before the next began");
    asked.await.unwrap();
    follow_up.await.unwrap();
    let asked: Vec<String> = sim.sim.questions().into_iter().map(|q| q.content).collect();
    assert_eq!(asked, [q1, q2]);
    assert!(store.in_flight().await.unwrap().is_empty());
}
