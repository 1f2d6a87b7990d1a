//! The contract every [`Store`] backend must meet, as one shared async test body per
//! behaviour, run against each backend by [`contract_tests!`].
//!
//! A new backend (Redis, Postgres) adds one module at the bottom: an `open` function
//! returning the store plus whatever must stay alive with it, and the macro call.
//! Bodies take an `Arc<dyn Store>` (not `&dyn Store`) so that the concurrency bodies can
//! race real tasks on a multi-threaded runtime.

use super::{Handoff, InFlightReply, ReplyLink, Store, ThreadLink};
use crate::bridge::ids::{MessageRef, ThreadKey, UserKey};
use crate::siteassist::ids::{ConversationId, Feedback, MessageId, SaVid};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::Barrier;

mod pages;
pub(crate) use pages::pages_list_each_record_once;

/// A fixed instant, so that expiry is tested by passing `now`, never by sleeping.
fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn thread_link(conversation: &str) -> ThreadLink {
    ThreadLink {
        conversation: ConversationId::new(conversation),
        owner: SaVid::new("sab-test-U1"),
        created_at: 1_700_000_000,
    }
}

fn reply_link(assistant_message: Option<&str>) -> ReplyLink {
    ReplyLink {
        thread: ThreadKey::new("test:C1:T1"),
        conversation: ConversationId::new("c-1"),
        assistant_message: assistant_message.map(MessageId::new),
        asker: UserKey::new("test:U1"),
        owner: SaVid::new("sab-test-U1"),
    }
}

fn in_flight(id: &str, started_at: u64) -> InFlightReply {
    let thread = ThreadKey::new("test:C1:T1");
    InFlightReply::new(id, "test", thread, MessageRef::new(format!("test:q:{id}")), started_at)
}

#[track_caller]
fn assert_ids(replies: &[InFlightReply], expected: &[&str]) {
    let ids: Vec<&str> = replies.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, expected);
}

/// Reads of keys never written are `None` (or empty), not errors.
pub(crate) async fn get_missing_is_none(store: Arc<dyn Store>) {
    let thread = ThreadKey::new("test:nothing");
    assert_eq!(store.thread_link(&thread).await.unwrap(), None);
    let message = MessageRef::new("test:nothing");
    assert_eq!(store.reply_link(&message).await.unwrap(), None);
    let answer = MessageId::new("m-nothing");
    assert_eq!(store.feedback(&answer).await.unwrap(), None);
    assert!(store.in_flight().await.unwrap().is_empty());
}

/// The first link stays; a later put returns it to the loser instead of overwriting.
pub(crate) async fn thread_link_put_if_absent_keeps_first(store: Arc<dyn Store>) {
    let thread = ThreadKey::new("test:C1:T1");
    let first = thread_link("c-first");
    let second = thread_link("c-second");
    assert_eq!(store.put_thread_link_if_absent(&thread, &first).await.unwrap(), first);
    assert_eq!(store.put_thread_link_if_absent(&thread, &second).await.unwrap(), first);
    assert_eq!(store.thread_link(&thread).await.unwrap(), Some(first));
    // Another thread is independent.
    let other = ThreadKey::new("test:C1:T2");
    assert_eq!(store.put_thread_link_if_absent(&other, &second).await.unwrap(), second);
}

/// 16 tasks racing to link the same threads, thread after thread: each thread gets
/// exactly one winner, and every task is handed the winner's link. Many threads,
/// because one race on a 2-core machine rarely hits a non-atomic window (256 caught a
/// get-then-insert mutant in 10 of 10 runs, 64 in 5 of 10).
pub(crate) async fn concurrent_put_if_absent_has_one_winner(store: Arc<dyn Store>) {
    const TASKS: usize = 16;
    const KEYS: usize = 256;
    let barrier = Arc::new(Barrier::new(TASKS));
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let (store, barrier) = (store.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let ours = thread_link(&format!("c-{t}"));
            barrier.wait().await;
            let mut got = Vec::new();
            for k in 0..KEYS {
                let thread = ThreadKey::new(format!("test:race:{k}"));
                let link = store.put_thread_link_if_absent(&thread, &ours).await.unwrap();
                got.push((link == ours, link));
            }
            got
        }));
    }
    let mut winners = [0usize; KEYS];
    let mut seen: Vec<Vec<ThreadLink>> = vec![Vec::new(); KEYS];
    for task in tasks {
        for (k, (won, link)) in task.await.unwrap().into_iter().enumerate() {
            winners[k] += usize::from(won);
            seen[k].push(link);
        }
    }
    assert_eq!(winners, [1; KEYS], "winners per thread");
    for (k, links) in seen.iter().enumerate() {
        let thread = ThreadKey::new(format!("test:race:{k}"));
        let stored = store.thread_link(&thread).await.unwrap().unwrap();
        assert!(links.iter().all(|l| *l == stored), "thread {k}: all see the winner");
    }
}

