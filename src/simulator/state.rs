//! The simulator's data: visitors, sessions, conversations and messages, and how they
//! are spelled on the wire.
//!
//! Everything lives in one `State` behind a synchronous mutex that is never held across an
//! `.await`; handlers lock, decide, unlock, then do IO.

use super::error::ApiError;
use super::faults::FaultPlan;
use super::FeedbackRecord;
use crate::siteassist::ids::Feedback;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};
use std::collections::HashMap;

/// A visitor, keyed by the `saVid` the client keeps.
#[derive(Clone, Debug)]
pub(crate) struct Visitor {
    pub id: String,
    pub sa_vid: String,
}

/// `open` or `closed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ConvStatus {
    Closed,
    Open,
}

impl ConvStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ConvStatus::Open => "open",
            ConvStatus::Closed => "closed",
        }
    }
}

/// A conversation and the ids of its messages, oldest first.
#[derive(Clone, Debug)]
pub(crate) struct Conversation {
    pub id: String,
    pub visitor_id: String,
    /// Creation order, the tie-breaker of every sort.
    pub seq: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub status: ConvStatus,
    pub closed_at: Option<DateTime<Utc>>,
    pub close_reason: Option<String>,
    pub last_interaction_at: DateTime<Utc>,
    pub is_human_handled: bool,
    /// The name of the person handling it, when one took it over by name.
    pub agent: Option<String>,
    pub title: Option<String>,
    pub message_ids: Vec<String>,
}

/// `user`, `assistant` or `human_agent`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    User,
    Assistant,
    HumanAgent,
}

impl Role {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::HumanAgent => "human_agent",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        [Role::User, Role::Assistant, Role::HumanAgent].into_iter().find(|r| r.as_str() == s)
    }
}

/// `streaming`, `complete` or `error`; user messages have none (`null`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MsgStatus {
    Streaming,
    Complete,
    Error,
}

impl MsgStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            MsgStatus::Streaming => "streaming",
            MsgStatus::Complete => "complete",
            MsgStatus::Error => "error",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        [MsgStatus::Streaming, MsgStatus::Complete, MsgStatus::Error]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// Where the visitor was when asking (`pageContext` of the POST).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PageContext {
    pub url: Option<String>,
    pub title: Option<String>,
    /// The page's text: recorded so tests can see what the bridge sent (the API does
    /// not echo it back on messages).
    pub content: Option<String>,
    pub text_selection: Option<String>,
}

/// One message.
#[derive(Clone, Debug)]
pub(crate) struct Message {
    pub id: String,
    pub chat_id: String,
    pub created_at: DateTime<Utc>,
    pub role: Role,
    pub text: String,
    pub status: Option<MsgStatus>,
    pub error: Option<String>,
    pub feedback: Option<Feedback>,
    pub feedback_at: Option<DateTime<Utc>>,
    pub page: PageContext,
    /// For a `human_agent` message, the agent's name.
    pub agent: Option<String>,
}

/// All simulator state.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub visitors: HashMap<String, Visitor>,
    pub visitor_by_sa_vid: HashMap<String, String>,
    /// Session token → visitor id.
    pub sessions: HashMap<String, String>,
    pub conversations: HashMap<String, Conversation>,
    pub messages: HashMap<String, Message>,
    pub feedback_log: Vec<FeedbackRecord>,
    pub message_posts: usize,
    /// Questions stored, in arrival order.
    pub questions: Vec<super::ReceivedQuestion>,
    pub init_count: usize,
    pub faults: FaultPlan,
    /// Faults that took effect, in order, with the question each hit.
    pub fault_hits: Vec<FaultHit>,
    /// Assistant messages whose generation task is still running.
    pub generating: usize,
    /// SSE bodies that hyper has not dropped yet.
    pub open_streams: usize,
    /// SSE bodies dropped before their end: the client went away mid-answer.
    pub client_aborts: usize,
    /// Conversation WebSockets open now, and opened so far.
    pub open_sockets: usize,
    pub sockets_opened: usize,
    /// Socket requests received, refused ones included.
    pub socket_attempts: usize,
    /// When set, every socket request is refused with this status (401 or 404).
    pub socket_refusal: Option<u16>,
    /// When each streamed answer was complete (its last word sent and stored), with the
    /// page URL of the question it answers (for the load bench's final-text lag).
    pub stream_ends: Vec<(Option<String>, std::time::Instant)>,
    seq: u64,
}

/// A fault as it took effect: on which request's question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultHit {
    /// The fault.
    pub fault: super::Fault,
    /// The `content` of the POST it answered, when the body had one.
    pub content: Option<String>,
}

