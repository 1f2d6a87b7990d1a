//! The chunks of the AI SDK v5 UI message stream (§6.2 of the API notes) and the pure
//! accumulator that turns them into answer text.
//!
//! The AI SDK itself validates chunks strictly; this decoder is lenient on purpose: an
//! unknown chunk type, or a known type with fields it does not expect, must not end an
//! answer that is otherwise streaming fine. Unknown types become [`UiChunk::Unknown`];
//! extra fields are ignored.

use super::action::{self, LinkAction};
use super::model::FinishReason;
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;

/// One chunk of the UI message stream: the JSON of one `data:` line.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", rename_all_fields = "camelCase")]
#[allow(missing_docs)] // Field names are the AI SDK's own; §6.2 describes each.
pub enum UiChunk {
    /// A new assistant message begins; `message_id` is its server id when present.
    Start {
        #[serde(default)]
        message_id: Option<String>,
        #[serde(default)]
        message_metadata: Option<Value>,
    },
    /// An LLM step begins (tool loops have several).
    StartStep,
    /// Opens text block `id`.
    TextStart { id: String },
    /// Appends `delta` to text block `id`.
    TextDelta { id: String, delta: String },
    /// Closes text block `id`.
    TextEnd { id: String },
    /// Opens a reasoning block (never part of the answer text).
    ReasoningStart { id: String },
    /// Reasoning text.
    ReasoningDelta { id: String, delta: String },
    /// Closes a reasoning block.
    ReasoningEnd { id: String },
    /// A tool call begins.
    ToolInputStart {
        tool_call_id: String,
        tool_name: String,
        #[serde(default)]
        provider_executed: Option<bool>,
        #[serde(default)]
        dynamic: Option<bool>,
    },
    /// Streamed tool arguments (JSON text).
    ToolInputDelta { tool_call_id: String, input_text_delta: String },
    /// The complete tool input.
    ToolInputAvailable {
        tool_call_id: String,
        tool_name: String,
        #[serde(default)]
        input: Value,
    },
    /// The tool input was invalid.
    ToolInputError {
        tool_call_id: String,
        tool_name: String,
        #[serde(default)]
        input: Value,
        error_text: String,
    },
    /// The tool result.
    ToolOutputAvailable {
        tool_call_id: String,
        #[serde(default)]
        output: Value,
        #[serde(default)]
        preliminary: Option<bool>,
    },
    /// The tool failed.
    ToolOutputError { tool_call_id: String, error_text: String },
    /// A source the answer cites, by URL.
    SourceUrl {
        source_id: String,
        url: String,
        #[serde(default)]
        title: Option<String>,
    },
    /// A source the answer cites, by document.
    SourceDocument {
        source_id: String,
        media_type: String,
        #[serde(default)]
        title: Option<String>,
        #[serde(default)]
        filename: Option<String>,
    },
    /// A file part.
    File { url: String, media_type: String },
    /// A custom `data-<name>` chunk: `name` without the prefix, `raw` the whole chunk.
    #[serde(skip)]
    Data { name: String, raw: Value },
    /// The step ends.
    FinishStep,
    /// The message is complete. `finish_reason` `error` means it is not a success.
    Finish {
        #[serde(default)]
        finish_reason: Option<FinishReason>,
        #[serde(default)]
        message_metadata: Option<Value>,
    },
    /// The server aborted the stream.
    Abort,
    /// A metadata update.
    MessageMetadata {
        #[serde(default)]
        message_metadata: Value,
    },
    /// The answer failed mid-stream.
    Error { error_text: String },
    /// A chunk this client does not know (or a known type with unusable fields), raw.
    #[serde(skip)]
    Unknown(Value),
}

impl UiChunk {
    /// Decodes the data of one `data:` line. Fails only when it is not JSON.
    pub fn parse(data: &str) -> Result<Self, serde_json::Error> {
        Ok(Self::from_value(serde_json::from_str(data)?))
    }

    /// Decodes a chunk already parsed as JSON; never fails (see [`UiChunk::Unknown`]).
    pub fn from_value(value: Value) -> Self {
        match value.get("type").and_then(Value::as_str) {
            Some(kind) if kind.starts_with("data-") => {
                Self::Data { name: kind["data-".len()..].to_owned(), raw: value }
            }
            Some(_) => Self::deserialize(&value).unwrap_or(Self::Unknown(value)),
            None => Self::Unknown(value),
        }
    }
}

