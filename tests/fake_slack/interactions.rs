//! Button presses as Slack sends them: a `block_actions` interaction payload for a
//! button on a message the bot posted, delivered over Socket Mode (an `interactive`
//! envelope the client must ack) or as a signed, form-encoded POST to the Events API
//! mode's interactivity URL (`payload=<JSON>`).
//!
//! The payload is built from the message as the fake shows it now, so a test can only
//! press a button the user would see: pressing Stop on a finished answer, or 👍 before
//! the answer has its feedback buttons, fails the test. Shapes follow Slack's
//! "block_actions payloads" reference (checked 2026-12): `type`, `user`,
//! `api_app_id`, `token`, `container`, `trigger_id`, `team`, `channel`, `message`
//! (with its blocks, each with the `block_id` Slack fills in), `state`,
//! `response_url` and `actions[{type, action_id, block_id, text, value, action_ts}]`.
//! A `feedback_buttons` click names the element's action id and the clicked button's
//! value.

use super::signing::{post_form, sign};
use super::state::{Envelope, PostedMessage};
use super::web::message_json;
use super::{FakeSlack, TEAM_ID};
use reqwest::StatusCode;
use serde_json::{json, Value};

impl FakeSlack {
    /// The `block_actions` payload of `user` pressing `button` on the bot message `ts`
    /// in `channel`: `button` is a button's action id (`siteassist:stop`) or a
    /// feedback button's value (`siteassist:like`). Each call is a new click (a new
    /// `action_ts`); send the same payload again to replay one. Panics when the message
    /// does not show that button.
    pub fn press_payload(&self, channel: &str, ts: &str, user: &str, button: &str) -> Value {
        let (message, n) = {
            let mut state = self.shared.lock();
            state.presses += 1;
            let message = state.messages.iter().find(|m| m.channel == channel && m.ts == ts);
            let message = message.cloned().unwrap_or_else(|| panic!("no bot message {ts}"));
            (message, state.presses)
        };
        let mut shown = message_json(&self.shared.cfg, &message);
        // Slack gives every block an id; the bridge sets none.
        if let Some(blocks) = shown["blocks"].as_array_mut() {
            for (i, block) in blocks.iter_mut().enumerate() {
                if block.get("block_id").is_none() {
                    block["block_id"] = json!(format!("fake-block-{i}"));
                }
            }
        }
        let action_ts = format!("{}.{:06}", 1_700_500_000 + n, n % 1_000_000);
        let mut action = find_button(&shown, button).unwrap_or_else(|| {
            panic!("message {ts} shows no button {button}: {}", shown["blocks"])
        });
        action["action_ts"] = json!(action_ts);
        let cfg = &self.shared.cfg;
        let mut container = json!({
            "type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": false,
        });
        if let Some(thread_ts) = &message.thread_ts {
            container["thread_ts"] = json!(thread_ts);
        }
        json!({
            "type": "block_actions",
            "user": {"id": user, "username": user.to_lowercase(), "name": user.to_lowercase(), "team_id": TEAM_ID},
            "api_app_id": cfg.app_id,
            "token": "XXYYZZ1234fake",
            "container": container,
            "trigger_id": format!("{n}.{}.fake-trigger", 1_700_500_000 + n),
            "team": {"id": TEAM_ID, "domain": "fake"},
            "enterprise": null,
            "is_enterprise_install": false,
            "channel": {"id": channel, "name": format!("chan-{}", channel.to_lowercase())},
            "message": shown,
            "state": {"values": {}},
            "response_url": format!("https://hooks.slack.com/actions/{TEAM_ID}/{n}/fake"),
            "actions": [action],
        })
    }

    /// Sends `payload` (from [`Self::press_payload`]) as an `interactive` envelope on
    /// the newest Socket Mode connection; returns the envelope id. Its ack is timed
    /// like any envelope's: later than 3 s fails the test.
    pub fn send_socket_interaction(&self, payload: Value) -> String {
        let envelope_id = uuid::Uuid::new_v4().to_string();
        let frame = json!({
            "envelope_id": envelope_id,
            "type": "interactive",
            "payload": payload,
            "accepts_response_payload": false,
        })
        .to_string();
        let envelope = Envelope { payload, retry_attempt: 0 };
        self.shared.lock().envelopes.insert(envelope_id.clone(), envelope);
        self.deliver(frame);
        envelope_id
    }

    /// Presses `button` over Socket Mode (see [`Self::press_payload`]); returns the
    /// payload, to replay, and the envelope id.
    pub fn press_socket(
        &self,
        channel: &str,
        ts: &str,
        user: &str,
        button: &str,
    ) -> (Value, String) {
        let payload = self.press_payload(channel, ts, user, button);
        let envelope = self.send_socket_interaction(payload.clone());
        (payload, envelope)
    }
}

/// The `actions[0]` of a click on `button`, found in the message's blocks.
fn find_button(message: &Value, button: &str) -> Option<Value> {
    for block in message["blocks"].as_array()? {
        let block_id = block["block_id"].clone();
        for element in block["elements"].as_array().into_iter().flatten() {
            match (block["type"].as_str(), element["type"].as_str()) {
                (Some("actions"), Some("button")) if element["action_id"] == button => {
                    let mut action = json!({
                        "type": "button",
                        "action_id": button,
                        "block_id": block_id,
                        "text": element["text"],
                    });
                    for optional in ["value", "style"] {
                        if let Some(v) = element.get(optional) {
                            action[optional] = v.clone();
                        }
                    }
                    return Some(action);
                }
                (Some("context_actions"), Some("feedback_buttons")) => {
                    for side in ["positive_button", "negative_button"] {
                        if element[side]["value"] == button {
                            return Some(json!({
                                "type": "feedback_buttons",
                                "action_id": element["action_id"],
                                "block_id": block_id,
                                "text": element[side]["text"],
                                "value": button,
                            }));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    None
}

/// POSTs `payload` to the interactivity URL as Slack does: form-encoded
/// `payload=<JSON>`, signed with `signing_secret` over exactly the bytes sent.
pub async fn post_interaction(
    url: &str,
    signing_secret: &str,
    payload: &Value,
    timestamp: i64,
) -> (StatusCode, String) {
    let body = form_body(payload);
    let signature = sign(signing_secret, timestamp, &body);
    post_form(url, &body, timestamp, &signature).await
}

/// `payload=<url-encoded JSON>`, the body Slack sends for an interaction.
pub fn form_body(payload: &Value) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish()
}

/// The current state of a bot message, for a test's assertions about its buttons.
pub fn action_ids(message: &PostedMessage) -> Vec<String> {
    let mut ids = Vec::new();
    for block in message.blocks.iter().flat_map(|b| b.as_array().cloned().unwrap_or_default()) {
        for element in block["elements"].as_array().into_iter().flatten() {
            match element["type"].as_str() {
                Some("feedback_buttons") => {
                    for side in ["positive_button", "negative_button"] {
                        ids.extend(element[side]["value"].as_str().map(str::to_owned));
                    }
                }
                _ => ids.extend(element["action_id"].as_str().map(str::to_owned)),
            }
        }
    }
    ids
}
