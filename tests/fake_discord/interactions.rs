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
    /// Where it was sent.
    pub channel: u64,
    /// The message a pressed button is on (`None` for a command).
    pub message: Option<u64>,
    /// The button's `custom_id`, or the command's name.
    pub custom_id: String,
    /// The message the first answer created (a type 4 answer to a command).
    pub shown: Option<u64>,
    /// What private (ephemeral or deferred) replies said, in order.
    pub private: Vec<String>,
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
    let sent: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let kind = sent["type"].as_u64();
    let with_response = u.query().is_some_and(|q| q.contains("with_response=true"));
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
            let Some(k @ (4..=7 | 9)) = kind else {
                return (StatusCode::BAD_REQUEST, json!({ "message": "Invalid Form Body", "code": 50035 }));
            };
            let data = &sent["data"];
            let flags = data["flags"].as_u64().unwrap_or(0);
            let content = data["content"].as_str().unwrap_or("").to_string();
            if flags & !(4 | 64 | 4096) != 0 || content.chars().count() > 2000 {
                r.violations.push(format!("interaction {id} answered with {sent}"));
                return (StatusCode::BAD_REQUEST, json!({ "message": "Invalid Form Body", "code": 50035 }));
            }
            i.answers.push((k, Instant::now()));
            let channel = i.channel;
            let mut resource = json!({ "type": k });
            // A public message answer is a message in the channel, by the bot.
            if k == 4 && flags & 64 == 0 {
                let shown = r.next_id();
                let i = r.interactions.iter_mut().find(|i| i.id == id).expect("found above");
                i.shown = Some(shown);
                r.messages.push(super::BotMessage {
                    id: shown,
                    channel,
                    texts: vec![content.clone()],
                    components: json!([]),
                });
                resource["message"] = payloads::rest_message(shown, channel, &content);
            } else if k == 4 {
                i.private.push(content);
            }
            if with_response {
                (StatusCode::OK, json!({ "interaction": { "id": id.to_string(), "type": 2 }, "resource": resource }))
            } else {
                (StatusCode::NO_CONTENT, Value::Null)
            }
        })
    })
}

/// `PATCH /webhooks/{app}/{token}/messages/@original`: edits the message a command's
/// answer created, or fills in its private (deferred) reply.
pub async fn edit_original(
    AxState(st): AxState<Arc<State>>,
    Path((app, token)): Path<(String, String)>,
    m: Method,
    u: Uri,
    h: HeaderMap,
    body: Bytes,
) -> Response {
    let content = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|b| b["content"].as_str().map(str::to_string))
        .unwrap_or_default();
    let st2 = Arc::clone(&st);
    let mut h = h;
    h.insert("authorization", format!("Bot {}", super::TOKEN).parse().unwrap());
    super::rest::answer(&st, Op::Other, (&m, &u, &h), (None, None), &body, move || {
        if app != BOT.to_string() {
            return (StatusCode::NOT_FOUND, json!({ "message": "Unknown Webhook", "code": 10015 }));
        }
        st2.with(|r| {
            let Some(i) = r.interactions.iter_mut().find(|i| i.token == token) else {
                return (
                    StatusCode::NOT_FOUND,
                    json!({ "message": "Unknown Webhook", "code": 10015 }),
                );
            };
            if i.answers.is_empty() {
                return (
                    StatusCode::NOT_FOUND,
                    json!({ "message": "Unknown Message", "code": 10008 }),
                );
            }
            match i.shown {
                Some(shown) => {
                    let channel = i.channel;
                    if let Some(m) = r.messages.iter_mut().find(|m| m.id == shown) {
                        m.texts.push(content.clone());
                    }
                    (StatusCode::OK, payloads::rest_message(shown, channel, &content))
                }
                None => {
                    i.private.push(content.clone());
                    (StatusCode::OK, payloads::rest_message(0, i.channel, &content))
                }
            }
        })
    })
}

/// `PUT /applications/{app}/commands` and `…/guilds/{guild}/commands`: replaces the
/// command set (global, or the guild's), as recorded in [`super::Record::commands`].
pub async fn put_commands(
    AxState(st): AxState<Arc<State>>,
    Path(params): Path<Vec<(String, String)>>,
    m: Method,
    u: Uri,
    h: HeaderMap,
    body: Bytes,
) -> Response {
    let guild = params.iter().find(|(k, _)| k == "guild").and_then(|(_, v)| v.parse::<u64>().ok());
    let sent: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let st2 = Arc::clone(&st);
    super::rest::answer(&st, Op::Other, (&m, &u, &h), (None, None), &body, move || {
        let Some(commands) = sent.as_array() else {
            return (
                StatusCode::BAD_REQUEST,
                json!({ "message": "Invalid Form Body", "code": 50035 }),
            );
        };
        let bad = commands.iter().find(|c| {
            let name = c["name"].as_str().unwrap_or("");
            let description = c["description"].as_str().unwrap_or("");
            name.is_empty()
                || name.len() > 32
                || name != name.to_lowercase()
                || description.is_empty()
                || description.len() > 100
        });
        if let Some(bad) = bad {
            st2.with(|r| r.violations.push(format!("an invalid command: {bad}")));
            return (
                StatusCode::BAD_REQUEST,
                json!({ "message": "Invalid Form Body", "code": 50035 }),
            );
        }
        st2.with(|r| r.commands.insert(guild, sent.clone()));
        (StatusCode::OK, sent.clone())
    })
}

/// The `d` of an INTERACTION_CREATE for `user` running chat command `name` with
/// `options` (`[{"name","type","value"}]`) in `channel`.
pub fn command_interaction(
    id: u64,
    token: &str,
    channel: u64,
    user: &Value,
    name: &str,
    options: Value,
) -> Value {
    let dm = channel == super::DM;
    let message = json!(null);
    let mut d = component_interaction(id, token, channel, dm, user, message, "");
    let object = d.as_object_mut().unwrap();
    object.remove("message");
    object.insert("type".into(), json!(2));
    object.insert(
        "data".into(),
        json!({ "id": "1300000000000000001", "name": name, "type": 1, "options": options }),
    );
    d
}

impl FakeDiscord {
    /// `user` runs the chat command `name` with `options` in `channel`: INTERACTION_CREATE
    /// on the gateway. Returns the interaction id.
    pub fn command(&self, channel: u64, name: &str, options: Value, user: &Value) -> u64 {
        let (id, token) = self.state.with(|r| {
            let id = r.next_id();
            let token = format!("token-{id}");
            r.interactions.push(Interaction {
                id,
                token: token.clone(),
                channel,
                message: None,
                custom_id: name.to_string(),
                shown: None,
                private: Vec::new(),
                sent_at: Instant::now(),
                answers: Vec::new(),
                answered_again: 0,
            });
            (id, token)
        });
        self.dispatch(
            "INTERACTION_CREATE",
            command_interaction(id, &token, channel, user, name, options),
        );
        id
    }

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
                    channel,
                    message: Some(message),
                    custom_id: custom_id.to_string(),
                    shown: None,
                    private: Vec::new(),
                    sent_at: Instant::now(),
                    answers: Vec::new(),
                    answered_again: 0,
                });
            }
        });
        self.dispatch("INTERACTION_CREATE", d);
    }
}
