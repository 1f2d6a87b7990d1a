//! Posting and editing in Slack through slack-morphism's Web API client.

use super::ids;
use crate::bridge::adapter::{AdapterError, Budget, Capabilities, ChatAdapter, StreamRefused};
use crate::bridge::controls::Controls;
use crate::bridge::ids::{MessageRef, ThreadKey, UserKey};
use crate::secret::Secret;
use async_trait::async_trait;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// slack-morphism's client over our connector (https, plus http for local fakes).
pub(crate) type Connector = SlackClientHyperConnector<HttpsConnector<HttpConnector>>;
/// The Web API client.
pub(crate) type Client = SlackClient<Connector>;

/// The reaction that marks a question delivered to a person (✅).
const DELIVERED_REACTION: &str = "white_check_mark";

/// How Slack's own markup is parsed in the bridge's texts: not at all. The text is
/// already Slack markup (`format`); `parse: full` would turn names and channels into
/// links the answer never meant, and differently in a post than in its edits.
const PARSE: &str = "none";

/// Slack asks for this wait when a 429 carries no `Retry-After`.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Builds the Web API client for `api_url`. The connector accepts `http://` as well as
/// `https://` so tests can point it at a fake on 127.0.0.1; production URLs are https.
pub(crate) fn client(api_url: &str) -> std::io::Result<Client> {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()?
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .build();
    Ok(SlackClient::new(
        SlackClientHyperConnector::from(https).with_slack_api_url(api_url.trim_end_matches('/')),
    ))
}

/// The Slack Web API calls the bridge makes, with the bot token.
pub(crate) struct SlackWeb {
    pub(super) client: Arc<Client>,
    pub(super) token: SlackApiToken,
    channel_names: Mutex<HashMap<String, String>>,
    user_names: Mutex<HashMap<String, Option<String>>>,
}

/// What `auth.test` says about the bot.
pub(crate) struct AuthInfo {
    pub user_id: String,
    pub bot_id: Option<String>,
    pub team_id: String,
    pub team: String,
    pub url: String,
}

