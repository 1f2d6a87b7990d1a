//! A streamed answer: the AI SDK v5 UI message stream (§6) decoded into answer text and
//! an outcome.
//!
//! The bytes are parsed with `eventsource-stream`, which only parses. (The
//! `reqwest-eventsource` crate would reconnect, that is re-send the `POST` that asked
//! the question, after every end of stream.) [`decode`] works on any byte stream, so
//! every rule here is tested without HTTP.
//!
//! How a stream ends decides the [`StreamOutcome`]:
//! - `finish` (or `[DONE]` without one): [`StreamOutcome::Finished`]. Nothing after
//!   `finish` changes the answer, so the end is reported at once; but when the stream is
//!   dropped, the rest of the body is read in the background to its end (for at most
//!   [`DRAIN_LIMIT`]): hanging up at `finish` is a client abort to the server on every
//!   answer, and costs the pooled connection. A stream dropped before its end (a stop, a
//!   shutdown) hangs up at once, on purpose.
//! - `error`: [`StreamOutcome::ErrorChunk`] at once, as the AI SDK client fails there
//!   too; the `finish(error)` and `[DONE]` that follow add nothing.
//! - `abort`: [`StreamOutcome::Aborted`].
//! - end of body first: [`StreamOutcome::Truncated`]; no chunk for `idle_timeout`:
//!   [`StreamOutcome::Stalled`]; a broken body: [`StreamOutcome::Transport`].
//!
//! The partial text is kept in every outcome.

use super::chunk::{AnswerText, UiChunk};
use super::ids::MessageId;
use eventsource_stream::Eventsource;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub use super::model::FinishReason;

/// The idle timeout used when none is configured.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// One decoded `data:` line.
#[derive(Clone, Debug, PartialEq)]
pub enum Frame {
    /// A chunk.
    Chunk(UiChunk),
    /// `data: [DONE]`, the end of the stream.
    Done,
}

/// Decodes a byte stream into frames. Lines that are not JSON are skipped (logged at
/// debug); a transport or UTF-8 failure is an `Err` with a description.
pub fn decode<S, B, E>(bytes: S) -> BoxStream<'static, Result<Frame, String>>
where
    S: futures_util::Stream<Item = Result<B, E>> + Send + 'static,
    B: AsRef<[u8]> + Send + 'static,
    E: fmt::Display + Send + 'static,
{
    bytes
        .map_err(|e| e.to_string())
        .eventsource()
        .filter_map(|event| {
            let frame = match event {
                Err(e) => Some(Err(e.to_string())),
                Ok(event) if event.data.trim() == "[DONE]" => Some(Ok(Frame::Done)),
                Ok(event) => match UiChunk::parse(&event.data) {
                    Ok(chunk) => Some(Ok(Frame::Chunk(chunk))),
                    Err(e) => {
                        tracing::debug!(error = %e, len = event.data.len(), "skipping a non-JSON stream line");
                        None
                    }
                },
            };
            futures_util::future::ready(frame)
        })
        .boxed()
}

/// What [`AnswerStream::next_event`] reports.
#[derive(Clone, Debug)]
pub enum StreamEvent {
    /// The visible answer text changed; read it with [`AnswerStream::text`].
    Text,
    /// The stream is over (every later call returns the same end).
    End(StreamEnd),
}

/// How a streamed answer ended, with everything it produced.
#[derive(Clone, Debug)]
pub struct StreamEnd {
    /// Why it ended.
    pub outcome: StreamOutcome,
    /// The answer text (partial unless `outcome` is a clean finish).
    pub text: String,
    /// The stored assistant message, the target of feedback, when known.
    pub message_id: Option<MessageId>,
    /// The sources the answer cited (`source-url`, `source-document`), each once.
    pub sources: Vec<super::chunk::Source>,
    /// The link buttons the answer's action tools offered, each link once.
    pub actions: Vec<super::action::LinkAction>,
}

/// Why a stream ended. See the module docs for what produces each.
#[derive(Clone, Debug, PartialEq)]
pub enum StreamOutcome {
    /// `finish` or `[DONE]`; `reason` `length`, `content-filter` or `error` mean the
    /// answer is incomplete.
    Finished {
        /// `finish.finishReason`, when sent.
        reason: Option<FinishReason>,
    },
    /// An `error` chunk: the answer failed part-way.
    ErrorChunk {
        /// `errorText`, as sent.
        error_text: String,
    },
    /// An `abort` chunk: the server cancelled the answer.
    Aborted,
    /// The body ended without `finish` or `[DONE]`. The server may still have stored
    /// the complete answer.
    Truncated,
    /// No chunk arrived for `after`; the connection was dropped.
    Stalled {
        /// The idle timeout that expired.
        after: Duration,
    },
    /// The body failed (reset, bad UTF-8).
    Transport {
        /// What failed (no URL, no secrets).
        error: String,
    },
    /// The reader closed the stream on purpose (someone pressed Stop): the text is
    /// what had arrived, and nothing more is wanted.
    Stopped,
}

/// Finds the answer's message id after the stream ended, for streams whose `start`
/// carried none. Best effort: `None` when it cannot tell.
pub(crate) type IdLookup = Pin<Box<dyn Future<Output = Option<MessageId>> + Send>>;

