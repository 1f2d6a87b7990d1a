//! Expired claims are swept on a timer, so the store holds the last `dedupe_ttl` of
//! events rather than every event ever handled; each sweep also reports the store's
//! size in the metrics.

use super::{Store, StoreError, StoreStats};
use crate::ops::metrics;
use std::future::Future;
use std::time::{Duration, SystemTime};

/// What one sweep did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sweep {
    /// Claims removed.
    pub removed: usize,
    /// What the store holds afterwards.
    pub stats: StoreStats,
}

/// Removes the claims expired at `now` and records the store's size in the metrics.
pub async fn sweep_once(store: &dyn Store, now: SystemTime) -> Result<Sweep, StoreError> {
    let removed = store.sweep_claims(now).await?;
    let stats = store.stats().await?;
    metrics::store_swept(removed, &stats);
    Ok(Sweep { removed, stats })
}

/// Sweeps every `every` (the first time at once) until `shutdown` resolves. `now` is the
/// clock that claims expire by: `SystemTime::now` in the bridge, a test's own clock in
/// tests. A failed sweep is logged and tried again next time; it never stops the bridge.
pub async fn run(
    store: &dyn Store,
    every: Duration,
    now: impl Fn() -> SystemTime,
    shutdown: impl Future<Output = ()>,
) {
    let sweeping = async {
        loop {
            match sweep_once(store, now()).await {
                Ok(sweep) => tracing::debug!(?sweep, "swept expired claims"),
                Err(e) => tracing::warn!(error = %e, "could not sweep expired claims"),
            }
            tokio::time::sleep(every).await;
        }
    };
    tokio::select! {
        () = sweeping => {}
        () = shutdown => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{MemoryStore, SledStore};
    use std::sync::Arc;

    /// A day of traffic in ten-minute steps, 20 events a step, claims kept for an hour
    /// (a short TTL standing for the default day): swept every step, the sled store
    /// never holds more than the last hour's claims plus one step's; unswept, it holds
    /// every claim of the day.
    #[tokio::test]
    async fn a_day_of_claims_stays_bounded() {
        const STEP: Duration = Duration::from_secs(600);
        const PER_STEP: u64 = 20;
        const STEPS: u64 = 24 * 6;
        let ttl = Duration::from_secs(3600);
        let dir = tempfile::tempdir().unwrap();
        let swept = SledStore::open(dir.path()).unwrap();
        let unswept = MemoryStore::new();
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut most = 0;
        for step in 0..STEPS {
            let now = start + STEP * step as u32;
            for i in 0..PER_STEP {
                let key = format!("event:slack:Ev{step}-{i}");
                assert!(swept.claim(&key, now, ttl).await.unwrap());
                assert!(unswept.claim(&key, now, ttl).await.unwrap());
            }
            let sweep = sweep_once(&swept, now).await.unwrap();
            most = most.max(sweep.stats.claims);
            assert_eq!(sweep.stats.records, sweep.stats.claims, "claims are all it holds");
        }
        // Claims live for six steps and expire in the seventh.
        let bound = PER_STEP * (ttl.as_secs() / STEP.as_secs() + 1);
        assert!(most <= bound, "at most {bound} claims held, saw {most}");
        assert!(most >= PER_STEP * 6, "an hour of claims is kept: {most}");
        assert_eq!(unswept.stats().await.unwrap().claims, PER_STEP * STEPS);
        assert!(swept.stats().await.unwrap().bytes_on_disk.is_some());
    }

    /// The timer, on tokio's paused clock: claims made at the start are gone once their
    /// TTL and one sweep period have passed, and not before.
    #[tokio::test(start_paused = true)]
    async fn sweeps_on_its_timer() {
        let store = Arc::new(MemoryStore::new());
        let start = tokio::time::Instant::now();
        let epoch = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let clock = move || epoch + start.elapsed();
        let ttl = Duration::from_secs(60);
        for i in 0..10 {
            assert!(store.claim(&format!("event:{i}"), clock(), ttl).await.unwrap());
        }
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let sweeper = {
            let store = store.clone();
            tokio::spawn(async move {
                let stopped = async move {
                    let _ = stopped.await;
                };
                run(store.as_ref(), Duration::from_secs(30), clock, stopped).await;
            })
        };
        tokio::time::sleep(Duration::from_secs(45)).await;
        assert_eq!(store.stats().await.unwrap().claims, 10, "not expired yet");
        // Expired at 60 s; the sweep at 90 s removes them.
        tokio::time::sleep(Duration::from_secs(50)).await;
        assert_eq!(store.stats().await.unwrap().claims, 0, "swept after expiry");
        let _ = stop.send(());
        sweeper.await.unwrap();
    }
}
