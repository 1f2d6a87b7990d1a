//! Sending Events API requests (and interactions) the way Slack does: signed with the
//! app's signing secret.
//!
//! Slack signs `v0:{timestamp}:{raw body}` with HMAC-SHA256 and sends
//! `X-Slack-Signature: v0=<hex>` plus `X-Slack-Request-Timestamp`; a retry after a slow or
//! failed answer adds `X-Slack-Retry-Num` and `X-Slack-Retry-Reason`.

use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::Value;
use sha2::Sha256;
use std::fmt::Write as _;
use std::time::Duration;

/// Bounds every request so a hung listener fails the test instead of stalling it.
const POST_TIMEOUT: Duration = Duration::from_secs(10);

/// `"v0=" + hex(HMAC-SHA256(secret, "v0:{timestamp}:{body}"))`.
pub fn sign(signing_secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(signing_secret.as_bytes()).expect("HMAC takes any key");
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    let mut out = String::from("v0=");
    for byte in mac.finalize().into_bytes() {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// Seconds since the Unix epoch, for `X-Slack-Request-Timestamp` (listeners reject
/// timestamps more than five minutes away).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// POSTs `body` (serialised once, signed over exactly those bytes) to `url` like Slack.
/// `retry_num` adds `X-Slack-Retry-Num` and `X-Slack-Retry-Reason: http_timeout`.
pub async fn post_event(
    url: &str,
    signing_secret: &str,
    body: &Value,
    timestamp: i64,
    retry_num: Option<u32>,
) -> (StatusCode, String) {
    let raw = body.to_string();
    let signature = sign(signing_secret, timestamp, &raw);
    post_signed_body(url, &raw, timestamp, &signature, retry_num).await
}

/// Lower level: POSTs a raw body with the given timestamp and signature headers, so tests
/// can send a wrong signature, a stale timestamp or a tampered body.
pub async fn post_signed_body(
    url: &str,
    raw_body: &str,
    timestamp: i64,
    signature: &str,
    retry_num: Option<u32>,
) -> (StatusCode, String) {
    let mut request = reqwest::Client::new()
        .post(url)
        .timeout(POST_TIMEOUT)
        .header("Content-Type", "application/json")
        .header("X-Slack-Request-Timestamp", timestamp.to_string())
        .header("X-Slack-Signature", signature)
        .body(raw_body.to_owned());
    if let Some(n) = retry_num {
        request = request
            .header("X-Slack-Retry-Num", n.to_string())
            .header("X-Slack-Retry-Reason", "http_timeout");
    }
    let sent = std::time::Instant::now();
    let response = request.send().await.expect("event POST reaches the listener");
    let status = response.status();
    // Slack retries an event whose answer takes longer than 3 s.
    let took = sent.elapsed();
    assert!(took <= Duration::from_secs(3), "the Events API answered after {took:?}");
    (status, response.text().await.unwrap_or_default())
}

/// POSTs a form-encoded body (an interaction's `payload=…`) with the given timestamp and
/// signature headers, as Slack sends interactions; a test can pass a wrong signature.
/// Like events, Slack wants the answer within 3 s.
pub async fn post_form(
    url: &str,
    raw_body: &str,
    timestamp: i64,
    signature: &str,
) -> (StatusCode, String) {
    let request = reqwest::Client::new()
        .post(url)
        .timeout(POST_TIMEOUT)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("X-Slack-Request-Timestamp", timestamp.to_string())
        .header("X-Slack-Signature", signature)
        .body(raw_body.to_owned());
    let sent = std::time::Instant::now();
    let response = request.send().await.expect("interaction POST reaches the listener");
    let status = response.status();
    let took = sent.elapsed();
    assert!(took <= Duration::from_secs(3), "the interaction was answered after {took:?}");
    (status, response.text().await.unwrap_or_default())
}
