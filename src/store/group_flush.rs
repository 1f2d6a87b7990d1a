//! Group commit for sled: writes that arrive together share one `fsync`.
//!
//! Every sled write must be durable before its call returns (see the module docs of
//! [`super::sled_store`]), and a flush costs an `fsync` (0.3 to 0.5 ms here). With many
//! questions at once, each write used to pay for its own flush, one after another on
//! tokio's blocking pool. A flush writes *everything* written so far, so one flush can
//! serve every writer that wrote before it started: writers take a ticket after
//! writing, one flusher thread flushes, and a flush that *started* after a ticket was
//! taken makes that ticket durable. While a flush runs, new tickets wait for the next
//! one, which starts as soon as the running one ends and covers all of them.
//!
//! "Acknowledged means durable" holds: no writer returns before a flush that began
//! after its write has completed. A failed flush fails every ticket it covered.

use super::StoreError;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// How a sled store makes writes durable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FlushMode {
    /// Concurrent writes share flushes (the default).
    #[default]
    Grouped,
    /// Every write flushes on its own (the old way; kept for the load bench's
    /// comparison).
    EachWrite,
}

/// Shared by a store's writers.
pub(super) struct GroupFlush {
    db: sled::Db,
    /// Flushes run so far (for the tests: fewer than the writes they served).
    flushes: std::sync::atomic::AtomicU64,
    state: Mutex<State>,
    /// The tickets the last flush covered (all up to this one), and its error if it
    /// failed. Any *successful* flush covering a ticket makes it durable, so a writer
    /// that wakes after a failed flush and a good one may return success.
    done: watch::Sender<(u64, Option<String>)>,
}

#[derive(Default)]
struct State {
    /// The last ticket handed out.
    issued: u64,
    /// Whether the flusher thread is running.
    flushing: bool,
}

impl GroupFlush {
    pub(super) fn new(db: sled::Db) -> Arc<Self> {
        Arc::new(Self {
            db,
            state: Mutex::new(State::default()),
            flushes: std::sync::atomic::AtomicU64::new(0),
            done: watch::Sender::new((0, None)),
        })
    }

    /// Returns once everything written before this call is durable.
    pub(super) async fn flush(self: &Arc<Self>) -> Result<(), StoreError> {
        let mut done = self.done.subscribe();
        let (ticket, start) = {
            let mut state = self.lock();
            state.issued += 1;
            let start = !state.flushing;
            state.flushing = true;
            (state.issued, start)
        };
        if start {
            let me = Arc::clone(self);
            // The blocking pool: sled's flush waits for the disk (see sled_store).
            tokio::task::spawn_blocking(move || me.run());
        }
        let reached = done
            .wait_for(|(covered, _)| *covered >= ticket)
            .await
            .map_err(|_| StoreError::Backend("the sled flusher stopped".into()))?;
        match &reached.1 {
            Some(error) => Err(StoreError::Backend(format!("sled flush failed: {error}"))),
            None => Ok(()),
        }
    }

    /// The flusher: flushes until no ticket is waiting.
    fn run(&self) {
        loop {
            // Every ticket issued before this flush starts is covered by it.
            let covers = self.lock().issued;
            let error = self.db.flush().err().map(|e| e.to_string());
            self.flushes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.done.send_replace((covers, error));
            let mut state = self.lock();
            if state.issued == covers {
                state.flushing = false;
                return;
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    /// 200 writers at once: each returns only after a flush that started after its
    /// write, and they share far fewer flushes than there are writes.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_share_flushes_and_each_waits_for_one() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let group = GroupFlush::new(db.clone());
        let writers: Vec<_> = (0..200)
            .map(|i| {
                let (db, group) = (db.clone(), Arc::clone(&group));
                tokio::spawn(async move {
                    db.insert(format!("k{i}"), &b"v"[..]).unwrap();
                    group.flush().await.unwrap();
                    i
                })
            })
            .collect();
        for w in writers {
            w.await.unwrap();
        }
        let flushes = group.flushes.load(Ordering::Relaxed);
        assert!((1..200).contains(&flushes), "{flushes} flushes for 200 writes");
        // One more write costs exactly one more flush, whether the flusher was still
        // finishing (it loops once more) or had stopped (a new one starts).
        db.insert("late", &b"v"[..]).unwrap();
        group.flush().await.unwrap();
        assert_eq!(group.flushes.load(Ordering::Relaxed), flushes + 1);
    }
}
