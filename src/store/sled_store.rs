//! The default durable [`Store`]: an embedded sled database in one directory.
//!
//! One tree per record kind (`threads`, `replies`, `claims`, `in_flight`, `feedback`,
//! `handoffs`, `leases`, and `arrival`: each in-flight record's place in arrival order),
//! keyed by the id's text, each value a [`codec`](super::codec) envelope. The atomic
//! operations the trait promises map onto sled's `compare_and_swap`.
//!
//! # Durability
//! Every write flushes the database before the call returns: an acknowledged claim or
//! link must survive `kill -9` (and, as far as `fsync` goes, a power cut), because the
//! core acts on it at once (answers the event, posts into the conversation).
//! `tests/store_durability.rs` checks this by SIGKILLing a writer.
//!
//! # Calling sync sled from async code
//! sled's API is synchronous. Gets, inserts and compare-and-swaps are called directly
//! from the async methods: they work on sled's in-memory page cache and take
//! microseconds (a read touches the disk only for a page not yet cached, and our records
//! are few and tiny), so a `spawn_blocking` hop would cost more than it saves.
//!
//! The flush is different: it waits for an `fsync` (0.3 to 0.5 ms per write measured
//! on our 2-core ext4 machine, more on slow disks), so it runs on tokio's blocking pool
//! via `spawn_blocking` with sled's *synchronous* `Db::flush`. Not `flush_async`: in
//! sled 0.34.7 concurrent `flush_async` calls deadlock (spacejam/sled#1308, fixed on
//! sled's main branch but never released). Each waiting flush occupies a thread of
//! sled's small I/O pool, the pool that must write the buffer they wait for; our 16-task
//! contract test hung in 25 of 30 runs with it. Flushing from tokio's threads leaves
//! sled's pool free (0 hangs in 100 runs). So the write methods need a tokio runtime.
//!
//! sled locks its directory: a second process (or a second `open` in this process)
//! fails with an error that says so. It is a single-process store; several replicas
//! need a networked backend.

use super::codec::{decode, encode, ClaimRecord, LeaseRecord};
use super::group_flush::{FlushMode, GroupFlush};
use super::memory::oldest_first;
use super::{Handoff, InFlightReply, ReplyLink, Store, StoreError, StoreStats, ThreadLink};
use crate::bridge::ids::{MessageRef, ThreadKey};
use crate::siteassist::ids::{Feedback, MessageId};
use async_trait::async_trait;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// A [`Store`] in a sled database directory. See the module docs for durability.
pub struct SledStore {
    /// Where the database lives, for error messages and `Debug`.
    path: PathBuf,
    /// The database; flushing it flushes every tree (they share one log).
    db: sled::Db,
    threads: sled::Tree,
    replies: sled::Tree,
    claims: sled::Tree,
    in_flight: sled::Tree,
    feedback: sled::Tree,
    handoffs: sled::Tree,
    leases: sled::Tree,
    /// In-flight record id → its place in arrival order (big-endian, from sled's id
    /// generator), for [`Store::thread_queue`].
    arrival: sled::Tree,
    /// How writes are made durable, and the shared flusher for grouped flushes.
    flush_mode: FlushMode,
    flusher: Arc<GroupFlush>,
}

impl fmt::Debug for SledStore {
    // sled's own `Debug` for a tree prints every entry; show only where the store is.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SledStore").field("path", &self.path).finish_non_exhaustive()
    }
}

