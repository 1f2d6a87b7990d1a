//! One ordered worker per thread. Questions in a thread are answered one after the
//! other (a follow-up must see the previous answer in the conversation), while
//! different threads run concurrently. Workers are tokio tasks with bounded queues, and
//! an idle worker ends itself, so memory follows activity, not the number of threads.

use super::event::InboundMessage;
use super::ids::ThreadKey;
use super::{relay, Disposition, Ignored, Inner};
use crate::siteassist::ids::Feedback;
use crate::store::{InFlightReply, ReplyLink};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// Work for a thread's worker.
pub(crate) enum Job {
    /// Answer a question.
    Answer {
        /// The question.
        msg: Box<InboundMessage>,
        /// Its in-flight record, already in the store (written at ingress).
        record: Box<InFlightReply>,
    },
    /// Send feedback for a reaction.
    Feedback {
        /// The reply reacted to.
        link: Box<ReplyLink>,
        /// What the emoji means.
        value: Feedback,
        /// Added or removed.
        added: bool,
    },
    /// Post a note in the thread (help, a refusal), after what is queued before it.
    Notice {
        /// Where.
        thread: ThreadKey,
        /// The note, in Markdown.
        markdown: String,
    },
    /// Forget the thread's conversation (`/new`), then say so.
    NewConversation {
        /// Whose.
        thread: ThreadKey,
    },
    /// Signals when every job queued before it is done (tests and the console wait
    /// on it instead of sleeping).
    Barrier(tokio::sync::oneshot::Sender<()>),
}

pub(crate) struct Threads {
    depth: usize,
    senders: Mutex<HashMap<ThreadKey, mpsc::Sender<Job>>>,
    tasks: Mutex<JoinSet<()>>,
}

impl Threads {
    pub(crate) fn new(depth: usize) -> Self {
        Self {
            depth: depth.max(1),
            senders: Mutex::new(HashMap::new()),
            tasks: Mutex::new(JoinSet::new()),
        }
    }

    /// Queues `job` on the thread's worker, starting one if needed. A full queue is
    /// answered with a short notice instead of waiting, so one busy thread cannot stall
    /// the adapter's event loop.
    pub(crate) fn dispatch(&self, inner: &Arc<Inner>, thread: ThreadKey, job: Job) -> Disposition {
        let rejected = {
            let mut senders = self.senders.lock().unwrap_or_else(|p| p.into_inner());
            let sender = senders.entry(thread.clone()).or_insert_with(|| {
                let (tx, rx) = mpsc::channel(self.depth);
                let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
                while tasks.try_join_next().is_some() {}
                tasks.spawn(worker(Arc::clone(inner), thread.clone(), rx));
                tx
            });
            match sender.try_send(job) {
                Ok(()) => None,
                Err(mpsc::error::TrySendError::Full(job)) => Some(job),
                Err(mpsc::error::TrySendError::Closed(job)) => {
                    // The worker ended between lookups; start a fresh one.
                    senders.remove(&thread);
                    drop(senders);
                    return self.dispatch(inner, thread, job);
                }
            }
        };
        match rejected {
            None => Disposition::Queued,
            Some(job) => {
                let inner = Arc::clone(inner);
                tokio::spawn(async move { relay::reject_busy(&inner, job).await });
                Disposition::Ignored(Ignored::ThreadBusy)
            }
        }
    }

    /// Stops all workers after their queues empty, waiting at most `grace`; aborts the
    /// rest and returns how many were aborted.
    pub(crate) async fn drain(&self, grace: Duration) -> usize {
        self.senders.lock().unwrap_or_else(|p| p.into_inner()).clear();
        let mut tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        let finished =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        if finished.is_ok() {
            return 0;
        }
        let cut = tasks.len();
        tasks.shutdown().await;
        cut
    }

    fn remove_if_idle(&self, thread: &ThreadKey, rx: &mpsc::Receiver<Job>) -> bool {
        let mut senders = self.senders.lock().unwrap_or_else(|p| p.into_inner());
        // Senders only send while holding this lock, so an empty queue now stays empty.
        if rx.is_empty() {
            senders.remove(thread);
            true
        } else {
            false
        }
    }
}

async fn worker(inner: Arc<Inner>, thread: ThreadKey, mut rx: mpsc::Receiver<Job>) {
    loop {
        match tokio::time::timeout(inner.cfg.worker_idle, rx.recv()).await {
            Ok(Some(job)) => relay::run(&inner, job).await,
            Ok(None) => return,
            Err(_idle) => {
                if inner.threads.remove_if_idle(&thread, &rx) {
                    return;
                }
            }
        }
    }
}