/// Removing a link frees the thread for a new one; removing nothing is fine.
pub(crate) async fn remove_thread_link_frees_the_thread(store: Arc<dyn Store>) {
    let thread = ThreadKey::new("test:C1:T1");
    store.remove_thread_link(&thread).await.unwrap();
    store.put_thread_link_if_absent(&thread, &thread_link("c-old")).await.unwrap();
    store.remove_thread_link(&thread).await.unwrap();
    assert_eq!(store.thread_link(&thread).await.unwrap(), None);
    let new = thread_link("c-new");
    assert_eq!(store.put_thread_link_if_absent(&thread, &new).await.unwrap(), new);
}

/// A reply link is overwritten (the assistant message id is learnt late).
pub(crate) async fn reply_link_overwrites(store: Arc<dyn Store>) {
    let message = MessageRef::new("test:bot:1");
    store.put_reply_link(&message, &reply_link(None)).await.unwrap();
    assert_eq!(store.reply_link(&message).await.unwrap(), Some(reply_link(None)));
    store.put_reply_link(&message, &reply_link(Some("m-1"))).await.unwrap();
    assert_eq!(store.reply_link(&message).await.unwrap(), Some(reply_link(Some("m-1"))));
}

/// A claim holds until `now + ttl` (exclusive) and can be taken again from then on.
pub(crate) async fn claim_holds_until_expiry(store: Arc<dyn Store>) {
    let ttl = secs(10);
    assert!(store.claim("ev-1", t0(), ttl).await.unwrap());
    assert!(!store.claim("ev-1", t0(), ttl).await.unwrap());
    let just_before = t0() + ttl - Duration::from_millis(1);
    assert!(!store.claim("ev-1", just_before, ttl).await.unwrap());
    assert!(store.claim("ev-2", t0(), ttl).await.unwrap(), "keys are independent");
    assert!(store.claim("ev-1", t0() + ttl, ttl).await.unwrap(), "expired: ours again");
    // The renewed claim runs from its own `now`.
    assert!(!store.claim("ev-1", t0() + secs(19), ttl).await.unwrap());
    assert!(store.claim("ev-1", t0() + secs(20), ttl).await.unwrap());
}

/// 16 tasks racing for the same claims, key after key: each key has exactly one winner.
/// Many keys, because one race on a 2-core machine rarely hits a non-atomic window
/// (128 caught a read-then-insert mutant in 10 of 10 runs, 32 in 4 of 10). With sled
/// 0.34.7's `flush_async` this test also hung in 25 of 30 runs (see `sled_store`).
pub(crate) async fn concurrent_claim_has_one_winner(store: Arc<dyn Store>) {
    const TASKS: usize = 16;
    const KEYS: usize = 128;
    let barrier = Arc::new(Barrier::new(TASKS));
    let mut tasks = Vec::new();
    for _ in 0..TASKS {
        let (store, barrier) = (store.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let mut won = Vec::new();
            for k in 0..KEYS {
                if store.claim(&format!("ev-race-{k}"), t0(), secs(60)).await.unwrap() {
                    won.push(k);
                }
            }
            won
        }));
    }
    let mut winners = [0usize; KEYS];
    for task in tasks {
        for k in task.await.unwrap() {
            winners[k] += 1;
        }
    }
    assert_eq!(winners, [1; KEYS], "winners per key");
}

