//! Edit budgets shared by every reply in a channel (and workspace): the async side of
//! [`super::throttle::BudgetWindow`], which holds the pure rules.

use super::adapter::Budget;
use super::ids::{ChannelKey, WorkspaceKey};
use super::throttle::{try_acquire_all, BudgetWindow};
use std::collections::HashMap;
use std::sync::Mutex;
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

pub(crate) struct Pacing {
    channel_budget: Budget,
    workspace_budget: Option<Budget>,
    windows: Mutex<HashMap<String, BudgetWindow>>,
}

impl Pacing {
    pub(crate) fn new(channel_budget: Budget, workspace_budget: Option<Budget>) -> Self {
        Self { channel_budget, workspace_budget, windows: Mutex::new(HashMap::new()) }
    }

    fn each<R>(&self, keys: &BudgetKeys, mut f: impl FnMut(&mut BudgetWindow) -> R) -> Vec<R> {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::with_capacity(2);
        out.push(f(windows
            .entry(keys.channel.clone())
            .or_insert_with(|| BudgetWindow::new(self.channel_budget))));
        if let (Some(key), Some(budget)) = (&keys.workspace, self.workspace_budget) {
            out.push(f(windows.entry(key.clone()).or_insert_with(|| BudgetWindow::new(budget))));
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
                windows
                    .entry(keys.channel.clone())
                    .or_insert_with(|| BudgetWindow::new(self.channel_budget));
                if let (Some(k), Some(b)) = (&keys.workspace, self.workspace_budget) {
                    windows.entry(k.clone()).or_insert_with(|| BudgetWindow::new(b));
                }
                let now = Instant::now();
                let result = match &keys.workspace {
                    Some(ws) if self.workspace_budget.is_some() => {
                        match windows.get_disjoint_mut([&keys.channel, ws]) {
                            [Some(ch), Some(ws)] => try_acquire_all(&mut [ch, ws], now),
                            _ => Ok(()),
                        }
                    }
                    _ => match windows.get_mut(&keys.channel) {
                        Some(ch) => ch.try_acquire(now),
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
