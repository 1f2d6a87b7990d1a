//! Slack's assistant threads (the AI-app container in Slack's sidebar): the status
//! shown while an answer is prepared, and what a new assistant thread is given.
//!
//! Facts relied on (checked 2026-12-04):
//! - `assistant.threads.setStatus` takes `channel_id`, `thread_ts` and `status` (e.g.
//!   "is thinking…"); "a two minute timeout applies, which will cause the status to be
//!   removed if no message has been sent" (docs.slack.dev/reference/methods/
//!   assistant.threads.setStatus). Its rate limit is "special" (same page);
//!   slack-morphism 2.31.1 paces it at one a second. It accepts `chat:write` or
//!   `assistant:write` (docs.slack.dev changelog 2026-03-05, "Set status method scope
//!   update").
//! - Assistant threads live in the app's DM with the user (`channel_type: im`), each
//!   conversation a thread; a bot cannot tell them from a thread in an ordinary DM by
//!   the message alone, so every thread in a DM counts as one (setStatus in an ordinary
//!   DM thread is at worst refused, which only costs the status).

use super::egress::{classify, SlackWeb};
use super::ids;
use crate::bridge::adapter::AdapterError;
use crate::bridge::ids::ThreadKey;
use slack_morphism::prelude::*;
use std::time::Duration;

/// The status shown while an answer is prepared.
pub(crate) const THINKING: &str = "is thinking…";

/// How often the status is renewed while no text shows: a little under Slack's two
/// minutes, after which it would vanish.
pub(crate) const STATUS_EVERY: Duration = Duration::from_secs(100);

/// `(channel, thread_ts)` of `thread` when it is an assistant thread (see the module
/// docs: a thread in a DM).
pub(crate) fn assistant_thread(thread: &ThreadKey) -> Option<(&str, &str)> {
    match ids::parse_thread(thread) {
        Some((_, channel, Some(ts))) if channel.starts_with('D') => Some((channel, ts)),
        _ => None,
    }
}

/// Sets the status of an assistant thread (an empty `status` clears it).
pub(crate) async fn set_status(
    web: &SlackWeb,
    channel: &str,
    thread_ts: &str,
    status: &str,
) -> Result<(), AdapterError> {
    let req = SlackApiAssistantThreadsSetStatusRequest::new(
        SlackChannelId(channel.into()),
        status.into(),
        SlackTs(thread_ts.into()),
    );
    web.client
        .open_session(&web.token)
        .assistant_threads_set_status(&req)
        .await
        .map_err(classify)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::assistant_thread;
    use crate::bridge::ids::ThreadKey;

    #[test]
    fn threads_in_dms_are_assistant_threads() {
        let t = |s: &str| ThreadKey::new(s);
        assert_eq!(assistant_thread(&t("slack:T1:D2:17.1")), Some(("D2", "17.1")));
        assert_eq!(assistant_thread(&t("slack:T1:D2")), None, "the DM itself");
        assert_eq!(assistant_thread(&t("slack:T1:C2:17.1")), None, "a channel thread");
        assert_eq!(assistant_thread(&t("discord:1:2")), None);
    }
}
