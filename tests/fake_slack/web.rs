//! The Web API half: `/api/{method}` answering with Slack's JSON shapes.
//!
//! slack-morphism sends `GET` with query parameters for read methods (`auth.test`,
//! `users.info`, `conversations.info`, `chat.getPermalink`) and `POST` with a JSON body
//! for writes, always with `Authorization: Bearer`. Real Slack also takes form bodies and
//! a `token` parameter, so all of these are accepted and recorded the same way.

use super::state::{FailKind, FakeSlackConfig, PostedMessage, RecordedCall, Shared, State};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as AxumState};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Instant;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/{method}", any(handle))
        .route("/files/{name}", axum::routing::get(file))
        .with_state(shared)
}

/// What one call answers.
pub(super) struct Reply {
    status: StatusCode,
    retry_after: Option<u64>,
    body: Value,
}

impl Reply {
    pub(super) fn ok(mut body: Value) -> Self {
        if let Value::Object(map) = &mut body {
            map.insert("ok".into(), Value::Bool(true));
        }
        Self { status: StatusCode::OK, retry_after: None, body }
    }

    pub(super) fn status(status: StatusCode, retry_after: Option<u64>, body: Value) -> Self {
        Self { status, retry_after, body }
    }

    pub(super) fn error(code: &str) -> Self {
        Self {
            status: StatusCode::OK,
            retry_after: None,
            body: json!({"ok": false, "error": code}),
        }
    }
}

async fn handle(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(method): Path<String>,
    http_method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (params, token) = parse_request(query.as_deref(), &headers, &body);
    let reply = {
        let mut state = shared.lock();
        let reply = answer(&shared, &mut state, &method, &params, token.as_deref());
        let error = reply.body.get("error").and_then(Value::as_str).map(str::to_owned);
        state.calls.push(RecordedCall {
            method,
            params,
            token,
            http_method: http_method.to_string(),
            error,
            at: Instant::now(),
        });
        reply
    };
    shared.notify();
    let mut response = (reply.status, Json(reply.body)).into_response();
    if let Some(secs) = reply.retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, secs.into());
    }
    response
}

