//! When to call a chat platform again, as a pure decision the reply's IO loop follows
//! (the platform-side twin of [`crate::siteassist::retry`]).
//!
//! A rate limit is waited out as the platform asks, for as long as it takes up to a cap
//! on the total wait: a 429 says "later", never "no", and counting them lost answers
//! (the fake Discord's global limit showed it: seven 429s of a few milliseconds each
//! in half a second, and a reply gave up). A transient failure (network, 5xx) is retried
//! after a short backoff, three times; anything else is final.

use super::adapter::AdapterError;
use std::time::Duration;

/// Total time one call waits out rate limits before the reply gives up.
const MAX_RATE_LIMITED_WAIT: Duration = Duration::from_secs(300);
/// The shortest wait after a 429, so a platform that says "0 ms" is not hammered.
const MIN_RATE_LIMIT_WAIT: Duration = Duration::from_millis(50);
/// Transient failures retried per call.
const MAX_TRANSIENT: u32 = 3;
/// No single platform-requested wait is longer than this: a chat user waits on it.
const MAX_PLATFORM_WAIT: Duration = Duration::from_secs(120);

/// The failures one call has met so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Attempts {
    /// Rate limits waited out.
    pub rate_limited: u32,
    /// Time spent waiting them out.
    pub rate_limited_wait: Duration,
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
        AdapterError::RateLimited { retry_after }
            if so_far.rate_limited_wait < MAX_RATE_LIMITED_WAIT =>
        {
            let wait = (*retry_after).clamp(MIN_RATE_LIMIT_WAIT, MAX_PLATFORM_WAIT);
            so_far.rate_limited += 1;
            so_far.rate_limited_wait += wait;
            Decision::RetryAfter(wait)
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
        // Rate limits are counted apart: waited out as asked (at least 50 ms, at most
        // two minutes at once), however many, until five minutes were spent on them.
        assert_eq!(decide(&mut so_far, &limited(3)), wait(3000));
        assert_eq!(decide(&mut so_far, &limited(900)), Decision::RetryAfter(MAX_PLATFORM_WAIT));
        let tiny = AdapterError::RateLimited { retry_after: Duration::from_millis(1) };
        for _ in 0..20 {
            assert_eq!(decide(&mut so_far, &tiny), Decision::RetryAfter(MIN_RATE_LIMIT_WAIT));
        }
        assert_eq!(so_far.rate_limited, 22, "twenty short 429s do not give up");
        while so_far.rate_limited_wait < MAX_RATE_LIMITED_WAIT {
            assert_eq!(decide(&mut so_far, &limited(120)), Decision::RetryAfter(MAX_PLATFORM_WAIT));
        }
        assert_eq!(decide(&mut so_far, &limited(1)), Decision::GiveUp);
        assert_eq!(so_far.transient, MAX_TRANSIENT);
    }

    #[test]
    fn permanent_failures_are_final() {
        let mut so_far = Attempts::default();
        let gone = AdapterError::Permanent("Unknown Message".into());
        assert_eq!(decide(&mut so_far, &gone), Decision::GiveUp);
        assert_eq!(so_far, Attempts::default(), "nothing counted");
    }
}