/// Claims and the in-flight record are taken together or not at all.
pub(crate) async fn claim_and_record_is_all_or_nothing(store: Arc<dyn Store>) {
    let ttl = secs(60);
    let first = in_flight("r-1", 1);
    assert!(store.claim_and_record(&["ev-1", "msg-1"], t0(), ttl, &first).await.unwrap());
    assert_ids(&store.in_flight().await.unwrap(), &["r-1"]);
    assert!(!store.claim("ev-1", t0(), ttl).await.unwrap(), "both keys are claimed");
    assert!(!store.claim("msg-1", t0(), ttl).await.unwrap());
    // A redelivery with a new event id for the same message: refused, and nothing of it
    // is written (its fresh event key stays free, no second record).
    let second = in_flight("r-2", 2);
    assert!(!store.claim_and_record(&["ev-2", "msg-1"], t0(), ttl, &second).await.unwrap());
    assert_ids(&store.in_flight().await.unwrap(), &["r-1"]);
    assert!(store.claim("ev-2", t0(), ttl).await.unwrap(), "ev-2 was left unclaimed");
    // Once the claims expire the same keys can be taken again.
    let later = t0() + ttl;
    assert!(store.claim_and_record(&["ev-1", "msg-1"], later, ttl, &second).await.unwrap());
    assert_ids(&store.in_flight().await.unwrap(), &["r-1", "r-2"]);
}

