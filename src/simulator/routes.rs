//! The HTTP surface: the `/v2` visitor routes (except sending a message, see
//! [`super::send`]) and the `/__sim` control routes tests of other processes use.
//!
//! Every handler checks in the order the real API is expected to: session token (401),
//! then body and query (400/422), then the resource (404/403).

use super::error::{ApiError, JsonBody, MAX_BODY_BYTES};
use super::faults::Fault;
use super::query::{
    page_conversations, page_messages, parse_conversation_query, parse_message_query,
};
use super::request::{authenticate, path_id, PathArg};
use super::state::{message_json, ts, visitor_json, ConvStatus, Role};
use super::{agents, send, Simulator};
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Query, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde_json::{json, Value};
use std::collections::HashMap;

type ApiResult = Result<Response, ApiError>;
type QueryArg = Result<Query<HashMap<String, String>>, QueryRejection>;

/// Builds the router with its state, body limit and gate.
pub(crate) fn router(sim: Simulator) -> Router {
    Router::new()
        .route("/v2/identity/init", post(init))
        .route("/v2/identity/me", get(me))
        .route("/v2/projects/current", get(project))
        .route("/v2/conversations", post(create_conversation).get(list_conversations))
        .route("/v2/conversations/{id}", get(get_conversation))
        .route("/v2/conversations/{id}/close", post(close_conversation))
        .route("/v2/conversations/{id}/messages", get(list_messages).post(send::post_message))
        .route("/v2/messages/{id}/feedback", post(feedback))
        .route("/v2/conversations/{id}/ws", get(agents::socket))
        .route("/__control/conversations/{id}/handover", post(agents::handover))
        .route("/__control/conversations/{id}/agent-messages", post(agents::agent_message))
        .route("/__control/conversations/{id}/handback", post(agents::handback))
        .route("/__control/conversations/{id}/close", post(agents::close))
        .route("/__control/sockets/drop", post(agents::drop_all))
        .route("/__sim/faults", post(sim_faults))
        .route("/__sim/state", get(sim_state))
        .route("/__sim/reset", post(sim_reset))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(sim.clone(), gate))
        .with_state(sim)
}

/// True for `POST /v2/conversations/{id}/messages`.
fn is_message_post(method: &Method, path: &str) -> bool {
    let segs: Vec<&str> = path.split('/').collect();
    method == Method::POST
        && matches!(segs.as_slice(), ["", "v2", "conversations", id, "messages"] if !id.is_empty())
}

/// Runs before routing: counts every message POST (so rejected ones count too) and
/// enforces the configured `Origin`, which the real API checks for restricted keys.
async fn gate(State(sim): State<Simulator>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if is_message_post(req.method(), path) {
        sim.with_state(|s| s.message_posts += 1);
    }
    if path.starts_with("/v2/") {
        if let Some(required) = &sim.config().required_origin {
            let origin = req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok());
            if origin != Some(required.as_str()) {
                return ApiError::new(StatusCode::FORBIDDEN, "FORBIDDEN", "Origin not allowed")
                    .into_response();
            }
        }
    }
    next.run(req).await
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "Not found")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", "Method not allowed")
}

fn query_map(q: QueryArg) -> Result<HashMap<String, String>, ApiError> {
    q.map(|Query(m)| m).map_err(|_| ApiError::validation("query", "malformed query string"))
}

/// A required, non-empty string field: 400 when missing, empty or not a string.
fn required_str<'a>(body: &'a Value, field: &str) -> Result<&'a str, ApiError> {
    match body.get(field).and_then(Value::as_str) {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(ApiError::invalid_body(format!("{field} is required"), Some(field))),
    }
}

/// 401 when a publishable key is configured and `key` is another one.
fn check_publishable_key(sim: &Simulator, key: &str) -> Result<(), ApiError> {
    match &sim.config().publishable_key {
        Some(expected) if expected != key => {
            Err(ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "Invalid API key"))
        }
        _ => Ok(()),
    }
}

async fn init(State(sim): State<Simulator>, JsonBody(body): JsonBody) -> ApiResult {
    let body = body?.unwrap_or(Value::Null);
    let api_key = required_str(&body, "apiKey")?;
    let sa_vid = required_str(&body, "saVid")?;
    if sa_vid.chars().count() > 100 {
        return Err(ApiError::validation("saVid", "must be at most 100 characters"));
    }
    check_publishable_key(&sim, api_key)?;
    let now = Utc::now();
    let (visitor, created, token) = sim.with_state(|s| {
        let (v, created) = s.init_visitor(sa_vid);
        let token = session_token(&v.id, now.timestamp());
        s.sessions.insert(token.clone(), v.id.clone());
        (v, created, token)
    });
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    let body = json!({ "sessionToken": token, "visitor": visitor_json(&visitor) });
    Ok((status, Json(body)).into_response())
}