impl SlackWeb {
    pub(crate) fn new(client: Arc<Client>, bot_token: &Secret) -> Self {
        Self {
            client,
            token: SlackApiToken::new(SlackApiTokenValue(bot_token.expose().to_string())),
            channel_names: Mutex::new(HashMap::new()),
            user_names: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) async fn auth_test(&self) -> Result<AuthInfo, SlackClientError> {
        let r = self.client.open_session(&self.token).auth_test().await?;
        Ok(AuthInfo {
            user_id: r.user_id.0,
            bot_id: r.bot_id.map(|b| b.0),
            team_id: r.team_id.0,
            team: r.team,
            url: r.url.0.to_string(),
        })
    }

    /// The channel's name, cached; `None` when Slack will not say (missing scope).
    pub(crate) async fn channel_name(&self, channel: &str) -> Option<String> {
        if let Some(name) = self.lock_names().get(channel) {
            return Some(name.clone());
        }
        let req = SlackApiConversationsInfoRequest::new(SlackChannelId(channel.to_string()));
        let name = match self.client.open_session(&self.token).conversations_info(&req).await {
            Ok(r) => r.channel.name?,
            Err(e) => {
                tracing::debug!(error = %e, "conversations.info failed; using the channel id");
                return None;
            }
        };
        self.lock_names().insert(channel.to_string(), name.clone());
        Some(name)
    }

    /// A user's display name (else real name), cached, including "no name" so a
    /// workspace without the `users:read` scope costs one call per user, not per message.
    pub(crate) async fn user_name(&self, user: &str) -> Option<String> {
        if let Some(name) = self.user_names.lock().unwrap_or_else(|p| p.into_inner()).get(user) {
            return name.clone();
        }
        let req = SlackApiUsersInfoRequest::new(SlackUserId(user.to_string()));
        let name = match self.client.open_session(&self.token).users_info(&req).await {
            Ok(r) => {
                let profile = r.user.profile.as_ref();
                profile
                    .and_then(|p| p.display_name.clone())
                    .filter(|n| !n.trim().is_empty())
                    .or_else(|| r.user.real_name.clone())
                    .or_else(|| profile.and_then(|p| p.real_name.clone()))
                    .or(r.user.name.clone())
            }
            Err(e) => {
                tracing::debug!(error = %e, "users.info failed (is users:read granted?)");
                None
            }
        };
        self.user_names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(user.to_string(), name.clone());
        name
    }

    fn lock_names(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.channel_names.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) async fn post(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        text: &str,
        controls: &Controls,
    ) -> Result<String, AdapterError> {
        let mut content = SlackMessageContent::new().with_text(text.to_string());
        content.blocks = super::blocks::for_message(text, controls);
        let req = SlackApiChatPostMessageRequest::new(SlackChannelId(channel.to_string()), content)
            .opt_thread_ts(thread_ts.map(|t| SlackTs(t.to_string())))
            .with_parse(PARSE.into())
            // Link previews would push the answer off screen and change as it is edited.
            .with_unfurl_links(false)
            .with_unfurl_media(false);
        let r = self
            .client
            .open_session(&self.token)
            .chat_post_message(&req)
            .await
            .map_err(classify)?;
        Ok(r.ts.0)
    }

    /// The bot's messages in a thread (`conversations.replies`) or, for a DM answered
    /// outside threads, in the channel (`conversations.history`), newer than `oldest`:
    /// `(ts, text)` of those whose author is `bot_user`, oldest first. One page (100) is
    /// enough: it is only asked about the few messages since one question.
    async fn own_messages_since(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        oldest: &str,
        bot_user: &str,
    ) -> Result<Vec<(String, String)>, AdapterError> {
        let session = self.client.open_session(&self.token);
        let (channel_id, oldest_ts) = (SlackChannelId(channel.to_string()), SlackTs(oldest.into()));
        let messages = match thread_ts {
            Some(ts) => {
                let req = SlackApiConversationsRepliesRequest::new(channel_id, SlackTs(ts.into()))
                    .with_oldest(oldest_ts)
                    .with_limit(100);
                session.conversations_replies(&req).await.map_err(classify)?.messages
            }
            None => {
                let req = SlackApiConversationsHistoryRequest::new()
                    .with_channel(channel_id)
                    .with_oldest(oldest_ts)
                    .with_limit(100);
                session.conversations_history(&req).await.map_err(classify)?.messages
            }
        };
        let mut own: Vec<(String, String)> = messages
            .into_iter()
            .filter(|m| m.sender.user.as_ref().is_some_and(|u| u.0 == bot_user))
            .filter(|m| m.origin.ts.0.as_str() > oldest)
            .map(|m| (m.origin.ts.0, m.content.text.unwrap_or_default()))
            .collect();
        own.sort();
        Ok(own)
    }

    /// Adds reaction `name` to a message; one that is there already counts as added.
    async fn react(&self, channel: &str, ts: &str, name: &str) -> Result<(), AdapterError> {
        let req = SlackApiReactionsAddRequest::new(
            SlackChannelId(channel.to_string()),
            SlackReactionName(name.to_string()),
            SlackTs(ts.to_string()),
        );
        match self.client.open_session(&self.token).reactions_add(&req).await {
            Ok(_) => Ok(()),
            Err(SlackClientError::ApiError(e)) if e.code == "already_reacted" => Ok(()),
            Err(e) => Err(classify(e)),
        }
    }

    async fn update(
        &self,
        channel: &str,
        ts: &str,
        text: &str,
        controls: &Controls,
    ) -> Result<(), AdapterError> {
        // Without blocks, an empty list: `chat.update` keeps a message's old blocks
        // unless told otherwise, and buttons must not outlive what they belong to.
        let blocks = super::blocks::for_message(text, controls).unwrap_or_default();
        let content = SlackMessageContent::new().with_text(text.to_string()).with_blocks(blocks);
        let req = SlackApiChatUpdateRequest::new(
            SlackChannelId(channel.to_string()),
            content,
            SlackTs(ts.to_string()),
        )
        // As on `chat.postMessage`, so a message reads the same after its edits.
        .with_parse(PARSE.into());
        self.client.open_session(&self.token).chat_update(&req).await.map_err(classify)?;
        Ok(())
    }
}

/// Slack errors as the core's policy needs them.
pub(super) fn classify(err: SlackClientError) -> AdapterError {
    match err {
        SlackClientError::RateLimitError(e) => {
            AdapterError::RateLimited { retry_after: e.retry_after.unwrap_or(DEFAULT_RETRY_AFTER) }
        }
        SlackClientError::ApiError(e) if e.code == "ratelimited" => {
            AdapterError::RateLimited { retry_after: DEFAULT_RETRY_AFTER }
        }
        SlackClientError::ApiError(e)
            if matches!(
                e.code.as_str(),
                "internal_error" | "fatal_error" | "service_unavailable" | "request_timeout"
            ) =>
        {
            AdapterError::Transient(e.code)
        }
        // Not "message gone": the message (if any) still shows its last text, and the
        // core splits shorter rather than post it anew (a stale partial plus a copy).
        SlackClientError::ApiError(e) if e.code == "msg_too_long" => AdapterError::TooLong(e.code),
        SlackClientError::ApiError(e) => AdapterError::Permanent(e.code),
        SlackClientError::HttpError(e) if e.status_code.is_server_error() => {
            AdapterError::Transient(format!("HTTP {}", e.status_code))
        }
        SlackClientError::HttpError(e) => {
            AdapterError::Permanent(format!("HTTP {}", e.status_code))
        }
        other => AdapterError::Transient(other.to_string()),
    }
}

/// The core's view of Slack.
pub(crate) struct SlackEgress {
    web: Arc<SlackWeb>,
    /// The bot's user id (from `auth.test`): the author of the messages it may adopt.
    bot_user: String,
    caps: Capabilities,
    /// Slack's file host, with the bot token.
    files: crate::adapters::file_fetch::FileHost,
    /// Native streaming, as `slack.streaming` and Slack's answers allow.
    streams: super::streams::Streams,
    /// Which DM threads are assistant threads (where a status stands for the
    /// placeholder), as the runtime learnt it.
    assistant: Arc<super::assistant::Threads>,
}

impl SlackEgress {
    #[allow(clippy::too_many_arguments)] // one call site, each argument a setting
    pub(crate) fn new(
        web: Arc<SlackWeb>,
        assistant: Arc<super::assistant::Threads>,
        bot_user: String,
        max_message_chars: usize,
        max_message_bytes: usize,
        edits_per_minute: u32,
        files: crate::adapters::file_fetch::FileHost,
        streaming: super::config::StreamingMode,
    ) -> Self {
        Self {
            web,
            bot_user,
            files,
            streams: super::streams::Streams::new(streaming),
            assistant,
            caps: Capabilities {
                max_message_chars,
                // `msg_too_long` comes well before the documented 40,000 characters
                // (near 4,000, as users report it), and Slack does not say in what
                // unit. UTF-8 bytes are never fewer than UTF-16 units or characters,
                // so a budget in bytes holds whichever Slack counts.
                max_message_bytes: Some(max_message_bytes),
                min_edit_interval: Duration::from_millis(1000),
                // chat.postMessage allows about one message per second per channel; edits
                // share that pace so several answers in one channel stay within it.
                channel_budget: Budget { actions: 5, window: Duration::from_secs(5) },
                // chat.update is Tier 3 (about 50 a minute) per workspace.
                workspace_budget: Some(Budget {
                    actions: edits_per_minute,
                    window: Duration::from_secs(60),
                }),
                // Bots get no typing indicator outside the AI-app surface; in assistant
                // threads, `typing` sets the thread's status (see `assistant`).
                typing_every: Some(super::assistant::STATUS_EVERY),
            },
        }
    }
}

#[async_trait]
impl ChatAdapter for SlackEgress {
    fn name(&self) -> &'static str {
        "slack"
    }