/// Assembles the answer text from chunks, as the AI SDK's `processUIMessageStream` does:
/// each `text-start` opens a block, deltas append to the open block with their id, and
/// the answer is the non-empty blocks in the order they started, joined with `"\n\n"`.
/// Reasoning and tool chunks are not answer text.
#[derive(Clone, Debug, Default)]
pub struct AnswerText {
    blocks: Vec<String>,
    /// Open block ids → index in `blocks`.
    open: HashMap<String, usize>,
    /// The sources the answer cites, in the order they came, each once.
    sources: Vec<Source>,
    /// Tool call ids → tool names (an output chunk names only its call).
    tools: HashMap<String, String>,
    /// The link buttons the answer's action tools offer, in order, each link once.
    actions: Vec<LinkAction>,
}

/// A source an answer cites (`source-url` or `source-document`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// What to call it (the title; a document's file name when it has no title).
    pub title: Option<String>,
    /// Where it is, for a URL source.
    pub url: Option<String>,
}

impl Source {
    /// Two sources are the same when they name the same URL, or (without one) the same
    /// title.
    pub fn same_as(&self, other: &Source) -> bool {
        match (&self.url, &other.url) {
            (Some(a), Some(b)) => a == b,
            (None, None) => self.title == other.title,
            _ => false,
        }
    }
}

impl AnswerText {
    /// An empty answer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one chunk; returns true when the visible text changed.
    pub fn apply(&mut self, chunk: &UiChunk) -> bool {
        match chunk {
            UiChunk::TextStart { id } => {
                self.open_block(id);
                false
            }
            UiChunk::TextDelta { id, delta } => {
                if delta.is_empty() {
                    return false;
                }
                // A delta without its start (the AI SDK would fail) still shows.
                let index = match self.open.get(id) {
                    Some(index) => *index,
                    None => self.open_block(id),
                };
                self.blocks[index].push_str(delta);
                true
            }
            UiChunk::TextEnd { id } => {
                self.open.remove(id);
                false
            }
            UiChunk::SourceUrl { url, title, .. } => {
                self.add_source(Source { title: title.clone(), url: Some(url.clone()) });
                false
            }
            UiChunk::SourceDocument { title, filename, .. } => {
                let title = title.clone().or_else(|| filename.clone());
                self.add_source(Source { title, url: None });
                false
            }
            UiChunk::ToolInputStart { tool_call_id, tool_name, .. }
            | UiChunk::ToolInputAvailable { tool_call_id, tool_name, .. } => {
                self.tools.insert(tool_call_id.clone(), tool_name.clone());
                false
            }
            // A preliminary output may still change; the final one counts.
            UiChunk::ToolOutputAvailable { tool_call_id, output, preliminary } => {
                let tool = self.tools.get(tool_call_id).map(String::as_str);
                let usable = tool.filter(|_| *preliminary != Some(true));
                if let Some(action) = usable.and_then(|tool| action::from_tool_output(tool, output))
                {
                    action::add(&mut self.actions, action);
                }
                false
            }
            _ => false,
        }
    }

    fn add_source(&mut self, source: Source) {
        let nameless = source.title.as_deref().is_none_or(|t| t.trim().is_empty());
        if (source.url.is_none() && nameless) || self.sources.iter().any(|s| s.same_as(&source)) {
            return;
        }
        self.sources.push(source);
    }

    /// The sources cited so far, each once, in the order they came.
    pub fn sources(&self) -> &[Source] {
        &self.sources
    }

    /// The link buttons offered so far, each link once, in the order they came.
    pub fn actions(&self) -> &[LinkAction] {
        &self.actions
    }

    fn open_block(&mut self, id: &str) -> usize {
        self.blocks.push(String::new());
        let index = self.blocks.len() - 1;
        self.open.insert(id.to_owned(), index);
        index
    }

