//! Discord payloads shaped as in Discord's documentation (API v10): users, channels,
//! threads, the READY and GUILD_CREATE events, messages and reactions.

use super::{ALICE, AUTO, BOB, BOT, BOT_ROLE, DM, FORUM, GUILD, OTHER_BOT, QUIET_FORUM, SUPPORT};
use serde_json::{json, Value};

/// A fixed timestamp in Discord's ISO 8601 form.
pub const TIMESTAMP: &str = "2024-05-01T12:00:00.000000+00:00";

/// A user object.
pub fn user(id: u64, name: &str, bot: bool) -> Value {
    let mut u = json!({
        "id": id.to_string(),
        "username": name,
        "discriminator": "0",
        "global_name": if bot { Value::Null } else { json!(format!("{name} (display)")) },
        "avatar": null,
        "public_flags": 0,
        "flags": 0,
        "banner": null,
        "accent_color": null,
        "avatar_decoration_data": null
    });
    if bot {
        u["bot"] = json!(true);
    }
    u
}

/// Who's who in the tests.
pub fn alice() -> Value {
    user(ALICE, "alice", false)
}
pub fn bob() -> Value {
    user(BOB, "bob", false)
}
pub fn bot_user() -> Value {
    user(BOT, "SiteAssist", true)
}
pub fn other_bot() -> Value {
    user(OTHER_BOT, "otherbot", true)
}

/// A guild channel object (`type` 0 text, 15 forum, ...).
pub fn channel(id: u64, kind: u8, name: &str, position: u16) -> Value {
    json!({
        "id": id.to_string(),
        "type": kind,
        "guild_id": GUILD.to_string(),
        "name": name,
        "position": position,
        "permission_overwrites": [],
        "parent_id": null,
        "nsfw": false,
        "topic": null,
        "last_message_id": null,
        "rate_limit_per_user": 0,
        "flags": 0
    })
}

/// The guild's channels.
pub fn guild_channels() -> Vec<Value> {
    vec![
        channel(SUPPORT, 0, "support", 0),
        channel(AUTO, 0, "ask-the-bot", 1),
        channel(FORUM, 15, "help-forum", 2),
        channel(QUIET_FORUM, 15, "ideas", 3),
    ]
}

/// A public thread (`type` 11) in `parent`; a forum post is one too.
pub fn thread(id: u64, parent: u64, name: &str, owner: u64) -> Value {
    json!({
        "id": id.to_string(),
        "type": 11,
        "guild_id": GUILD.to_string(),
        "parent_id": parent.to_string(),
        "owner_id": owner.to_string(),
        "name": name,
        "last_message_id": null,
        "rate_limit_per_user": 0,
        "message_count": 0,
        "member_count": 1,
        "total_message_sent": 0,
        "flags": 0,
        "applied_tags": [],
        "thread_metadata": {
            "archived": false,
            "auto_archive_duration": 1440,
            "archive_timestamp": TIMESTAMP,
            "locked": false,
            "create_timestamp": TIMESTAMP
        }
    })
}

/// Gateway READY (`d`).
pub fn ready(resume_url: &str) -> Value {
    json!({
        "v": 10,
        "user": {
            "id": BOT.to_string(), "username": "SiteAssist", "discriminator": "0",
            "global_name": null, "avatar": null, "bot": true, "verified": true,
            "mfa_enabled": false, "flags": 0
        },
        "guilds": [{ "id": GUILD.to_string(), "unavailable": true }],
        "session_id": "fake-session",
        "resume_gateway_url": resume_url,
        "shard": [0, 1],
        "application": { "id": BOT.to_string(), "flags": 8_953_856 }
    })
}

fn role(id: u64, name: &str, position: i32, tags: Value) -> Value {
    json!({
        "id": id.to_string(), "name": name, "color": 0,
        "colors": { "primary_color": 0, "secondary_color": null, "tertiary_color": null },
        "hoist": false, "icon": null, "unicode_emoji": null, "position": position,
        "permissions": "0", "managed": tags.get("bot_id").is_some(), "mentionable": false,
        "flags": 0, "tags": tags
    })
}

/// Gateway GUILD_CREATE (`d`): the guild with its channels, roles and `threads` (the
/// active threads, as Discord sends them).
pub fn guild_create(threads: Vec<Value>) -> Value {
    let mut guild = json!({
        "id": GUILD.to_string(),
        "name": "Acme Community",
        "icon": null, "icon_hash": null, "splash": null, "discovery_splash": null,
        "owner_id": ALICE.to_string(),
        "afk_channel_id": null, "afk_timeout": 300,
        "widget_enabled": false, "widget_channel_id": null,
        "verification_level": 1, "default_message_notifications": 1,
        "explicit_content_filter": 2,
        "roles": [
            role(GUILD, "@everyone", 0, json!({})),
            role(BOT_ROLE, "SiteAssist", 1, json!({ "bot_id": BOT.to_string() })),
        ],
    });
    let rest = json!({
        "emojis": [], "features": ["COMMUNITY"], "mfa_level": 0,
        "application_id": null, "system_channel_id": SUPPORT.to_string(),
        "system_channel_flags": 0, "rules_channel_id": null,
        "max_presences": null, "max_members": 500_000, "vanity_url_code": null,
        "description": null, "banner": null, "premium_tier": 0,
        "premium_subscription_count": 0, "preferred_locale": "en-US",
        "public_updates_channel_id": null, "max_video_channel_users": 25,
        "max_stage_video_channel_users": 50, "nsfw_level": 0, "stickers": [],
        "premium_progress_bar_enabled": false, "safety_alerts_channel_id": null,
        "incidents_data": null,
        "joined_at": TIMESTAMP, "large": false, "unavailable": false, "member_count": 3,
        "voice_states": [], "members": [], "channels": guild_channels(),
        "threads": threads, "presences": [], "stage_instances": [],
        "guild_scheduled_events": []
    });
    // Two halves: one `json!` this size exceeds the macro recursion limit.
    let object = guild.as_object_mut().unwrap();
    object.extend(rest.as_object().unwrap().clone());
    guild
}

