//! Serde types for the SiteAssist v2 visitor API (`/work/shared/siteassist-api.md` §2–§5).
//!
//! Response types derive both `Deserialize` and `Serialize` (camelCase, `null` for absent
//! values) so a local fake can answer with exactly the wire shape the client reads.
//! Fields the API documents as nullable, or that its docs and widget disagree about,
//! are `Option` with `#[serde(default)]`: a missing field must not fail a whole answer.

use super::ids::{ConversationId, Feedback, MessageId};
use crate::secret::Secret;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// The most characters (Unicode scalar values, not bytes) a message may have.
pub const MAX_CONTENT_CHARS: usize = 10_000;

/// Reads an optional timestamp. A value that is not RFC 3339 reads as `None`: a
/// timestamp in an unexpected format must not make a whole conversation unreadable.
fn lenient_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    let value = Option::<Value>::deserialize(d)?;
    Ok(value
        .as_ref()
        .and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc)))
}

/// A SiteAssist visitor (`GET /identity/me`, and inside [`Identity`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Visitor {
    /// Always `"visitor"`.
    #[serde(default)]
    pub object: String,
    /// The visitor's id (not the `saVid`).
    pub id: String,
    /// Anonymous or identified.
    #[serde(rename = "type", default)]
    pub kind: VisitorKind,
    /// The id the site gave an identified visitor.
    #[serde(default)]
    pub external_id: Option<String>,
    /// Display name, if known.
    #[serde(default)]
    pub name: Option<String>,
    /// Avatar URL, if known.
    #[serde(default)]
    pub avatar_url: Option<String>,
}

/// Whether a visitor is anonymous or identified by the site.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VisitorKind {
    /// Known only by its `saVid`.
    #[default]
    Anonymous,
    /// Identified by the site (`externalId`).
    Identified,
    /// A kind this client does not know yet.
    #[serde(other)]
    Other,
}

/// The answer of `POST /identity/init`. Only `Deserialize`: the token is a [`Secret`],
/// which serializes as a mask.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    /// The visitor session token, sent as `Authorization: Bearer` on visitor endpoints.
    pub session_token: Secret,
    /// The visitor the token belongs to.
    pub visitor: Visitor,
}

/// The project a publishable key belongs to (`GET /projects/current`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    /// Always `"project"`.
    #[serde(default)]
    pub object: String,
    /// Project id.
    pub id: String,
    /// Project name.
    #[serde(default)]
    pub name: String,
    /// Project description.
    #[serde(default)]
    pub description: Option<String>,
    /// How the site's chat widget looks; the bridge borrows the welcome text and name.
    #[serde(default)]
    pub chat_widget_config: ChatWidgetConfig,
    /// Suggested first questions. The widget's code for it is commented out, so the
    /// API may or may not send it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quick_prompts: Option<Vec<QuickPrompt>>,
}

/// The chat widget settings of a project. Every field is optional because the docs'
/// schema and example disagree (§3).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[allow(missing_docs)] // Field names are the API's own; §3 of the API notes lists them.
pub struct ChatWidgetConfig {
    pub welcome_message: Option<String>,
    pub input_placeholder: Option<String>,
    pub user_message_bubble_color: Option<String>,
    pub user_message_bubble_color_dark: Option<String>,
    pub brand_color: Option<String>,
    pub brand_color_dark: Option<String>,
    pub display_name: Option<String>,
    pub width: Option<f64>,
    pub max_height: Option<f64>,
    pub offset: Option<WidgetOffset>,
    pub position: Option<String>,
    pub bubble_radius: Option<f64>,
    pub base_font_size: Option<f64>,
    pub open_delay: Option<f64>,
    pub assistant_avatar: Option<String>,
    pub chat_button_icon: Option<String>,
    pub chat_button_color: Option<String>,
    #[serde(rename = "customCSSStyles")]
    pub custom_css_styles: Option<String>,
}

/// Widget offset from the page corner, in pixels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WidgetOffset {
    /// Horizontal offset.
    pub x: f64,
    /// Vertical offset.
    pub y: f64,
}

/// A suggested first question.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct QuickPrompt {
    /// Prompt id.
    pub id: String,
    /// Short label.
    pub title: String,
    /// The text sent when it is picked.
    pub prompt: String,
}

/// Whether a conversation is still open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConversationStatus {
    /// Accepts messages.
    #[default]
    Open,
    /// Closed by the visitor or an agent.
    Closed,
    /// A status this client does not know yet (never send it as a filter).
    #[serde(other)]
    Other,
}

/// The human agent who took over a conversation, or who wrote a message.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HumanAgent {
    /// Agent name.
    pub name: Option<String>,
    /// Agent avatar URL.
    pub image: Option<String>,
}

