//! The work a thread's worker does: one [`Job`] per thing to show or send, run in
//! order per thread by [`super::jobs`]. Its own module so that what queues jobs (the
//! ingress, the handoff relay) need not depend on what runs them.

use super::event::InboundMessage;
use super::ids::ThreadKey;
use crate::siteassist::ids::Feedback;
use crate::store::{InFlightReply, ReplyLink};

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
        /// In a thread (not a DM), the `/new` message: a new conversation is started at
        /// once for its author, so the bot stays part of the thread and the next
        /// message there needs no mention. (A DM is answered whatever it holds.)
        reopen_for: Option<Box<InboundMessage>>,
    },
    /// A human agent's message, shown once (see `handoff`).
    AgentMessage {
        /// Where.
        thread: ThreadKey,
        /// Whose conversation.
        conversation: crate::siteassist::ids::ConversationId,
        /// Its SiteAssist message id: the claim that keeps it from showing twice.
        message: String,
        /// What shows: the agent's name and words.
        markdown: String,
    },
    /// Signals when every job queued before it is done (tests and the console wait
    /// on it instead of sleeping).
    Barrier(tokio::sync::oneshot::Sender<()>),
}

impl Job {
    /// The thread the job works in, and the in-flight record it answers, if any (for
    /// the thread's turn across replicas). `None` for a barrier, which only signals.
    pub(crate) fn thread_and_record(&self) -> Option<(&ThreadKey, Option<&str>)> {
        match self {
            Job::Answer { msg, record } => Some((&msg.thread, Some(record.id.as_str()))),
            Job::Feedback { link, .. } => Some((&link.thread, None)),
            Job::Notice { thread, .. }
            | Job::NewConversation { thread, .. }
            | Job::AgentMessage { thread, .. } => Some((thread, None)),
            Job::Barrier(_) => None,
        }
    }
}