/// 16 tasks racing to claim-and-record the same messages: one record per message.
pub(crate) async fn concurrent_claim_and_record_has_one_winner(store: Arc<dyn Store>) {
    const TASKS: usize = 16;
    const KEYS: usize = 64;
    let barrier = Arc::new(Barrier::new(TASKS));
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let (store, barrier) = (store.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            for k in 0..KEYS {
                // Each task has its own event id, as a redelivery after a reconnect does.
                let (event, message) = (format!("ev-{t}-{k}"), format!("msg-{k}"));
                let record = in_flight(&format!("r-{t}-{k}"), k as u64);
                store.claim_and_record(&[&event, &message], t0(), secs(60), &record).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let records = store.in_flight().await.unwrap();
    let mut per_message = [0usize; KEYS];
    for r in &records {
        per_message[r.started_at as usize] += 1;
    }
    assert_eq!(per_message, [1; KEYS], "records per message");
}

/// Sweeping removes exactly the claims expired at `now` and leaves live ones holding.
pub(crate) async fn sweep_removes_only_expired(store: Arc<dyn Store>) {
    assert!(store.claim("short", t0(), secs(10)).await.unwrap());
    assert!(store.claim("edge", t0(), secs(30)).await.unwrap());
    assert!(store.claim("long", t0(), secs(60)).await.unwrap());
    assert_eq!(store.sweep_claims(t0() + secs(5)).await.unwrap(), 0);
    let before = store.stats().await.unwrap();
    assert_eq!((before.claims, before.records), (3, 3), "{before:?}");
    let now = t0() + secs(30);
    assert_eq!(store.sweep_claims(now).await.unwrap(), 2, "short and edge");
    assert_eq!(store.sweep_claims(now).await.unwrap(), 0);
    let after = store.stats().await.unwrap();
    assert_eq!((after.claims, after.records), (1, 1), "the stats see the sweep: {after:?}");
    assert!(!store.claim("long", now, secs(60)).await.unwrap(), "still held");
    assert!(store.claim("short", now, secs(60)).await.unwrap());
}

/// In-flight replies: put, update in place, remove, listed oldest first then by id.
pub(crate) async fn in_flight_put_update_remove_list(store: Arc<dyn Store>) {
    store.put_in_flight(&in_flight("b", 200)).await.unwrap();
    store.put_in_flight(&in_flight("c", 100)).await.unwrap();
    store.put_in_flight(&in_flight("a", 200)).await.unwrap();
    store.put_in_flight(&in_flight("d", 300)).await.unwrap();
    assert_ids(&store.in_flight().await.unwrap(), &["c", "a", "b", "d"]);

    let mut updated = in_flight("a", 200);
    updated.conversation = Some(ConversationId::new("c-1"));
    updated.messages.push(MessageRef::new("test:bot:placeholder"));
    store.put_in_flight(&updated).await.unwrap();
    let all = store.in_flight().await.unwrap();
    assert_ids(&all, &["c", "a", "b", "d"]);
    assert_eq!(all[1], updated);

    store.remove_in_flight("c").await.unwrap();
    store.remove_in_flight("never-there").await.unwrap();
    assert_ids(&store.in_flight().await.unwrap(), &["a", "b", "d"]);
}

/// A thread's queue: its in-flight records in the order first recorded (not by start
/// time), an update keeping its place, other threads' records left out.
pub(crate) async fn thread_queue_keeps_arrival_order(store: Arc<dyn Store>) {
    let (now, ttl) = (t0(), secs(60));
    let other = InFlightReply { thread: ThreadKey::new("test:C1:T2"), ..in_flight("x", 1) };
    store.put_in_flight(&in_flight("late-start", 300)).await.unwrap();
    store.put_in_flight(&other).await.unwrap();
    assert!(store.claim_and_record(&["k1"], now, ttl, &in_flight("early", 100)).await.unwrap());
    store.put_in_flight(&in_flight("mid", 200)).await.unwrap();
    let thread = ThreadKey::new("test:C1:T1");
    assert_ids(&store.thread_queue(&thread).await.unwrap(), &["late-start", "early", "mid"]);
    // An update (the placeholder posted, say) keeps the record's place.
    let mut updated = in_flight("late-start", 300);
    updated.messages.push(MessageRef::new("test:bot:1"));
    store.put_in_flight(&updated).await.unwrap();
    let queue = store.thread_queue(&thread).await.unwrap();
    assert_ids(&queue, &["late-start", "early", "mid"]);
    assert_eq!(queue[0], updated);
    store.remove_in_flight("late-start").await.unwrap();
    assert_ids(&store.thread_queue(&thread).await.unwrap(), &["early", "mid"]);
    assert_ids(&store.thread_queue(&ThreadKey::new("test:C1:T2")).await.unwrap(), &["x"]);
    assert!(store.thread_queue(&ThreadKey::new("test:none")).await.unwrap().is_empty());
}

/// Leases: one holder at a time, renewable by it, free once expired, released only by
/// its holder, all of a holder's at once.
pub(crate) async fn lease_take_renew_expire_release(store: Arc<dyn Store>) {
    let now = t0();
    assert_eq!(store.lease_holder("replica:a", now).await.unwrap(), None);
    assert!(store.take_lease("replica:a", "a", now, secs(10)).await.unwrap());
    assert!(!store.take_lease("replica:a", "b", now + secs(9), secs(10)).await.unwrap());
    // Renewed by its holder: still held after the first expiry.
    assert!(store.take_lease("replica:a", "a", now + secs(9), secs(10)).await.unwrap());
    assert!(!store.take_lease("replica:a", "b", now + secs(18), secs(10)).await.unwrap());
    assert_eq!(
        store.lease_holder("replica:a", now + secs(18)).await.unwrap().as_deref(),
        Some("a")
    );
    // Expired (the expiry instant itself counts as expired, as for claims).
    assert_eq!(store.lease_holder("replica:a", now + secs(19)).await.unwrap(), None);
    assert!(store.take_lease("replica:a", "b", now + secs(19), secs(10)).await.unwrap());
    assert_eq!(
        store.lease_holder("replica:a", now + secs(19)).await.unwrap().as_deref(),
        Some("b")
    );
    // Only the holder releases.
    store.release_lease("replica:a", "a").await.unwrap();
    assert_eq!(
        store.lease_holder("replica:a", now + secs(20)).await.unwrap().as_deref(),
        Some("b")
    );
    store.release_lease("replica:a", "b").await.unwrap();
    assert_eq!(store.lease_holder("replica:a", now + secs(20)).await.unwrap(), None);
    store.release_lease("never", "b").await.unwrap();
    // A holder's leases all go at once; others' stay.
    for key in ["replica:c", "thread:1", "thread:2"] {
        assert!(store.take_lease(key, "c", now, secs(10)).await.unwrap());
    }
    assert!(store.take_lease("thread:3", "d", now, secs(10)).await.unwrap());
    assert!(store.take_lease("replica:e", "e", now, secs(5)).await.unwrap());
    assert_eq!(
        store.live_leases("thread:", now).await.unwrap(),
        ["thread:1", "thread:2", "thread:3"]
    );
    assert_eq!(store.live_leases("replica:", now).await.unwrap(), ["replica:c", "replica:e"]);
    assert_eq!(
        store.live_leases("replica:", now + secs(5)).await.unwrap(),
        ["replica:c"],
        "e expired"
    );
    assert_eq!(store.release_leases_of("c").await.unwrap(), 3);
    assert_eq!(store.lease_holder("thread:1", now).await.unwrap(), None);
    assert!(store.take_lease("thread:1", "d", now, secs(10)).await.unwrap());
    assert_eq!(store.lease_holder("thread:3", now).await.unwrap().as_deref(), Some("d"));
}

/// Sixteen holders racing for one free lease: exactly one gets it.
pub(crate) async fn concurrent_lease_has_one_winner(store: Arc<dyn Store>) {
    let barrier = Arc::new(Barrier::new(16));
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let (store, barrier) = (store.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store.take_lease("thread:race", &format!("r{i}"), t0(), secs(10)).await.unwrap()
            })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        winners += usize::from(task.await.unwrap());
    }
    assert_eq!(winners, 1);
}

