//! Thread context: what was said in a thread before the bot was first asked there.
//!
//! A person who mentions the bot in the middle of a discussion expects it to know the
//! discussion. The first question in a thread the bot has not been part of therefore
//! carries the thread's earlier messages in SiteAssist's `pageContext.content` (the
//! field the web widget fills with the page's text), read through
//! [`ChatAdapter::thread_history`](super::adapter::ChatAdapter::thread_history). Later
//! questions do not: the conversation holds them already.
//!
//! The bounding and formatting are pure ([`page_content`]); [`gather`] is the thin IO
//! around them.

use super::decide::PlaceKind;
use super::event::InboundMessage;
use super::Inner;

/// At most this many characters of history go to SiteAssist: enough for a discussion,
/// small beside the 10,000-character question (issue #14).
pub const MAX_CONTEXT_CHARS: usize = 4_000;

/// The first line of the page content, so the model reads the lines as a transcript.
const HEADER: &str = "Earlier messages in this thread, oldest first:";

/// One earlier message of a thread, as an adapter read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryLine {
    /// The author as people see them (display name), or a placeholder the adapter
    /// chose when it could not learn one.
    pub author: String,
    /// The text, platform markup made readable.
    pub text: String,
}

impl HistoryLine {
    /// A line by `author` saying `text`.
    pub fn new(author: impl Into<String>, text: impl Into<String>) -> Self {
        Self { author: author.into(), text: text.into() }
    }

    /// `author: text` on one line (inner line breaks kept as spaces, so one message
    /// is one line of the transcript).
    fn render(&self) -> String {
        let text = self.text.split_whitespace().collect::<Vec<_>>().join(" ");
        format!("{}: {text}", self.author.trim())
    }
}

/// The page content for `lines` (oldest first): the newest `max_messages` non-empty
/// lines under a header, the oldest dropped first until the whole fits in `max_chars`
/// characters. A newest line longer than the budget on its own is cut at its end with
/// `…`. `None` when nothing is left (no history, or `max_messages` is 0). Pure.
pub fn page_content(
    lines: &[HistoryLine],
    max_messages: usize,
    max_chars: usize,
) -> Option<String> {
    let rendered: Vec<String> =
        lines.iter().filter(|l| !l.text.trim().is_empty()).map(HistoryLine::render).collect();
    let start = rendered.len().saturating_sub(max_messages);
    let mut kept: Vec<&str> = rendered[start..].iter().map(String::as_str).collect();
    let chars = |kept: &[&str]| {
        HEADER.chars().count() + kept.iter().map(|l| l.chars().count() + 1).sum::<usize>()
    };
    while kept.len() > 1 && chars(&kept) > max_chars {
        kept.remove(0);
    }
    let last = kept.pop()?;
    let room = max_chars.saturating_sub(chars(&kept) + 1);
    if room < 2 {
        return None;
    }
    let last = match last.chars().count() > room {
        true => format!("{}…", last.chars().take(room - 1).collect::<String>()),
        false => last.to_string(),
    };
    kept.push(&last);
    Some(format!("{HEADER}\n{}", kept.join("\n")))
}

