//! The fake REST API (`/api/v10/...`): records every call, answers like Discord, and
//! fails the next call of a kind when a test asked for it.

use super::{payloads, BotMessage, Call, Failure, FakeDiscord, Op, State, BOT, TOKEN};
use axum::body::Bytes;
use axum::extract::{Path, State as AxState};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

type S = AxState<Arc<State>>;

/// Serves the REST API on 127.0.0.1:0; returns the base URL for `discord.api_url`.
pub async fn spawn(state: Arc<State>) -> String {
    let app = Router::new()
        .route("/api/v10/gateway", get(gateway))
        .route("/api/v10/gateway/bot", get(gateway_bot))
        .route("/api/v10/users/@me", get(me))
        .route("/api/v10/channels/{channel}", get(get_channel))
        .route("/api/v10/channels/{channel}/messages", post(create_message).get(list_messages))
        .route("/api/v10/channels/{channel}/messages/{message}", patch(edit_message))
        .route("/api/v10/channels/{channel}/messages/{message}/threads", post(create_thread))
        .route("/api/v10/channels/{channel}/typing", post(typing))
        .route(
            "/api/v10/channels/{channel}/messages/{message}/reactions/{emoji}/@me",
            put(add_reaction),
        )
        .route("/api/v10/interactions/{id}/{token}/callback", post(super::interactions::callback))
        .route(
            "/api/v10/webhooks/{app}/{token}/messages/@original",
            patch(super::interactions::edit_original),
        )
        .route("/api/v10/applications/{app}/commands", put(super::interactions::put_commands))
        .route(
            "/api/v10/applications/{app}/guilds/{guild}/commands",
            put(super::interactions::put_commands),
        )
        .route("/attachments/{name}", get(attachment))
        .fallback(other)
        .with_state(state);
    // A deep accept queue, as a real API's servers would have: the load bench opens
    // thousands of connections at once.
    let listener = siteassist_bridge::simulator::bind(([127, 0, 0, 1], 0).into()).unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// Records the call; answers 401 without the bot token, the injected failure if one is
/// queued, else `ok()`.
pub(super) fn answer(
    state: &State,
    op: Op,
    req: (&Method, &Uri, &HeaderMap),
    ids: (Option<u64>, Option<u64>),
    body: &[u8],
    ok: impl FnOnce() -> (StatusCode, Value),
) -> Response {
    let (method, uri, headers) = req;
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let authorised = headers.get("authorization").and_then(|v| v.to_str().ok())
        == Some(format!("Bot {TOKEN}").as_str());
    let failure = if authorised { state.take_failure(op, ids) } else { None };
    let after_effect =
        if authorised && failure.is_none() { state.take_after_effect(op, ids) } else { None };
    let limited = if authorised && failure.is_none() { throttle(state, op, ids.0) } else { None };
    let (status, response, extra) = match failure {
        _ if !authorised => {
            (StatusCode::UNAUTHORIZED, json!({ "message": "401: Unauthorized", "code": 0 }), vec![])
        }
        Some(f) => (StatusCode::from_u16(f.status).unwrap(), f.body, f.headers),
        None if limited.is_some() => {
            let f = limited.unwrap();
            (StatusCode::from_u16(f.status).unwrap(), f.body, f.headers)
        }
        None => {
            let (s, v) = ok();
            match after_effect {
                Some(code) => (
                    StatusCode::from_u16(code).unwrap(),
                    json!({ "message": format!("{code}: Server Error"), "code": 0 }),
                    vec![],
                ),
                None => (s, v, vec![]),
            }
        }
    };
    let created = response.get("id").and_then(Value::as_str).and_then(|s| s.parse().ok());
    let message = if op == Op::CreateMessage && status.is_success() { created } else { ids.1 };
    state.with(|r| {
        r.calls.push(Call {
            op,
            method: method.to_string(),
            path: uri.path().to_string(),
            channel: ids.0,
            message,
            body,
            status: status.as_u16(),
            at: Instant::now(),
        })
    });
    let mut resp = if status == StatusCode::NO_CONTENT {
        status.into_response()
    } else {
        (status, Json(response)).into_response()
    };
    for (k, v) in extra {
        resp.headers_mut()
            .insert(axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
    }
    resp
}

/// Applies [`super::Limits`]: the bot's global request rate, and posts and edits per
/// channel. Returns Discord's 429 for a request over a limit; counts it otherwise.
fn throttle(state: &State, op: Op, channel: Option<u64>) -> Option<Failure> {
    let now = Instant::now();
    state.with(|r| {
        let limits = r.limits;
        let second = Duration::from_secs(1);
        while r.recent_requests.front().is_some_and(|t| now.duration_since(*t) >= second) {
            r.recent_requests.pop_front();
        }
        if r.recent_requests.len() >= limits.global_per_second {
            let wait = second.saturating_sub(now.duration_since(r.recent_requests[0]));
            return Some(too_many(wait, limits.global_per_second, "global", None));
        }
        let counted = matches!(op, Op::CreateMessage | Op::EditMessage);
        if let (true, Some(channel)) = (counted, channel) {
            let window = limits.channel_window;
            let recent = r.channel_actions.entry(channel).or_default();
            while recent.front().is_some_and(|t| now.duration_since(*t) >= window) {
                recent.pop_front();
            }
            if recent.len() >= limits.channel_actions {
                let wait = window.saturating_sub(now.duration_since(recent[0]));
                return Some(too_many(wait, limits.channel_actions, "user", Some(channel)));
            }
            recent.push_back(now);
        }
        r.recent_requests.push_back(now);
        None
    })
}

/// Discord's 429, with the body and the headers it documents.
fn too_many(wait: Duration, limit: usize, scope: &str, channel: Option<u64>) -> Failure {
    let secs = (wait.as_secs_f64() * 1000.0).ceil() / 1000.0;
    let global = scope == "global";
    let reset =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64()
            + secs;
    let mut headers = vec![
        ("retry-after".to_string(), (secs.ceil() as u64).max(1).to_string()),
        ("x-ratelimit-limit".to_string(), limit.to_string()),
        ("x-ratelimit-remaining".to_string(), "0".to_string()),
        ("x-ratelimit-reset".to_string(), format!("{reset:.3}")),
        ("x-ratelimit-reset-after".to_string(), format!("{secs:.3}")),
        ("x-ratelimit-scope".to_string(), scope.to_string()),
    ];
    match channel {
        Some(c) => headers.push(("x-ratelimit-bucket".to_string(), format!("messages-{c}"))),
        None => headers.push(("x-ratelimit-global".to_string(), "true".to_string())),
    }
    Failure {
        status: 429,
        headers,
        body: json!({ "message": "You are being rate limited.", "retry_after": secs, "global": global }),
    }
}

/// Checks a message body as Discord does, recording what the bridge must never send:
/// content over 2,000 characters or empty (refused with 50035 / 50006), and a mention
/// pattern without `allowed_mentions` (accepted, and it would ping people).
fn check_body(st: &State, what: &str, body: &[u8]) -> Result<String, (StatusCode, Value)> {
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let content = body["content"].as_str().unwrap_or("").to_string();
    let mentions = ["@everyone", "@here", "<@"].iter().any(|p| content.contains(p));
    if mentions && body.get("allowed_mentions").is_none() {
        st.with(|r| {
            r.violations.push(format!("{what} with a mention and no allowed_mentions: {content:?}"))
        });
    }
    // Only SUPPRESS_EMBEDS (4) and SUPPRESS_NOTIFICATIONS (4096) may be set by a bot.
    if let Some(flags) = body.get("flags").and_then(Value::as_u64) {
        if flags & !(4 | 4096) != 0 {
            st.with(|r| r.violations.push(format!("{what} with flags {flags}")));
            return Err((
                StatusCode::BAD_REQUEST,
                json!({ "message": "Invalid Form Body", "code": 50035, "errors": { "flags": { "_errors": [
                    { "code": "MESSAGE_FLAGS_INVALID", "message": "Invalid flags." }
                ] } } }),
            ));
        }
    }
    if let Some(why) = body.get("components").and_then(super::interactions::refuse_components) {
        st.with(|r| r.violations.push(format!("{what} with invalid components: {why}")));
        return Err((
            StatusCode::BAD_REQUEST,
            json!({ "message": "Invalid Form Body", "code": 50035, "errors": { "components": why } }),
        ));
    }
    let chars = content.chars().count();
    if chars > 2000 {
        st.with(|r| r.violations.push(format!("{what} of {chars} characters")));
        return Err((
            StatusCode::BAD_REQUEST,
            json!({ "message": "Invalid Form Body", "code": 50035, "errors": { "content": { "_errors": [
                { "code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length." }
            ] } } }),
        ));
    }
    let other = ["embeds", "components", "attachments", "sticker_ids"]
        .iter()
        .any(|k| body.get(k).is_some());
    if content.trim().is_empty() && !other {
        st.with(|r| r.violations.push(format!("{what} with no content")));
        return Err((
            StatusCode::BAD_REQUEST,
            json!({ "message": "Cannot send an empty message", "code": 50006 }),
        ));
    }
    Ok(content)
}

/// Discord's 404 for a channel it does not know.
fn unknown_channel() -> (StatusCode, Value) {
    (StatusCode::NOT_FOUND, json!({ "message": "Unknown Channel", "code": 10003 }))
}

/// Whether `channel` can hold messages: a channel the fake knows, or the DM.
fn has_messages(st: &State, channel: u64) -> bool {
    st.with(|r| r.channels.contains_key(&channel)) || channel == super::DM
}

fn id(s: &str) -> u64 {
    s.parse().unwrap()
}

async fn gateway(AxState(st): S, m: Method, u: Uri, h: HeaderMap) -> Response {
    let url = st.gateway_url.lock().unwrap().clone();
    // GET /gateway needs no token on the real API either.
    let h = {
        let mut h = h;
        h.insert("authorization", format!("Bot {TOKEN}").parse().unwrap());
        h
    };
    answer(&st, Op::Gateway, (&m, &u, &h), (None, None), b"", || {
        (StatusCode::OK, json!({ "url": url }))
    })
}

/// `GET /gateway/bot`: the URL, the shard count Discord recommends and the session
/// start limit, as Discord answers it (this one needs the token).
async fn gateway_bot(AxState(st): S, m: Method, u: Uri, h: HeaderMap) -> Response {
    let url = st.gateway_url.lock().unwrap().clone();
    let shards = st.with(|r| r.recommended_shards.max(1));
    answer(&st, Op::Gateway, (&m, &u, &h), (None, None), b"", || {
        let limit = json!({
            "total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1
        });
        (StatusCode::OK, json!({ "url": url, "shards": shards, "session_start_limit": limit }))
    })
}

async fn me(AxState(st): S, m: Method, u: Uri, h: HeaderMap) -> Response {
    answer(&st, Op::Me, (&m, &u, &h), (None, None), b"", || {
        let mut me = payloads::bot_user();
        me["verified"] = json!(true);
        me["mfa_enabled"] = json!(false);
        (StatusCode::OK, me)
    })
}

async fn get_channel(
    AxState(st): S,
    Path(c): Path<String>,
    m: Method,
    u: Uri,
    h: HeaderMap,
) -> Response {
    let c = id(&c);
    let known = st.with(|r| r.channels.get(&c).cloned());
    answer(&st, Op::GetChannel, (&m, &u, &h), (Some(c), None), b"", || match known {
        Some(ch) => (StatusCode::OK, ch),
        None => unknown_channel(),
    })
}

async fn create_message(
    AxState(st): S,
    Path(c): Path<String>,
    m: Method,
    u: Uri,
    h: HeaderMap,
    body: Bytes,
) -> Response {
    let c = id(&c);
    let exists = has_messages(&st, c);
    let (st2, sent) = (Arc::clone(&st), body.clone());
    answer(&st, Op::CreateMessage, (&m, &u, &h), (Some(c), None), &body, move || {
        if !exists {
            return unknown_channel();
        }
        let content = match check_body(&st2, "a post", &sent) {
            Ok(content) => content,
            Err(refused) => return refused,
        };
        let components = serde_json::from_slice::<Value>(&sent)
            .ok()
            .and_then(|b| b.get("components").cloned())
            .unwrap_or_else(|| json!([]));
        let id = st2.with(|r| {
            let id = r.next_id();
            r.messages.push(BotMessage {
                id,
                channel: c,
                texts: vec![content.clone()],
                components,
            });
            id
        });
        (StatusCode::OK, payloads::rest_message(id, c, &content))
    })
}

/// `GET /channels/{id}/messages?after=…|before=…&limit=…`: the bot's messages there and
/// the people's the test dispatched, newer than `after` or older than `before`, newest
/// first as Discord lists them.
async fn list_messages(
    AxState(st): S,
    Path(c): Path<String>,
    m: Method,
    u: Uri,
    h: HeaderMap,
) -> Response {
    let c = id(&c);
    let query = u.query().unwrap_or("").to_string();
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=')?.parse::<u64>().ok())
    };
    let (after, before) = (param("after").unwrap_or(0), param("before").unwrap_or(u64::MAX));
    let limit = param("limit").unwrap_or(50).min(100);
    let exists = has_messages(&st, c);
    let listed: Vec<Value> = st.with(|r| {
        let mut all: Vec<(u64, Value)> = r
            .messages
            .iter()
            .filter(|msg| msg.channel == c)
            .map(|msg| (msg.id, payloads::rest_message(msg.id, c, msg.text())))
            .collect();
        all.extend(
            r.user_messages
                .iter()
                .filter(|msg| msg["channel_id"].as_str().and_then(|s| s.parse().ok()) == Some(c))
                .map(|msg| (id(msg["id"].as_str().unwrap()), msg.clone())),
        );
        all.retain(|(id, _)| *id > after && *id < before);
        all.sort_by_key(|(id, _)| std::cmp::Reverse(*id));
        all.into_iter().take(limit as usize).map(|(_, msg)| msg).collect()
    });
    answer(&st, Op::ListMessages, (&m, &u, &h), (Some(c), None), b"", move || {
        if !exists {
            return unknown_channel();
        }
        (StatusCode::OK, Value::Array(listed))
    })
}

async fn edit_message(
    AxState(st): S,
    Path((c, msg)): Path<(String, String)>,
    m: Method,
    u: Uri,
    h: HeaderMap,
    body: Bytes,
) -> Response {
    let (c, msg) = (id(&c), id(&msg));
    let (st2, sent) = (Arc::clone(&st), body.clone());
    answer(&st, Op::EditMessage, (&m, &u, &h), (Some(c), Some(msg)), &body, move || {
        let content = match check_body(&st2, "an edit", &sent) {
            Ok(content) => content,
            Err(refused) => return refused,
        };
        // An edit without `components` keeps the message's buttons, as on Discord.
        let components =
            serde_json::from_slice::<Value>(&sent).ok().and_then(|b| b.get("components").cloned());
        let found = st2.with(|r| {
            let found = r.messages.iter_mut().find(|x| x.id == msg && x.channel == c);
            found
                .map(|x| {
                    x.texts.push(content.clone());
                    if let Some(components) = components {
                        x.components = components;
                    }
                })
                .is_some()
        });
        if found {
            (StatusCode::OK, payloads::rest_message(msg, c, &content))
        } else {
            (StatusCode::NOT_FOUND, json!({ "message": "Unknown Message", "code": 10008 }))
        }
    })
}

async fn create_thread(
    AxState(st): S,
    Path((c, msg)): Path<(String, String)>,
    m: Method,
    u: Uri,
    h: HeaderMap,
    body: Bytes,
) -> Response {
    let (c, msg) = (id(&c), id(&msg));
    let name = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|b| b["name"].as_str().map(str::to_string));
    let name = name.unwrap_or_default();
    let st2 = Arc::clone(&st);
    let mut created = None;
    let resp = answer(&st, Op::CreateThread, (&m, &u, &h), (Some(c), Some(msg)), &body, || {
        if name.chars().count() > 100 || name.is_empty() {
            return (
                StatusCode::BAD_REQUEST,
                json!({ "message": "Invalid Form Body", "code": 50035 }),
            );
        }
        let thread = payloads::thread(msg, c, &name, BOT);
        let fresh = st2.with(|r| r.channels.insert(msg, thread.clone()).is_none());
        if !fresh {
            return (
                StatusCode::BAD_REQUEST,
                json!({ "message": "A thread has already been created for this message", "code": 160004 }),
            );
        }
        created = Some(thread.clone());
        (StatusCode::CREATED, thread)
    });
    // Discord tells the creator's gateway sessions about the new thread too.
    if let Some(mut thread) = created {
        thread["newly_created"] = json!(true);
        FakeDiscord::broadcast(&st, "THREAD_CREATE", thread);
    }
    resp
}

