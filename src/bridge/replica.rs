//! Which process this is, when several replicas share one store, and whether another
//! one is still alive.
//!
//! Each process gets a fresh replica id at start and holds the lease `replica:<id>` in
//! the store, renewed by a heartbeat ([`Replica::heartbeat`]) every quarter of its ttl.
//! The in-flight records it writes name it ([`Replica::stamp`]); other replicas leave
//! those alone while the lease lives and take them over once it expires
//! (`bridge::recovery`). A replica stopping gracefully releases every lease it holds
//! ([`Replica::leave`]), so the others need not wait for expiry.
//!
//! With a store that is not shared (sled, memory) the process is the only replica:
//! nothing is leased, records carry no replica, and every check here answers at once
//! without touching the store, so the single-process bridge pays nothing for this.

use crate::store::{Store, StoreError};
use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

/// How long a replica's lease lasts without a heartbeat, by default. A dead replica's
/// replies are taken over within `ttl + ttl / 4` (expiry, then the next scan): 10 s.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(8);

/// The store key prefix of the replicas' own leases (`replica:<id>`): counting the
/// live ones counts the replicas.
pub const LEASE_PREFIX: &str = "replica:";

/// How soon a failed renewal of the replica lease is tried again (see
/// [`Replica::heartbeat`]).
const RENEW_RETRY: Duration = Duration::from_millis(500);

/// This process, as the other replicas see it.
pub struct Replica {
    id: String,
    /// The shared store; `None` when this process is the only replica.
    store: Option<Arc<dyn Store>>,
    ttl: Duration,
    /// Replicas alive at the last heartbeat, this one included (at least 1).
    live: AtomicUsize,
    /// Replies this replica is taking over right now (outside any thread worker), so
    /// that its own workers wait for them like for another replica's.
    closing: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for Replica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replica")
            .field("id", &self.id)
            .field("shared", &self.store.is_some())
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl Replica {
    /// The only replica: no store is shared, nothing is leased.
    pub fn solo() -> Arc<Self> {
        Arc::new(Self {
            id: new_id(),
            store: None,
            ttl: DEFAULT_LEASE_TTL,
            live: AtomicUsize::new(1),
            closing: Mutex::default(),
        })
    }

    /// Joins the replicas of `store` with a lease of `ttl` (taken now; keep it alive
    /// with [`Self::heartbeat`]). A store that is not shared makes a [`Self::solo`].
    pub async fn join(store: Arc<dyn Store>, ttl: Duration) -> Result<Arc<Self>, StoreError> {
        if !store.is_shared() {
            return Ok(Self::solo());
        }
        let replica = Self {
            id: new_id(),
            store: Some(store),
            ttl,
            live: AtomicUsize::new(1),
            closing: Mutex::default(),
        };
        replica.renew().await?;
        tracing::info!(replica = %replica.id, ttl_ms = ttl.as_millis() as u64, "joined the replicas");
        crate::ops::metrics::leases_held(1.0);
        Ok(Arc::new(replica))
    }

    /// This replica's id (unique per process start).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether other replicas may share the store (leases and takeover apply).
    pub fn is_shared(&self) -> bool {
        self.store.is_some()
    }

    /// The lease ttl; heartbeats and scans run every quarter of it.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// What an in-flight record written now names as its replica: this one when the
    /// store is shared, nothing otherwise (one process: every record is its own).
    pub fn stamp(&self) -> Option<String> {
        self.store.as_ref().map(|_| self.id.clone())
    }

    /// How many replicas were alive at the last heartbeat, this one included: budgets
    /// the platform counts per app are split between them (`bridge::pacing`). 1 alone.
    pub fn live_replicas(&self) -> usize {
        self.live.load(Ordering::Relaxed).max(1)
    }

    /// Marks reply `id` as being taken over by this replica (`true`) or done (`false`).
    pub(crate) fn set_closing(&self, id: &str, closing: bool) {
        let mut set = self.closing.lock().unwrap_or_else(PoisonError::into_inner);
        if closing {
            set.insert(id.to_owned());
        } else {
            set.remove(id);
        }
    }

    /// Whether this replica is taking reply `id` over right now.
    pub(crate) fn is_closing(&self, id: &str) -> bool {
        self.closing.lock().unwrap_or_else(PoisonError::into_inner).contains(id)
    }

    /// The store, when shared.
    pub(crate) fn shared_store(&self) -> Option<&Arc<dyn Store>> {
        self.store.as_ref()
    }

    fn key(id: &str) -> String {
        format!("{LEASE_PREFIX}{id}")
    }

    async fn renew(&self) -> Result<(), StoreError> {
        let Some(store) = &self.store else { return Ok(()) };
        let key = Self::key(&self.id);
        let now = SystemTime::now();
        if !store.take_lease(&key, &self.id, now, self.ttl).await? {
            // Nobody else takes a key with our fresh id; keep going and say so.
            tracing::error!(replica = %self.id, "another process holds this replica's lease");
        }
        let live = store.live_leases(LEASE_PREFIX, now).await?.len();
        crate::ops::metrics::replicas_alive(live.max(1));
        if self.live.swap(live.max(1), Ordering::Relaxed) != live.max(1) {
            tracing::info!(replica = %self.id, live, "replicas alive changed");
        }
        Ok(())
    }

    /// Whether replica `id` is alive (its lease unexpired). This replica always is.
    pub async fn is_alive(&self, id: &str) -> Result<bool, StoreError> {
        let Some(store) = &self.store else { return Ok(false) };
        if id == self.id {
            return Ok(true);
        }
        Ok(store.lease_holder(&Self::key(id), SystemTime::now()).await?.is_some())
    }

    /// Renews the lease every quarter of its ttl until `stop`. A failed renewal is
    /// retried every [`RENEW_RETRY`] until one succeeds: when the database comes back
    /// after an outage every replica's lease is close to expiry, and the first to
    /// look would take the others' replies over if they waited a whole beat. If the
    /// store stays unreachable past the ttl, the others will take this replica's
    /// replies over (they cannot tell a partition from a death).
    pub async fn heartbeat(self: Arc<Self>, stop: impl Future<Output = ()>) {
        if self.store.is_none() {
            return;
        }
        let beats = async {
            let beat = self.ttl / 4;
            let mut wait = beat;
            let mut failing = false;
            loop {
                tokio::time::sleep(wait).await;
                match self.renew().await {
                    Ok(()) => {
                        if std::mem::take(&mut failing) {
                            tracing::info!(replica = %self.id, "renewed the replica lease again");
                        }
                        wait = beat;
                    }
                    Err(e) => {
                        if !std::mem::replace(&mut failing, true) {
                            tracing::warn!(replica = %self.id, error = %e, "could not renew the replica lease; retrying");
                        }
                        wait = RENEW_RETRY.min(beat);
                    }
                }
            }
        };
        tokio::select! {
            () = beats => {},
            () = stop => {},
        }
    }

    /// Releases every lease this replica holds (its own, and any thread's), so the
    /// others take over at once. Call last, when its replies are finished or closed.
    pub async fn leave(&self) {
        let Some(store) = &self.store else { return };
        match store.release_leases_of(&self.id).await {
            Ok(n) => {
                tracing::info!(replica = %self.id, released = n, "left the replicas");
                crate::ops::metrics::leases_held(-(n as f64));
            }
            Err(e) => tracing::warn!(error = %e, "could not release the leases; they will expire"),
        }
    }
}

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
