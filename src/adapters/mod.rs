//! Chat platform adapters: thin translators between a platform and the core.

pub mod console;
pub mod discord;
pub mod slack;
