//! Discord: mentions open threads, answers stream by edits, reactions give feedback.
//! Everything but the config section needs the `discord` feature.
//!
//! Flow: serenity's gateway client delivers events to `ingress`, which gathers facts
//! (where a message is, who wrote it, whom it mentions) and hands an
//! [`InboundEvent`](crate::bridge::event::InboundEvent) to the core, whose rules
//! ([`crate::bridge::decide`]) say whether to answer. Where is Discord's to say: a
//! message at a text channel's top level is answered in a thread started on it, a DM
//! is one conversation, anything else is answered where it was said. The core answers
//! through `egress` (the [`ChatAdapter`](crate::bridge::adapter::ChatAdapter)): a
//! placeholder, edits within Discord's 5-per-5-seconds channel budget, continuation
//! messages past `discord.max_message_chars`. Every message is sent with empty
//! `allowed_mentions`, and [`format::render`] defuses mentions in the text too.
//!
//! Install: [`invite_url`] gives the OAuth2 URL with exactly [`PERMISSIONS`]; the
//! application id is on the developer portal or read from the token by
//! [`application_id_from_token`].

#[cfg(feature = "discord")]
mod bot;
#[cfg(feature = "discord")]
mod commands;
#[cfg(feature = "discord")]
mod components;
pub mod config;
#[cfg(feature = "discord")]
mod directory;
#[cfg(feature = "discord")]
mod egress;
#[cfg(feature = "discord")]
pub mod format;
#[cfg(feature = "discord")]
mod gateway_health;
#[cfg(feature = "discord")]
mod ids;
#[cfg(feature = "discord")]
pub(crate) mod ingress;
#[cfg(feature = "discord")]
mod interactions;
#[cfg(feature = "discord")]
mod invite;
#[cfg(feature = "discord")]
mod lanes;
pub mod platform;
#[cfg(feature = "discord")]
pub(crate) mod reading;
#[cfg(feature = "discord")]
mod rest;
#[cfg(feature = "discord")]
mod shards;

#[cfg(feature = "discord")]
pub use bot::{DiscordBot, DiscordError, MESSAGE_CONTENT_HELP};
#[cfg(feature = "discord")]
pub use ingress::{Handled, Outcome};
#[cfg(feature = "discord")]
pub use invite::{
    application_id_from_token, intent_bits, invite_url, INTENT_BITS, MESSAGE_CONTENT, PERMISSIONS,
    SCOPE,
};
#[cfg(feature = "discord")]
pub use reading::MAX_THREAD_NAME_CHARS;

#[cfg(feature = "discord")]
/// Runs the Discord adapter: connects (and reports it to `readiness`), closes replies a
/// previous run left unfinished, serves until `shutdown` resolves, then gives replies
/// in flight `grace` to finish (`bridge.shutdown`).
pub async fn run(
    settings: &config::DiscordSettings,
    store: std::sync::Arc<dyn crate::store::Store>,
    client: crate::siteassist::client::Client,
    bridge_cfg: crate::bridge::BridgeConfig,
    grace: std::time::Duration,
    readiness: crate::ops::health::Readiness,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), DiscordError> {
    let bot = DiscordBot::connect(settings, store, client, bridge_cfg).await?;
    readiness.adapter_up("discord");
    let probed = bot.bridge().clone();
    readiness.add_probe("discord", move |now| probed.readiness_problem(now));
    // A dropped gateway connection that is not back within a minute makes /readyz fail.
    let mut reports = bot.subscribe();
    let watched = readiness.clone();
    let watcher = tokio::spawn(async move {
        use gateway_health::{GatewayHealth, Verdict};
        use tokio::sync::broadcast::error::RecvError;
        let mut health = GatewayHealth::default();
        loop {
            match reports.recv().await {
                Ok(report) => match health.on(&report) {
                    Some(Verdict::Up) => watched.adapter_up("discord"),
                    Some(Verdict::Lost(why)) => {
                        watched.connection_lost("discord", why, std::time::Instant::now())
                    }
                    None => {}
                },
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            }
        }
    });
    let result = bot.serve(shutdown, grace).await;
    watcher.abort();
    if let Err(e) = &result {
        readiness.adapter_down("discord", e.to_string());
    }
    result
}
