//! Showing replies on Discord: the [`ChatAdapter`] the core drives.
//!
//! Threads opened for a question are created lazily, on the first post into them: the
//! core posts only after it has decided to answer (de-duplication, bot filtering), so a
//! redelivered or ignored message never opens a thread. That works because a thread
//! started from a message has the message's id, so ingress can mint the thread's key
//! before the thread exists, and leave its parent and name here in `pending`.

use super::directory::{ChannelInfo, Directory, Kind};
use super::rest::Rest;
use super::{format, ids};
use crate::bridge::adapter::{AdapterError, Budget, Capabilities, ChatAdapter};
use crate::bridge::controls::Controls;
use crate::bridge::ids::{MessageRef, ThreadKey};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Discord allows 5 message creations or edits per 5 seconds in a channel (threads and
/// DMs are channels of their own), shared by every reply there. The window has half a
/// second of margin: Discord counts a request when it arrives, the budget when it is
/// taken, and in between may lie network latency or, for the first post into a new
/// thread, the thread's creation.
pub(crate) const CHANNEL_BUDGET: Budget =
    Budget { actions: 5, window: Duration::from_millis(5_500) };

/// One edit per 1.25 s per reply: four streaming edits per window leave the fifth slot
/// for the final text, so it is never held back by the budget.
pub(crate) const MIN_EDIT_INTERVAL: Duration = Duration::from_millis(1250);

/// A thread to create before the first post into it.
#[derive(Clone, Debug)]
struct PendingThread {
    parent: u64,
    name: String,
}

/// The Discord [`ChatAdapter`].
pub(crate) struct DiscordAdapter {
    caps: Capabilities,
    /// The bot's user id: the author of the messages it may adopt.
    bot_user: u64,
    rest: Arc<Rest>,
    directory: Arc<Directory>,
    /// Thread id → what is needed to create it.
    pending: Mutex<HashMap<u64, PendingThread>>,
    /// Discord's attachment host (no credential: its URLs are signed).
    files: crate::adapters::file_fetch::FileHost,
}

impl DiscordAdapter {
    /// An adapter posting through `rest`; answers continue in a new message past
    /// `max_message_chars`.
    pub(crate) fn new(
        rest: Arc<Rest>,
        directory: Arc<Directory>,
        bot_user: u64,
        max_message_chars: usize,
        files: crate::adapters::file_fetch::FileHost,
    ) -> Self {
        Self {
            files,
            bot_user,
            caps: Capabilities {
                max_message_chars,
                // Discord counts characters only (2,000), never bytes.
                max_message_bytes: None,
                min_edit_interval: MIN_EDIT_INTERVAL,
                channel_budget: CHANNEL_BUDGET,
                // Discord's global limit (50 requests/s per bot) is far above what the
                // channel budgets allow together in practice.
                workspace_budget: None,
                // Discord's indicator lasts 10 s (API docs, Trigger Typing Indicator,
                // checked 2026-12).
                typing_every: Some(Duration::from_secs(8)),
            },
            rest,
            directory,
            pending: Mutex::new(HashMap::new()),
        }
    }

    /// Notes that thread `message` (started from that message in `parent`, named
    /// `name`) must be created before the first post into it. Returns false if it was
    /// already pending (a redelivery), so the caller knows whether to undo it.
    pub(crate) fn expect_thread(&self, message: u64, parent: u64, name: String) -> bool {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if pending.contains_key(&message) {
            return false;
        }
        pending.insert(message, PendingThread { parent, name });
        true
    }

    /// Drops a pending thread the core decided not to answer in.
    pub(crate) fn forget_thread(&self, message: u64) {
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).remove(&message);
    }

    /// Creates `channel` if it is a pending thread. It stays pending until creation
    /// succeeds, so the core's retry of the post retries the creation too.
    async fn ensure_thread(&self, channel: u64) -> Result<(), AdapterError> {
        let pending = self.pending.lock().unwrap_or_else(|p| p.into_inner()).get(&channel).cloned();
        let Some(thread) = pending else { return Ok(()) };
        self.rest.create_thread(thread.parent, channel, &thread.name).await?;
        self.forget_thread(channel);
        let info = ChannelInfo {
            kind: Kind::Thread,
            parent: Some(thread.parent),
            name: Some(thread.name),
        };
        self.directory.learn(channel, info);
        Ok(())
    }
}

/// Discord's code for a channel it does not know.
const UNKNOWN_CHANNEL: i64 = 10003;
/// The name of a thread recovery opens for a question a killed run took.
const RESUMED_THREAD_NAME: &str = "SiteAssist answer";

/// The reaction that marks a question delivered to a person.
const DELIVERED_REACTION: &str = "✅";

fn channel_of(thread: &ThreadKey) -> Result<u64, AdapterError> {
    ids::thread_channel(thread)
        .ok_or_else(|| AdapterError::Permanent(format!("not a Discord thread: {thread}")))
}

