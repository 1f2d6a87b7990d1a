//! Discord ids as the core sees them. Only this module builds or reads their text form.
//!
//! The strings are persisted (thread → conversation, reply → answer), so they are a
//! promise: the same Discord object must always give the same string.
//!
//! | id | form | why |
//! | --- | --- | --- |
//! | [`ThreadKey`] | `discord:{guild}:{channel}` (`dm` for a DM) | the channel the answer goes to: a thread, a forum post, a DM, or a channel answered in place |
//! | [`MessageRef`] | `discord:{channel}:{message}` | editing a message needs both; message ids alone are unique but not addressable |
//! | [`ChannelKey`] | `discord:{channel}` | Discord's per-route limits key on the channel, and a thread is a channel of its own |
//! | [`WorkspaceKey`] | `discord:{guild}` | the server |
//! | [`UserKey`] | `discord:{user}` | user ids are global, so one person is one visitor in every server and in DMs |
//!
//! A thread started from a message has the id of that message, which is what lets the
//! key of a thread be minted before the thread exists (see `egress`).

use crate::bridge::ids::{ChannelKey, MessageRef, ThreadKey, UserKey, WorkspaceKey};

const PREFIX: &str = "discord:";

/// The thread key of `channel` (a thread, forum post, DM or channel) in `guild`
/// (`None` for a DM).
pub(crate) fn thread(guild: Option<u64>, channel: u64) -> ThreadKey {
    match guild {
        Some(g) => ThreadKey::new(format!("{PREFIX}{g}:{channel}")),
        None => ThreadKey::new(format!("{PREFIX}dm:{channel}")),
    }
}

/// The channel a thread key posts to.
pub(crate) fn thread_channel(thread: &ThreadKey) -> Option<u64> {
    let rest = thread.as_str().strip_prefix(PREFIX)?;
    let (_guild, channel) = rest.split_once(':')?;
    channel.parse().ok()
}

/// A message in a channel (a user's question or a part of a bot reply).
pub(crate) fn message(channel: u64, message: u64) -> MessageRef {
    MessageRef::new(format!("{PREFIX}{channel}:{message}"))
}

/// `(channel, message)` back from a message ref.
pub(crate) fn parse_message(message: &MessageRef) -> Option<(u64, u64)> {
    let rest = message.as_str().strip_prefix(PREFIX)?;
    let (channel, message) = rest.split_once(':')?;
    Some((channel.parse().ok()?, message.parse().ok()?))
}

/// The edit-budget scope of a channel.
pub(crate) fn channel(channel: u64) -> ChannelKey {
    ChannelKey::new(format!("{PREFIX}{channel}"))
}

/// A server.
pub(crate) fn workspace(guild: u64) -> WorkspaceKey {
    WorkspaceKey::new(format!("{PREFIX}{guild}"))
}

/// A user, the same in every server.
pub(crate) fn user(user: u64) -> UserKey {
    UserKey::new(format!("{PREFIX}{user}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_stable_and_round_trip() {
        let t = thread(Some(10), 20);
        assert_eq!(t.as_str(), "discord:10:20");
        assert_eq!(thread_channel(&t), Some(20));
        let dm = thread(None, 30);
        assert_eq!(dm.as_str(), "discord:dm:30");
        assert_eq!(thread_channel(&dm), Some(30));

        let m = message(20, 40);
        assert_eq!(m.as_str(), "discord:20:40");
        assert_eq!(parse_message(&m), Some((20, 40)));

        assert_eq!(channel(20).as_str(), "discord:20");
        assert_eq!(workspace(10).as_str(), "discord:10");
        assert_eq!(user(7).as_str(), "discord:7");
    }

    #[test]
    fn foreign_ids_do_not_parse() {
        assert_eq!(thread_channel(&ThreadKey::new("slack:T1:C2:1.2")), None);
        assert_eq!(thread_channel(&ThreadKey::new("discord:10")), None);
        assert_eq!(parse_message(&MessageRef::new("console:t:run:b1")), None);
        assert_eq!(parse_message(&MessageRef::new("discord:x:1")), None);
    }
}
