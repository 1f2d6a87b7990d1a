//! The AI SDK v5 UI message stream, as `toUIMessageStreamResponse` writes it.
//!
//! What happens during one streamed answer is decided up front by the pure [`script`]:
//! a list of [`Step`]s (send a frame, generate a word, cut the wire, store the outcome).
//! [`run`] then plays the script in a task of its own, so generation completes and is
//! stored even when the client has gone away, which is what lets a bridge that crashed
//! mid-stream fetch the final answer later.

use super::faults::Fault;
use super::state::{MsgStatus, Role};
use super::Simulator;
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use futures_util::StreamExt;
use serde::Serialize;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

/// The `errorText` of an error chunk: the AI SDK's default, which masks the real cause.
pub(crate) const STREAM_ERROR_TEXT: &str = "An error occurred.";
/// The `error` stored on a message whose generation was aborted.
pub(crate) const ABORT_ERROR_TEXT: &str = "The response was aborted.";

/// One chunk of the stream. The derive keeps `type` first and the field order of the AI
/// SDK's `JSON.stringify`, so frames match the real bytes.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
enum Chunk<'a> {
    Start {
        #[serde(rename = "messageId", skip_serializing_if = "Option::is_none")]
        message_id: Option<&'a str>,
    },
    StartStep,
    TextStart {
        id: &'a str,
    },
    TextDelta {
        id: &'a str,
        delta: &'a str,
    },
    TextEnd {
        id: &'a str,
    },
    Error {
        #[serde(rename = "errorText")]
        error_text: &'a str,
    },
    Abort,
    ToolInputStart {
        #[serde(rename = "toolCallId")]
        tool_call_id: &'a str,
        #[serde(rename = "toolName")]
        tool_name: &'a str,
    },
    ToolInputAvailable {
        #[serde(rename = "toolCallId")]
        tool_call_id: &'a str,
        #[serde(rename = "toolName")]
        tool_name: &'a str,
        input: serde_json::Value,
    },
    ToolOutputAvailable {
        #[serde(rename = "toolCallId")]
        tool_call_id: &'a str,
        output: serde_json::Value,
    },
    SourceUrl {
        #[serde(rename = "sourceId")]
        source_id: &'a str,
        url: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        title: Option<&'a str>,
    },
    FinishStep,
    Finish {
        #[serde(rename = "finishReason")]
        finish_reason: &'a str,
    },
}

/// `data: <compact JSON>` and a blank line.
fn frame(chunk: &Chunk<'_>) -> String {
    // Serializing these plain structs cannot fail; an empty object would still be valid SSE.
    let json = serde_json::to_string(chunk).unwrap_or_else(|_| "{}".into());
    format!("data: {json}\n\n")
}

/// The last frame of every complete stream.
const DONE: &str = "data: [DONE]\n\n";

/// How the connection ends early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cut {
    /// Nothing more is sent; the connection stays open.
    Stall,
    /// The connection is cut without finishing the chunked body.
    Drop,
}

/// One thing the generation task does, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Wait (a slow first byte).
    Pause(Duration),
    /// Send one frame, if the wire is still up.
    Send(String),
    /// Wait one word delay, append the word to the stored message, send its delta frame.
    Word { word: String, frame: String },
    /// From here on nothing reaches the wire.
    Cut(Cut),
    /// Store how the message ended. Scripts place it before the closing frames, so a client
    /// that has read `[DONE]` always finds the final message.
    Finish { status: MsgStatus, error: Option<&'static str> },
}

