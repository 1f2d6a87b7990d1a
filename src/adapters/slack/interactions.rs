//! Button presses on the bot's Slack messages (`block_actions` interaction payloads)
//! → the core's [`ButtonPress`], as a pure function of the payload's JSON.
//!
//! Both connection modes end here: Socket Mode carries the payload in an `interactive`
//! envelope (typed by slack-morphism, serialised back to the same JSON), the Events
//! API mode receives it as `POST /slack/interactions` with a form-encoded body whose
//! `payload` field is the JSON (Slack docs, "Handling user interaction", checked
//! 2026-12: the request is signed like events and must be answered with HTTP 200
//! within 3 seconds, or the user sees an error; Slack does not retry interactions).
//! So both paths acknowledge first and hand the press to the core afterwards.
//!
//! What a press carries (Slack docs, "block_actions payloads", and the Bolt type
//! `FeedbackButtonsAction`, checked 2026-12): `team.id`, `user.id`, `container`
//! (`type: message`, `message_ts`, `channel_id`) naming the message the button is on,
//! and `actions[]` with the element's `type`, `action_id`, `block_id`, `value` and
//! `action_ts`. A `button` is read by its action id (the core's
//! [`ButtonAction::id`]); a `feedback_buttons` click by its `value`, which is the
//! clicked button's (see `blocks`): the positive one's is the like id, the negative
//! one's the dislike id.
//!
//! Slack's feedback element shows the clicked state itself and sends no "removed"
//! state: nothing in its documented payload says whether a click selected or
//! cleared a button, so a second click on 👍 arrives as another like. The core treats
//! a press like an added reaction (the same feedback again changes nothing), so there
//! is no un-like to map, and none is invented here.
//!
//! The press's delivery id is the channel, message, user and `action_ts`: unique per
//! click, and the same if Slack (or a test) ever delivers the same click twice.

use super::ids;
use crate::bridge::controls::ButtonAction;
use crate::bridge::event::ButtonPress;
use serde_json::Value;

/// Link buttons carry these action ids (`blocks`); a click opens the URL in Slack and
/// also sends a payload, which needs nothing from the bridge but an acknowledgement.
const LINK_PREFIX: &str = "siteassist:link:";

/// What one interaction payload asks of the bridge.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Interaction {
    /// A press for the core.
    Press(ButtonPress),
    /// Nothing for the core, and why (for the debug log).
    Ignore(&'static str),
}

