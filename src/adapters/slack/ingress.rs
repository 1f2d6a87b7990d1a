//! Slack events → core events, as a pure function of the Events API JSON.
//!
//! Both connection modes end here: the Events API hands us the raw body, Socket Mode a
//! typed payload we serialise back to the same JSON. Deciding from the raw shape keeps
//! one decoder, testable with payloads exactly as Slack documents them.
//! The translation reports facts (where, who, whom it addresses); whether the bot
//! answers is the core's call ([`crate::bridge::decide`]). The one decision made here is
//! Slack's own: a channel message that mentions the bot arrives twice, as `message`
//! and as `app_mention`, and only the `app_mention` is kept.

use super::ids;
use crate::bridge::decide::{Command, Facts, Place, PlaceKind, Speaker};
use crate::bridge::event::{InboundMessage, MessageContext, ReactionEvent};
use crate::bridge::files::Attachment;
use serde::Deserialize;
use serde_json::Value;

/// Who the bot is, from `auth.test`.
#[derive(Clone, Debug)]
pub(crate) struct BotIdentity {
    /// The bot user's id (`U…`), as it appears in mentions.
    pub user_id: String,
    /// The bot id (`B…`) its own messages carry.
    pub bot_id: Option<String>,
}

/// The outcome of translating one payload.
#[derive(Debug)]
pub(crate) enum Translated {
    /// Answer Slack's URL check with this challenge.
    UrlVerification(String),
    /// A message for the core, with the raw ids the adapter needs to enrich it.
    Message {
        msg: Box<InboundMessage>,
        channel: String,
        user: String,
        ts: String,
        thread_ts: Option<String>,
    },
    /// A reaction for the core.
    Reaction(ReactionEvent),
    /// An assistant thread started or its context changed (for the adapter itself).
    AssistantThread(super::assistant::ThreadEvent),
    /// Nothing for the bot, and why (for the debug log).
    Ignore(&'static str),
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    team_id: Option<String>,
    #[serde(default)]
    event_id: Option<String>,
    #[serde(default)]
    event: Option<Value>,
    #[serde(default)]
    challenge: Option<String>,
}

#[derive(Deserialize)]
struct MessageFields {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    subtype: Option<String>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    bot_id: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    ts: Option<String>,
    #[serde(default)]
    thread_ts: Option<String>,
    #[serde(default)]
    channel_type: Option<String>,
    #[serde(default)]
    files: Vec<FileFields>,
}

/// A file shared with a message (`files[]`; a file hidden by the workspace's plan has
/// no `url_private` and is left out). Socket Mode payloads come through slack-morphism's
/// types, which drop `size`: there the fetch's own limit refuses a big file.
#[derive(Deserialize)]
struct FileFields {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    mimetype: Option<String>,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    url_private: Option<String>,
}

#[derive(Deserialize)]
struct ReactionFields {
    #[serde(rename = "type")]
    kind: String,
    user: String,
    reaction: String,
    item: ReactionItem,
}

#[derive(Deserialize)]
struct ReactionItem {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    ts: Option<String>,
}

/// Message subtypes that are still a person's new message; every other subtype
/// (`message_changed`, `message_deleted`, `bot_message`, joins, topic changes, …) is not.
const USER_SUBTYPES: &[&str] = &["thread_broadcast", "file_share"];

/// Translates an Events API body (`url_verification` or `event_callback`).
pub(crate) fn translate(body: &Value, bot: &BotIdentity) -> Translated {
    let Ok(envelope) = Envelope::deserialize(body) else {
        return Translated::Ignore("not an Events API payload");
    };
    match envelope.kind.as_str() {
        "url_verification" => match envelope.challenge {
            Some(c) => Translated::UrlVerification(c),
            None => Translated::Ignore("url_verification without a challenge"),
        },
        "event_callback" => {
            let (Some(team), Some(event)) = (envelope.team_id, envelope.event) else {
                return Translated::Ignore("event_callback without team_id or event");
            };
            let event_id = envelope.event_id.unwrap_or_default();
            match event.get("type").and_then(Value::as_str) {
                Some("app_mention") | Some("message") => message(&team, &event_id, &event, bot),
                Some("reaction_added") => reaction(&team, &event_id, &event, bot, true),
                Some("reaction_removed") => reaction(&team, &event_id, &event, bot, false),
                Some(kind @ ("assistant_thread_started" | "assistant_thread_context_changed")) => {
                    let started = kind == "assistant_thread_started";
                    match super::assistant::translate(&event, started) {
                        Some(e) => Translated::AssistantThread(e),
                        None => Translated::Ignore("malformed assistant thread event"),
                    }
                }
                _ => Translated::Ignore("event type the bot does not use"),
            }
        }
        _ => Translated::Ignore("payload type the bot does not use"),
    }
}

fn message(team: &str, event_id: &str, event: &Value, bot: &BotIdentity) -> Translated {
    let Ok(m) = MessageFields::deserialize(event) else {
        return Translated::Ignore("malformed message event");
    };
    if m.subtype.as_deref().is_some_and(|s| !USER_SUBTYPES.contains(&s)) {
        return Translated::Ignore("message subtype that is not a new user message");
    }
    let (Some(channel), Some(ts)) = (m.channel.clone(), m.ts.clone()) else {
        return Translated::Ignore("message without channel or ts");
    };
    let Some(user) = m.user.clone() else {
        return Translated::Ignore("message without a user");
    };
    let raw_text = m.text.clone().unwrap_or_default();
    let mentions_bot = raw_text.contains(&format!("<@{}", bot.user_id));
    let in_thread = m.thread_ts.clone().filter(|t| *t != ts);
    // `app_mention` carries no `channel_type`; DM ids start with `D`.
    let is_dm = m.channel_type.as_deref() == Some("im") || channel.starts_with('D');
    if m.kind != "app_mention" && mentions_bot && !is_dm {
        // Slack sends an `app_mention` for this message too; that one is kept.
        return Translated::Ignore("channel message mentioning the bot (app_mention handles it)");
    }
    // One conversation per DM, or per thread in a DM; per thread (started on the
    // message at a channel's top level) elsewhere.
    let (place, thread) = if is_dm {
        (Place::new(PlaceKind::Dm, &channel), ids::thread(team, &channel, m.thread_ts.as_deref()))
    } else if let Some(thread_ts) = &in_thread {
        let place = Place::within(PlaceKind::Thread, thread_ts, Some(channel.clone()));
        (place, ids::thread(team, &channel, Some(thread_ts)))
    } else {
        // `app_mention` carries no `channel_type`, so a group DM mention reads as a
        // channel's; both need the mention, only the channel lists may differ.
        let kind = match m.channel_type.as_deref() {
            Some("mpim") => PlaceKind::GroupDm,
            _ => PlaceKind::Channel,
        };
        (Place::new(kind, &channel), ids::thread(team, &channel, Some(&ts)))
    };
    let text = plain_text(&raw_text, &bot.user_id);
    let attachments: Vec<Attachment> = m
        .files
        .iter()
        .filter_map(|f| {
            Some(Attachment {
                name: f.name.clone().or_else(|| f.title.clone())?,
                content_type: f.mimetype.clone(),
                size: f.size,
                url: f.url_private.clone()?,
            })
        })
        .collect();
    let facts = Facts {
        place,
        speaker: speaker(&user, m.bot_id.as_deref(), bot),
        mentions_bot,
        addresses_others: addresses_others(&raw_text, &bot.user_id),
        opens_thread: false,
        command: Command::parse(&text),
        attachments: attachments.len(),
    };
    let msg = InboundMessage {
        event_id: if event_id.is_empty() { format!("{channel}:{ts}") } else { event_id.into() },
        message: ids::message(team, &channel, &ts),
        thread,
        channel: ids::channel(team, &channel),
        workspace: Some(ids::workspace(team)),
        author: ids::user(team, &user),
        author_name: None,
        facts,
        text,
        context: MessageContext::default(),
        attachments,
    };
    Translated::Message { msg: Box::new(msg), channel, user, ts, thread_ts: m.thread_ts }
}

fn reaction(
    team: &str,
    event_id: &str,
    event: &Value,
    bot: &BotIdentity,
    added: bool,
) -> Translated {
    let Ok(r) = ReactionFields::deserialize(event) else {
        return Translated::Ignore("malformed reaction event");
    };
    debug_assert!(r.kind.starts_with("reaction_"));
    let (true, Some(channel), Some(ts)) = (r.item.kind == "message", r.item.channel, r.item.ts)
    else {
        return Translated::Ignore("reaction on something other than a message");
    };
    Translated::Reaction(ReactionEvent {
        event_id: event_id.to_string(),
        message: ids::message(team, &channel, &ts),
        user: ids::user(team, &r.user),
        user_kind: speaker(&r.user, None, bot),
        emoji: emoji_name(&r.reaction),
        added,
    })
}

/// The emoji's name without Slack's skin-tone suffix (`+1::skin-tone-3` is `+1`): the
/// tone does not change what the reaction means.
fn emoji_name(reaction: &str) -> String {
    reaction.split("::").next().unwrap_or(reaction).to_string()
}

fn speaker(user: &str, bot_id: Option<&str>, bot: &BotIdentity) -> Speaker {
    if user == bot.user_id || (bot_id.is_some() && bot_id == bot.bot_id.as_deref()) {
        Speaker::SelfBot
    } else if bot_id.is_some() {
        Speaker::Bot
    } else {
        Speaker::Person
    }
}

/// Whether the text mentions a user other than the bot, a user group
/// (`<!subteam^S1>`), or the whole channel (`<!here>`, `<!channel>`, `<!everyone>`).
fn addresses_others(text: &str, bot_user: &str) -> bool {
    let user = text.match_indices("<@").any(|(i, _)| {
        let id: String = text[i + 2..].chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        !id.is_empty() && id != bot_user
    });
    let special = ["<!here", "<!channel", "<!everyone", "<!subteam^"];
    user || special.iter().any(|s| text.contains(s))
}

/// Slack's markup as plain text for SiteAssist: the bot's mention removed, other
/// mentions and links made readable, HTML entities decoded.
pub(crate) fn plain_text(text: &str, bot_user: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find('>') else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let inner = &rest[start + 1..start + len];
        let (target, label) = inner.split_once('|').unwrap_or((inner, ""));
        match target.chars().next() {
            Some('@') if &target[1..] == bot_user => {}
            Some('@') => out.push_str(if label.is_empty() { target } else { label }),
            Some('#') => {
                out.push('#');
                out.push_str(if label.is_empty() { &target[1..] } else { label });
            }
            Some('!') => {
                out.push('@');
                out.push_str(target[1..].split('^').next().unwrap_or_default());
            }
            _ if label.is_empty() => out.push_str(target),
            _ => {
                out.push_str(label);
                out.push_str(" (");
                out.push_str(target);
                out.push(')');
            }
        }
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    let decoded = out.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&");
    decoded.trim().to_string()
}

/// The permalink of a message, built from the workspace URL `auth.test` returned
/// (`https://acme.slack.com/`), in Slack's documented format, so no API call is needed
/// per question.
pub(crate) fn permalink(
    workspace_url: &str,
    channel: &str,
    ts: &str,
    thread_ts: Option<&str>,
) -> String {
    let base = workspace_url.trim_end_matches('/');
    let p = ts.replace('.', "");
    match thread_ts.filter(|t| *t != ts) {
        Some(t) => format!("{base}/archives/{channel}/p{p}?thread_ts={t}&cid={channel}"),
        None => format!("{base}/archives/{channel}/p{p}"),
    }
}

#[cfg(test)]
#[path = "ingress_tests.rs"]
mod tests;
