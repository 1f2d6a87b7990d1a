//! Errors of the SiteAssist client, with the API's error envelope decoded into typed
//! variants (`{"error":{"message","code","details"?}}`, §1 of the API notes).
//!
//! No error string ever contains the publishable key or a session token: transport
//! errors are stripped of their URL (the key travels in a query parameter), and the
//! client never formats request headers or bodies into an error.

use serde::Deserialize;
use serde_json::Value;
use std::fmt;
use std::time::Duration;

/// Everything a client call can fail with.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Error {
    /// The API answered with an error status; see [`ApiError`] for what each means.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The message is empty or only whitespace. Checked before sending, so nothing
    /// was sent; the bridge ignores the message (there is nothing to ask).
    #[error("the message is empty")]
    EmptyContent,
    /// The message is longer than the API accepts. Checked before sending, so nothing
    /// was sent; the bridge tells the user to shorten it.
    #[error("the message has {chars} characters; SiteAssist accepts at most {max}")]
    ContentTooLong {
        /// Characters (Unicode scalar values) in the message.
        chars: usize,
        /// The limit.
        max: usize,
    },
    /// The network failed or timed out. Connection failures (nothing sent) were
    /// already retried; any other failure may have reached the server, so the bridge
    /// reports it instead of re-sending.
    #[error("could not reach SiteAssist: {0}")]
    Transport(String),
    /// A 2xx answer whose body is not what the API documents. The bridge reports it;
    /// it usually means the API changed or the URL points elsewhere.
    #[error("unexpected answer from SiteAssist: {0}")]
    Decode(String),
    /// The client cannot be built from its configuration (no key, bad URL or Origin).
    /// The bridge refuses to start the SiteAssist backend.
    #[error("the SiteAssist client is not configured: {0}")]
    NotConfigured(String),
}

impl Error {
    /// How long the server asked us to wait, for rate limits and outages.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Api(api) => api.retry_after(),
            _ => None,
        }
    }

    /// A transport error, described by [`describe_transport`].
    pub(crate) fn transport(err: reqwest::Error) -> Self {
        Self::Transport(describe_transport(err))
    }
}

