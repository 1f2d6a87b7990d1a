//! Chat platform adapters: thin translators between a platform and the core.

pub mod console;
