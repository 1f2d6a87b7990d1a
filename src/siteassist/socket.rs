//! The conversation WebSocket (§7 of the API notes): how a person's replies to a
//! human-handled conversation reach a client, since such a conversation answers a
//! question with "Message sent" and no stream.
//!
//! `GET …/conversations/{id}/ws?apiKey=<publishable key>` (the key in the query is
//! the only authentication; the URL is therefore never logged). The client sends the
//! text `ping` every [`PING_EVERY`] and expects `pong`; a ping that has had no answer
//! by the next one counts as a dropped connection. Server frames are JSON:
//! `new_message` (an agent's reply, or an echo of the visitor's own message) and
//! `human_assigned` (who handles the conversation changed: re-fetch it).

use super::client::Client;
use super::error::{ApiError, Error};
use super::ids::ConversationId;
use super::model::Message;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How often the client pings (the widget's cadence).
pub const PING_EVERY: Duration = Duration::from_secs(30);

/// One server frame.
#[derive(Clone, Debug, PartialEq)]
pub enum SocketFrame {
    /// A message was added to the conversation (`new_message`); `None` when the frame
    /// carried none (re-list the messages).
    NewMessage(Option<Box<Message>>),
    /// Who handles the conversation changed (`human_assigned`): re-fetch it.
    HumanAssigned,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Wire {
    NewMessage {
        #[serde(default)]
        message: Option<Box<Message>>,
    },
    HumanAssigned,
}

/// An open conversation socket.
pub struct ConversationSocket {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    ping_every: Duration,
    next_ping: Instant,
    awaiting_pong: bool,
}

impl std::fmt::Debug for ConversationSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConversationSocket").finish_non_exhaustive()
    }
}

/// A socket's buffers. tungstenite allocates a 128 KiB read buffer per socket up
/// front, sized for heavy traffic; these sockets carry a few small frames an hour and
/// a bridge holds thousands (measured: 147 KiB per idle socket with the default, see
/// `examples/handoff_idle.rs`). Messages larger than the buffer still arrive (it
/// grows); past [`MAX_FRAME`] the connection fails and the relay catches up from the
/// message list instead.
fn socket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_message_size(Some(MAX_FRAME))
        .max_frame_size(Some(MAX_FRAME))
}

/// The largest frame accepted: a message of SiteAssist's longest content (10,000
/// characters, up to 4 bytes each) with its JSON around it.
const MAX_FRAME: usize = 256 * 1024;

impl Client {
    /// Opens the socket of conversation `id`. A refusal before the upgrade comes back
    /// as the API error its status means (401: the key; 404: no such conversation).
    pub async fn open_socket(&self, id: &ConversationId) -> Result<ConversationSocket, Error> {
        self.open_socket_pinging(id, PING_EVERY).await
    }

    /// [`Self::open_socket`] with another ping cadence (tests use a short one).
    pub async fn open_socket_pinging(
        &self,
        id: &ConversationId,
        ping_every: Duration,
    ) -> Result<ConversationSocket, Error> {
        let mut url = self.url(&["conversations", id.as_str(), "ws"]);
        let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
        url.set_scheme(scheme).map_err(|()| Error::NotConfigured("no WebSocket URL".into()))?;
        url.query_pairs_mut().append_pair("apiKey", self.inner.cfg.publishable_key.expose());
        let connect =
            tokio_tungstenite::connect_async_with_config(url.as_str(), Some(socket_config()), true);
        let connected = tokio::time::timeout(self.inner.cfg.request_timeout, connect).await;
        let ws = match connected {
            Err(_) => return Err(Error::Transport("the conversation socket timed out".into())),
            Ok(Ok((ws, _))) => ws,
            Ok(Err(tokio_tungstenite::tungstenite::Error::Http(response))) => {
                let status = response.status().as_u16();
                let body = response.body().as_deref().map(String::from_utf8_lossy);
                let body = body.as_deref().unwrap_or("");
                return Err(Error::Api(ApiError::from_response(status, None, body)));
            }
            // The error's text can carry the URL, and with it the key: keep it out.
            Ok(Err(_)) => return Err(Error::Transport("the conversation socket failed".into())),
        };
        Ok(ConversationSocket {
            ws,
            ping_every,
            next_ping: Instant::now() + ping_every,
            awaiting_pong: false,
        })
    }
}

impl ConversationSocket {
    /// The next frame, pinging on the way; `None` once the connection is gone (closed,
    /// failed, or silent through a whole ping interval).
    pub async fn next(&mut self) -> Option<SocketFrame> {
        loop {
            tokio::select! {
                incoming = self.ws.next() => {
                    let text = match incoming? {
                        Ok(WsMessage::Text(text)) => text,
                        Ok(WsMessage::Close(_)) | Err(_) => return None,
                        Ok(_) => continue,
                    };
                    if text.as_str() == "pong" {
                        self.awaiting_pong = false;
                        continue;
                    }
                    match serde_json::from_str::<Wire>(&text) {
                        Ok(Wire::NewMessage { message }) => return Some(SocketFrame::NewMessage(message)),
                        Ok(Wire::HumanAssigned) => return Some(SocketFrame::HumanAssigned),
                        // Frames of other kinds (or shapes) are not ours to act on.
                        Err(e) => tracing::debug!(error = %e, "ignoring a socket frame"),
                    }
                }
                () = tokio::time::sleep_until(self.next_ping) => {
                    if self.awaiting_pong {
                        tracing::info!("no pong from the conversation socket; treating it as dropped");
                        return None;
                    }
                    if self.ws.send(WsMessage::text("ping")).await.is_err() {
                        return None;
                    }
                    self.awaiting_pong = true;
                    self.next_ping = Instant::now() + self.ping_every;
                }
            }
        }
    }

    /// Closes the socket politely.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}
