//! The one interface through which the configuration, the app and `check` reach a chat
//! platform. The platforms themselves are listed once, in
//! [`adapters::PLATFORMS`](crate::adapters::PLATFORMS); nothing else names them.
//!
//! A platform owns its config section: it says which conventional environment names and
//! comma-separated list keys the section has, parses and validates it once into its own
//! typed settings ([`Platform::configure`]), and from those can [`check`] its
//! credentials and [`run`].
//!
//! [`check`]: PlatformConfig::check
//! [`run`]: PlatformConfig::run

use crate::bridge::BridgeConfig;
use crate::ops::health::Readiness;
use crate::siteassist::client::Client;
use crate::store::Store;
use async_trait::async_trait;
use std::any::Any;
use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// A chat platform the bridge can run. Implementations are unit structs in the
/// platform's folder, compiled whatever the build's features (so a config file stays
/// valid in every build); what needs the platform's crates is behind its feature.
pub trait Platform: Sync {
    /// Its config section and environment prefix (`slack`: `[slack]`,
    /// `SITEASSIST_BRIDGE__SLACK__…`), and its label in logs, metrics and readiness.
    fn name(&self) -> &'static str;

    /// Its name for people (`Slack`), in `check`'s output.
    fn title(&self) -> &'static str;

    /// Conventional environment names it accepts, each with the key of its section it
    /// sets (`("SLACK_BOT_TOKEN", "bot_token")`). They win over everything else.
    fn conventional_env(&self) -> &'static [(&'static str, &'static str)];

    /// Keys of its section whose environment value is a comma-separated list.
    fn list_keys(&self) -> &'static [&'static str];

    /// Parses and validates its section, already layered (defaults, file, environment).
    fn configure(&self, section: config::Value) -> Result<Arc<dyn PlatformConfig>, SectionError>;
}

/// One platform's parsed section.
#[async_trait]
pub trait PlatformConfig: Debug + Send + Sync {
    /// Whether the bridge runs it.
    fn enabled(&self) -> bool;

    /// Whether credentials are set, so `check` tries it even when it is not enabled.
    fn has_credentials(&self) -> bool;

    /// The section's keys as TOML (no `[header]`, keys in their declared order), with
    /// its secrets masked, for `print-config`.
    fn masked_toml(&self) -> String;

    /// Connects with the configured credentials the way the bot does, and says what
    /// was found (`Ok`) or what failed and how to fix it (`Err`). Makes no SiteAssist
    /// call; `client` is there because the connect path builds the core.
    async fn check(&self, client: Client) -> Result<String, String>;

    /// Runs until `ctx.shutdown` resolves, then gives replies in flight `ctx.grace`.
    /// Returns early only on a failure that will not pass (a refused token).
    async fn run(&self, ctx: RunContext) -> Result<(), PlatformError>;

    /// The typed settings, for code that needs one platform's (`discord-invite`, tests).
    fn as_any(&self) -> &dyn Any;
}

/// A section that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SectionError {
    /// The section does not have the shape of its type (unknown key, wrong type).
    #[error("{0}")]
    Shape(String),
    /// A value is out of range or malformed.
    #[error("{key}: {reason}")]
    Invalid {
        /// The dotted key, such as `slack.bot_token`.
        key: &'static str,
        /// What is wrong and what would be right.
        reason: String,
    },
}

/// What a running platform is given.
pub struct RunContext {
    /// The store every platform shares.
    pub store: Arc<dyn Store>,
    /// SiteAssist.
    pub client: Client,
    /// The core's settings (the platform adds its own answer rules).
    pub bridge: BridgeConfig,
    /// How long replies in flight may take to finish once shutdown starts.
    pub grace: Duration,
    /// Where the platform reports being up or down.
    pub readiness: Readiness,
    /// Resolves when the bridge stops.
    pub shutdown: Pin<Box<dyn Future<Output = ()> + Send>>,
}

/// A platform that stopped with an error.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PlatformError(pub Box<dyn std::error::Error + Send + Sync>);

impl PlatformError {
    /// Wraps a platform's own error.
    pub fn new(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self(Box::new(e))
    }
}
