//! Discord: mentions open threads, answers stream by edits, reactions give feedback.
//! Everything but the config section needs the `discord` feature.

pub mod config;