/// The page content for `msg`'s question, when it is the first question in a thread
/// that was there before it (a thread or forum post the bot has not answered in, not
/// one the question opens), history is switched on, and the adapter can read it.
/// Reading history is a nicety: a failure is logged and the question goes without.
pub(super) async fn gather(inner: &Inner, msg: &InboundMessage) -> Option<String> {
    let limit = inner.cfg.context_messages;
    let kind = msg.facts.place.kind;
    if limit == 0
        || msg.facts.opens_thread
        || !matches!(kind, PlaceKind::Thread | PlaceKind::ForumPost)
    {
        return None;
    }
    match inner.store.thread_link(&msg.thread).await {
        Ok(None) => {}
        Ok(Some(_)) => return None,
        Err(e) => {
            tracing::info!(error = %e, "could not tell whether the thread is new; no history");
            return None;
        }
    }
    match inner.adapter.thread_history(&msg.thread, &msg.message, limit).await {
        Ok(lines) => {
            tracing::debug!(messages = lines.len(), "read the thread's earlier messages");
            page_content(&lines, limit, MAX_CONTEXT_CHARS)
        }
        Err(e) => {
            tracing::info!(error = %e, "could not read the thread's history; asking without it");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(n: usize) -> Vec<HistoryLine> {
        (1..=n).map(|i| HistoryLine::new(format!("user{i}"), format!("message {i}"))).collect()
    }

    fn body(content: &str) -> Vec<&str> {
        content.lines().skip(1).collect()
    }

    #[test]
    fn lines_keep_their_order_and_authors() {
        let got = page_content(&lines(5), 20, MAX_CONTEXT_CHARS).unwrap();
        assert!(got.starts_with(HEADER), "{got}");
        assert_eq!(
            body(&got),
            [
                "user1: message 1",
                "user2: message 2",
                "user3: message 3",
                "user4: message 4",
                "user5: message 5"
            ]
        );
    }

    #[test]
    fn bounds_drop_the_oldest_first() {
        // (lines, max messages, max chars, first kept, last kept, kept)
        let table: [(usize, usize, usize, &str, &str, usize); 7] = [
            (25, 20, MAX_CONTEXT_CHARS, "user6: message 6", "user25: message 25", 20),
            (20, 20, MAX_CONTEXT_CHARS, "user1: message 1", "user20: message 20", 20),
            (3, 2, MAX_CONTEXT_CHARS, "user2: message 2", "user3: message 3", 2),
            // The header (46) and each line (16) with its line break: 3 lines take 97.
            (4, 20, 114, "user1: message 1", "user4: message 4", 4),
            (4, 20, 113, "user2: message 2", "user4: message 4", 3),
            (4, 20, 97, "user2: message 2", "user4: message 4", 3),
            (4, 20, 96, "user3: message 3", "user4: message 4", 2),
        ];
        for (n, max, chars, first, last, kept) in table {
            let got = page_content(&lines(n), max, chars).unwrap();
            let b = body(&got);
            assert!(got.chars().count() <= chars, "{n} {max} {chars}: {got}");
            assert_eq!(
                (b[0], *b.last().unwrap(), b.len()),
                (first, last, kept),
                "{n} {max} {chars}"
            );
        }
    }

    #[test]
    fn four_thousand_characters_at_most() {
        let long: Vec<HistoryLine> =
            (0..20).map(|i| HistoryLine::new(format!("p{i}"), "x".repeat(300))).collect();
        let got = page_content(&long, 20, MAX_CONTEXT_CHARS).unwrap();
        assert!(got.chars().count() <= MAX_CONTEXT_CHARS, "{}", got.chars().count());
        let b = body(&got);
        assert_eq!(*b.last().unwrap(), format!("p19: {}", "x".repeat(300)), "newest kept whole");
        // The header (46), then 305 (p10-p19) or 304 (p8, p9) per line with its break:
        // 3,716 characters; one more line would make 4,021.
        assert_eq!(b.len(), 12);
        assert!(b[0].starts_with("p8: "), "oldest dropped first: {}", b[0]);
    }

    #[test]
    fn a_newest_line_over_the_budget_is_cut() {
        let one = [HistoryLine::new("ann", "y".repeat(10_000))];
        let got = page_content(&one, 20, MAX_CONTEXT_CHARS).unwrap();
        assert_eq!(got.chars().count(), MAX_CONTEXT_CHARS);
        assert!(got.ends_with("y…"), "{}", &got[got.len() - 10..]);
        assert!(body(&got)[0].starts_with("ann: yyy"));
    }

    #[test]
    fn nothing_to_say_is_none() {
        assert_eq!(page_content(&[], 20, MAX_CONTEXT_CHARS), None);
        assert_eq!(page_content(&lines(3), 0, MAX_CONTEXT_CHARS), None);
        let blank = [HistoryLine::new("ann", "  \n ")];
        assert_eq!(page_content(&blank, 20, MAX_CONTEXT_CHARS), None);
        assert_eq!(page_content(&lines(1), 20, 10), None, "not even the header fits");
    }

    #[test]
    fn a_message_is_one_line() {
        let multi = [HistoryLine::new(" Bob ", "first line\n\nsecond   line")];
        let got = page_content(&multi, 20, MAX_CONTEXT_CHARS).unwrap();
        assert_eq!(body(&got), ["Bob: first line second line"]);
    }
}