/// A conversation as create/get return it (with `messages`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    /// Always `"conversation"`.
    #[serde(default)]
    pub object: String,
    /// Conversation id.
    pub id: ConversationId,
    /// Creation time.
    #[serde(default, deserialize_with = "lenient_time")]
    pub created_at: Option<DateTime<Utc>>,
    /// Last update time.
    #[serde(default, deserialize_with = "lenient_time")]
    pub updated_at: Option<DateTime<Utc>>,
    /// Open or closed.
    #[serde(default)]
    pub status: ConversationStatus,
    /// When it was closed.
    #[serde(default, deserialize_with = "lenient_time")]
    pub closed_at: Option<DateTime<Utc>>,
    /// Why it was closed.
    #[serde(default)]
    pub close_reason: Option<String>,
    /// Last activity. The older docs spell it `lastInterationAt` (§4), hence the alias.
    #[serde(default, alias = "lastInterationAt", deserialize_with = "lenient_time")]
    pub last_interaction_at: Option<DateTime<Utc>>,
    /// True when a human agent answers instead of the AI: messages then get no AI reply.
    #[serde(default)]
    pub is_human_handled: bool,
    /// The agent who took over.
    #[serde(default)]
    pub human_agent: Option<HumanAgent>,
    /// Title, filled in by the server some time after the first messages.
    #[serde(default)]
    pub title: Option<String>,
    /// The messages, oldest first, when the endpoint includes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<Message>>,
}

/// A conversation as the list endpoint returns it (with `lastMessage`, no `messages`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)] // Same fields as `Conversation`.
pub struct ConversationSummary {
    #[serde(default)]
    pub object: String,
    pub id: ConversationId,
    #[serde(default, deserialize_with = "lenient_time")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub updated_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub status: ConversationStatus,
    #[serde(default, deserialize_with = "lenient_time")]
    pub closed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub close_reason: Option<String>,
    #[serde(default, alias = "lastInterationAt", deserialize_with = "lenient_time")]
    pub last_interaction_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub is_human_handled: bool,
    #[serde(default)]
    pub human_agent: Option<HumanAgent>,
    #[serde(default)]
    pub title: Option<String>,
    /// The newest message, if any.
    #[serde(default)]
    pub last_message: Option<Message>,
}

/// One page of `GET /conversations`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConversationList {
    /// Always `"list"`.
    #[serde(default)]
    pub object: String,
    /// How many conversations match in total (all pages).
    pub total: u64,
    /// The page size the server used.
    pub limit: u64,
    /// The offset of this page.
    pub offset: u64,
    /// This page.
    pub data: Vec<ConversationSummary>,
}

/// The `{object, data}` envelope of `GET …/messages` (no paging fields).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MessageList {
    /// Always `"list"`.
    #[serde(default)]
    pub object: String,
    /// The messages, oldest first.
    pub data: Vec<Message>,
}

/// Who wrote a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The visitor.
    User,
    /// The AI.
    Assistant,
    /// A human agent of the site.
    HumanAgent,
    /// A role this client does not know yet (never send it as a filter).
    #[serde(other)]
    Other,
}

/// A message's processing state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    /// The answer is still being generated.
    Streaming,
    /// Done.
    Complete,
    /// Generation failed; see [`Message::error`].
    Error,
    /// A status this client does not know yet (never send it as a filter).
    #[serde(other)]
    Other,
}

/// A message (`parts` are AI SDK v5 UIMessage parts; only text matters to the bridge).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)] // Field names are the API's own (§5).
pub struct Message {
    #[serde(default)]
    pub object: String,
    pub id: MessageId,
    #[serde(default, deserialize_with = "lenient_time")]
    pub created_at: Option<DateTime<Utc>>,
    /// The conversation id.
    #[serde(default)]
    pub chat_id: Option<ConversationId>,
    pub role: Role,
    #[serde(default)]
    pub parts: Vec<MessagePart>,
    /// `null` for most user messages.
    #[serde(default)]
    pub status: Option<MessageStatus>,
    /// Why generation failed, when `status` is `error`.
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub feedback: Option<Feedback>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub feedback_at: Option<DateTime<Utc>>,
    /// Documented as a string; kept raw because nothing promises that.
    #[serde(default)]
    pub metadata: Option<Value>,
    #[serde(default)]
    pub human_agent: Option<HumanAgent>,
    #[serde(default)]
    pub page_url: Option<String>,
    #[serde(default)]
    pub page_title: Option<String>,
    #[serde(default)]
    pub text_selection: Option<String>,
}

/// One part of a message or of a non-stream step. Only text is modelled; every other
/// part type (reasoning, tools, sources, files, data) is kept raw, so a new part type
/// never breaks reading a conversation.
#[derive(Clone, Debug, PartialEq)]
pub enum MessagePart {
    /// `{"type":"text","text":…}`.
    Text {
        /// The text.
        text: String,
    },
    /// Any other part, as received.
    Unknown(Value),
}

impl<'de> Deserialize<'de> for MessagePart {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let is_text = value.get("type").and_then(Value::as_str) == Some("text");
        match value.get("text").and_then(Value::as_str) {
            Some(text) if is_text => Ok(Self::Text { text: text.to_owned() }),
            _ => Ok(Self::Unknown(value)),
        }
    }
}

