//! Slack's native streams for AI apps: `chat.startStream`, `chat.appendStream`,
//! `chat.stopStream`, through slack-morphism 2.31's `chat_stream` API.
//!
//! Facts relied on (Slack's method pages on docs.slack.dev/reference/methods/, and
//! slack-morphism's `src/api/chat_stream.rs`; checked 2026-12):
//! - `chat.startStream` requires `thread_ts` ("streamed messages should always be
//!   replies to a user request"), so a DM answered outside threads is never streamed;
//!   `recipient_user_id` and `recipient_team_id` are required when streaming to
//!   channels (sent always: the asker is known). It returns the message's `ts`.
//! - `markdown_text` takes standard Markdown (not Slack's mrkdwn), at most 12,000
//!   characters a call; on `chat.appendStream` it is appended to the text so far. So
//!   the core sends its Markdown as is and only the new text (the core's `native`).
//! - `chat.stopStream` takes `blocks` "rendered at the bottom of the finalized
//!   message": the sources line and the feedback buttons go there. slack-morphism's stop
//!   request has no `markdown_text` field, so the remainder goes as a `markdown_text`
//!   chunk, which the method also accepts.
//! - Rate limits, each "per API method per workspace/team per app"
//!   (docs.slack.dev/apis/web-api/rate-limits, checked 2026-12-04), so each method
//!   has its own budget ([`BUDGETS`]), apart from `chat.update`'s:
//!   - `chat.appendStream`: Tier 4, 100+ a minute (docs.slack.dev/reference/methods/
//!     chat.appendStream, "Rate Limits: Tier 4: 100+ per minute"; checked 2026-12-04).
//!   - `chat.stopStream`: Tier 2, 20+ a minute (api.slack.com/methods/chat.stopStream,
//!     "Rate limits: Tier 2"; checked 2026-12-04).
//!   - `chat.startStream`: Tier 2 as slack-morphism 2.31.1 gives it
//!     (`SLACK_TIER2_METHOD_CONFIG` in `src/api/chat_stream.rs`); Slack's page for it
//!     was not found in the stored docs on 2026-12-04, so this one is second-hand.
//!
//!   The bridge counts the documented minimum of each tier (20, 100): more may be
//!   allowed, never less.
//! - Appends after stop answer `message_not_in_streaming_state`.

use super::config::StreamingMode;
use super::egress::{classify, SlackWeb};
use super::ids;
use crate::bridge::adapter::{AdapterError, Budget, StreamBudgets, StreamRefused};
use crate::bridge::controls::Controls;
use crate::bridge::ids::{MessageRef, ThreadKey, UserKey};
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The budgets of the stream methods, per workspace (see the module docs for sources).
pub(crate) const BUDGETS: StreamBudgets = StreamBudgets {
    start: Budget { actions: 20, window: Duration::from_secs(60) },
    append: Budget { actions: 100, window: Duration::from_secs(60) },
    stop: Budget { actions: 20, window: Duration::from_secs(60) },
};

/// Whether and how replies stream natively, with what Slack taught this run.
pub(crate) struct Streams {
    mode: StreamingMode,
    /// Set in `auto` after Slack answered that this app cannot stream at all
    /// (`unknown_method`, `missing_scope`): no use asking for every reply.
    unavailable: AtomicBool,
}

/// Slack's answers that mean "this app cannot stream anywhere", not "not here, not now".
const APP_CANNOT_STREAM: &[&str] = &["unknown_method", "missing_scope", "not_allowed_token_type"];

impl Streams {
    pub(crate) fn new(mode: StreamingMode) -> Self {
        Self { mode, unavailable: AtomicBool::new(false) }
    }

    /// Whether a reply in `thread` streams natively: only in threads (see the module docs).
    pub(crate) fn streams_in(&self, thread: &ThreadKey) -> bool {
        let in_thread = matches!(ids::parse_thread(thread), Some((_, _, Some(_))));
        match self.mode {
            StreamingMode::Edit => false,
            StreamingMode::Native => in_thread,
            StreamingMode::Auto => in_thread && !self.unavailable.load(Ordering::Relaxed),
        }
    }

    /// A refusal as the core sees it, noting one that means "never" in `auto`.
    fn refused(&self, err: SlackClientError) -> StreamRefused {
        if let SlackClientError::ApiError(e) = &err {
            if self.mode == StreamingMode::Auto && APP_CANNOT_STREAM.contains(&e.code.as_str()) {
                tracing::warn!(error = %e.code, "Slack refuses native streams for this app; using chat.update from now on");
                self.unavailable.store(true, Ordering::Relaxed);
            }
        }
        let reason = match classify(err) {
            AdapterError::RateLimited { retry_after } => format!("rate limited ({retry_after:?})"),
            other => other.to_string(),
        };
        StreamRefused { reason }
    }

    pub(crate) async fn start(
        &self,
        web: &SlackWeb,
        thread: &ThreadKey,
        recipient: Option<&UserKey>,
        markdown: &str,
    ) -> Result<MessageRef, StreamRefused> {
        let Some((team, channel, Some(thread_ts))) = ids::parse_thread(thread) else {
            return Err(StreamRefused { reason: format!("not a Slack thread: {thread}") });
        };
        let user = recipient.and_then(ids::parse_user);
        let req = SlackApiChatStartStreamRequest::new(SlackChannelId(channel.into()))
            .with_thread_ts(SlackTs(thread_ts.into()))
            .opt_recipient_team_id(user.map(|(t, _)| SlackTeamId(t.into())))
            .opt_recipient_user_id(user.map(|(_, u)| SlackUserId(u.into())))
            .with_markdown_text(markdown.into());
        let session = web.client.open_session(&web.token);
        let r = session.chat_start_stream(&req).await.map_err(|e| self.refused(e))?;
        Ok(ids::message(team, channel, &r.ts.0))
    }

    pub(crate) async fn append(
        &self,
        web: &SlackWeb,
        message: &MessageRef,
        delta: &str,
    ) -> Result<(), StreamRefused> {
        let (channel, ts) = parse(message)?;
        let req = SlackApiChatAppendStreamRequest::new(
            SlackChannelId(channel.into()),
            SlackTs(ts.into()),
        )
        .with_markdown_text(delta.into());
        let session = web.client.open_session(&web.token);
        session.chat_append_stream(&req).await.map_err(|e| self.refused(e))?;
        Ok(())
    }

    pub(crate) async fn stop(
        &self,
        web: &SlackWeb,
        message: &MessageRef,
        delta: &str,
        footer: Option<&str>,
        controls: &Controls,
    ) -> Result<(), StreamRefused> {
        let (channel, ts) = parse(message)?;
        let mut content = SlackMessageContent::new();
        content.blocks = super::blocks::for_footer(footer, controls);
        let mut req = SlackApiChatStopStreamRequest::new(
            SlackChannelId(channel.into()),
            SlackTs(ts.into()),
            content,
        );
        if !delta.is_empty() {
            req = req.with_chunks(vec![SlackStreamChunk::MarkdownText { text: delta.into() }]);
        }
        let session = web.client.open_session(&web.token);
        session.chat_stop_stream(&req).await.map_err(|e| self.refused(e))?;
        Ok(())
    }
}

fn parse(message: &MessageRef) -> Result<(&str, &str), StreamRefused> {
    ids::parse_message(message)
        .ok_or_else(|| StreamRefused { reason: format!("not a Slack message: {message}") })
}
