//! Metric names and the one place that records each, so dashboards and alerts have a
//! stable vocabulary. Uses the `metrics` facade; without an installed recorder (tests,
//! library use) every call is a no-op.
//!
//! The recorder is process-global by the `metrics` crate's design; [`install`] sets it
//! up once, the only global state in the crate.

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

/// Events received from a platform, by `platform` and `kind` (`message`, `reaction`).
pub const EVENTS_RECEIVED: &str = "siteassist_bridge_events_received_total";
/// Events that needed nothing from the bot, by `platform` and `reason`.
pub const EVENTS_IGNORED: &str = "siteassist_bridge_events_ignored_total";
/// Replies started, by `platform`.
pub const REPLIES_STARTED: &str = "siteassist_bridge_replies_started_total";
/// Replies finished, by `platform` and `outcome` (`answered`, `partial`, `failed`,
/// `human_handled`, `noted`: files alone, none readable, and the reply says so).
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
/// Counter: a human agent's messages posted into chat threads, by platform.
pub const AGENT_MESSAGES_RELAYED: &str = "siteassist_bridge_agent_messages_relayed_total";
/// Gauge: handoff relays running: threads listened to for a takeover, or relaying a
/// person's replies (one socket each).
pub const HANDOFF_RELAYS: &str = "siteassist_bridge_handoff_relays";
/// Gauge: conversation sockets connected now.
pub const HANDOFF_SOCKETS_OPEN: &str = "siteassist_bridge_handoff_sockets_open";
/// Counter: conversation sockets that dropped and connected again.
pub const HANDOFF_RECONNECTS: &str = "siteassist_bridge_handoff_reconnects_total";
/// Counter: attempts to open a conversation socket that failed.
pub const HANDOFF_SOCKET_FAILURES: &str = "siteassist_bridge_handoff_socket_failures_total";
/// Gauge: 1 for each Discord shard this process runs under `discord.shards = "auto"`
/// (label `shard`), 0 once it handed it to another replica.
pub const DISCORD_SHARD_RUNNING: &str = "siteassist_bridge_discord_shard_running";

/// Claims in the store (expired ones not yet swept included).
pub const STORE_CLAIMS: &str = "siteassist_bridge_store_claims";
/// Records of every kind in the store.
pub const STORE_RECORDS: &str = "siteassist_bridge_store_records";
/// The store's size on disk, for a store that keeps files.
pub const STORE_BYTES: &str = "siteassist_bridge_store_bytes";
/// Expired claims removed by the sweeper.
pub const CLAIMS_SWEPT: &str = "siteassist_bridge_store_claims_swept_total";

/// Counter: in-flight replies of a dead replica taken over and closed, by `platform`.
pub const TAKEOVERS: &str = "siteassist_bridge_takeovers_total";
/// Gauge: leases this replica holds (its own, and threads it is answering in).
pub const LEASES_HELD: &str = "siteassist_bridge_leases_held";
/// Gauge: replicas alive at this replica's last heartbeat, itself included; per-app
/// edit budgets are split between them.
pub const REPLICAS_ALIVE: &str = "siteassist_bridge_replicas_alive";

/// Histogram: seconds a PostgreSQL store operation held its connection.
pub const STORE_QUERY_SECONDS: &str = "siteassist_bridge_store_query_seconds";
/// Gauge: the PostgreSQL connection pool, by `state` (`in_use`, `open`).
pub const STORE_POOL_CONNECTIONS: &str = "siteassist_bridge_store_pool_connections";

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
        // A store operation takes milliseconds; the seconds above would put all in one.
        .set_buckets_for_metric(
            Matcher::Full(STORE_QUERY_SECONDS.to_string()),
            &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0],
        )
        .ok()?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).ok()?;
    let _ = HANDLE.set(handle.clone());
    Some(handle)
}

