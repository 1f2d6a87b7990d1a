//! A thread's earlier messages (`conversations.replies`), for the core's thread
//! context (see [`crate::bridge::context`]).
//!
//! Whose messages count: people's and other apps' (an alert an integration posted is
//! often what the question is about), not the bot's own (its answers belong to another
//! conversation, or are notes). Authors are display names from `users.info` (cached,
//! as for the page titles), an app's by its bot profile. Text is Slack's markup made
//! plain, as for questions.

use super::egress::{classify, SlackWeb};
use super::ingress::plain_text;
use crate::bridge::adapter::AdapterError;
use crate::bridge::context::HistoryLine;
use slack_morphism::prelude::*;

/// Messages per page (Slack advises at most 200) and pages read: a thread longer than
/// this before the question is rare, and its newest messages are the ones kept.
const PAGE: u16 = 200;
const MAX_PAGES: usize = 5;

/// Up to `limit` messages of thread `thread_ts` in `channel` older than `before_ts`,
/// oldest first, without the bot's (`bot_user`) own.
pub(super) async fn thread_history(
    web: &SlackWeb,
    bot_user: &str,
    channel: &str,
    thread_ts: &str,
    before_ts: &str,
    limit: usize,
) -> Result<Vec<HistoryLine>, AdapterError> {
    let session = web.client.open_session(&web.token);
    let mut messages = Vec::new();
    let mut cursor = None;
    for _ in 0..MAX_PAGES {
        let req = SlackApiConversationsRepliesRequest::new(
            SlackChannelId(channel.to_string()),
            SlackTs(thread_ts.to_string()),
        )
        .with_latest(SlackTs(before_ts.to_string()))
        .with_inclusive(false)
        .with_limit(PAGE)
        .opt_cursor(cursor.take());
        let page = session.conversations_replies(&req).await.map_err(classify)?;
        messages.extend(page.messages);
        cursor = page.response_metadata.and_then(|m| m.next_cursor).filter(|c| !c.0.is_empty());
        if cursor.is_none() {
            break;
        }
    }
    messages.retain(|m| m.origin.ts.0.as_str() < before_ts && counts(m, bot_user));
    messages.sort_by(|a, b| a.origin.ts.0.cmp(&b.origin.ts.0));
    let newest = &messages[messages.len().saturating_sub(limit)..];
    let mut lines = Vec::with_capacity(newest.len());
    for m in newest {
        let author = match (&m.sender.user, &m.sender.bot_profile) {
            (Some(user), None) => web.user_name(&user.0).await.unwrap_or_else(|| user.0.clone()),
            (_, Some(bot)) => bot.name.clone(),
            (None, None) => m.sender.username.clone().unwrap_or_else(|| "an app".into()),
        };
        let text = plain_text(m.content.text.as_deref().unwrap_or_default(), bot_user);
        lines.push(HistoryLine::new(author, text));
    }
    Ok(lines)
}

/// A person's or another app's message, not the bot's own nor a join or topic change.
fn counts(m: &SlackHistoryMessage, bot_user: &str) -> bool {
    use SlackMessageEventType as T;
    let own = m.sender.user.as_ref().is_some_and(|u| u.0 == bot_user);
    let said = matches!(
        m.subtype,
        None | Some(T::ThreadBroadcast | T::FileShare | T::BotMessage | T::MeMessage)
    );
    !own && said
}
