//! Intake lanes: gateway events handled concurrently across threads, in arrival order
//! within one.
//!
//! Handing an event to the core waits on a durable store write (the claim and the
//! in-flight record). One event at a time, N questions at once wait N writes in a row
//! before the last of them reaches SiteAssist (the load bench, issue #17). The rules
//! only need order where events can affect each other: a follow-up must not be
//! handled before the question that opened its thread was claimed, or it looks like a
//! message in someone else's thread. So each event goes into the lane of the Discord
//! channel (thread, post or DM) it lands in: a lane runs its events one after another,
//! in the order they were pushed, and different lanes run at once, at most `limit`
//! events at a time. A lane's task exits when its queue is empty, so an idle thread
//! leaves nothing behind.

use futures_util::future::BoxFuture;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;

/// How many events the Discord ingress hands to the core at once by default. Each
/// holds a store write (an fsync shared with the others waiting) and, for a question,
/// starts its reply, so this bounds how many questions a burst opens per flush.
/// Measured by the load bench on 2 cores, 1,000 questions at once (2026-12-05): first
/// text p99 1.6 s with 16, 1.1 to 1.2 s with 64, 1.0 s with 256, at a p50 of 0.6, 0.7
/// to 0.75 and 0.8 to 0.9 s. 16 was chosen on 2026-12-04 because 64 lost replies at
/// 10,000; those were the fakes' accept queue overflowing, not the bridge, and with
/// that mended 64 lost none at 10,000 either.
pub(crate) const DEFAULT_LIMIT: usize = 64;

type Queues = Mutex<HashMap<u64, mpsc::UnboundedSender<BoxFuture<'static, ()>>>>;

/// Per-key ordered, bounded concurrent execution (see the module docs).
pub(crate) struct Lanes {
    queues: Arc<Queues>,
    permits: Arc<Semaphore>,
    tasks: JoinSet<()>,
    /// Turns true when the remaining queued work is to be dropped (shutdown): work
    /// already started finishes, work not started never starts.
    stop: watch::Sender<bool>,
}

impl Lanes {
    /// Lanes that run at most `limit` pieces of work at once (at least one).
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            queues: Arc::new(Mutex::new(HashMap::new())),
            permits: Arc::new(Semaphore::new(limit.max(1))),
            tasks: JoinSet::new(),
            stop: watch::channel(false).0,
        }
    }

    /// Queues `work` behind everything pushed before under `key`; it runs when those
    /// are done and a permit is free.
    pub(crate) fn push(&mut self, key: u64, work: BoxFuture<'static, ()>) {
        // Finished lanes are reaped here, so the set does not grow with every thread
        // ever seen.
        while self.tasks.try_join_next().is_some() {}
        let mut queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
        let work = match queues.get(&key) {
            // A lane in the map has not yet taken its last look at its queue (it
            // does so, and leaves the map, under this lock), so the work will run.
            Some(lane) => match lane.send(work) {
                Ok(()) => return,
                Err(mpsc::error::SendError(work)) => work,
            },
            None => work,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let _ = tx.send(work);
        queues.insert(key, tx);
        drop(queues);
        let lane = Lane {
            key,
            rx,
            queues: Arc::clone(&self.queues),
            permits: Arc::clone(&self.permits),
            stop: self.stop.subscribe(),
        };
        self.tasks.spawn(lane.run());
    }

    /// Waits until every lane has run all it was given.
    pub(crate) async fn drain(mut self) {
        while self.tasks.join_next().await.is_some() {}
    }

    /// Drops the work not yet started (from the moment of the call) and waits for the
    /// work that has.
    pub(crate) fn stop(self) -> impl std::future::Future<Output = ()> {
        let _ = self.stop.send(true);
        self.drain()
    }
}

/// One key's queue, run by its own task.
struct Lane {
    key: u64,
    rx: mpsc::UnboundedReceiver<BoxFuture<'static, ()>>,
    queues: Arc<Queues>,
    permits: Arc<Semaphore>,
    stop: watch::Receiver<bool>,
}

impl Lane {
    async fn run(mut self) {
        while let Some(work) = self.next() {
            let Ok(_permit) = self.permits.acquire().await else { return };
            if *self.stop.borrow() {
                continue;
            }
            work.await;
        }
    }

