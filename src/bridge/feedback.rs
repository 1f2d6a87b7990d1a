//! Reactions → SiteAssist feedback, decided in pure functions.
//!
//! Platforms name emoji differently (Slack `+1` or `thumbsup`; Discord the Unicode `👍`,
//! maybe with a skin-tone modifier), so the configured names are normalised before
//! comparison. Platform-specific spellings (Slack's `+1::skin-tone-3`) are the
//! adapter's to undo.

use crate::bridge::ids::UserKey;
use crate::siteassist::ids::Feedback;
use serde::{Deserialize, Serialize};

/// Emoji names that mean "like" unless configured otherwise.
pub const DEFAULT_LIKE: &[&str] = &["+1", "thumbsup", "thumbs_up", "👍"];
/// Emoji names that mean "dislike" unless configured otherwise.
pub const DEFAULT_DISLIKE: &[&str] = &["-1", "thumbsdown", "thumbs_down", "👎"];

/// Whose reactions count as feedback.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeedbackFrom {
    /// Only the person whose question the reply answers: others' opinions would
    /// overwrite theirs, since SiteAssist keeps one feedback value per message.
    #[default]
    Asker,
    /// Anyone in the thread.
    Anyone,
}

/// The configured emoji lists, normalised.
#[derive(Clone, Debug)]
pub struct FeedbackEmoji {
    like: Vec<String>,
    dislike: Vec<String>,
}

impl Default for FeedbackEmoji {
    fn default() -> Self {
        Self::new(DEFAULT_LIKE.iter().copied(), DEFAULT_DISLIKE.iter().copied())
    }
}

impl FeedbackEmoji {
    /// Builds the lists; names are normalised with [`normalise_emoji`].
    pub fn new<'a>(
        like: impl IntoIterator<Item = &'a str>,
        dislike: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let norm = |it: &mut dyn Iterator<Item = &'a str>| -> Vec<String> {
            it.map(normalise_emoji).filter(|s| !s.is_empty()).collect()
        };
        Self { like: norm(&mut like.into_iter()), dislike: norm(&mut dislike.into_iter()) }
    }

    /// What a reaction means, if anything. "Like" wins if an emoji is in both lists.
    pub fn classify(&self, emoji: &str) -> Option<Feedback> {
        let e = normalise_emoji(emoji);
        if self.like.contains(&e) {
            Some(Feedback::Like)
        } else if self.dislike.contains(&e) {
            Some(Feedback::Dislike)
        } else {
            None
        }
    }
}

/// Strips what varies between clients but not in meaning: surrounding colons (`:+1:`),
/// Unicode skin-tone modifiers and the emoji variation selector. Case-insensitive for
/// names.
pub fn normalise_emoji(raw: &str) -> String {
    let base = raw.trim().trim_matches(':');
    base.chars()
        .filter(|c| !matches!(*c as u32, 0x1F3FB..=0x1F3FF | 0xFE0F))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether `reactor` may give feedback on a reply that answered `asker`.
pub fn may_give_feedback(from: FeedbackFrom, reactor: &UserKey, asker: &UserKey) -> bool {
    match from {
        FeedbackFrom::Anyone => true,
        FeedbackFrom::Asker => reactor == asker,
    }
}

/// What to send to SiteAssist after a reaction, given the feedback it has now.
///
/// Returns `Some(value)` to send (`Some(None)` clears), or `None` when nothing changes:
/// adding the value it already has, or removing a reaction that is not the current
/// feedback (for example removing 👍 after switching to 👎 must not clear the 👎).
pub fn decide(
    current: Option<Feedback>,
    reacted: Feedback,
    added: bool,
) -> Option<Option<Feedback>> {
    match (added, current) {
        (true, c) if c == Some(reacted) => None,
        (true, _) => Some(Some(reacted)),
        (false, c) if c == Some(reacted) => Some(None),
        (false, _) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Feedback::{Dislike, Like};

    #[test]
    fn classify_defaults_and_platform_spellings() {
        let e = FeedbackEmoji::default();
        for like in ["+1", ":+1:", "thumbsup", "👍", "👍🏽", "👍\u{FE0F}"] {
            assert_eq!(e.classify(like), Some(Like), "{like}");
        }
        for dislike in ["-1", "thumbsdown", ":-1:", "👎", "👎🏿"] {
            assert_eq!(e.classify(dislike), Some(Dislike), "{dislike}");
        }
        for other in ["tada", "heart", "", "👀"] {
            assert_eq!(e.classify(other), None, "{other}");
        }
    }

    #[test]
    fn classify_custom_lists() {
        let e = FeedbackEmoji::new(["heart", "Approved"], ["skull"]);
        assert_eq!(e.classify("heart"), Some(Like));
        assert_eq!(e.classify("approved"), Some(Like));
        assert_eq!(e.classify("skull"), Some(Dislike));
        assert_eq!(e.classify("+1"), None);
    }

    #[test]
    fn decide_table() {
        // (current, reacted, added) -> expected
        let table = [
            (None, Like, true, Some(Some(Like))),
            (Some(Like), Like, true, None),
            (Some(Dislike), Like, true, Some(Some(Like))),
            (Some(Like), Like, false, Some(None)),
            (Some(Dislike), Like, false, None),
            (None, Dislike, false, None),
            (Some(Like), Dislike, true, Some(Some(Dislike))),
        ];
        for (current, reacted, added, expected) in table {
            assert_eq!(
                decide(current, reacted, added),
                expected,
                "{current:?} {reacted:?} {added}"
            );
        }
    }

    #[test]
    fn only_the_asker_by_default() {
        let a = UserKey::new("slack:T:U1");
        let b = UserKey::new("slack:T:U2");
        assert!(may_give_feedback(FeedbackFrom::Asker, &a, &a));
        assert!(!may_give_feedback(FeedbackFrom::Asker, &b, &a));
        assert!(may_give_feedback(FeedbackFrom::Anyone, &b, &a));
    }
}
