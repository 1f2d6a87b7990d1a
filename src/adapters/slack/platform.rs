//! Slack as a [`Platform`]: its section, its conventional environment names, its
//! credential check and its run.

use super::config::SlackSettings;
use crate::platform::{Platform, PlatformConfig, PlatformError, RunContext, SectionError};
use crate::siteassist::client::Client;
use async_trait::async_trait;
use std::any::Any;
use std::sync::Arc;

/// The Slack platform, as listed in [`crate::adapters::PLATFORMS`].
pub struct Slack;

impl Platform for Slack {
    fn name(&self) -> &'static str {
        "slack"
    }

    fn title(&self) -> &'static str {
        "Slack"
    }

    fn conventional_env(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("SLACK_BOT_TOKEN", "bot_token"),
            ("SLACK_APP_TOKEN", "app_token"),
            ("SLACK_SIGNING_SECRET", "signing_secret"),
        ]
    }

    fn list_keys(&self) -> &'static [&'static str] {
        &["auto_respond_channels", "allow_channels", "deny_channels", "suggested_prompts"]
    }

    fn configure(&self, section: config::Value) -> Result<Arc<dyn PlatformConfig>, SectionError> {
        let settings: SlackSettings =
            section.try_deserialize().map_err(|e| SectionError::Shape(format!("[slack]: {e}")))?;
        settings.validate().map_err(|(key, reason)| SectionError::Invalid { key, reason })?;
        if settings.enabled && !cfg!(feature = "slack") {
            let reason = "is true, but this build has no `slack` feature".into();
            return Err(SectionError::Invalid { key: "slack.enabled", reason });
        }
        Ok(Arc::new(settings))
    }
}

#[async_trait]
impl PlatformConfig for SlackSettings {
    fn enabled(&self) -> bool {
        self.enabled
    }

    fn has_credentials(&self) -> bool {
        !self.bot_token.is_empty()
    }

    fn masked_toml(&self) -> String {
        // Secrets serialise as "***".
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# could not print: {e}\n"))
    }

    #[cfg(feature = "slack")]
    async fn check(&self, client: Client) -> Result<String, String> {
        let store = Arc::new(crate::store::MemoryStore::new());
        let cfg = crate::bridge::BridgeConfig::default();
        match super::SlackBridge::connect(self, store, client, cfg).await {
            Ok(_) => Ok("bot token accepted (auth.test)".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    #[cfg(not(feature = "slack"))]
    async fn check(&self, _: Client) -> Result<String, String> {
        Err("this build has no `slack` feature".into())
    }

    #[cfg(feature = "slack")]
    async fn run(&self, ctx: RunContext) -> Result<(), PlatformError> {
        let RunContext { store, client, bridge, grace, readiness, shutdown } = ctx;
        super::run(self, store, client, bridge, grace, readiness, shutdown)
            .await
            .map_err(PlatformError::new)
    }

    #[cfg(not(feature = "slack"))]
    async fn run(&self, _: RunContext) -> Result<(), PlatformError> {
        // `configure` refuses `enabled` in such a build, so this is never reached.
        Err(PlatformError(Box::from("this build has no `slack` feature")))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
