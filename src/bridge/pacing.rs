//! Rate budgets shared by every reply in a channel and a workspace: the async side of
//! [`super::throttle::BudgetWindow`], which holds the pure rules.
//!
//! One [`Pacing`] serves every workspace, and per workspace it knows each method
//! family's allowance: posts and edits share the channel budget, edits alone take
//! the workspace's edit budget ([`Family::Edit`], Slack's `chat.update`; a post is
//! [`Family::Post`], limited per channel), while a platform's native
//! stream methods each have their own workspace budget
//! ([`ChatAdapter::stream_budgets`](super::adapter::ChatAdapter::stream_budgets)), as
//! Slack limits each Web API method separately. Starting a stream makes a message, so
//! it takes a channel slot too.
//!
//! Workspace budgets are counted by the platform per app, not per process, so with
//! several replicas each keeps an equal share of them ([`split`]): the budget divided by
//! the replicas alive at its last heartbeat ([`Replica::live_replicas`]). A share,
//! rather than a window kept in the store, costs no store round trip per call; the
//! price is that an idle replica's share goes unused, and that for one heartbeat after
//! a replica joins or dies the shares are out of date (a window is rebuilt, empty, when
//! its share changes). Alone (sled, memory) the share is the whole budget.
//!
//! The channel budget is not split: a channel is mostly answered in by one replica at a
//! time, and a third of Slack's 5 edits per 5 s made every reply edit once in 5 s (the
//! 90-question run went from 4 s to 16 s). Replicas answering in one channel at once
//! can exceed it together; sharing it needs windows in the store (not built yet).

use super::adapter::{Budget, StreamBudgets};
use super::ids::{ChannelKey, WorkspaceKey};
use super::replica::Replica;
use super::throttle::BudgetWindow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

    /// Where a workspace-wide budget is counted: the workspace, else the channel.
    fn scope(&self) -> &str {
        self.workspace.as_deref().unwrap_or(&self.channel)
    }
}

/// A family of platform calls with a budget of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    /// Edits (Slack's `chat.update`): the channel's budget and the workspace's.
    Edit,
    /// A new message (a placeholder, a continuation, the Stop button below a stream):
    /// the channel's budget only, since Slack limits `chat.postMessage` per channel
    /// ("1 per second", bursts allowed; docs.slack.dev/reference/methods/chat.postMessage,
    /// checked 2026-12) and by a workspace limit of its own, not by `chat.update`'s.
    Post,
    /// Starting a native stream (Slack's `chat.startStream`).
    StreamStart,
    /// Appending to a native stream (Slack's `chat.appendStream`).
    StreamAppend,
    /// Ending a native stream (Slack's `chat.stopStream`).
    StreamStop,
}

/// One replica's share of `budget` when `replicas` are alive: at least one action per
/// window, so that no replica is starved (N replicas may then exceed a budget smaller
/// than N, which no platform budget is).
pub(crate) fn split(budget: Budget, replicas: usize) -> Budget {
    let n = u32::try_from(replicas.max(1)).unwrap_or(u32::MAX);
    Budget { actions: (budget.actions / n).max(1), window: budget.window }
}

/// `budget` with its window a sixtieth longer (a second a minute). The platform counts
/// a call when it arrives, the bridge when it takes the slot: a call sent at the very
/// end of one window that arrives quickly after a slow first call of the same window
/// lands inside the platform's window, one too many. The fake Slack's 30-answer run
/// met exactly that once posts stopped taking `chat.update` slots and the bridge used
/// the whole budget.
fn guarded(budget: Budget) -> Budget {
    Budget { actions: budget.actions, window: budget.window + budget.window / 60 }
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
        .or_insert_with(|| (replicas, BudgetWindow::new(guarded(split(budget, replicas)))));
    if entry.0 != replicas {
        *entry = (replicas, BudgetWindow::new(guarded(split(budget, replicas))));
    }
    &mut entry.1
}

/// Who counts a budget: one channel (this replica's own), or the whole app in a
/// workspace (split between the live replicas).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scope {
    Channel,
    Workspace,
}

pub(crate) struct Pacing {
    channel_budget: Budget,
    workspace_budget: Option<Budget>,
    /// `None`: the platform has no budgets for streams, which then count as edits.
    streams: Option<StreamBudgets>,
    windows: Mutex<Windows>,
    /// Streams open now, per workspace: they share its append budget evenly.
    open: Mutex<HashMap<String, Arc<AtomicUsize>>>,
    replica: Arc<Replica>,
}

