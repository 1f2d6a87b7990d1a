//! The fake gateway: Hello (op 10), then Identify (op 2, recorded; READY and
//! GUILD_CREATE follow) or Resume (op 6), then whatever the test dispatches; heartbeats
//! (op 1) are acknowledged (op 11).
//!
//! Sessions outlive connections, as Discord's do: every dispatch is logged with its
//! sequence number, a dispatch made while the session has no connection waits in the
//! log, and a RESUME of the session on a new connection replays what came after the
//! client's `seq`, then RESUMED. A RESUME of a session the fake does not know, or one
//! a test invalidated, gets INVALID_SESSION (op 9, `d: false`), after which the client
//! identifies again. A test can ask the client to reconnect (op 7), or cut its
//! connection without a close frame.
//!
//! Shards as Discord runs them: an Identify names `shard: [id, total]`; that session's
//! READY lists, and GUILD_CREATE follows for, only the guilds whose
//! `(guild_id >> 22) % total` is `id`, and a dispatch goes to the session of the shard
//! its guild belongs to (DMs to shard 0).

use super::{payloads, State};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// What a session's connection is told to do.
pub(crate) enum Control {
    /// Send dispatch `t` with sequence number `seq`.
    Dispatch { seq: u64, t: String, d: Value },
    /// Send op 7 RECONNECT.
    Reconnect,
    /// Drop the connection without a close frame, as a network failure does.
    Cut,
}

/// One gateway session: what Discord keeps so that a client can resume it.
pub(crate) struct Session {
    pub id: String,
    /// Dispatches sent on it, in order: entry `k` has sequence number `k + 1`.
    log: Vec<(String, Value)>,
    /// The connection it is live on, if any.
    live: Option<mpsc::UnboundedSender<Control>>,
    /// False once invalidated: a RESUME of it gets op 9.
    pub resumable: bool,
    /// `[id, total]` from its Identify (`[0, 1]` when the client sent none).
    pub shard: [u64; 2],
}

/// The shard of `total` that Discord sends `guild`'s events on.
pub fn shard_of(guild: u64, total: u64) -> u64 {
    (guild >> 22) % total.max(1)
}

impl Session {
    /// Logs dispatch `t` and sends it on the live connection, if there is one.
    pub(crate) fn dispatch(&mut self, t: &str, d: Value) {
        self.log.push((t.to_string(), d.clone()));
        let seq = self.log.len() as u64;
        if let Some(live) = &self.live {
            if live.send(Control::Dispatch { seq, t: t.to_string(), d }).is_err() {
                self.live = None;
            }
        }
    }

    /// Sends `control` on the live connection; false when there is none.
    pub(crate) fn control(&mut self, control: Control) -> bool {
        let sent = self.live.as_ref().is_some_and(|l| l.send(control).is_ok());
        if !sent {
            self.live = None;
        }
        sent
    }

    /// Whether a connection is live on it.
    pub(crate) fn is_live(&self) -> bool {
        self.live.as_ref().is_some_and(|l| !l.is_closed())
    }
}

/// Listens on 127.0.0.1:0; returns the `ws://` URL.
pub async fn spawn(state: Arc<State>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(connection(Arc::clone(&state), stream));
        }
    });
    url
}

fn frame(op: u8, d: Value, s: Option<u64>, t: Option<&str>) -> Message {
    Message::text(json!({ "op": op, "d": d, "s": s, "t": t }).to_string())
}

type Ws = WebSocketStream<TcpStream>;

/// How the handshake ended: frames to send first (READY…, or a resume's replay), then
/// what the session's channel brings.
struct Attached {
    first: Vec<(u64, String, Value)>,
    rx: mpsc::UnboundedReceiver<Control>,
}

async fn connection(state: Arc<State>, stream: TcpStream) {
    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else { return };
    if ws.send(frame(10, json!({ "heartbeat_interval": 41_250 }), None, None)).await.is_err() {
        return;
    }
    let Some(attached) = handshake(&state, &mut ws).await else { return };
    live(ws, attached).await;
    // Wakes tests waiting for a session to go (its client died, say).
    state.with(|_| ());
}

