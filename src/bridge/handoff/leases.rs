//! One relay per thread across replicas: the relay leases (`handoff:<thread>`) and
//! what the replicas read of each other's relays.
//!
//! A relay takes its thread's lease before it opens the socket and renews it every
//! quarter of the ttl; the replica that does not get it leaves the thread to the one
//! that did. At each takeover scan every replica starts the relays whose lease expired
//! without the relay ending ([`adopt_orphans`]), so a dead replica's relays run again
//! within the takeover bound (and those of a replica stopped by SIGTERM, which releases
//! its leases, at the next scan). A relay that finds its lease taken (its replica was cut off from
//! the store past the ttl) stops quietly and leaves its record to the one that took it.
//! Without a shared store every function here answers at once without a store call.

use super::{resume, Inner};
use crate::bridge::ids::ThreadKey;
use crate::store::Handoff;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::SystemTime;
use tokio::sync::Notify;

/// The store key prefix of relay leases (`handoff:<thread>`): one replica relays a
/// thread.
const LEASE_PREFIX: &str = "handoff:";

/// `Some(agent)` when a person handles `thread`'s conversation (their name when
/// known): as this replica's relay knows it, or, when another replica relays the
/// thread, as that relay recorded it, so that every replica answers a question there
/// the same way (marked delivered, no placeholder).
pub(in crate::bridge) async fn handled_by(
    inner: &Inner,
    thread: &ThreadKey,
) -> Option<Option<String>> {
    if let Some(agent) = inner.relays.handled_by(thread) {
        return Some(agent);
    }
    if !inner.cfg.replica.is_shared() || inner.relays.runs(thread) {
        return None;
    }
    match inner.store.handoff(thread).await {
        Ok(Some(h)) if !h.watching => Some(None),
        Ok(_) => None,
        Err(e) => {
            tracing::debug!(error = %e, %thread, "could not read the thread's handoff record");
            None
        }
    }
}

/// The store lease of `thread`'s relay.
fn lease_key(thread: &ThreadKey) -> String {
    format!("{LEASE_PREFIX}{thread}")
}

/// Takes `thread`'s relay lease for this replica: whether this replica is to relay it
/// (always, when the store is not shared). If the store cannot be asked, it relays:
/// a second socket for a while is harmless (each agent message is claimed before it
/// is posted), a person's replies not shown are not.
pub(super) async fn take_lease(inner: &Inner, thread: &ThreadKey) -> bool {
    let replica = &inner.cfg.replica;
    let Some(store) = replica.shared_store() else { return true };
    let key = lease_key(thread);
    match store.take_lease(&key, replica.id(), SystemTime::now(), replica.ttl()).await {
        Ok(taken) => taken,
        Err(e) => {
            tracing::warn!(error = %e, %thread, "could not take a handoff relay's lease; relaying anyway");
            true
        }
    }
}

/// Renews `thread`'s relay lease every quarter of the ttl; never returns. When another
/// replica holds it (this one was cut off from the store past the ttl and the others
/// adopted the relay), sets `lost` and stops the relay. A renewal the store cannot
/// answer is tried again at the next beat.
pub(super) async fn keep_lease(
    inner: &Inner,
    thread: &ThreadKey,
    lost: &AtomicBool,
    stop: &Notify,
) -> std::convert::Infallible {
    let replica = &inner.cfg.replica;
    if let Some(store) = replica.shared_store() {
        let key = lease_key(thread);
        loop {
            tokio::time::sleep(replica.ttl() / 4).await;
            match store.take_lease(&key, replica.id(), SystemTime::now(), replica.ttl()).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(%thread, "another replica took this thread's handoff relay; stopping this one");
                    lost.store(true, Ordering::Relaxed);
                    stop.notify_one();
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, %thread, "could not renew a handoff relay's lease")
                }
            }
        }
    }
    std::future::pending().await
}

/// Releases `thread`'s relay lease, so another replica may relay it at once.
pub(super) async fn release_lease(inner: &Inner, thread: &ThreadKey) {
    let replica = &inner.cfg.replica;
    let Some(store) = replica.shared_store() else { return };
    if let Err(e) = store.release_lease(&lease_key(thread), replica.id()).await {
        tracing::debug!(error = %e, %thread, "could not release a handoff relay's lease; it will expire");
    }
}

/// How often a takeover scan reads every handoff record rather than only those whose
/// lease went since the last scan: a relay whose lease lived less than a scan apart (it
/// started and was released within one, at a SIGTERM) or that never got one (the store
/// did not answer) is not missed for longer than this many scans.
pub(super) const FULL_SCAN_EVERY: u64 = 16;

/// Starts the relays of this platform that should run and that no replica runs: at
/// each takeover scan, those whose lease went since the last scan without the relay
/// ending (a dead replica's, or a stopped one's), reading only their records, so that a
/// scan costs one query for the live lease keys however many threads are listened to;
/// at every [`FULL_SCAN_EVERY`]th scan, every recorded relay no live lease covers. A
/// relay that ends removes its record before it releases its lease, so its thread is
/// not started again. Those past their window are forgotten. Returns how many it
/// started.
pub(in crate::bridge) async fn adopt_orphans(
    inner: &Arc<Inner>,
) -> Result<usize, crate::store::StoreError> {
    let Some(store) = inner.cfg.replica.shared_store() else { return Ok(0) };
    let live: HashSet<String> =
        store.live_leases(LEASE_PREFIX, SystemTime::now()).await?.into_iter().collect();
    // Not at the first scan: the start resumed every record a moment ago.
    let scan = inner.relays.scans.fetch_add(1, Ordering::Relaxed) + 1;
    let full = scan % FULL_SCAN_EVERY == 0;
    let gone: Vec<String> = {
        let mut seen = inner.relays.leases_seen.lock().unwrap_or_else(PoisonError::into_inner);
        let gone = seen.difference(&live).cloned().collect();
        seen.clone_from(&live);
        gone
    };
    let candidates: Vec<Handoff> = if full {
        inner.store.handoffs().await?
    } else {
        let mut records = Vec::new();
        for key in gone {
            let Some(thread) = key.strip_prefix(LEASE_PREFIX) else { continue };
            if let Some(h) = inner.store.handoff(&ThreadKey::new(thread)).await? {
                records.push(h);
            }
        }
        records
    };
    let mut adopted = 0;
    for h in candidates {
        if h.platform != inner.adapter.name()
            || inner.relays.runs(&h.thread)
            || live.contains(&lease_key(&h.thread))
        {
            continue;
        }
        let thread = h.thread.clone();
        if resume(inner, h).await {
            adopted += usize::from(inner.relays.runs(&thread));
        } else {
            inner.store.remove_handoff(&thread).await?;
        }
    }
    if adopted > 0 {
        tracing::info!(adopted, "started handoff relays no replica was running");
    }
    Ok(adopted)
}
