//! When to call a chat platform again, as a pure decision the reply's IO loop follows
//! (the platform-side twin of [`crate::siteassist::retry`]).
//!
//! A rate limit is waited out as the platform asks, up to a cap, a few times; a
//! transient failure (network, 5xx) is retried after a short backoff, fewer times;
//! anything else is final.

use super::adapter::AdapterError;
use std::time::Duration;

/// Rate limits waited out per call before the reply gives up.
const MAX_RATE_LIMITED: u32 = 6;
/// Transient failures retried per call.
const MAX_TRANSIENT: u32 = 3;
/// No single platform-requested wait is longer than this: a chat user waits on it.
const MAX_PLATFORM_WAIT: Duration = Duration::from_secs(120);

/// The failures one call has met so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Attempts {
    /// Rate limits waited out.
    pub rate_limited: u32,
    /// Transient failures retried.
    pub transient: u32,
}

/// What to do after a failed call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Wait this long, then call again.
    RetryAfter(Duration),
    /// Return the failure.
    GiveUp,
}

/// Decides what follows a call that failed with `error`, after `so_far` earlier failures
/// of the same call, and counts this one into `so_far` when it is retried.
pub(crate) fn decide(so_far: &mut Attempts, error: &AdapterError) -> Decision {
    match error {
        AdapterError::RateLimited { retry_after } if so_far.rate_limited < MAX_RATE_LIMITED => {
            so_far.rate_limited += 1;
            Decision::RetryAfter((*retry_after).min(MAX_PLATFORM_WAIT))
        }
        AdapterError::Transient(_) if so_far.transient < MAX_TRANSIENT => {
            so_far.transient += 1;
            // 500 ms, 1 s, 2 s.
            Decision::RetryAfter(Duration::from_millis(250 << so_far.transient))
        }
        _ => Decision::GiveUp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limited(secs: u64) -> AdapterError {
        AdapterError::RateLimited { retry_after: Duration::from_secs(secs) }
    }

    #[test]
    fn decisions_in_sequence() {
        let transient = || AdapterError::Transient("503".into());
        let wait = |ms| Decision::RetryAfter(Duration::from_millis(ms));
        let mut so_far = Attempts::default();
        // Transient failures back off, three times, then give up.
        assert_eq!(decide(&mut so_far, &transient()), wait(500));
        assert_eq!(decide(&mut so_far, &transient()), wait(1000));
        assert_eq!(decide(&mut so_far, &transient()), wait(2000));
        assert_eq!(decide(&mut so_far, &transient()), Decision::GiveUp);
        // Rate limits are counted apart: waited out as asked, capped, six times.
        assert_eq!(decide(&mut so_far, &limited(3)), wait(3000));
        assert_eq!(decide(&mut so_far, &limited(900)), Decision::RetryAfter(MAX_PLATFORM_WAIT));
        for _ in 2..MAX_RATE_LIMITED {
            assert!(matches!(decide(&mut so_far, &limited(1)), Decision::RetryAfter(_)));
        }
        assert_eq!(decide(&mut so_far, &limited(1)), Decision::GiveUp);
        assert_eq!(so_far, Attempts { rate_limited: MAX_RATE_LIMITED, transient: MAX_TRANSIENT });
    }

    #[test]
    fn permanent_failures_are_final() {
        let mut so_far = Attempts::default();
        let gone = AdapterError::Permanent("Unknown Message".into());
        assert_eq!(decide(&mut so_far, &gone), Decision::GiveUp);
        assert_eq!(so_far, Attempts::default(), "nothing counted");
    }
}
