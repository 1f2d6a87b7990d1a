//! Slack's native streams for AI apps: `chat.startStream`, `chat.appendStream`,
//! `chat.stopStream`, as docs.slack.dev/reference/methods/ documents them (checked
//! 2026-12): start requires `thread_ts` and returns the message `ts`; each call's
//! `markdown_text` is at most 12,000 characters and is appended to the text so far;
//! stop may carry a last `markdown_text` (or a `markdown_text` chunk) and `blocks`
//! shown under it; calls on a stream that is stopped or unknown answer
//! `message_not_in_streaming_state`. Slack limits each method on its own, per
//! workspace (docs.slack.dev/apis/web-api/rate-limits): start and stop are Tier 2 (20
//! a minute each here), appends Tier 4 (100 a minute here); over them, HTTP 429.

use super::state::{PostedMessage, State};
use super::web::{param, Reply};
use axum::http::StatusCode;
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// What the fake does with stream calls (set with `FakeSlack::set_stream_policy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StreamPolicy {
    /// Streams work as documented.
    #[default]
    Accept,
    /// Every `chat.startStream` answers `method_not_supported_for_channel_type`.
    NotSupported,
    /// Appends after the first `k` of the run answer `ratelimited` (HTTP 429).
    RateLimitAfter(usize),
}

/// The streams the fake knows.
#[derive(Default)]
pub(crate) struct Streams {
    pub policy: StreamPolicy,
    /// `(channel, ts)` → open (false once stopped).
    open: HashMap<(String, String), bool>,
    appends: usize,
    /// When each method's accepted calls were made, for its rate limit.
    calls: HashMap<&'static str, VecDeque<Instant>>,
}

const MAX_MARKDOWN_CHARS: usize = 12_000;

fn rate_limited(secs: u64) -> Reply {
    Reply::status(
        StatusCode::TOO_MANY_REQUESTS,
        Some(secs),
        json!({"ok": false, "error": "ratelimited"}),
    )
}

/// Takes a slot of `tier` (`per_minute` calls a minute), or the 429 to answer.
fn take(streams: &mut Streams, tier: &'static str, per_minute: usize) -> Result<(), Reply> {
    let now = Instant::now();
    let window = Duration::from_secs(60);
    let q = streams.calls.entry(tier).or_default();
    while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
        q.pop_front();
    }
    if q.len() >= per_minute {
        return Err(rate_limited(1));
    }
    q.push_back(now);
    Ok(())
}

/// `markdown_text`, plus the text of any `markdown_text` chunks.
fn markdown(params: &Value) -> Result<String, Reply> {
    let mut text = param(params, "markdown_text").unwrap_or_default();
    if let Some(Value::Array(chunks)) = params.get("chunks") {
        for c in chunks.iter().filter(|c| c["type"] == "markdown_text") {
            text.push_str(c["text"].as_str().unwrap_or(""));
        }
    }
    if text.chars().count() > MAX_MARKDOWN_CHARS {
        return Err(Reply::error("msg_too_long"));
    }
    Ok(text)
}

pub(super) fn answer(state: &mut State, method: &str, params: &Value) -> Reply {
    let Some(channel) = param(params, "channel") else { return Reply::error("channel_not_found") };
    match method {
        "chat.startStream" => {
            if state.streams.policy == StreamPolicy::NotSupported {
                return Reply::error("method_not_supported_for_channel_type");
            }
            let Some(thread_ts) = param(params, "thread_ts") else {
                return Reply::error("invalid_arguments");
            };
            if !channel.starts_with('D')
                && (param(params, "recipient_user_id").is_none()
                    || param(params, "recipient_team_id").is_none())
            {
                return Reply::error("invalid_arguments");
            }
            let text = match markdown(params) {
                Ok(t) => t,
                Err(r) => return r,
            };
            if let Err(r) = take(&mut state.streams, "chat.startStream", 20) {
                return r;
            }
            let ts = state.next_ts();
            state.streams.open.insert((channel.clone(), ts.clone()), true);
            state.messages.push(PostedMessage {
                channel: channel.clone(),
                ts: ts.clone(),
                thread_ts: Some(thread_ts),
                text,
                blocks: None,
                edits: 0,
            });
            Reply::ok(json!({"channel": channel, "ts": ts}))
        }
        "chat.appendStream" | "chat.stopStream" => {
            let Some(ts) = param(params, "ts") else { return Reply::error("message_not_found") };
            let key = (channel.clone(), ts.clone());
            if state.streams.open.get(&key) != Some(&true) {
                return Reply::error("message_not_in_streaming_state");
            }
            let stop = method == "chat.stopStream";
            if !stop {
                if param(params, "markdown_text").is_none() {
                    return Reply::error("invalid_arguments");
                }
                if let StreamPolicy::RateLimitAfter(k) = state.streams.policy {
                    if state.streams.appends >= k {
                        return rate_limited(1);
                    }
                }
            }
            let text = match markdown(params) {
                Ok(t) => t,
                Err(r) => return r,
            };
            let limit = if stop {
                take(&mut state.streams, "chat.stopStream", 20)
            } else {
                take(&mut state.streams, "chat.appendStream", 100)
            };
            if let Err(r) = limit {
                return r;
            }
            if !stop {
                state.streams.appends += 1;
            }
            let Some(m) = state.messages.iter_mut().find(|m| m.channel == channel && m.ts == ts)
            else {
                return Reply::error("message_not_found");
            };
            m.text.push_str(&text);
            if stop {
                state.streams.open.insert(key, false);
                if let Some(Value::Array(blocks)) = params.get("blocks") {
                    m.blocks = Some(Value::Array(blocks.clone()));
                }
            }
            Reply::ok(json!({"channel": channel, "ts": ts}))
        }
        _ => Reply::error("unknown_method"),
    }
}