#[async_trait]
impl ChatAdapter for DiscordAdapter {
    fn name(&self) -> &'static str {
        "discord"
    }

    fn title(&self) -> &'static str {
        "Discord"
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn render(&self, markdown: &str) -> String {
        format::render(markdown)
    }

    fn render_sources(&self, sources: &[crate::bridge::sources::Cited]) -> String {
        format::sources_line(sources)
    }

    async fn post(
        &self,
        thread: &ThreadKey,
        text: &str,
        controls: &Controls,
    ) -> Result<MessageRef, AdapterError> {
        let channel = channel_of(thread)?;
        self.ensure_thread(channel).await?;
        let id = self.rest.create_message(channel, text, controls).await?;
        Ok(ids::message(channel, id))
    }

    async fn edit(
        &self,
        message: &MessageRef,
        text: &str,
        controls: &Controls,
    ) -> Result<(), AdapterError> {
        let (channel, id) = ids::parse_message(message)
            .ok_or_else(|| AdapterError::Permanent(format!("not a Discord message: {message}")))?;
        Ok(self.rest.edit_message(channel, id, text, controls).await?)
    }

    /// A thread opened from the question itself (its id is the question's) that Discord
    /// does not know: the killed run took the question but died before opening the
    /// thread, and what it knew of it (the parent, the name) died with it. The parent
    /// is in the question's id; the name is a plain one. The next post creates it.
    async fn resume_thread(&self, thread: &ThreadKey, question: &MessageRef) {
        let (Some(channel), Some((parent, id))) =
            (ids::thread_channel(thread), ids::parse_message(question))
        else {
            return;
        };
        if channel != id || parent == channel {
            return;
        }
        // A 429 or a 5xx on the check is waited out: taken for "the thread exists", it
        // left the reply posting into a thread nobody opened (the fault campaign lost a
        // question that way after a restart met Discord's rate limit).
        let check = || async {
            match self.rest.channel(channel).await {
                Err(f)
                    if matches!(
                        f.error,
                        AdapterError::RateLimited { .. } | AdapterError::Transient(_)
                    ) =>
                {
                    Err(f.error)
                }
                other => Ok(other),
            }
        };
        match crate::bridge::platform_call("discord", check).await {
            Ok(Err(f)) if f.code == Some(UNKNOWN_CHANNEL) => {
                tracing::info!(thread = channel, "opening the thread a killed run did not");
                self.expect_thread(channel, parent, RESUMED_THREAD_NAME.to_string());
            }
            Ok(Ok(_)) => {}
            Ok(Err(f)) => tracing::warn!(error = %f.error, "could not check a thread to resume"),
            Err(e) => tracing::warn!(error = %e, "could not check a thread to resume"),
        }
    }

    async fn mark_delivered(
        &self,
        question: &MessageRef,
        _agent: Option<&str>,
    ) -> Result<(), AdapterError> {
        let (channel, id) = ids::parse_message(question)
            .ok_or_else(|| AdapterError::Permanent(format!("not a Discord message: {question}")))?;
        Ok(self.rest.add_reaction(channel, id, DELIVERED_REACTION).await?)
    }

    /// A thread is a channel whose id is older than every message in it.
    fn thread_root(&self, thread: &ThreadKey) -> Option<MessageRef> {
        ids::thread_channel(thread).map(|channel| ids::message(channel, channel))
    }

    async fn typing(&self, thread: &ThreadKey) -> Result<(), AdapterError> {
        let channel = channel_of(thread)?;
        self.ensure_thread(channel).await?;
        Ok(self.rest.typing(channel).await?)
    }

    async fn fetch_file(
        &self,
        file: &crate::bridge::files::Attachment,
        max_bytes: usize,
    ) -> Result<Vec<u8>, crate::bridge::adapter::FileError> {
        self.files.fetch(&file.url, max_bytes).await
    }

    /// People's and other bots' messages in the thread before the question (not the
    /// bot's own, nor system messages), authors by display name (a server nickname
    /// needs the member, which the message list does not carry), markup made readable.
    async fn thread_history(
        &self,
        thread: &ThreadKey,
        before: &MessageRef,
        limit: usize,
    ) -> Result<Vec<crate::bridge::context::HistoryLine>, AdapterError> {
        let (Some(channel), Some((_, before))) =
            (ids::thread_channel(thread), ids::parse_message(before))
        else {
            return Ok(Vec::new());
        };
        let listed = self.rest.messages_before(channel, before, limit).await?;
        let bot = self.bot_user.to_string();
        Ok(listed
            .into_iter()
            .rev()
            .filter(|m| m.author.id != bot && matches!(m.kind, 0 | 19))
            .map(|m| {
                let user =
                    |id: u64| m.mentions.iter().find(|u| u.id == id.to_string()).map(|u| u.shown());
                let channel = |id| self.directory.channel(id).and_then(|c| c.name);
                let text = super::reading::readable(&m.content, user, channel);
                crate::bridge::context::HistoryLine::new(m.author.shown(), text)
            })
            .collect())
    }

    async fn find_unrecorded(
        &self,
        thread: &ThreadKey,
        after: &MessageRef,
        text: &str,
    ) -> Result<Option<MessageRef>, AdapterError> {
        let (channel, (_, after)) = match (ids::thread_channel(thread), ids::parse_message(after)) {
            (Some(channel), Some(after)) => (channel, after),
            _ => return Ok(None),
        };
        // A thread still waiting to be created holds nothing yet.
        if self.pending.lock().unwrap_or_else(|p| p.into_inner()).contains_key(&channel) {
            return Ok(None);
        }
        let listed = self.rest.messages_after(channel, after).await?;
        Ok(listed
            .into_iter()
            .filter(|(_, author, content)| *author == self.bot_user && content == text)
            .map(|(id, _, _)| id)
            .max()
            .map(|id| ids::message(channel, id)))
    }
}
