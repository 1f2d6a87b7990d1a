//! The Socket Mode half: a websocket server on its own 127.0.0.1 port.
//!
//! axum here has no `ws` feature, so tokio-tungstenite serves the socket directly; the
//! URL reaches the client through `apps.connections.open`, so the port does not matter.
//! Like Slack: the URL carries a single-use ticket, the first frame is `hello`, every
//! envelope goes to one connection (the newest), and `{"envelope_id":…}` frames are acks.

use super::state::{Outgoing, Shared};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::handshake::server::{
    Callback, ErrorResponse, Request, Response,
};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::Message;

/// How long a connection keeps reading after the fake sent its close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Accepts connections until the task is aborted; dropping the `JoinSet` ends them all.
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    connections.spawn(connection(stream, shared.clone()));
                }
            }
            Some(_) = connections.join_next() => {}
        }
    }
}

/// `/socket?ticket=…` with a ticket minted by `apps.connections.open`, used once.
struct TicketCheck<'a> {
    shared: &'a Shared,
}

impl Callback for TicketCheck<'_> {
    fn on_request(self, req: &Request, resp: Response) -> Result<Response, ErrorResponse> {
        let (status, why) = if req.uri().path() != "/socket" {
            (StatusCode::NOT_FOUND, "not found")
        } else {
            let query = req.uri().query().unwrap_or("");
            let ticket = url::form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == "ticket")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            if self.shared.lock().tickets.remove(&ticket) {
                return Ok(resp);
            }
            (StatusCode::UNAUTHORIZED, "invalid or reused ticket")
        };
        let mut response = ErrorResponse::new(Some(why.to_owned()));
        *response.status_mut() = status;
        Err(response)
    }
}

pub(crate) fn hello_frame(shared: &Shared, num_connections: usize) -> String {
    json!({
        "type": "hello",
        "num_connections": num_connections,
        "debug_info": {
            "host": "applink-fake-1",
            "build_number": 1,
            "approximate_connection_time": 18060,
        },
        "connection_info": {"app_id": shared.cfg.app_id},
    })
    .to_string()
}

pub(crate) fn disconnect_frame(reason: &str) -> String {
    json!({"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake-1"}})
        .to_string()
}

/// How long Slack waits for an ack before it redelivers (Socket Mode docs, checked
/// 2026-12).
const ACK_LIMIT: std::time::Duration = std::time::Duration::from_secs(3);

/// One Socket Mode connection: registers it, writes queued frames, records acks.
async fn connection(stream: TcpStream, shared: Arc<Shared>) {
    let check = TicketCheck { shared: &shared };
    let Ok(ws) = tokio_tungstenite::accept_hdr_async(stream, check).await else {
        return;
    };
    let (mut sink, mut source) = ws.split();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let id = {
        let mut state = shared.lock();
        let id = state.next_connection_id;
        state.next_connection_id += 1;
        let _ = tx.send(Outgoing::Text(hello_frame(&shared, state.connections.len() + 1)));
        for frame in state.pending_frames.drain(..) {
            let _ = tx.send(Outgoing::Text(frame));
        }
        state.connections.push((id, tx));
        state.connections_total += 1;
        id
    };
    shared.notify();

    let write = async {
        while let Some(out) = rx.recv().await {
            match out {
                Outgoing::Text(text) => {
                    let envelope = serde_json::from_str::<Value>(&text)
                        .ok()
                        .and_then(|f| f.get("envelope_id")?.as_str().map(str::to_owned));
                    if sink.send(Message::text(text)).await.is_err() {
                        break;
                    }
                    if let Some(envelope) = envelope {
                        shared.lock().written_at.insert(envelope, Instant::now());
                    }
                }
                Outgoing::Binary(bytes) => {
                    if sink.send(Message::binary(bytes)).await.is_err() {
                        break;
                    }
                }
                Outgoing::Close => {
                    let _ = sink.close().await;
                    break;
                }
            }
        }
    };
    let read = async {
        while let Some(Ok(message)) = source.next().await {
            match message {
                Message::Text(text) => record_ack(&shared, text.as_str()),
                Message::Close(_) => break,
                _ => {}
            }
        }
    };
    tokio::pin!(write, read);
    tokio::select! {
        _ = &mut read => {}
        _ = &mut write => {
            // The fake closed: keep taking acks until the client answers the close.
            let _ = tokio::time::timeout(CLOSE_GRACE, read).await;
        }
    }
    shared.lock().connections.retain(|(cid, _)| *cid != id);
    shared.notify();
}

fn record_ack(shared: &Shared, text: &str) {
    let Ok(frame) = serde_json::from_str::<Value>(text) else { return };
    if let Some(envelope_id) = frame.get("envelope_id").and_then(Value::as_str) {
        let mut state = shared.lock();
        // Slack wants the ack within 3 s, or it redelivers.
        let late =
            state.written_at.get(envelope_id).map(|at| at.elapsed()).filter(|d| *d > ACK_LIMIT);
        if let Some(late) = late {
            state.violations.push(format!("envelope {envelope_id} acknowledged after {late:?}"));
        }
        state.acks.push(envelope_id.to_owned());
        if let Some(payload) = frame.get("payload") {
            state.ack_payloads.insert(envelope_id.to_owned(), payload.clone());
        }
        drop(state);
        shared.notify();
    }
}