/// A random token shaped like an HS256 JWT (`header.payload.signature`), since clients
/// may peek at it; nothing checks the signature, the token is looked up as a whole.
fn session_token(visitor_id: &str, now_secs: i64) -> String {
    let header = base64url(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = json!({
        "sub": visitor_id, "sid": uuid::Uuid::new_v4().to_string(),
        "iat": now_secs, "exp": now_secs + 3600,
    });
    let payload = base64url(payload.to_string().as_bytes());
    let mut sig = Vec::with_capacity(32);
    sig.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    sig.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    format!("{header}.{payload}.{}", base64url(&sig))
}

/// Unpadded base64url, enough for a JWT-shaped token without another dependency.
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

async fn me(State(sim): State<Simulator>, headers: HeaderMap) -> ApiResult {
    let v = authenticate(&sim, &headers)?;
    Ok(Json(visitor_json(&v)).into_response())
}

async fn project(State(sim): State<Simulator>, q: QueryArg) -> ApiResult {
    let q = query_map(q)?;
    let key = q.get("apiKey").map(String::as_str).unwrap_or("");
    if key.is_empty() {
        return Err(ApiError::invalid_body("apiKey is required", Some("apiKey")));
    }
    check_publishable_key(&sim, key)?;
    Ok(Json(json!({
        "object": "project", "id": "e2c6b2ad-9b1f-4f3c-8f5a-9f2a7b1c2d3e",
        "name": "Acme Inc (simulated)", "description": "A local SiteAssist simulator.",
        "chatWidgetConfig": {
            "welcomeMessage": "Hi! How can we help?", "inputPlaceholder": "Ask anything…",
            "userMessageBubbleColor": "#2563eb", "userMessageBubbleColorDark": null,
            "brandColor": "#2563eb", "brandColorDark": null, "displayName": "Acme Support",
            "width": 400, "maxHeight": 700, "offset": {"x": 16, "y": 16},
            "position": "bottom-right", "bubbleRadius": 28, "baseFontSize": 16,
            "openDelay": 0, "assistantAvatar": null, "chatButtonIcon": null,
            "chatButtonColor": null, "customCSSStyles": ""
        }
    }))
    .into_response())
}

async fn create_conversation(
    State(sim): State<Simulator>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let v = authenticate(&sim, &headers)?;
    let body = body?.unwrap_or(Value::Null);
    if let Some(url) = body.pointer("/context/pageUrl").filter(|u| !u.is_null()) {
        let ok = url.as_str().is_some_and(|u| url::Url::parse(u).is_ok());
        if !ok {
            return Err(ApiError::validation("context.pageUrl", "must be a URI"));
        }
    }
    let conv = sim.with_state(|s| {
        let id = s.create_conversation(&v.id, Utc::now());
        s.conversations.get(&id).map(|c| s.conversation_json(c, true))
    });
    let conv = conv.ok_or_else(ApiError::internal)?;
    Ok((StatusCode::CREATED, Json(conv)).into_response())
}

async fn list_conversations(
    State(sim): State<Simulator>,
    headers: HeaderMap,
    q: QueryArg,
) -> ApiResult {
    let v = authenticate(&sim, &headers)?;
    let q = parse_conversation_query(&query_map(q)?)?;
    let body = sim.read(|s| {
        let mine = s.conversations.values().filter(|c| c.visitor_id == v.id).collect();
        let (total, page) = page_conversations(mine, &q);
        let data: Vec<Value> = page.iter().map(|c| s.conversation_json(c, false)).collect();
        json!({ "object": "list", "total": total, "limit": q.limit, "offset": q.offset, "data": data })
    });
    Ok(Json(body).into_response())
}

async fn get_conversation(
    State(sim): State<Simulator>,
    headers: HeaderMap,
    id: PathArg,
) -> ApiResult {
    let v = authenticate(&sim, &headers)?;
    let id = path_id(id)?;
    let body = sim.with_state(|s| {
        let c = s.owned_conversation(&v.id, &id)?.clone();
        Ok::<_, ApiError>(s.conversation_json(&c, true))
    })?;
    Ok(Json(body).into_response())
}

async fn close_conversation(
    State(sim): State<Simulator>,
    headers: HeaderMap,
    id: PathArg,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let v = authenticate(&sim, &headers)?;
    let id = path_id(id)?;
    let body = body?.unwrap_or(Value::Null);
    let reason = match body.get("closeReason") {
        None | Some(Value::Null) => None,
        Some(Value::String(r)) if r.chars().count() <= 256 => Some(r.clone()),
        Some(Value::String(_)) => {
            return Err(ApiError::validation("closeReason", "must be at most 256 characters"))
        }
        Some(_) => {
            return Err(ApiError::invalid_body("closeReason must be a string", Some("closeReason")))
        }
    };
    let now = Utc::now();
    sim.with_state(|s| {
        let c = s.owned_conversation(&v.id, &id)?;
        c.status = ConvStatus::Closed;
        c.closed_at = Some(now);
        c.updated_at = now;
        c.close_reason = reason;
        Ok::<_, ApiError>(())
    })?;
    Ok(Json(json!({ "success": true, "message": "Conversation closed successfully." }))
        .into_response())
}

async fn list_messages(
    State(sim): State<Simulator>,
    headers: HeaderMap,
    id: PathArg,
    q: QueryArg,
) -> ApiResult {
    let v = authenticate(&sim, &headers)?;
    let id = path_id(id)?;
    let q = parse_message_query(&query_map(q)?)?;
    let body = sim.with_state(|s| {
        s.owned_conversation(&v.id, &id)?;
        let data: Vec<Value> =
            page_messages(s.messages_of(&id), &q).into_iter().map(message_json).collect();
        Ok::<_, ApiError>(json!({ "object": "list", "data": data }))
    })?;
    Ok(Json(body).into_response())
}

async fn feedback(
    State(sim): State<Simulator>,
    headers: HeaderMap,
    id: PathArg,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let v = authenticate(&sim, &headers)?;
    let id = path_id(id)?;
    let body = body?.unwrap_or(Value::Null);
    let value = match body.get("feedback") {
        None => return Err(ApiError::invalid_body("feedback is required", Some("feedback"))),
        Some(Value::Null) => None,
        Some(other) => Some(serde_json::from_value(other.clone()).map_err(|_| {
            ApiError::validation("feedback", "must be \"like\", \"dislike\" or null")
        })?),
    };
    let now = Utc::now();
    sim.with_state(|s| {
        let m = s.messages.get(&id).ok_or_else(|| ApiError::message_not_found(&id))?;
        let owner = s.conversations.get(&m.chat_id).map(|c| c.visitor_id.as_str());
        if owner != Some(v.id.as_str()) {
            return Err(ApiError::forbidden());
        }
        if m.role != Role::Assistant {
            return Err(ApiError::validation("messageId", "only assistant messages take feedback"));
        }
        if let Some(m) = s.messages.get_mut(&id) {
            m.feedback = value;
            m.feedback_at = value.map(|_| now);
        }
        s.feedback_log.push(super::FeedbackRecord {
            message_id: id.clone(),
            visitor_sa_vid: v.sa_vid.clone(),
            value: value.map(|f: crate::siteassist::ids::Feedback| {
                serde_json::to_value(f)
                    .ok()
                    .and_then(|j| j.as_str().map(String::from))
                    .unwrap_or_default()
            }),
        });
        Ok(())
    })?;
    Ok(Json(json!({ "feedback": value })).into_response())
}

/// `POST /__sim/faults {"next":[Fault…], "persistent": Fault|null}`: `next` is appended
/// to the queue; `persistent` is replaced only when the key is present.
async fn sim_faults(State(sim): State<Simulator>, JsonBody(body): JsonBody) -> ApiResult {
    let body = body?.unwrap_or(Value::Null);
    let bad = |e: serde_json::Error| ApiError::invalid_body(format!("Invalid fault: {e}"), None);
    let next: Vec<Fault> = match body.get("next") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => serde_json::from_value(v.clone()).map_err(bad)?,
    };
    let persistent: Option<Option<Fault>> = match body.get("persistent") {
        None => None,
        Some(v) => Some(serde_json::from_value(v.clone()).map_err(bad)?),
    };
    sim.with_state(|s| {
        s.faults.next.extend(next);
        if let Some(p) = persistent {
            s.faults.persistent = p;
        }
    });
    Ok(Json(sim_state_json(&sim)).into_response())
}