async fn typing(
    AxState(st): S,
    Path(c): Path<String>,
    m: Method,
    u: Uri,
    h: HeaderMap,
) -> Response {
    let c = id(&c);
    answer(&st, Op::Typing, (&m, &u, &h), (Some(c), None), b"", || {
        (StatusCode::NO_CONTENT, Value::Null)
    })
}

/// `PUT …/reactions/{emoji}/@me`: 204; a Unicode emoji, or `name:id` for a custom one
/// (anything else is Discord's 10014 Unknown Emoji). Adding it twice is no error.
async fn add_reaction(
    AxState(st): S,
    Path((c, msg, emoji)): Path<(String, String, String)>,
    m: Method,
    u: Uri,
    h: HeaderMap,
) -> Response {
    let (c, msg) = (id(&c), id(&msg));
    let st2 = Arc::clone(&st);
    answer(&st, Op::AddReaction, (&m, &u, &h), (Some(c), Some(msg)), b"", move || {
        let custom = emoji.split_once(':').is_some_and(|(_, id)| id.parse::<u64>().is_ok());
        if emoji.is_empty() || (emoji.is_ascii() && !custom) {
            return (StatusCode::BAD_REQUEST, json!({ "message": "Unknown Emoji", "code": 10014 }));
        }
        st2.with(|r| {
            let key = (c, msg, emoji.clone());
            if !r.reactions.contains(&key) {
                r.reactions.push(key);
            }
        });
        (StatusCode::NO_CONTENT, Value::Null)
    })
}

/// `GET /attachments/{name}`: Discord's CDN, which needs no token (its URLs are signed).
async fn attachment(AxState(st): S, Path(name): Path<String>, h: HeaderMap) -> Response {
    let auth = h.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let found = st.with(|r| {
        r.file_fetches.push((name.clone(), auth));
        r.files.get(&name).cloned()
    });
    match found {
        Some((bytes, content_type)) => {
            ([(axum::http::header::CONTENT_TYPE, content_type)], bytes).into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn other(AxState(st): S, m: Method, u: Uri, h: HeaderMap, body: Bytes) -> Response {
    answer(&st, Op::Other, (&m, &u, &h), (None, None), &body, || {
        (StatusCode::NOT_FOUND, json!({ "message": "404: Not Found", "code": 0 }))
    })
}
