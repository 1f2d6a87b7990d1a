//! Message components and button presses, as Discord does them: the components a
//! message may carry (checked as Discord checks them), the INTERACTION_CREATE a press
//! sends on the gateway, and the callback that must answer it within 3 seconds.
//!
//! Source: Discord API docs, "Message Components" and "Receiving and Responding"
//! (checked 2026-12): at most 5 action rows of at most 5 buttons; a link button (style
//! 5) has a `url` (≤ 512) and no `custom_id`; other buttons have a `custom_id` (≤ 100)
//! and no `url`; a label is ≤ 80 characters and a button needs a label or an emoji. An
//! interaction is answered once (a second answer is 400 / 40060), within 3 seconds
//! (later: 404 / 10062 "Unknown interaction").

use super::payloads::{self, TIMESTAMP};
use super::{FakeDiscord, Op, State, BOT, GUILD};
use axum::body::Bytes;
use axum::extract::{Path, State as AxState};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long Discord waits for the first answer to an interaction.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(3);

/// One press the fake sent, and how it was answered.
#[derive(Clone, Debug)]
pub struct Interaction {
    pub id: u64,
    pub token: String,
    pub message: u64,
    pub custom_id: String,
    pub sent_at: Instant,
    /// `(type, when)` of each accepted answer (at most one).
    pub answers: Vec<(u64, Instant)>,
    /// Answers refused because it was answered already (a replayed press answered
    /// again: harmless on Discord, but a bridge should not do it for a single press).
    pub answered_again: usize,
}

/// Why Discord refuses `components`, or `None` when they are valid.
pub fn refuse_components(components: &Value) -> Option<String> {
    let Some(rows) = components.as_array() else {
        return Some("components is not an array".into());
    };
    if rows.len() > 5 {
        return Some(format!("{} action rows", rows.len()));
    }
    for row in rows {
        if row["type"] != 1 {
            return Some(format!("a top-level component of type {}", row["type"]));
        }
        let buttons = row["components"].as_array().map_or(&[][..], Vec::as_slice);
        if buttons.is_empty() || buttons.len() > 5 {
            return Some(format!("an action row of {} components", buttons.len()));
        }
        for b in buttons {
            if b["type"] != 2 {
                return Some(format!("a component of type {} in a row", b["type"]));
            }
            let label = b["label"].as_str().unwrap_or("");
            if label.chars().count() > 80 {
                return Some(format!("a button label of {} characters", label.chars().count()));
            }
            if label.is_empty() && b.get("emoji").is_none() {
                return Some("a button with neither label nor emoji".into());
            }
            let (url, custom_id) = (b.get("url").and_then(Value::as_str), b.get("custom_id"));
            match b["style"].as_u64() {
                Some(5) => match url {
                    Some(u) if u.len() <= 512 && u.starts_with("http") && custom_id.is_none() => {}
                    _ => return Some(format!("a link button without a usable url: {b}")),
                },
                Some(1..=4) => match custom_id.and_then(Value::as_str) {
                    Some(id) if !id.is_empty() && id.len() <= 100 && url.is_none() => {}
                    _ => return Some(format!("a button without a usable custom_id: {b}")),
                },
                _ => return Some(format!("a button of style {}", b["style"])),
            }
        }
    }
    None
}

/// The `d` of an INTERACTION_CREATE for a press on `custom_id` by `user` on `message`
/// (a message object as REST returns it) in `channel`; in the guild unless `dm`.
pub fn component_interaction(
    id: u64,
    token: &str,
    channel: u64,
    dm: bool,
    user: &Value,
    message: Value,
    custom_id: &str,
) -> Value {
    let mut d = json!({
        "id": id.to_string(),
        "application_id": BOT.to_string(),
        "type": 3,
        "data": { "custom_id": custom_id, "component_type": 2 },
        "channel_id": channel.to_string(),
        "channel": { "id": channel.to_string(), "type": if dm { 1 } else { 11 } },
        "token": token,
        "version": 1,
        "message": message,
        "app_permissions": "562949953421311",
        "locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": { "0": GUILD.to_string() },
        "context": if dm { 1 } else { 0 },
        "attachment_size_limit": 10_485_760
    });
    if dm {
        d["user"] = user.clone();
    } else {
        d["guild_id"] = json!(GUILD.to_string());
        d["guild_locale"] = json!("en-US");
        d["member"] = json!({
            "user": user, "roles": [], "joined_at": TIMESTAMP, "deaf": false, "mute": false,
            "flags": 0, "nick": null, "avatar": null, "premium_since": null, "pending": false,
            "communication_disabled_until": null, "permissions": "2248473465835073"
        });
    }
    d
}

