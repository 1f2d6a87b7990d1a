//! Human agents: the conversation WebSocket the SiteAssist widget listens on, and the
//! test-control routes that play the support team on the dashboard.
//!
//! `GET /v2/conversations/{id}/ws?apiKey=<publishable key>` upgrades to a WebSocket
//! (401 for a wrong key, 404 for an unknown conversation, both before the upgrade).
//! The client sends the text `ping` and gets `pong`; the server sends
//! `{"type":"new_message","chatId","message"}` for every message added to the
//! conversation (agents' replies and echoes of the visitor's own) and
//! `{"type":"human_assigned","chatId"}` whenever who handles it changes (after which a
//! client re-fetches the conversation: taken over, handed back or closed).
//!
//! Control routes (test-only, like `/__sim`; bodies are JSON):
//! - `POST /__control/conversations/{id}/handover` `{"agent":"Dana"}`: a person takes
//!   it over (`isHumanHandled: true`, `humanAgent.name`);
//! - `POST /__control/conversations/{id}/agent-messages` `{"text":"…"}`: the agent
//!   writes (a `human_agent` message; answers with it);
//! - `POST /__control/conversations/{id}/handback`: back to the AI;
//! - `POST /__control/conversations/{id}/close`: closed by the agent;
//! - `POST /__control/sockets/drop`: every open WebSocket is cut.
//!
//! `{id}` may be `latest`: the newest conversation.

use super::error::ApiError;
use super::request::path_id;
use super::state::{message_json, ConvStatus, MsgStatus, PageContext, Role};
use super::Simulator;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::HashMap;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role as WsRole;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::WebSocketStream;

/// How many frames a slow socket may fall behind before it misses some.
const SOCKET_BACKLOG: usize = 256;

impl Simulator {
    /// Sends `frame` (a JSON object) to every socket of `conversation`. Each
    /// conversation has its own channel: one channel for all made every socket wake for
    /// every frame (the load bench's 10,000 listening threads spent most of their CPU
    /// there) and fall behind into missed frames.
    fn publish(&self, conversation: &str, frame: Value) {
        let frames = self.inner.frames.lock().unwrap_or_else(|p| p.into_inner());
        // No socket open is fine: frames are not kept.
        if let Some(tx) = frames.get(conversation) {
            let _ = tx.send(frame.to_string());
        }
    }

    /// A receiver of `conversation`'s frames.
    fn subscribe(&self, conversation: &str) -> tokio::sync::broadcast::Receiver<String> {
        let mut frames = self.inner.frames.lock().unwrap_or_else(|p| p.into_inner());
        let tx = frames
            .entry(conversation.to_string())
            .or_insert_with(|| tokio::sync::broadcast::Sender::new(SOCKET_BACKLOG));
        tx.subscribe()
    }

    /// Forgets `conversation`'s channel when its last socket has gone.
    fn unsubscribe(&self, conversation: &str, rx: tokio::sync::broadcast::Receiver<String>) {
        drop(rx);
        let mut frames = self.inner.frames.lock().unwrap_or_else(|p| p.into_inner());
        if frames.get(conversation).is_some_and(|tx| tx.receiver_count() == 0) {
            frames.remove(conversation);
        }
    }

    /// Tells the sockets of the message's conversation about message `id`.
    pub(crate) fn publish_message(&self, id: &str) {
        let found = self.read(|s| s.messages.get(id).map(|m| (m.chat_id.clone(), message_json(m))));
        if let Some((conversation, message)) = found {
            let frame =
                json!({ "type": "new_message", "chatId": conversation, "message": message });
            self.publish(&conversation, frame);
        }
    }

    fn publish_assigned(&self, conversation: &str) {
        self.publish(conversation, json!({ "type": "human_assigned", "chatId": conversation }));
    }

    /// A person named `agent` takes the conversation over. False for an unknown id.
    pub fn hand_over(&self, conversation: &str, agent: &str) -> bool {
        let found = self.with_state(|s| match s.conversations.get_mut(conversation) {
            Some(c) => {
                c.is_human_handled = true;
                c.agent = Some(agent.to_string());
                true
            }
            None => false,
        });
        if found {
            self.publish_assigned(conversation);
        }
        found
    }