    fn title(&self) -> &'static str {
        "Slack"
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn render(&self, markdown: &str) -> String {
        super::format::to_slack(markdown)
    }

    fn render_sources(&self, sources: &[crate::bridge::sources::Cited]) -> String {
        super::format::sources_line(sources)
    }

    async fn post(
        &self,
        thread: &ThreadKey,
        text: &str,
        controls: &Controls,
    ) -> Result<MessageRef, AdapterError> {
        let (team, channel, thread_ts) = ids::parse_thread(thread)
            .ok_or_else(|| AdapterError::Permanent(format!("not a Slack thread: {thread}")))?;
        let ts = self.web.post(channel, thread_ts, text, controls).await?;
        Ok(ids::message(team, channel, &ts))
    }

    async fn edit(
        &self,
        message: &MessageRef,
        text: &str,
        controls: &Controls,
    ) -> Result<(), AdapterError> {
        let (channel, ts) = ids::parse_message(message)
            .ok_or_else(|| AdapterError::Permanent(format!("not a Slack message: {message}")))?;
        self.web.update(channel, ts, text, controls).await
    }

    fn streams_in(&self, thread: &ThreadKey) -> bool {
        self.streams.streams_in(thread)
    }

    fn shows_status_in(&self, thread: &ThreadKey) -> bool {
        self.assistant.assistant_thread(thread).is_some()
    }

