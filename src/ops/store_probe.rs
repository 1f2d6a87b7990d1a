//! The store's part of readiness: a background task reads the store every
//! [`PROBE_EVERY`], each read bounded by [`PROBE_TIMEOUT`], and `/readyz` reports the
//! last result.
//!
//! Why not read the store in `/readyz` itself: an orchestrator probes every few seconds
//! per replica, and anyone who can reach the port could make the bridge hit its database
//! at will; and a read waits up to the pool's 10 s for a connection while the database
//! is unreachable, longer than any probe's timeout. The task makes the cost one cheap
//! read per period whatever the traffic, and the answer instant.

use super::health::Readiness;
use crate::store::Store;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often the store is read.
pub const PROBE_EVERY: Duration = Duration::from_secs(2);

/// How long one read may take before it counts as a failure: a database that accepts
/// connections but does not answer is as unready as one that refuses them.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// A probe's result and when it finished.
type Found = (Instant, Result<(), String>);

/// What the probe last found. Cheap to clone; clones share it.
#[derive(Clone, Debug, Default)]
pub struct StoreProbe {
    last: Arc<Mutex<Option<Found>>>,
}

impl StoreProbe {
    /// Records a probe's result, finished at `at`.
    pub fn record(&self, at: Instant, result: Result<(), String>) {
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some((at, result));
    }

    /// Why the store is not ready at `now`, or `None`: not probed yet, the last probe
    /// failed, or the last success is so old that the probing itself must be stuck.
    pub fn verdict(&self, now: Instant) -> Option<String> {
        let stale_after = PROBE_EVERY + PROBE_TIMEOUT * 2;
        match &*self.last.lock().unwrap_or_else(|p| p.into_inner()) {
            None => Some("not reached yet".into()),
            Some((_, Err(e))) => Some(e.clone()),
            Some((at, Ok(()))) if now.saturating_duration_since(*at) > stale_after => {
                Some(format!("no answer for {}s", now.saturating_duration_since(*at).as_secs()))
            }
            Some((_, Ok(()))) => None,
        }
    }

    /// Registers this probe's verdict with `readiness` as `store`.
    pub fn register(&self, readiness: &Readiness) {
        let probe = self.clone();
        readiness.add_probe("store", move |now| probe.verdict(now));
    }
}

/// One bounded read of a key that never exists: it exercises the connection and the
/// table without changing anything.
pub async fn probe_once(store: &dyn Store, timeout: Duration) -> Result<(), String> {
    let key = crate::bridge::ids::ThreadKey::new("readyz:probe");
    match tokio::time::timeout(timeout, store.thread_link(&key)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {}s", timeout.as_secs())),
    }
}

/// Probes `store` every `every` (the first time at once) into `probe`, until `shutdown`.
/// Logs a change of state once, not every failed probe.
pub async fn run(
    store: Arc<dyn Store>,
    probe: StoreProbe,
    every: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let probing = async {
        let mut was_ok = true;
        loop {
            let result = probe_once(store.as_ref(), PROBE_TIMEOUT).await;
            match (&result, was_ok) {
                (Err(e), true) => tracing::warn!(error = %e, "the store does not answer"),
                (Ok(()), false) => tracing::info!("the store answers again"),
                _ => {}
            }
            was_ok = result.is_ok();
            probe.record(Instant::now(), result);
            tokio::time::sleep(every).await;
        }
    };
    tokio::select! {
        () = probing => {}
        () = shutdown => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        let probe = StoreProbe::default();
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(probe.verdict(t0).as_deref(), Some("not reached yet"));
        probe.record(t0, Ok(()));
        assert_eq!(probe.verdict(at(7)), None, "fresh enough: every + 2 timeouts");
        assert_eq!(probe.verdict(at(9)).as_deref(), Some("no answer for 9s"));
        probe.record(at(10), Err("postgres: no connection".into()));
        assert_eq!(probe.verdict(at(10)).as_deref(), Some("postgres: no connection"));
        probe.record(at(12), Ok(()));
        assert_eq!(probe.verdict(at(12)), None, "recovers with the next good probe");
    }

    /// A probe of a store that answers passes; a failed one makes the bridge not ready,
    /// under the name `store`.
    #[tokio::test]
    async fn a_failed_probe_makes_the_bridge_not_ready() {
        let store: Arc<dyn Store> = Arc::new(crate::store::MemoryStore::new());
        assert_eq!(probe_once(store.as_ref(), PROBE_TIMEOUT).await, Ok(()));
        let readiness = Readiness::default();
        let probe = StoreProbe::default();
        probe.register(&readiness);
        let now = Instant::now();
        probe.record(now, Err("no answer within 3s".into()));
        let reasons = readiness.check(now, Ok(()), Some(now)).unwrap_err();
        assert_eq!(reasons, vec!["store: no answer within 3s"]);
        probe.record(now, Ok(()));
        assert_eq!(readiness.check(now, Ok(()), Some(now)), Ok(()));
    }
}