/// Feedback: put, overwrite, clear with `None`, per message.
pub(crate) async fn feedback_put_get_clear(store: Arc<dyn Store>) {
    let (m1, m2) = (MessageId::new("m-1"), MessageId::new("m-2"));
    store.put_feedback(&m1, Some(Feedback::Like)).await.unwrap();
    assert_eq!(store.feedback(&m1).await.unwrap(), Some(Feedback::Like));
    assert_eq!(store.feedback(&m2).await.unwrap(), None);
    store.put_feedback(&m1, Some(Feedback::Dislike)).await.unwrap();
    assert_eq!(store.feedback(&m1).await.unwrap(), Some(Feedback::Dislike));
    store.put_feedback(&m1, None).await.unwrap();
    assert_eq!(store.feedback(&m1).await.unwrap(), None);
    store.put_feedback(&m2, None).await.unwrap();
}

fn handoff(thread: &str, since: u64) -> Handoff {
    Handoff {
        platform: "test".into(),
        thread: ThreadKey::new(thread),
        link: thread_link(&format!("c-{thread}")),
        since,
        watching: since % 2 == 0,
    }
}

pub(crate) async fn handoffs_put_refresh_remove_list(store: Arc<dyn Store>) {
    assert_eq!(store.handoffs().await.unwrap(), vec![]);
    store.put_handoff(&handoff("test:T2", 7)).await.unwrap();
    store.put_handoff(&handoff("test:T1", 9)).await.unwrap();
    // Refreshing a thread's handoff replaces it: one per thread.
    store.put_handoff(&handoff("test:T1", 5)).await.unwrap();
    assert_eq!(store.handoffs().await.unwrap(), vec![handoff("test:T1", 5), handoff("test:T2", 7)]);
    let one = |t: &'static str| {
        let store = Arc::clone(&store);
        async move { store.handoff(&ThreadKey::new(t)).await.unwrap() }
    };
    assert_eq!(one("test:T1").await, Some(handoff("test:T1", 5)));
    store.remove_handoff(&ThreadKey::new("test:T1")).await.unwrap();
    store.remove_handoff(&ThreadKey::new("test:missing")).await.unwrap();
    assert_eq!(store.handoffs().await.unwrap(), vec![handoff("test:T2", 7)]);
    assert_eq!((one("test:T1").await, one("test:missing").await), (None, None));
}

/// For durable backends: everything written is still there after closing and
/// reopening. `open` must return a fresh handle on the same storage each call.
pub(crate) async fn values_survive_reopen(open: impl Fn() -> Arc<dyn Store>) {
    let thread = ThreadKey::new("test:C1:T1");
    let message = MessageRef::new("test:bot:1");
    let answer = MessageId::new("m-1");
    {
        let store = open();
        store.put_thread_link_if_absent(&thread, &thread_link("c-1")).await.unwrap();
        store.put_reply_link(&message, &reply_link(Some("m-1"))).await.unwrap();
        assert!(store.claim("ev-1", t0(), secs(60)).await.unwrap());
        assert!(store.claim("ev-old", t0(), secs(1)).await.unwrap());
        store.put_in_flight(&in_flight("r-1", 5)).await.unwrap();
        store.put_feedback(&answer, Some(Feedback::Like)).await.unwrap();
        store.put_handoff(&handoff("test:T9", 3)).await.unwrap();
    }
    let store = open();
    assert_eq!(store.handoffs().await.unwrap(), vec![handoff("test:T9", 3)]);
    assert_eq!(store.thread_link(&thread).await.unwrap(), Some(thread_link("c-1")));
    assert_eq!(store.reply_link(&message).await.unwrap(), Some(reply_link(Some("m-1"))));
    assert_eq!(store.in_flight().await.unwrap(), vec![in_flight("r-1", 5)]);
    assert_eq!(store.feedback(&answer).await.unwrap(), Some(Feedback::Like));
    // The claim's expiry survived too: still held at +30 s, swept at +90 s.
    assert!(!store.claim("ev-1", t0() + secs(30), secs(60)).await.unwrap());
    assert_eq!(store.sweep_claims(t0() + secs(90)).await.unwrap(), 2);
}

/// Generates one `#[tokio::test]` per contract body, each on a fresh store from `$open`
/// (an async function returning `(Arc<dyn Store>, guard)`; the guard lives as long as
/// the test).
macro_rules! contract_tests {
    ($open:path; $($body:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $body() {
                let (store, _guard) = $open().await;
                super::$body(store).await;
            }
        )*
    };
}