/// A MESSAGE_CREATE (`d`); adjust fields with [`Msg`] builders.
#[derive(Clone, Debug)]
pub struct Msg {
    pub id: u64,
    pub channel: u64,
    /// `None` for a DM.
    pub guild: Option<u64>,
    pub author: Value,
    pub content: String,
    pub mentions: Vec<Value>,
    pub mention_roles: Vec<u64>,
    /// 0 default, 19 reply, 7 member join, ...
    pub kind: u8,
    pub webhook_id: Option<u64>,
}

impl Msg {
    /// Alice writes `content` in a guild channel.
    pub fn in_guild(id: u64, channel: u64, content: &str) -> Self {
        Self {
            id,
            channel,
            guild: Some(GUILD),
            author: alice(),
            content: content.to_string(),
            mentions: vec![],
            mention_roles: vec![],
            kind: 0,
            webhook_id: None,
        }
    }

    /// Alice mentions the bot: `<@BOT> {question}`.
    pub fn mention(id: u64, channel: u64, question: &str) -> Self {
        let mut m = Self::in_guild(id, channel, &format!("<@{BOT}> {question}"));
        m.mentions = vec![bot_user()];
        m
    }

    /// Alice writes to the bot in her DM.
    pub fn dm(id: u64, content: &str) -> Self {
        Self { guild: None, ..Self::in_guild(id, DM, content) }
    }

    /// The `d` of MESSAGE_CREATE.
    pub fn json(&self) -> Value {
        let mentions: Vec<Value> = self
            .mentions
            .iter()
            .map(|u| {
                let mut u = u.clone();
                if self.guild.is_some() {
                    u["member"] = json!({ "roles": [], "joined_at": TIMESTAMP, "deaf": false, "mute": false, "flags": 0 });
                }
                u
            })
            .collect();
        let mut d = json!({
            "id": self.id.to_string(),
            "channel_id": self.channel.to_string(),
            "author": self.author,
            "content": self.content,
            "timestamp": TIMESTAMP,
            "edited_timestamp": null,
            "tts": false,
            "mention_everyone": false,
            "mentions": mentions,
            "mention_roles": self.mention_roles.iter().map(u64::to_string).collect::<Vec<_>>(),
            "attachments": [],
            "embeds": [],
            "pinned": false,
            "type": self.kind,
            "flags": 0,
            "components": [],
            "nonce": format!("{}", self.id + 7),
            "webhook_id": self.webhook_id.map(|w| w.to_string())
        });
        if let Some(g) = self.guild {
            d["guild_id"] = json!(g.to_string());
            d["member"] = json!({
                "roles": [], "joined_at": TIMESTAMP, "deaf": false, "mute": false, "flags": 0,
                "nick": null, "avatar": null, "premium_since": null, "pending": false,
                "communication_disabled_until": null
            });
        }
        d
    }
}

/// A MESSAGE_REACTION_ADD (`added`) or MESSAGE_REACTION_REMOVE (`d`) by `user` on
/// `message` in `channel`. `message_author` is only sent on adds, as Discord does.
pub fn reaction(
    added: bool,
    user: &Value,
    channel: u64,
    message: u64,
    message_author: u64,
    emoji: &str,
) -> Value {
    let mut d = json!({
        "user_id": user["id"],
        "channel_id": channel.to_string(),
        "message_id": message.to_string(),
        "guild_id": GUILD.to_string(),
        "emoji": { "id": null, "name": emoji },
        "burst": false,
        "type": 0
    });
    if added {
        d["message_author_id"] = json!(message_author.to_string());
        d["burst_colors"] = json!([]);
        d["member"] = json!({
            "user": user, "roles": [], "joined_at": TIMESTAMP, "deaf": false, "mute": false,
            "flags": 0, "nick": null, "avatar": null, "premium_since": null, "pending": false,
            "communication_disabled_until": null
        });
    }
    d
}

/// A message object as the REST API returns it (no `guild_id`, no `member`).
pub fn rest_message(id: u64, channel: u64, content: &str) -> Value {
    json!({
        "id": id.to_string(), "channel_id": channel.to_string(), "author": bot_user(),
        "content": content, "timestamp": TIMESTAMP, "edited_timestamp": null, "tts": false,
        "mention_everyone": false, "mentions": [], "mention_roles": [], "attachments": [],
        "embeds": [], "pinned": false, "type": 0, "flags": 0, "components": []
    })
}