/// Splits text into text-delta payloads: each word with the whitespace that follows it
/// (leading whitespace stays on the first one), so the deltas concatenate to exactly `text`.
pub(crate) fn word_chunks(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_space = true;
    for (i, c) in text.char_indices() {
        let space = c.is_whitespace();
        if !space && in_space && i > 0 && !text[start..i].trim().is_empty() {
            out.push(&text[start..i]);
            start = i;
        }
        in_space = space;
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// What an answer streams besides its text.
#[derive(Clone, Copy, Default)]
pub(crate) struct Extras<'a> {
    /// `(url, title)` of its `source-url` chunks.
    pub sources: &'a [(String, Option<String>)],
    /// `(buttonLabel, href)` of its `action_display-link` tool calls.
    pub actions: &'a [(String, String)],
}

/// The steps of one streamed answer, given the fault for this request.
pub(crate) fn script(
    answer: &str,
    extras: Extras<'_>,
    fault: Option<&Fault>,
    message_id: &str,
    text_id: &str,
) -> Vec<Step> {
    let mut steps = Vec::new();
    let send = |c: Chunk<'_>| Step::Send(frame(&c));
    if let Some(Fault::SlowFirstByte { delay_ms }) = fault {
        steps.push(Step::Pause(Duration::from_millis(*delay_ms)));
    }
    let message_id = match fault {
        Some(Fault::NoMessageId) => None,
        _ => Some(message_id),
    };
    steps.push(send(Chunk::Start { message_id }));
    steps.push(send(Chunk::StartStep));
    steps.push(send(Chunk::TextStart { id: text_id }));
    let words = word_chunks(answer);
    let stop = match fault {
        Some(
            Fault::ErrorChunk { after_words }
            | Fault::Abort { after_words }
            | Fault::Stall { after_words }
            | Fault::Drop { after_words },
        ) => (*after_words).min(words.len()),
        _ => words.len(),
    };
    let word = |w: &str| Step::Word {
        word: w.to_string(),
        frame: frame(&Chunk::TextDelta { id: text_id, delta: w }),
    };
    steps.extend(words[..stop].iter().map(|w| word(w)));
    match fault {
        Some(Fault::ErrorChunk { .. }) => steps.extend([
            Step::Finish { status: MsgStatus::Error, error: Some(STREAM_ERROR_TEXT) },
            send(Chunk::Error { error_text: STREAM_ERROR_TEXT }),
            send(Chunk::FinishStep),
            send(Chunk::Finish { finish_reason: "error" }),
            Step::Send(DONE.into()),
        ]),
        Some(Fault::Abort { .. }) => steps.extend([
            Step::Finish { status: MsgStatus::Error, error: Some(ABORT_ERROR_TEXT) },
            send(Chunk::Abort),
            Step::Send(DONE.into()),
        ]),
        Some(Fault::Stall { .. } | Fault::Drop { .. }) => {
            let cut =
                if matches!(fault, Some(Fault::Stall { .. })) { Cut::Stall } else { Cut::Drop };
            steps.push(Step::Cut(cut));
            steps.extend(words[stop..].iter().map(|w| word(w)));
            steps.push(Step::Finish { status: MsgStatus::Complete, error: None });
        }
        _ => {
            // Action tools as the model calls them after writing (the widget shows
            // their buttons under the text).
            for (i, (label, href)) in extras.actions.iter().enumerate() {
                let (id, name) =
                    (format!("call_{i}"), crate::siteassist::action::DISPLAY_LINK_TOOL);
                let output = serde_json::json!({ "buttonLabel": label, "href": href });
                steps.extend([
                    send(Chunk::ToolInputStart { tool_call_id: &id, tool_name: name }),
                    send(Chunk::ToolInputAvailable {
                        tool_call_id: &id,
                        tool_name: name,
                        input: output.clone(),
                    }),
                    send(Chunk::ToolOutputAvailable { tool_call_id: &id, output }),
                ]);
            }
            // Sources as a search tool reports them: after the text, before the finish.
            for (i, (url, title)) in extras.sources.iter().enumerate() {
                let id = format!("src_{i}");
                steps.push(send(Chunk::SourceUrl { source_id: &id, url, title: title.as_deref() }));
            }
            steps.extend([
                Step::Finish { status: MsgStatus::Complete, error: None },
                send(Chunk::TextEnd { id: text_id }),
                send(Chunk::FinishStep),
                send(Chunk::Finish { finish_reason: "stop" }),
                // A real server writes `[DONE]` and ends the body a moment after `finish`
                // (it records usage first); a client that hangs up at `finish` aborts it.
                Step::Pause(FINISH_TO_DONE),
                Step::Send(DONE.into()),
            ]);
        }
    }
    steps
}

/// The gap between `finish` and `[DONE]` in a normal answer.
const FINISH_TO_DONE: Duration = Duration::from_millis(20);

/// What the body stream carries: frames, or the error that cuts the connection.
pub(crate) type WireItem = Result<Bytes, io::Error>;

/// Plays a script for the assistant message `message_id`. Sends never block (the channel
/// is unbounded; a whole answer is a few kilobytes) and failures are ignored, so a slow
/// or vanished client never holds generation up.
pub(crate) async fn run(
    sim: Simulator,
    message_id: String,
    steps: Vec<Step>,
    tx: UnboundedSender<WireItem>,
) {
    let word_delay = sim.config().word_delay;
    let mut wire = true;
    for step in steps {
        match step {
            Step::Pause(d) => tokio::time::sleep(d).await,
            Step::Send(f) => {
                if wire {
                    let _ = tx.send(Ok(Bytes::from(f)));
                }
            }
            Step::Word { word, frame } => {
                tokio::time::sleep(word_delay).await;
                sim.append_text(&message_id, &word);
                if wire {
                    let _ = tx.send(Ok(Bytes::from(frame)));
                }
            }
            Step::Cut(cut) => {
                if cut == Cut::Drop {
                    let _ = tx.send(Err(io::Error::other("simulated dropped connection")));
                }
                wire = false;
            }
            Step::Finish { status, error } => {
                sim.finish_message(&message_id, status, error);
                note_stream_end(&sim, &message_id);
            }
        }
    }
    sim.with_state(|s| s.generating = s.generating.saturating_sub(1));
}

/// Notes when the answer `message_id` was complete (its last word generated and
/// stored), with the page URL of the question it answers.
fn note_stream_end(sim: &Simulator, message_id: &str) {
    sim.with_state(|s| {
        let chat = s.messages.get(message_id).map(|m| m.chat_id.clone());
        let question = chat.and_then(|chat| {
            let asked = s.messages_of(&chat).into_iter().rev().find(|m| m.role == Role::User);
            asked.and_then(|m| m.page.url.clone())
        });
        s.stream_ends.push((question, std::time::Instant::now()));
    });
}

/// Counts an open SSE body until hyper drops it (the client went away or the body
/// ended), and counts a body dropped before its end as a client abort.
struct OpenStream {
    sim: Simulator,
    ended: Arc<AtomicBool>,
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        let aborted = !self.ended.load(Ordering::SeqCst);
        self.sim.with_state(|s| {
            s.open_streams = s.open_streams.saturating_sub(1);
            if aborted {
                s.client_aborts += 1;
            }
        });
    }
}