impl Serialize for MessagePart {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Text { text } => {
                serde_json::json!({ "type": "text", "text": text }).serialize(serializer)
            }
            Self::Unknown(value) => value.serialize(serializer),
        }
    }
}

/// Joins non-empty text parts with a blank line, as the widget does for "copy".
fn join_texts<'a>(parts: impl IntoIterator<Item = &'a MessagePart>) -> String {
    parts
        .into_iter()
        .filter_map(|part| match part {
            MessagePart::Text { text } if !text.is_empty() => Some(text.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// The visible text of a message: its text parts joined with `"\n\n"`.
pub fn message_text(message: &Message) -> String {
    join_texts(&message.parts)
}

/// The query of `GET /conversations`. `None` fields are left out (server defaults:
/// limit 10, offset 0, `lastInteractionAt` `desc`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListConversations {
    /// Page size, 1 to 100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Items to skip.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u32>,
    /// Only open or only closed conversations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<ConversationStatus>,
    /// Sort key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_by: Option<OrderBy>,
    /// Sort direction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_dir: Option<OrderDir>,
}

/// Sort keys of `GET /conversations`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)] // The API's own names.
pub enum OrderBy {
    Id,
    CreatedAt,
    UpdatedAt,
    LastInteractionAt,
    Status,
    ClosedAt,
    IsHumanHandled,
    Title,
}

/// Sort direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderDir {
    /// Oldest/smallest first.
    Asc,
    /// Newest/largest first (server default).
    Desc,
}

/// The query of `GET /conversations/{id}/messages`. Without `limit` the server returns
/// every message.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)] // The API's own names (§5).
pub struct ListMessages {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<MessageStatus>,
}

/// A message to send. Checked by [`validate_content`] before any request is made.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NewMessage {
    /// The question, 1 to [`MAX_CONTENT_CHARS`] characters.
    pub content: String,
    /// Where the visitor is, when the platform knows (helps the assistant answer).
    pub page_context: Option<PageContext>,
}

impl NewMessage {
    /// A message without page context.
    pub fn text(content: impl Into<String>) -> Self {
        Self { content: content.into(), page_context: None }
    }
}

/// The visitor's page: `url`, `title` and `content` are sent (as `null` when unknown);
/// `textSelection` is sent only when set, because only the widget documents it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageContext {
    /// Page URL.
    pub url: Option<String>,
    /// Page title.
    pub title: Option<String>,
    /// Page text.
    pub content: Option<String>,
    /// What the visitor selected on the page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_selection: Option<String>,
}

/// The body of `POST …/messages`, exactly `{content, stream, pageContext?}` as the widget
/// sends it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SendBody<'a> {
    pub content: &'a str,
    pub stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_context: Option<&'a PageContext>,
}

/// Why the model stopped. Unrecognised values decode as [`FinishReason::Unrecognized`]
/// rather than failing the chunk that carries them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)] // The AI SDK's own names.
pub enum FinishReason {
    Stop,
    Length,
    ContentFilter,
    ToolCalls,
    Error,
    Other,
    Unknown,
    /// A value newer than this client.
    #[serde(other)]
    Unrecognized,
}

/// The answer of a non-stream `POST …/messages`: the model's steps. It carries no
/// message id (§5); look the answer up with `last_assistant_message` for feedback.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StepsResponse {
    /// One entry per LLM step (tool loops make several).
    #[serde(default)]
    pub steps: Vec<Step>,
}

/// One LLM step of a non-stream answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// What the step produced; text parts form the answer.
    #[serde(default)]
    pub content: Vec<MessagePart>,
    /// Why the step ended.
    #[serde(default)]
    pub finish_reason: Option<FinishReason>,
    /// Token counts, kept raw.
    #[serde(default)]
    pub usage: Option<Value>,
}

impl StepsResponse {
    /// The answer: the last step's text contents joined with `"\n\n"` (earlier steps are
    /// tool rounds whose text the final step supersedes).
    pub fn text(&self) -> String {
        self.steps.last().map(|step| join_texts(&step.content)).unwrap_or_default()
    }
}

/// The answer of `POST /messages/{id}/feedback`.
#[derive(Debug, Deserialize)]
pub(crate) struct FeedbackBody {
    pub feedback: Option<Feedback>,
}

/// Checks a message before it is sent: the API rejects empty and over-long content,
/// and rejecting it here costs no request and gives a typed error.
pub fn validate_content(content: &str) -> Result<(), super::error::Error> {
    if content.trim().is_empty() {
        return Err(super::error::Error::EmptyContent);
    }
    let chars = content.chars().count();
    if chars > MAX_CONTENT_CHARS {
        return Err(super::error::Error::ContentTooLong { chars, max: MAX_CONTENT_CHARS });
    }
    Ok(())
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
