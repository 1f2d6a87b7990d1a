//! Durable state: which conversation a thread is, which SiteAssist message a bot reply
//! is, which events were already handled, and which replies are still in flight.
//!
//! The [`Store`] trait is shaped by what a networked store (Redis, Postgres) can do
//! atomically: get, put-if-absent, claim-with-expiry. It is *not* shaped by sled's API,
//! so a second backend for several replicas can be added without touching the core.
//! Every backend passes the same contract tests (`store::contract`).
//!
//! Every record is stored in a versioned envelope (see [`codec`]): a persisted format
//! is a promise, and a future version must be able to read today's records.

pub mod codec;
#[cfg(test)]
pub(crate) mod contract;
mod group_flush;
mod memory;
pub mod migrate;
mod postgres;
mod sled_store;
pub mod sweeper;
pub use group_flush::FlushMode;

pub use memory::MemoryStore;
pub use postgres::PostgresStore;
pub use sled_store::SledStore;

use crate::bridge::ids::{ChannelKey, MessageRef, ThreadKey, UserKey, WorkspaceKey};
use crate::siteassist::ids::{ConversationId, Feedback, MessageId, SaVid};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime};

/// A thread's conversation: written once when the thread's first question is relayed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadLink {
    /// The SiteAssist conversation this thread is.
    pub conversation: ConversationId,
    /// The visitor who started the thread. Every call on the conversation uses this
    /// visitor, because SiteAssist only lets the owner read or write it.
    pub owner: SaVid,
    /// When the link was made, in seconds since the Unix epoch.
    pub created_at: u64,
}

/// A bot reply message: which SiteAssist answer it shows, so reactions on it can become
/// feedback. A split answer has one link per platform message, all to the same answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyLink {
    /// The thread the reply is in.
    pub thread: ThreadKey,
    /// The conversation the answer belongs to.
    pub conversation: ConversationId,
    /// The assistant message, once known (SiteAssist names it at the start of the stream,
    /// or we look it up after the stream ends). `None`: reactions cannot give feedback.
    pub assistant_message: Option<MessageId>,
    /// The user whose question this answers (by default only they may give feedback).
    pub asker: UserKey,
    /// The conversation's owner, the visitor that feedback calls are made as.
    pub owner: SaVid,
}

/// A reply that was started but not yet finished. Written before the placeholder is
/// posted and removed when the reply is final, so that after a crash the bridge can
/// find every reply it left half-done and close it visibly.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InFlightReply {
    /// Unique id of this reply attempt (a UUID).
    pub id: String,
    /// Which adapter owns it (`slack`, `discord`, `console`).
    pub platform: String,
    /// The thread it answers in.
    pub thread: ThreadKey,
    /// The user's question.
    pub question: MessageRef,
    /// The conversation, once resolved.
    pub conversation: Option<ConversationId>,
    /// The conversation's owner, once resolved.
    pub owner: Option<SaVid>,
    /// The bot messages posted so far (placeholder first).
    pub messages: Vec<MessageRef>,
    /// When the reply started, in seconds since the Unix epoch.
    pub started_at: u64,
    /// Who asked, so a reply finished by recovery still takes feedback only from them.
    /// Optional and omitted when unset, so records written before it existed still read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asker: Option<UserKey>,
    /// The channel and workspace the reply posts in, so a reply finished by recovery
    /// shares the live replies' edit budgets (the core never builds these from the
    /// thread's id: ids are the adapter's to mint). Optional like `asker`, for the same
    /// reason; a record without them is budgeted under its thread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<ChannelKey>,
    /// See `channel`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<WorkspaceKey>,
    /// What the reply's last show will be (an answer, a notice), saved before it goes
    /// out: a run that dies between showing it and forgetting the record leaves the user
    /// a finished reply, and recovery shows it again (an edit to the same text) instead
    /// of replacing it with "interrupted". Optional like `asker`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_markdown: Option<String>,
    /// The platform text shown under `final_markdown` in the last message (the
    /// sources line), kept with it so that recovery shows the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_footer: Option<String>,
    /// The replica (process) answering it, while its lease lives: other replicas leave
    /// the record alone and take it over once the lease expires. `None` in records
    /// written before replicas existed (one process only), which any replica may take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica: Option<String>,
    /// While the reply streams natively: the stream still open, and the placeholder kept
    /// beside it for its Stop button. A run that dies then leaves a message still
    /// streaming and a Stop button nothing answers; recovery stops the one and deletes
    /// the other instead of taking them for two parts of the answer. Optional like
    /// `asker`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_stream: Option<NativeStream>,
}

impl InFlightReply {
    /// A reply to `question` in `thread` with nothing resolved, posted or said yet.
    pub fn new(
        id: impl Into<String>,
        platform: impl Into<String>,
        thread: ThreadKey,
        question: MessageRef,
        started_at: u64,
    ) -> Self {
        Self {
            id: id.into(),
            platform: platform.into(),
            thread,
            question,
            conversation: None,
            owner: None,
            messages: Vec::new(),
            started_at,
            asker: None,
            channel: None,
            workspace: None,
            final_markdown: None,
            final_footer: None,
            replica: None,
            open_stream: None,
        }
    }
}

