//! The core's [`Controls`] as Slack Block Kit.
//!
//! A Slack message with `blocks` shows the blocks and uses `text` only for
//! notifications, so a message with buttons carries its text again as `section`
//! blocks (mrkdwn, at most 3,000 characters each: Block Kit reference, "Section
//! block", checked 2026-12), followed by its buttons:
//!
//! - an `actions` block with the answer's link buttons (text ≤ 75 characters, `url` ≤
//!   3,000) and, while the answer streams, a Stop button (`style: danger`, action id
//!   [`ButtonAction::Stop`]);
//! - on a finished answer, a `context_actions` block holding one `feedback_buttons`
//!   element: Slack's own 👍 / 👎 pair, which shows the clicked state by itself
//!   (Block Kit reference, "Context actions block" and "Feedback buttons element",
//!   checked 2026-12: up to 5 elements; each button has `text` ≤ 75 characters and a
//!   `value` ≤ 2,000 that the click sends back). The values are the core's
//!   [`ButtonAction`] ids, so a click reads like any other press (see
//!   `interactions`).
//!
//! Sections are `expand`ed (no "see more" fold on an answer) and `verbatim` (the text
//! is already Slack markup; nothing more is linked). A message without buttons is
//! plain `text`, as before; an update that drops the buttons sends an empty block
//! list, which is how `chat.update` removes blocks (without the field it keeps the old
//! ones: method docs, `blocks`, checked 2026-12).
//!
//! No `block_id`s are set: Slack makes new ones for each version of a message, as its
//! context-actions reference asks ("If a message is updated, use a new block_id"),
//! and the bridge reads presses by action id, never by block. The blocks are a pure
//! function of the text and the controls, so while an answer streams its Stop block
//! is the same in every edit and the controls cost no `chat.update` of their own:
//! the core only edits when the text or the controls change (`bridge::reply`).

use crate::bridge::controls::{ButtonAction, Controls};
use crate::siteassist::action;
use slack_morphism::prelude::*;

/// Block Kit's longest section text.
const MAX_SECTION_CHARS: usize = 3_000;
/// Block Kit's longest button text.
const MAX_BUTTON_TEXT: usize = 75;

/// The action id of the 👍 / 👎 element; which button was clicked is in its value.
pub(crate) const FEEDBACK_ACTION: &str = "siteassist:feedback";

/// The blocks of a message showing `text` with `controls`: `None` when the message
/// has no buttons to show (plain text).
pub(crate) fn for_message(text: &str, controls: &Controls) -> Option<Vec<SlackBlock>> {
    let mut buttons: Vec<SlackActionBlockElement> = controls
        .links
        .iter()
        .enumerate()
        .filter_map(|(i, link)| {
            let url = url::Url::parse(&link.url).ok()?;
            let label = action::shorten(&link.label, MAX_BUTTON_TEXT);
            let button = SlackBlockButtonElement::new(SlackBlockPlainTextOnly::from(label))
                // Unique within the message, as Slack requires.
                .with_action_id(SlackActionId(format!("siteassist:link:{i}")))
                .with_url(url);
            Some(button.into())
        })
        .collect();
    if controls.stop {
        let stop = SlackBlockButtonElement::new(SlackBlockPlainTextOnly::from("Stop"))
            .with_action_id(SlackActionId(ButtonAction::Stop.id().into()))
            .with_value(ButtonAction::Stop.id().into())
            .with_style(SlackBlockButtonStyle::Danger)
            .with_accessibility_label(SlackAccessibilityLabel("Stop this answer".into()));
        buttons.push(stop.into());
    }
    if buttons.is_empty() && !controls.feedback {
        return None;
    }
    let mut blocks: Vec<SlackBlock> = sections(text)
        .into_iter()
        .map(|chunk| {
            let text = SlackBlockMarkDownText::new(chunk).with_verbatim(true);
            SlackSectionBlock::new()
                .with_text(SlackBlockText::MarkDown(text))
                .with_expand(true)
                .into()
        })
        .collect();
    if !buttons.is_empty() {
        blocks.push(SlackActionsBlock::new(buttons).into());
    }
    if controls.feedback {
        blocks.push(feedback().into());
    }
    Some(blocks)
}

/// The blocks under a natively streamed answer (`chat.stopStream`): the `footer`
/// (sources line) as a section, then the buttons; `None` when there is neither.
pub(crate) fn for_footer(footer: Option<&str>, controls: &Controls) -> Option<Vec<SlackBlock>> {
    match for_message(footer.unwrap_or(""), controls) {
        Some(blocks) => Some(blocks),
        None => footer.filter(|f| !f.trim().is_empty()).map(|f| {
            let text = SlackBlockMarkDownText::new(f.to_string()).with_verbatim(true);
            vec![SlackSectionBlock::new().with_text(SlackBlockText::MarkDown(text)).into()]
        }),
    }
}

/// Slack's 👍 / 👎 pair, its values the core's like / dislike ids.
fn feedback() -> SlackContextActionsBlock {
    let button = |action: ButtonAction, emoji: &str, label: &str| {
        SlackFeedbackButtonItem::new(SlackBlockPlainTextOnly::from(emoji), action.id().into())
            .with_accessibility_label(SlackAccessibilityLabel(label.into()))
    };
    let element = SlackBlockFeedbackButtonsElement::new(
        button(ButtonAction::Like, "👍", "Good answer"),
        button(ButtonAction::Dislike, "👎", "Bad answer"),
    )
    .with_action_id(SlackActionId(FEEDBACK_ACTION.into()));
    SlackContextActionsBlock::new(vec![element.into()])
}

