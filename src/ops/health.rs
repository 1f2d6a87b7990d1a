//! Readiness: the store answers, every enabled adapter is connected, and SiteAssist
//! answered within the last minute. Components report in; [`Readiness::check`] decides.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How recently SiteAssist must have answered for the bridge to be ready.
pub const SITEASSIST_FRESHNESS: Duration = Duration::from_secs(60);

/// Shared readiness state. Cheap to clone.
#[derive(Clone, Default)]
pub struct Readiness {
    adapters: Arc<Mutex<BTreeMap<&'static str, Result<(), String>>>>,
}

impl Readiness {
    /// Declares an adapter that must be connected (it starts as not connected).
    pub fn expect_adapter(&self, name: &'static str) {
        self.lock().insert(name, Err("not connected yet".into()));
    }

    /// An adapter connected (or reconnected).
    pub fn adapter_up(&self, name: &'static str) {
        self.lock().insert(name, Ok(()));
    }

    /// An adapter lost its connection, and why.
    pub fn adapter_down(&self, name: &'static str, why: impl Into<String>) {
        self.lock().insert(name, Err(why.into()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, Result<(), String>>> {
        self.adapters.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Ready, or the reasons it is not. Pure apart from reading the shared map.
    pub fn check(
        &self,
        now: Instant,
        store_ok: Result<(), String>,
        siteassist_last_ok: Option<Instant>,
    ) -> Result<(), Vec<String>> {
        let mut reasons = Vec::new();
        if let Err(e) = store_ok {
            reasons.push(format!("store: {e}"));
        }
        for (name, state) in self.lock().iter() {
            if let Err(e) = state {
                reasons.push(format!("{name}: {e}"));
            }
        }
        match siteassist_last_ok {
            Some(t) if now.saturating_duration_since(t) <= SITEASSIST_FRESHNESS => {}
            Some(t) => reasons.push(format!(
                "siteassist: no successful answer for {}s",
                now.saturating_duration_since(t).as_secs()
            )),
            None => reasons.push("siteassist: not reached yet".into()),
        }
        if reasons.is_empty() {
            Ok(())
        } else {
            Err(reasons)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_table() {
        let now = Instant::now();
        let r = Readiness::default();
        assert!(r.check(now, Ok(()), Some(now)).is_ok());
        assert_eq!(r.check(now, Ok(()), None).unwrap_err(), vec!["siteassist: not reached yet"]);
        let stale = now.checked_sub(Duration::from_secs(61)).unwrap();
        assert!(r.check(now, Ok(()), Some(stale)).unwrap_err()[0]
            .contains("no successful answer for 61s"));
        r.expect_adapter("slack");
        assert_eq!(r.check(now, Ok(()), Some(now)).unwrap_err(), vec!["slack: not connected yet"]);
        r.adapter_up("slack");
        assert!(r.check(now, Ok(()), Some(now)).is_ok());
        r.adapter_down("slack", "socket closed");
        let err = r.check(now, Err("locked".into()), Some(now)).unwrap_err();
        assert_eq!(err, vec!["store: locked", "slack: socket closed"]);
    }
}
