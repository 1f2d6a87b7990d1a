//! Slack's assistant-thread methods as docs.slack.dev/reference/methods/ documents them
//! (checked 2026-12-04): `assistant.threads.setStatus` (`channel_id`, `thread_ts`,
//! `status`), `assistant.threads.setSuggestedPrompts` (`channel_id`, `thread_ts`,
//! `prompts`, each with a `title` and a `message`, "up to four", optional `title`),
//! `assistant.threads.setTitle` (`channel_id`, `thread_ts`, `title`). Their documented
//! errors: `channel_not_found` for a bad `channel_id`, `invalid_thread_ts` for a thread
//! it does not know; a missing required argument answers `invalid_arguments`. The fake
//! knows the threads of every DM channel (`D…`) and records what each thread shows.

use super::state::State;
use super::web::{param, Reply};
use serde_json::{json, Value};

/// What an assistant thread shows, as the bridge set it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AssistantThread {
    /// Every status set, in order (`""` clears it).
    pub statuses: Vec<String>,
    /// The suggested prompts, `(title, message)`.
    pub prompts: Vec<(String, String)>,
    /// The thread's title.
    pub title: Option<String>,
}

fn is_ts(s: &str) -> bool {
    let mut parts = s.split('.');
    matches!((parts.next(), parts.next(), parts.next()), (Some(a), Some(b), None)
        if !a.is_empty() && !b.is_empty() && a.bytes().chain(b.bytes()).all(|c| c.is_ascii_digit()))
}

pub(super) fn answer(state: &mut State, method: &str, params: &Value) -> Reply {
    let Some(channel) = param(params, "channel_id").filter(|c| c.starts_with('D')) else {
        return Reply::error("channel_not_found");
    };
    let Some(thread_ts) = param(params, "thread_ts").filter(|t| is_ts(t)) else {
        return Reply::error("invalid_thread_ts");
    };
    let key = (channel, thread_ts);
    match method {
        "assistant.threads.setStatus" => {
            let Some(status) = params.get("status").and_then(Value::as_str) else {
                return Reply::error("invalid_arguments");
            };
            state.assistant.entry(key).or_default().statuses.push(status.to_string());
        }
        "assistant.threads.setSuggestedPrompts" => {
            let Some(Value::Array(list)) = params.get("prompts") else {
                return Reply::error("invalid_arguments");
            };
            let prompts: Option<Vec<(String, String)>> = list
                .iter()
                .map(|p| {
                    Some((p["title"].as_str()?.to_string(), p["message"].as_str()?.to_string()))
                })
                .collect();
            match prompts {
                Some(p) if !p.is_empty() && p.len() <= 4 => {
                    state.assistant.entry(key).or_default().prompts = p;
                }
                _ => return Reply::error("invalid_arguments"),
            }
        }
        "assistant.threads.setTitle" => {
            let Some(title) = param(params, "title") else {
                return Reply::error("invalid_arguments");
            };
            state.assistant.entry(key).or_default().title = Some(title);
        }
        _ => return Reply::error("unknown_method"),
    }
    Reply::ok(json!({}))
}
