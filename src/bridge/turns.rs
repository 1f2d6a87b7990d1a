//! A thread's turn across replicas: one replica at a time answers in a thread, and
//! questions are answered in the order they arrived, whichever replica took them.
//!
//! Within a process, [`super::threads`] already runs a thread's jobs one after the
//! other. Across replicas sharing the store, a thread's worker takes its turn before
//! each job ([`take`]):
//! 1. For a question: the thread's queue in the store is its in-flight records in
//!    arrival order ([`Store::thread_queue`](crate::store::Store::thread_queue)). The
//!    worker waits while a record of *another* replica is ahead of its own (a dead
//!    replica's is taken over and removed within the takeover bound, a live one's is
//!    answered), or one this replica is taking over right now. Other records of this
//!    replica ahead of it are queued behind it in this very worker (two deliveries
//!    raced through intake), so waiting for them would wait forever: it goes first, as
//!    a single process would.
//! 2. Then it takes the thread's lease `thread:<key>` (waiting while another replica
//!    holds it), renews it while the job runs, and releases it right after. Released per
//!    job rather than when the worker idles: a worker holding the lease while its next
//!    question waits for another replica's earlier one would wait on a replica that
//!    waits on it.
//!
//! The store is polled while waiting ([`POLL`], backing off to [`POLL_MAX`]): another
//! process's progress is not an event this one can await. A turn waits at most [`MAX_WAIT`], then goes ahead with a
//! warning: late order beats a question never answered.
//!
//! With a store that is not shared, [`take`] returns at once without a store call: the
//! in-process worker is the whole order, and the single-process bridge pays nothing.

use super::ids::ThreadKey;
use super::replica::Replica;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::task::JoinHandle;

/// How soon a waiting turn first looks at the store again; each look after doubles the
/// wait up to [`POLL_MAX`], so that many questions waiting behind long answers do not
/// each query the database ten times a second.
const POLL: Duration = Duration::from_millis(50);

/// The longest wait between two looks.
const POLL_MAX: Duration = Duration::from_millis(400);

/// The longest a turn waits before going ahead anyway.
const MAX_WAIT: Duration = Duration::from_secs(300);

/// A thread's turn, held while a job runs. Release it with [`Turn::release`].
pub(super) struct Turn {
    held: Option<Held>,
}

struct Held {
    replica: Arc<Replica>,
    key: String,
    renewing: JoinHandle<()>,
}

/// Waits for this replica's turn in `thread`; `record` is the in-flight record of the
/// question the job answers, if it is one.
pub(super) async fn take(replica: &Arc<Replica>, thread: &ThreadKey, record: Option<&str>) -> Turn {
    if !replica.is_shared() {
        return Turn { held: None };
    }
    let started = Instant::now();
    let key = format!("thread:{thread}");
    let mut warned = false;
    let mut poll = POLL;
    loop {
        let ready = match turn_is_ours(replica, thread, record, &key).await {
            Ok(ready) => ready,
            Err(e) => {
                tracing::warn!(error = %e, %thread, "could not check the thread's turn");
                false
            }
        };
        if ready {
            crate::ops::metrics::leases_held(1.0);
            let renewing = tokio::spawn(renew(Arc::clone(replica), key.clone()));
            return Turn { held: Some(Held { replica: Arc::clone(replica), key, renewing }) };
        }
        if started.elapsed() > MAX_WAIT {
            tracing::warn!(%thread, "waited too long for the thread's turn; answering anyway");
            return Turn { held: None };
        }
        if !warned && started.elapsed() > replica.ttl() * 2 {
            warned = true;
            tracing::info!(%thread, "still waiting for another replica's turn in the thread");
        }
        tokio::time::sleep(poll).await;
        poll = (poll * 2).min(POLL_MAX);
    }
}

/// Whether no other replica's question is ahead of `record`, and the lease is ours.
async fn turn_is_ours(
    replica: &Replica,
    thread: &ThreadKey,
    record: Option<&str>,
    key: &str,
) -> Result<bool, crate::store::StoreError> {
    let Some(store) = replica.shared_store() else { return Ok(true) };
    if let Some(record) = record {
        let queue = store.thread_queue(thread).await?;
        let ahead = queue.iter().take_while(|r| r.id != record);
        // Not in the queue at all (closed meanwhile): nothing to wait for.
        let found = queue.iter().any(|r| r.id == record);
        let waits_for = |r: &crate::store::InFlightReply| {
            r.replica.as_deref() != Some(replica.id()) || replica.is_closing(&r.id)
        };
        if found && ahead.into_iter().any(waits_for) {
            return Ok(false);
        }
    }
    store.take_lease(key, replica.id(), SystemTime::now(), replica.ttl()).await
}

/// Renews the thread's lease every quarter of its ttl while the job runs.
async fn renew(replica: Arc<Replica>, key: String) {
    let Some(store) = replica.shared_store() else { return };
    loop {
        tokio::time::sleep(replica.ttl() / 4).await;
        match store.take_lease(&key, replica.id(), SystemTime::now(), replica.ttl()).await {
            Ok(true) => {}
            Ok(false) => tracing::warn!(%key, "lost a thread's lease while answering in it"),
            Err(e) => tracing::warn!(error = %e, %key, "could not renew a thread's lease"),
        }
    }
}

impl Drop for Held {
    // A job cut off at shutdown drops its turn: stop renewing (the replica's leave, or
    // expiry, frees the lease).
    fn drop(&mut self) {
        self.renewing.abort();
    }
}

impl Turn {
    /// Ends the turn: the thread's lease is released at once for the next replica.
    pub(super) async fn release(self) {
        let Some(held) = self.held else { return };
        if let Some(store) = held.replica.shared_store() {
            if let Err(e) = store.release_lease(&held.key, held.replica.id()).await {
                tracing::warn!(error = %e, key = %held.key, "could not release a thread's lease");
            }
        }
        crate::ops::metrics::leases_held(-1.0);
    }
}
