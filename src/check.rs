//! `siteassist-bridge check`: connects with the configured credentials and says, per
//! component, what works and what to fix. Each check uses the same connect path the bot
//! itself uses, so a green check means the bot will get at least that far.

use crate::config::Settings;
#[cfg(any(feature = "slack", feature = "discord"))]
use crate::store::MemoryStore;
#[cfg(any(feature = "slack", feature = "discord"))]
use std::sync::Arc;

/// One component's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckLine {
    /// `SiteAssist`, `Slack` or `Discord`.
    pub component: &'static str,
    /// Whether it works.
    pub ok: bool,
    /// What was found, or what failed and what to fix.
    pub detail: String,
}

impl std::fmt::Display for CheckLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mark = if self.ok { "ok  " } else { "FAIL" };
        write!(f, "{mark} {}: {}", self.component, self.detail)
    }
}

/// Checks SiteAssist, and each platform that is enabled or has a token set.
pub async fn run_checks(settings: &Settings) -> Vec<CheckLine> {
    let mut lines = Vec::new();
    let client = if settings.siteassist.publishable_key.is_empty() {
        lines.push(CheckLine {
            component: "SiteAssist",
            ok: true,
            detail: "no publishable key: the built-in simulator will answer \
                     (set SITEASSIST_PUBLISHABLE_KEY for your assistant)"
                .into(),
        });
        None
    } else {
        match crate::app::siteassist_target(settings).await {
            Ok(target) => {
                let line = match target.client.current_project().await {
                    Ok(project) => CheckLine {
                        component: "SiteAssist",
                        ok: true,
                        detail: format!("project {:?} at {}", project.name, settings.siteassist.api_url),
                    },
                    Err(e) => CheckLine {
                        component: "SiteAssist",
                        ok: false,
                        detail: format!(
                            "{e} (check SITEASSIST_PUBLISHABLE_KEY, siteassist.api_url and siteassist.origin)"
                        ),
                    },
                };
                lines.push(line);
                Some(target.client)
            }
            Err(e) => {
                lines.push(CheckLine { component: "SiteAssist", ok: false, detail: e.to_string() });
                None
            }
        }
    };
    #[cfg(any(feature = "slack", feature = "discord"))]
    platform_checks(settings, client, &mut lines).await;
    #[cfg(not(any(feature = "slack", feature = "discord")))]
    let _ = client;
    lines
}

#[cfg(any(feature = "slack", feature = "discord"))]
async fn platform_checks(
    settings: &Settings,
    client: Option<crate::siteassist::client::Client>,
    lines: &mut Vec<CheckLine>,
) {
    // The platform checks need a client object; without a key, one for the default URL
    // serves (they make no SiteAssist call).
    let client = match client {
        Some(c) => c,
        None => {
            match crate::siteassist::client::Client::new(crate::siteassist::client::ClientConfig {
                publishable_key: crate::secret::Secret::new("pk_check"),
                ..Default::default()
            }) {
                Ok(c) => c,
                Err(e) => {
                    lines.push(CheckLine {
                        component: "SiteAssist",
                        ok: false,
                        detail: e.to_string(),
                    });
                    return;
                }
            }
        }
    };
    #[cfg(feature = "slack")]
    if settings.slack.enabled || !settings.slack.bot_token.is_empty() {
        let cfg = crate::bridge::BridgeConfig::default();
        let store = Arc::new(MemoryStore::new());
        let result = crate::adapters::slack::SlackBridge::connect(
            &settings.slack,
            store,
            client.clone(),
            cfg,
        )
        .await;
        lines.push(match result {
            Ok(_) => CheckLine {
                component: "Slack",
                ok: true,
                detail: "bot token accepted (auth.test)".into(),
            },
            Err(e) => CheckLine { component: "Slack", ok: false, detail: e.to_string() },
        });
    }
    #[cfg(feature = "discord")]
    if settings.discord.enabled || !settings.discord.token.is_empty() {
        let cfg = crate::bridge::BridgeConfig::default();
        let store = Arc::new(MemoryStore::new());
        let result = crate::adapters::discord::DiscordBot::connect(
            &settings.discord,
            store,
            client.clone(),
            cfg,
        )
        .await;
        lines.push(match result {
            Ok(bot) => CheckLine {
                component: "Discord",
                ok: true,
                detail: format!("bot token accepted (bot user {})", bot.user_id()),
            },
            Err(e) => CheckLine { component: "Discord", ok: false, detail: e.to_string() },
        });
    }
}