/// A native stream an in-flight reply has open (see [`InFlightReply::open_stream`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NativeStream {
    /// The stream's message (also the reply's first message).
    pub message: MessageRef,
    /// The placeholder above it with the Stop button (also in the reply's messages),
    /// when one was posted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control: Option<MessageRef>,
}

/// A thread whose conversation a person handles: the bridge relays their replies into
/// it, and re-opens the relay at start.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handoff {
    /// Which adapter's thread it is (`slack`, `discord`, `console`).
    pub platform: String,
    /// The thread.
    pub thread: ThreadKey,
    /// Its conversation and owner.
    pub link: ThreadLink,
    /// The thread's last activity the relay was recorded at (the handover learnt, a
    /// question, the AI's answer), in seconds since the Unix epoch: a restart re-opens
    /// the relay only while this is within its window.
    pub since: u64,
    /// Listening for a takeover of a thread the AI answered (not yet handled by a
    /// person). Absent in records written before listening existed: those were all
    /// handled.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub watching: bool,
}

/// A store failure. The core treats every variant the same way (log, tell the user the
/// reply failed), so the variants exist for the log message.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend itself failed (I/O, lock, connection).
    #[error("store backend failed: {0}")]
    Backend(String),
    /// A record could not be decoded.
    #[error("store record {key} is unreadable: {reason}")]
    Corrupt {
        /// The record's key.
        key: String,
        /// What was wrong.
        reason: String,
    },
}