/// Translates one interaction payload (the JSON of Slack's `payload` field).
pub(crate) fn translate(payload: &Value) -> Interaction {
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
    if payload["type"].as_str() != Some("block_actions") {
        return Interaction::Ignore("not a block_actions payload");
    }
    // Buttons send one action per payload; the first is the click.
    let Some(action) = payload["actions"].as_array().and_then(|a| a.first()) else {
        return Interaction::Ignore("block_actions without an action");
    };
    let action_id = action["action_id"].as_str().unwrap_or_default();
    if action_id.starts_with(LINK_PREFIX) {
        return Interaction::Ignore("a link button");
    }
    let pressed = match action["type"].as_str() {
        Some("feedback_buttons") => action["value"]
            .as_str()
            .and_then(ButtonAction::from_id)
            .filter(|a| matches!(a, ButtonAction::Like | ButtonAction::Dislike)),
        Some("button") => ButtonAction::from_id(action_id),
        _ => None,
    };
    let Some(pressed) = pressed else {
        return Interaction::Ignore("not a button of the bridge");
    };
    let container = &payload["container"];
    if container["type"].as_str() != Some("message") {
        return Interaction::Ignore("a button outside a message");
    }
    let channel = text(&container["channel_id"]).or_else(|| text(&payload["channel"]["id"]));
    let fields = (
        text(&payload["team"]["id"]),
        channel,
        text(&container["message_ts"]),
        text(&payload["user"]["id"]),
        text(&action["action_ts"]),
    );
    let (Some(team), Some(channel), Some(ts), Some(user), Some(action_ts)) = fields else {
        return Interaction::Ignore("a press without its team, channel, message, user or time");
    };
    Interaction::Press(ButtonPress {
        event_id: format!("press:{channel}:{ts}:{user}:{action_ts}"),
        message: ids::message(&team, &channel, &ts),
        user: ids::user(&team, &user),
        action: pressed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A `block_actions` payload as Slack documents it, for one action.
    fn payload(action: Value) -> Value {
        json!({
            "type": "block_actions",
            "user": {"id": "U0ALICE", "username": "alice", "name": "alice", "team_id": "T1"},
            "api_app_id": "A1",
            "token": "legacy",
            "container": {
                "type": "message", "message_ts": "1700000000.000200",
                "channel_id": "C1", "is_ephemeral": false,
            },
            "trigger_id": "1.2.3",
            "team": {"id": "T1", "domain": "fake"},
            "channel": {"id": "C1", "name": "support"},
            "message": {"type": "message", "ts": "1700000000.000200", "text": "answer"},
            "response_url": "https://hooks.slack.com/actions/T1/1/x",
            "actions": [action],
        })
    }

    fn button(action_id: &str) -> Value {
        json!({
            "type": "button", "action_id": action_id, "block_id": "b1",
            "text": {"type": "plain_text", "text": "Stop"}, "value": action_id,
            "action_ts": "1700000001.000300",
        })
    }

    fn feedback(value: &str) -> Value {
        json!({
            "type": "feedback_buttons", "action_id": "siteassist:feedback", "block_id": "b2",
            "text": {"type": "plain_text", "text": "👍"}, "value": value,
            "action_ts": "1700000002.000400",
        })
    }

    #[test]
    fn presses_name_the_message_the_user_and_the_action() {
        let Interaction::Press(stop) = translate(&payload(button("siteassist:stop"))) else {
            panic!("a Stop press")
        };
        assert_eq!(stop.action, ButtonAction::Stop);
        assert_eq!(stop.message, ids::message("T1", "C1", "1700000000.000200"));
        assert_eq!(stop.user, ids::user("T1", "U0ALICE"));
        assert_eq!(stop.event_id, "press:C1:1700000000.000200:U0ALICE:1700000001.000300");
        let table = [
            (feedback("siteassist:like"), ButtonAction::Like),
            (feedback("siteassist:dislike"), ButtonAction::Dislike),
            // Plain buttons with the core's ids mean the same (older messages, or a
            // client without the feedback element).
            (button("siteassist:like"), ButtonAction::Like),
            (button("siteassist:dislike"), ButtonAction::Dislike),
        ];
        for (action, expected) in table {
            match translate(&payload(action.clone())) {
                Interaction::Press(p) => assert_eq!(p.action, expected, "{action}"),
                other => panic!("{action}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_redelivered_click_keeps_its_id_and_another_click_gets_a_new_one() {
        let id = |p: Value| match translate(&p) {
            Interaction::Press(p) => p.event_id,
            other => panic!("{other:?}"),
        };
        let first = id(payload(feedback("siteassist:like")));
        assert_eq!(first, id(payload(feedback("siteassist:like"))));
        let mut later = feedback("siteassist:like");
        later["action_ts"] = json!("1700000009.000100");
        assert_ne!(first, id(payload(later)));
    }

    #[test]
    fn anything_else_is_ignored() {
        let mut no_container = payload(button("siteassist:stop"));
        no_container["container"] = json!({"type": "view", "view_id": "V1"});
        let mut no_user = payload(button("siteassist:stop"));
        no_user.as_object_mut().unwrap().remove("user");
        let mut no_time = payload(button("siteassist:stop"));
        no_time["actions"][0].as_object_mut().unwrap().remove("action_ts");
        let mut no_actions = payload(button("siteassist:stop"));
        no_actions["actions"] = json!([]);
        let mut view_submission = payload(button("siteassist:stop"));
        view_submission["type"] = json!("view_submission");
        let table = [
            (payload(button("siteassist:link:0")), "a link button"),
            (payload(button("someone-elses-button")), "not a button of the bridge"),
            (payload(feedback("siteassist:stop")), "not a button of the bridge"),
            (payload(feedback("positive_feedback")), "not a button of the bridge"),
            (no_container, "a button outside a message"),
            (no_user, "a press without its team, channel, message, user or time"),
            (no_time, "a press without its team, channel, message, user or time"),
            (no_actions, "block_actions without an action"),
            (view_submission, "not a block_actions payload"),
            (json!("not even an object"), "not a block_actions payload"),
        ];
        for (payload, why) in table {
            assert_eq!(translate(&payload), Interaction::Ignore(why), "{payload}");
        }
    }
}
