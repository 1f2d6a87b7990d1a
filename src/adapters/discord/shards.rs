//! Discord shards shared by replicas (`discord.shards = "auto"`).
//!
//! Discord sends each guild's events on one shard (`(guild_id >> 22) % total`), and a
//! shard must run in exactly one process: two sessions of one shard would both receive
//! every event (the claims would still answer each question once, but every event would
//! cost twice). Replicas sharing a store divide the shards through leases in it:
//!
//! - the replicas are counted by their own leases (`replica:<id>`,
//!   [`crate::bridge::replica`]), so a replica that joins or dies changes everyone's
//!   share at the next tick;
//! - each running shard is a lease `discord-shard:<id>`, held as the replica and
//!   renewed every tick; a replica runs at most its fair share,
//!   `ceil(total / replicas)`, and hands back what is over it when another joins;
//! - a shard that stays free for two ticks in a row is taken by whoever sees it, even
//!   above its share, so a shard is never left unrun while the counts settle (a dead
//!   replica's lease and shards expire together, after the lease ttl; a replica
//!   without Discord still counts);
//! - a replica that cannot reach the store keeps running its shards: it cannot tell a
//!   store outage from a rival, and a shard run twice for a moment only costs
//!   duplicates the claims absorb. A lease found taken by another holder is stopped.
//!
//! With a ttl of 8 s and a tick of 2 s, a killed replica's shards are free within 8 s
//! and running elsewhere within about 20 s (serenity boots a shard after a 5 s wait for
//! it to stop, then Discord's 5 s identify spacing).
//!
//! The planning is pure ([`plan`]); [`ShardLeases::tick`] does one round against the
//! store; `bot.rs` starts and stops serenity's shard runners as it says.

use super::ingress::Handled;
use crate::bridge::replica::LEASE_PREFIX;
use crate::store::{Store, StoreError};
use serenity::gateway::ShardManager;
use serenity::model::id::ShardId;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::{broadcast, oneshot, watch};

/// How often leases are renewed and the shards re-divided.
pub(crate) const TICK: Duration = Duration::from_secs(2);

fn shard_key(shard: u32) -> String {
    format!("discord-shard:{shard}")
}

/// What one replica should change this tick.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Free shards to take, lowest first.
    pub take: Vec<u32>,
    /// Held shards to hand back, highest first.
    pub release: Vec<u32>,
}

/// This replica's share of `total` shards among `members` replicas (at least one, this
/// one): `ceil(total / members)`.
pub(crate) fn fair_share(total: u32, members: u32) -> u32 {
    total.div_ceil(members.max(1))
}

/// What to take and release, given the shards this replica holds, the shards nobody
/// holds now, and those nobody held at the previous tick either.
pub(crate) fn plan(
    total: u32,
    members: u32,
    held: &BTreeSet<u32>,
    free: &BTreeSet<u32>,
    free_before: &BTreeSet<u32>,
) -> Plan {
    let fair = fair_share(total, members) as usize;
    if held.len() > fair {
        let release = held.iter().rev().take(held.len() - fair).copied().collect();
        return Plan { take: Vec::new(), release };
    }
    let room = fair - held.len();
    let mut take: BTreeSet<u32> = free.iter().take(room).copied().collect();
    // Nobody took these for a whole tick: the counts are settling (a dead replica's
    // lease not yet expired, say); run them rather than leave a guild unheard.
    take.extend(free.intersection(free_before));
    Plan { take: take.into_iter().collect(), release: Vec::new() }
}

/// What a tick changed: the shards to start and to stop now.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Changes {
    pub start: Vec<u32>,
    pub stop: Vec<u32>,
}

/// This replica's shard leases.
pub(crate) struct ShardLeases {
    store: Arc<dyn Store>,
    holder: String,
    total: u32,
    ttl: Duration,
    held: BTreeSet<u32>,
    free_before: BTreeSet<u32>,
}

impl ShardLeases {
    /// Leases for `total` shards, held as `holder` (the replica's id) for `ttl`.
    pub(crate) fn new(store: Arc<dyn Store>, holder: &str, total: u32, ttl: Duration) -> Self {
        Self {
            store,
            holder: holder.to_owned(),
            total: total.max(1),
            ttl,
            held: BTreeSet::new(),
            free_before: BTreeSet::new(),
        }
    }

