//! Whether the gateway is up, for `/readyz`, from the adapter's reports: every shard
//! this process runs must be connected. A shard handed to another replica
//! (`discord.shards = "auto"`) is stopped on purpose; its disconnect is not an outage.

use super::ingress::Handled;
use std::collections::BTreeSet;

/// What the readiness report should say after a report.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Every shard run here is connected.
    Up,
    /// A shard run here lost its connection (with serenity's stage).
    Lost(String),
}

/// The shards that are down, among those this process runs.
#[derive(Default)]
pub(crate) struct GatewayHealth {
    down: BTreeSet<u32>,
    /// The shards run here, once leases say (`None`: every shard reported counts).
    running: Option<BTreeSet<u32>>,
}

impl GatewayHealth {
    /// Takes in one report; `None` when readiness does not change.
    pub(crate) fn on(&mut self, report: &Handled) -> Option<Verdict> {
        match report {
            Handled::Ready => Some(Verdict::Up),
            Handled::Connection { shard, up: true, .. } => {
                self.down.remove(shard);
                self.down.is_empty().then_some(Verdict::Up)
            }
            Handled::Connection { shard, up: false, stage } => {
                if self.running.as_ref().is_some_and(|r| !r.contains(shard)) {
                    return None;
                }
                self.down.insert(*shard);
                Some(Verdict::Lost(format!("gateway shard {shard} {stage}")))
            }
            Handled::Shards { running } => {
                let running: BTreeSet<u32> = running.iter().copied().collect();
                self.down.retain(|s| running.contains(s));
                self.running = Some(running);
                self.down.is_empty().then_some(Verdict::Up)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(shard: u32, up: bool) -> Handled {
        Handled::Connection { shard, up, stage: if up { "Connected" } else { "Resuming" }.into() }
    }

    #[test]
    fn a_dropped_shard_is_an_outage_until_every_shard_is_back() {
        let mut h = GatewayHealth::default();
        assert_eq!(h.on(&conn(0, true)), Some(Verdict::Up));
        assert!(
            matches!(h.on(&conn(1, false)), Some(Verdict::Lost(why)) if why.contains("shard 1"))
        );
        assert!(matches!(h.on(&conn(0, false)), Some(Verdict::Lost(_))));
        assert_eq!(h.on(&conn(0, true)), None, "shard 1 is still down");
        assert_eq!(h.on(&conn(1, true)), Some(Verdict::Up));
    }

    #[test]
    fn a_shard_handed_to_another_replica_is_not_an_outage() {
        let mut h = GatewayHealth::default();
        h.on(&Handled::Shards { running: vec![0, 1, 2, 3] });
        // Handing 2 and 3 back: their disconnects may come before or after the report.
        assert!(matches!(h.on(&conn(3, false)), Some(Verdict::Lost(_))));
        assert_eq!(h.on(&Handled::Shards { running: vec![0, 1] }), Some(Verdict::Up));
        assert_eq!(h.on(&conn(2, false)), None);
        assert!(matches!(h.on(&conn(1, false)), Some(Verdict::Lost(_))));
    }
}
