//! One ordered worker per thread. Questions in a thread are answered one after the
//! other (a follow-up must see the previous answer in the conversation), while
//! different threads run concurrently. Workers are tokio tasks with bounded queues, and
//! an idle worker ends itself, so memory follows activity, not the number of threads.
//!
//! The queue knows nothing of what its jobs are: a [`Handler`] runs them (and answers
//! the ones that do not fit), so this module depends on nothing else in the core.

use super::ids::ThreadKey;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// Runs the jobs of every thread.
pub(crate) trait Handler<J>: Send + Sync + 'static {
    /// Does one job; the thread's next job waits until it returns.
    fn run(self: Arc<Self>, job: J) -> impl Future<Output = ()> + Send;
    /// Answers a job that did not fit in its thread's full queue (a short notice, say).
    /// Runs on a task of its own, beside the thread's worker.
    fn reject(self: Arc<Self>, job: J) -> impl Future<Output = ()> + Send;
}

/// Whether a job was queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Queued {
    /// It will run after the jobs queued before it in its thread.
    Yes,
    /// The thread's queue was full; the handler's `reject` has it.
    Rejected,
}

/// The per-thread queues.
pub(crate) struct Threads<J> {
    depth: usize,
    idle: Duration,
    /// Shared with the workers, which remove their own entry when they go idle.
    senders: Arc<Mutex<HashMap<ThreadKey, mpsc::Sender<J>>>>,
    tasks: Mutex<JoinSet<()>>,
}

impl<J: Send + 'static> Threads<J> {
    /// Queues of `depth` jobs per thread; a worker idle for `idle` ends.
    pub(crate) fn new(depth: usize, idle: Duration) -> Self {
        Self {
            depth: depth.max(1),
            idle,
            senders: Arc::new(Mutex::new(HashMap::new())),
            tasks: Mutex::new(JoinSet::new()),
        }
    }

    /// Queues `job` on the thread's worker, starting one (run by `handler`) if needed. A
    /// full queue is answered by `handler.reject` instead of waiting, so one busy thread
    /// cannot stall the adapter's event loop.
    pub(crate) fn dispatch<H: Handler<J>>(
        &self,
        handler: &Arc<H>,
        thread: ThreadKey,
        job: J,
    ) -> Queued {
        let rejected = {
            let mut senders = self.senders.lock().unwrap_or_else(PoisonError::into_inner);
            let sender = senders.entry(thread.clone()).or_insert_with(|| {
                let (tx, rx) = mpsc::channel(self.depth);
                let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
                while tasks.try_join_next().is_some() {}
                let worker = Worker {
                    handler: Arc::clone(handler),
                    senders: Arc::clone(&self.senders),
                    thread: thread.clone(),
                    idle: self.idle,
                };
                tasks.spawn(worker.run(rx));
                tx
            });
            match sender.try_send(job) {
                Ok(()) => None,
                Err(mpsc::error::TrySendError::Full(job)) => Some(job),
                Err(mpsc::error::TrySendError::Closed(job)) => {
                    // The worker ended between lookups; start a fresh one.
                    senders.remove(&thread);
                    drop(senders);
                    return self.dispatch(handler, thread, job);
                }
            }
        };
        match rejected {
            None => Queued::Yes,
            Some(job) => {
                tokio::spawn(Arc::clone(handler).reject(job));
                Queued::Rejected
            }
        }
    }

    /// Stops all workers after their queues empty, waiting at most `grace`; aborts the
    /// rest and returns how many were aborted.
    pub(crate) async fn drain(&self, grace: Duration) -> usize {
        self.senders.lock().unwrap_or_else(PoisonError::into_inner).clear();
        let mut tasks =
            std::mem::take(&mut *self.tasks.lock().unwrap_or_else(PoisonError::into_inner));
        let finished =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        if finished.is_ok() {
            return 0;
        }
        let cut = tasks.len();
        tasks.shutdown().await;
        cut
    }
}

/// One thread's worker.
struct Worker<H, J> {
    handler: Arc<H>,
    senders: Arc<Mutex<HashMap<ThreadKey, mpsc::Sender<J>>>>,
    thread: ThreadKey,
    idle: Duration,
}

impl<J: Send + 'static, H: Handler<J>> Worker<H, J> {
    async fn run(self, mut rx: mpsc::Receiver<J>) {
        loop {
            match tokio::time::timeout(self.idle, rx.recv()).await {
                Ok(Some(job)) => Arc::clone(&self.handler).run(job).await,
                Ok(None) => return,
                Err(_idle) => {
                    if self.remove_if_idle(&rx) {
                        return;
                    }
                }
            }
        }
    }

    fn remove_if_idle(&self, rx: &mpsc::Receiver<J>) -> bool {
        let mut senders = self.senders.lock().unwrap_or_else(PoisonError::into_inner);
        // Senders only send while holding this lock, so an empty queue now stays empty.
        if rx.is_empty() {
            senders.remove(&self.thread);
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::Notify;

    /// Records the jobs it runs; job 0 of a thread waits until released.
    struct Recorder {
        ran: Mutex<Vec<(u32, u32)>>,
        rejected: mpsc::UnboundedSender<u32>,
        release: Notify,
    }

    impl Handler<(u32, u32)> for Recorder {
        async fn run(self: Arc<Self>, job: (u32, u32)) {
            if job.1 == 0 {
                self.release.notified().await;
            }
            self.ran.lock().unwrap().push(job);
        }
        async fn reject(self: Arc<Self>, job: (u32, u32)) {
            let _ = self.rejected.send(job.1);
        }
    }

    #[tokio::test]
    async fn jobs_run_in_order_and_a_full_queue_rejects() {
        let (rejected, mut rejections) = mpsc::unbounded_channel();
        let handler =
            Arc::new(Recorder { ran: Mutex::default(), rejected, release: Notify::new() });
        let threads = Threads::new(2, Duration::from_secs(60));
        let t = ThreadKey::new("t");
        // Job 0 runs and blocks; 1 and 2 fill the queue of two; 3 is rejected.
        let queued: Vec<Queued> =
            (0..4).map(|i| threads.dispatch(&handler, t.clone(), (1, i))).collect();
        assert_eq!(queued[3], Queued::Rejected, "{queued:?}");
        // The worker took job 0 off the queue before 1 and 2 arrived or after: either
        // way at most one more fits, so the fourth never does.
        handler.release.notify_one();
        assert_eq!(threads.drain(Duration::from_secs(5)).await, 0);
        let ran = handler.ran.lock().unwrap().clone();
        let order: Vec<u32> = ran.iter().map(|j| j.1).collect();
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(order, sorted, "in order");
        assert_eq!(order.first(), Some(&0));
        // The rejection runs on a task of its own: wait for it.
        let mut seen = Vec::new();
        while !seen.contains(&3) {
            seen.push(rejections.recv().await.expect("the rejection of job 3"));
        }
        assert_eq!(
            order.len() + seen.len(),
            4,
            "every job ran or was rejected: {order:?} {seen:?}"
        );
    }
}
