//! The SiteAssist v2 visitor API client.
//!
//! - [`client`]: [`Client`], one per publishable key: visitor sessions (lazily per
//!   `saVid`, renewed on 401), retries (429/503 and failed connections, see [`retry`]),
//!   and every visitor endpoint.
//! - [`stream`]: [`AnswerStream`], the decoder of the AI SDK v5 UI message stream a
//!   streamed answer arrives in; [`chunk`] holds its chunk types and text accumulator.
//! - [`model`]: the request and response types; [`error`]: typed errors, one variant
//!   per documented API error code; [`ids`]: the ids shared with the store and core.

pub mod action;
pub mod chunk;
pub mod client;
mod endpoints;
pub mod error;
pub mod ids;
pub mod model;
pub mod retry;
pub mod socket;
pub mod stream;

pub use action::LinkAction;
pub use chunk::{AnswerText, Source, UiChunk};
pub use client::{Client, ClientConfig, SendOutcome, StreamStart};
pub use error::{ApiError, Error};
pub use model::message_text;
pub use socket::{ConversationSocket, SocketFrame};
pub use stream::{AnswerStream, StreamEnd, StreamEvent, StreamOutcome};
