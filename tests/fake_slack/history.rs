//! History: `conversations.replies` and `conversations.history`, listing the bot's
//! messages and the people's the fake saw in events.

use super::state::{FakeSlackConfig, State, UserMessage};
use super::web::{message_json, param, Reply};
use serde_json::{json, Value};

/// `conversations.replies` (a thread: `ts` is its parent) or `conversations.history` (the
/// channel's top-level messages): the bot's messages and the people's the fake saw in
/// events, oldest first as Slack sends replies, between `oldest` and `latest` (each
/// exclusive unless `inclusive=true`), `limit` (default 100) a page, the next page's
/// offset as `response_metadata.next_cursor`.
pub(super) fn history(cfg: &FakeSlackConfig, state: &State, method: &str, params: &Value) -> Reply {
    let Some(channel) = param(params, "channel") else {
        return Reply::error("channel_not_found");
    };
    let thread = if method == "conversations.replies" {
        match param(params, "ts") {
            Some(ts) => Some(ts),
            None => return Reply::error("thread_not_found"),
        }
    } else {
        None
    };
    let oldest = param(params, "oldest").unwrap_or_default();
    let latest = param(params, "latest");
    let inclusive = matches!(params.get("inclusive"), Some(Value::Bool(true)))
        || param(params, "inclusive").as_deref() == Some("true");
    let in_place = |m_ts: &str, m_thread: Option<&String>| match &thread {
        Some(ts) => m_thread == Some(ts) || m_ts == ts,
        None => m_thread.is_none(),
    };
    let in_range = |ts: &str| {
        let after = if inclusive { ts >= oldest.as_str() } else { ts > oldest.as_str() };
        let before = latest.as_deref().is_none_or(|l| if inclusive { ts <= l } else { ts < l });
        after && before
    };
    let mut listed: Vec<(String, Value)> = state
        .messages
        .iter()
        .filter(|m| m.channel == channel && in_place(&m.ts, m.thread_ts.as_ref()))
        .filter(|m| in_range(&m.ts))
        .map(|m| (m.ts.clone(), message_json(cfg, m)))
        .collect();
    listed.extend(
        state
            .user_messages
            .iter()
            .filter(|m| m.channel == channel && in_place(&m.ts, m.thread_ts.as_ref()))
            .filter(|m| in_range(&m.ts))
            .map(|m| (m.ts.clone(), user_message_json(cfg, m))),
    );
    if let Some(ts) = thread.as_ref().filter(|ts| {
        state.assistant_roots.contains(&(channel.clone(), ts.to_string())) && in_range(ts)
    }) {
        listed.push((ts.clone(), assistant_root_json(cfg, ts)));
    }
    listed.sort_by(|a, b| a.0.cmp(&b.0));
    let limit = param(params, "limit").and_then(|l| l.parse().ok()).unwrap_or(100usize).max(1);
    let start: usize = param(params, "cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
    let page: Vec<Value> = listed.iter().skip(start).take(limit).map(|(_, m)| m.clone()).collect();
    let more = start + limit < listed.len();
    let next = if more { (start + limit).to_string() } else { String::new() };
    Reply::ok(json!({
        "messages": page,
        "has_more": more,
        "response_metadata": {"next_cursor": next},
    }))
}

/// A person's message as history lists it.
fn user_message_json(cfg: &FakeSlackConfig, m: &UserMessage) -> Value {
    let mut msg = json!({
        "type": "message",
        "user": m.user,
        "text": m.text,
        "ts": m.ts,
        "team": cfg.team_id,
    });
    if let Some(thread_ts) = &m.thread_ts {
        msg["thread_ts"] = json!(thread_ts);
    }
    msg
}

/// The root of an assistant thread as history lists it: a message by the app, of
/// subtype `assistant_app_thread` (docs.slack.dev/reference/events/message/
/// assistant_app_thread, checked 2026-12-05).
fn assistant_root_json(cfg: &FakeSlackConfig, ts: &str) -> Value {
    json!({
        "type": "message",
        "subtype": "assistant_app_thread",
        "user": cfg.bot_user_id,
        "text": "",
        "ts": ts,
        "thread_ts": ts,
        "team": cfg.team_id,
    })
}
