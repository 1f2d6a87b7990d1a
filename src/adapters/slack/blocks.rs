//! The core's [`Controls`] as Slack Block Kit.
//!
//! A Slack message with `blocks` shows the blocks and uses `text` only for
//! notifications, so a message with buttons carries its text again as `section`
//! blocks (mrkdwn, at most 3,000 characters each: Block Kit reference, "Section
//! block", checked 2026-12), followed by an `actions` block of link buttons (text ≤ 75
//! characters, `url` ≤ 3,000). Sections are `expand`ed (no "see more" fold on an
//! answer) and `verbatim` (the text is already Slack markup; nothing more is linked).
//! A message without buttons is plain `text`, as before; an update that drops the
//! buttons sends an empty block list, which is how `chat.update` removes blocks
//! (without the field it keeps the old ones: method docs, `blocks`, checked 2026-12).
//!
//! Stop and feedback buttons need Slack interactivity and are not drawn here yet.

use crate::bridge::controls::Controls;
use crate::siteassist::action;
use slack_morphism::prelude::*;

/// Block Kit's longest section text.
const MAX_SECTION_CHARS: usize = 3_000;
/// Block Kit's longest button text.
const MAX_BUTTON_TEXT: usize = 75;

/// The blocks of a message showing `text` with `controls`: `None` when the message
/// has no buttons to show (plain text).
pub(crate) fn for_message(text: &str, controls: &Controls) -> Option<Vec<SlackBlock>> {
    let buttons: Vec<SlackActionBlockElement> = controls
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
    if buttons.is_empty() {
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
    blocks.push(SlackActionsBlock::new(buttons).into());
    Some(blocks)
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
    fn messages_without_links_stay_plain_text() {
        assert!(for_message("hi", &Controls::NONE).is_none());
        assert!(
            for_message("hi", &Controls::streaming()).is_none(),
            "no Stop without interactivity"
        );
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