/// Runs every body; each backend module calls this once.
macro_rules! all_contract_tests {
    ($open:path) => {
        contract_tests!($open;
            get_missing_is_none,
            thread_link_put_if_absent_keeps_first,
            concurrent_put_if_absent_has_one_winner,
            remove_thread_link_frees_the_thread,
            reply_link_overwrites,
            claim_holds_until_expiry,
            concurrent_claim_has_one_winner,
            sweep_removes_only_expired,
            claim_and_record_is_all_or_nothing,
            concurrent_claim_and_record_has_one_winner,
            in_flight_put_update_remove_list,
            thread_queue_keeps_arrival_order,
            lease_take_renew_expire_release,
            concurrent_lease_has_one_winner,
            feedback_put_get_clear,
            handoffs_put_refresh_remove_list,
            pages_list_each_record_once,
        );
    };
}

mod memory_backend {
    use crate::store::{MemoryStore, Store};
    use std::sync::Arc;

    async fn open() -> (Arc<dyn Store>, ()) {
        (Arc::new(MemoryStore::new()), ())
    }

    all_contract_tests!(open);
}

mod sled_backend {
    use crate::store::{SledStore, Store};
    use std::sync::Arc;
    use tempfile::TempDir;

    async fn open() -> (Arc<dyn Store>, TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path().join("store")).unwrap();
        (Arc::new(store), dir)
    }

    all_contract_tests!(open);

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn values_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        super::values_survive_reopen(|| {
            Arc::new(SledStore::open(&path).unwrap()) as Arc<dyn Store>
        })
        .await;
    }
}

/// The PostgreSQL backend against the server on 127.0.0.1 (every development and CI
/// machine runs one; `SITEASSIST_TEST_DATABASE_URL` points elsewhere), each test in a
/// schema of its own, dropped afterwards.
mod postgres_backend {
    use crate::store::{PostgresStore, Store};
    use std::sync::Arc;

    pub(crate) fn url() -> String {
        std::env::var("SITEASSIST_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
    }

    /// Drops its schema when the test ends.
    pub(crate) struct Schema(pub(crate) String);

    impl Drop for Schema {
        fn drop(&mut self) {
            let (url, schema) = (url(), self.0.clone());
            // A fresh runtime on its own thread: the test's runtime may be shutting down.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build();
                let _ = rt.map(|rt| {
                    rt.block_on(async {
                        let Ok((client, conn)) =
                            tokio_postgres::connect(&url, tokio_postgres::NoTls).await
                        else {
                            return;
                        };
                        tokio::spawn(conn);
                        let _ =
                            client.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).await;
                    })
                });
            })
            .join();
        }
    }

    pub(crate) async fn open_in(schema: &str) -> Arc<dyn Store> {
        Arc::new(
            PostgresStore::connect(&url(), 8, Some(schema), None)
                .await
                .expect("PostgreSQL on 127.0.0.1:5432"),
        )
    }

    async fn open() -> (Arc<dyn Store>, Schema) {
        let schema = format!("sab_test_{}", uuid::Uuid::new_v4().simple());
        (open_in(&schema).await, Schema(schema))
    }

    all_contract_tests!(open);

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn values_survive_reopen() {
        let schema = Schema(format!("sab_test_{}", uuid::Uuid::new_v4().simple()));
        let first = open_in(&schema.0).await;
        let reopen = || {
            let handle = tokio::runtime::Handle::current();
            let name = schema.0.clone();
            std::thread::spawn(move || handle.block_on(open_in(&name))).join().unwrap()
        };
        drop(first);
        super::values_survive_reopen(reopen).await;
    }

    /// Replicas starting together: the migrations run once, under the lock.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_starts_migrate_once() {
        let schema = Schema(format!("sab_test_{}", uuid::Uuid::new_v4().simple()));
        let starts = (0..4).map(|_| {
            let name = schema.0.clone();
            tokio::spawn(async move { open_in(&name).await })
        });
        for started in futures_util::future::join_all(starts).await {
            started.unwrap();
        }
        let (client, conn) = tokio_postgres::connect(&url(), tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        let q = format!("SELECT COUNT(*) FROM {}.sab_migrations", schema.0);
        let count: i64 = client.query_one(&q, &[]).await.unwrap().get(0);
        assert_eq!(count, super::super::postgres::MIGRATION_COUNT as i64);
    }
}
