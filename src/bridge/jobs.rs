//! How the core runs a thread's [`Job`]s: answers, feedback, notes, resets, a human
//! agent's messages, and the notice for a question that did not fit the queue.

use super::controls::Controls;
use super::feedback::decide;
use super::ids::ThreadKey;
pub(crate) use super::job::Job;
use super::notice;
use super::reply::retry;
use super::threads::Handler;
use super::{answer, Inner};
use crate::ops::metrics;
use crate::siteassist::ids::{Feedback, SaVid};
use crate::store::ReplyLink;
use std::sync::Arc;

impl Handler<Job> for Inner {
    async fn run(self: Arc<Self>, job: Job) {
        // Across replicas, one answers in a thread at a time, in arrival order (a no-op
        // without a shared store).
        let turn = match job.thread_and_record() {
            Some((thread, record)) => {
                Some(super::turns::take(&self.cfg.replica, thread, record).await)
            }
            None => None,
        };
        Arc::clone(&self).run_job(job).await;
        if let Some(turn) = turn {
            turn.release().await;
        }
    }

    async fn reject(self: Arc<Self>, job: Job) {
        reject_busy(&self, job).await
    }
}

impl Inner {
    async fn run_job(self: Arc<Self>, job: Job) {
        let inner = self.as_ref();
        use tracing::Instrument;
        match job {
            Job::Answer { msg, record } => {
                // Every log line of this reply carries where it is; never the text itself.
                let span = tracing::info_span!(
                    "reply",
                    platform = inner.adapter.name(),
                    thread = %msg.thread,
                    conversation = tracing::field::Empty,
                );
                let thread = msg.thread.clone();
                match answer::answer(inner, *msg, *record).instrument(span).await {
                    Some(answer::Follow::Relay(link)) => {
                        super::handoff::watch(&self, thread, link).await
                    }
                    Some(answer::Follow::Listen(link)) => {
                        super::handoff::listen(&self, thread, link).await
                    }
                    None => {}
                }
            }
            Job::AgentMessage { thread, conversation, message, markdown } => {
                super::handoff::show(inner, thread, &conversation, &message, &markdown).await
            }
            Job::Feedback { link, value, added } => {
                let span = tracing::info_span!(
                    "feedback",
                    platform = inner.adapter.name(),
                    thread = %link.thread,
                    conversation = %link.conversation,
                );
                feedback(inner, *link, value, added).instrument(span).await
            }
            Job::Notice { thread, markdown } => tell(inner, &thread, &markdown).await,
            Job::NewConversation { thread, reopen_for } => {
                // A store failure leaves the old conversation in place; say so rather than
                // claim a fresh start.
                if let Err(e) = inner.store.remove_thread_link(&thread).await {
                    tracing::error!(error = %e, "could not forget a thread's conversation");
                    return tell(inner, &thread, &notice::store_failed()).await;
                }
                if let Some(msg) = reopen_for {
                    let asker = SaVid::for_user(msg.author.as_str());
                    if let Err(failure) = answer::conversation(inner, &msg, &asker).await {
                        return tell(inner, &thread, &failure.notice()).await;
                    }
                }
                tell(inner, &thread, &notice::new_conversation()).await
            }
            Job::Barrier(done) => {
                let _ = done.send(());
            }
        }
    }
}

async fn feedback(inner: &Inner, link: ReplyLink, value: Feedback, added: bool) {
    let Some(message) = link.assistant_message else { return };
    let current = match inner.store.feedback(&message).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "could not read feedback state");
            return;
        }
    };
    let Some(new) = decide(current, value, added) else { return };
    match inner.client.send_feedback(&link.owner, &message, new).await {
        Ok(_) => {
            tracing::info!(assistant_message = %message, feedback = ?new, "feedback sent");
            metrics::feedback_sent(match new {
                Some(Feedback::Like) => "like",
                Some(Feedback::Dislike) => "dislike",
                None => "none",
            });
            if let Err(e) = inner.store.put_feedback(&message, new).await {
                tracing::warn!(error = %e, "could not record feedback state");
            }
        }
        // Reactions have no reply to carry an error message; the log has to do.
        Err(e) => {
            tracing::warn!(assistant_message = %message, error = %e, "SiteAssist refused feedback")
        }
    }
}

/// Posts a one-off notice in `thread` (not a reply to track: nothing follows it).
pub(super) async fn tell(inner: &Inner, thread: &ThreadKey, markdown: &str) {
    let text = inner.adapter.render(markdown);
    let adapter = &inner.adapter;
    match retry(adapter.name(), || adapter.post(thread, &text, Controls::none())).await {
        // A notice is a whole reply at once: adapters that show only finished replies
        // (the console in a pipe) show it now.
        Ok(message) => adapter.reply_finished(thread, None, &[message]).await,
        Err(e) => tracing::warn!(error = %e, "could not post a notice"),
    }
}

/// Answers a question that did not fit in its thread's queue with a short notice.
async fn reject_busy(inner: &Inner, job: Job) {
    let record = match job {
        Job::Answer { record, .. } => record,
        Job::Feedback { .. } => {
            tracing::warn!("feedback dropped: thread queue full");
            return;
        }
        // Not claimed yet: the relay's next catch-up brings it again.
        Job::AgentMessage { .. } => {
            tracing::warn!("agent message deferred: thread queue full");
            return;
        }
        Job::Notice { thread, .. } | Job::NewConversation { thread, .. } => {
            tell(inner, &thread, &notice::busy_thread()).await;
            return;
        }
        Job::Barrier(done) => {
            let _ = done.send(());
            return;
        }
    };
    let text = inner.adapter.render(&notice::busy_thread());
    let (adapter, thread) = (&inner.adapter, &record.thread);
    if let Err(e) = retry(adapter.name(), || adapter.post(thread, &text, Controls::none())).await {
        tracing::warn!(error = %e, "could not post the busy notice");
    }
    if let Err(e) = inner.store.remove_in_flight(&record.id).await {
        tracing::warn!(error = %e, "could not clear the in-flight record");
    }
}
