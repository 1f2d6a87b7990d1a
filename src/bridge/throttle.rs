//! Pacing for streaming an answer into a chat message by editing it.
//!
//! Platforms rate-limit edits, and an answer arrives token by token, so editing on every
//! token would earn 429s and make the reply flicker. Two independent limits apply:
//!
//! - per reply, at most one edit per `min_interval` ([`EditPacer`]): the first text is
//!   shown at once (the user sees progress immediately) and the final text goes as soon
//!   as the stream ends (the user should never wait for the complete answer);
//! - per channel (and, on Slack, per workspace), a budget of actions shared by every
//!   reply there ([`BudgetWindow`]); the final edit needs a slot too, because the
//!   platform counts it like any other.
//!
//! Everything here is pure: time comes in as [`Instant`] arguments and the answers are
//! instants. The caller (the reply worker) reads the clock, waits until
//! [`next_action_at`], then takes the budget slots with [`try_acquire_all`]. Keeping the
//! arithmetic out of the IO loop is what lets the rules be table tested.

use super::adapter::Budget;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The per-reply edit interval used when a platform states none: one edit per second
/// reads as smooth streaming and stays far below every platform's limit.
pub const DEFAULT_MIN_EDIT_INTERVAL: Duration = Duration::from_millis(1_000);

/// Longest interval or window accepted; longer ones are clamped to it.
///
/// Real limits are seconds to minutes. Clamping keeps `Instant + Duration` from
/// overflowing on absurd configuration (`Duration::MAX`), which would otherwise panic.
pub const MAX_SPAN: Duration = Duration::from_secs(24 * 60 * 60);

/// `t + d`, for durations already clamped to [`MAX_SPAN`].
///
/// Overflow would need an `Instant` near the platform's end of time; answering `t` then
/// is the least harmful choice (the platform's own 429 still protects us) and avoids a
/// panic in the reply loop.
fn after(t: Instant, d: Duration) -> Instant {
    t.checked_add(d).unwrap_or(t)
}

/// Spaces out the edits of one reply.
///
/// One pacer per reply (placeholder message being edited). It only knows this reply;
/// the shared limits live in [`BudgetWindow`].
#[derive(Clone, Debug)]
pub struct EditPacer {
    /// Shortest time between two non-final edits of this reply.
    min_interval: Duration,
    /// When this reply was last posted or edited; `None` until its first text is shown,
    /// which is why the first edit never waits.
    last_sent: Option<Instant>,
}

impl EditPacer {
    /// A pacer for a new reply that has shown nothing yet. `min_interval` is clamped to
    /// [`MAX_SPAN`].
    pub fn new(min_interval: Duration) -> Self {
        Self { min_interval: min_interval.min(MAX_SPAN), last_sent: None }
    }

    /// The interval this pacer enforces (after clamping).
    pub fn min_interval(&self) -> Duration {
        self.min_interval
    }

    /// When this reply was last sent, if ever.
    pub fn last_sent(&self) -> Option<Instant> {
        self.last_sent
    }

    /// The earliest time the next edit of this reply may go, never earlier than `now`.
    ///
    /// The first edit and the final edit may go at `now`: the first so the user sees
    /// that an answer is coming, the final so the complete answer is never held back.
    /// Every other edit waits until `last_sent + min_interval`. The shared budgets still
    /// apply on top (see [`next_action_at`]).
    pub fn ready_at(&self, now: Instant, is_final: bool) -> Instant {
        match self.last_sent {
            Some(last) if !is_final => now.max(after(last, self.min_interval)),
            _ => now,
        }
    }

    /// Notes that an edit (or the first post) of this reply went out at `at`.
    ///
    /// A stale `at` earlier than the last recorded send is ignored, so out-of-order
    /// bookkeeping can only make the pacer stricter, never looser.
    pub fn record_sent(&mut self, at: Instant) {
        self.last_sent = Some(self.last_sent.map_or(at, |last| last.max(at)));
    }
}

impl Default for EditPacer {
    fn default() -> Self {
        Self::new(DEFAULT_MIN_EDIT_INTERVAL)
    }
}

