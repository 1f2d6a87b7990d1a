//! Slack's `/siteassist` slash command: `/siteassist <question>` asks, `/siteassist new`
//! starts over in a direct message, `/siteassist help` (or nothing) says how to use the
//! bot.
//!
//! Slack wants a slash command acknowledged within 3 seconds; the acknowledgement may
//! carry a reply only the person sees ("ephemeral"), which is how help and refusals
//! are given. Slash command payloads carry no thread (Slack: "Slash commands",
//! "Responding to commands", checked 2026-12), so a question is first posted by the bot
//! as a visible message ("*Alice* asked: …"), and the answer streams into a thread on
//! it, exactly as for a mention. In Socket Mode the command comes as a `slash_commands`
//! envelope (the callback's response is the acknowledgement's payload); in Events
//! mode as a signed form POST to `/slack/commands` (checked like events).

use super::ids;
use super::runtime::SlackBridge;
use crate::bridge::controls::Controls;
use crate::bridge::decide::{Command, Facts, Place, PlaceKind};
use crate::bridge::event::{InboundEvent, InboundMessage, MessageContext};
use crate::bridge::{notice, Disposition, Ignored};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use slack_morphism::prelude::*;
use std::sync::{Arc, Weak};

/// What a `/siteassist` invocation asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Slash {
    /// Nothing, or `help`.
    Help,
    /// `new`.
    New,
    /// Anything else: a question.
    Ask(String),
}

impl Slash {
    /// Reads the command's text.
    pub(super) fn parse(text: &str) -> Self {
        match text.trim() {
            "" => Slash::Help,
            t if t.eq_ignore_ascii_case("help") => Slash::Help,
            t if t.eq_ignore_ascii_case("new") => Slash::New,
            t => Slash::Ask(t.to_string()),
        }
    }
}

/// The fields of a slash command the bridge uses (a form in Events mode, a JSON object
/// in Socket Mode; both are read as JSON strings).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Invocation {
    pub(super) team: String,
    pub(super) channel: String,
    pub(super) user: String,
    pub(super) text: String,
    /// Unique per invocation: the de-duplication id.
    pub(super) trigger: String,
}

impl Invocation {
    /// The invocation in `payload`, or `None` when a field the bridge needs is missing.
    pub(super) fn read(payload: &Value) -> Option<Self> {
        let field = |name: &str| payload.get(name)?.as_str().map(str::to_string);
        Some(Self {
            team: field("team_id")?,
            channel: field("channel_id")?,
            user: field("user_id")?,
            text: field("text").unwrap_or_default(),
            trigger: field("trigger_id")?,
        })
    }

    fn is_dm(&self) -> bool {
        self.channel.starts_with('D')
    }
}

/// The help text, with the command in it.
fn help() -> String {
    format!(
        "{}\n\nOr use the command: `/siteassist <question>` asks (the answer comes in a \
         thread), `/siteassist new` starts over in a direct message with me.",
        notice::help()
    )
}

impl SlackBridge {
    /// Takes one invocation and returns at once what the acknowledgement should show
    /// the person (`None`: nothing; the question shows as a message instead). A
    /// question or `new` goes on in the background.
    pub(super) fn accept_command(self: &Arc<Self>, invocation: Invocation) -> Option<String> {
        match Slash::parse(&invocation.text) {
            Slash::Help => Some(super::format::to_slack(&help())),
            Slash::New if !invocation.is_dm() => Some(
                "A conversation with me lives in a thread (write `!new` there) or in a direct \
                 message (use `/siteassist new` there)."
                    .into(),
            ),
            Slash::New => {
                let app = Arc::clone(self);
                tokio::spawn(async move { app.start_over(invocation).await });
                Some("Starting a new conversation.".into())
            }
            Slash::Ask(question) => {
                let app = Arc::clone(self);
                tokio::spawn(async move { app.ask(invocation, question).await });
                None
            }
        }
    }

    /// `/siteassist <question>`: posts the question visibly, then hands it to the core
    /// as a question addressed to the bot, answered in a thread on it (in a DM, under
    /// it).
    async fn ask(self: Arc<Self>, invocation: Invocation, question: String) {
        let shown = format!("*<@{}> asked:*\n{}", invocation.user, quote(&question));
        let ts = match self.web().post(&invocation.channel, None, &shown, Controls::none()).await {
            Ok(ts) => ts,
            Err(e) => {
                tracing::warn!(error = %e, "could not post a slash command's question (is the bot in the channel?)");
                return;
            }
        };
        let Invocation { team, channel, user, trigger, .. } = invocation.clone();
        let (place, thread) = if invocation.is_dm() {
            (Place::new(PlaceKind::Dm, &channel), ids::thread(&team, &channel, None))
        } else {
            (Place::new(PlaceKind::Channel, &channel), ids::thread(&team, &channel, Some(&ts)))
        };
        let mut facts = Facts::person(place);
        facts.mentions_bot = true;
        let (channel_name, user_name) = self.names(&channel, &user).await;
        let msg = InboundMessage {
            event_id: format!("command:{trigger}"),
            message: ids::message(&team, &channel, &ts),
            thread,
            channel: ids::channel(&team, &channel),
            workspace: Some(ids::workspace(&team)),
            author: ids::user(&team, &user),
            author_name: user_name,
            facts,
            text: question,
            context: MessageContext {
                url: Some(super::ingress::permalink(self.workspace_url(), &channel, &ts, None)),
                place_name: channel_name,
                workspace_name: Some(self.workspace_name().to_string()),
            },
            attachments: Vec::new(),
        };
        match self.bridge().handle(InboundEvent::Message(Box::new(msg))).await {
            Ok(Disposition::Ignored(Ignored::ChannelNotAllowed)) => {
                let note = "_I don't answer in this channel._";
                let _ = self.web().post(&channel, Some(&ts), note, Controls::none()).await;
            }
            Ok(disposition) => tracing::debug!(?disposition, "slash command question handled"),
            Err(e) => tracing::error!(error = %e, "could not handle a slash command's question"),
        }
    }