impl SledStore {
    /// Opens (creating if needed, directory included) the store at `path`.
    ///
    /// Fails if another process holds the store's lock; the error names the path.
    /// Blocking (sled reads and recovers its log here), so call it at startup rather
    /// than from a busy async task.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path, FlushMode::default())
    }

    /// [`Self::open`] with writes made durable as `flush_mode` says.
    pub fn open_with(path: impl AsRef<Path>, flush_mode: FlushMode) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let db = open_db(path, LOCK_WAIT)?;
        let tree = |name: &str| {
            db.open_tree(name).map_err(|e| {
                StoreError::Backend(format!(
                    "cannot open tree {name} of the store at {}: {e}",
                    path.display()
                ))
            })
        };
        Ok(Self {
            threads: tree("threads")?,
            replies: tree("replies")?,
            claims: tree("claims")?,
            in_flight: tree("in_flight")?,
            feedback: tree("feedback")?,
            handoffs: tree("handoffs")?,
            leases: tree("leases")?,
            arrival: tree("arrival")?,
            path: path.to_owned(),
            flush_mode,
            flusher: GroupFlush::new(db.clone()),
            db,
        })
    }

    /// Makes every write so far durable. Called before each write method returns.
    /// Runs sled's blocking flush on tokio's blocking pool (see the module docs for why
    /// not `flush_async`), shared by the writes that arrive together
    /// ([`super::group_flush`]) unless the store was opened with
    /// [`FlushMode::EachWrite`].
    async fn flush(&self) -> Result<(), StoreError> {
        if self.flush_mode == FlushMode::Grouped {
            return self.flusher.flush().await;
        }
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || db.flush())
            .await
            .map_err(|e| StoreError::Backend(format!("sled flush task failed: {e}")))?
            .map(|_bytes| ())
            .map_err(|e| backend("flush", e))
    }

    /// Reads and decodes one record.
    fn get<T: serde::de::DeserializeOwned>(
        tree: &sled::Tree,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        match tree.get(key).map_err(|e| backend("get", e))? {
            Some(bytes) => decode(key, &bytes).map(Some),
            None => Ok(None),
        }
    }
}

/// One page of `tree`'s records after `after`, in sled's (byte) key order, each key
/// wrapped by `id` (see [`Store::thread_links_after`]).
fn page_after<K, T: serde::de::DeserializeOwned>(
    tree: &sled::Tree,
    after: Option<&str>,
    limit: usize,
    id: impl Fn(String) -> K,
) -> Result<Vec<(K, T)>, StoreError> {
    use std::ops::Bound;
    let start = after.map_or(Bound::Unbounded, |a| Bound::Excluded(a.as_bytes()));
    let mut page = Vec::new();
    for entry in tree.range::<&[u8], _>((start, Bound::Unbounded)).take(limit) {
        let (key, bytes) = entry.map_err(|e| backend("range", e))?;
        let key = String::from_utf8_lossy(&key).into_owned();
        let value = decode(&key, &bytes)?;
        page.push((id(key), value));
    }
    Ok(page)
}

/// The error text for a failed open. Pure, so the wording is tested without two
/// processes: sled reports a held lock as an I/O error saying "could not acquire lock".
/// How long [`SledStore::open`] waits for the directory's lock. A store dropped in this
/// process releases its lock only when sled's I/O threads have finished their last
/// writes, which takes a moment more under load (seen as a failed reopen in the
/// contract suite, once in a loaded run); another process's lock is released at its
/// exit. Past this, the lock is someone else's for good and opening fails.
const LOCK_WAIT: Duration = Duration::from_secs(3);