/// A PostgreSQL store operation held its connection for `took`.
pub fn store_query(took: Duration) {
    histogram!(STORE_QUERY_SECONDS).record(took.as_secs_f64());
}

/// The PostgreSQL pool has `open` connections, `in_use` of them lent out.
pub fn store_pool(in_use: usize, open: usize) {
    gauge!(STORE_POOL_CONNECTIONS, "state" => "in_use").set(in_use as f64);
    gauge!(STORE_POOL_CONNECTIONS, "state" => "open").set(open as f64);
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

/// Describes every metric (Prometheus `# HELP` / `# TYPE`) and registers at zero the
/// series whose labels are known in advance: for each of `platforms`, the event kinds,
/// each of `ignore_reasons`, the reply outcomes and the rate-limit counter; the
/// feedback values; the store gauges. Alert rules (`absent()`, `rate()`) and dashboards
/// then see every series from the start rather than after the first event. Series
/// whose labels come from outside (a SiteAssist error code, a failure cause) appear
/// when they first happen.
pub fn register(platforms: &[&'static str], ignore_reasons: &[&'static str]) {
    describe_counter!(
        EVENTS_RECEIVED,
        "Events received from a chat platform, by platform and kind."
    );
    describe_counter!(
        EVENTS_IGNORED,
        "Events that needed nothing from the bot, by platform and reason."
    );
    describe_counter!(REPLIES_STARTED, "Replies started (questions taken on), by platform.");
    describe_counter!(REPLIES_FINISHED, "Replies finished, by platform and outcome.");
    describe_counter!(
        REPLIES_FAILED,
        "Replies that ended in an error notice, by platform and cause."
    );
    describe_counter!(SITEASSIST_ERRORS, "Error answers from SiteAssist, by code.");
    describe_counter!(PLATFORM_RATE_LIMITED, "429 answers from a chat platform, by platform.");
    describe_histogram!(EDITS_PER_REPLY, "Posts and edits per reply, by platform.");
    describe_histogram!(
        FIRST_TEXT_SECONDS,
        "Seconds from the question to the first visible answer text, by platform."
    );
    describe_histogram!(STREAM_SECONDS, "Seconds an answer stream lasted, by platform.");
    describe_gauge!(REPLIES_IN_FLIGHT, "Replies being worked on now, by platform.");
    describe_counter!(FEEDBACK_SENT, "Feedback sent to SiteAssist, by value.");
    describe_counter!(
        AGENT_MESSAGES_RELAYED,
        "A human agent's messages posted into chat threads, by platform."
    );
    describe_gauge!(
        HANDOFF_RELAYS,
        "Handoff relays running: threads listened to for a takeover, or relaying a person (one socket each)."
    );
    describe_gauge!(HANDOFF_SOCKETS_OPEN, "Conversation sockets connected now.");
    describe_gauge!(
        DISCORD_SHARD_RUNNING,
        "1 for each Discord shard this replica runs (discord.shards = \"auto\"), by shard."
    );
    describe_counter!(HANDOFF_RECONNECTS, "Conversation sockets that dropped and came back.");
    describe_counter!(
        HANDOFF_SOCKET_FAILURES,
        "Attempts to open a conversation socket that failed (retried after a backoff)."
    );
    describe_gauge!(STORE_CLAIMS, "Event and message claims in the store.");
    describe_gauge!(STORE_RECORDS, "Records of every kind in the store.");
    describe_gauge!(STORE_BYTES, "The store's size on disk, in bytes.");
    describe_counter!(CLAIMS_SWEPT, "Expired claims removed by the sweeper.");
    describe_histogram!(
        STORE_QUERY_SECONDS,
        "Seconds a PostgreSQL store operation held its connection (its statements' round trips)."
    );
    describe_gauge!(
        STORE_POOL_CONNECTIONS,
        "PostgreSQL connections: open, and in_use (lent to an operation)."
    );
    for &platform in platforms {
        for kind in ["message", "reaction"] {
            counter!(EVENTS_RECEIVED, "platform" => platform, "kind" => kind).increment(0);
        }
        for &reason in ignore_reasons {
            counter!(EVENTS_IGNORED, "platform" => platform, "reason" => reason).increment(0);
        }
        counter!(REPLIES_STARTED, "platform" => platform).increment(0);
        for outcome in ["answered", "partial", "failed", "human_handled", "noted"] {
            counter!(REPLIES_FINISHED, "platform" => platform, "outcome" => outcome).increment(0);
        }
        counter!(PLATFORM_RATE_LIMITED, "platform" => platform).increment(0);
        counter!(AGENT_MESSAGES_RELAYED, "platform" => platform).increment(0);
        gauge!(REPLIES_IN_FLIGHT, "platform" => platform).increment(0.0);
        for name in [EDITS_PER_REPLY, FIRST_TEXT_SECONDS, STREAM_SECONDS] {
            // Registering the handle makes the series (count 0) without a sample.
            let _ = histogram!(name, "platform" => platform);
        }
    }
    for value in ["like", "dislike", "none"] {
        counter!(FEEDBACK_SENT, "value" => value).increment(0);
    }
    counter!(CLAIMS_SWEPT).increment(0);
    gauge!(HANDOFF_RELAYS).set(0.0);
    gauge!(HANDOFF_SOCKETS_OPEN).set(0.0);
    counter!(HANDOFF_RECONNECTS).increment(0);
    counter!(HANDOFF_SOCKET_FAILURES).increment(0);
    describe_counter!(TAKEOVERS, "Replies of a dead replica taken over and closed, by platform.");
    describe_gauge!(LEASES_HELD, "Leases this replica holds (its own and threads').");
    for platform in platforms {
        counter!(TAKEOVERS, "platform" => *platform).increment(0);
    }
    gauge!(LEASES_HELD).increment(0.0);
    describe_gauge!(
        REPLICAS_ALIVE,
        "Replicas alive at the last heartbeat (edit budgets are split)."
    );
}

/// The replicas alive at this replica's last heartbeat.
pub fn replicas_alive(n: usize) {
    gauge!(REPLICAS_ALIVE).set(n as f64);
}

/// A dead replica's reply was taken over.
pub fn takeover(platform: &'static str) {
    counter!(TAKEOVERS, "platform" => platform).increment(1);
}

/// This replica took (`+1`) or released (`-n`) leases.
pub fn leases_held(delta: f64) {
    gauge!(LEASES_HELD).increment(delta);
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

/// A human agent's message was posted into a thread.
pub fn agent_message_relayed(platform: &'static str) {
    counter!(AGENT_MESSAGES_RELAYED, "platform" => platform).increment(1);
}

/// Handoff relays running now (listening for a takeover, or relaying a person).
pub fn handoff_relays(count: usize) {
    gauge!(HANDOFF_RELAYS).set(count as f64);
}

/// Conversation sockets connected now.
pub fn handoff_sockets_open(count: usize) {
    gauge!(HANDOFF_SOCKETS_OPEN).set(count as f64);
}

/// A relay's socket dropped and connected again.
pub fn handoff_reconnected() {
    counter!(HANDOFF_RECONNECTS).increment(1);
}

/// A relay's socket could not be opened (it is tried again after a backoff).
pub fn handoff_socket_failed() {
    counter!(HANDOFF_SOCKET_FAILURES).increment(1);
}

/// This replica started (`true`) or handed back a Discord shard.
pub fn discord_shard_running(shard: u32, running: bool) {
    let value = if running { 1.0 } else { 0.0 };
    gauge!(DISCORD_SHARD_RUNNING, "shard" => shard.to_string()).set(value);
}

/// Feedback sent, by value.
pub fn feedback_sent(value: &'static str) {
    counter!(FEEDBACK_SENT, "value" => value).increment(1);
}