/// A fresh UUID v4 string.
pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// ISO-8601 with milliseconds and `Z`, as the API spells timestamps.
pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn ts_opt(t: Option<DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, |t| Value::String(ts(t)))
}

impl State {
    /// Finds or creates the visitor for `sa_vid`; `true` when it was created.
    pub(crate) fn init_visitor(&mut self, sa_vid: &str) -> (Visitor, bool) {
        self.init_count += 1;
        if let Some(v) = self.visitor_by_sa_vid.get(sa_vid).and_then(|id| self.visitors.get(id)) {
            return (v.clone(), false);
        }
        let v = Visitor { id: new_id(), sa_vid: sa_vid.to_string() };
        self.visitor_by_sa_vid.insert(sa_vid.to_string(), v.id.clone());
        self.visitors.insert(v.id.clone(), v.clone());
        (v, true)
    }

    /// The visitor a session token belongs to.
    pub(crate) fn visitor_for_token(&self, token: &str) -> Option<Visitor> {
        let id = self.sessions.get(token)?;
        self.visitors.get(id).cloned()
    }

    /// Creates a conversation owned by `visitor_id`.
    pub(crate) fn create_conversation(&mut self, visitor_id: &str, now: DateTime<Utc>) -> String {
        self.seq += 1;
        let c = Conversation {
            id: new_id(),
            visitor_id: visitor_id.to_string(),
            seq: self.seq,
            created_at: now,
            updated_at: now,
            status: ConvStatus::Open,
            closed_at: None,
            close_reason: None,
            last_interaction_at: now,
            is_human_handled: false,
            agent: None,
            title: None,
            message_ids: Vec::new(),
        };
        let id = c.id.clone();
        self.conversations.insert(id.clone(), c);
        id
    }

    /// The conversation `id` if `visitor_id` owns it: 404 when unknown, 403 when foreign.
    pub(crate) fn owned_conversation(
        &mut self,
        visitor_id: &str,
        id: &str,
    ) -> Result<&mut Conversation, ApiError> {
        match self.conversations.get_mut(id) {
            None => Err(ApiError::conversation_not_found(id)),
            Some(c) if c.visitor_id != visitor_id => Err(ApiError::forbidden()),
            Some(c) => Ok(c),
        }
    }

    /// Appends a message to a conversation (which must exist) and bumps its timestamps.
    /// The first user message becomes the title, as the real server fills titles in.
    pub(crate) fn add_message(
        &mut self,
        chat_id: &str,
        role: Role,
        text: &str,
        status: Option<MsgStatus>,
        page: PageContext,
        now: DateTime<Utc>,
    ) -> String {
        let id = new_id();
        if let Some(c) = self.conversations.get_mut(chat_id) {
            c.message_ids.push(id.clone());
            c.updated_at = now;
            c.last_interaction_at = now;
            if c.title.is_none() && role == Role::User {
                c.title = Some(title_from(text));
            }
        }
        let m = Message {
            id: id.clone(),
            chat_id: chat_id.to_string(),
            created_at: now,
            role,
            text: text.to_string(),
            status,
            error: None,
            feedback: None,
            feedback_at: None,
            page,
            agent: None,
        };
        self.messages.insert(id.clone(), m);
        id
    }

    /// The messages of a conversation, oldest first.
    pub(crate) fn messages_of(&self, conversation_id: &str) -> Vec<&Message> {
        self.conversations
            .get(conversation_id)
            .map(|c| c.message_ids.iter().filter_map(|id| self.messages.get(id)).collect())
            .unwrap_or_default()
    }

    /// The wire form of a conversation: with all `messages` (`full`) or a `lastMessage`.
    pub(crate) fn conversation_json(&self, c: &Conversation, full: bool) -> Value {
        let mut v = json!({
            "object": "conversation",
            "id": c.id,
            "createdAt": ts(c.created_at),
            "updatedAt": ts(c.updated_at),
            "status": c.status.as_str(),
            "closedAt": ts_opt(c.closed_at),
            "closeReason": c.close_reason,
            "lastInteractionAt": ts(c.last_interaction_at),
            "isHumanHandled": c.is_human_handled,
            "humanAgent": if c.is_human_handled { human_agent(c.agent.as_deref()) } else { Value::Null },
            "title": c.title,
        });
        let msgs = self.messages_of(&c.id);
        let (key, value) = if full {
            let all = msgs.iter().map(|m| message_json(m)).collect();
            ("messages", Value::Array(all))
        } else {
            let last = msgs.last().map_or(Value::Null, |m| message_json(m));
            ("lastMessage", last)
        };
        if let Some(obj) = v.as_object_mut() {
            obj.insert(key.into(), value);
        }
        v
    }
}

