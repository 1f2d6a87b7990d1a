//! The short texts users see when something goes wrong, one per cause.
//!
//! Each says what happened and what to do, in one or two sentences, and never repeats
//! internal details (status codes go to the log, not the thread).

use crate::siteassist::error::{ApiError, Error};
use crate::siteassist::stream::{FinishReason, StreamOutcome};

/// Prefix that marks a bridge notice, so users tell it from an answer.
const WARN: &str = "⚠️";

/// The text shown instead of an answer when the question could not be relayed.
pub fn for_error(err: &Error) -> String {
    let text = match err {
        Error::EmptyContent => "Please write your question after mentioning me.".to_string(),
        Error::ContentTooLong { chars, max } => format!(
            "Your message is {chars} characters long; SiteAssist accepts at most {max}. \
             Please shorten it and ask again."
        ),
        Error::Api(api) => for_api_error(api),
        Error::Transport(_) => {
            "SiteAssist could not be reached, so your question was not answered. \
                                Please try again in a few minutes."
                .to_string()
        }
        Error::Decode(_) => {
            "SiteAssist sent an answer the bridge could not read. Please try again.".to_string()
        }
        Error::NotConfigured(_) => "The bridge is not configured for SiteAssist. \
                                    An administrator needs to set the publishable key."
            .to_string(),
    };
    format!("{WARN} {text}")
}

fn for_api_error(err: &ApiError) -> String {
    match err {
        ApiError::RateLimited { .. } => {
            "SiteAssist is busy right now. Please try again in a minute.".into()
        }
        ApiError::ServiceUnavailable { .. }
        | ApiError::Internal { .. }
        | ApiError::BadGateway { .. } => {
            "SiteAssist is unavailable right now, so your question was not answered. \
             Please try again in a few minutes."
                .into()
        }
        ApiError::PaymentRequired { .. } => {
            "This assistant has reached the limit of its SiteAssist plan. \
                                             Please let the support team know."
                .into()
        }
        ApiError::Unauthorized { .. } => "The bridge could not sign in to SiteAssist. \
                                          An administrator needs to check the publishable key."
            .into(),
        ApiError::Forbidden { .. } => "SiteAssist refused access to this conversation. \
                                       Please start a new thread to ask again."
            .into(),
        ApiError::ConversationNotFound { .. } => {
            "This conversation no longer exists on SiteAssist. \
                                                  Please start a new thread to ask again."
                .into()
        }
        ApiError::InvalidRequestBody { .. } | ApiError::Validation { .. } => {
            "SiteAssist could not accept this message. Please rephrase it and ask again.".into()
        }
        ApiError::Conflict { .. } | ApiError::Other { .. } => {
            "SiteAssist could not answer this time. Please try again.".into()
        }
    }
}

/// Shown when the conversation is handled by a person: the message was delivered but
/// no AI answer will come.
pub fn human_handled() -> String {
    "Your message was passed to the support team; a person will reply.".to_string()
}

/// Shown to a question that reached a person whose joining was announced before (the
/// relay was not running to know it: idle, or the bridge restarted).
pub fn sent_to(name: &str) -> String {
    format!(
        "Your message was passed to {name} from the support team; their reply will appear here."
    )
}

/// Shown once when a person (named by SiteAssist) takes the conversation over.
pub fn agent_joined(name: &str) -> String {
    format!("{name} from the support team has joined; replies will appear here.")
}

/// Shown when the support team hands a conversation back to the AI.
pub fn handed_back() -> String {
    "The support team handed this conversation back to the assistant: just ask, and it answers."
        .to_string()
}

/// Shown when the support team closes a conversation.
pub fn handoff_closed() -> String {
    "The support team closed this conversation. Your next question starts a new one.".to_string()
}

/// Shown when SiteAssist refuses the socket a person's replies would come on.
pub fn handoff_refused() -> String {
    format!(
        "{WARN} The support team's replies cannot be shown here. Please check the \
         conversation on the website."
    )
}

/// Shown when a stream ended with no text at all.
pub fn for_empty_answer(outcome: &StreamOutcome) -> String {
    if *outcome == StreamOutcome::Stopped {
        return STOPPED.to_string();
    }
    let cause = cause(outcome).unwrap_or("it sent an empty answer");
    format!("{WARN} SiteAssist did not answer: {cause}. Please ask again.")
}

/// The note appended to a partial answer, or `None` when the answer is complete.
pub fn cut_short_note(outcome: &StreamOutcome) -> Option<String> {
    if *outcome == StreamOutcome::Stopped {
        return Some(STOPPED.to_string());
    }
    cause(outcome)
        .map(|c| format!("{WARN} _This answer was cut short: {c}. Please ask again for the rest._"))
}

/// The end of an answer someone stopped: what was shown stays, this follows it.
pub const STOPPED: &str = "_(stopped)_";

fn cause(outcome: &StreamOutcome) -> Option<&'static str> {
    match outcome {
        StreamOutcome::Stopped => None,
        StreamOutcome::Finished { reason } => match reason {
            Some(FinishReason::Length) => Some("it reached the length limit"),
            Some(FinishReason::ContentFilter) => Some("SiteAssist's content filter stopped it"),
            Some(FinishReason::Error) => Some("SiteAssist reported an error"),
            _ => None,
        },
        StreamOutcome::ErrorChunk { .. } => Some("SiteAssist reported an error"),
        StreamOutcome::Aborted => Some("SiteAssist stopped answering"),
        StreamOutcome::Truncated | StreamOutcome::Transport { .. } => {
            Some("the connection to SiteAssist was lost")
        }
        StreamOutcome::Stalled { .. } => Some("SiteAssist stopped responding"),
    }
}

/// Shown on a thread reply that is over the bridge's own rate limit or queue.
pub fn busy_thread() -> String {
    format!("{WARN} I am still answering earlier questions in this thread. Please wait a moment and ask again.")
}

/// Shown on a reply the bridge could not finish before it stopped.
pub fn interrupted() -> String {
    format!("{WARN} _This answer was interrupted because the bridge restarted. Please ask again._")
}

/// Shown when the bridge's own store failed, so the question could not be relayed.
pub fn store_failed() -> String {
    format!("{WARN} The bridge could not read or save its state, so your question was not answered. Please try again.")
}

/// Shown once when a user or channel asks faster than its limit allows.
pub fn rate_limited(which: crate::bridge::limits::Limited) -> String {
    match which {
        crate::bridge::limits::Limited::User => format!(
            "{WARN} You are asking faster than I can answer. Please wait a minute before the next question."
        ),
        crate::bridge::limits::Limited::Channel => format!(
            "{WARN} This channel is asking faster than I can answer. Please wait a minute and ask again."
        ),
    }
}

/// The answer to `/new` (or `!new`): the place's next question starts a new conversation.
/// The same words on every platform; Discord's tests read them.
pub fn new_conversation() -> String {
    "Started a new conversation. What would you like to ask?".to_string()
}

/// The answer to `/help` (or `!help`), and to `!new` where a new conversation is what
/// happens anyway (a channel's top level).
pub fn help() -> String {
    "I answer questions with SiteAssist. Mention me in a channel and I answer in a thread; \
     in that thread, just write: I follow the conversation. You can also write to me \
     directly. Send `!new` in a thread or a direct message to start a new conversation."
        .to_string()
}

/// Shown instead of an answer when a question is longer than SiteAssist accepts.
pub fn too_long(chars: usize, max: usize) -> String {
    for_error(&Error::ContentTooLong { chars, max })
}
