//! Slack request signatures (<https://api.slack.com/authentication/verifying-requests-from-slack>):
//! `v0=` + hex(HMAC-SHA256(signing secret, `v0:{timestamp}:{body}`)), accepted only
//! within five minutes of `now`.
//!
//! slack-morphism has a verifier, but it always reads the clock, so Slack's own
//! published example (from 2018) could never be checked against it; this one takes `now`.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far a request's timestamp may be from now, either way (Slack's recommendation).
pub const MAX_SKEW_SECS: i64 = 300;

/// Why a request was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The timestamp header is not a number.
    #[error("the request timestamp is not a number")]
    BadTimestamp,
    /// Older or newer than five minutes: a replay, or a badly wrong clock.
    #[error("the request timestamp is {0} s away from now")]
    OutOfWindow(i64),
    /// Not `v0=` followed by 64 hex digits.
    #[error("the signature is malformed")]
    Malformed,
    /// The signature does not match the body and secret.
    #[error("the signature does not match")]
    Mismatch,
}

/// Checks `signature` for `body` sent at `timestamp`, at time `now` (Unix seconds).
/// The comparison is constant-time.
pub fn verify(
    secret: &str,
    timestamp: &str,
    body: &[u8],
    signature: &str,
    now: i64,
) -> Result<(), SignatureError> {
    let ts: i64 = timestamp.trim().parse().map_err(|_| SignatureError::BadTimestamp)?;
    // Saturating, as a forged timestamp far from now must be refused, not overflow.
    let skew = now.saturating_sub(ts);
    if skew.unsigned_abs() > MAX_SKEW_SECS.unsigned_abs() {
        return Err(SignatureError::OutOfWindow(skew));
    }
    let hex = signature.strip_prefix("v0=").ok_or(SignatureError::Malformed)?;
    let expected = decode_hex(hex).ok_or(SignatureError::Malformed)?;
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|_| SignatureError::Mismatch)?;
    mac.update(b"v0:");
    mac.update(timestamp.trim().as_bytes());
    mac.update(b":");
    mac.update(body);
    mac.verify_slice(&expected).map_err(|_| SignatureError::Mismatch)
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() != 64 {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Slack's published example, from "Verifying requests from Slack".
    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TS: &str = "1531420618";
    const BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
    const NOW: i64 = 1_531_420_618;

    #[test]
    fn slacks_published_example_verifies() {
        assert_eq!(verify(SECRET, TS, BODY.as_bytes(), SIG, NOW), Ok(()));
        assert_eq!(
            verify(SECRET, TS, BODY.as_bytes(), SIG, NOW + 300),
            Ok(()),
            "edge of the window"
        );
    }

    #[test]
    fn forgeries_are_refused() {
        let table: &[(&str, &str, &str, &str, i64, SignatureError)] = &[
            ("wrong-secret", TS, BODY, SIG, NOW, SignatureError::Mismatch),
            (SECRET, TS, "token=changed", SIG, NOW, SignatureError::Mismatch),
            (SECRET, "1531420619", BODY, SIG, NOW, SignatureError::Mismatch),
            (SECRET, TS, BODY, SIG, NOW + 301, SignatureError::OutOfWindow(301)),
            (SECRET, TS, BODY, SIG, NOW - 301, SignatureError::OutOfWindow(-301)),
            (SECRET, "yesterday", BODY, SIG, NOW, SignatureError::BadTimestamp),
            // Extreme timestamps: `now - ts` would overflow.
            (SECRET, "-9223372036854775808", BODY, SIG, NOW, SignatureError::OutOfWindow(i64::MAX)),
            (SECRET, "9223372036854775807", BODY, SIG, -NOW, SignatureError::OutOfWindow(i64::MIN)),
            (SECRET, TS, BODY, "a2114d57b48eac39", NOW, SignatureError::Malformed),
            (
                SECRET,
                TS,
                BODY,
                "v0=zz14d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
                NOW,
                SignatureError::Malformed,
            ),
            (SECRET, TS, BODY, "v0=", NOW, SignatureError::Malformed),
        ];
        for (secret, ts, body, sig, now, expected) in table {
            assert_eq!(
                verify(secret, ts, body.as_bytes(), sig, *now).as_ref(),
                Err(expected),
                "{secret} {ts} {sig} {now}"
            );
        }
    }
}
