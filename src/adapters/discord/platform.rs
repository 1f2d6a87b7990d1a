//! Discord as a [`Platform`]: its section, its conventional environment name, its
//! credential check and its run.

use super::config::DiscordSettings;
use crate::platform::{Platform, PlatformConfig, PlatformError, RunContext, SectionError};
use crate::siteassist::client::Client;
use async_trait::async_trait;
use std::any::Any;
use std::sync::Arc;

/// The Discord platform, as listed in [`crate::adapters::PLATFORMS`].
pub struct Discord;

impl Platform for Discord {
    fn name(&self) -> &'static str {
        "discord"
    }

    fn title(&self) -> &'static str {
        "Discord"
    }

    fn conventional_env(&self) -> &'static [(&'static str, &'static str)] {
        &[("DISCORD_TOKEN", "token")]
    }

    fn list_keys(&self) -> &'static [&'static str] {
        &["auto_respond_channels", "allow_channels", "deny_channels", "command_guilds"]
    }

    fn configure(&self, section: config::Value) -> Result<Arc<dyn PlatformConfig>, SectionError> {
        let settings: DiscordSettings = section
            .try_deserialize()
            .map_err(|e| SectionError::Shape(format!("[discord]: {e}")))?;
        settings.validate().map_err(|(key, reason)| SectionError::Invalid { key, reason })?;
        if settings.enabled && !cfg!(feature = "discord") {
            let reason = "is true, but this build has no `discord` feature".into();
            return Err(SectionError::Invalid { key: "discord.enabled", reason });
        }
        Ok(Arc::new(settings))
    }
}

#[async_trait]
impl PlatformConfig for DiscordSettings {
    fn enabled(&self) -> bool {
        self.enabled
    }

    fn has_credentials(&self) -> bool {
        !self.token.is_empty()
    }

    fn masked_toml(&self) -> String {
        // Secrets serialise as "***".
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# could not print: {e}\n"))
    }

    #[cfg(feature = "discord")]
    async fn check(&self, client: Client) -> Result<String, String> {
        let store = Arc::new(crate::store::MemoryStore::new());
        let cfg = crate::bridge::BridgeConfig::default();
        match super::DiscordBot::connect(self, store, client, cfg).await {
            Ok(bot) => Ok(format!("bot token accepted (bot user {})", bot.user_id())),
            Err(e) => Err(e.to_string()),
        }
    }

    #[cfg(not(feature = "discord"))]
    async fn check(&self, _: Client) -> Result<String, String> {
        Err("this build has no `discord` feature".into())
    }

    #[cfg(feature = "discord")]
    async fn run(&self, ctx: RunContext) -> Result<(), PlatformError> {
        let RunContext { store, client, bridge, grace, readiness, shutdown } = ctx;
        super::run(self, store, client, bridge, grace, readiness, shutdown)
            .await
            .map_err(PlatformError::new)
    }

    #[cfg(not(feature = "discord"))]
    async fn run(&self, _: RunContext) -> Result<(), PlatformError> {
        // `configure` refuses `enabled` in such a build, so this is never reached.
        Err(PlatformError(Box::from("this build has no `discord` feature")))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
