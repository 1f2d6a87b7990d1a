//! Fault knobs: the misbehaviours of the real API that tests switch on.
//!
//! A fault applies to one `POST /conversations/{id}/messages` (queued with
//! [`Simulator::push_fault`](super::Simulator::push_fault)) or to every one of them (set
//! with [`Simulator::set_persistent_fault`](super::Simulator::set_persistent_fault)).
//! HTTP faults answer before anything is stored; stream faults change what the SSE body
//! carries and, for [`Fault::ErrorChunk`] and [`Fault::Abort`], how the stored assistant
//! message ends.

use super::error::ApiError;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::VecDeque;

/// One way the simulated API can misbehave on a message POST.
///
/// Serialized as `{"kind": "<snake_case name>", ...fields}`, for example
/// `{"kind":"rate_limited","retry_after_secs":2}`, which is what `POST /__sim/faults`
/// accepts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// 429 `RATE_LIMIT_EXCEEDED` with `details.retryAfter` (no `Retry-After` header, since
    /// the real API is not known to send one).
    RateLimited {
        /// Seconds the client is told to wait.
        retry_after_secs: u64,
    },
    /// 503 `SERVICE_UNAVAILABLE` with `details.retryAfter`.
    Unavailable {
        /// Seconds the client is told to wait.
        retry_after_secs: u64,
    },
    /// 500 `INTERNAL_SERVER_ERROR`.
    Internal,
    /// 502 `BAD_GATEWAY` with `details.service = "llm"`.
    BadGateway,
    /// 402 `PAYMENT_REQUIRED` with `currentPlan`, `requiredPlan` and `feature`.
    PaymentRequired,
    /// 401 `UNAUTHORIZED`: the session token expires right now (it is revoked, so it stays
    /// invalid), and `POST /identity/init` with the same `saVid` gives a working one.
    Unauthorized,
    /// After `after_words` text deltas the stream carries `{"type":"error"}`, then
    /// `finish-step`, `finish` with `finishReason:"error"` and `[DONE]`; the stored
    /// assistant message ends with status `error` and the partial text.
    ErrorChunk {
        /// Text deltas sent before the error.
        after_words: usize,
    },
    /// After `after_words` text deltas the stream carries `{"type":"abort"}` and `[DONE]`;
    /// the stored message ends with status `error` and the partial text.
    Abort {
        /// Text deltas sent before the abort.
        after_words: usize,
    },
    /// After `after_words` text deltas nothing more is sent, but the connection stays open
    /// until the client goes away (or the simulator shuts down). Generation itself goes on,
    /// so the stored message still completes.
    Stall {
        /// Text deltas sent before the stall.
        after_words: usize,
    },
    /// After `after_words` text deltas the connection is cut without `[DONE]` (the chunked
    /// body never terminates properly). Generation goes on, so the stored message still
    /// completes and a client can fetch the final answer later.
    Drop {
        /// Text deltas sent before the cut.
        after_words: usize,
    },
    /// The response (headers included) starts only after `delay_ms`.
    SlowFirstByte {
        /// Delay before the first byte, in milliseconds.
        delay_ms: u64,
    },
    /// The `start` chunk has no `messageId`, so the client must find the id by re-fetching.
    NoMessageId,
    /// A human agent takes over the conversation (it stays human-handled): the POST
    /// answers 200 `text/plain` `Message sent` and only the user message is stored.
    HumanHandled,
}

impl Fault {
    /// The error response of an HTTP fault, or `None` for faults that act on a
    /// successful response.
    pub(crate) fn http_error(&self) -> Option<ApiError> {
        let e = match self {
            Fault::RateLimited { retry_after_secs } => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMIT_EXCEEDED",
                "Rate limit exceeded. Please try again later.",
            )
            .details(json!({ "retryAfter": retry_after_secs })),
            Fault::Unavailable { retry_after_secs } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVICE_UNAVAILABLE",
                "Service temporarily unavailable.",
            )
            .details(json!({ "retryAfter": retry_after_secs })),
            Fault::Internal => ApiError::internal(),
            Fault::BadGateway => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "BAD_GATEWAY",
                "The AI service did not respond correctly.",
            )
            .details(json!({ "service": "llm" })),
            Fault::PaymentRequired => ApiError::new(
                StatusCode::PAYMENT_REQUIRED,
                "PAYMENT_REQUIRED",
                "Your plan's message limit has been reached.",
            )
            .details(json!({
                "currentPlan": "free",
                "requiredPlan": "pro",
                "feature": "ai_messages"
            })),
            Fault::Unauthorized => ApiError::unauthorized(),
            _ => return None,
        };
        Some(e)
    }
}

/// The queued and the persistent fault.
#[derive(Debug, Default)]
pub(crate) struct FaultPlan {
    /// One-shot faults, consumed first-in first-out, one per message POST.
    pub next: VecDeque<Fault>,
    /// Applies to every message POST when no one-shot fault is queued.
    pub persistent: Option<Fault>,
}

impl FaultPlan {
    /// The fault for the message POST being handled now: a queued one (consumed) wins over
    /// the persistent one.
    pub(crate) fn take(&mut self) -> Option<Fault> {
        self.next.pop_front().or_else(|| self.persistent.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_use_the_kind_tag_on_the_wire() {
        let f: Fault =
            serde_json::from_str(r#"{"kind":"rate_limited","retry_after_secs":3}"#).unwrap();
        assert_eq!(f, Fault::RateLimited { retry_after_secs: 3 });
        assert_eq!(
            serde_json::to_string(&Fault::NoMessageId).unwrap(),
            r#"{"kind":"no_message_id"}"#
        );
        let f: Fault = serde_json::from_str(r#"{"kind":"drop","after_words":2}"#).unwrap();
        assert_eq!(f, Fault::Drop { after_words: 2 });
    }

    #[test]
    fn queued_faults_are_fifo_and_win_over_the_persistent_one() {
        let mut plan = FaultPlan { persistent: Some(Fault::Internal), ..Default::default() };
        plan.next.push_back(Fault::BadGateway);
        plan.next.push_back(Fault::NoMessageId);
        assert_eq!(plan.take(), Some(Fault::BadGateway));
        assert_eq!(plan.take(), Some(Fault::NoMessageId));
        assert_eq!(plan.take(), Some(Fault::Internal));
        assert_eq!(plan.take(), Some(Fault::Internal));
        plan.persistent = None;
        assert_eq!(plan.take(), None);
    }

    #[test]
    fn only_http_faults_have_an_error_response() {
        let e = Fault::RateLimited { retry_after_secs: 7 }.http_error().unwrap();
        assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(e.details, Some(json!({"retryAfter": 7})));
        assert!(Fault::Stall { after_words: 1 }.http_error().is_none());
        assert!(Fault::HumanHandled.http_error().is_none());
    }
}
