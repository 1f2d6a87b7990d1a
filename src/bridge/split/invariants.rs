//! The splitter's invariants, checked by its tests and by the `splitter` fuzz target.

use super::{repairable, scan_fences, split_message_within, split_parts_within, Limit, Part};

/// Characters in `s` (the tests' length measure).
#[cfg(test)]
pub(crate) fn chars(s: &str) -> usize {
    s.chars().count()
}

fn non_ws(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The part without the fence lines the splitter added.
fn original_text(part: &Part) -> &str {
    let mut text = part.text.as_str();
    if part.reopened {
        text = text.split_once('\n').map_or("", |(_, after)| after);
    }
    if part.closed {
        text = text.rsplit_once('\n').map_or("", |(before, _)| before);
    }
    text
}

/// Every invariant that must hold for any input and character limit.
#[track_caller]
pub(crate) fn check_invariants(text: &str, max: usize) {
    check_invariants_within(text, Limit::chars(max));
}

/// Every invariant that must hold for any input and [`Limit`] (the same for each part).
#[track_caller]
pub(crate) fn check_invariants_within(text: &str, limit: Limit) {
    let parts = split_parts_within(text, &|_| limit);
    let plain: Vec<String> = parts.iter().map(|p| p.text.clone()).collect();
    assert_eq!(split_message_within(text, &|_| limit), plain);
    if text.trim().is_empty() {
        assert!(parts.is_empty(), "{parts:?}");
    }
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        assert!(limit.fits(&part.text), "part {i} over {limit:?}: {part:?}");
        assert!(!part.text.trim().is_empty(), "blank part {i}: {parts:?}");
        // Only a fence too long to repair within the limit may stay open (documented on
        // `repairable`: tiny limits or dozens of backticks; found by the fuzzer at 16).
        if !last {
            if let Some(fence) = scan_fences(None, &part.text) {
                assert_eq!(repairable(fence, limit), None, "open fence in {part:?}");
            }
        }
        // An added close always comes with a reopen in the next part.
        if part.closed {
            assert!(parts[i + 1].reopened, "{parts:?}");
        }
    }
    // Nothing lost, nothing duplicated: the original texts of the parts are, in order,
    // pieces of the input separated only by whitespace.
    let mut pos = 0;
    for part in &parts {
        let original = original_text(part);
        let found = text[pos..]
            .find(original)
            .unwrap_or_else(|| panic!("{original:?} not found after {pos} in {text:?}"));
        assert!(text[pos..pos + found].trim().is_empty(), "lost text before {original:?}");
        pos += found + original.len();
    }
    assert!(text[pos..].trim().is_empty(), "lost tail {:?}", &text[pos..]);
    let joined: String = parts.iter().map(original_text).collect();
    assert_eq!(non_ws(&joined), non_ws(text));
}