fn sim_state_json(sim: &Simulator) -> Value {
    sim.read(|s| {
        json!({
            "message_posts": s.message_posts,
            "feedback": s.feedback_log,
            "conversations": s.conversations.len(),
            "inits": s.init_count,
            "pending_faults": s.faults.next,
            "persistent_fault": s.faults.persistent,
            "generating": s.generating,
            "open_streams": s.open_streams,
            "now": ts(Utc::now()),
        })
    })
}

async fn sim_state(State(sim): State<Simulator>) -> Json<Value> {
    Json(sim_state_json(&sim))
}

async fn sim_reset(State(sim): State<Simulator>) -> Json<Value> {
    sim.clear_faults();
    Json(sim_state_json(&sim))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_matches_the_jwt_header_everyone_knows() {
        assert_eq!(
            base64url(br#"{"alg":"HS256","typ":"JWT"}"#),
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
        );
        assert_eq!(base64url(b"ab"), "YWI");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn tokens_are_jwt_shaped_and_random() {
        let a = session_token("v", 0);
        assert_eq!(a.split('.').count(), 3);
        assert!(a.starts_with("eyJhbGciOiJIUzI1NiIs"));
        assert_ne!(a, session_token("v", 0));
    }

    #[test]
    fn only_message_posts_are_counted() {
        assert!(is_message_post(&Method::POST, "/v2/conversations/abc/messages"));
        assert!(!is_message_post(&Method::GET, "/v2/conversations/abc/messages"));
        assert!(!is_message_post(&Method::POST, "/v2/conversations//messages"));
        assert!(!is_message_post(&Method::POST, "/v2/conversations/abc/close"));
    }
}
