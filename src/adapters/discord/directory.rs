//! What the adapter knows about servers and channels: enough to tell a thread from a
//! channel, find a thread's parent (auto-respond forums) and name places for the
//! SiteAssist dashboard.
//!
//! Filled from the gateway (`GUILD_CREATE` lists a server's channels and active
//! threads, `THREAD_CREATE`/`CHANNEL_CREATE` add new ones, which is why the bot asks for
//! the `GUILDS` intent), and from `GET /channels/{id}` for anything the gateway has not
//! told us yet (events may arrive in any order, since serenity runs handlers
//! concurrently).

use super::rest::{RawChannel, Rest};
use crate::bridge::decide::{Place, PlaceKind};
use std::collections::HashMap;
use std::sync::Mutex;

/// What kind of channel, for routing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Text or announcement channel: threads can start on its messages.
    Threadable,
    /// A thread (public, private or announcement) or a forum post.
    Thread,
    /// A forum or media channel (its posts are threads).
    Forum,
    /// Anything else with messages (voice chat, stage).
    Other,
}

impl Kind {
    /// From Discord's channel type number.
    pub(crate) fn from_type(kind: u8) -> Self {
        match kind {
            0 | 5 => Self::Threadable,
            10..=12 => Self::Thread,
            15 | 16 => Self::Forum,
            _ => Self::Other,
        }
    }
}

/// One guild channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ChannelInfo {
    /// Its kind.
    pub kind: Kind,
    /// A thread's channel or forum (a channel's category is not kept: it never matters).
    pub parent: Option<u64>,
    /// Its name (a forum post's name is its title).
    pub name: Option<String>,
}

impl ChannelInfo {
    /// From the REST shape.
    pub(crate) fn from_raw(raw: &RawChannel) -> Self {
        let kind = Kind::from_type(raw.kind);
        let parent = raw.parent_id.as_deref().and_then(|p| p.parse().ok());
        Self { kind, parent: parent.filter(|_| kind == Kind::Thread), name: raw.name.clone() }
    }

    /// Where a message in channel `id` (described by `self`) is, for the core, and
    /// whether an answer to a message at its top level goes in a new thread started on
    /// that message (text and announcement channels) rather than in place (voice
    /// chats, stages). `parent` is what is known of a thread's parent: a post in a
    /// forum is a [`PlaceKind::ForumPost`].
    pub(crate) fn place(&self, id: u64, parent: Option<&ChannelInfo>) -> (Place, bool) {
        let id_text = id.to_string();
        match self.kind {
            Kind::Threadable => (Place::new(PlaceKind::Channel, id_text), true),
            Kind::Thread => {
                let in_forum = parent.is_some_and(|p| p.kind == Kind::Forum);
                let kind = if in_forum { PlaceKind::ForumPost } else { PlaceKind::Thread };
                (Place::within(kind, id_text, self.parent.map(|p| p.to_string())), false)
            }
            Kind::Forum | Kind::Other => (Place::new(PlaceKind::Channel, id_text), false),
        }
    }
}

/// One server.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct GuildInfo {
    /// Its name.
    pub name: String,
    /// Roles that stand for the bot (its managed integration role): people often
    /// mention the role instead of the bot.
    pub bot_roles: Vec<u64>,
}

/// The known servers and channels.
#[derive(Default)]
pub(crate) struct Directory {
    channels: Mutex<HashMap<u64, ChannelInfo>>,
    guilds: Mutex<HashMap<u64, GuildInfo>>,
}

impl Directory {
    /// Remembers (or updates) a channel.
    pub(crate) fn learn(&self, id: u64, info: ChannelInfo) {
        self.channels.lock().unwrap_or_else(|p| p.into_inner()).insert(id, info);
    }

    /// Forgets a deleted channel or thread.
    pub(crate) fn forget(&self, id: u64) {
        self.channels.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
    }

    /// Remembers a server.
    pub(crate) fn learn_guild(&self, id: u64, info: GuildInfo) {
        self.guilds.lock().unwrap_or_else(|p| p.into_inner()).insert(id, info);
    }

    /// A known channel.
    pub(crate) fn channel(&self, id: u64) -> Option<ChannelInfo> {
        self.channels.lock().unwrap_or_else(|p| p.into_inner()).get(&id).cloned()
    }

    /// A known server.
    pub(crate) fn guild(&self, id: u64) -> Option<GuildInfo> {
        self.guilds.lock().unwrap_or_else(|p| p.into_inner()).get(&id).cloned()
    }

    /// A channel, asking Discord when the gateway has not described it yet. `None` when
    /// Discord cannot say either (the caller then treats it as a plain channel).
    pub(crate) async fn resolve(&self, rest: &Rest, id: u64) -> Option<ChannelInfo> {
        if let Some(info) = self.channel(id) {
            return Some(info);
        }
        match rest.channel(id).await {
            Ok(raw) => {
                let info = ChannelInfo::from_raw(&raw);
                self.learn(id, info.clone());
                Some(info)
            }
            Err(f) => {
                tracing::warn!(channel = id, error = %f.error, "could not look up a Discord channel");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_types_map_to_places() {
        let raw = |kind, parent: Option<&str>| RawChannel {
            kind,
            parent_id: parent.map(str::to_string),
            name: Some("n".into()),
        };
        let place = |kind, parent: Option<&str>| Place::within(kind, "1", parent.map(Into::into));
        let forum = ChannelInfo { kind: Kind::Forum, parent: None, name: None };
        let text = ChannelInfo { kind: Kind::Threadable, parent: None, name: None };
        let table = [
            (raw(0, Some("9")), None, (place(PlaceKind::Channel, None), true)),
            (raw(5, None), None, (place(PlaceKind::Channel, None), true)),
            (raw(11, Some("9")), Some(&text), (place(PlaceKind::Thread, Some("9")), false)),
            (raw(12, Some("9")), None, (place(PlaceKind::Thread, Some("9")), false)),
            (raw(11, Some("9")), Some(&forum), (place(PlaceKind::ForumPost, Some("9")), false)),
            (raw(10, None), None, (place(PlaceKind::Thread, None), false)),
            (raw(15, None), None, (place(PlaceKind::Channel, None), false)),
            (raw(2, None), None, (place(PlaceKind::Channel, None), false)),
        ];
        for (raw, parent, expected) in table {
            assert_eq!(ChannelInfo::from_raw(&raw).place(1, parent), expected, "{raw:?}");
        }
        // A text channel's parent is its category, which routing must not mistake for a
        // thread parent.
        assert_eq!(ChannelInfo::from_raw(&raw(0, Some("9"))).parent, None);
    }
}
