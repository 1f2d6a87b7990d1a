//! Slack ids. Only this module builds or parses their text form; the texts are
//! persisted, so they must stay stable.
//!
//! - thread: `slack:{team}:{channel}:{thread_ts}`, or `slack:{team}:{channel}` for a DM
//!   answered outside any thread (the DM itself is the conversation);
//! - message: `slack:{team}:{channel}:{ts}`;
//! - channel `slack:{team}:{channel}`, workspace `slack:{team}`, user `slack:{team}:{user}`.

use crate::bridge::ids::{ChannelKey, MessageRef, ThreadKey, UserKey, WorkspaceKey};

/// A thread: replies go under `thread_ts`, or top-level when it is `None`.
pub(crate) fn thread(team: &str, channel: &str, thread_ts: Option<&str>) -> ThreadKey {
    match thread_ts {
        Some(ts) => ThreadKey::new(format!("slack:{team}:{channel}:{ts}")),
        None => ThreadKey::new(format!("slack:{team}:{channel}")),
    }
}

/// A message.
pub(crate) fn message(team: &str, channel: &str, ts: &str) -> MessageRef {
    MessageRef::new(format!("slack:{team}:{channel}:{ts}"))
}

/// A channel.
pub(crate) fn channel(team: &str, channel: &str) -> ChannelKey {
    ChannelKey::new(format!("slack:{team}:{channel}"))
}

/// A workspace.
pub(crate) fn workspace(team: &str) -> WorkspaceKey {
    WorkspaceKey::new(format!("slack:{team}"))
}

/// A user.
pub(crate) fn user(team: &str, user: &str) -> UserKey {
    UserKey::new(format!("slack:{team}:{user}"))
}

/// `(team, channel, thread_ts)` of a thread key minted by [`thread`].
pub(crate) fn parse_thread(key: &ThreadKey) -> Option<(&str, &str, Option<&str>)> {
    let mut parts = key.as_str().strip_prefix("slack:")?.splitn(3, ':');
    let (team, channel) = (parts.next()?, parts.next()?);
    Some((team, channel, parts.next()))
}

/// `(team, user)` of a user key minted by [`user`].
pub(crate) fn parse_user(key: &UserKey) -> Option<(&str, &str)> {
    let mut parts = key.as_str().strip_prefix("slack:")?.splitn(2, ':');
    Some((parts.next()?, parts.next()?))
}

/// `(channel, ts)` of a message key minted by [`message`].
pub(crate) fn parse_message(key: &MessageRef) -> Option<(&str, &str)> {
    let mut parts = key.as_str().strip_prefix("slack:")?.splitn(3, ':');
    let (_team, channel, ts) = (parts.next()?, parts.next()?, parts.next()?);
    Some((channel, ts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        let t = thread("T1", "C2", Some("1700000000.000100"));
        assert_eq!(t.as_str(), "slack:T1:C2:1700000000.000100");
        assert_eq!(parse_thread(&t), Some(("T1", "C2", Some("1700000000.000100"))));
        let dm = thread("T1", "D9", None);
        assert_eq!(parse_thread(&dm), Some(("T1", "D9", None)));
        let m = message("T1", "C2", "1700000000.000200");
        assert_eq!(parse_message(&m), Some(("C2", "1700000000.000200")));
        assert_eq!(parse_message(&MessageRef::new("discord:1:2")), None);
        assert_eq!(parse_thread(&ThreadKey::new("console:x")), None);
    }
}
