//! Chat platform adapters: thin translators between a platform and the core.
//!
//! # Adding a platform
//! 1. Its folder here, shaped like `slack/` and `discord/`: `config.rs` (its section
//!    type and validation, built without its feature), `platform.rs` (its
//!    [`Platform`]), and behind its feature the ingress (events to facts for
//!    [`crate::bridge::decide`]), the egress (the
//!    [`ChatAdapter`](crate::bridge::adapter::ChatAdapter)), its ids and its format.
//! 2. One line in [`PLATFORMS`] (and its `mod` line above it).
//! 3. Its feature in `Cargo.toml`, in `default`.
//! 4. Its section in `config/default.toml`, every key commented.
//!
//! The configuration, the app, `check`, `print-config` and the deploy-kit tests read the
//! list; nothing else names a platform.

use crate::platform::Platform;

pub mod console;
pub mod discord;
#[cfg(any(feature = "slack", feature = "discord"))]
pub(crate) mod file_fetch;
pub mod slack;

/// Every chat platform this build knows, in the order they start and are checked.
pub static PLATFORMS: &[&dyn Platform] = &[&slack::platform::Slack, &discord::platform::Discord];

/// Whether `s` parses as an `http` or `https` URL with a host (for the platforms' base
/// URL settings).
pub(crate) fn is_http_url(s: &str) -> bool {
    url::Url::parse(s).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
}