/// The 200 `text/event-stream` response with the AI SDK's headers. With `stall`, the
/// body stays open after the generator is done, until the client leaves or the simulator
/// shuts down.
pub(crate) fn sse_response(
    sim: &Simulator,
    rx: UnboundedReceiver<WireItem>,
    stall: bool,
) -> Response {
    let ended = Arc::new(AtomicBool::new(false));
    let end = Arc::clone(&ended);
    let frames = futures_util::stream::unfold(rx, move |mut rx| {
        let end = Arc::clone(&end);
        async move {
            let Some(item) = rx.recv().await else {
                // The script is done and the client read everything.
                end.store(true, Ordering::SeqCst);
                return None;
            };
            if item.is_err() {
                // Let hyper flush the frames before the cut (it flushes when the body is
                // pending), so exactly `after_words` deltas reach the client. A cut is
                // the server's doing, not a client abort.
                end.store(true, Ordering::SeqCst);
                tokio::task::yield_now().await;
            }
            Some((item, rx))
        }
    });
    let frames = if stall {
        let sim = sim.clone();
        let tail = futures_util::stream::once(async move {
            sim.closed().await;
            Err::<Bytes, _>(io::Error::other("simulator shutting down"))
        });
        frames.chain(tail).boxed()
    } else {
        frames.boxed()
    };
    sim.with_state(|s| s.open_streams += 1);
    let guard = OpenStream { sim: sim.clone(), ended };
    // The guard lives as long as the body: hyper drops it at the end or when the client leaves.
    let body = Body::from_stream(frames.map(move |item| {
        let _open = &guard;
        item
    }));
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::OK;
    let h = resp.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE.as_str(), "text/event-stream"),
        (header::CACHE_CONTROL.as_str(), "no-cache"),
        (header::CONNECTION.as_str(), "keep-alive"),
        ("x-vercel-ai-ui-message-stream", "v1"),
        ("x-accel-buffering", "no"),
    ] {
        if let Ok(n) = header::HeaderName::from_bytes(name.as_bytes()) {
            h.insert(n, HeaderValue::from_static(value));
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_chunks_concatenate_to_the_text() {
        for text in ["", "one", "  lead and  trail  ", "a\n\n```bash\nls -l\n```\n", "é ü"] {
            assert_eq!(word_chunks(text).concat(), text);
        }
        assert_eq!(word_chunks("Hello big world"), ["Hello ", "big ", "world"]);
        assert_eq!(word_chunks(" x\n\ny "), [" x\n\n", "y "]);
    }

    fn frames(steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .filter_map(|s| match s {
                Step::Send(f) | Step::Word { frame: f, .. } => Some(f.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_normal_script_is_the_ai_sdk_sequence() {
        let steps = script("Hi there", Extras::default(), None, "m-1", "msg_1");
        assert_eq!(
            frames(&steps).concat(),
            "data: {\"type\":\"start\",\"messageId\":\"m-1\"}\n\n\
             data: {\"type\":\"start-step\"}\n\n\
             data: {\"type\":\"text-start\",\"id\":\"msg_1\"}\n\n\
             data: {\"type\":\"text-delta\",\"id\":\"msg_1\",\"delta\":\"Hi \"}\n\n\
             data: {\"type\":\"text-delta\",\"id\":\"msg_1\",\"delta\":\"there\"}\n\n\
             data: {\"type\":\"text-end\",\"id\":\"msg_1\"}\n\n\
             data: {\"type\":\"finish-step\"}\n\n\
             data: {\"type\":\"finish\",\"finishReason\":\"stop\"}\n\n\
             data: [DONE]\n\n"
        );
        let finish = steps.iter().position(|s| matches!(s, Step::Finish { .. })).unwrap();
        assert!(matches!(steps[finish - 1], Step::Word { .. }), "stored before the closing frames");
    }

    #[test]
    fn error_chunk_stops_after_n_words_and_finishes_with_error() {
        let steps = script(
            "a b c d",
            Extras::default(),
            Some(&Fault::ErrorChunk { after_words: 2 }),
            "m",
            "t",
        );
        let f = frames(&steps);
        assert_eq!(f.iter().filter(|x| x.contains("text-delta")).count(), 2);
        assert!(!f.iter().any(|x| x.contains("text-end")));
        assert_eq!(
            f[5..].concat(),
            "data: {\"type\":\"error\",\"errorText\":\"An error occurred.\"}\n\n\
             data: {\"type\":\"finish-step\"}\n\n\
             data: {\"type\":\"finish\",\"finishReason\":\"error\"}\n\ndata: [DONE]\n\n"
        );
    }

    #[test]
    fn wire_cuts_keep_generating_into_the_store() {
        let steps =
            script("a b c d", Extras::default(), Some(&Fault::Drop { after_words: 1 }), "m", "t");
        let cut = steps.iter().position(|s| *s == Step::Cut(Cut::Drop)).unwrap();
        let words_after = steps[cut..].iter().filter(|s| matches!(s, Step::Word { .. })).count();
        assert_eq!(words_after, 3);
        assert!(!frames(&steps[..cut]).concat().contains("[DONE]"));
        assert_eq!(steps.last(), Some(&Step::Finish { status: MsgStatus::Complete, error: None }));
        let no_id = script("a", Extras::default(), Some(&Fault::NoMessageId), "m", "t");
        assert_eq!(frames(&no_id)[0], "data: {\"type\":\"start\"}\n\n");
    }
}
