//! The Discord ingress hands events of different threads to the core at once and
//! keeps each thread's events in arrival order (issue #17), against the fake Discord
//! and the simulator, with a store whose claims can be held or slowed.
#![cfg(feature = "discord")]

mod fake_discord;
mod support;

use async_trait::async_trait;
use fake_discord::harness::{self, reply_shown, WAIT};
use fake_discord::payloads::Msg;
use fake_discord::{FakeDiscord, Limits, SUPPORT};
use siteassist_bridge::adapters::discord::format::render;
use siteassist_bridge::adapters::discord::{Handled, Outcome};
use siteassist_bridge::bridge::ids::{MessageRef, ThreadKey};
use siteassist_bridge::bridge::{BridgeConfig, Disposition};
use siteassist_bridge::simulator::answer_for;
use siteassist_bridge::siteassist::ids::{Feedback, MessageId};
use siteassist_bridge::store::{
    Handoff, InFlightReply, MemoryStore, ReplyLink, Store, StoreError, StoreStats, ThreadLink,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use support::{client, simulator};
use tokio::sync::oneshot;

/// How long the answers of one thread may take: the core paces its posts in a
/// thread to Discord's per-channel limit, a few a second.
const PACED: Duration = Duration::from_secs(40);

const QUEUED: Outcome = Outcome::Core(Disposition::Queued);

/// A held claim: its event key, who to tell when it starts, what releases it.
type Hold = (String, oneshot::Sender<()>, oneshot::Receiver<()>);

/// A memory store whose claim-and-record (the durable write every question waits on)
/// can be held for one event until released, and otherwise takes a varying time, so
/// events handled at once finish their claims out of arrival order.
#[derive(Default)]
struct Hooked {
    inner: MemoryStore,
    /// The event id whose claim waits: told when it starts, waits for the release.
    hold: Mutex<Option<Hold>>,
    /// Claims so far, to vary how long each takes.
    claims: AtomicU64,
}

impl Hooked {
    /// Holds the claim of event `id`: the first receiver fires when it has started,
    /// the sender releases it.
    fn hold(&self, id: u64) -> (oneshot::Receiver<()>, oneshot::Sender<()>) {
        let (started, on_start) = oneshot::channel();
        let (release, released) = oneshot::channel();
        *self.hold.lock().unwrap() = Some((format!("event:discord:{id}"), started, released));
        (on_start, release)
    }

    async fn before_claim(&self, keys: &[&str]) {
        let held = {
            let mut hold = self.hold.lock().unwrap();
            match hold.as_ref() {
                Some((key, ..)) if keys.contains(&key.as_str()) => hold.take(),
                _ => None,
            }
        };
        if let Some((_, started, released)) = held {
            let _ = started.send(());
            let _ = released.await;
            return;
        }
        // 0 to 4 ms, varying from claim to claim: what reorders claims run at once.
        let n = self.claims.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis((n * 7) % 5)).await;
    }
}

