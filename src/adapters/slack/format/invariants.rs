//! The Slack renderer's invariants, checked by its tests and by the `markdown` fuzz target.

use super::to_slack;
use pulldown_cmark::{Event, Options, Parser, Tag};

/// Every `<` in the output opens a link we made: no `<!channel>` or `<@U…>` can be forged.
pub(crate) fn assert_links_are_ours(out: &str) {
    for (at, _) in out.match_indices('<') {
        let rest = &out[at + 1..];
        let lower = rest.to_ascii_lowercase();
        assert!(
            ["http://", "https://", "mailto:"].iter().any(|s| lower.starts_with(s)),
            "stray `<` at {at} in {out:?}"
        );
        let end = rest.find('>').unwrap_or_else(|| panic!("unclosed link at {at} in {out:?}"));
        let (url, label) = rest[..end].split_once('|').unwrap_or((&rest[..end], ""));
        assert!(!url.contains(|c: char| c.is_whitespace() || c == '<'), "bad url {url:?}");
        assert!(!label.contains(['<', '\n', '|']), "bad label {label:?} in {out:?}");
    }
}

/// The letters and digits the parser sees as content, in order.
pub(crate) fn content_alnums(markdown: &str) -> Vec<char> {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_FOOTNOTES;
    let mut chars = Vec::new();
    for event in Parser::new_ext(markdown, options) {
        let text = match event {
            Event::Text(t) | Event::Code(t) | Event::Html(t) | Event::InlineHtml(t) => t,
            Event::FootnoteReference(t) | Event::Start(Tag::FootnoteDefinition(t)) => t,
            _ => continue,
        };
        chars.extend(text.chars().filter(|c| c.is_alphanumeric()));
    }
    chars
}

#[track_caller]
pub(crate) fn assert_invariants(markdown: &str) {
    let out = to_slack(markdown);
    assert_links_are_ours(&out);
    assert_eq!(out.trim_end(), out, "trailing whitespace for {markdown:?}");
    let mut shown = out.chars().filter(|c| c.is_alphanumeric());
    for c in content_alnums(markdown) {
        assert!(shown.any(|s| s == c), "lost {c:?} of {markdown:?} in {out:?}");
    }
}