/// A sliding-window rate budget: at most `actions` acquisitions in any window of length
/// `window`, shared by every reply that draws on it (one per channel, one per workspace).
///
/// It remembers the last `actions` acquisition times; a slot taken at `t` is busy during
/// `[t, t + window)` and free again exactly at `t + window`. A sliding log is at least as
/// strict as any fixed-bucket limiter of the same size (what Discord and Slack run), so
/// staying within it never provokes a 429 by itself, while still allowing full bursts.
///
/// A budget of 0 actions is treated as 1: a platform that allowed nothing could not be
/// used at all, so 0 can only be a configuration mistake, and 1 is the safest working
/// reading of it. The window is clamped to [`MAX_SPAN`].
///
/// Times are expected to be non-decreasing. A `now` earlier than the latest acquisition
/// (two tasks that read the clock in one order and acquire in the other) is treated as
/// that latest acquisition time: the send happens after the acquisition anyway, so this
/// is closer to the truth and can only make the budget stricter.
#[derive(Clone, Debug)]
pub struct BudgetWindow {
    /// Acquisitions allowed per window, at least 1.
    actions: usize,
    /// Length of the sliding window.
    window: Duration,
    /// Times of the most recent acquisitions, oldest first; never more than `actions`,
    /// and entries older than `window` are dropped when a slot is taken.
    sent: VecDeque<Instant>,
}

impl BudgetWindow {
    /// An unused budget (see the type docs for how 0 actions and huge windows are read).
    pub fn new(budget: Budget) -> Self {
        Self {
            actions: usize::try_from(budget.actions.max(1)).unwrap_or(usize::MAX),
            window: budget.window.min(MAX_SPAN),
            sent: VecDeque::new(),
        }
    }

    /// The budget this window enforces, after normalisation (0 actions read as 1, window
    /// clamped).
    pub fn budget(&self) -> Budget {
        Budget { actions: u32::try_from(self.actions).unwrap_or(u32::MAX), window: self.window }
    }

    /// `now`, moved forward to the latest acquisition if the caller's clock reading is
    /// older than it (see the type docs).
    fn effective_now(&self, now: Instant) -> Instant {
        self.sent.back().map_or(now, |&last| now.max(last))
    }

    /// The earliest time a slot is free, never earlier than `now` (clamped as in the type
    /// docs). Does not take the slot.
    pub fn available_at(&self, now: Instant) -> Instant {
        let now = self.effective_now(now);
        if self.sent.len() < self.actions {
            return now;
        }
        // Only the last `actions` times are kept, so the front is the oldest busy slot.
        match self.sent.front() {
            Some(&oldest) => now.max(after(oldest, self.window)),
            None => now,
        }
    }

    /// Takes a slot at `now` if one is free.
    ///
    /// `Ok(())` means the slot is taken and recorded: the caller must send now. `Err(t)`
    /// means nothing was taken and no slot frees before `t`, exactly when the oldest
    /// busy slot expires.
    pub fn try_acquire(&mut self, now: Instant) -> Result<(), Instant> {
        let now = self.effective_now(now);
        let at = self.available_at(now);
        if at > now {
            return Err(at);
        }
        self.record(now);
        Ok(())
    }

    /// Records an acquisition at `now` without checking; callers check first.
    fn record(&mut self, now: Instant) {
        let now = self.effective_now(now);
        // Entries whose slot has expired no longer constrain anything; dropping them keeps
        // memory proportional to recent traffic even for a huge `actions`.
        while self.sent.front().is_some_and(|&t| now.saturating_duration_since(t) >= self.window) {
            self.sent.pop_front();
        }
        self.sent.push_back(now);
        while self.sent.len() > self.actions {
            self.sent.pop_front();
        }
    }
}

/// The earliest time an action may go: the latest of the reply's own readiness
/// ([`EditPacer::ready_at`]) and every shared budget's ([`BudgetWindow::available_at`]).
///
/// An action needs all of them at once, so the answer is their maximum.
pub fn next_action_at(pacer_ready: Instant, budgets_ready: &[Instant]) -> Instant {
    budgets_ready.iter().copied().fold(pacer_ready, |latest, t| latest.max(t))
}

/// Takes one slot from every budget at `now`, or from none of them.
///
/// All-or-nothing matters when a reply draws on both a channel and a workspace budget:
/// taking the channel slot and then failing on the workspace one would burn a channel
/// slot for an edit that never went out. `Err(t)` is the latest of the budgets' free
/// times, the earliest moment all of them could succeed.
pub fn try_acquire_all(budgets: &mut [&mut BudgetWindow], now: Instant) -> Result<(), Instant> {
    let ready = budgets.iter().map(|b| b.available_at(now)).fold(now, |latest, t| latest.max(t));
    // A budget whose clamped `now` is later than the caller's `now` reports that later
    // time; it only counts as "not ready" if a slot is actually busy then.
    if budgets.iter().any(|b| b.available_at(now) > b.effective_now(now)) {
        return Err(ready);
    }
    for budget in budgets.iter_mut() {
        budget.record(now);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