    /// The shard count the leases divide.
    pub(crate) fn total(&self) -> u32 {
        self.total
    }

    /// The shards this replica holds.
    pub(crate) fn held(&self) -> &BTreeSet<u32> {
        &self.held
    }

    /// One round: renew the shards held (dropping any another holder took), count the
    /// replicas, and take or hand back shards by [`plan`].
    pub(crate) async fn tick(&mut self, now: SystemTime) -> Result<Changes, StoreError> {
        let store = Arc::clone(&self.store);
        let mut changes = Changes::default();
        for shard in self.held.clone() {
            if !store.take_lease(&shard_key(shard), &self.holder, now, self.ttl).await? {
                tracing::warn!(shard, "another replica took this Discord shard's lease");
                self.held.remove(&shard);
                changes.stop.push(shard);
            }
        }
        let members = store.live_leases(LEASE_PREFIX, now).await?.len().max(1) as u32;
        let mut free = BTreeSet::new();
        for shard in (0..self.total).filter(|s| !self.held.contains(s)) {
            if store.lease_holder(&shard_key(shard), now).await?.is_none() {
                free.insert(shard);
            }
        }
        let plan = plan(self.total, members, &self.held, &free, &self.free_before);
        for shard in plan.release {
            store.release_lease(&shard_key(shard), &self.holder).await?;
            self.held.remove(&shard);
            changes.stop.push(shard);
        }
        for shard in plan.take {
            if store.take_lease(&shard_key(shard), &self.holder, now, self.ttl).await? {
                self.held.insert(shard);
                free.remove(&shard);
                changes.start.push(shard);
            }
        }
        self.free_before = free;
        if !changes.start.is_empty() || !changes.stop.is_empty() {
            let held: Vec<u32> = self.held.iter().copied().collect();
            tracing::info!(?changes.start, ?changes.stop, ?held, members, total = self.total,
                "Discord shards re-divided");
        }
        Ok(changes)
    }

    /// Hands every shard back (a replica stopping): the others take them at their next
    /// tick instead of after the ttl.
    pub(crate) async fn release_all(&mut self) -> Result<(), StoreError> {
        for shard in std::mem::take(&mut self.held) {
            self.store.release_lease(&shard_key(shard), &self.holder).await?;
        }
        Ok(())
    }
}

