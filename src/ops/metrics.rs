//! Metric names and the one place that records each, so dashboards and alerts have a
//! stable vocabulary. Uses the `metrics` facade; without an installed recorder (tests,
//! library use) every call is a no-op.
//!
//! The recorder is process-global by the `metrics` crate's design; [`install`] sets it
//! up once, the only global state in the crate.

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

/// Events received from a platform, by `platform` and `kind` (`message`, `reaction`).
pub const EVENTS_RECEIVED: &str = "siteassist_bridge_events_received_total";
/// Events that needed nothing from the bot, by `platform` and `reason`.
pub const EVENTS_IGNORED: &str = "siteassist_bridge_events_ignored_total";
/// Replies started, by `platform`.
pub const REPLIES_STARTED: &str = "siteassist_bridge_replies_started_total";
/// Replies finished, by `platform` and `outcome` (`answered`, `partial`, `failed`,
/// `human_handled`).
pub const REPLIES_FINISHED: &str = "siteassist_bridge_replies_finished_total";
/// Replies that failed, by `platform` and `cause`.
pub const REPLIES_FAILED: &str = "siteassist_bridge_replies_failed_total";
/// Error answers from SiteAssist, by `code`.
pub const SITEASSIST_ERRORS: &str = "siteassist_bridge_siteassist_errors_total";
/// 429s from a chat platform, by `platform`.
pub const PLATFORM_RATE_LIMITED: &str = "siteassist_bridge_platform_rate_limited_total";
/// Edits and posts per reply, by `platform`.
pub const EDITS_PER_REPLY: &str = "siteassist_bridge_reply_edits";
/// Seconds from the question to the first visible answer text, by `platform`.
pub const FIRST_TEXT_SECONDS: &str = "siteassist_bridge_reply_first_text_seconds";
/// Seconds the answer stream lasted, by `platform`.
pub const STREAM_SECONDS: &str = "siteassist_bridge_stream_duration_seconds";
/// Replies being worked on right now, by `platform`.
pub const REPLIES_IN_FLIGHT: &str = "siteassist_bridge_replies_in_flight";
/// Feedback sent to SiteAssist, by `value` (`like`, `dislike`, `none`).
pub const FEEDBACK_SENT: &str = "siteassist_bridge_feedback_sent_total";

/// Claims in the store (expired ones not yet swept included).
pub const STORE_CLAIMS: &str = "siteassist_bridge_store_claims";
/// Records of every kind in the store.
pub const STORE_RECORDS: &str = "siteassist_bridge_store_records";
/// The store's size on disk, for a store that keeps files.
pub const STORE_BYTES: &str = "siteassist_bridge_store_bytes";
/// Expired claims removed by the sweeper.
pub const CLAIMS_SWEPT: &str = "siteassist_bridge_store_claims_swept_total";

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder (once; later calls return the same handle).
/// Returns `None` if another recorder was installed first.
pub fn install() -> Option<PrometheusHandle> {
    if let Some(h) = HANDLE.get() {
        return Some(h.clone());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets(&[0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0])
        .ok()?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).ok()?;
    let _ = HANDLE.set(handle.clone());
    Some(handle)
}

/// The sweeper removed `removed` claims and measured the store.
pub fn store_swept(removed: usize, stats: &crate::store::StoreStats) {
    counter!(CLAIMS_SWEPT).increment(removed as u64);
    gauge!(STORE_CLAIMS).set(stats.claims as f64);
    gauge!(STORE_RECORDS).set(stats.records as f64);
    if let Some(bytes) = stats.bytes_on_disk {
        gauge!(STORE_BYTES).set(bytes as f64);
    }
}

/// An event arrived.
pub fn event_received(platform: &'static str, kind: &'static str) {
    counter!(EVENTS_RECEIVED, "platform" => platform, "kind" => kind).increment(1);
}

/// An event was ignored.
pub fn event_ignored(platform: &'static str, reason: &'static str) {
    counter!(EVENTS_IGNORED, "platform" => platform, "reason" => reason).increment(1);
}

/// A reply started (a question was taken on).
pub fn reply_started(platform: &'static str) {
    counter!(REPLIES_STARTED, "platform" => platform).increment(1);
    gauge!(REPLIES_IN_FLIGHT, "platform" => platform).increment(1.0);
}

/// A reply finished with `outcome`, after `edits` platform calls.
pub fn reply_finished(platform: &'static str, outcome: &'static str, edits: usize) {
    counter!(REPLIES_FINISHED, "platform" => platform, "outcome" => outcome).increment(1);
    gauge!(REPLIES_IN_FLIGHT, "platform" => platform).decrement(1.0);
    histogram!(EDITS_PER_REPLY, "platform" => platform).record(edits as f64);
}

/// A reply failed because of `cause`.
pub fn reply_failed(platform: &'static str, cause: impl Into<String>) {
    counter!(REPLIES_FAILED, "platform" => platform, "cause" => cause.into()).increment(1);
}

/// The first answer text became visible `after` the question was taken on.
pub fn first_text(platform: &'static str, after: Duration) {
    histogram!(FIRST_TEXT_SECONDS, "platform" => platform).record(after.as_secs_f64());
}

/// An answer stream lasted `took`.
pub fn stream_duration(platform: &'static str, took: Duration) {
    histogram!(STREAM_SECONDS, "platform" => platform).record(took.as_secs_f64());
}

/// SiteAssist answered with an error `code`.
pub fn siteassist_error(code: &str) {
    counter!(SITEASSIST_ERRORS, "code" => code.to_string()).increment(1);
}

/// A platform said 429.
pub fn platform_rate_limited(platform: &'static str) {
    counter!(PLATFORM_RATE_LIMITED, "platform" => platform).increment(1);
}

/// Feedback was sent.
pub fn feedback_sent(value: &'static str) {
    counter!(FEEDBACK_SENT, "value" => value).increment(1);
}