/// The agent handling a conversation, with their name when one took it over by name
/// (`null` otherwise, as for a handover the API did not attribute).
pub(crate) fn human_agent(name: Option<&str>) -> Value {
    json!({ "name": name, "image": null })
}

/// The first 60 characters of the first question, as the title.
fn title_from(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut t: String = one_line.chars().take(60).collect();
    if one_line.chars().count() > 60 {
        t.push('…');
    }
    t
}

/// The wire form of a visitor.
pub(crate) fn visitor_json(v: &Visitor) -> Value {
    json!({
        "object": "visitor", "id": v.id, "type": "anonymous",
        "externalId": null, "name": null, "avatarUrl": null
    })
}

/// The wire form of a message. Assistant messages carry the AI SDK parts a persisted
/// `UIMessage` has (`step-start`, then the text with its `state`), so clients must pick
/// the text parts rather than assume a single part.
pub(crate) fn message_json(m: &Message) -> Value {
    let parts = match m.role {
        Role::Assistant => {
            let state = if m.status == Some(MsgStatus::Streaming) { "streaming" } else { "done" };
            json!([{ "type": "step-start" }, { "type": "text", "text": m.text, "state": state }])
        }
        _ => json!([{ "type": "text", "text": m.text }]),
    };
    json!({
        "object": "message",
        "id": m.id,
        "createdAt": ts(m.created_at),
        "chatId": m.chat_id,
        "role": m.role.as_str(),
        "parts": parts,
        "status": m.status.map(MsgStatus::as_str),
        "error": m.error,
        "feedback": m.feedback,
        "feedbackAt": ts_opt(m.feedback_at),
        "metadata": null,
        "humanAgent": if m.role == Role::HumanAgent { human_agent(m.agent.as_deref()) } else { Value::Null },
        "pageUrl": m.page.url,
        "pageTitle": m.page.title,
        "textSelection": m.page.text_selection,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_sa_vid_gives_the_same_visitor() {
        let mut s = State::default();
        let (a, created_a) = s.init_visitor("v1");
        let (b, created_b) = s.init_visitor("v1");
        let (c, _) = s.init_visitor("v2");
        assert!(created_a && !created_b);
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
        assert_eq!(s.init_count, 3);
    }

    #[test]
    fn ownership_is_checked_before_returning_a_conversation() {
        let mut s = State::default();
        let now = Utc::now();
        let id = s.create_conversation("alice", now);
        assert!(s.owned_conversation("alice", &id).is_ok());
        assert_eq!(s.owned_conversation("bob", &id).unwrap_err().code, "FORBIDDEN");
        let e = s.owned_conversation("alice", "nope").unwrap_err();
        assert_eq!(e.code, "CONVERSATION_NOT_FOUND");
        assert_eq!(e.details, Some(json!({"conversationId": "nope"})));
    }

    #[test]
    fn messages_render_as_the_api_spells_them() {
        let mut s = State::default();
        let now = DateTime::parse_from_rfc3339("2024-01-15T10:30:00Z").unwrap().with_timezone(&Utc);
        let c = s.create_conversation("alice", now);
        let page =
            PageContext { url: Some("https://example.com/help".into()), ..Default::default() };
        s.add_message(&c, Role::User, "Where is my order?", None, page, now);
        let a = s.add_message(
            &c,
            Role::Assistant,
            "Here",
            Some(MsgStatus::Streaming),
            PageContext::default(),
            now,
        );
        let conv = s.conversations[&c].clone();
        assert_eq!(conv.title.as_deref(), Some("Where is my order?"));
        let v = s.conversation_json(&conv, true);
        assert_eq!(v["createdAt"], "2024-01-15T10:30:00.000Z");
        let user = &v["messages"][0];
        assert_eq!(user["status"], Value::Null);
        assert_eq!(user["pageUrl"], "https://example.com/help");
        assert_eq!(user["parts"], json!([{"type":"text","text":"Where is my order?"}]));
        let asst = &v["messages"][1];
        assert_eq!(asst["id"], a.as_str());
        assert_eq!(asst["status"], "streaming");
        assert_eq!(asst["parts"][1]["state"], "streaming");
        let listed = s.conversation_json(&conv, false);
        assert_eq!(listed["lastMessage"]["id"], a.as_str());
        assert!(listed.get("messages").is_none());
    }
}
