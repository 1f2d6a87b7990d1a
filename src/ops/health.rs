//! Readiness: the store answers, every enabled adapter is connected, and SiteAssist
//! answered within the last minute. Components report in; [`Readiness::check`] decides.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How recently SiteAssist must have answered for the bridge to be ready.
pub const SITEASSIST_FRESHNESS: Duration = Duration::from_secs(60);

/// How long an adapter may be reconnecting (Socket Mode, the gateway) and still count
/// as ready: platforms drop long-lived connections routinely, and a reconnect takes
/// seconds. Past this the bridge reports not ready, so an orchestrator can act.
pub const RECONNECT_GRACE: Duration = Duration::from_secs(60);

/// Where an adapter's connection stands.
#[derive(Clone, Debug)]
enum Connection {
    /// Connected.
    Up,
    /// Not connected, for a reason that will not pass by itself (not yet connected,
    /// stopped with an error).
    Down(String),
    /// Connected before; lost at `since` and reconnecting.
    Lost { since: Instant, why: String },
}

/// A component's own verdict: why it is not ready at this instant, or `None`.
type Probe = Arc<dyn Fn(Instant) -> Option<String> + Send + Sync>;

/// Shared readiness state. Cheap to clone.
#[derive(Clone, Default)]
pub struct Readiness {
    adapters: Arc<Mutex<BTreeMap<&'static str, Connection>>>,
    probes: Arc<Mutex<Vec<(&'static str, Probe)>>>,
}

impl Readiness {
    /// Declares an adapter that must be connected (it starts as not connected).
    pub fn expect_adapter(&self, name: &'static str) {
        self.lock().insert(name, Connection::Down("not connected yet".into()));
    }

    /// An adapter connected (or reconnected).
    pub fn adapter_up(&self, name: &'static str) {
        self.lock().insert(name, Connection::Up);
    }

    /// An adapter stopped, and why: not ready until it is up again.
    pub fn adapter_down(&self, name: &'static str, why: impl Into<String>) {
        self.lock().insert(name, Connection::Down(why.into()));
    }

    /// An adapter's connection dropped at `at` and it is reconnecting: still ready for
    /// [`RECONNECT_GRACE`], not ready after. A later loss before it is back keeps the
    /// first time; an adapter that was never up stays as it was.
    pub fn connection_lost(&self, name: &'static str, why: impl Into<String>, at: Instant) {
        let mut adapters = self.lock();
        if let Some(state @ Connection::Up) = adapters.get_mut(name) {
            *state = Connection::Lost { since: at, why: why.into() };
        }
    }

    /// Adds a component that judges its own readiness (e.g. a bridge whose handoff
    /// sockets keep failing): asked at every check, `name` prefixes its reason.
    pub fn add_probe(
        &self,
        name: &'static str,
        probe: impl Fn(Instant) -> Option<String> + Send + Sync + 'static,
    ) {
        self.probes.lock().unwrap_or_else(|p| p.into_inner()).push((name, Arc::new(probe)));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, Connection>> {
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
            match state {
                Connection::Up => {}
                Connection::Down(why) => reasons.push(format!("{name}: {why}")),
                Connection::Lost { since, why } => {
                    let lost = now.saturating_duration_since(*since);
                    if lost > RECONNECT_GRACE {
                        reasons.push(format!(
                            "{name}: connection lost {}s ago and not back ({why})",
                            lost.as_secs()
                        ));
                    }
                }
            }
        }
        let probes = self.probes.lock().unwrap_or_else(|p| p.into_inner()).clone();
        for (name, probe) in probes {
            if let Some(why) = probe(now) {
                reasons.push(format!("{name}: {why}"));
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

    #[test]
    fn a_lost_connection_is_ready_for_a_minute_then_not() {
        let at = Instant::now();
        let r = Readiness::default();
        r.expect_adapter("discord");
        r.connection_lost("discord", "gateway closed", at);
        assert!(r.check(at, Ok(()), Some(at)).is_err(), "never up: still not connected yet");
        r.adapter_up("discord");
        r.connection_lost("discord", "gateway closed (4000)", at);
        let later = |s| at + Duration::from_secs(s);
        assert!(r.check(later(30), Ok(()), Some(later(30))).is_ok(), "reconnecting is normal");
        // A second loss keeps the first time.
        r.connection_lost("discord", "again", later(50));
        let err = r.check(later(61), Ok(()), Some(later(61))).unwrap_err();
        assert_eq!(
            err,
            vec!["discord: connection lost 61s ago and not back (gateway closed (4000))"]
        );
        r.adapter_up("discord");
        assert!(r.check(later(90), Ok(()), Some(later(90))).is_ok(), "back");
    }

    #[test]
    fn a_probe_that_reports_a_problem_makes_the_bridge_not_ready() {
        let readiness = Readiness::default();
        let now = Instant::now();
        let fresh = Some(now);
        readiness.add_probe("slack", move |at| (at > now).then(|| "sockets failing".to_string()));
        assert_eq!(readiness.check(now, Ok(()), fresh), Ok(()));
        let later = now + Duration::from_secs(1);
        assert_eq!(
            readiness.check(later, Ok(()), fresh),
            Err(vec!["slack: sockets failing".to_string()])
        );
    }
}
