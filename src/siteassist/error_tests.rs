//! Tests of the error envelope decoding.

use super::*;
use serde_json::json;

fn envelope(message: &str, code: &str, details: Option<Value>) -> String {
    let mut error = json!({ "message": message, "code": code });
    if let Some(d) = details {
        error["details"] = d;
    }
    json!({ "error": error }).to_string()
}

#[test]
fn every_documented_envelope_parses_to_its_variant() {
    let cases: Vec<(u16, String, ApiError)> = vec![
        (
            400,
            envelope(
                "Invalid request body. Content is required.",
                "INVALID_REQUEST_BODY",
                Some(json!({"field": "content"})),
            ),
            ApiError::InvalidRequestBody {
                status: 400,
                message: "Invalid request body. Content is required.".into(),
                field: Some("content".into()),
            },
        ),
        (
            401,
            envelope("Authentication required", "UNAUTHORIZED", None),
            ApiError::Unauthorized { status: 401, message: "Authentication required".into() },
        ),
        (
            402,
            envelope(
                "A higher pricing plan is required to access this feature",
                "PAYMENT_REQUIRED",
                Some(json!({"currentPlan": "free", "requiredPlan": "pro",
                            "feature": "advanced_ai_models"})),
            ),
            ApiError::PaymentRequired {
                status: 402,
                message: "A higher pricing plan is required to access this feature".into(),
                current_plan: Some("free".into()),
                required_plan: Some("pro".into()),
                feature: Some("advanced_ai_models".into()),
            },
        ),
        (
            403,
            envelope("Access denied to this conversation", "FORBIDDEN", None),
            ApiError::Forbidden {
                status: 403,
                message: "Access denied to this conversation".into(),
            },
        ),
        (
            404,
            envelope(
                "Conversation not found!",
                "CONVERSATION_NOT_FOUND",
                Some(json!({"conversationId": "123e4567-e89b-12d3-a456-426614174000"})),
            ),
            ApiError::ConversationNotFound {
                status: 404,
                message: "Conversation not found!".into(),
                conversation_id: Some("123e4567-e89b-12d3-a456-426614174000".into()),
            },
        ),
        (
            409,
            envelope(
                "Resource already exists",
                "CONFLICT",
                Some(json!({"resource": "conversation", "conflictingField": "id"})),
            ),
            ApiError::Conflict {
                status: 409,
                message: "Resource already exists".into(),
                resource: Some("conversation".into()),
                conflicting_field: Some("id".into()),
            },
        ),
        (
            422,
            envelope(
                "Validation failed",
                "VALIDATION_ERROR",
                Some(json!({"field": "content",
                    "reason": "Content exceeds maximum length of 10000 characters"})),
            ),
            ApiError::Validation {
                status: 422,
                message: "Validation failed".into(),
                field: Some("content".into()),
                reason: Some("Content exceeds maximum length of 10000 characters".into()),
            },
        ),
        (
            429,
            envelope(
                "Rate limit exceeded. Please try again later.",
                "RATE_LIMIT_EXCEEDED",
                Some(json!({"retryAfter": 60})),
            ),
            ApiError::RateLimited {
                status: 429,
                message: "Rate limit exceeded. Please try again later.".into(),
                retry_after: Some(Duration::from_secs(60)),
            },
        ),
        (
            500,
            envelope("An internal server error occurred", "INTERNAL_SERVER_ERROR", None),
            ApiError::Internal { status: 500, message: "An internal server error occurred".into() },
        ),
        (
            502,
            envelope(
                "Service temporarily unavailable",
                "BAD_GATEWAY",
                Some(json!({"service": "ai_model_service"})),
            ),
            ApiError::BadGateway {
                status: 502,
                message: "Service temporarily unavailable".into(),
                service: Some("ai_model_service".into()),
            },
        ),
        (
            503,
            envelope(
                "Service temporarily unavailable",
                "SERVICE_UNAVAILABLE",
                Some(json!({"retryAfter": 30})),
            ),
            ApiError::ServiceUnavailable {
                status: 503,
                message: "Service temporarily unavailable".into(),
                retry_after: Some(Duration::from_secs(30)),
            },
        ),
    ];
    for (status, body, want) in cases {
        let got = ApiError::from_response(status, None, &body);
        assert_eq!(got, want, "body {body}");
        assert_eq!(got.status(), status);
        assert!(body.contains(got.code()), "{} not in {body}", got.code());
    }
}

#[test]
fn code_decides_before_status() {
    let body = envelope("slow down", "RATE_LIMIT_EXCEEDED", Some(json!({"retryAfter": "2"})));
    let got = ApiError::from_response(400, None, &body);
    assert_eq!(got.retry_after(), Some(Duration::from_secs(2)));
    assert_eq!(got.code(), "RATE_LIMIT_EXCEEDED");
    assert_eq!(got.status(), 400);
}

#[test]
fn unknown_code_keeps_code_and_details() {
    let body = envelope("Message not found", "MESSAGE_NOT_FOUND", Some(json!({"messageId": "m1"})));
    let got = ApiError::from_response(404, None, &body);
    assert_eq!(
        got,
        ApiError::Other {
            status: 404,
            message: "Message not found".into(),
            code: "MESSAGE_NOT_FOUND".into(),
            details: json!({"messageId": "m1"}),
        }
    );
}

#[test]
fn non_envelope_bodies_fall_back_to_the_status() {
    let table: &[(u16, &str, &str)] = &[
        (401, "", "UNAUTHORIZED"),
        (429, "Too Many Requests", "RATE_LIMIT_EXCEEDED"),
        (502, "<html>bad gateway</html>", "BAD_GATEWAY"),
        (503, "{\"error\":\"down\"}", "SERVICE_UNAVAILABLE"),
        (404, "Not Found", "HTTP_404"),
        (504, "", "HTTP_504"),
    ];
    for (status, body, code) in table {
        let got = ApiError::from_response(*status, Some(Duration::from_secs(7)), body);
        assert_eq!(got.code(), *code, "status {status}");
        assert!(got.message().starts_with(&format!("HTTP {status}")), "{got}");
    }
    let limited = ApiError::from_response(429, Some(Duration::from_secs(7)), "");
    assert_eq!(limited.retry_after(), Some(Duration::from_secs(7)));
}

#[test]
fn details_retry_after_wins_over_the_header() {
    let body = envelope("busy", "SERVICE_UNAVAILABLE", Some(json!({"retryAfter": 1.5})));
    let got = ApiError::from_response(503, Some(Duration::from_secs(9)), &body);
    assert_eq!(Error::Api(got).retry_after(), Some(Duration::from_millis(1500)));
    assert_eq!(Error::EmptyContent.retry_after(), None);
}
