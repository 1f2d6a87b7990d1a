//! The fake gateway: Hello (op 10), Identify (op 2, recorded), READY and GUILD_CREATE,
//! then whatever the test dispatches; heartbeats (op 1) are acknowledged (op 11).

use super::{payloads, State};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

/// Listens on 127.0.0.1:0; returns the `ws://` URL.
pub async fn spawn(state: Arc<State>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(session(Arc::clone(&state), stream));
        }
    });
    url
}

fn frame(op: u8, d: Value, s: Option<u64>, t: Option<&str>) -> Message {
    Message::text(json!({ "op": op, "d": d, "s": s, "t": t }).to_string())
}

async fn session(state: Arc<State>, stream: TcpStream) {
    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else { return };
    if ws.send(frame(10, json!({ "heartbeat_interval": 41_250 }), None, None)).await.is_err() {
        return;
    }
    // Wait for Identify, acknowledging heartbeats meanwhile.
    loop {
        let Some(Ok(Message::Text(text))) = ws.next().await else { return };
        let Ok(payload) = serde_json::from_str::<Value>(&text) else { continue };
        match payload["op"].as_u64() {
            Some(1) => {
                let _ = ws.send(frame(11, Value::Null, None, None)).await;
            }
            Some(2) => {
                state.with(|r| r.identifies.push(payload["d"].clone()));
                break;
            }
            _ => {}
        }
    }
    if let Some(code) = state.with(|r| r.close_after_identify.take()) {
        let reason = "Disallowed intent(s).".into();
        let _ =
            ws.send(Message::Close(Some(CloseFrame { code: CloseCode::from(code), reason }))).await;
        return;
    }
    let url = state.gateway_url.lock().unwrap().clone();
    let threads: Vec<Value> =
        state.with(|r| r.channels.values().filter(|c| c["type"] == 11).cloned().collect());
    let mut seq = 0;
    let mut next = || {
        seq += 1;
        Some(seq)
    };
    if ws.send(frame(0, payloads::ready(&url), next(), Some("READY"))).await.is_err() {
        return;
    }
    if ws
        .send(frame(0, payloads::guild_create(threads), next(), Some("GUILD_CREATE")))
        .await
        .is_err()
    {
        return;
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<(String, Value)>();
    state.with(|r| {
        r.sessions.push(tx);
        r.sessions_opened += 1;
    });
    loop {
        tokio::select! {
            out = rx.recv() => {
                let Some((t, d)) = out else { return };
                if ws.send(frame(0, d, next(), Some(&t))).await.is_err() {
                    return;
                }
            }
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