/// One open stream, counted in its workspace while this lives (see
/// [`Pacing::open_stream`]).
#[derive(Debug)]
pub(crate) struct OpenStream(Arc<AtomicUsize>);

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Pacing {
    pub(crate) fn new(
        channel_budget: Budget,
        workspace_budget: Option<Budget>,
        streams: Option<StreamBudgets>,
        replica: Arc<Replica>,
    ) -> Self {
        Self {
            channel_budget,
            workspace_budget,
            streams,
            windows: Mutex::new(HashMap::new()),
            open: Mutex::new(HashMap::new()),
            replica,
        }
    }

    /// How many replicas a budget of `scope` is split between now.
    fn sharing(&self, scope: Scope) -> usize {
        match scope {
            Scope::Channel => 1,
            Scope::Workspace => self.replica.live_replicas(),
        }
    }

    /// Counts a stream open in the workspace of `keys` until the result is dropped.
    pub(crate) fn open_stream(&self, keys: &BudgetKeys) -> OpenStream {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(keys.scope().to_string()).or_default().clone();
        count.fetch_add(1, Ordering::Relaxed);
        OpenStream(count)
    }

    /// How long each open stream of the workspace of `keys` leaves between two of its
    /// appends so all of them share the append budget evenly (zero without stream
    /// budgets). Without it, the first appends of many streams spend a whole window's
    /// budget in a burst, and every stream then waits out the rest of the window.
    pub(crate) fn append_share(&self, keys: &BudgetKeys) -> Duration {
        let Some(streams) = self.streams else { return Duration::ZERO };
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.get(keys.scope()).map_or(0, |c| c.load(Ordering::Relaxed)) as u32;
        let share = split(streams.append, self.sharing(Scope::Workspace));
        share.window * count / share.actions.max(1)
    }

    /// The windows (key, budget and who counts it) a call of `family` takes a slot of.
    fn budgets(&self, keys: &BudgetKeys, family: Family) -> Vec<(String, Budget, Scope)> {
        let channel = (keys.channel.clone(), self.channel_budget, Scope::Channel);
        if family == Family::Post {
            return vec![channel];
        }
        let Some(streams) = self.streams.filter(|_| family != Family::Edit) else {
            let mut out = vec![channel];
            if let (Some(key), Some(budget)) = (&keys.workspace, self.workspace_budget) {
                out.push((key.clone(), budget, Scope::Workspace));
            }
            return out;
        };
        let scoped =
            |name: &str, budget| (format!("{name}:{}", keys.scope()), budget, Scope::Workspace);
        match family {
            Family::StreamStart => vec![channel, scoped("stream-start", streams.start)],
            Family::StreamAppend => vec![scoped("stream-append", streams.append)],
            Family::StreamStop => vec![scoped("stream-stop", streams.stop)],
            Family::Edit | Family::Post => unreachable!("handled above"),
        }
    }

    /// Takes a slot of every window of `family` at `now`, or none of them (a free
    /// channel slot must not be spent on an edit the workspace budget blocks): `Err`
    /// holds when they would all be free.
    fn try_take(&self, keys: &BudgetKeys, family: Family, now: Instant) -> Result<(), Instant> {
        let budgets = self.budgets(keys, family);
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let ready = budgets
            .iter()
            .map(|(key, budget, scope)| {
                window(&mut windows, key, *budget, self.sharing(*scope)).available_at(now)
            })
            .max()
            .unwrap_or(now);
        if ready > now {
            return Err(ready);
        }
        for (key, _, _) in &budgets {
            if let Some((_, w)) = windows.get_mut(key) {
                // Free, as just checked under the same lock.
                let _ = w.try_acquire(now);
            }
        }
        Ok(())
    }

    /// When the next call of `family` fits its budgets (peek; takes nothing).
    pub(crate) fn available_for(&self, keys: &BudgetKeys, family: Family, now: Instant) -> Instant {
        let budgets = self.budgets(keys, family);
        let windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        budgets
            .iter()
            .map(|(key, budget, scope)| {
                let n = self.sharing(*scope);
                match windows.get(key) {
                    Some((cut_for, w)) if *cut_for == n => w.available_at(now),
                    _ => BudgetWindow::new(guarded(split(*budget, n))).available_at(now),
                }
            })
            .max()
            .unwrap_or(now)
    }

    /// Waits for a slot in every budget of `family` and takes them all at once.
    pub(crate) async fn acquire_for(&self, keys: &BudgetKeys, family: Family) {
        loop {
            match self.try_take(keys, family, Instant::now()) {
                Ok(()) => return,
                Err(ready) => {
                    tokio::time::sleep_until(tokio::time::Instant::from_std(ready)).await;
                }
            }
        }
    }

    /// Takes the slots of `family` if they are free now; `false` (nothing taken) if not.
    pub(crate) fn try_acquire_now(&self, keys: &BudgetKeys, family: Family) -> bool {
        self.try_take(keys, family, Instant::now()).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::{split, BudgetKeys, Family, Pacing};
    use crate::bridge::adapter::{Budget, StreamBudgets};
    use crate::bridge::ids::{ChannelKey, WorkspaceKey};
    use crate::bridge::replica::Replica;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    fn budget(actions: u32) -> Budget {
        Budget { actions, window: Duration::from_secs(60) }
    }

    #[test]
    fn stream_methods_have_their_own_workspace_budgets() {
        let streams = StreamBudgets { start: budget(2), append: budget(3), stop: budget(1) };
        let pacing = Pacing::new(budget(100), Some(budget(1)), Some(streams), Replica::solo());
        let ws = WorkspaceKey::new("T1");
        let a = BudgetKeys::new(&ChannelKey::new("T1:C1"), Some(&ws));
        let b = BudgetKeys::new(&ChannelKey::new("T1:C2"), Some(&ws));
        // (keys, family, taken?) in order: each family runs out on its own.
        let table = [
            (&a, Family::Edit, true),
            (&b, Family::Edit, false),
            (&a, Family::StreamAppend, true),
            (&b, Family::StreamAppend, true),
            (&a, Family::StreamAppend, true),
            (&b, Family::StreamAppend, false),
            (&a, Family::StreamStart, true),
            (&b, Family::StreamStart, true),
            (&a, Family::StreamStart, false),
            (&a, Family::StreamStop, true),
            (&b, Family::StreamStop, false),
        ];
        for (i, (keys, family, taken)) in table.into_iter().enumerate() {
            assert_eq!(pacing.try_acquire_now(keys, family), taken, "row {i}: {family:?}");
        }
    }

    #[test]
    fn open_streams_share_the_append_budget_evenly() {
        let streams = StreamBudgets { start: budget(20), append: budget(100), stop: budget(20) };
        let pacing = Pacing::new(budget(100), None, Some(streams), Replica::solo());
        let ws = WorkspaceKey::new("T1");
        let keys = BudgetKeys::new(&ChannelKey::new("T1:C1"), Some(&ws));
        let other = BudgetKeys::new(&ChannelKey::new("T2:C1"), Some(&WorkspaceKey::new("T2")));
        assert_eq!(pacing.append_share(&keys), Duration::ZERO);
        let open: Vec<_> = (0..30).map(|_| pacing.open_stream(&keys)).collect();
        assert_eq!(pacing.append_share(&keys), Duration::from_millis(18_000));
        assert_eq!(pacing.append_share(&other), Duration::ZERO, "per workspace");
        drop(open);
        assert_eq!(pacing.append_share(&keys), Duration::ZERO);
    }

    #[test]
    fn without_stream_budgets_streams_count_as_edits() {
        let pacing = Pacing::new(budget(100), Some(budget(2)), None, Replica::solo());
        let ws = WorkspaceKey::new("T1");
        let keys = BudgetKeys::new(&ChannelKey::new("T1:C1"), Some(&ws));
        assert!(pacing.try_acquire_now(&keys, Family::StreamAppend));
        assert!(pacing.try_acquire_now(&keys, Family::Edit));
        assert!(!pacing.try_acquire_now(&keys, Family::StreamStart));
    }

    #[test]
    fn a_start_takes_a_channel_slot_or_nothing() {
        let streams = StreamBudgets { start: budget(1), append: budget(9), stop: budget(9) };
        let pacing = Pacing::new(budget(1), None, Some(streams), Replica::solo());
        let ws = WorkspaceKey::new("T1");
        let c1 = BudgetKeys::new(&ChannelKey::new("T1:C1"), Some(&ws));
        let c2 = BudgetKeys::new(&ChannelKey::new("T1:C2"), Some(&ws));
        assert!(pacing.try_acquire_now(&c1, Family::Edit), "c1's channel slot");
        assert!(!pacing.try_acquire_now(&c1, Family::StreamStart), "c1's channel is full");
        assert!(pacing.try_acquire_now(&c2, Family::StreamStart), "the start slot was kept");
    }

    #[test]
    fn a_budget_is_split_between_live_replicas_never_below_one() {
        let b = budget(50);
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
        let (six, wide) = (budget(6), budget(100));
        // The workspace budgets are split (edits and each stream method); the channel
        // budget (wide here) is not.
        let streams = StreamBudgets { start: six, append: six, stop: six };
        let pacing = Pacing::new(wide, Some(six), Some(streams), me.clone());
        let keys = BudgetKeys::new(&ChannelKey::new("c"), Some(&WorkspaceKey::new("w")));
        for family in [Family::Edit, Family::StreamStart, Family::StreamAppend] {
            assert!(pacing.try_acquire_now(&keys, family), "{family:?}: 1 of 2");
            assert!(pacing.try_acquire_now(&keys, family), "{family:?}: 2 of 2");
            assert!(!pacing.try_acquire_now(&keys, family), "{family:?}: a third of 6 used up");
            let now = Instant::now();
            assert!(pacing.available_for(&keys, family, now) > now + Duration::from_secs(50));
        }
        // Alone, the whole budget.
        let alone = Pacing::new(wide, Some(six), None, Replica::solo());
        for _ in 0..6 {
            assert!(alone.try_acquire_now(&keys, Family::Edit));
        }
        assert!(!alone.try_acquire_now(&keys, Family::Edit));
        // The channel budget is a replica's own.
        let channel = Pacing::new(six, None, None, me);
        let keys = BudgetKeys::new(&ChannelKey::new("c"), None);
        for _ in 0..6 {
            assert!(channel.try_acquire_now(&keys, Family::Edit));
        }
    }
}