/// Runs lease rounds every [`TICK`] until `quit`, and runs the shards they give this
/// replica: the first through `first` (the client's start boots it, which also tells
/// serenity the shard count), the others through serenity's shard manager. Returns the
/// leases, to be released once the gateway has stopped.
///
/// Starting and stopping runners is spawned, never awaited here: serenity waits up to
/// 5 s for a shard that is not running to stop before booting it, and the renewals must
/// not wait that long.
pub(crate) async fn divide(
    mut leases: ShardLeases,
    manager: Arc<ShardManager>,
    first: oneshot::Sender<u32>,
    reports: broadcast::Sender<Handled>,
    mut quit: watch::Receiver<bool>,
) -> ShardLeases {
    let mut first = Some(first);
    let (booted, booting) = watch::channel(false);
    loop {
        match leases.tick(SystemTime::now()).await {
            Ok(changes) => {
                for shard in changes.stop.iter().copied() {
                    crate::ops::metrics::discord_shard_running(shard, false);
                    let manager = Arc::clone(&manager);
                    tokio::spawn(async move { manager.shutdown(ShardId(shard), 1000).await });
                }
                for shard in changes.start.iter().copied() {
                    crate::ops::metrics::discord_shard_running(shard, true);
                    if let Some(first) = first.take() {
                        let _ = first.send(shard);
                        let _ = booted.send(true);
                        continue;
                    }
                    let (manager, mut booting) = (Arc::clone(&manager), booting.clone());
                    tokio::spawn(async move {
                        // The client's start must have set the shard count first.
                        let _ = booting.wait_for(|b| *b).await;
                        manager.restart(ShardId(shard)).await
                    });
                }
                if !changes.start.is_empty() || !changes.stop.is_empty() {
                    let running = leases.held().iter().copied().collect();
                    let _ = reports.send(Handled::Shards { running });
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not renew the Discord shard leases"),
        }
        tokio::select! {
            () = tokio::time::sleep(TICK) => {}
            _ = quit.wait_for(|q| *q) => return leases,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    fn set(items: &[u32]) -> BTreeSet<u32> {
        items.iter().copied().collect()
    }

    #[test]
    fn shares_cover_every_shard() {
        assert_eq!(fair_share(4, 1), 4);
        assert_eq!(fair_share(4, 3), 2);
        assert_eq!(fair_share(4, 4), 1);
        assert_eq!(fair_share(4, 0), 4);
        for total in 1..20 {
            for members in 1..10 {
                assert!(fair_share(total, members) * members >= total);
            }
        }
    }

    #[test]
    fn plans_take_up_to_the_share_and_hand_back_what_is_over() {
        // Alone: take all four.
        let p = plan(4, 1, &set(&[]), &set(&[0, 1, 2, 3]), &set(&[]));
        assert_eq!(p, Plan { take: vec![0, 1, 2, 3], release: vec![] });
        // A second replica joined: hand back the top two.
        let p = plan(4, 2, &set(&[0, 1, 2, 3]), &set(&[]), &set(&[]));
        assert_eq!(p, Plan { take: vec![], release: vec![3, 2] });
        // The newcomer takes the two freed ones.
        let p = plan(4, 2, &set(&[]), &set(&[2, 3]), &set(&[]));
        assert_eq!(p.take, [2, 3]);
        // At its share, a replica leaves a freshly free shard to the others...
        let p = plan(4, 2, &set(&[0, 1]), &set(&[3]), &set(&[]));
        assert!(p.take.is_empty());
        // ...but takes one that stayed free for a whole tick.
        let p = plan(4, 2, &set(&[0, 1]), &set(&[3]), &set(&[3]));
        assert_eq!(p.take, [3]);
    }

    #[tokio::test]
    async fn replicas_divide_the_shards_and_take_over_a_dead_ones() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let ttl = Duration::from_secs(8);
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        // A replica's heartbeat, as `bridge::replica` keeps it.
        let beat = |id: &'static str, now: SystemTime| {
            let store = Arc::clone(&store);
            async move { store.take_lease(&format!("{LEASE_PREFIX}{id}"), id, now, ttl).await }
        };
        let mut a = ShardLeases::new(Arc::clone(&store), "a", 4, ttl);
        let mut b = ShardLeases::new(Arc::clone(&store), "b", 4, ttl);
        beat("a", t0).await.unwrap();
        assert_eq!(a.tick(t0).await.unwrap().start, [0, 1, 2, 3]);
        // b joins: it counts two replicas but finds nothing free yet.
        beat("b", t0).await.unwrap();
        assert!(b.tick(t0).await.unwrap().start.is_empty());
        let changes = a.tick(t0 + TICK).await.unwrap();
        assert_eq!(changes.stop, [3, 2]);
        assert_eq!(b.tick(t0 + TICK).await.unwrap().start, [2, 3]);
        assert_eq!((a.held(), b.held()), (&set(&[0, 1]), &set(&[2, 3])));
        // a dies (no more beats or ticks): after the ttl, b takes a's shards as well.
        let mut now = t0 + TICK;
        let mut taken = Vec::new();
        while taken.len() < 2 {
            now += TICK;
            assert!(now < t0 + ttl + TICK * 4, "a's shards never taken over");
            beat("b", now).await.unwrap();
            taken.extend(b.tick(now).await.unwrap().start);
        }
        assert_eq!(b.held(), &set(&[0, 1, 2, 3]));
        // b stops gracefully (its shards, then its replica lease, as `Replica::leave`
        // does): a newcomer takes everything at its first tick.
        b.release_all().await.unwrap();
        store.release_leases_of("b").await.unwrap();
        let mut c = ShardLeases::new(Arc::clone(&store), "c", 4, ttl);
        beat("c", now).await.unwrap();
        assert_eq!(c.tick(now).await.unwrap().start, [0, 1, 2, 3]);
    }
}