    /// `/siteassist new` in a DM: the core forgets the DM's conversation and says so.
    async fn start_over(self: Arc<Self>, invocation: Invocation) {
        let Invocation { team, channel, user, trigger, .. } = invocation;
        let mut facts = Facts::person(Place::new(PlaceKind::Dm, &channel));
        facts.command = Some(Command::New);
        let msg = InboundMessage {
            event_id: format!("command:{trigger}"),
            message: ids::message(&team, &channel, &format!("command-{trigger}")),
            thread: ids::thread(&team, &channel, None),
            channel: ids::channel(&team, &channel),
            workspace: Some(ids::workspace(&team)),
            author: ids::user(&team, &user),
            author_name: None,
            facts,
            text: "!new".into(),
            context: MessageContext::default(),
            attachments: Vec::new(),
        };
        if let Err(e) = self.bridge().handle(InboundEvent::Message(Box::new(msg))).await {
            tracing::error!(error = %e, "could not start a new conversation from a slash command");
        }
    }
}

/// `POST /slack/commands`: checked like an event (a bad signature is refused with 401
/// and changes nothing), read from its form, and answered at once: with the private
/// reply as JSON, or an empty 200.
pub(super) async fn commands_endpoint(
    State(app): State<Arc<SlackBridge>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = app.verify_request(&headers, &body) {
        return refused.into_response();
    }
    let fields: serde_json::Map<String, Value> = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect();
    let Some(invocation) = Invocation::read(&Value::Object(fields)) else {
        tracing::debug!("a Slack slash command without its ids");
        return (StatusCode::BAD_REQUEST, "expected a slash command form").into_response();
    };
    match app.accept_command(invocation) {
        Some(text) => Json(json!({ "response_type": "ephemeral", "text": text })).into_response(),
        None => StatusCode::OK.into_response(),
    }
}

/// Socket Mode's `slash_commands` envelopes: what this returns is the envelope's
/// acknowledgement payload, sent at once.
pub(super) async fn on_command(
    event: SlackCommandEvent,
    _client: Arc<super::egress::Client>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<SlackCommandEventResponse> {
    let app = states.read().await.get_user_state::<Weak<SlackBridge>>().and_then(Weak::upgrade);
    let reply = match (app, Invocation::read(&serde_json::to_value(&event)?)) {
        (Some(app), Some(invocation)) => app.accept_command(invocation),
        _ => None,
    };
    let content = SlackMessageContent::new();
    Ok(match reply {
        Some(text) => SlackCommandEventResponse::new(content.with_text(text))
            .with_response_type(SlackMessageResponseType::Ephemeral),
        None => SlackCommandEventResponse::new(content),
    })
}

/// `text` as a Slack quote, line by line (capped: the answer gets the whole question).
fn quote(text: &str) -> String {
    const SHOWN: usize = 2_000;
    let mut shown: String = text.chars().take(SHOWN).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    let escaped = super::format::escape(&shown);
    escaped.lines().map(|l| format!(">{l}")).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_text_says_what_is_asked() {
        assert_eq!(Slash::parse(""), Slash::Help);
        assert_eq!(Slash::parse("  HELP "), Slash::Help);
        assert_eq!(Slash::parse("new"), Slash::New);
        assert_eq!(Slash::parse("new pricing?"), Slash::Ask("new pricing?".into()));
        assert_eq!(
            Slash::parse(" How do refunds work? "),
            Slash::Ask("How do refunds work?".into())
        );
    }

    #[test]
    fn an_invocation_needs_its_ids() {
        let payload = json!({"team_id":"T1","channel_id":"C1","user_id":"U1","text":"hi","trigger_id":"1.2.x","command":"/siteassist"});
        let inv = Invocation::read(&payload).unwrap();
        assert_eq!(
            (inv.team.as_str(), inv.text.as_str(), inv.trigger.as_str()),
            ("T1", "hi", "1.2.x")
        );
        assert!(!inv.is_dm());
        let mut no_user = payload.clone();
        no_user.as_object_mut().unwrap().remove("user_id");
        assert_eq!(Invocation::read(&no_user), None);
    }

    #[test]
    fn questions_show_quoted_and_escaped() {
        assert_eq!(quote("a <b>\nc & d"), ">a &lt;b&gt;\n>c &amp; d");
    }
}