/// Describes a transport error without its URL (the URL may carry the publishable key),
/// with its causes, which say what actually failed ("connection refused").
pub(crate) fn describe_transport(err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// An error answer of the API, one variant per documented `code`. Every variant carries
/// the HTTP `status` and the server's `message`; the doc of each says what the bridge
/// does about it.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// `INVALID_REQUEST_BODY` (400). A client bug or content the local check missed;
    /// not retried; the bridge tells the user the message was refused.
    InvalidRequestBody {
        /// HTTP status.
        status: u16,
        /// Server message.
        message: String,
        /// The offending field.
        field: Option<String>,
    },
    /// `UNAUTHORIZED` (401). The client re-inits the visitor session once and retries;
    /// if it persists (bad publishable key) the bridge reports a configuration problem.
    Unauthorized {
        /// HTTP status.
        status: u16,
        /// Server message.
        message: String,
    },
    /// `PAYMENT_REQUIRED` (402). The project's plan does not allow this; not retried;
    /// the bridge tells the user the assistant is unavailable and logs the plan.
    PaymentRequired {
        /// HTTP status.
        status: u16,
        /// Server message.
        message: String,
        /// The project's plan.
        current_plan: Option<String>,
        /// The plan needed.
        required_plan: Option<String>,
        /// The feature asked for.
        feature: Option<String>,
    },
    /// `FORBIDDEN` (403). The conversation belongs to another visitor, or the Origin is
    /// not allowed for the key; the bridge starts a new conversation or reports it.
    Forbidden {
        /// HTTP status.
        status: u16,
        /// Server message.
        message: String,
    },
    /// `CONVERSATION_NOT_FOUND` (404). The bridge forgets its link to the conversation
    /// and starts a new one.
    ConversationNotFound {
        /// HTTP status.
        status: u16,
        /// Server message.
        message: String,
        /// The conversation asked for.
        conversation_id: Option<String>,
    },
    /// `CONFLICT` (409). Not retried; reported.
    Conflict {
        /// HTTP status.
        status: u16,
        /// Server message.
        message: String,
        /// The resource kind.
        resource: Option<String>,
        /// The field that clashed.
        conflicting_field: Option<String>,
    },
    /// `VALIDATION_ERROR` (422). The server refused the content; not retried; the
    /// bridge shows the reason to the user.
    Validation {
        /// HTTP status.
        status: u16,
        /// Server message.
        message: String,
        /// The offending field.
        field: Option<String>,
        /// Why it was refused.
        reason: Option<String>,
    },
    /// `RATE_LIMIT_EXCEEDED` (429). Retried by the client after `retry_after`; when the
    /// retries run out the bridge tells the user to try again later.
    RateLimited {
        /// HTTP status.
        status: u16,
        /// Server message.
        message: String,
        /// `details.retryAfter`, else the `Retry-After` header.
        retry_after: Option<Duration>,
    },
    /// `INTERNAL_SERVER_ERROR` (500). Not retried (a message may have been stored);
    /// the bridge reports a failed answer.
    Internal {
        /// HTTP status.
        status: u16,
        /// Server message.
        message: String,
    },
    /// `BAD_GATEWAY` (502). An upstream (AI model) failed; not retried; reported.
    BadGateway {
        /// HTTP status.
        status: u16,
        /// Server message.
        message: String,
        /// The failing upstream service.
        service: Option<String>,
    },
    /// `SERVICE_UNAVAILABLE` (503). Retried like a rate limit; then reported as an
    /// outage.
    ServiceUnavailable {
        /// HTTP status.
        status: u16,
        /// Server message.
        message: String,
        /// `details.retryAfter`, else the `Retry-After` header.
        retry_after: Option<Duration>,
    },
    /// A code this client does not know, or an error status without the JSON envelope
    /// (code `HTTP_<status>`). Not retried; reported with its code.
    Other {
        /// HTTP status.
        status: u16,
        /// Server message.
        message: String,
        /// The code as sent.
        code: String,
        /// The details as sent (`null` when absent).
        details: Value,
    },
}

#[derive(Deserialize)]
struct Envelope {
    error: EnvelopeError,
}

#[derive(Deserialize)]
struct EnvelopeError {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    details: Value,
}

fn text_field(details: &Value, key: &str) -> Option<String> {
    match details.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `retryAfter` in seconds, as a number or a numeric string.
fn seconds_field(details: &Value, key: &str) -> Option<Duration> {
    let secs = match details.get(key)? {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)))
}

