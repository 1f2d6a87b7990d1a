//! Slash commands as Slack sends them (Slack: "Slash commands", checked 2026-12): the
//! same fields in both modes (`token`, `team_id`, `team_domain`, `channel_id`,
//! `channel_name`, `user_id`, `user_name`, `command`, `text`, `api_app_id`,
//! `is_enterprise_install`, `response_url`, `trigger_id`), as a `slash_commands`
//! envelope over Socket Mode (whose acknowledgement may carry the response, recorded in
//! [`FakeSlack::ack_payload`]) or as a signed form POST to the command's URL.

use super::signing::{post_form, sign};
use super::state::Envelope;
use super::{FakeSlack, TEAM_ID};
use reqwest::StatusCode;
use serde_json::{json, Value};

impl FakeSlack {
    /// The fields of `user` running `/siteassist {text}` in `channel`; each call is a
    /// new invocation (a new `trigger_id`).
    pub fn command_fields(&self, channel: &str, user: &str, text: &str) -> Value {
        let n = {
            let mut state = self.shared.lock();
            state.presses += 1;
            state.presses
        };
        json!({
            "token": "XXYYZZ1234fake",
            "team_id": TEAM_ID,
            "team_domain": "fake",
            "channel_id": channel,
            "channel_name": if channel.starts_with('D') { "directmessage".to_string() } else { format!("chan-{}", channel.to_lowercase()) },
            "user_id": user,
            "user_name": user.to_lowercase(),
            "command": "/siteassist",
            "text": text,
            "api_app_id": self.shared.cfg.app_id,
            "is_enterprise_install": "false",
            "response_url": format!("https://hooks.slack.com/commands/{TEAM_ID}/{n}/fake"),
            "trigger_id": format!("{n}.{}.fake-command", 1_700_600_000 + n),
        })
    }

    /// Runs `/siteassist {text}` over Socket Mode; returns the envelope id (see
    /// [`Self::ack_payload`] for what the acknowledgement carried).
    pub fn command_socket(&self, channel: &str, user: &str, text: &str) -> String {
        let payload = self.command_fields(channel, user, text);
        let envelope_id = uuid::Uuid::new_v4().to_string();
        let frame = json!({
            "envelope_id": envelope_id,
            "type": "slash_commands",
            "payload": payload,
            "accepts_response_payload": true,
        })
        .to_string();
        self.shared
            .lock()
            .envelopes
            .insert(envelope_id.clone(), Envelope { payload, retry_attempt: 0 });
        self.deliver(frame);
        envelope_id
    }

    /// The `payload` an acknowledgement of `envelope_id` carried, if any.
    pub fn ack_payload(&self, envelope_id: &str) -> Option<Value> {
        self.shared.lock().ack_payloads.get(envelope_id).cloned()
    }
}

/// POSTs `fields` (from [`FakeSlack::command_fields`]) to a command URL as Slack does:
/// form-encoded, signed with `signing_secret` over exactly the bytes sent.
pub async fn post_command(
    url: &str,
    signing_secret: &str,
    fields: &Value,
    timestamp: i64,
) -> (StatusCode, String) {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields.as_object().expect("fields") {
        form.append_pair(k, v.as_str().unwrap_or_default());
    }
    let body = form.finish();
    let signature = sign(signing_secret, timestamp, &body);
    post_form(url, &body, timestamp, &signature).await
}
