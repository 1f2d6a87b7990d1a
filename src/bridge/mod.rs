//! The platform-agnostic core. Names no platform, HTTP or storage crate.

pub mod ids;