fn config() -> BridgeConfig {
    BridgeConfig {
        user_questions_per_minute: 0,
        channel_questions_per_minute: 0,
        thread_queue: 64,
        ..harness::bridge_config()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_ups_in_one_thread_keep_their_order_while_other_threads_run() {
    let fake = FakeDiscord::start().await;
    // A dozen answers in one thread, quickly: Discord's per-channel limit is not what
    // this test is about.
    fake.set_limits(Limits {
        channel_actions: 1_000,
        channel_window: Duration::from_secs(1),
        global_per_second: 1_000,
    });
    let sim = simulator(1).await;
    let store = Arc::new(Hooked::default());
    let settings = harness::settings(&fake);
    let mut bot =
        harness::start_configured(&fake, &settings, store.clone(), client(&sim, 3), config()).await;
    let opener = "How do I reset my password?";
    let thread = fake.next_id();
    fake.dispatch("MESSAGE_CREATE", Msg::mention(thread, SUPPORT, opener).json());
    assert_eq!(bot.message_outcome(thread).await, QUEUED);
    reply_shown(&fake, thread, &render(&answer_for(opener))).await;

    // The first follow-up's store write is held. The rest of the thread's follow-ups,
    // each sent right after a new question in the channel (a thread of its own), wait
    // behind it, while the new questions go through.
    let follow_ups: Vec<String> =
        (0..6).map(|i| format!("Follow-up number {i}: and then what?")).collect();
    let first = fake.next_id();
    let (started, release) = store.hold(first);
    fake.dispatch("MESSAGE_CREATE", Msg::in_guild(first, thread, &follow_ups[0]).json());
    tokio::time::timeout(WAIT, started).await.expect("the first follow-up's claim").unwrap();
    let (mut waiting, mut others) = (Vec::new(), Vec::new());
    for text in &follow_ups[1..] {
        let id = fake.next_id();
        fake.dispatch("MESSAGE_CREATE", Msg::in_guild(id, thread, text).json());
        waiting.push(id);
        let other = fake.next_id();
        fake.dispatch("MESSAGE_CREATE", Msg::mention(other, SUPPORT, opener).json());
        others.push(other);
    }
    let mut handled = Vec::new();
    let mut next_handled = async || loop {
        match tokio::time::timeout(WAIT, bot.reports.recv()).await.expect("events handled") {
            Ok(Handled::Message { id, outcome }) => {
                assert_eq!(outcome, QUEUED, "message {id}");
                return id;
            }
            Ok(_) => {}
            Err(e) => panic!("reports ended: {e}"),
        }
    };
    while handled.len() < others.len() {
        let id = next_handled().await;
        assert!(others.contains(&id), "follow-up {id} handled while the first one waits");
        handled.push(id);
    }
    release.send(()).unwrap();
    let mut in_thread = Vec::new();
    while in_thread.len() < follow_ups.len() {
        in_thread.push(next_handled().await);
    }
    assert_eq!(in_thread[0], first, "the held follow-up first");
    let mut sorted = in_thread[1..].to_vec();
    sorted.sort_unstable();
    assert_eq!(sorted, waiting);
    // SiteAssist got the follow-ups in the order the ingress handed them over, one
    // conversation for the thread, and the thread shows the answers in that order.
    let text_of = |id: u64| {
        let i = 1 + waiting.iter().position(|w| *w == id).unwrap_or(usize::MAX - 1);
        if id == first {
            follow_ups[0].clone()
        } else {
            follow_ups[i].clone()
        }
    };
    let handed: Vec<String> = in_thread.iter().map(|id| text_of(*id)).collect();
    let expected = render(&answer_for(opener));
    fake.wait_until("every answer", PACED, |r| {
        r.messages_in(thread).len() == 1 + follow_ups.len()
            && others
                .iter()
                .all(|t| r.messages_in(*t).first().is_some_and(|m| m.text() == expected))
    })
    .await;
    let answers: Vec<String> = handed.iter().map(|q| render(&answer_for(q))).collect();
    fake.wait_until("the follow-up answers complete", PACED, |r| {
        r.messages_in(thread)[1..].iter().map(|m| m.text()).eq(answers.iter().map(String::as_str))
    })
    .await;
    let asked: Vec<String> = sim
        .sim
        .questions()
        .into_iter()
        .map(|q| q.content)
        .filter(|q| q.starts_with("Follow-up"))
        .collect();
    assert_eq!(asked, handed);
    assert_eq!(sim.sim.conversation_count(), 1 + others.len());
    bot.stop().await.unwrap();
}

#[tokio::test]
async fn a_question_waiting_on_its_store_write_does_not_hold_up_another_thread() {
    let fake = FakeDiscord::start().await;
    let sim = simulator(1).await;
    let store = Arc::new(Hooked::default());
    let settings = harness::settings(&fake);
    let mut bot =
        harness::start_configured(&fake, &settings, store.clone(), client(&sim, 3), config()).await;
    let question = "How do I reset my password?";
    let (first, second) = (fake.next_id(), fake.next_id());
    let (started, release) = store.hold(first);
    fake.dispatch("MESSAGE_CREATE", Msg::mention(first, SUPPORT, question).json());
    tokio::time::timeout(WAIT, started).await.expect("the first claim started").unwrap();
    // The first question's claim is still held: the second, in its own thread, is
    // handled and answered all the same.
    fake.dispatch("MESSAGE_CREATE", Msg::mention(second, SUPPORT, question).json());
    assert_eq!(bot.message_outcome(second).await, QUEUED);
    reply_shown(&fake, second, &render(&answer_for(question))).await;
    assert!(fake.read(|r| r.messages_in(first).is_empty()), "nothing for the held one yet");
    // Released, the first goes through as usual.
    release.send(()).unwrap();
    assert_eq!(bot.message_outcome(first).await, QUEUED);
    reply_shown(&fake, first, &render(&answer_for(question))).await;
    bot.stop().await.unwrap();
}

#[async_trait]
impl Store for Hooked {
    async fn thread_link(&self, thread: &ThreadKey) -> Result<Option<ThreadLink>, StoreError> {
        self.inner.thread_link(thread).await
    }
    async fn put_thread_link_if_absent(
        &self,
        thread: &ThreadKey,
        link: &ThreadLink,
    ) -> Result<ThreadLink, StoreError> {
        self.inner.put_thread_link_if_absent(thread, link).await
    }
    async fn remove_thread_link(&self, thread: &ThreadKey) -> Result<(), StoreError> {
        self.inner.remove_thread_link(thread).await
    }
    async fn put_reply_link(
        &self,
        message: &MessageRef,
        link: &ReplyLink,
    ) -> Result<(), StoreError> {
        self.inner.put_reply_link(message, link).await
    }
    async fn reply_link(&self, message: &MessageRef) -> Result<Option<ReplyLink>, StoreError> {
        self.inner.reply_link(message).await
    }
    async fn claim(&self, key: &str, now: SystemTime, ttl: Duration) -> Result<bool, StoreError> {
        self.inner.claim(key, now, ttl).await
    }
    async fn claim_and_record(
        &self,
        keys: &[&str],
        now: SystemTime,
        ttl: Duration,
        reply: &InFlightReply,
    ) -> Result<bool, StoreError> {
        self.before_claim(keys).await;
        self.inner.claim_and_record(keys, now, ttl, reply).await
    }
    async fn sweep_claims(&self, now: SystemTime) -> Result<usize, StoreError> {
        self.inner.sweep_claims(now).await
    }
    async fn stats(&self) -> Result<StoreStats, StoreError> {
        self.inner.stats().await
    }
    async fn put_in_flight(&self, reply: &InFlightReply) -> Result<(), StoreError> {
        self.inner.put_in_flight(reply).await
    }
    async fn remove_in_flight(&self, id: &str) -> Result<(), StoreError> {
        self.inner.remove_in_flight(id).await
    }
    async fn in_flight(&self) -> Result<Vec<InFlightReply>, StoreError> {
        self.inner.in_flight().await
    }
    async fn put_handoff(&self, handoff: &Handoff) -> Result<(), StoreError> {
        self.inner.put_handoff(handoff).await
    }
    async fn remove_handoff(&self, thread: &ThreadKey) -> Result<(), StoreError> {
        self.inner.remove_handoff(thread).await
    }
    async fn handoffs(&self) -> Result<Vec<Handoff>, StoreError> {
        self.inner.handoffs().await
    }
    async fn feedback(&self, message: &MessageId) -> Result<Option<Feedback>, StoreError> {
        self.inner.feedback(message).await
    }
    async fn put_feedback(
        &self,
        message: &MessageId,
        feedback: Option<Feedback>,
    ) -> Result<(), StoreError> {
        self.inner.put_feedback(message, feedback).await
    }
    async fn thread_links_after(
        &self,
        after: Option<&ThreadKey>,
        limit: usize,
    ) -> Result<Vec<(ThreadKey, ThreadLink)>, StoreError> {
        self.inner.thread_links_after(after, limit).await
    }
    async fn reply_links_after(
        &self,
        after: Option<&MessageRef>,
        limit: usize,
    ) -> Result<Vec<(MessageRef, ReplyLink)>, StoreError> {
        self.inner.reply_links_after(after, limit).await
    }
    async fn feedback_after(
        &self,
        after: Option<&MessageId>,
        limit: usize,
    ) -> Result<Vec<(MessageId, Feedback)>, StoreError> {
        self.inner.feedback_after(after, limit).await
    }
}