    /// The conversation's agent writes `text`; returns the new message's id, or `None`
    /// for an unknown conversation.
    pub fn agent_message(&self, conversation: &str, text: &str) -> Option<String> {
        let id = self.with_state(|s| {
            let agent = s.conversations.get(conversation)?.agent.clone();
            let now = Utc::now();
            let complete = Some(MsgStatus::Complete);
            let none = PageContext::default();
            let id = s.add_message(conversation, Role::HumanAgent, text, complete, none, now);
            if let Some(m) = s.messages.get_mut(&id) {
                m.agent = agent;
            }
            Some(id)
        })?;
        self.publish_message(&id);
        Some(id)
    }

    /// The conversation goes back to the AI. False for an unknown id.
    pub fn hand_back(&self, conversation: &str) -> bool {
        let found = self.set_human_handled(conversation, false);
        if found {
            self.publish_assigned(conversation);
        }
        found
    }

    /// The agent closes the conversation. False for an unknown id.
    pub fn close_conversation(&self, conversation: &str) -> bool {
        let found = self.with_state(|s| match s.conversations.get_mut(conversation) {
            Some(c) => {
                c.status = ConvStatus::Closed;
                c.closed_at = Some(Utc::now());
                true
            }
            None => false,
        });
        if found {
            self.publish_assigned(conversation);
        }
        found
    }

    /// Cuts every open WebSocket (as a load balancer restart would).
    pub fn drop_sockets(&self) {
        self.inner.drops.send_modify(|n| *n += 1);
    }

    /// Every conversation's id, oldest first.
    pub fn conversation_ids(&self) -> Vec<String> {
        self.read(|s| {
            let mut all: Vec<_> = s.conversations.values().map(|c| (c.seq, c.id.clone())).collect();
            all.sort();
            all.into_iter().map(|(_, id)| id).collect()
        })
    }

    /// Refuses every socket request with `status` (401: the key; anything else: 404, as
    /// for a deleted conversation), or accepts them again with `None`.
    pub fn refuse_sockets(&self, status: Option<u16>) {
        self.with_state(|s| s.socket_refusal = status);
    }

    /// Socket requests received so far, refused ones included.
    pub fn socket_attempts(&self) -> usize {
        self.read(|s| s.socket_attempts)
    }

    /// WebSockets open now.
    pub fn open_sockets(&self) -> usize {
        self.read(|s| s.open_sockets)
    }

    /// WebSockets opened so far, refused ones not counted.
    pub fn sockets_opened(&self) -> usize {
        self.read(|s| s.sockets_opened)
    }
}

/// `GET /v2/conversations/{id}/ws?apiKey=…`.
pub(crate) async fn socket(
    State(sim): State<Simulator>,
    id: Result<Path<String>, PathRejection>,
    Query(query): Query<HashMap<String, String>>,
    mut req: Request,
) -> Response {
    let refusal = sim.with_state(|s| {
        s.socket_attempts += 1;
        s.socket_refusal
    });
    match refusal {
        Some(401) => return ApiError::unauthorized().into_response(),
        Some(_) => return ApiError::conversation_not_found("").into_response(),
        None => {}
    }
    let key = query.get("apiKey").map(String::as_str).unwrap_or("");
    let key_ok = match &sim.config().publishable_key {
        Some(expected) => key == expected,
        None => !key.is_empty(),
    };
    if !key_ok {
        return ApiError::unauthorized().into_response();
    }
    let conversation = match path_id(id) {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    if !sim.read(|s| s.conversations.contains_key(&conversation)) {
        return ApiError::conversation_not_found(&conversation).into_response();
    }
    let upgrade = req.headers().get(header::UPGRADE).and_then(|v| v.to_str().ok());
    let accept = req.headers().get("sec-websocket-key").map(|k| derive_accept_key(k.as_bytes()));
    let (Some(true), Some(accept)) = (upgrade.map(|u| u.eq_ignore_ascii_case("websocket")), accept)
    else {
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "Expected a WebSocket upgrade",
        )
        .into_response();
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        if let Ok(upgraded) = on_upgrade.await {
            let io = hyper_util::rt::TokioIo::new(upgraded);
            let ws = WebSocketStream::from_raw_socket(io, WsRole::Server, None).await;
            serve(sim, conversation, ws).await;
        }
    });
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = r.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(v) = HeaderValue::from_str(&accept) {
        headers.insert("sec-websocket-accept", v);
    }
    r
}

