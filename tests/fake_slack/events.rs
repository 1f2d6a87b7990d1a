//! Events API payloads in the shapes Slack documents, as pure functions.
//!
//! Every builder returns the whole `event_callback` body (what Slack POSTs to the Events
//! API URL and what Socket Mode carries as an envelope's `payload`). The event id is an
//! argument so a test can redeliver the same event or send a fresh one. Times derive
//! from the message ts, so the same arguments always give the same JSON.

use super::{APP_ID, BOT_USER_ID, TEAM_ID};
use serde_json::{json, Value};

/// The verification token Slack puts in every payload (deprecated; never checked).
const LEGACY_TOKEN: &str = "XXYYZZ1234fake";

/// Seconds part of a Slack ts (`"1700000000.000100"` → 1700000000).
fn ts_seconds(ts: &str) -> i64 {
    ts.split('.').next().and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// A ts one second after `ts`, for events that happen after the message they refer to.
fn ts_plus_one(ts: &str) -> String {
    let micros = ts.split_once('.').map(|(_, m)| m).unwrap_or("000000");
    format!("{}.{micros}", ts_seconds(ts) + 1)
}

/// A stable, UUID-shaped `client_msg_id` (Slack sets one on messages typed by people).
fn client_msg_id(ts: &str) -> String {
    let digits: String = ts.chars().filter(char::is_ascii_digit).collect();
    let tail = &digits[digits.len().saturating_sub(12)..];
    format!("c0ffee00-0000-4000-8000-{tail:0>12}")
}

/// Wraps `event` into Slack's `event_callback` body.
pub fn event_callback(event_id: &str, event: Value) -> Value {
    let event_ts =
        event.get("event_ts").or_else(|| event.get("ts")).and_then(Value::as_str).unwrap_or("0");
    json!({
        "token": LEGACY_TOKEN,
        "team_id": TEAM_ID,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": ts_seconds(event_ts),
        "authorizations": [{
            "enterprise_id": null,
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "is_bot": true,
            "is_enterprise_install": false,
        }],
        "is_ext_shared_channel": false,
        "event_context": format!("4-fake-{event_id}"),
    })
}

/// A person's message event; `channel_type` is `channel`, `group`, `im` or `mpim`.
fn user_message(
    channel: &str,
    channel_type: &str,
    user: &str,
    text: &str,
    ts: &str,
    thread_ts: Option<&str>,
) -> Value {
    let mut event = json!({
        "type": "message",
        "client_msg_id": client_msg_id(ts),
        "user": user,
        "text": text,
        "ts": ts,
        "team": TEAM_ID,
        "channel": channel,
        "event_ts": ts,
        "channel_type": channel_type,
    });
    if let Some(thread_ts) = thread_ts {
        event["thread_ts"] = json!(thread_ts);
    }
    event
}

/// `app_mention`: `text` should contain `<@UBOT>`. Slack also sends a `message` event for
/// the same post when the app subscribes to both.
pub fn app_mention(
    event_id: &str,
    channel: &str,
    user: &str,
    text: &str,
    ts: &str,
    thread_ts: Option<&str>,
) -> Value {
    let mut event = json!({
        "type": "app_mention",
        "client_msg_id": client_msg_id(ts),
        "user": user,
        "text": text,
        "ts": ts,
        "team": TEAM_ID,
        "channel": channel,
        "event_ts": ts,
    });
    if let Some(thread_ts) = thread_ts {
        event["thread_ts"] = json!(thread_ts);
    }
    event_callback(event_id, event)
}

/// `message.channels`: a person posting in a public channel (or a thread reply there).
pub fn message(
    event_id: &str,
    channel: &str,
    user: &str,
    text: &str,
    ts: &str,
    thread_ts: Option<&str>,
) -> Value {
    event_callback(event_id, user_message(channel, "channel", user, text, ts, thread_ts))
}

/// `message.im`: a person writing to the bot in a direct message (`channel` is `D…`).
pub fn im_message(
    event_id: &str,
    channel: &str,
    user: &str,
    text: &str,
    ts: &str,
    thread_ts: Option<&str>,
) -> Value {
    event_callback(event_id, user_message(channel, "im", user, text, ts, thread_ts))
}

/// `message.mpim`: a person writing in a group DM (`channel` is `G…` or `C…`), e.g. a
/// follow-up in a thread there.
pub fn mpim_message(
    event_id: &str,
    channel: &str,
    user: &str,
    text: &str,
    ts: &str,
    thread_ts: Option<&str>,
) -> Value {
    event_callback(event_id, user_message(channel, "mpim", user, text, ts, thread_ts))
}

/// A classic bot post (`subtype: bot_message`, `bot_id`, no `user`).
pub fn bot_message(
    event_id: &str,
    channel: &str,
    bot_id: &str,
    text: &str,
    ts: &str,
    thread_ts: Option<&str>,
) -> Value {
    let mut event = json!({
        "type": "message",
        "subtype": "bot_message",
        "text": text,
        "ts": ts,
        "bot_id": bot_id,
        "username": "Other Bot",
        "channel": channel,
        "event_ts": ts,
        "channel_type": "channel",
    });
    if let Some(thread_ts) = thread_ts {
        event["thread_ts"] = json!(thread_ts);
    }
    event_callback(event_id, event)
}

/// A post by an app's bot user (`user` + `bot_id`, no subtype): how the bot's own
/// `chat.postMessage` echoes back to it (use `UBOT`/`BBOT`).
pub fn app_bot_message(
    event_id: &str,
    channel: &str,
    user: &str,
    bot_id: &str,
    text: &str,
    ts: &str,
    thread_ts: Option<&str>,
) -> Value {
    let mut event = user_message(channel, "channel", user, text, ts, thread_ts);
    let map = event.as_object_mut().expect("object");
    map.remove("client_msg_id");
    map.insert("bot_id".into(), json!(bot_id));
    map.insert("app_id".into(), json!(APP_ID));
    map.insert(
        "bot_profile".into(),
        json!({"id": bot_id, "app_id": APP_ID, "name": "bot", "deleted": false, "team_id": TEAM_ID}),
    );
    event_callback(event_id, event)
}

/// `message_changed`: `user` edited the message `ts` from `old_text` to `new_text` at
/// `edit_ts` (the event's own ts).
#[allow(clippy::too_many_arguments)]
pub fn message_changed(
    event_id: &str,
    channel: &str,
    user: &str,
    ts: &str,
    old_text: &str,
    new_text: &str,
    edit_ts: &str,
    thread_ts: Option<&str>,
) -> Value {
    let mut message = json!({
        "type": "message", "client_msg_id": client_msg_id(ts), "user": user, "text": new_text,
        "ts": ts, "team": TEAM_ID, "edited": {"user": user, "ts": edit_ts},
    });
    let mut previous = json!({
        "type": "message", "client_msg_id": client_msg_id(ts), "user": user, "text": old_text,
        "ts": ts, "team": TEAM_ID,
    });
    if let Some(thread_ts) = thread_ts {
        message["thread_ts"] = json!(thread_ts);
        previous["thread_ts"] = json!(thread_ts);
    }
    let event = json!({
        "type": "message",
        "subtype": "message_changed",
        "message": message,
        "previous_message": previous,
        "channel": channel,
        "hidden": true,
        "ts": edit_ts,
        "event_ts": edit_ts,
        "channel_type": "channel",
    });
    event_callback(event_id, event)
}

/// `message_deleted`: the message `deleted_ts` by `user` (text `old_text`) was deleted at
/// `event_ts`.
pub fn message_deleted(
    event_id: &str,
    channel: &str,
    user: &str,
    deleted_ts: &str,
    old_text: &str,
    event_ts: &str,
) -> Value {
    let event = json!({
        "type": "message",
        "subtype": "message_deleted",
        "hidden": true,
        "deleted_ts": deleted_ts,
        "channel": channel,
        "previous_message": {
            "type": "message", "user": user, "text": old_text, "ts": deleted_ts, "team": TEAM_ID,
        },
        "ts": event_ts,
        "event_ts": event_ts,
        "channel_type": "channel",
    });
    event_callback(event_id, event)
}

/// `reaction_added` (or `reaction_removed` when `added` is false): `user` reacted with
/// `reaction` (e.g. `+1`) to the message `item_ts` in `item_channel`, written by
/// `item_user`. `event_ts` is one second after the message.
pub fn reaction(
    event_id: &str,
    added: bool,
    user: &str,
    reaction: &str,
    item_channel: &str,
    item_ts: &str,
    item_user: &str,
) -> Value {
    let event_ts = ts_plus_one(item_ts);
    let event = json!({
        "type": if added { "reaction_added" } else { "reaction_removed" },
        "user": user,
        "reaction": reaction,
        "item_user": item_user,
        "item": {"type": "message", "channel": item_channel, "ts": item_ts},
        "event_ts": event_ts,
    });
    event_callback(event_id, event)
}

/// The one-time `url_verification` Slack sends when the Events API URL is configured.
pub fn url_verification(challenge: &str) -> Value {
    json!({"token": LEGACY_TOKEN, "challenge": challenge, "type": "url_verification"})
}

/// `assistant_thread_started` (`started`) or `assistant_thread_context_changed`: the
/// user opened an assistant thread `thread_ts` in their DM `channel` with the app,
/// viewing channel `context` (docs.slack.dev/reference/events/assistant_thread_started).
pub fn assistant_thread(
    event_id: &str,
    started: bool,
    channel: &str,
    thread_ts: &str,
    user: &str,
    context: Option<&str>,
) -> Value {
    let kind =
        if started { "assistant_thread_started" } else { "assistant_thread_context_changed" };
    let mut ctx = json!({"team_id": TEAM_ID, "enterprise_id": null});
    if let Some(c) = context {
        ctx["channel_id"] = json!(c);
    }
    let event = json!({
        "type": kind,
        "assistant_thread": {
            "user_id": user,
            "context": ctx,
            "channel_id": channel,
            "thread_ts": thread_ts,
        },
        "event_ts": ts_plus_one(thread_ts),
    });
    event_callback(event_id, event)
}
