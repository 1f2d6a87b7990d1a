//! An in-memory [`Store`]: for tests, the demo, and a bridge that may forget everything
//! on restart. It keeps the same semantics as the sled backend (claims expire,
//! put-if-absent returns the winner), which the shared contract tests check.

use super::codec::{ClaimRecord, LeaseRecord};
use super::{Handoff, InFlightReply, ReplyLink, Store, StoreError, StoreStats, ThreadLink};
use crate::bridge::ids::{MessageRef, ThreadKey};
use crate::siteassist::ids::{Feedback, MessageId};
use async_trait::async_trait;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

/// The order [`Store::in_flight`] promises, shared by the backends: oldest first, and
/// by id among replies started in the same second, so the order is total and stable.
pub(super) fn oldest_first(a: &InFlightReply, b: &InFlightReply) -> Ordering {
    a.started_at.cmp(&b.started_at).then_with(|| a.id.cmp(&b.id))
}

/// One page of `map`'s entries after `after`, in key order (see
/// [`Store::thread_links_after`]). Sorts the whole map per page: fine for a store that
/// lives in memory, and only `migrate-store` lists.
fn page_after<K: Ord + Clone, V: Clone>(
    map: &HashMap<K, V>,
    after: Option<&K>,
    limit: usize,
) -> Vec<(K, V)> {
    let mut all: Vec<(&K, &V)> = map.iter().filter(|(k, _)| after.is_none_or(|a| *k > a)).collect();
    all.sort_by(|a, b| a.0.cmp(b.0));
    all.into_iter().take(limit).map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// The store's maps, all behind one lock so every method is trivially atomic.
#[derive(Debug, Default)]
struct Maps {
    threads: HashMap<ThreadKey, ThreadLink>,
    replies: HashMap<MessageRef, ReplyLink>,
    claims: HashMap<String, ClaimRecord>,
    in_flight: HashMap<String, InFlightReply>,
    feedback: HashMap<MessageId, Feedback>,
    handoffs: HashMap<ThreadKey, Handoff>,
    leases: HashMap<String, LeaseRecord>,
    /// Each in-flight record's place in arrival order (see [`Store::thread_queue`]).
    arrival: HashMap<String, u64>,
    next_arrival: u64,
}

impl Maps {
    /// Records `reply` in flight, giving it the next place in arrival order if new.
    fn record(&mut self, reply: &InFlightReply) {
        if !self.arrival.contains_key(&reply.id) {
            self.next_arrival += 1;
            self.arrival.insert(reply.id.clone(), self.next_arrival);
        }
        self.in_flight.insert(reply.id.clone(), reply.clone());
    }
}

/// A [`Store`] that keeps everything in process memory. Nothing survives a restart.
///
/// A `std` mutex rather than a tokio one: no method holds the lock across an `.await`,
/// and each critical section is a hash-map operation.
#[derive(Debug, Default)]
pub struct MemoryStore {
    maps: Mutex<Maps>,
    /// Whether it says it is shared ([`Store::is_shared`]).
    shared: bool,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store that says it is shared, so that several bridges in one process
    /// act as replicas of one another (leases, takeover, thread turns): tests of the
    /// replica logic that need no database.
    pub fn new_shared() -> Self {
        Self { shared: true, ..Self::default() }
    }

    /// Locks the maps. A panic while the lock was held cannot leave a map half-updated
    /// (each critical section is a single map operation), so a poisoned lock is used as is.
    fn maps(&self) -> MutexGuard<'_, Maps> {
        self.maps.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn thread_link(&self, thread: &ThreadKey) -> Result<Option<ThreadLink>, StoreError> {
        Ok(self.maps().threads.get(thread).cloned())
    }

    async fn put_thread_link_if_absent(
        &self,
        thread: &ThreadKey,
        link: &ThreadLink,
    ) -> Result<ThreadLink, StoreError> {
        let mut maps = self.maps();
        Ok(maps.threads.entry(thread.clone()).or_insert_with(|| link.clone()).clone())
    }

    async fn remove_thread_link(&self, thread: &ThreadKey) -> Result<(), StoreError> {
        self.maps().threads.remove(thread);
        Ok(())
    }

    async fn put_reply_link(
        &self,
        message: &MessageRef,
        link: &ReplyLink,
    ) -> Result<(), StoreError> {
        self.maps().replies.insert(message.clone(), link.clone());
        Ok(())
    }

    async fn reply_link(&self, message: &MessageRef) -> Result<Option<ReplyLink>, StoreError> {
        Ok(self.maps().replies.get(message).cloned())
    }

    async fn claim(&self, key: &str, now: SystemTime, ttl: Duration) -> Result<bool, StoreError> {
        let mut maps = self.maps();
        if maps.claims.get(key).is_some_and(|c| c.is_live(now)) {
            return Ok(false);
        }
        maps.claims.insert(key.to_owned(), ClaimRecord::new(now, ttl));
        Ok(true)
    }

    async fn claim_and_record(
        &self,
        keys: &[&str],
        now: SystemTime,
        ttl: Duration,
        reply: &InFlightReply,
    ) -> Result<bool, StoreError> {
        let mut maps = self.maps();
        if keys.iter().any(|k| maps.claims.get(*k).is_some_and(|c| c.is_live(now))) {
            return Ok(false);
        }
        for key in keys {
            maps.claims.insert((*key).to_owned(), ClaimRecord::new(now, ttl));
        }
        maps.record(reply);
        Ok(true)
    }

    async fn sweep_claims(&self, now: SystemTime) -> Result<usize, StoreError> {
        let mut maps = self.maps();
        let before = maps.claims.len();
        maps.claims.retain(|_, c| c.is_live(now));
        Ok(before - maps.claims.len())
    }

    async fn stats(&self) -> Result<StoreStats, StoreError> {
        let m = self.maps();
        let claims = m.claims.len();
        let records = m.threads.len()
            + m.replies.len()
            + claims
            + m.in_flight.len()
            + m.feedback.len()
            + m.handoffs.len()
            + m.leases.len();
        Ok(StoreStats { claims: claims as u64, records: records as u64, bytes_on_disk: None })
    }

    async fn put_in_flight(&self, reply: &InFlightReply) -> Result<(), StoreError> {
        self.maps().record(reply);
        Ok(())
    }

    async fn remove_in_flight(&self, id: &str) -> Result<(), StoreError> {
        let mut maps = self.maps();
        maps.in_flight.remove(id);
        maps.arrival.remove(id);
        Ok(())
    }

    async fn thread_queue(&self, thread: &ThreadKey) -> Result<Vec<InFlightReply>, StoreError> {
        let maps = self.maps();
        let mut queue: Vec<(u64, &InFlightReply)> = maps
            .in_flight
            .values()
            .filter(|r| &r.thread == thread)
            .map(|r| (maps.arrival.get(&r.id).copied().unwrap_or(0), r))
            .collect();
        queue.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.id.cmp(&b.1.id)));
        Ok(queue.into_iter().map(|(_, r)| r.clone()).collect())
    }

    async fn take_lease(
        &self,
        key: &str,
        holder: &str,
        now: SystemTime,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let mut maps = self.maps();
        if maps.leases.get(key).is_some_and(|l| !l.may_take(holder, now)) {
            return Ok(false);
        }
        let expires_at_ms = ClaimRecord::new(now, ttl).expires_at_ms;
        maps.leases
            .insert(key.to_owned(), LeaseRecord { holder: holder.to_owned(), expires_at_ms });
        Ok(true)
    }

    async fn lease_holder(&self, key: &str, now: SystemTime) -> Result<Option<String>, StoreError> {
        let maps = self.maps();
        let live = maps.leases.get(key).filter(|l| l.is_live(now));
        Ok(live.map(|l| l.holder.clone()))
    }

    async fn release_lease(&self, key: &str, holder: &str) -> Result<(), StoreError> {
        let mut maps = self.maps();
        if maps.leases.get(key).is_some_and(|l| l.holder == holder) {
            maps.leases.remove(key);
        }
        Ok(())
    }

    fn is_shared(&self) -> bool {
        self.shared
    }

    async fn live_leases(&self, prefix: &str, now: SystemTime) -> Result<Vec<String>, StoreError> {
        let maps = self.maps();
        let mut live: Vec<String> = maps
            .leases
            .iter()
            .filter(|(k, l)| k.starts_with(prefix) && l.is_live(now))
            .map(|(k, _)| k.clone())
            .collect();
        live.sort();
        Ok(live)
    }

    async fn release_leases_of(&self, holder: &str) -> Result<usize, StoreError> {
        let mut maps = self.maps();
        let before = maps.leases.len();
        maps.leases.retain(|_, l| l.holder != holder);
        Ok(before - maps.leases.len())
    }

    async fn in_flight(&self) -> Result<Vec<InFlightReply>, StoreError> {
        let mut all: Vec<InFlightReply> = self.maps().in_flight.values().cloned().collect();
        all.sort_by(oldest_first);
        Ok(all)
    }

    async fn put_handoff(&self, handoff: &Handoff) -> Result<(), StoreError> {
        self.maps().handoffs.insert(handoff.thread.clone(), handoff.clone());
        Ok(())
    }

    async fn remove_handoff(&self, thread: &ThreadKey) -> Result<(), StoreError> {
        self.maps().handoffs.remove(thread);
        Ok(())
    }

    async fn handoff(&self, thread: &ThreadKey) -> Result<Option<Handoff>, StoreError> {
        Ok(self.maps().handoffs.get(thread).cloned())
    }

    async fn handoffs(&self) -> Result<Vec<Handoff>, StoreError> {
        let mut all: Vec<Handoff> = self.maps().handoffs.values().cloned().collect();
        all.sort_by(|a, b| a.since.cmp(&b.since).then_with(|| a.thread.cmp(&b.thread)));
        Ok(all)
    }

    async fn feedback(&self, message: &MessageId) -> Result<Option<Feedback>, StoreError> {
        Ok(self.maps().feedback.get(message).copied())
    }

    async fn put_feedback(
        &self,
        message: &MessageId,
        feedback: Option<Feedback>,
    ) -> Result<(), StoreError> {
        let mut maps = self.maps();
        match feedback {
            Some(f) => maps.feedback.insert(message.clone(), f),
            None => maps.feedback.remove(message),
        };
        Ok(())
    }

    async fn thread_links_after(
        &self,
        after: Option<&ThreadKey>,
        limit: usize,
    ) -> Result<Vec<(ThreadKey, ThreadLink)>, StoreError> {
        Ok(page_after(&self.maps().threads, after, limit))
    }

    async fn reply_links_after(
        &self,
        after: Option<&MessageRef>,
        limit: usize,
    ) -> Result<Vec<(MessageRef, ReplyLink)>, StoreError> {
        Ok(page_after(&self.maps().replies, after, limit))
    }

    async fn feedback_after(
        &self,
        after: Option<&MessageId>,
        limit: usize,
    ) -> Result<Vec<(MessageId, Feedback)>, StoreError> {
        Ok(page_after(&self.maps().feedback, after, limit))
    }
}