/// `text` cut into pieces of at most [`MAX_SECTION_CHARS`], at line ends where it can
/// be (a single longer line is cut where it must).
fn sections(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut current_chars = 0;
    for line in text.split_inclusive('\n') {
        let chars = line.chars().count();
        if current_chars + chars > MAX_SECTION_CHARS && !current.is_empty() {
            out.push(std::mem::take(&mut current));
            current_chars = 0;
        }
        if chars > MAX_SECTION_CHARS {
            let all: Vec<char> = line.chars().collect();
            for piece in all.chunks(MAX_SECTION_CHARS) {
                out.push(piece.iter().collect());
            }
            continue;
        }
        current.push_str(line);
        current_chars += chars;
    }
    if !current.trim().is_empty() {
        out.push(current);
    }
    out.retain(|s| !s.trim().is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::siteassist::action::LinkAction;

    #[test]
    fn messages_without_controls_stay_plain_text() {
        assert!(for_message("hi", &Controls::NONE).is_none());
        assert!(for_message("hi", &Controls::answered(&[], false)).is_none());
    }

    #[test]
    fn a_streaming_answer_carries_stop_under_its_text() {
        let blocks = for_message("Thinking…", &Controls::streaming()).unwrap();
        let json = serde_json::to_value(&blocks).unwrap();
        assert_eq!(json.as_array().unwrap().len(), 2, "{json}");
        assert_eq!(json[0]["type"], "section");
        assert_eq!(json[0]["text"]["text"], "Thinking…");
        assert_eq!(json[1]["type"], "actions");
        let stop = &json[1]["elements"][0];
        assert_eq!(stop["type"], "button");
        assert_eq!(stop["action_id"], "siteassist:stop");
        assert_eq!(stop["style"], "danger");
        assert!(json[1].get("block_id").is_none(), "Slack mints block ids per version");
        // The same controls give the same button block, whatever the text: streaming
        // edits change only the sections.
        let later = for_message("Thinking… and more", &Controls::streaming()).unwrap();
        assert_eq!(serde_json::to_value(&later).unwrap()[1], json[1]);
    }

    #[test]
    fn a_finished_answer_carries_slacks_feedback_buttons() {
        let blocks = for_message("Done.", &Controls::answered(&[], true)).unwrap();
        let json = serde_json::to_value(&blocks).unwrap();
        assert_eq!(json.as_array().unwrap().len(), 2, "{json}");
        assert_eq!(json[1]["type"], "context_actions");
        let element = &json[1]["elements"][0];
        assert_eq!(element["type"], "feedback_buttons");
        assert_eq!(element["action_id"], FEEDBACK_ACTION);
        assert_eq!(element["positive_button"]["value"], "siteassist:like");
        assert_eq!(element["positive_button"]["text"]["type"], "plain_text");
        assert_eq!(element["positive_button"]["text"]["text"], "👍");
        assert_eq!(element["negative_button"]["value"], "siteassist:dislike");
        assert_eq!(element["negative_button"]["text"]["text"], "👎");
        assert!(!json.to_string().contains("siteassist:stop"), "no Stop on a finished answer");
    }

    #[test]
    fn links_become_buttons_under_the_text_in_sections() {
        let text = format!("{}\n{}\nend", "a".repeat(2_000), "b".repeat(2_000));
        let link = LinkAction { label: "L".repeat(100), url: "https://example.com/orders".into() };
        let blocks = for_message(&text, &Controls::answered(&[link], true)).unwrap();
        let json = serde_json::to_value(&blocks).unwrap();
        let sections: Vec<&str> = json.as_array().unwrap()[..2]
            .iter()
            .map(|b| {
                assert_eq!(b["type"], "section");
                assert_eq!(b["expand"], true);
                b["text"]["text"].as_str().unwrap()
            })
            .collect();
        assert_eq!(sections.concat(), text, "the sections join to the text");
        assert!(sections.iter().all(|s| s.chars().count() <= MAX_SECTION_CHARS));
        let button = &json[2]["elements"][0];
        assert_eq!(json[2]["type"], "actions");
        assert_eq!(button["url"], "https://example.com/orders");
        assert_eq!(button["text"]["text"].as_str().unwrap().chars().count(), MAX_BUTTON_TEXT);
        assert_eq!(json[3]["type"], "context_actions", "feedback after the links");
    }

    #[test]
    fn byte_heavy_text_within_the_message_budget_fits_in_sections() {
        // A message at the default byte budget (3,900) of emoji and CJK: few characters,
        // so the sections (counted in characters, as Block Kit counts them) hold it.
        let mut text = String::new();
        while text.len() + "😀日本語\n".len() <= 3_900 {
            text.push_str("😀日本語\n");
        }
        let blocks = for_message(&text, &Controls::streaming()).unwrap();
        let json = serde_json::to_value(&blocks).unwrap();
        let sections: Vec<&str> = json.as_array().unwrap()[..json.as_array().unwrap().len() - 1]
            .iter()
            .map(|b| b["text"]["text"].as_str().unwrap())
            .collect();
        assert_eq!(sections.concat(), text);
        assert!(sections.iter().all(|s| s.chars().count() <= MAX_SECTION_CHARS));
    }

    #[test]
    fn a_line_longer_than_a_section_is_cut() {
        let text = "x".repeat(7_000);
        let parts = sections(&text);
        assert_eq!(
            parts.iter().map(|p| p.chars().count()).collect::<Vec<_>>(),
            [3_000, 3_000, 1_000]
        );
    }
}