    /// The next piece of work, or `None` when the queue is empty, in which case the
    /// lane has left the map: a later push starts a new lane.
    fn next(&mut self) -> Option<BoxFuture<'static, ()>> {
        if let Ok(work) = self.rx.try_recv() {
            return Some(work);
        }
        let mut queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
        match self.rx.try_recv() {
            Ok(work) => Some(work),
            Err(_) => {
                queues.remove(&self.key);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::sync::oneshot;

    /// Work that records `(key, index)` when it runs, after yielding a key-dependent
    /// number of times so that lanes interleave.
    fn record(log: &Arc<Mutex<Vec<(u64, usize)>>>, key: u64, i: usize) -> BoxFuture<'static, ()> {
        let log = Arc::clone(log);
        async move {
            for _ in 0..((key as usize * 7 + i * 3) % 5) {
                tokio::task::yield_now().await;
            }
            log.lock().unwrap().push((key, i));
        }
        .boxed()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_key_keeps_its_order_while_keys_run_at_once() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut lanes = Lanes::new(8);
        for i in 0..200 {
            for key in 0..10 {
                lanes.push(key, record(&log, key, i));
            }
        }
        lanes.drain().await;
        let log = log.lock().unwrap();
        assert_eq!(log.len(), 2000);
        for key in 0..10 {
            let order: Vec<usize> =
                log.iter().filter(|(k, _)| *k == key).map(|(_, i)| *i).collect();
            assert_eq!(order, (0..200).collect::<Vec<_>>(), "key {key}");
        }
    }

    #[tokio::test]
    async fn a_blocked_key_holds_up_only_itself() {
        let mut lanes = Lanes::new(4);
        let (release, held) = oneshot::channel::<()>();
        let (a_done, a_finished) = oneshot::channel();
        lanes.push(
            1,
            async move {
                let _ = held.await;
            }
            .boxed(),
        );
        lanes.push(
            1,
            async move {
                let _ = a_done.send(());
            }
            .boxed(),
        );
        let (b_done, b_finished) = oneshot::channel();
        lanes.push(
            2,
            async move {
                let _ = b_done.send(());
            }
            .boxed(),
        );
        // Key 2 runs while key 1's first piece of work is blocked…
        b_finished.await.unwrap();
        let mut a_finished = a_finished;
        assert!(a_finished.try_recv().is_err(), "key 1's second ran before its first");
        // …and key 1 continues in order once released.
        release.send(()).unwrap();
        a_finished.await.unwrap();
        lanes.drain().await;
    }

    #[tokio::test]
    async fn no_more_than_the_limit_run_at_once() {
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut lanes = Lanes::new(3);
        for key in 0..20 {
            let (running, most) = (Arc::clone(&running), Arc::clone(&most));
            lanes.push(
                key,
                async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    running.fetch_sub(1, Ordering::SeqCst);
                }
                .boxed(),
            );
        }
        lanes.drain().await;
        assert_eq!(most.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn stopping_drops_what_has_not_started_and_finishes_what_has() {
        let mut lanes = Lanes::new(1);
        let (started, is_started) = oneshot::channel();
        let (release, held) = oneshot::channel::<()>();
        let ran = Arc::new(AtomicUsize::new(0));
        let first = Arc::clone(&ran);
        lanes.push(
            1,
            async move {
                let _ = started.send(());
                let _ = held.await;
                first.fetch_add(1, Ordering::SeqCst);
            }
            .boxed(),
        );
        let second = Arc::clone(&ran);
        lanes.push(
            2,
            async move {
                second.fetch_add(10, Ordering::SeqCst);
            }
            .boxed(),
        );
        is_started.await.unwrap();
        let stopping = tokio::spawn(lanes.stop());
        release.send(()).unwrap();
        stopping.await.unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 1, "the started one finished, the other never ran");
    }

    #[tokio::test]
    async fn a_lane_that_emptied_leaves_and_the_next_push_starts_it_again() {
        let mut lanes = Lanes::new(2);
        let queues = Arc::clone(&lanes.queues);
        for round in 0..3 {
            let (done, finished) = oneshot::channel();
            lanes.push(
                7,
                async move {
                    let _ = done.send(round);
                }
                .boxed(),
            );
            assert_eq!(finished.await.unwrap(), round);
        }
        lanes.drain().await;
        assert!(queues.lock().unwrap().is_empty(), "no lane left behind");
    }
}
