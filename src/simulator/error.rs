//! The API's error envelope, and a body extractor whose failures use it too.
//!
//! Every error the simulator returns is `{"error":{"message","code","details"?}}`, even
//! for bodies axum itself refuses (malformed JSON, too large), because a client that
//! parses the envelope must never meet a plain-text error from the fake that the real API
//! would not send.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::convert::Infallible;

/// Largest request body accepted, so that a misbehaving client cannot fill memory.
pub(crate) const MAX_BODY_BYTES: usize = 64 * 1024;

/// An error response in the API's envelope.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), details: None }
    }

    /// Adds the `details` object.
    pub(crate) fn details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// 401 for a missing, unknown or expired session token.
    pub(crate) fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "Authentication required")
    }

    /// 403 for another visitor's resource or a disallowed origin.
    pub(crate) fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, "FORBIDDEN", "Access denied")
    }

    /// 500 with no details.
    pub(crate) fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_SERVER_ERROR",
            "An internal error occurred.",
        )
    }

    /// 400 `INVALID_REQUEST_BODY`; `field` names the offending field when there is one.
    pub(crate) fn invalid_body(message: impl Into<String>, field: Option<&str>) -> Self {
        let e = Self::new(StatusCode::BAD_REQUEST, "INVALID_REQUEST_BODY", message);
        match field {
            Some(f) => e.details(json!({ "field": f })),
            None => e,
        }
    }

    /// 422 `VALIDATION_ERROR` for a present, well-typed value that breaks a rule.
    pub(crate) fn validation(field: &str, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
            format!("Invalid value for {field}: {reason}"),
        )
        .details(json!({ "field": field, "reason": reason }))
    }

    /// 404 `CONVERSATION_NOT_FOUND`.
    pub(crate) fn conversation_not_found(id: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "CONVERSATION_NOT_FOUND", "Conversation not found")
            .details(json!({ "conversationId": id }))
    }

    /// 404 for an unknown message id (the real code is undocumented).
    pub(crate) fn message_not_found(id: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "MESSAGE_NOT_FOUND", "Message not found")
            .details(json!({ "messageId": id }))
    }

    /// The envelope as JSON.
    pub(crate) fn body(&self) -> Value {
        let mut inner = json!({ "message": self.message, "code": self.code });
        if let (Some(d), Some(obj)) = (&self.details, inner.as_object_mut()) {
            obj.insert("details".into(), d.clone());
        }
        json!({ "error": inner })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

/// A JSON request body read without ever rejecting: the handler decides when a body
/// error is reported, so that checks the real API makes first (authentication) come
/// first here too. `Ok(None)` is an empty body.
pub(crate) struct JsonBody(pub Result<Option<Value>, ApiError>);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = Infallible;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json =
            req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(|v| {
                let mime = v.split(';').next().unwrap_or("").trim();
                mime.eq_ignore_ascii_case("application/json")
            });
        let bytes = match Bytes::from_request(req, state).await {
            Ok(b) => b,
            Err(rejection) => {
                let e = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    too_large()
                } else {
                    ApiError::invalid_body("Could not read the request body", None)
                };
                return Ok(JsonBody(Err(e)));
            }
        };
        Ok(JsonBody(parse_json_body(&bytes, is_json)))
    }
}

/// 413 for a body over [`MAX_BODY_BYTES`].
pub(crate) fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
        format!("Request body exceeds {MAX_BODY_BYTES} bytes"),
    )
}

/// Parses a body; `is_json` is whether the Content-Type said JSON (`None`: no header).
fn parse_json_body(bytes: &[u8], is_json: Option<bool>) -> Result<Option<Value>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    if is_json != Some(true) {
        return Err(ApiError::invalid_body("Expected Content-Type: application/json", None));
    }
    serde_json::from_slice(bytes)
        .map(Some)
        .map_err(|e| ApiError::invalid_body(format!("Malformed JSON: {e}"), None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_has_details_only_when_set() {
        assert_eq!(
            ApiError::unauthorized().body(),
            json!({"error":{"message":"Authentication required","code":"UNAUTHORIZED"}})
        );
        assert_eq!(
            ApiError::invalid_body("x", Some("content")).body()["error"]["details"],
            json!({"field":"content"})
        );
    }

    #[test]
    fn body_parsing_distinguishes_empty_malformed_and_wrong_type() {
        assert_eq!(parse_json_body(b"", None), Ok(None));
        assert_eq!(parse_json_body(b"{\"a\":1}", Some(true)), Ok(Some(json!({"a":1}))));
        let e = parse_json_body(b"{nope", Some(true)).unwrap_err();
        assert_eq!((e.status, e.code), (StatusCode::BAD_REQUEST, "INVALID_REQUEST_BODY"));
        assert!(parse_json_body(b"{}", Some(false)).is_err());
        assert!(parse_json_body(b"{}", None).is_err());
    }
}