/// One socket: `ping` → `pong`, the conversation's frames out, until either side goes
/// or the sockets are dropped.
async fn serve<S>(sim: Simulator, conversation: String, mut ws: WebSocketStream<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut frames = sim.subscribe(&conversation);
    let mut drops = sim.inner.drops.subscribe();
    sim.with_state(|s| {
        s.open_sockets += 1;
        s.sockets_opened += 1;
    });
    loop {
        tokio::select! {
            incoming = ws.next() => match incoming {
                Some(Ok(WsMessage::Text(text))) if text.as_str() == "ping" => {
                    if ws.send(WsMessage::text("pong")).await.is_err() {
                        break;
                    }
                }
                Some(Ok(WsMessage::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            frame = frames.recv() => match frame {
                Ok(text) => {
                    if ws.send(WsMessage::text(text)).await.is_err() {
                        break;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            },
            // Cut without a close frame, as a dropped connection is.
            _ = drops.changed() => break,
        }
    }
    sim.unsubscribe(&conversation, frames);
    sim.with_state(|s| s.open_sockets -= 1);
}

/// The conversation a control route names: an id, or `latest` for the newest one (so a
/// demo needs no id: see the README).
fn conversation_or_404(
    sim: &Simulator,
    id: Result<Path<String>, PathRejection>,
) -> Result<String, ApiError> {
    let mut id = path_id(id)?;
    if id == "latest" {
        id = sim.conversation_ids().pop().unwrap_or_default();
    }
    if sim.read(|s| s.conversations.contains_key(&id)) {
        Ok(id)
    } else {
        Err(ApiError::conversation_not_found(&id))
    }
}

fn field(body: &Value, name: &str) -> Result<String, ApiError> {
    match body.get(name).and_then(Value::as_str) {
        Some(s) if !s.trim().is_empty() => Ok(s.to_string()),
        _ => Err(ApiError::invalid_body(format!("{name} must be a non-empty string"), Some(name))),
    }
}

/// `POST /__control/conversations/{id}/handover` `{"agent":"Dana"}`.
pub(crate) async fn handover(
    State(sim): State<Simulator>,
    id: Result<Path<String>, PathRejection>,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    let id = conversation_or_404(&sim, id)?;
    let agent = field(&body, "agent")?;
    sim.hand_over(&id, &agent);
    Ok(Json(json!({ "success": true })).into_response())
}

/// `POST /__control/conversations/{id}/agent-messages` `{"text":"…"}`.
pub(crate) async fn agent_message(
    State(sim): State<Simulator>,
    id: Result<Path<String>, PathRejection>,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    let id = conversation_or_404(&sim, id)?;
    let text = field(&body, "text")?;
    let message = sim.agent_message(&id, &text).unwrap_or_default();
    let json = sim.read(|s| s.messages.get(&message).map(message_json)).unwrap_or(Value::Null);
    Ok(Json(json).into_response())
}

/// `POST /__control/conversations/{id}/handback`.
pub(crate) async fn handback(
    State(sim): State<Simulator>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = conversation_or_404(&sim, id)?;
    sim.hand_back(&id);
    Ok(Json(json!({ "success": true })).into_response())
}

/// `POST /__control/conversations/{id}/close`.
pub(crate) async fn close(
    State(sim): State<Simulator>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = conversation_or_404(&sim, id)?;
    sim.close_conversation(&id);
    Ok(Json(json!({ "success": true })).into_response())
}

/// `POST /__control/sockets/drop`.
pub(crate) async fn drop_all(State(sim): State<Simulator>) -> Response {
    sim.drop_sockets();
    Json(json!({ "success": true })).into_response()
}