/// `GET /files/{name}`: a shared file's `url_private`, which Slack serves only with the
/// bot token as a Bearer credential (without it, a login page; here a 404 so a test
/// sees it).
async fn file(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let authorised = auth.as_deref() == Some(&format!("Bearer {}", shared.cfg.bot_token));
    let found = {
        let mut state = shared.lock();
        state.file_fetches.push((name.clone(), auth));
        state.files.get(&name).cloned()
    };
    shared.notify();
    match (authorised, found) {
        (true, Some((bytes, content_type))) => {
            ([(header::CONTENT_TYPE, content_type)], bytes).into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Merges query, JSON or form parameters into one object and pulls out the token.
fn parse_request(query: Option<&str>, headers: &HeaderMap, body: &[u8]) -> (Value, Option<String>) {
    let mut params = Map::new();
    fn add_pairs(raw: &[u8], params: &mut Map<String, Value>) {
        for (k, v) in url::form_urlencoded::parse(raw) {
            params.insert(k.into_owned(), Value::String(v.into_owned()));
        }
    }
    if let Some(q) = query {
        add_pairs(q.as_bytes(), &mut params);
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if !body.is_empty() {
        let as_json = if content_type.contains("form-urlencoded") {
            None
        } else {
            serde_json::from_slice::<Value>(body).ok()
        };
        match as_json {
            Some(Value::Object(map)) => params.extend(map),
            _ => add_pairs(body, &mut params),
        }
    }
    let param_token = params.remove("token").and_then(|v| v.as_str().map(str::to_owned));
    let header_token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned());
    (Value::Object(params), header_token.or(param_token))
}

/// Which token a method needs.
#[derive(Clone, Copy, PartialEq)]
enum TokenKind {
    Bot,
    App,
    Either,
}

fn token_kind(method: &str) -> Option<TokenKind> {
    Some(match method {
        "auth.test" => TokenKind::Either,
        "apps.connections.open" => TokenKind::App,
        "chat.postMessage"
        | "chat.update"
        | "chat.delete"
        | "chat.getPermalink"
        | "chat.startStream"
        | "chat.appendStream"
        | "chat.stopStream"
        | "users.info"
        | "conversations.info"
        | "conversations.replies"
        | "conversations.history"
        | "reactions.add"
        | "reactions.remove"
        | "assistant.threads.setStatus"
        | "assistant.threads.setSuggestedPrompts"
        | "assistant.threads.setTitle" => TokenKind::Bot,
        _ => return None,
    })
}

/// Slack's answers: `not_authed` without a token, `not_allowed_token_type` for the other
/// kind of token, `invalid_auth` for anything else.
fn check_token(cfg: &FakeSlackConfig, kind: TokenKind, token: Option<&str>) -> Result<(), Reply> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Err(Reply::error("not_authed"));
    };
    let is_bot = token == cfg.bot_token;
    let is_app = token == cfg.app_token;
    match kind {
        TokenKind::Bot if is_bot => Ok(()),
        TokenKind::App if is_app => Ok(()),
        TokenKind::Either if is_bot || is_app => Ok(()),
        _ if is_bot || is_app => Err(Reply::error("not_allowed_token_type")),
        _ => Err(Reply::error("invalid_auth")),
    }
}

fn answer(
    shared: &Shared,
    state: &mut State,
    method: &str,
    params: &Value,
    token: Option<&str>,
) -> Reply {
    let Some(kind) = token_kind(method) else {
        return Reply::error("unknown_method");
    };
    if let Err(reply) = check_token(&shared.cfg, kind, token) {
        return reply;
    }
    if let Some(fail) = state.failures.get_mut(method).and_then(|q| q.pop_front()) {
        state.failure_hits.push((method.to_owned(), param(params, "channel")));
        if let FailKind::StatusAfterEffect(code) = fail {
            let _done = answer(shared, state, method, params, token);
            return Reply {
                status: StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                retry_after: None,
                body: json!({"ok": false, "error": "fatal_error"}),
            };
        }
        return match fail {
            FailKind::RateLimited { retry_after_secs } => Reply {
                status: StatusCode::TOO_MANY_REQUESTS,
                retry_after: Some(retry_after_secs),
                body: json!({"ok": false, "error": "ratelimited"}),
            },
            FailKind::Error(code) => Reply::error(code),
            FailKind::Status(code) | FailKind::StatusAfterEffect(code) => Reply {
                status: StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                retry_after: None,
                body: json!({"ok": false, "error": "fatal_error"}),
            },
        };
    }
    let cfg = &shared.cfg;
    match method {
        "auth.test" => Reply::ok(json!({
            "url": "https://fake-team.slack.com/",
            "team": cfg.team_name,
            "user": cfg.bot_name,
            "team_id": cfg.team_id,
            "user_id": cfg.bot_user_id,
            "bot_id": cfg.bot_id,
            "is_enterprise_install": false,
        })),
        "apps.connections.open" => {
            let ticket = uuid::Uuid::new_v4().to_string();
            state.tickets.insert(ticket.clone());
            Reply::ok(json!({"url": format!("{}?ticket={ticket}", shared.socket_base)}))
        }
        "chat.postMessage" => post_message(cfg, state, params),
        "chat.update" => update_message(cfg, state, params),
        "chat.startStream" | "chat.appendStream" | "chat.stopStream" => {
            super::streams::answer(state, method, params)
        }
        "chat.delete" => {
            let (channel, ts) = (param(params, "channel"), param(params, "ts"));
            let Some(channel) = channel else { return Reply::error("channel_not_found") };
            let before = state.messages.len();
            state.messages.retain(|m| !(m.channel == channel && Some(&m.ts) == ts.as_ref()));
            if state.messages.len() == before {
                return Reply::error("message_not_found");
            }
            Reply::ok(json!({"channel": channel, "ts": ts}))
        }
        "chat.getPermalink" => {
            let Some(channel) = param(params, "channel") else {
                return Reply::error("channel_not_found");
            };
            let Some(ts) = param(params, "message_ts") else {
                return Reply::error("message_not_found");
            };
            Reply::ok(json!({"channel": channel, "permalink": permalink(state, &channel, &ts)}))
        }
        "users.info" => match param(params, "user").and_then(|id| user_json(cfg, state, &id)) {
            Some(user) => Reply::ok(json!({"user": user})),
            None => Reply::error("user_not_found"),
        },
        "conversations.info" => {
            match param(params, "channel").and_then(|id| channel_json(state, &id)) {
                Some(channel) => Reply::ok(json!({"channel": channel})),
                None => Reply::error("channel_not_found"),
            }
        }
        "conversations.replies" | "conversations.history" => {
            super::history::history(cfg, state, method, params)
        }
        "reactions.add" | "reactions.remove" => react(state, params, method == "reactions.add"),
        m if m.starts_with("assistant.threads.") => super::assistant::answer(state, m, params),
        _ => Reply::error("unknown_method"),
    }
}

/// A non-empty string parameter (numbers are accepted as their text, as Slack does).
pub(super) fn param(params: &Value, key: &str) -> Option<String> {
    match params.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Blocks arrive as an array (JSON body) or a JSON-encoded string (form body). `None`
/// when absent; `Some([])` for an empty list, which `chat.update` takes as "remove the
/// blocks" (without the field it keeps them).
fn blocks_param(params: &Value) -> Option<Value> {
    match params.get("blocks")? {
        Value::Array(a) => Some(Value::Array(a.clone())),
        Value::String(s) => serde_json::from_str::<Value>(s).ok().filter(Value::is_array),
        _ => None,
    }
}

/// Whether `blocks` has any block.
fn has_blocks(blocks: &Option<Value>) -> bool {
    blocks.as_ref().and_then(Value::as_array).is_some_and(|a| !a.is_empty())
}

/// The message object Slack returns for a bot post or update.
pub(super) fn message_json(cfg: &FakeSlackConfig, m: &PostedMessage) -> Value {
    let mut msg = json!({
        "type": "message",
        "user": cfg.bot_user_id,
        "bot_id": cfg.bot_id,
        "app_id": cfg.app_id,
        "text": m.text,
        "ts": m.ts,
        "team": cfg.team_id,
        "bot_profile": {
            "id": cfg.bot_id, "app_id": cfg.app_id, "name": cfg.bot_name,
            "deleted": false, "team_id": cfg.team_id, "updated": 1_700_000_000,
        },
    });
    if let Some(thread_ts) = &m.thread_ts {
        msg["thread_ts"] = json!(thread_ts);
        msg["parent_user_id"] = json!(cfg.bot_user_id);
    }
    if let Some(blocks) = &m.blocks {
        msg["blocks"] = blocks.clone();
    }
    msg
}

/// Checks text/blocks like Slack: one of them is required, text is capped (a text over
/// the cap is also noted as something the bridge must never send).
fn content(state: &mut State, params: &Value) -> Result<(String, Option<Value>), Reply> {
    let text = param(params, "text");
    let blocks = blocks_param(params);
    if text.is_none() && !has_blocks(&blocks) && params.get("attachments").is_none() {
        return Err(Reply::error("no_text"));
    }
    let text = text.unwrap_or_default();
    super::text_limits::check(state, &text)?;
    Ok((text, blocks))
}

fn post_message(cfg: &FakeSlackConfig, state: &mut State, params: &Value) -> Reply {
    let Some(channel) = param(params, "channel") else {
        return Reply::error("channel_not_found");
    };
    let (text, blocks) = match content(state, params) {
        Ok(c) => c,
        Err(reply) => return reply,
    };
    let ts = state.next_ts();
    let posted = PostedMessage {
        channel: channel.clone(),
        ts: ts.clone(),
        thread_ts: param(params, "thread_ts"),
        text,
        blocks: blocks.filter(|b| has_blocks(&Some(b.clone()))),
        edits: 0,
    };
    let message = message_json(cfg, &posted);
    state.messages.push(posted);
    Reply::ok(json!({"channel": channel, "ts": ts, "message": message}))
}

fn update_message(cfg: &FakeSlackConfig, state: &mut State, params: &Value) -> Reply {
    let Some(channel) = param(params, "channel") else {
        return Reply::error("channel_not_found");
    };
    let Some(ts) = param(params, "ts") else {
        return Reply::error("message_not_found");
    };
    // Tier 3: about 50 a minute per workspace (one workspace per fake).
    let now = Instant::now();
    let window = state.limits.update_window;
    while state.updates.front().is_some_and(|t| now.duration_since(*t) >= window) {
        state.updates.pop_front();
    }
    if state.updates.len() >= state.limits.updates_per_window {
        let wait = window.saturating_sub(now.duration_since(state.updates[0]));
        return Reply {
            status: StatusCode::TOO_MANY_REQUESTS,
            retry_after: Some(wait.as_secs_f64().ceil().max(1.0) as u64),
            body: json!({"ok": false, "error": "ratelimited"}),
        };
    }
    state.updates.push_back(now);
    let (text, blocks) = match content(state, params) {
        Ok(c) => c,
        Err(reply) => return reply,
    };
    let Some(m) = state.messages.iter_mut().find(|m| m.channel == channel && m.ts == ts) else {
        return Reply::error("message_not_found");
    };
    m.text = text.clone();
    // Slack's `chat.update`: no `blocks` keeps the message's blocks, `[]` removes them.
    match blocks {
        Some(b) if has_blocks(&Some(b.clone())) => m.blocks = Some(b),
        Some(_) => m.blocks = None,
        None => {}
    }
    m.edits += 1;
    let message = message_json(cfg, m);
    Reply::ok(json!({"channel": channel, "ts": ts, "text": text, "message": message}))
}

/// `https://fake.slack.com/archives/C1/p1700000000000100`, with Slack's
/// `?thread_ts=…&cid=…` suffix for a reply the bot posted in a thread.
fn permalink(state: &State, channel: &str, ts: &str) -> String {
    let base = format!("https://fake.slack.com/archives/{channel}/p{}", ts.replace('.', ""));
    let thread = state
        .messages
        .iter()
        .find(|m| m.channel == channel && m.ts == ts)
        .and_then(|m| m.thread_ts.clone())
        .filter(|t| t != ts);
    match thread {
        Some(t) => format!("{base}?thread_ts={t}&cid={channel}"),
        None => base,
    }
}

/// A configured user, the bot itself, or a made-up profile for any `U…`/`W…` id.
fn user_json(cfg: &FakeSlackConfig, state: &State, id: &str) -> Option<Value> {
    if let Some(user) = state.users.get(id) {
        return Some(user.clone());
    }
    if id == cfg.bot_user_id {
        let mut bot = user_object(&cfg.team_id, id, &cfg.bot_name, "SiteAssist", "");
        bot["is_bot"] = json!(true);
        bot["profile"]["bot_id"] = json!(cfg.bot_id);
        return Some(bot);
    }
    if !(id.starts_with('U') || id.starts_with('W')) {
        return None;
    }
    let name = id.to_ascii_lowercase();
    Some(user_object(&cfg.team_id, id, &name, &format!("User {id}"), &format!("user-{name}")))
}

/// Slack's user object (the fields adapters read: names, profile, bot flag).
pub(crate) fn user_object(
    team_id: &str,
    id: &str,
    name: &str,
    real_name: &str,
    display_name: &str,
) -> Value {
    json!({
        "id": id,
        "team_id": team_id,
        "name": name,
        "deleted": false,
        "real_name": real_name,
        "tz": "Europe/London",
        "tz_label": "Greenwich Mean Time",
        "tz_offset": 0,
        "profile": {
            "real_name": real_name,
            "real_name_normalized": real_name,
            "display_name": display_name,
            "display_name_normalized": display_name,
            "team": team_id,
        },
        "is_admin": false,
        "is_owner": false,
        "is_bot": false,
        "is_app_user": false,
        "updated": 1_700_000_000,
    })
}

/// `C…` public channel, `G…` private channel, `D…` direct message; other ids are unknown.
fn channel_json(state: &State, id: &str) -> Option<Value> {
    let name = state
        .channel_names
        .get(id)
        .cloned()
        .unwrap_or_else(|| format!("chan-{}", id.to_ascii_lowercase()));
    let common = json!({"id": id, "created": 1_600_000_000, "is_archived": false,
        "is_org_shared": false, "is_shared": false, "is_ext_shared": false});
    let mut channel = common;
    match id.chars().next()? {
        'D' => {
            channel["is_im"] = json!(true);
            channel["is_channel"] = json!(false);
            channel["is_group"] = json!(false);
            channel["is_private"] = json!(true);
            channel["is_mpim"] = json!(false);
            channel["is_user_deleted"] = json!(false);
            channel["priority"] = json!(0);
        }
        c @ ('C' | 'G') => {
            let private = c == 'G';
            channel["name"] = json!(name);
            channel["name_normalized"] = json!(name);
            channel["is_channel"] = json!(!private);
            channel["is_group"] = json!(private);
            channel["is_private"] = json!(private);
            channel["is_im"] = json!(false);
            channel["is_mpim"] = json!(false);
            channel["is_member"] = json!(true);
            channel["is_general"] = json!(false);
            channel["creator"] = json!("U0CREATOR");
            channel["topic"] = json!({"value": "", "creator": "", "last_set": 0});
            channel["purpose"] = json!({"value": "", "creator": "", "last_set": 0});
        }
        _ => return None,
    }
    Some(channel)
}

fn react(state: &mut State, params: &Value, add: bool) -> Reply {
    let Some(name) = param(params, "name") else { return Reply::error("invalid_name") };
    let (Some(channel), Some(ts)) = (param(params, "channel"), param(params, "timestamp")) else {
        return Reply::error("no_item_specified");
    };
    let key = (channel, ts, name);
    let existing = state.reactions.iter().position(|r| *r == key);
    match (add, existing) {
        (true, Some(_)) => Reply::error("already_reacted"),
        (true, None) => {
            state.reactions.push(key);
            Reply::ok(json!({}))
        }
        (false, Some(i)) => {
            state.reactions.remove(i);
            Reply::ok(json!({}))
        }
        (false, None) => Reply::error("no_reaction"),
    }
}