/// Opens sled at `path`, trying again while the lock is held, for up to `wait`. There
/// is no event to await for a file lock, so this polls, every 20 ms.
fn open_db(path: &Path, wait: Duration) -> Result<sled::Db, StoreError> {
    let deadline = std::time::Instant::now() + wait;
    loop {
        match sled::Config::new().path(path).open() {
            Ok(db) => return Ok(db),
            Err(e) => {
                let message = e.to_string();
                let locked = message.contains("could not acquire lock");
                if !locked || std::time::Instant::now() >= deadline {
                    return Err(StoreError::Backend(open_error_message(path, &message)));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

fn open_error_message(path: &Path, sled_error: &str) -> String {
    if sled_error.contains("could not acquire lock") {
        format!(
            "cannot open the store at {}: it is locked; another process (another bridge \
             instance?) may hold it ({sled_error})",
            path.display()
        )
    } else {
        format!("cannot open the store at {}: {sled_error}", path.display())
    }
}

/// Wraps a sled error, saying which operation failed.
fn backend(op: &str, e: sled::Error) -> StoreError {
    StoreError::Backend(format!("sled {op} failed: {e}"))
}

#[async_trait]
impl Store for SledStore {
    async fn thread_link(&self, thread: &ThreadKey) -> Result<Option<ThreadLink>, StoreError> {
        Self::get(&self.threads, thread.as_str())
    }

    async fn put_thread_link_if_absent(
        &self,
        thread: &ThreadKey,
        link: &ThreadLink,
    ) -> Result<ThreadLink, StoreError> {
        let key = thread.as_str();
        let ours = encode(link);
        let winner = loop {
            let swapped = self
                .threads
                .compare_and_swap(key, None::<&[u8]>, Some(ours.as_slice()))
                .map_err(|e| backend("compare_and_swap", e))?;
            match swapped {
                Ok(()) => break link.clone(),
                Err(lost) => match lost.current {
                    Some(theirs) => break decode(key, &theirs)?,
                    // Removed again between their write and our read: try once more.
                    None => continue,
                },
            }
        };
        // Also when we lost: the winner may not have flushed yet, and our caller is
        // about to act on the link as if it were durable.
        self.flush().await?;
        Ok(winner)
    }

    async fn remove_thread_link(&self, thread: &ThreadKey) -> Result<(), StoreError> {
        self.threads.remove(thread.as_str()).map_err(|e| backend("remove", e))?;
        self.flush().await
    }

    async fn put_reply_link(
        &self,
        message: &MessageRef,
        link: &ReplyLink,
    ) -> Result<(), StoreError> {
        self.replies.insert(message.as_str(), encode(link)).map_err(|e| backend("insert", e))?;
        self.flush().await
    }

    async fn reply_link(&self, message: &MessageRef) -> Result<Option<ReplyLink>, StoreError> {
        Self::get(&self.replies, message.as_str())
    }

    async fn claim(&self, key: &str, now: SystemTime, ttl: Duration) -> Result<bool, StoreError> {
        let ours = encode(&ClaimRecord::new(now, ttl));
        // Read, decide, compare-and-swap against what we read; a failed swap means
        // another claimer changed the key in between, so decide again on its value.
        loop {
            let current = self.claims.get(key).map_err(|e| backend("get", e))?;
            if let Some(bytes) = &current {
                if decode::<ClaimRecord>(key, bytes)?.is_live(now) {
                    return Ok(false);
                }
            }
            let swapped = self
                .claims
                .compare_and_swap(key, current, Some(ours.as_slice()))
                .map_err(|e| backend("compare_and_swap", e))?;
            if swapped.is_ok() {
                self.flush().await?;
                return Ok(true);
            }
        }
    }

    async fn claim_and_record(
        &self,
        keys: &[&str],
        now: SystemTime,
        ttl: Duration,
        reply: &InFlightReply,
    ) -> Result<bool, StoreError> {
        use sled::transaction::{ConflictableTransactionError as Abort, TransactionError};
        use sled::Transactional;
        let ours = encode(&ClaimRecord::new(now, ttl));
        let record = encode(reply);
        // A multi-tree transaction: sled logs its writes as one batch, so after a crash
        // either all of them are there or none is.
        let place = self.db.generate_id().map_err(|e| backend("generate_id", e))?.to_be_bytes();
        let outcome = (&self.claims, &self.in_flight, &self.arrival).transaction(
            |(claims, in_flight, arrival)| {
                for key in keys {
                    if let Some(bytes) = claims.get(key)? {
                        match decode::<ClaimRecord>(key, &bytes) {
                            Ok(claim) if claim.is_live(now) => return Ok(false),
                            Ok(_expired) => {}
                            Err(e) => return Err(Abort::Abort(e)),
                        }
                    }
                }
                for key in keys {
                    claims.insert(*key, ours.as_slice())?;
                }
                in_flight.insert(reply.id.as_str(), record.as_slice())?;
                if arrival.get(reply.id.as_str())?.is_none() {
                    arrival.insert(reply.id.as_str(), &place[..])?;
                }
                Ok(true)
            },
        );
        match outcome {
            Ok(true) => {
                self.flush().await?;
                Ok(true)
            }
            Ok(false) => Ok(false),
            Err(TransactionError::Abort(e)) => Err(e),
            Err(TransactionError::Storage(e)) => Err(backend("transaction", e)),
        }
    }

    async fn sweep_claims(&self, now: SystemTime) -> Result<usize, StoreError> {
        let mut removed = 0;
        for entry in self.claims.iter() {
            let (key, bytes) = entry.map_err(|e| backend("iter", e))?;
            let name = String::from_utf8_lossy(&key);
            match decode::<ClaimRecord>(&name, &bytes) {
                Ok(claim) if claim.is_live(now) => continue,
                Ok(_expired) => {}
                // Keep what we cannot read (maybe a newer build's record): deleting a
                // claim could let an event be handled twice.
                Err(e) => {
                    tracing::warn!(error = %e, "skipping unreadable claim while sweeping");
                    continue;
                }
            }
            // Only remove the value we judged expired, not a claim renewed meanwhile.
            let swapped = self
                .claims
                .compare_and_swap(&key, Some(&bytes), None::<&[u8]>)
                .map_err(|e| backend("compare_and_swap", e))?;
            if swapped.is_ok() {
                removed += 1;
            }
        }
        if removed > 0 {
            self.flush().await?;
        }
        Ok(removed)
    }

    async fn stats(&self) -> Result<StoreStats, StoreError> {
        let trees = [
            &self.threads,
            &self.replies,
            &self.claims,
            &self.in_flight,
            &self.feedback,
            &self.handoffs,
            &self.leases,
        ];
        let records = trees.iter().map(|t| t.len() as u64).sum();
        let bytes = self.db.size_on_disk().map_err(|e| backend("size_on_disk", e))?;
        Ok(StoreStats { claims: self.claims.len() as u64, records, bytes_on_disk: Some(bytes) })
    }

    async fn put_in_flight(&self, reply: &InFlightReply) -> Result<(), StoreError> {
        if self.arrival.get(reply.id.as_str()).map_err(|e| backend("get", e))?.is_none() {
            let place = self.db.generate_id().map_err(|e| backend("generate_id", e))?;
            // Only if still absent: a concurrent first write keeps its place.
            let _ = self
                .arrival
                .compare_and_swap(reply.id.as_str(), None::<&[u8]>, Some(&place.to_be_bytes()[..]))
                .map_err(|e| backend("compare_and_swap", e))?;
        }
        self.in_flight
            .insert(reply.id.as_str(), encode(reply))
            .map_err(|e| backend("insert", e))?;
        self.flush().await
    }

    async fn remove_in_flight(&self, id: &str) -> Result<(), StoreError> {
        self.in_flight.remove(id).map_err(|e| backend("remove", e))?;
        self.arrival.remove(id).map_err(|e| backend("remove", e))?;
        self.flush().await
    }

    async fn thread_queue(&self, thread: &ThreadKey) -> Result<Vec<InFlightReply>, StoreError> {
        let mut queue = Vec::new();
        for reply in self.in_flight().await? {
            if &reply.thread == thread {
                let place = self.arrival.get(reply.id.as_str()).map_err(|e| backend("get", e))?;
                let place = place.and_then(|p| <[u8; 8]>::try_from(p.as_ref()).ok());
                queue.push((place.map_or(0, u64::from_be_bytes), reply));
            }
        }
        queue.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.id.cmp(&b.1.id)));
        Ok(queue.into_iter().map(|(_, r)| r).collect())
    }

    async fn take_lease(
        &self,
        key: &str,
        holder: &str,
        now: SystemTime,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let expires_at_ms = ClaimRecord::new(now, ttl).expires_at_ms;
        let ours = encode(&LeaseRecord { holder: holder.to_owned(), expires_at_ms });
        // As `claim`: decide on what we read, swap against it, decide again if it moved.
        loop {
            let current = self.leases.get(key).map_err(|e| backend("get", e))?;
            if let Some(bytes) = &current {
                if !decode::<LeaseRecord>(key, bytes)?.may_take(holder, now) {
                    return Ok(false);
                }
            }
            let swapped = self
                .leases
                .compare_and_swap(key, current, Some(ours.as_slice()))
                .map_err(|e| backend("compare_and_swap", e))?;
            if swapped.is_ok() {
                self.flush().await?;
                return Ok(true);
            }
        }
    }

    async fn lease_holder(&self, key: &str, now: SystemTime) -> Result<Option<String>, StoreError> {
        let lease: Option<LeaseRecord> = Self::get(&self.leases, key)?;
        Ok(lease.filter(|l| l.is_live(now)).map(|l| l.holder))
    }

    async fn release_lease(&self, key: &str, holder: &str) -> Result<(), StoreError> {
        let Some(bytes) = self.leases.get(key).map_err(|e| backend("get", e))? else {
            return Ok(());
        };
        if decode::<LeaseRecord>(key, &bytes)?.holder != holder {
            return Ok(());
        }
        // Only the value we read: a lease taken over meanwhile is not ours to remove.
        let swapped = self
            .leases
            .compare_and_swap(key, Some(bytes), None::<&[u8]>)
            .map_err(|e| backend("compare_and_swap", e))?;
        if swapped.is_ok() {
            self.flush().await?;
        }
        Ok(())
    }

    async fn live_leases(&self, prefix: &str, now: SystemTime) -> Result<Vec<String>, StoreError> {
        // sled iterates in key order.
        let mut live = Vec::new();
        for entry in self.leases.scan_prefix(prefix) {
            let (key, bytes) = entry.map_err(|e| backend("scan", e))?;
            let key = String::from_utf8_lossy(&key).into_owned();
            if decode::<LeaseRecord>(&key, &bytes)?.is_live(now) {
                live.push(key);
            }
        }
        Ok(live)
    }

    async fn release_leases_of(&self, holder: &str) -> Result<usize, StoreError> {
        let mut released = 0;
        for entry in self.leases.iter() {
            let (key, bytes) = entry.map_err(|e| backend("iter", e))?;
            let name = String::from_utf8_lossy(&key);
            if decode::<LeaseRecord>(&name, &bytes)?.holder == holder {
                let swapped = self
                    .leases
                    .compare_and_swap(&key, Some(bytes), None::<&[u8]>)
                    .map_err(|e| backend("compare_and_swap", e))?;
                released += usize::from(swapped.is_ok());
            }
        }
        if released > 0 {
            self.flush().await?;
        }
        Ok(released)
    }

    async fn in_flight(&self) -> Result<Vec<InFlightReply>, StoreError> {
        let mut all = Vec::new();
        for entry in self.in_flight.iter() {
            let (key, bytes) = entry.map_err(|e| backend("iter", e))?;
            all.push(decode::<InFlightReply>(&String::from_utf8_lossy(&key), &bytes)?);
        }
        all.sort_by(oldest_first);
        Ok(all)
    }

    async fn put_handoff(&self, handoff: &Handoff) -> Result<(), StoreError> {
        self.handoffs
            .insert(handoff.thread.as_str(), encode(handoff))
            .map_err(|e| backend("insert", e))?;
        self.flush().await
    }

    async fn remove_handoff(&self, thread: &ThreadKey) -> Result<(), StoreError> {
        self.handoffs.remove(thread.as_str()).map_err(|e| backend("remove", e))?;
        self.flush().await
    }

    async fn handoffs(&self) -> Result<Vec<Handoff>, StoreError> {
        let mut all = Vec::new();
        for entry in self.handoffs.iter() {
            let (key, bytes) = entry.map_err(|e| backend("iter", e))?;
            all.push(decode::<Handoff>(&String::from_utf8_lossy(&key), &bytes)?);
        }
        all.sort_by(|a, b| a.since.cmp(&b.since).then_with(|| a.thread.cmp(&b.thread)));
        Ok(all)
    }

    async fn handoff(&self, thread: &ThreadKey) -> Result<Option<Handoff>, StoreError> {
        Self::get(&self.handoffs, thread.as_str())
    }

    async fn feedback(&self, message: &MessageId) -> Result<Option<Feedback>, StoreError> {
        Self::get(&self.feedback, message.as_str())
    }

    async fn put_feedback(
        &self,
        message: &MessageId,
        feedback: Option<Feedback>,
    ) -> Result<(), StoreError> {
        let key = message.as_str();
        match feedback {
            Some(f) => self.feedback.insert(key, encode(&f)).map(drop),
            // Cleared and never-sent read the same (`None`), so clearing removes the key.
            None => self.feedback.remove(key).map(drop),
        }
        .map_err(|e| backend("write", e))?;
        self.flush().await
    }

    async fn thread_links_after(
        &self,
        after: Option<&ThreadKey>,
        limit: usize,
    ) -> Result<Vec<(ThreadKey, ThreadLink)>, StoreError> {
        page_after(&self.threads, after.map(ThreadKey::as_str), limit, ThreadKey::new)
    }

    async fn reply_links_after(
        &self,
        after: Option<&MessageRef>,
        limit: usize,
    ) -> Result<Vec<(MessageRef, ReplyLink)>, StoreError> {
        page_after(&self.replies, after.map(MessageRef::as_str), limit, MessageRef::new)
    }

    async fn feedback_after(
        &self,
        after: Option<&MessageId>,
        limit: usize,
    ) -> Result<Vec<(MessageId, Feedback)>, StoreError> {
        page_after(&self.feedback, after.map(MessageId::as_str), limit, MessageId::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_error_names_path_and_suspects_another_process() {
        let msg = open_error_message(
            Path::new("/var/lib/bridge"),
            "IO error: could not acquire lock on \"/var/lib/bridge/db\": Os { code: 11 }",
        );
        assert!(msg.contains("/var/lib/bridge"), "{msg}");
        assert!(msg.contains("another process"), "{msg}");
        let other = open_error_message(Path::new("/x"), "IO error: permission denied");
        assert!(other.contains("/x") && !other.contains("another process"), "{other}");
    }

    #[tokio::test]
    async fn second_open_of_a_locked_store_fails_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join("store");
        let _first = SledStore::open(&path).unwrap();
        assert!(path.is_dir(), "open creates the directory");
        // `open` waits LOCK_WAIT for the lock; the same path with a short wait.
        let err = open_db(&path, Duration::from_millis(100)).unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains("another process"), "{err}");
    }

    #[tokio::test]
    async fn unreadable_record_is_corrupt_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        store.threads.insert("t1", &br#"{"v":7,"data":{}}"#[..]).unwrap();
        let err = store.thread_link(&ThreadKey::new("t1")).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::Corrupt { key, reason } if key == "t1" && reason.contains("version 7")),
            "{err:?}"
        );
        // A claim we cannot read is neither overwritten nor swept.
        store.claims.insert("c1", &b"junk"[..]).unwrap();
        let now = SystemTime::now();
        assert!(store.claim("c1", now, Duration::from_secs(1)).await.is_err());
        assert_eq!(store.sweep_claims(now + Duration::from_secs(9)).await.unwrap(), 0);
        assert!(store.claims.get("c1").unwrap().is_some());
    }
}
