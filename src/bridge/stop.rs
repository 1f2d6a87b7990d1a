//! Stop requests for replies that are streaming.
//!
//! A Stop press cannot wait in its thread's queue: the worker it would wait for is the
//! one streaming the answer. So each streaming reply registers here under its
//! in-flight record's id, and a press signals it directly. The signal is a stored
//! permit ([`Notify::notify_one`]), so a press that comes before the stream is being
//! read (while the conversation is still being made) is not lost.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// The streaming replies that can be stopped, by in-flight record id.
#[derive(Default)]
pub(super) struct Stops {
    running: Mutex<HashMap<String, Arc<Notify>>>,
}

impl Stops {
    /// Registers reply `id`; it can be stopped until the guard is dropped.
    pub(super) fn register(self: &Arc<Self>, id: &str) -> StopGuard {
        let signal = Arc::new(Notify::new());
        self.lock().insert(id.to_string(), Arc::clone(&signal));
        StopGuard { stops: Arc::clone(self), id: id.to_string(), signal }
    }

    /// Asks reply `id` to stop. False when it is not streaming (finished, stopped
    /// already, or never here): a replayed press does nothing.
    pub(super) fn stop(&self, id: &str) -> bool {
        match self.lock().remove(id) {
            Some(signal) => {
                signal.notify_one();
                true
            }
            None => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Notify>>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A registered reply; unregisters it when dropped.
pub(super) struct StopGuard {
    stops: Arc<Stops>,
    id: String,
    signal: Arc<Notify>,
}

impl StopGuard {
    /// Resolves when someone asked this reply to stop (at once if they did already).
    pub(super) async fn requested(&self) {
        self.signal.notified().await
    }
}

impl Drop for StopGuard {
    fn drop(&mut self) {
        self.stops.lock().remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;
    use std::time::Duration;

    #[tokio::test]
    async fn a_stop_reaches_its_reply_once_even_before_it_waits() {
        let stops = Arc::new(Stops::default());
        let guard = stops.register("r1");
        let other = stops.register("r2");
        assert!(stops.stop("r1"), "a streaming reply stops");
        assert!(!stops.stop("r1"), "a replayed stop does nothing");
        assert!(!stops.stop("nope"));
        // The permit was stored before anyone waited.
        tokio::time::timeout(Duration::from_secs(5), guard.requested()).await.unwrap();
        assert!(other.requested().now_or_never().is_none(), "the other reply was not stopped");
        drop(other);
        assert!(!stops.stop("r2"), "a finished reply is gone");
    }
}
