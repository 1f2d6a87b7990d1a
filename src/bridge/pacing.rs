//! Edit budgets shared by every reply in a channel (and workspace): the async side of
//! [`super::throttle::BudgetWindow`], which holds the pure rules.
//!
//! The workspace budget is counted by the platform per app, not per process, so with
//! several replicas each keeps an equal share of it ([`split`]): the budget divided by
//! the replicas alive at its last heartbeat ([`Replica::live_replicas`]). A share,
//! rather than a window kept in the store, costs no store round trip per edit; the
//! price is that an idle replica's share goes unused, and that for one heartbeat after
//! a replica joins or dies the shares are out of date (a window is rebuilt, empty, when
//! its share changes). Alone (sled, memory) the share is the whole budget.
//!
//! The channel budget is not split: a channel is mostly answered in by one replica at a
//! time, and a third of Slack's 5 edits per 5 s made every reply edit once in 5 s (the
//! 90-question run went from 4 s to 16 s). Replicas answering in one channel at once
//! can exceed it together; sharing it needs windows in the store (not built yet).

use super::adapter::Budget;
use super::ids::{ChannelKey, WorkspaceKey};
use super::replica::Replica;
use super::throttle::{try_acquire_all, BudgetWindow};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The budgets one reply must respect.
#[derive(Clone, Debug)]
pub(crate) struct BudgetKeys {
    channel: String,
    workspace: Option<String>,
}

impl BudgetKeys {
    pub(crate) fn new(channel: &ChannelKey, workspace: Option<&WorkspaceKey>) -> Self {
        Self {
            channel: format!("channel:{channel}"),
            workspace: workspace.map(|w| format!("workspace:{w}")),
        }
    }
}

/// One replica's share of `budget` when `replicas` are alive: at least one action per
/// window, so that no replica is starved (N replicas may then exceed a budget smaller
/// than N, which no platform budget is).
pub(crate) fn split(budget: Budget, replicas: usize) -> Budget {
    let n = u32::try_from(replicas.max(1)).unwrap_or(u32::MAX);
    Budget { actions: (budget.actions / n).max(1), window: budget.window }
}

/// Budget windows by key, each with the number of replicas its share was cut for.
type Windows = HashMap<String, (usize, BudgetWindow)>;

/// Makes `key`'s window the share of `budget` for `replicas`, rebuilding it (empty)
/// if it was cut for another count; returns it.
fn window<'a>(
    windows: &'a mut Windows,
    key: &str,
    budget: Budget,
    replicas: usize,
) -> &'a mut BudgetWindow {
    let entry = windows
        .entry(key.to_owned())
        .or_insert_with(|| (replicas, BudgetWindow::new(split(budget, replicas))));
    if entry.0 != replicas {
        *entry = (replicas, BudgetWindow::new(split(budget, replicas)));
    }
    &mut entry.1
}

pub(crate) struct Pacing {
    channel_budget: Budget,
    workspace_budget: Option<Budget>,
    windows: Mutex<Windows>,
    replica: Arc<Replica>,
}

impl Pacing {
    pub(crate) fn new(
        channel_budget: Budget,
        workspace_budget: Option<Budget>,
        replica: Arc<Replica>,
    ) -> Self {
        Self { channel_budget, workspace_budget, windows: Mutex::new(HashMap::new()), replica }
    }

    fn each<R>(&self, keys: &BudgetKeys, mut f: impl FnMut(&mut BudgetWindow) -> R) -> Vec<R> {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let n = self.replica.live_replicas();
        let mut out = Vec::with_capacity(2);
        out.push(f(window(&mut windows, &keys.channel, self.channel_budget, 1)));
        if let (Some(key), Some(budget)) = (&keys.workspace, self.workspace_budget) {
            out.push(f(window(&mut windows, key, budget, n)));
        }
        out
    }

    /// When the next action fits every budget of `keys` (peek; takes nothing).
    pub(crate) fn available_at(&self, keys: &BudgetKeys, now: Instant) -> Instant {
        self.each(keys, |w| w.available_at(now)).into_iter().max().unwrap_or(now)
    }

    /// Waits for a slot in every budget of `keys` and takes them all at once (or none:
    /// a free channel slot must not be spent on an edit the workspace budget blocks).
    pub(crate) async fn acquire(&self, keys: &BudgetKeys) {
        loop {
            let ready = {
                let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
                let n = self.replica.live_replicas();
                window(&mut windows, &keys.channel, self.channel_budget, 1);
                if let (Some(k), Some(b)) = (&keys.workspace, self.workspace_budget) {
                    window(&mut windows, k, b, n);
                }
                let now = Instant::now();
                let result = match &keys.workspace {
                    Some(ws) if self.workspace_budget.is_some() => {
                        match windows.get_disjoint_mut([&keys.channel, ws]) {
                            [Some((_, ch)), Some((_, ws))] => try_acquire_all(&mut [ch, ws], now),
                            _ => Ok(()),
                        }
                    }
                    _ => match windows.get_mut(&keys.channel) {
                        Some((_, ch)) => ch.try_acquire(now),
                        None => Ok(()),
                    },
                };
                match result {
                    Ok(()) => return,
                    Err(ready) => ready,
                }
            };
            tokio::time::sleep_until(tokio::time::Instant::from_std(ready)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_budget_is_split_between_live_replicas_never_below_one() {
        let b = Budget { actions: 50, window: Duration::from_secs(60) };
        assert_eq!(split(b, 0).actions, 50, "alone");
        assert_eq!(split(b, 1).actions, 50);
        assert_eq!(split(b, 3).actions, 16, "3 x 16 <= 50");
        assert_eq!(split(b, 100).actions, 1, "never starved");
        assert_eq!(split(b, 3).window, b.window);
    }

    #[tokio::test]
    async fn a_replica_paces_to_its_share_of_the_live_replicas() {
        let store: Arc<dyn crate::store::Store> = Arc::new(crate::store::MemoryStore::new_shared());
        let ttl = Duration::from_secs(60);
        let _others =
            [Replica::join(store.clone(), ttl).await, Replica::join(store.clone(), ttl).await];
        let me = Replica::join(store.clone(), ttl).await.unwrap();
        assert_eq!(me.live_replicas(), 3);
        let budget = Budget { actions: 6, window: Duration::from_secs(60) };
        let wide = Budget { actions: 100, window: Duration::from_secs(60) };
        // The workspace budget is split; the channel budget (wide here) is not.
        let pacing = Pacing::new(wide, Some(budget), me);
        let keys = BudgetKeys::new(&ChannelKey::new("c"), Some(&WorkspaceKey::new("w")));
        pacing.acquire(&keys).await;
        pacing.acquire(&keys).await;
        let now = Instant::now();
        assert!(pacing.available_at(&keys, now) > now + Duration::from_secs(50), "2 of 6 used up");
        // Alone, the whole budget.
        let alone = Pacing::new(wide, Some(budget), Replica::solo());
        for _ in 0..6 {
            alone.acquire(&keys).await;
        }
        assert!(alone.available_at(&keys, Instant::now()) > Instant::now());
        // The channel budget is a replica's own.
        let channel = Pacing::new(budget, None, pacing.replica.clone());
        let keys = BudgetKeys::new(&ChannelKey::new("c"), None);
        for _ in 0..6 {
            channel.acquire(&keys).await;
        }
    }
}
