//! Channel allow and deny lists: in which channels the bot answers.
//!
//! Each platform owns its `allow_channels` / `deny_channels` keys; the adapter reports
//! where a message was said (a thread with its parent), and the core's rules
//! ([`decide`](super::decide)) apply the lists the same way everywhere (direct messages
//! are not channels at all).
//!
//! Ids are the platform's own channel ids as strings (Slack `C…`, Discord snowflakes),
//! not the core's [`ChannelKey`](super::ids::ChannelKey)s: people copy them from the
//! platform's UI into the configuration.

use std::collections::HashSet;

/// Where the bot may answer, from an adapter's `allow_channels` and `deny_channels`.
///
/// A message is permitted unless one of its channel ids is denied, or the allow list is
/// non-empty and none of its ids is on it. Deny wins over allow, so a channel can be
/// carved out of an allowed set (or an allowed forum's post out of it, on Discord).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChannelPolicy {
    /// Channel ids the bot answers in; empty means every channel.
    pub allow: HashSet<String>,
    /// Channel ids the bot never answers in, whatever `allow` says.
    pub deny: HashSet<String>,
}

impl ChannelPolicy {
    /// Builds a policy from configured lists. Entries are trimmed and empty ones dropped,
    /// so a stray comma in an environment value does not turn into an id.
    pub fn new<A, D>(allow: A, deny: D) -> Self
    where
        A: IntoIterator,
        A::Item: AsRef<str>,
        D: IntoIterator,
        D::Item: AsRef<str>,
    {
        fn ids<I: IntoIterator>(list: I) -> HashSet<String>
        where
            I::Item: AsRef<str>,
        {
            list.into_iter()
                .map(|id| id.as_ref().trim().to_string())
                .filter(|id| !id.is_empty())
                .collect()
        }
        Self { allow: ids(allow), deny: ids(deny) }
    }

    /// Whether a message whose channel is known by `ids` may be answered. `ids` are every
    /// id the message's place goes by (a thread and its parent channel): any one of them
    /// denied refuses it; with an allow list, any one of them allowed admits it.
    ///
    /// With no ids at all only an open allow list admits: callers exempt what is not a
    /// channel (direct messages) before asking.
    pub fn permits(&self, ids: &[&str]) -> bool {
        if ids.iter().any(|id| self.deny.contains(*id)) {
            return false;
        }
        self.allow.is_empty() || ids.iter().any(|id| self.allow.contains(*id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allow: &[&str], deny: &[&str]) -> ChannelPolicy {
        ChannelPolicy::new(allow, deny)
    }

    #[test]
    fn decision_table() {
        // (allow, deny, ids of the message's place) -> permitted
        type Ids = &'static [&'static str];
        let table: &[(Ids, Ids, Ids, bool)] = &[
            // Empty lists allow everything.
            (&[], &[], &["C1"], true),
            (&[], &[], &["T9", "C1"], true),
            // An allow list admits only what is on it.
            (&["C1"], &[], &["C1"], true),
            (&["C1"], &[], &["C2"], false),
            (&["C1", "C2"], &[], &["C2"], true),
            // A deny list refuses only what is on it.
            (&[], &["C1"], &["C1"], false),
            (&[], &["C1"], &["C2"], true),
            // Deny wins over allow.
            (&["C1"], &["C1"], &["C1"], false),
            (&["C1", "C2"], &["C2"], &["C2"], false),
            (&["C1", "C2"], &["C2"], &["C1"], true),
            // A Discord thread goes by its own id and its parent's: either allowed admits
            // it, either denied refuses it.
            (&["100"], &[], &["555", "100"], true),
            (&["555"], &[], &["555", "100"], true),
            (&["200"], &[], &["555", "100"], false),
            (&[], &["100"], &["555", "100"], false),
            (&[], &["555"], &["555", "100"], false),
            (&["100"], &["555"], &["555", "100"], false),
            // No ids: only an open allow list admits.
            (&[], &[], &[], true),
            (&[], &["C1"], &[], true),
            (&["C1"], &[], &[], false),
        ];
        for (allow, deny, ids, expected) in table {
            assert_eq!(
                policy(allow, deny).permits(ids),
                *expected,
                "allow {allow:?}, deny {deny:?}, ids {ids:?}"
            );
        }
    }

    #[test]
    fn entries_are_trimmed_and_blank_ones_dropped() {
        let p = policy(&[" C1 ", "", "  "], &["\tC2"]);
        assert_eq!(p.allow, HashSet::from(["C1".to_string()]));
        assert_eq!(p.deny, HashSet::from(["C2".to_string()]));
        assert!(p.permits(&["C1"]));
        assert!(!p.permits(&["C2"]));
        assert_eq!(policy(&[""], &[" "]), ChannelPolicy::default(), "blank entries are no list");
    }
}
