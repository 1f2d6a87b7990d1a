//! # siteassist-bridge
//!
//! Puts a SiteAssist AI support assistant into chat platforms: each platform thread is
//! one SiteAssist conversation, answers stream into the thread by editing one reply, and
//! reactions on the reply become feedback.
//!
//! ## Map
//! - [`bridge`]: the platform-agnostic core. Adapters hand it [`bridge::event::InboundEvent`]s;
//!   it drops the bot's own events, de-duplicates, runs one ordered worker per thread,
//!   relays the question to SiteAssist and streams the answer back through the
//!   [`bridge::adapter::ChatAdapter`] trait within the platform's limits.
//! - [`siteassist`]: the SiteAssist v2 visitor API client, including the AI SDK v5
//!   UI-message-stream decoder.
//! - [`simulator`]: a SiteAssist-compatible local server. It is the demo backend when no
//!   key is configured and the fake that every test talks to.
//! - [`store`]: durable state (thread → conversation, reply → answer, event claims,
//!   replies in flight) behind the [`store::Store`] trait, with sled and memory backends.
//! - [`adapters`]: one module per platform, each a thin translator, and the one list of
//!   platforms ([`adapters::PLATFORMS`]).
//! - [`platform`]: the interface through which config, app and `check` reach a platform.
//! - [`config`]: typed configuration (defaults < file < environment).
//! - [`ops`]: health, readiness and metrics endpoints, and the metric names.
//! - [`app`]: wiring: builds everything from a config and runs until shutdown.
//!
//! ## Glossary
//! - *thread*: a platform thread, or a DM, or a console session: one conversation.
//! - *visitor*: a SiteAssist end user; each platform user is one visitor (`saVid`).
//! - *reply*: the bot messages that show one answer (a placeholder edited as the answer
//!   streams, plus continuation messages when it is too long for one).

// `pub` only for what main.rs, tests and fuzz targets use; `pub(crate)` elsewhere.
#![warn(unreachable_pub)]

pub mod adapters;
pub mod app;
pub mod bridge;
pub mod check;
pub mod config;
#[cfg(any(all(test, feature = "slack", feature = "discord"), feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
mod newtype;
pub mod ops;
pub mod platform;
pub mod secret;
pub mod simulator;
pub mod siteassist;
pub mod store;
