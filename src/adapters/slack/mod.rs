//! Slack: threads become SiteAssist conversations, answers stream natively in threads
//! (`chat.startStream`, see `streams`) or by `chat.update`,
//! reactions and 👍 / 👎 buttons give feedback, a Stop button cuts an answer short.
//! The config section and the (pure) formatter build without the `slack` feature;
//! everything that talks to Slack needs it.

#[cfg(feature = "slack")]
mod assistant;
#[cfg(feature = "slack")]
mod blocks;
#[cfg(feature = "slack")]
mod commands;
pub mod config;
#[cfg(feature = "slack")]
mod egress;
pub mod format;
#[cfg(feature = "slack")]
mod history;
#[cfg(feature = "slack")]
mod ids;
#[cfg(feature = "slack")]
pub(crate) mod ingress;
#[cfg(feature = "slack")]
mod interactions;
pub mod platform;
#[cfg(feature = "slack")]
mod presses;
#[cfg(feature = "slack")]
mod runtime;
#[cfg(feature = "slack")]
pub mod signature;
#[cfg(feature = "slack")]
mod streams;

#[cfg(feature = "slack")]
pub use presses::PressReport;
#[cfg(feature = "slack")]
pub use runtime::{run, Delivered, SlackBridge, SlackError};