/// Waits for Identify or Resume (acknowledging heartbeats meanwhile) and attaches the
/// connection to its session.
async fn handshake(state: &State, ws: &mut Ws) -> Option<Attached> {
    loop {
        let Some(Ok(Message::Text(text))) = ws.next().await else { return None };
        let Ok(payload) = serde_json::from_str::<Value>(&text) else { continue };
        match payload["op"].as_u64() {
            Some(1) => {
                let _ = ws.send(frame(11, Value::Null, None, None)).await;
            }
            Some(2) => {
                state.with(|r| r.identifies.push(payload["d"].clone()));
                if let Some(code) = state.with(|r| r.close_after_identify.take()) {
                    let reason = "Disallowed intent(s).".into();
                    let close = CloseFrame { code: CloseCode::from(code), reason };
                    let _ = ws.send(Message::Close(Some(close))).await;
                    return None;
                }
                return Some(identify(state, &payload["d"]));
            }
            Some(6) => {
                let id = payload["d"]["session_id"].as_str().unwrap_or_default().to_string();
                let seq = payload["d"]["seq"].as_u64().unwrap_or(0);
                match resume(state, &id, seq) {
                    Some(attached) => return Some(attached),
                    None => {
                        // Not resumable: the client identifies again (on this
                        // connection or a new one).
                        let _ = ws.send(frame(9, json!(false), None, None)).await;
                    }
                }
            }
            _ => {}
        }
    }
}

/// A new session, READY (and GUILD_CREATE, on the guild's shard) first in its log.
fn identify(state: &State, d: &Value) -> Attached {
    let url = state.gateway_url.lock().unwrap().clone();
    let (tx, rx) = mpsc::unbounded_channel();
    let shard = match d["shard"].as_array().map(|a| (a[0].as_u64(), a[1].as_u64())) {
        Some((Some(id), Some(total))) if total > 0 && id < total => [id, total],
        _ => [0, 1],
    };
    state.with(|r| {
        let threads: Vec<Value> =
            r.channels.values().filter(|c| c["type"] == 11).cloned().collect();
        let id = format!("fake-session-{}", r.gateway.len() + 1);
        let mut ready = payloads::ready(&url);
        ready["session_id"] = json!(id);
        ready["shard"] = json!(shard);
        let ours = shard_of(super::GUILD, shard[1]) == shard[0];
        if !ours {
            ready["guilds"] = json!([]);
        }
        let mut log = vec![("READY".to_string(), ready)];
        if ours {
            log.push(("GUILD_CREATE".to_string(), payloads::guild_create(threads)));
        }
        let first = numbered(&log, 0);
        r.gateway.push(Session { id, log, live: Some(tx), resumable: true, shard });
        r.sessions_opened += 1;
        Attached { first, rx }
    })
}

/// The session `id` on this connection, with what came after `seq` and RESUMED; `None`
/// when it cannot be resumed.
fn resume(state: &State, id: &str, seq: u64) -> Option<Attached> {
    let (tx, rx) = mpsc::unbounded_channel();
    state.with(|r| {
        let Some(session) = r.gateway.iter_mut().find(|s| s.id == id && s.resumable) else {
            r.invalid_resumes += 1;
            return None;
        };
        session.log.push(("RESUMED".to_string(), json!({})));
        let first = numbered(&session.log, seq as usize);
        // The old connection, if it still stands, no longer gets the session's events.
        session.live = Some(tx);
        r.resumes += 1;
        Some(Attached { first, rx })
    })
}

/// `log` from index `from` on, with sequence numbers.
fn numbered(log: &[(String, Value)], from: usize) -> Vec<(u64, String, Value)> {
    let start = from.min(log.len());
    log[start..]
        .iter()
        .enumerate()
        .map(|(k, (t, d))| ((start + k + 1) as u64, t.clone(), d.clone()))
        .collect()
}

async fn live(mut ws: Ws, attached: Attached) {
    let Attached { first, mut rx } = attached;
    for (seq, t, d) in first {
        if ws.send(frame(0, d, Some(seq), Some(&t))).await.is_err() {
            return;
        }
    }
    loop {
        tokio::select! {
            control = rx.recv() => match control {
                Some(Control::Dispatch { seq, t, d }) => {
                    if ws.send(frame(0, d, Some(seq), Some(&t))).await.is_err() {
                        return;
                    }
                }
                Some(Control::Reconnect) => {
                    if ws.send(frame(7, Value::Null, None, None)).await.is_err() {
                        return;
                    }
                }
                // Dropping the socket without a close frame: the client sees a reset.
                Some(Control::Cut) | None => return,
            },
            incoming = ws.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    let op = serde_json::from_str::<Value>(&text).ok().and_then(|p| p["op"].as_u64());
                    if op == Some(1) && ws.send(frame(11, Value::Null, None, None)).await.is_err() {
                        return;
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            }
        }
    }
}
