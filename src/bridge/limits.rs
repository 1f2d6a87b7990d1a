//! Per-user and per-channel question limits, so one person (or one busy channel) cannot
//! use up the assistant's SiteAssist quota for everyone.
//!
//! The counting is governor's (GCRA, keyed); this module adds the one policy on top:
//! the first question over a limit gets a polite notice, later ones in the same wait
//! are dropped silently, so a flood never becomes a flood of notices.

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::HashMapStateStore;
use governor::{Quota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;

/// Which limit a question hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limited {
    /// The asker's own limit.
    User,
    /// The channel's limit.
    Channel,
}

/// What to do with a question.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Answer it.
    Allow,
    /// Over a limit: tell the user once.
    Notify(Limited),
    /// Over a limit, and the user was already told: drop it.
    Drop(Limited),
}

type Keyed<C> =
    RateLimiter<String, HashMapStateStore<String>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// Both limits, keyed by user and by channel.
pub struct Limits<C: Clock = DefaultClock> {
    clock: C,
    per_user: Option<Keyed<C>>,
    per_channel: Option<Keyed<C>>,
    /// Until when each key was told it is over its limit.
    told: Mutex<HashMap<String, C::Instant>>,
}

impl Limits<DefaultClock> {
    /// Limits of `per_user` and `per_channel` questions a minute; 0 turns one off.
    pub fn new(per_user: u32, per_channel: u32) -> Self {
        Self::with_clock(per_user, per_channel, DefaultClock::default())
    }
}

impl<C: Clock + Clone> Limits<C> {
    /// As [`Limits::new`], with an explicit clock (tests use a fake one).
    pub fn with_clock(per_user: u32, per_channel: u32, clock: C) -> Self {
        let keyed = |n: u32| {
            NonZeroU32::new(n).map(|n| {
                RateLimiter::new(Quota::per_minute(n), HashMapStateStore::default(), clock.clone())
            })
        };
        Self {
            per_user: keyed(per_user),
            per_channel: keyed(per_channel),
            told: Mutex::new(HashMap::new()),
            clock,
        }
    }

    /// Counts a question from `user` in `channel` and says what to do with it.
    pub fn check(&self, user: &str, channel: &str) -> Verdict {
        let checks =
            [(Limited::User, &self.per_user, user), (Limited::Channel, &self.per_channel, channel)];
        for (which, limiter, key) in checks {
            let Some(limiter) = limiter else { continue };
            if let Err(not_until) = limiter.check_key(&key.to_string()) {
                let now = self.clock.now();
                let until = not_until.earliest_possible();
                let tag = format!("{which:?}:{key}");
                let mut told = self.told.lock().unwrap_or_else(|p| p.into_inner());
                if told.get(&tag).is_some_and(|t| now < *t) {
                    return Verdict::Drop(which);
                }
                if told.len() > 10_000 {
                    told.retain(|_, t| now < *t);
                }
                told.insert(tag, until.max(now));
                return Verdict::Notify(which);
            }
        }
        Verdict::Allow
    }

    /// Forgets keys that are back under their limits (bounds memory).
    pub fn forget_idle(&self) {
        for limiter in [&self.per_user, &self.per_channel].into_iter().flatten() {
            limiter.retain_recent();
        }
        let now = self.clock.now();
        self.told.lock().unwrap_or_else(|p| p.into_inner()).retain(|_, t| now < *t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;
    use std::time::Duration;

    #[test]
    fn the_first_question_over_a_limit_is_told_the_rest_dropped_until_the_limit_frees() {
        let clock = FakeRelativeClock::default();
        let limits = Limits::with_clock(2, 0, clock.clone());
        assert_eq!(limits.check("alice", "c1"), Verdict::Allow);
        assert_eq!(limits.check("alice", "c1"), Verdict::Allow);
        assert_eq!(limits.check("alice", "c1"), Verdict::Notify(Limited::User));
        assert_eq!(limits.check("alice", "c2"), Verdict::Drop(Limited::User));
        assert_eq!(limits.check("bob", "c1"), Verdict::Allow, "others are not affected");
        // 2 a minute: one frees every 30 s.
        clock.advance(Duration::from_secs(30));
        assert_eq!(limits.check("alice", "c1"), Verdict::Allow);
        assert_eq!(
            limits.check("alice", "c1"),
            Verdict::Notify(Limited::User),
            "told again after a wait"
        );
    }

    #[test]
    fn the_channel_limit_counts_everyone_in_the_channel() {
        let clock = FakeRelativeClock::default();
        let limits = Limits::with_clock(0, 3, clock.clone());
        for user in ["a", "b", "c"] {
            assert_eq!(limits.check(user, "busy"), Verdict::Allow);
        }
        assert_eq!(limits.check("d", "busy"), Verdict::Notify(Limited::Channel));
        assert_eq!(limits.check("e", "busy"), Verdict::Drop(Limited::Channel));
        assert_eq!(limits.check("e", "quiet"), Verdict::Allow);
        limits.forget_idle();
        assert_eq!(
            limits.check("f", "busy"),
            Verdict::Drop(Limited::Channel),
            "forgetting idle keys keeps busy ones"
        );
    }

    #[test]
    fn zero_turns_a_limit_off() {
        let limits = Limits::new(0, 0);
        for _ in 0..100 {
            assert_eq!(limits.check("u", "c"), Verdict::Allow);
        }
    }
}
