//! When to send a request again, as a pure decision the client's IO loop follows.
//!
//! Only two kinds of failure are retried:
//! - 429 and 503: the server refused the request before doing anything with it, and
//!   said (or implied) when to come back;
//! - a failed connection: nothing was sent at all.
//!
//! Everything else is final. In particular a timeout or a 500 after a `POST …/messages`
//! may have stored the user's message, and sending it again would ask the question twice.

use chrono::{DateTime, Utc};
use std::time::Duration;

/// How hard to try.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first one included (0 counts as 1).
    pub max_attempts: u32,
    /// The longest single wait, whatever the server asks for: a chat user waits on it.
    pub max_retry_wait: Duration,
}

/// What went wrong with the attempt just made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The connection could not be made: the request never left.
    NotSent,
    /// The server answered with an error status.
    Status {
        /// HTTP status.
        status: u16,
        /// The wait the server asked for (`details.retryAfter`, else `Retry-After`).
        retry_after: Option<Duration>,
    },
    /// Anything else (a timeout or a reset after sending): the server may have acted.
    Other,
}

/// What to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Wait this long, then send the request again.
    RetryAfter(Duration),
    /// Return the failure to the caller.
    GiveUp,
}

/// Decides what follows attempt number `attempts_made` (1 for the first) that failed
/// with `failure`.
pub fn decide(policy: &RetryPolicy, attempts_made: u32, failure: &Failure) -> Decision {
    if attempts_made >= policy.max_attempts.max(1) {
        return Decision::GiveUp;
    }
    let wait = match failure {
        Failure::NotSent => backoff(attempts_made),
        Failure::Status { status: 429 | 503, retry_after } => {
            retry_after.unwrap_or_else(|| backoff(attempts_made))
        }
        Failure::Status { .. } | Failure::Other => return Decision::GiveUp,
    };
    Decision::RetryAfter(wait.min(policy.max_retry_wait))
}

/// Exponential backoff when the server gave no wait: 1 s after the first attempt, then
/// 2 s, 4 s, … (before the cap of [`RetryPolicy::max_retry_wait`]).
pub fn backoff(attempts_made: u32) -> Duration {
    Duration::from_secs(1u64 << attempts_made.saturating_sub(1).min(20))
}

/// Parses a `Retry-After` header: delay-seconds, or an HTTP date (taken relative to
/// `now`; a date in the past means "now").
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn retry_decision_table() {
        let policy = RetryPolicy { max_attempts: 4, max_retry_wait: S(60) };
        let status = |status, retry_after| Failure::Status { status, retry_after };
        use Decision::*;
        let table: Vec<(u32, Failure, Decision)> = vec![
            // The server's wait is honoured...
            (1, status(429, Some(S(1))), RetryAfter(S(1))),
            (1, status(503, Some(S(30))), RetryAfter(S(30))),
            // ...up to the cap.
            (1, status(429, Some(S(600))), RetryAfter(S(60))),
            // Without one: 1 s, 2 s, 4 s.
            (1, status(429, None), RetryAfter(S(1))),
            (2, status(503, None), RetryAfter(S(2))),
            (3, status(429, None), RetryAfter(S(4))),
            // At most max_attempts in total.
            (4, status(429, Some(S(1))), GiveUp),
            (9, status(503, None), GiveUp),
            // Nothing was sent: back off and retry.
            (1, Failure::NotSent, RetryAfter(S(1))),
            (3, Failure::NotSent, RetryAfter(S(4))),
            (4, Failure::NotSent, GiveUp),
            // Anything the server may have acted on is final.
            (1, Failure::Other, GiveUp),
            (1, status(500, None), GiveUp),
            (1, status(502, Some(S(1))), GiveUp),
            (1, status(400, None), GiveUp),
            (1, status(401, None), GiveUp),
            (1, status(404, None), GiveUp),
        ];
        for (attempts, failure, want) in table {
            assert_eq!(
                decide(&policy, attempts, &failure),
                want,
                "attempt {attempts}, {failure:?}"
            );
        }
    }

    #[test]
    fn the_cap_bounds_backoff_and_one_attempt_means_no_retry() {
        let capped = RetryPolicy { max_attempts: 30, max_retry_wait: S(5) };
        assert_eq!(decide(&capped, 25, &Failure::NotSent), Decision::RetryAfter(S(5)));
        for max_attempts in [0, 1] {
            let once = RetryPolicy { max_attempts, max_retry_wait: S(5) };
            assert_eq!(decide(&once, 1, &Failure::NotSent), Decision::GiveUp);
        }
    }

    #[test]
    fn retry_after_header_forms() {
        let now = Utc.with_ymd_and_hms(2015, 10, 21, 7, 27, 0).unwrap();
        assert_eq!(parse_retry_after("120", now), Some(S(120)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(S(0)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now), Some(S(60)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }
}
