//! `[discord]`: owned by the Discord adapter, compiled even without the `discord`
//! feature so a config file stays valid whichever features a build has.

use crate::secret::Secret;
use serde::{Deserialize, Serialize};

/// `[discord]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordSettings {
    /// Run the Discord adapter.
    pub enabled: bool,
    /// Bot token; also `DISCORD_TOKEN`.
    pub token: Secret,
    /// Channel or forum ids where every new top-level message (or forum post) is answered
    /// without a mention.
    pub auto_respond_channels: Vec<String>,
    /// Channel or forum ids the bot answers in (a thread or post counts as its parent);
    /// empty for every channel it can see. DMs are not channels and are always answered.
    pub allow_channels: Vec<String>,
    /// Channel or forum ids the bot never answers in (their threads and posts neither);
    /// wins over `allow_channels`.
    pub deny_channels: Vec<String>,
    /// Longest message before an answer continues in a new one (Discord's limit is 2,000).
    pub max_message_chars: usize,
    /// REST API base URL; empty for Discord's own (tests point it at a fake).
    pub api_url: String,
    /// Gateway URL; empty to ask the REST API (tests point it at a fake).
    pub gateway_url: String,
    /// Shards this process runs: empty for one shard, or `FIRST-LAST/TOTAL` (e.g. `0-1/4`)
    /// to split guilds across processes.
    pub shards: String,
}

impl DiscordSettings {
    /// Checks what serde cannot; `Err((key, reason))`.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if !self.enabled {
            return Ok(());
        }
        if self.token.is_empty() {
            return Err((
                "discord.token",
                "is required when discord.enabled (or set DISCORD_TOKEN)".into(),
            ));
        }
        if !(100..=2000).contains(&self.max_message_chars) {
            return Err(("discord.max_message_chars", "must be between 100 and 2000".into()));
        }
        if !self.shards.trim().is_empty() && parse_shards(&self.shards).is_none() {
            return Err((
                "discord.shards",
                format!("{:?} is not FIRST-LAST/TOTAL, e.g. 0-1/4", self.shards),
            ));
        }
        for (key, list) in [
            ("discord.allow_channels", &self.allow_channels),
            ("discord.deny_channels", &self.deny_channels),
        ] {
            // A channel name where an id belongs would silently match nothing: with an
            // allow list, the bot would go quiet everywhere.
            if let Some(bad) = list.iter().find(|s| parse_channel_id(s) == Some(None)) {
                return Err((
                    key,
                    format!(
                        "{bad:?} is not a channel id (Developer Mode on, then right-click \
                         the channel → Copy Channel ID)"
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// A configured channel id: `None` for a blank entry (ignored), `Some(None)` for one
/// that is not a snowflake, `Some(Some(id))` otherwise.
pub fn parse_channel_id(raw: &str) -> Option<Option<u64>> {
    let raw = raw.trim();
    (!raw.is_empty()).then(|| raw.parse().ok())
}

/// Parses `FIRST-LAST/TOTAL` into `(first, last, total)` with `first <= last < total`.
pub fn parse_shards(spec: &str) -> Option<(u32, u32, u32)> {
    let (range, total) = spec.trim().split_once('/')?;
    let (first, last) = range.split_once('-')?;
    let (first, last, total) =
        (first.trim().parse().ok()?, last.trim().parse().ok()?, total.trim().parse().ok()?);
    (first <= last && last < total).then_some((first, last, total))
}

#[cfg(test)]
mod tests {
    use super::{parse_channel_id, parse_shards};

    #[test]
    fn channel_ids() {
        assert_eq!(parse_channel_id(" 123456789012345678 "), Some(Some(123_456_789_012_345_678)));
        assert_eq!(parse_channel_id("  "), None);
        assert_eq!(parse_channel_id("#support"), Some(None));
        assert_eq!(parse_channel_id("-1"), Some(None));
    }

    #[test]
    fn shard_specs() {
        assert_eq!(parse_shards("0-1/4"), Some((0, 1, 4)));
        assert_eq!(parse_shards(" 2-2/3 "), Some((2, 2, 3)));
        assert_eq!(parse_shards("3-1/4"), None);
        assert_eq!(parse_shards("0-4/4"), None);
        assert_eq!(parse_shards("x"), None);
    }
}