/// `POST /interactions/{id}/{token}/callback`: accepts the first answer within 3 s.
pub async fn callback(
    AxState(st): AxState<Arc<State>>,
    Path((id, token)): Path<(String, String)>,
    m: Method,
    u: Uri,
    h: HeaderMap,
    body: Bytes,
) -> Response {
    let id: u64 = id.parse().unwrap_or(0);
    let kind = serde_json::from_slice::<Value>(&body).ok().and_then(|b| b["type"].as_u64());
    let st2 = Arc::clone(&st);
    // Interaction callbacks need no bot token; the fake's `answer` wants one.
    let mut h = h;
    h.insert("authorization", format!("Bot {}", super::TOKEN).parse().unwrap());
    super::rest::answer(&st, Op::Other, (&m, &u, &h), (None, None), &body, move || {
        st2.with(|r| {
            let Some(i) = r.interactions.iter_mut().find(|i| i.id == id && i.token == token) else {
                return (StatusCode::NOT_FOUND, json!({ "message": "Unknown interaction", "code": 10062 }));
            };
            if !i.answers.is_empty() {
                i.answered_again += 1;
                return (
                    StatusCode::BAD_REQUEST,
                    json!({ "message": "Interaction has already been acknowledged.", "code": 40060 }),
                );
            }
            if i.sent_at.elapsed() > ANSWER_WITHIN {
                r.violations.push(format!("interaction {id} answered after {:?}", i.sent_at.elapsed()));
                return (StatusCode::NOT_FOUND, json!({ "message": "Unknown interaction", "code": 10062 }));
            }
            match kind {
                Some(k @ (4..=7 | 9)) => {
                    i.answers.push((k, Instant::now()));
                    (StatusCode::NO_CONTENT, Value::Null)
                }
                _ => (StatusCode::BAD_REQUEST, json!({ "message": "Invalid Form Body", "code": 50035 })),
            }
        })
    })
}

impl FakeDiscord {
    /// `user` presses the button `custom_id` on bot message `message` in `channel`, as
    /// the client does: INTERACTION_CREATE on the gateway. Returns the interaction id.
    pub fn press(&self, channel: u64, message: u64, custom_id: &str, user: &Value) -> u64 {
        let (id, token) = self.state.with(|r| {
            let id = r.next_id();
            (id, format!("token-{id}"))
        });
        self.dispatch_press(id, &token, channel, message, custom_id, user);
        id
    }

    /// Sends press `id` (again: a replay) on the gateway.
    pub fn dispatch_press(
        &self,
        id: u64,
        token: &str,
        channel: u64,
        message: u64,
        custom_id: &str,
        user: &Value,
    ) {
        let found = self.read(|r| {
            r.messages
                .iter()
                .find(|m| m.id == message)
                .map(|m| (m.text().to_string(), m.components.clone()))
        });
        let (text, components) = found.expect("a press on a message the bot posted");
        let mut shown = payloads::rest_message(message, channel, &text);
        shown["components"] = components;
        let dm = channel == super::DM;
        let d = component_interaction(id, token, channel, dm, user, shown, custom_id);
        self.state.with(|r| {
            if !r.interactions.iter().any(|i| i.id == id) {
                r.interactions.push(Interaction {
                    id,
                    token: token.to_string(),
                    message,
                    custom_id: custom_id.to_string(),
                    sent_at: Instant::now(),
                    answers: Vec::new(),
                    answered_again: 0,
                });
            }
        });
        self.dispatch("INTERACTION_CREATE", d);
    }
}
