//! `siteassist-bridge check`: connects with the configured credentials and says, per
//! component, what works and what to fix. Each check uses the same connect path the bot
//! itself uses, so a green check means the bot will get at least that far.

use crate::config::Settings;

/// One component's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckLine {
    /// `SiteAssist`, or a platform's [title](crate::platform::Platform::title).
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

/// Checks SiteAssist, and each platform that is enabled or has credentials set.
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
    if settings.store.backend == crate::config::StoreBackend::Postgres {
        lines.push(store_check(settings).await);
    }
    platform_checks(settings, client, &mut lines).await;
    lines
}

/// Connects to the PostgreSQL store (applying its migrations, as a start would) and
/// reads from it. (sled and memory need no check: they are local.)
async fn store_check(settings: &Settings) -> CheckLine {
    let probe = crate::bridge::ids::ThreadKey::new("check:probe");
    let result = match crate::app::open_store(&settings.store).await {
        Ok(store) => store.thread_link(&probe).await.map(|_| ()).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match result {
        Ok(()) => CheckLine {
            component: "Store",
            ok: true,
            detail: "PostgreSQL answers and its schema is current".into(),
        },
        Err(e) => CheckLine {
            component: "Store",
            ok: false,
            detail: format!("{e} (check store.url or DATABASE_URL, and store.ca_file)"),
        },
    }
}

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
    let wanted =
        settings.platforms.iter().filter(|p| p.config.enabled() || p.config.has_credentials());
    for p in wanted {
        let (ok, detail) = match p.config.check(client.clone()).await {
            Ok(found) => (true, found),
            Err(failed) => (false, failed),
        };
        lines.push(CheckLine { component: p.platform.title(), ok, detail });
    }
}