/// A streamed answer being read. Drive it with [`AnswerStream::next_event`].
pub struct AnswerStream {
    frames: BoxStream<'static, Result<Frame, String>>,
    answer: AnswerText,
    message_id: Option<MessageId>,
    idle_timeout: Duration,
    /// Set when the stream is over, before the id lookup runs.
    outcome: Option<StreamOutcome>,
    lookup: Option<IdLookup>,
    end: Option<StreamEnd>,
    /// A terminal chunk was read: the rest of the body is to be read, not cut.
    drain_pending: bool,
}

/// The longest the rest of a finished answer's body is read for after the stream is
/// dropped.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(5);

impl Drop for AnswerStream {
    fn drop(&mut self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        if !self.drain_pending {
            return;
        }
        let mut frames = std::mem::replace(&mut self.frames, futures_util::stream::empty().boxed());
        runtime.spawn(async move {
            let rest = async { while frames.next().await.is_some() {} };
            if tokio::time::timeout(DRAIN_LIMIT, rest).await.is_err() {
                tracing::debug!("an answer stream did not end after finish; hanging up");
            }
        });
    }
}

impl fmt::Debug for AnswerStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnswerStream")
            .field("message_id", &self.message_id)
            .field("outcome", &self.outcome)
            .finish_non_exhaustive()
    }
}

impl AnswerStream {
    /// Reads an answer from any byte stream (an HTTP body, or a test's chunks). A
    /// stream that yields no chunk for `idle_timeout` ends as
    /// [`StreamOutcome::Stalled`].
    pub fn from_byte_stream<S, B, E>(bytes: S, idle_timeout: Duration) -> Self
    where
        S: futures_util::Stream<Item = Result<B, E>> + Send + 'static,
        B: AsRef<[u8]> + Send + 'static,
        E: fmt::Display + Send + 'static,
    {
        Self {
            frames: decode(bytes),
            answer: AnswerText::new(),
            message_id: None,
            idle_timeout,
            outcome: None,
            lookup: None,
            end: None,
            drain_pending: false,
        }
    }

    /// An answer that is already complete (a server that answered a stream request
    /// with the non-stream JSON).
    pub(crate) fn completed(text: &str, reason: Option<FinishReason>) -> Self {
        let mut stream = Self::from_byte_stream(
            futures_util::stream::empty::<Result<&'static [u8], String>>(),
            DEFAULT_IDLE_TIMEOUT,
        );
        let (id, delta) = (String::from("steps"), text.to_owned());
        stream.answer.apply(&UiChunk::TextStart { id: id.clone() });
        stream.answer.apply(&UiChunk::TextDelta { id, delta });
        stream.outcome = Some(StreamOutcome::Finished { reason });
        stream
    }

    /// Adds the lookup that finds the message id when `start` carried none.
    pub(crate) fn with_id_lookup(mut self, lookup: IdLookup) -> Self {
        self.lookup = Some(lookup);
        self
    }

    /// The answer text so far.
    pub fn text(&self) -> String {
        self.answer.text()
    }

    /// The assistant message id, once known (from `start.messageId` while streaming,
    /// or from the lookup after the end).
    pub fn message_id(&self) -> Option<&MessageId> {
        self.message_id.as_ref()
    }

    /// Waits for the next change of the answer text, or the end. Cancel-safe: if the
    /// future is dropped, the next call continues where it stopped.
    pub async fn next_event(&mut self) -> StreamEvent {
        loop {
            if let Some(end) = &self.end {
                return StreamEvent::End(end.clone());
            }
            if let Some(outcome) = self.outcome.clone() {
                if self.message_id.is_none() {
                    if let Some(lookup) = self.lookup.as_mut() {
                        self.message_id = lookup.await;
                    }
                }
                self.lookup = None;
                self.end = Some(StreamEnd {
                    outcome,
                    text: self.answer.text(),
                    message_id: self.message_id.clone(),
                    sources: self.answer.sources().to_vec(),
                    actions: self.answer.actions().to_vec(),
                });
                continue;
            }
            match tokio::time::timeout(self.idle_timeout, self.frames.next()).await {
                Err(_) => self.outcome = Some(StreamOutcome::Stalled { after: self.idle_timeout }),
                Ok(None) => self.outcome = Some(StreamOutcome::Truncated),
                Ok(Some(Err(error))) => self.outcome = Some(StreamOutcome::Transport { error }),
                Ok(Some(Ok(Frame::Done))) => {
                    self.outcome = Some(StreamOutcome::Finished { reason: None });
                    self.drain_pending = true;
                }
                Ok(Some(Ok(Frame::Chunk(chunk)))) => {
                    let changed = self.on_chunk(chunk);
                    // A terminal chunk: the rest of the body follows, to be read.
                    self.drain_pending = self.outcome.is_some();
                    if changed {
                        return StreamEvent::Text;
                    }
                }
            }
        }
    }

    /// Applies a chunk; true when the visible text changed.
    fn on_chunk(&mut self, chunk: UiChunk) -> bool {
        match &chunk {
            // Only a UUID is a server message id (§6.5); anything else would make
            // feedback target a message that does not exist.
            UiChunk::Start { message_id: Some(id), .. } if uuid::Uuid::parse_str(id).is_ok() => {
                self.message_id = Some(MessageId::new(id.clone()));
            }
            UiChunk::Finish { finish_reason, .. } => {
                self.outcome = Some(StreamOutcome::Finished { reason: *finish_reason })
            }
            UiChunk::Abort => self.outcome = Some(StreamOutcome::Aborted),
            UiChunk::Error { error_text } => {
                self.outcome = Some(StreamOutcome::ErrorChunk { error_text: error_text.clone() })
            }
            _ => {}
        }
        self.answer.apply(&chunk)
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