/// Durable state behind the bridge. All methods are atomic on their own; where two
/// writes must survive a crash together, one method does both
/// ([`Store::claim_and_record`]).
///
/// Writes are durable when the call returns (a sled backend flushes), because an
/// acknowledged claim or link must survive `kill -9`.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The conversation a thread is linked to, if any.
    async fn thread_link(&self, thread: &ThreadKey) -> Result<Option<ThreadLink>, StoreError>;

    /// Links `thread` to `link` unless it is already linked; returns the link that is in
    /// the store afterwards (ours, or the one that got there first).
    async fn put_thread_link_if_absent(
        &self,
        thread: &ThreadKey,
        link: &ThreadLink,
    ) -> Result<ThreadLink, StoreError>;

    /// Removes a thread's link (a "new conversation" command, or a conversation that
    /// SiteAssist no longer knows). Removing a missing link is not an error.
    async fn remove_thread_link(&self, thread: &ThreadKey) -> Result<(), StoreError>;

    /// Records which answer a bot message shows. Overwrites.
    async fn put_reply_link(
        &self,
        message: &MessageRef,
        link: &ReplyLink,
    ) -> Result<(), StoreError>;

    /// The answer a bot message shows, if it is one of ours.
    async fn reply_link(&self, message: &MessageRef) -> Result<Option<ReplyLink>, StoreError>;

    /// Claims `key` until `now + ttl`. Returns true if this call got the claim, false if
    /// an unexpired claim exists. Used to handle each event exactly once.
    async fn claim(&self, key: &str, now: SystemTime, ttl: Duration) -> Result<bool, StoreError>;

    /// Claims every key in `keys` (as [`Store::claim`]) and records `reply` in flight, all
    /// or nothing. Returns false and writes nothing if any key has an unexpired claim.
    ///
    /// One operation because a question is acknowledged to the platform once its claims
    /// are durable: claims without the record would make a crash in between lose the
    /// question (the redelivery is refused as a duplicate, and recovery knows nothing).
    async fn claim_and_record(
        &self,
        keys: &[&str],
        now: SystemTime,
        ttl: Duration,
        reply: &InFlightReply,
    ) -> Result<bool, StoreError>;

    /// Removes claims that expired before `now`; returns how many were removed.
    /// [`sweeper::run`] calls it on a timer, so the store does not grow with every event
    /// ever handled.
    async fn sweep_claims(&self, now: SystemTime) -> Result<usize, StoreError>;

    /// How much the store holds, for the metrics. May walk every record: call it now and
    /// then (the sweeper does, after each sweep), not per event.
    async fn stats(&self) -> Result<StoreStats, StoreError>;

    /// Records or updates a reply in flight.
    async fn put_in_flight(&self, reply: &InFlightReply) -> Result<(), StoreError>;

    /// Forgets a reply in flight (it is finished). Missing is not an error.
    async fn remove_in_flight(&self, id: &str) -> Result<(), StoreError>;

    /// Every reply still in flight, oldest first.
    async fn in_flight(&self) -> Result<Vec<InFlightReply>, StoreError>;

    /// `thread`'s replies in flight, in the order they were first recorded
    /// ([`Store::claim_and_record`] or a first [`Store::put_in_flight`]); an update
    /// keeps a record's place. This is the thread's queue across replicas: a replica
    /// answers a question only when no other replica's question is ahead of it.
    ///
    /// This and the lease methods below are called only when [`Store::is_shared`];
    /// their defaults refuse, so a wrapper or a single-process store need not
    /// implement them. The three backends implement them all (the contract suite
    /// checks them).
    async fn thread_queue(&self, thread: &ThreadKey) -> Result<Vec<InFlightReply>, StoreError> {
        let _ = thread;
        Err(not_shared())
    }

    /// Takes or renews the lease `key` for `holder` until `now + ttl`. Returns false,
    /// changing nothing, when another holder's lease is unexpired at `now`. Atomic: of
    /// concurrent takers of a free lease exactly one gets it.
    async fn take_lease(
        &self,
        key: &str,
        holder: &str,
        now: SystemTime,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let _ = (key, holder, now, ttl);
        Err(not_shared())
    }

    /// The holder of `key`'s lease if it is unexpired at `now`.
    async fn lease_holder(&self, key: &str, now: SystemTime) -> Result<Option<String>, StoreError> {
        let _ = (key, now);
        Err(not_shared())
    }

    /// Releases `key`'s lease if `holder` holds it (expired or not); otherwise changes
    /// nothing. Missing is not an error.
    async fn release_lease(&self, key: &str, holder: &str) -> Result<(), StoreError> {
        let _ = (key, holder);
        Err(not_shared())
    }

    /// The keys of the leases whose key starts with `prefix` that are unexpired at
    /// `now`, in key order: the live replicas (`replica:`), so that budgets the platform
    /// counts per app can be split between them; the relays some replica runs
    /// (`handoff:`), so that the others adopt only the rest. One query, however many.
    async fn live_leases(&self, prefix: &str, now: SystemTime) -> Result<Vec<String>, StoreError> {
        let _ = (prefix, now);
        Err(not_shared())
    }

    /// Releases every lease `holder` holds (a replica stopping); returns how many.
    async fn release_leases_of(&self, holder: &str) -> Result<usize, StoreError> {
        let _ = holder;
        Err(not_shared())
    }

    /// Whether other processes may use this store at the same time (a networked
    /// backend). When false the bridge is the only replica, and skips leases and the
    /// cross-replica queue entirely: its in-process thread workers already order
    /// everything, and each store round trip would be pure cost.
    fn is_shared(&self) -> bool {
        false
    }

    /// Records (or refreshes) a thread whose conversation a person handles.
    async fn put_handoff(&self, handoff: &Handoff) -> Result<(), StoreError>;

    /// Forgets a handoff (handed back, closed). Missing is not an error.
    async fn remove_handoff(&self, thread: &ThreadKey) -> Result<(), StoreError>;

    /// Every handoff recorded.
    async fn handoffs(&self) -> Result<Vec<Handoff>, StoreError>;

    /// The handoff recorded for `thread`, if any. (The default reads them all; the
    /// backends read the one.)
    async fn handoff(&self, thread: &ThreadKey) -> Result<Option<Handoff>, StoreError> {
        Ok(self.handoffs().await?.into_iter().find(|h| h.thread == *thread))
    }

    /// The feedback last sent for an assistant message.
    async fn feedback(&self, message: &MessageId) -> Result<Option<Feedback>, StoreError>;

    /// Records the feedback last sent for an assistant message (`None`: cleared).
    async fn put_feedback(
        &self,
        message: &MessageId,
        feedback: Option<Feedback>,
    ) -> Result<(), StoreError>;

    /// Up to `limit` thread links whose thread comes after `after` (from the first when
    /// `None`), in the backend's key order; an empty page means there are no more.
    ///
    /// Paged by key rather than listed whole or by offset, because that is what a
    /// networked store serves from its index in one round trip per page, and pages
    /// neither overlap nor skip a record. Only `migrate-store` lists: the bridge itself
    /// looks records up by key.
    async fn thread_links_after(
        &self,
        after: Option<&ThreadKey>,
        limit: usize,
    ) -> Result<Vec<(ThreadKey, ThreadLink)>, StoreError>;

    /// Up to `limit` reply links after `after`, as [`Store::thread_links_after`].
    async fn reply_links_after(
        &self,
        after: Option<&MessageRef>,
        limit: usize,
    ) -> Result<Vec<(MessageRef, ReplyLink)>, StoreError>;

    /// Up to `limit` feedback records after `after`, as [`Store::thread_links_after`].
    async fn feedback_after(
        &self,
        after: Option<&MessageId>,
        limit: usize,
    ) -> Result<Vec<(MessageId, Feedback)>, StoreError>;
}

/// How much a store holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Event and message claims, expired ones not yet swept included.
    pub claims: u64,
    /// Every record of every kind (claims included).
    pub records: u64,
    /// Bytes on disk, for a store that keeps files.
    pub bytes_on_disk: Option<u64>,
}

/// What the replica methods of a store that does not implement them answer.
fn not_shared() -> StoreError {
    StoreError::Backend("this store is not shared by replicas: it keeps no leases".into())
}

/// Seconds since the Unix epoch, for the `created_at` fields.
pub fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
