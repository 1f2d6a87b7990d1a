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
    /// Where Discord serves attachments: the only host files are fetched from (tests
    /// point it at a fake).
    pub cdn_url: String,
    /// Shards this process runs: empty for one shard, `FIRST-LAST/TOTAL` (e.g. `0-1/4`)
    /// to split guilds across processes by hand, or `auto` for replicas sharing a
    /// PostgreSQL store to divide Discord's recommended shard count between them
    /// ([`super::shards`]).
    pub shards: String,
    /// Ask for the privileged Message Content intent (needed for auto-respond channels;
    /// mentions, DMs, commands and buttons work without it).
    pub message_content: bool,
    /// Server ids to register the slash commands in; empty for global commands.
    pub command_guilds: Vec<String>,
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
        if !crate::adapters::is_http_url(&self.cdn_url) {
            return Err(("discord.cdn_url", format!("{:?} is not an http(s) URL", self.cdn_url)));
        }
        if !self.message_content && self.auto_respond_channels.iter().any(|c| !c.trim().is_empty())
        {
            return Err((
                "discord.auto_respond_channels",
                "needs discord.message_content = true: without the Message Content intent \
                 Discord sends the bot no text of messages that do not mention it"
                    .into(),
            ));
        }
        if let Some(bad) = self.command_guilds.iter().find(|s| parse_channel_id(s) == Some(None)) {
            return Err((
                "discord.command_guilds",
                format!("{bad:?} is not a server id (right-click the server → Copy Server ID)"),
            ));
        }
        if shard_spec(&self.shards).is_none() {
            return Err((
                "discord.shards",
                format!("{:?} is not FIRST-LAST/TOTAL (e.g. 0-1/4) or auto", self.shards),
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

/// Which shards a process runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardSpec {
    /// One shard: all of the bot's guilds (`discord.shards` empty).
    One,
    /// Shards `first..=last` of `total`, fixed.
    Range {
        /// The first shard this process runs.
        first: u32,
        /// The last shard this process runs (inclusive).
        last: u32,
        /// The shards of all processes together.
        total: u32,
    },
    /// Discord's recommended count, divided among the replicas through store leases.
    Auto,
}

/// Parses `discord.shards`: empty, `FIRST-LAST/TOTAL` or `auto`; `None` if it is none.
pub fn shard_spec(spec: &str) -> Option<ShardSpec> {
    match spec.trim() {
        "" => Some(ShardSpec::One),
        s if s.eq_ignore_ascii_case("auto") => Some(ShardSpec::Auto),
        s => parse_shards(s).map(|(first, last, total)| ShardSpec::Range { first, last, total }),
    }
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
    use super::{parse_channel_id, parse_shards, shard_spec, DiscordSettings, ShardSpec};
    use crate::config::ConfigError;

    /// The `[discord]` section loaded with `vars` as the environment (and `file`).
    fn load(file: Option<&str>, vars: &[(&str, &str)]) -> Result<DiscordSettings, ConfigError> {
        crate::config::load_platform(file, vars)
    }

    #[test]
    fn the_conventional_name_fills_the_token_and_the_section_is_checked() {
        let s = load(None, &[("DISCORD_TOKEN", "discord-token")]).unwrap();
        assert_eq!(s.token.expose(), "discord-token");
        let err = load(
            None,
            &[
                ("SITEASSIST_BRIDGE__DISCORD__ENABLED", "true"),
                ("DISCORD_TOKEN", "t"),
                ("SITEASSIST_BRIDGE__DISCORD__SHARDS", "9"),
            ],
        )
        .unwrap_err();
        assert!(err.to_string().contains("discord.shards"), "{err}");
    }

    #[test]
    fn auto_respond_needs_the_message_content_intent() {
        let vars = [
            ("SITEASSIST_BRIDGE__DISCORD__ENABLED", "true"),
            ("DISCORD_TOKEN", "t"),
            ("SITEASSIST_BRIDGE__DISCORD__MESSAGE_CONTENT", "false"),
        ];
        let s = load(None, &vars).unwrap();
        assert!(!s.message_content && s.command_guilds.is_empty());
        let mut with_auto = vars.to_vec();
        with_auto.push(("SITEASSIST_BRIDGE__DISCORD__AUTO_RESPOND_CHANNELS", "123456789012345678"));
        let err = load(None, &with_auto).unwrap_err().to_string();
        assert!(
            err.contains("discord.auto_respond_channels") && err.contains("message_content"),
            "{err}"
        );
        let guilds = [("SITEASSIST_BRIDGE__DISCORD__COMMAND_GUILDS", "111,222")];
        assert_eq!(load(None, &guilds).unwrap().command_guilds, ["111", "222"]);
    }

    #[test]
    fn a_list_with_one_numeric_value_is_a_list() {
        // Regression: with the config crate's own list parsing, a lone channel id was
        // read as an integer and refused (found by the deploy-kit tests).
        let var = "SITEASSIST_BRIDGE__DISCORD__AUTO_RESPOND_CHANNELS";
        let s = load(None, &[(var, "123456789012345678")]).unwrap();
        assert_eq!(s.auto_respond_channels, vec!["123456789012345678"]);
    }

    #[test]
    fn channel_lists_come_from_the_file_and_from_env_as_comma_lists() {
        let s = load(None, &[]).unwrap();
        assert!(s.allow_channels.is_empty() && s.deny_channels.is_empty());
        let file = "[discord]\nallow_channels = [\"111\"]\ndeny_channels = [\"999\"]\n";
        let s = load(Some(file), &[]).unwrap();
        assert_eq!((s.allow_channels, s.deny_channels), (vec!["111".into()], vec!["999".into()]));
        let s = load(
            Some(file),
            &[
                // One numeric id, as with auto_respond_channels, is still a list.
                ("SITEASSIST_BRIDGE__DISCORD__ALLOW_CHANNELS", "123456789012345678"),
                ("SITEASSIST_BRIDGE__DISCORD__DENY_CHANNELS", "222,333"),
            ],
        )
        .unwrap();
        assert_eq!(s.allow_channels, vec!["123456789012345678"]);
        assert_eq!(s.deny_channels, vec!["222", "333"]);
    }

    #[test]
    fn channel_lists_hold_ids_not_names() {
        let enabled = [("SITEASSIST_BRIDGE__DISCORD__ENABLED", "true"), ("DISCORD_TOKEN", "t")];
        // (variable, value) -> the key the error names, or None when it loads
        let table = [
            ("SITEASSIST_BRIDGE__DISCORD__DENY_CHANNELS", "1,2", None),
            ("SITEASSIST_BRIDGE__DISCORD__DENY_CHANNELS", "1,#help", Some("discord.deny_channels")),
            ("SITEASSIST_BRIDGE__DISCORD__ALLOW_CHANNELS", "help", Some("discord.allow_channels")),
        ];
        for (var, value, key) in table {
            let mut vars = enabled.to_vec();
            vars.push((var, value));
            match (load(None, &vars), key) {
                (Ok(_), None) => {}
                (Err(e), Some(key)) => assert!(e.to_string().contains(key), "{var}={value}: {e}"),
                (result, _) => panic!("{var}={value}: {result:?}"),
            }
        }
    }

    #[test]
    fn channel_ids() {
        assert_eq!(parse_channel_id(" 123456789012345678 "), Some(Some(123_456_789_012_345_678)));
        assert_eq!(parse_channel_id("  "), None);
        assert_eq!(parse_channel_id("#support"), Some(None));
        assert_eq!(parse_channel_id("-1"), Some(None));
    }

    #[test]
    fn shard_specs() {
        assert_eq!(shard_spec(" "), Some(ShardSpec::One));
        assert_eq!(shard_spec("Auto"), Some(ShardSpec::Auto));
        assert_eq!(shard_spec("1-2/4"), Some(ShardSpec::Range { first: 1, last: 2, total: 4 }));
        assert_eq!(shard_spec("automatic"), None);
        assert_eq!(parse_shards("0-1/4"), Some((0, 1, 4)));
        assert_eq!(parse_shards(" 2-2/3 "), Some((2, 2, 3)));
        assert_eq!(parse_shards("3-1/4"), None);
        assert_eq!(parse_shards("0-4/4"), None);
        assert_eq!(parse_shards("x"), None);
    }
}
