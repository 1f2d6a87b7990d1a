//! A store that counts the operations the core asks of it, for the store operations
//! per reply.

use async_trait::async_trait;
use siteassist_bridge::bridge::ids::{MessageRef, ThreadKey};
use siteassist_bridge::siteassist::ids::{Feedback, MessageId};
use siteassist_bridge::store::{
    Handoff, InFlightReply, ReplyLink, Store, StoreError, StoreStats, ThreadLink,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// A store that counts the operations the core asks of it.
pub struct Counting {
    pub inner: Arc<dyn Store>,
    pub ops: AtomicU64,
}

impl Counting {
    /// Operations so far.
    pub fn ops(&self) -> u64 {
        self.ops.load(Ordering::Relaxed)
    }

    fn count(&self) -> &dyn Store {
        self.ops.fetch_add(1, Ordering::Relaxed);
        self.inner.as_ref()
    }
}

#[async_trait]
impl Store for Counting {
    async fn thread_link(&self, thread: &ThreadKey) -> Result<Option<ThreadLink>, StoreError> {
        self.count().thread_link(thread).await
    }
    async fn put_thread_link_if_absent(
        &self,
        thread: &ThreadKey,
        link: &ThreadLink,
    ) -> Result<ThreadLink, StoreError> {
        self.count().put_thread_link_if_absent(thread, link).await
    }
    async fn remove_thread_link(&self, thread: &ThreadKey) -> Result<(), StoreError> {
        self.count().remove_thread_link(thread).await
    }
    async fn put_reply_link(
        &self,
        message: &MessageRef,
        link: &ReplyLink,
    ) -> Result<(), StoreError> {
        self.count().put_reply_link(message, link).await
    }
    async fn reply_link(&self, message: &MessageRef) -> Result<Option<ReplyLink>, StoreError> {
        self.count().reply_link(message).await
    }
    async fn claim(&self, key: &str, now: SystemTime, ttl: Duration) -> Result<bool, StoreError> {
        self.count().claim(key, now, ttl).await
    }
    async fn claim_and_record(
        &self,
        keys: &[&str],
        now: SystemTime,
        ttl: Duration,
        reply: &InFlightReply,
    ) -> Result<bool, StoreError> {
        self.count().claim_and_record(keys, now, ttl, reply).await
    }
    async fn sweep_claims(&self, now: SystemTime) -> Result<usize, StoreError> {
        self.count().sweep_claims(now).await
    }
    async fn stats(&self) -> Result<StoreStats, StoreError> {
        self.count().stats().await
    }
    async fn put_in_flight(&self, reply: &InFlightReply) -> Result<(), StoreError> {
        self.count().put_in_flight(reply).await
    }
    async fn remove_in_flight(&self, id: &str) -> Result<(), StoreError> {
        self.count().remove_in_flight(id).await
    }
    async fn in_flight(&self) -> Result<Vec<InFlightReply>, StoreError> {
        self.count().in_flight().await
    }
    async fn put_handoff(&self, handoff: &Handoff) -> Result<(), StoreError> {
        self.count().put_handoff(handoff).await
    }
    async fn remove_handoff(&self, thread: &ThreadKey) -> Result<(), StoreError> {
        self.count().remove_handoff(thread).await
    }
    async fn handoffs(&self) -> Result<Vec<Handoff>, StoreError> {
        self.count().handoffs().await
    }
    async fn feedback(&self, message: &MessageId) -> Result<Option<Feedback>, StoreError> {
        self.count().feedback(message).await
    }
    async fn put_feedback(
        &self,
        message: &MessageId,
        feedback: Option<Feedback>,
    ) -> Result<(), StoreError> {
        self.count().put_feedback(message, feedback).await
    }
    async fn thread_links_after(
        &self,
        after: Option<&ThreadKey>,
        limit: usize,
    ) -> Result<Vec<(ThreadKey, ThreadLink)>, StoreError> {
        self.count().thread_links_after(after, limit).await
    }
    async fn reply_links_after(
        &self,
        after: Option<&MessageRef>,
        limit: usize,
    ) -> Result<Vec<(MessageRef, ReplyLink)>, StoreError> {
        self.count().reply_links_after(after, limit).await
    }
    async fn feedback_after(
        &self,
        after: Option<&MessageId>,
        limit: usize,
    ) -> Result<Vec<(MessageId, Feedback)>, StoreError> {
        self.count().feedback_after(after, limit).await
    }
}
