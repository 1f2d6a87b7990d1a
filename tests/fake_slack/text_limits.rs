//! How long a message text may be, measured the way Slack measures it.
//!
//! Slack's `chat.postMessage` and `chat.update` docs name 40,000 characters (text over
//! it is truncated) and advise at most 4,000; in practice Slack answers `msg_too_long`
//! well before 40,000, near 4,000 as users report it, and does not say in what unit it
//! counts (checked 2026-12: api.slack.com/methods/chat.update, "Errors" and the `text`
//! argument, and the reports collected in the bridge's issue on Slack limits). The fake
//! takes the strictest reading: it counts characters *and* UTF-8 bytes, so emoji (4
//! bytes) and CJK text (3 bytes) reach its limit three or four times sooner than a
//! character count says, as they would if Slack counted bytes.
//!
//! A text over either limit is refused with `msg_too_long` and recorded as a violation:
//! the bridge must split before it sends, never learn the limit from Slack.

use super::state::State;
use super::web::Reply;

/// Slack's documented cap, whatever the test's limits say.
const MAX_TEXT_CHARS: usize = 40_000;

/// `Err(msg_too_long)` (and a violation) for a `text` longer than the limits allow.
pub(super) fn check(state: &mut State, text: &str) -> Result<(), Reply> {
    let chars = text.chars().count();
    let max_chars = MAX_TEXT_CHARS.min(state.limits.max_text_chars);
    let max_bytes = state.limits.max_text_bytes;
    if chars <= max_chars && text.len() <= max_bytes {
        return Ok(());
    }
    state.violations.push(format!(
        "a text of {chars} characters and {} bytes (limits {max_chars} and {max_bytes}): msg_too_long",
        text.len()
    ));
    Err(Reply::error("msg_too_long"))
}
