//! Operations: the health, readiness and metrics endpoints, and the metric names the
//! rest of the crate records.

pub mod health;
pub mod metrics;
pub mod server;
pub mod store_probe;