    async fn typing(&self, thread: &ThreadKey) -> Result<(), AdapterError> {
        match self.assistant.assistant_thread(thread) {
            Some((channel, ts)) => {
                super::assistant::set_status(&self.web, channel, ts, super::assistant::THINKING)
                    .await
            }
            None => Ok(()),
        }
    }

    async fn delete(&self, message: &MessageRef) -> Result<(), AdapterError> {
        let (channel, ts) = ids::parse_message(message)
            .ok_or_else(|| AdapterError::Permanent(format!("not a Slack message: {message}")))?;
        let req =
            SlackApiChatDeleteRequest::new(SlackChannelId(channel.into()), SlackTs(ts.into()));
        self.web.client.open_session(&self.web.token).chat_delete(&req).await.map_err(classify)?;
        Ok(())
    }

    fn stream_budgets(&self) -> Option<crate::bridge::adapter::StreamBudgets> {
        Some(super::streams::BUDGETS)
    }

    async fn start_stream(
        &self,
        thread: &ThreadKey,
        recipient: Option<&UserKey>,
        markdown: &str,
    ) -> Result<MessageRef, StreamRefused> {
        self.streams.start(&self.web, thread, recipient, markdown).await
    }

    async fn append_stream(&self, message: &MessageRef, delta: &str) -> Result<(), StreamRefused> {
        self.streams.append(&self.web, message, delta).await
    }

    async fn stop_stream(
        &self,
        message: &MessageRef,
        delta: &str,
        footer: Option<&str>,
        controls: &Controls,
    ) -> Result<(), StreamRefused> {
        self.streams.stop(&self.web, message, delta, footer, controls).await
    }

    async fn mark_delivered(
        &self,
        question: &MessageRef,
        _agent: Option<&str>,
    ) -> Result<(), AdapterError> {
        let (channel, ts) = ids::parse_message(question)
            .ok_or_else(|| AdapterError::Permanent(format!("not a Slack message: {question}")))?;
        self.web.react(channel, ts, DELIVERED_REACTION).await
    }

    fn thread_root(&self, thread: &ThreadKey) -> Option<MessageRef> {
        let (team, channel, thread_ts) = ids::parse_thread(thread)?;
        Some(ids::message(team, channel, thread_ts?))
    }

    async fn fetch_file(
        &self,
        file: &crate::bridge::files::Attachment,
        max_bytes: usize,
    ) -> Result<Vec<u8>, crate::bridge::adapter::FileError> {
        self.files.fetch(&file.url, max_bytes).await
    }

    async fn thread_history(
        &self,
        thread: &ThreadKey,
        before: &MessageRef,
        limit: usize,
    ) -> Result<Vec<crate::bridge::context::HistoryLine>, AdapterError> {
        let (Some((_, channel, Some(thread_ts))), Some((_, before_ts))) =
            (ids::parse_thread(thread), ids::parse_message(before))
        else {
            return Ok(Vec::new());
        };
        super::history::thread_history(
            &self.web,
            &self.bot_user,
            channel,
            thread_ts,
            before_ts,
            limit,
        )
        .await
    }

    async fn find_unrecorded(
        &self,
        thread: &ThreadKey,
        after: &MessageRef,
        text: &str,
    ) -> Result<Option<MessageRef>, AdapterError> {
        let (Some((team, channel, thread_ts)), Some((_, after_ts))) =
            (ids::parse_thread(thread), ids::parse_message(after))
        else {
            return Ok(None);
        };
        let own = self.web.own_messages_since(channel, thread_ts, after_ts, &self.bot_user).await?;
        Ok(own
            .into_iter()
            .rev()
            .find(|(_, shown)| shown == text)
            .map(|(ts, _)| ids::message(team, channel, &ts)))
    }
}
