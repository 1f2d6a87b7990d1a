//! The core's [`Controls`] as Discord message components.
//!
//! Discord puts buttons in action rows (type 1) of at most five buttons (type 2); link
//! buttons (style 5) carry a `url` and no `custom_id`, the others a `custom_id` that
//! comes back in the press's interaction (API docs, "Message Components", "Button
//! Object", checked 2026-12: label ≤ 80 characters, `custom_id` ≤ 100, URL ≤ 512).
//! Rows: the answer's links, then 👍 👎, then Stop; an empty list removes every
//! button, which is what an edit sends when the controls are gone.

use crate::bridge::controls::{ButtonAction, Controls};
use crate::siteassist::action;
use serde_json::{json, Value};

/// Discord's longest button label.
const MAX_LABEL: usize = 80;

const ROW: u8 = 1;
const BUTTON: u8 = 2;
const SECONDARY: u8 = 2;
const DANGER: u8 = 4;
const LINK: u8 = 5;

/// The `components` of a message showing `controls`.
pub(crate) fn rows(controls: &Controls) -> Value {
    let mut rows = Vec::new();
    let links: Vec<Value> = controls
        .links
        .iter()
        .take(5)
        .map(|l| {
            let label = action::shorten(&l.label, MAX_LABEL);
            json!({ "type": BUTTON, "style": LINK, "label": label, "url": l.url })
        })
        .collect();
    if !links.is_empty() {
        rows.push(json!({ "type": ROW, "components": links }));
    }
    if controls.feedback {
        let vote = |action: ButtonAction, emoji: &str| json!({ "type": BUTTON, "style": SECONDARY, "custom_id": action.id(), "emoji": { "name": emoji } });
        let buttons = [vote(ButtonAction::Like, "👍"), vote(ButtonAction::Dislike, "👎")];
        rows.push(json!({ "type": ROW, "components": buttons }));
    }
    if controls.stop {
        let stop = json!({ "type": BUTTON, "style": DANGER, "custom_id": ButtonAction::Stop.id(), "label": "Stop" });
        rows.push(json!({ "type": ROW, "components": [stop] }));
    }
    Value::Array(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::siteassist::action::LinkAction;

    #[test]
    fn controls_become_rows_of_buttons() {
        assert_eq!(rows(&Controls::NONE), json!([]), "no controls: every button removed");
        let stop = rows(&Controls::streaming());
        assert_eq!(stop[0]["components"][0]["custom_id"], "siteassist:stop");
        assert_eq!(stop[0]["components"][0]["style"], DANGER);
        let link = LinkAction { label: "x".repeat(120), url: "https://x.io/".into() };
        let answered = rows(&Controls::answered(&[link], true));
        let rows = answered.as_array().unwrap();
        assert_eq!(rows.len(), 2);
        let button = &rows[0]["components"][0];
        assert_eq!(
            (button["style"].as_u64(), button["url"].as_str()),
            (Some(5), Some("https://x.io/"))
        );
        assert!(button.get("custom_id").is_none(), "a link button has no custom id");
        assert_eq!(button["label"].as_str().unwrap().chars().count(), MAX_LABEL);
        let ids: Vec<&str> = rows[1]["components"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["custom_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["siteassist:like", "siteassist:dislike"]);
    }
}