impl ApiError {
    /// Decodes an error answer: by the envelope's `code` first, by the HTTP status when
    /// the body is not the envelope (a proxy's HTML page, an empty body).
    /// `retry_after_header` is the parsed `Retry-After` header, used when the details
    /// have no `retryAfter`.
    pub fn from_response(status: u16, retry_after_header: Option<Duration>, body: &str) -> Self {
        let envelope = serde_json::from_str::<Envelope>(body).ok().map(|e| e.error);
        let (message, code, details) = match envelope {
            Some(e) => (e.message, e.code, e.details),
            None => (None, None, Value::Null),
        };
        let message = message.unwrap_or_else(|| {
            let reason = reqwest::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("");
            format!("HTTP {status} {reason}").trim_end().to_owned()
        });
        let retry_after = seconds_field(&details, "retryAfter").or(retry_after_header);
        let code = code.unwrap_or_else(|| match status {
            400 => "INVALID_REQUEST_BODY".into(),
            401 => "UNAUTHORIZED".into(),
            402 => "PAYMENT_REQUIRED".into(),
            403 => "FORBIDDEN".into(),
            409 => "CONFLICT".into(),
            422 => "VALIDATION_ERROR".into(),
            429 => "RATE_LIMIT_EXCEEDED".into(),
            500 => "INTERNAL_SERVER_ERROR".into(),
            502 => "BAD_GATEWAY".into(),
            503 => "SERVICE_UNAVAILABLE".into(),
            // A bare 404 is a wrong route or URL more often than a missing conversation.
            other => format!("HTTP_{other}"),
        });
        let d = &details;
        match code.as_str() {
            "INVALID_REQUEST_BODY" => {
                Self::InvalidRequestBody { status, message, field: text_field(d, "field") }
            }
            "UNAUTHORIZED" => Self::Unauthorized { status, message },
            "PAYMENT_REQUIRED" => Self::PaymentRequired {
                status,
                message,
                current_plan: text_field(d, "currentPlan"),
                required_plan: text_field(d, "requiredPlan"),
                feature: text_field(d, "feature"),
            },
            "FORBIDDEN" => Self::Forbidden { status, message },
            "CONVERSATION_NOT_FOUND" => Self::ConversationNotFound {
                status,
                message,
                conversation_id: text_field(d, "conversationId"),
            },
            "CONFLICT" => Self::Conflict {
                status,
                message,
                resource: text_field(d, "resource"),
                conflicting_field: text_field(d, "conflictingField"),
            },
            "VALIDATION_ERROR" => Self::Validation {
                status,
                message,
                field: text_field(d, "field"),
                reason: text_field(d, "reason"),
            },
            "RATE_LIMIT_EXCEEDED" => Self::RateLimited { status, message, retry_after },
            "INTERNAL_SERVER_ERROR" => Self::Internal { status, message },
            "BAD_GATEWAY" => {
                Self::BadGateway { status, message, service: text_field(d, "service") }
            }
            "SERVICE_UNAVAILABLE" => Self::ServiceUnavailable { status, message, retry_after },
            _ => Self::Other { status, message, code, details },
        }
    }

    /// The HTTP status of the answer.
    pub fn status(&self) -> u16 {
        match self {
            Self::InvalidRequestBody { status, .. }
            | Self::Unauthorized { status, .. }
            | Self::PaymentRequired { status, .. }
            | Self::Forbidden { status, .. }
            | Self::ConversationNotFound { status, .. }
            | Self::Conflict { status, .. }
            | Self::Validation { status, .. }
            | Self::RateLimited { status, .. }
            | Self::Internal { status, .. }
            | Self::BadGateway { status, .. }
            | Self::ServiceUnavailable { status, .. }
            | Self::Other { status, .. } => *status,
        }
    }

    /// The server's message (or `HTTP <status> <reason>` when it sent none).
    pub fn message(&self) -> &str {
        match self {
            Self::InvalidRequestBody { message, .. }
            | Self::Unauthorized { message, .. }
            | Self::PaymentRequired { message, .. }
            | Self::Forbidden { message, .. }
            | Self::ConversationNotFound { message, .. }
            | Self::Conflict { message, .. }
            | Self::Validation { message, .. }
            | Self::RateLimited { message, .. }
            | Self::Internal { message, .. }
            | Self::BadGateway { message, .. }
            | Self::ServiceUnavailable { message, .. }
            | Self::Other { message, .. } => message,
        }
    }

    /// The API's code for this error.
    pub fn code(&self) -> &str {
        match self {
            Self::InvalidRequestBody { .. } => "INVALID_REQUEST_BODY",
            Self::Unauthorized { .. } => "UNAUTHORIZED",
            Self::PaymentRequired { .. } => "PAYMENT_REQUIRED",
            Self::Forbidden { .. } => "FORBIDDEN",
            Self::ConversationNotFound { .. } => "CONVERSATION_NOT_FOUND",
            Self::Conflict { .. } => "CONFLICT",
            Self::Validation { .. } => "VALIDATION_ERROR",
            Self::RateLimited { .. } => "RATE_LIMIT_EXCEEDED",
            Self::Internal { .. } => "INTERNAL_SERVER_ERROR",
            Self::BadGateway { .. } => "BAD_GATEWAY",
            Self::ServiceUnavailable { .. } => "SERVICE_UNAVAILABLE",
            Self::Other { code, .. } => code,
        }
    }

    /// How long the server asked us to wait (rate limit and outage only).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. }
            | Self::ServiceUnavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SiteAssist {} (HTTP {}): {}", self.code(), self.status(), self.message())
    }
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
