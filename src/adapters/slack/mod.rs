//! Slack: threads become SiteAssist conversations, answers stream by `chat.update`,
//! reactions give feedback. The config section builds without the `slack` feature;
//! everything that talks to Slack needs it.

pub mod config;
