//! Slack events → core events, as a pure function of the Events API JSON.
//!
//! Both connection modes end here: the Events API hands us the raw body, Socket Mode a
//! typed payload we serialise back to the same JSON. Deciding from the raw shape keeps
//! one decoder, testable with payloads exactly as Slack documents them.
//! Which messages are for the bot is decided here; whether a thread reply is answered
//! (the thread has a conversation) is the core's call.

use super::ids;
use crate::bridge::channels::{ChannelPolicy, CHANNEL_NOT_ALLOWED};
use crate::bridge::event::{AuthorKind, InboundMessage, MessageContext, ReactionEvent, Trigger};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashSet;

/// Who the bot is, from `auth.test`.
#[derive(Clone, Debug)]
pub(crate) struct BotIdentity {
    /// The bot user's id (`U…`), as it appears in mentions.
    pub user_id: String,
    /// The bot id (`B…`) its own messages carry.
    pub bot_id: Option<String>,
}

/// What the translator needs besides the payload.
#[derive(Clone, Debug)]
pub(crate) struct Rules {
    pub bot: BotIdentity,
    pub auto_respond: HashSet<String>,
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
pub(crate) fn translate(body: &Value, rules: &Rules) -> Translated {
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
                Some("app_mention") | Some("message") => message(&team, &event_id, &event, rules),
                Some("reaction_added") => reaction(&team, &event_id, &event, rules, true),
                Some("reaction_removed") => reaction(&team, &event_id, &event, rules, false),
                _ => Translated::Ignore("event type the bot does not use"),
            }
        }
        _ => Translated::Ignore("payload type the bot does not use"),
    }
}

/// Applies `slack.allow_channels` / `slack.deny_channels` to what [`translate`] made of a
/// payload: a message in a channel the lists exclude becomes [`Translated::Ignore`], so
/// it gets no reply and reaches neither the core nor SiteAssist.
///
/// Direct messages are not channels and always pass. Reactions pass too: feedback on an
/// answer given before its channel was excluded still counts, and a reaction never
/// starts an answer. (A separate step rather than a field of [`Rules`], whose shape other
/// code builds literally.)
pub(crate) fn screen(translated: Translated, channels: &ChannelPolicy) -> Translated {
    match translated {
        Translated::Message { msg, channel, .. }
            if msg.trigger != Trigger::Direct
                // An `app_mention` carries no `channel_type`; DM ids start with `D`.
                && !channel.starts_with('D')
                && !channels.permits(&[&channel]) =>
        {
            Translated::Ignore(CHANNEL_NOT_ALLOWED)
        }
        other => other,
    }
}

fn message(team: &str, event_id: &str, event: &Value, rules: &Rules) -> Translated {
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
    let mention = format!("<@{}", rules.bot.user_id);
    let mentions_bot = raw_text.contains(&mention);
    let in_thread = m.thread_ts.as_deref().filter(|t| *t != ts);
    let is_dm = m.channel_type.as_deref() == Some("im");
    let (trigger, thread) = if m.kind == "app_mention" {
        (Trigger::Mention, ids::thread(team, &channel, Some(m.thread_ts.as_deref().unwrap_or(&ts))))
    } else if is_dm {
        (Trigger::Direct, ids::thread(team, &channel, m.thread_ts.as_deref()))
    } else if mentions_bot {
        // Slack also sends an `app_mention` for this message; that one answers it.
        return Translated::Ignore("channel message mentioning the bot (app_mention handles it)");
    } else if let Some(thread_ts) = in_thread {
        let mentions_others = mentions_other_users(&raw_text, &rules.bot.user_id);
        (Trigger::ThreadReply { mentions_others }, ids::thread(team, &channel, Some(thread_ts)))
    } else if rules.auto_respond.contains(&channel) {
        (Trigger::AutoRespond, ids::thread(team, &channel, Some(&ts)))
    } else {
        return Translated::Ignore("top-level channel message not addressed to the bot");
    };
    let author_kind = author_kind(&user, m.bot_id.as_deref(), &rules.bot);
    let msg = InboundMessage {
        event_id: if event_id.is_empty() { format!("{channel}:{ts}") } else { event_id.into() },
        message: ids::message(team, &channel, &ts),
        thread,
        channel: ids::channel(team, &channel),
        workspace: Some(ids::workspace(team)),
        author: ids::user(team, &user),
        author_name: None,
        author_kind,
        text: plain_text(&raw_text, &rules.bot.user_id),
        trigger,
        context: MessageContext::default(),
    };
    Translated::Message { msg: Box::new(msg), channel, user, ts, thread_ts: m.thread_ts }
}

fn reaction(team: &str, event_id: &str, event: &Value, rules: &Rules, added: bool) -> Translated {
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
        user_kind: author_kind(&r.user, None, &rules.bot),
        emoji: r.reaction,
        added,
    })
}

fn author_kind(user: &str, bot_id: Option<&str>, bot: &BotIdentity) -> AuthorKind {
    if user == bot.user_id || (bot_id.is_some() && bot_id == bot.bot_id.as_deref()) {
        AuthorKind::SelfBot
    } else if bot_id.is_some() {
        AuthorKind::OtherBot
    } else {
        AuthorKind::Human
    }
}

fn mentions_other_users(text: &str, bot_user: &str) -> bool {
    text.match_indices("<@").any(|(i, _)| {
        let id: String = text[i + 2..].chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        !id.is_empty() && id != bot_user
    })
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