    /// The answer so far.
    pub fn text(&self) -> String {
        self.blocks
            .iter()
            .filter(|b| !b.is_empty())
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_chunk_type_decodes() {
        let s = |v: &str| v.to_owned();
        let table: Vec<(Value, UiChunk)> = vec![
            (
                json!({"type":"start","messageId":"5f0c2a9e-1d7b-4c61-9a0e-3b8f2d4c7e10"}),
                UiChunk::Start {
                    message_id: Some(s("5f0c2a9e-1d7b-4c61-9a0e-3b8f2d4c7e10")),
                    message_metadata: None,
                },
            ),
            (json!({"type":"start"}), UiChunk::Start { message_id: None, message_metadata: None }),
            (json!({"type":"start-step"}), UiChunk::StartStep),
            (
                json!({"type":"text-start","id":"msg_1","providerMetadata":{"openai":{"itemId":"msg_1"}}}),
                UiChunk::TextStart { id: s("msg_1") },
            ),
            (
                json!({"type":"text-delta","id":"msg_1","delta":"Hi"}),
                UiChunk::TextDelta { id: s("msg_1"), delta: s("Hi") },
            ),
            (json!({"type":"text-end","id":"msg_1"}), UiChunk::TextEnd { id: s("msg_1") }),
            (json!({"type":"reasoning-start","id":"r"}), UiChunk::ReasoningStart { id: s("r") }),
            (
                json!({"type":"reasoning-delta","id":"r","delta":"hmm"}),
                UiChunk::ReasoningDelta { id: s("r"), delta: s("hmm") },
            ),
            (json!({"type":"reasoning-end","id":"r"}), UiChunk::ReasoningEnd { id: s("r") }),
            (
                json!({"type":"tool-input-start","toolCallId":"c","toolName":"search","dynamic":true}),
                UiChunk::ToolInputStart {
                    tool_call_id: s("c"),
                    tool_name: s("search"),
                    provider_executed: None,
                    dynamic: Some(true),
                },
            ),
            (
                json!({"type":"tool-input-delta","toolCallId":"c","inputTextDelta":"{\"q\""}),
                UiChunk::ToolInputDelta { tool_call_id: s("c"), input_text_delta: s("{\"q\"") },
            ),
            (
                json!({"type":"tool-input-available","toolCallId":"c","toolName":"search","input":{"q":"x"}}),
                UiChunk::ToolInputAvailable {
                    tool_call_id: s("c"),
                    tool_name: s("search"),
                    input: json!({"q":"x"}),
                },
            ),
            (
                json!({"type":"tool-input-error","toolCallId":"c","toolName":"search","input":1,"errorText":"bad"}),
                UiChunk::ToolInputError {
                    tool_call_id: s("c"),
                    tool_name: s("search"),
                    input: json!(1),
                    error_text: s("bad"),
                },
            ),
            (
                json!({"type":"tool-output-available","toolCallId":"c","output":[1],"preliminary":false}),
                UiChunk::ToolOutputAvailable {
                    tool_call_id: s("c"),
                    output: json!([1]),
                    preliminary: Some(false),
                },
            ),
            (
                json!({"type":"tool-output-error","toolCallId":"c","errorText":"boom"}),
                UiChunk::ToolOutputError { tool_call_id: s("c"), error_text: s("boom") },
            ),
            (
                json!({"type":"source-url","sourceId":"s1","url":"https://x","title":"X"}),
                UiChunk::SourceUrl { source_id: s("s1"), url: s("https://x"), title: Some(s("X")) },
            ),
            (
                json!({"type":"source-document","sourceId":"s2","mediaType":"text/plain","title":"Doc"}),
                UiChunk::SourceDocument {
                    source_id: s("s2"),
                    media_type: s("text/plain"),
                    title: Some(s("Doc")),
                    filename: None,
                },
            ),
            (
                json!({"type":"file","url":"https://f","mediaType":"image/png"}),
                UiChunk::File { url: s("https://f"), media_type: s("image/png") },
            ),
            (
                json!({"type":"data-weather","id":"d","data":{"t":20}}),
                UiChunk::Data {
                    name: s("weather"),
                    raw: json!({"type":"data-weather","id":"d","data":{"t":20}}),
                },
            ),
            (json!({"type":"finish-step"}), UiChunk::FinishStep),
            (
                json!({"type":"finish","finishReason":"content-filter"}),
                UiChunk::Finish {
                    finish_reason: Some(FinishReason::ContentFilter),
                    message_metadata: None,
                },
            ),
            (
                json!({"type":"finish"}),
                UiChunk::Finish { finish_reason: None, message_metadata: None },
            ),
            (
                json!({"type":"finish","finishReason":"brand-new"}),
                UiChunk::Finish {
                    finish_reason: Some(FinishReason::Unrecognized),
                    message_metadata: None,
                },
            ),
            (json!({"type":"abort"}), UiChunk::Abort),
            (
                json!({"type":"message-metadata","messageMetadata":{"k":1}}),
                UiChunk::MessageMetadata { message_metadata: json!({"k":1}) },
            ),
            (
                json!({"type":"error","errorText":"model failed"}),
                UiChunk::Error { error_text: s("model failed") },
            ),
        ];
        for (value, want) in table {
            let text = value.to_string();
            assert_eq!(UiChunk::parse(&text).unwrap(), want, "{text}");
        }
    }

    #[test]
    fn unknown_types_and_unusable_chunks_are_kept_raw() {
        for value in [
            json!({"type":"brand-new-chunk","x":1}),
            json!({"type":"text-delta","id":"a"}), // delta missing
            json!({"no":"type"}),
            json!([1, 2]),
        ] {
            assert_eq!(UiChunk::from_value(value.clone()), UiChunk::Unknown(value));
        }
        assert!(UiChunk::parse("not json").is_err());
    }

    #[test]
    fn extra_fields_do_not_break_decoding() {
        let chunk = UiChunk::parse(r#"{"type":"finish-step","future":true}"#).unwrap();
        assert_eq!(chunk, UiChunk::FinishStep);
        let chunk = UiChunk::parse(r#"{"type":"text-delta","id":"a","delta":"x","new":[1]}"#);
        assert!(matches!(chunk, Ok(UiChunk::TextDelta { .. })));
    }

    fn apply_all(chunks: &[Value]) -> (AnswerText, Vec<bool>) {
        let mut answer = AnswerText::new();
        let changed =
            chunks.iter().map(|c| answer.apply(&UiChunk::from_value(c.clone()))).collect();
        (answer, changed)
    }

    #[test]
    fn text_blocks_join_in_start_order_and_reasoning_is_not_text() {
        let (answer, changed) = apply_all(&[
            json!({"type":"text-start","id":"a"}),
            json!({"type":"text-start","id":"b"}),
            json!({"type":"reasoning-delta","id":"r","delta":"thinking"}),
            json!({"type":"text-delta","id":"b","delta":"second"}),
            json!({"type":"text-delta","id":"a","delta":"first"}),
            json!({"type":"text-delta","id":"a","delta":""}),
            json!({"type":"text-end","id":"a"}),
            json!({"type":"text-start","id":"empty"}),
            json!({"type":"text-end","id":"empty"}),
        ]);
        assert_eq!(answer.text(), "first\n\nsecond");
        assert_eq!(changed, [false, false, false, true, true, false, false, false, false]);
    }

    #[test]
    fn a_reused_id_after_its_end_opens_a_new_block() {
        let (answer, _) = apply_all(&[
            json!({"type":"text-start","id":"a"}),
            json!({"type":"text-delta","id":"a","delta":"one"}),
            json!({"type":"text-end","id":"a"}),
            json!({"type":"text-start","id":"a"}),
            json!({"type":"text-delta","id":"a","delta":"two"}),
            json!({"type":"text-delta","id":"orphan","delta":"three"}),
        ]);
        assert_eq!(answer.text(), "one\n\ntwo\n\nthree");
    }

    #[test]
    fn display_link_outputs_become_actions_once_and_only_when_final() {
        let link = |href: &str| json!({"buttonLabel": "Track", "href": href});
        let (answer, changed) = apply_all(&[
            json!({"type":"tool-input-start","toolCallId":"a","toolName":"action_display-link"}),
            json!({"type":"tool-output-available","toolCallId":"a","output":link("https://x.io/p"),"preliminary":true}),
            json!({"type":"tool-input-available","toolCallId":"b","toolName":"action_display-link","input":{}}),
            json!({"type":"tool-output-available","toolCallId":"b","output":link("https://x.io/1")}),
            json!({"type":"tool-output-available","toolCallId":"a","output":link("https://x.io/1")}),
            json!({"type":"tool-input-start","toolCallId":"c","toolName":"search"}),
            json!({"type":"tool-output-available","toolCallId":"c","output":link("https://x.io/2")}),
            // An output for a call never announced: its tool is unknown.
            json!({"type":"tool-output-available","toolCallId":"z","output":link("https://x.io/3")}),
        ]);
        let urls: Vec<&str> = answer.actions().iter().map(|a| a.url.as_str()).collect();
        assert_eq!(urls, ["https://x.io/1"]);
        assert!(changed.iter().all(|c| !c), "actions are not text");
    }
}
