//! The one interface every chat platform implements, and what it can do.

use super::controls::Controls;
use super::ids::{MessageRef, ThreadKey, UserKey};
use async_trait::async_trait;
use std::time::Duration;

/// What a platform allows, so the core can stream within its limits.
#[derive(Clone, Debug)]
pub struct Capabilities {
    /// Longest message the platform accepts, in characters. Longer answers continue in
    /// new messages.
    pub max_message_chars: usize,
    /// Longest message in UTF-8 bytes, where the platform counts bytes too (Slack's
    /// `msg_too_long`): emoji and CJK text reach it before the character limit. `None`:
    /// characters only.
    pub max_message_bytes: Option<usize>,
    /// Shortest time between two edits of the same reply.
    pub min_edit_interval: Duration,
    /// Edits (and posts) allowed per channel in a window, shared by all replies there.
    pub channel_budget: Budget,
    /// An extra budget shared by a whole workspace, where the platform has one.
    pub workspace_budget: Option<Budget>,
    /// How often the core renews [`ChatAdapter::typing`] while no answer text is
    /// visible: a little less than the indicator lasts on the platform. `None`: the
    /// platform shows no typing indicator for bots, and the core never calls it.
    pub typing_every: Option<Duration>,
}

impl Capabilities {
    /// The limit every message of a reply starts with (a reply lowers its own after a
    /// [`AdapterError::TooLong`]).
    pub fn message_limit(&self) -> super::split::Limit {
        super::split::Limit { chars: self.max_message_chars, bytes: self.max_message_bytes }
    }
}

/// A rate budget: at most `actions` in any `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// How many actions fit in one window.
    pub actions: u32,
    /// The window's length.
    pub window: Duration,
}

/// A platform's own budgets for its native stream methods, each per workspace (where
/// they differ from posts and edits, as Slack's do): the core paces starts, appends and
/// stops by these instead of the edit budget. A start also takes a slot of
/// [`Capabilities::channel_budget`], since it makes a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamBudgets {
    /// Starting a stream.
    pub start: Budget,
    /// Appending to a stream.
    pub append: Budget,
    /// Ending a stream.
    pub stop: Budget,
}

/// Why a platform call failed, with what the core should do about it.
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    /// The platform said "slow down": the core waits `retry_after` and tries again.
    #[error("rate limited by the platform; retry after {retry_after:?}")]
    RateLimited {
        /// How long the platform asked us to wait.
        retry_after: Duration,
    },
    /// A failure that may pass (network, 5xx): the core retries a few times.
    #[error("platform call failed, may pass: {0}")]
    Transient(String),
    /// The platform refused the text as too long though it was within
    /// [`Capabilities`]' limits (Slack's `msg_too_long`, which is not documented
    /// exactly). Nothing changed on the platform: an edited message still shows its
    /// previous text. The core halves that reply's limit from this message on and
    /// splits again, so the message becomes a finished part and the rest follows in new
    /// ones; it never posts the message anew.
    #[error("the platform refused the text as too long: {0}")]
    TooLong(String),
    /// A failure that will not pass (no permission, message deleted): the core gives up
    /// on this reply and logs it (an edit of a message that is gone is posted anew).
    #[error("platform call failed: {0}")]
    Permanent(String),
}

/// The platform refused a native stream call ([`ChatAdapter::start_stream`] and the
/// others): method unknown, not allowed in that conversation, rate limited, text refused.
/// Whatever the reason, the core finishes that reply by post and edit from what the
/// stream message shows (see [`super::native`]), so no variant needs another policy.
#[derive(Debug, thiserror::Error)]
#[error("the platform refused the stream: {reason}")]
pub struct StreamRefused {
    /// The platform's reason, for the logs.
    pub reason: String,
}

/// Why an attached file could not be had, with what the core tells the asker.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file is larger than the core reads: it is named as too large.
    #[error("the file is larger than {limit} bytes")]
    TooLarge {
        /// The limit it went past.
        limit: usize,
    },
    /// Its address is not the platform's file host (or this platform has no files):
    /// nothing is fetched, and it is named as not readable.
    #[error("not a file address of this platform: {0}")]
    NotAllowed(String),
    /// Fetching failed (network, status): it is named as not readable. Not retried:
    /// the question goes without it rather than wait.
    #[error("fetching the file failed: {0}")]
    Failed(String),
}

/// A chat platform as the core sees it: post and edit messages in threads.
///
/// Implementations are thin translators: they turn these calls into platform API
/// requests and nothing more. They do not retry (the core does, using
/// [`AdapterError::RateLimited`]) and they do not throttle (the core's throttle does).
#[async_trait]
pub trait ChatAdapter: Send + Sync + 'static {
    /// Short lowercase platform name for logs and metrics (`slack`, `discord`, `console`).
    fn name(&self) -> &'static str;

    /// The platform's name for people (`Slack`), in the page titles SiteAssist shows.
    fn title(&self) -> &'static str;

    /// The platform's limits.
    fn capabilities(&self) -> &Capabilities;

    /// Turns SiteAssist Markdown into what the platform displays correctly. Must be
    /// pure: the core calls it on every edit with the whole text so far.
    fn render(&self, markdown: &str) -> String;

    /// The line under a finished answer that lists its sources (never empty), as the
    /// platform shows links best. The default renders
    /// [`markdown_line`](super::sources::markdown_line) like an answer.
    fn render_sources(&self, sources: &[super::sources::Cited]) -> String {
        self.render(&super::sources::markdown_line(sources))
    }

    /// Posts a new message in `thread` with the buttons `controls` asks for (an adapter
    /// draws those its platform can, and skips the rest) and returns its id. Not
    /// idempotent: each call posts a message.
    async fn post(
        &self,
        thread: &ThreadKey,
        text: &str,
        controls: &Controls,
    ) -> Result<MessageRef, AdapterError>;

    /// Replaces the text and the buttons of a message this bot posted (buttons it had
    /// and `controls` lacks are removed). Idempotent.
    async fn edit(
        &self,
        message: &MessageRef,
        text: &str,
        controls: &Controls,
    ) -> Result<(), AdapterError>;

    /// Whether a reply in `thread` may stream natively (the platform grows one message
    /// as text is appended, instead of being edited): when `true`, the core starts a
    /// stream with the first words instead of posting a placeholder, and calls only the
    /// stream methods until the answer is final or the platform refuses one. Decided by
    /// the adapter from the platform's rules and its config. The default: never, and the
    /// core never calls the stream methods. Must not make network calls.
    fn streams_in(&self, _thread: &ThreadKey) -> bool {
        false
    }

    /// Starts a natively streamed message in `thread` for `recipient` (the asker)
    /// showing `markdown` (standard Markdown: not passed through [`Self::render`]),
    /// and returns its id. Not idempotent: each call starts a message.
    async fn start_stream(
        &self,
        _thread: &ThreadKey,
        _recipient: Option<&UserKey>,
        _markdown: &str,
    ) -> Result<MessageRef, StreamRefused> {
        Err(StreamRefused { reason: format!("{} has no native streams", self.name()) })
    }

    /// Appends `markdown_delta` (only the new text) to an open stream. Not idempotent.
    async fn append_stream(
        &self,
        _message: &MessageRef,
        _markdown_delta: &str,
    ) -> Result<(), StreamRefused> {
        Err(StreamRefused { reason: format!("{} has no native streams", self.name()) })
    }

    /// Ends an open stream, appending `markdown_delta` (possibly empty) and showing
    /// `footer` (platform text, e.g. the sources line) and `controls` under the text.
    /// After it the message is an ordinary one that [`Self::edit`] can change.
    async fn stop_stream(
        &self,
        _message: &MessageRef,
        _markdown_delta: &str,
        _footer: Option<&str>,
        _controls: &Controls,
    ) -> Result<(), StreamRefused> {
        Err(StreamRefused { reason: format!("{} has no native streams", self.name()) })
    }

    /// The budgets of the native stream methods, when they have their own (see
    /// [`StreamBudgets`]). `None` (the default): stream calls count as edits.
    fn stream_budgets(&self) -> Option<StreamBudgets> {
        None
    }

    /// Whether the platform shows a status in `thread` ([`Self::typing`]) that stands
    /// for the placeholder of a reply streamed natively there (Slack's "is thinking…" in
    /// its assistant threads): then no placeholder is posted before the stream starts.
    /// The default: no.
    fn shows_status_in(&self, _thread: &ThreadKey) -> bool {
        false
    }

    /// Deletes a message this bot posted. Used for the placeholder a natively streamed
    /// reply kept above its stream for the Stop button, once the stream ends. The
    /// default: the platform cannot ([`AdapterError::Permanent`]), and it stays.
    async fn delete(&self, message: &MessageRef) -> Result<(), AdapterError> {
        Err(AdapterError::Permanent(format!("{} cannot delete {message}", self.name())))
    }

    /// Shows a "typing…" indicator in `thread`. The core calls it when a reply starts
    /// and every [`Capabilities::typing_every`] while no text is visible yet, and never
    /// when that is `None`.
    async fn typing(&self, _thread: &ThreadKey) -> Result<(), AdapterError> {
        Ok(())
    }

    /// Called once when a reply is final (answer, partial answer or notice), with the
    /// messages that show it and the question it answers (`None` for a note nobody
    /// asked for; a person's relayed message names the SiteAssist message instead). Adapters that print
    /// whole replies (the console in a pipe) or stop a typing indicator use it; the
    /// default does nothing.
    async fn reply_finished(
        &self,
        _thread: &ThreadKey,
        _question: Option<&MessageRef>,
        _messages: &[MessageRef],
    ) {
    }

    /// The newest message of this bot's in `thread`, posted after `after`, whose text is
    /// exactly `text`: a message that was posted but whose id the bridge never got.
    /// Two cases: a placeholder posted by a run that died before recording its id
    /// (recovery adopts it, so it does not think forever beside a second reply), and a
    /// post that failed with a timeout or 5xx yet was made (the core keeps it rather
    /// than post it twice). Adapters that cannot read their history return `Ok(None)`
    /// (the default), and the core posts anew.
    async fn find_unrecorded(
        &self,
        _thread: &ThreadKey,
        _after: &MessageRef,
        _text: &str,
    ) -> Result<Option<MessageRef>, AdapterError> {
        Ok(None)
    }

    /// Marks the user's `question` as delivered to a person of the support team
    /// (`agent`, when SiteAssist named them), who handles the conversation now: no
    /// answer follows from the bot, so the mark is how the user knows it arrived (a ✅
    /// reaction on Slack and Discord). The default does nothing.
    async fn mark_delivered(
        &self,
        _question: &MessageRef,
        _agent: Option<&str>,
    ) -> Result<(), AdapterError> {
        Ok(())
    }

    /// The message `thread` hangs from (every reply in it comes after), where there is
    /// one: the bound for [`Self::find_unrecorded`] when a message answers no question
    /// (a person's message relayed into the thread). `None` (the default): such posts
    /// are not looked for.
    fn thread_root(&self, _thread: &ThreadKey) -> Option<MessageRef> {
        None
    }

    /// Called by recovery before it finishes a reply a previous run left in `thread`
    /// for `question`: an adapter that opens threads lazily, and kept how in memory,
    /// makes sure the thread can be posted in (a run killed before opening it left
    /// nothing to post into). The default does nothing.
    async fn resume_thread(&self, _thread: &ThreadKey, _question: &MessageRef) {}

    /// The bytes of an attached `file` this adapter described, at most `max_bytes`
    /// ([`FileError::TooLarge`] past that, without reading further), fetched with the
    /// platform's credentials only from the platform's own file host. Called by the
    /// core for the text files of a question it is about to answer. The default: no
    /// files ([`FileError::NotAllowed`]).
    async fn fetch_file(
        &self,
        _file: &super::files::Attachment,
        _max_bytes: usize,
    ) -> Result<Vec<u8>, FileError> {
        Err(FileError::NotAllowed(format!("{} has no files", self.name())))
    }

    /// Up to `limit` messages of `thread` written before `before` (the question), oldest
    /// first, for the [thread context](super::context) of the first question the bot is
    /// asked in a thread it was not part of. The core calls it only for a question it is
    /// about to answer, once per such question, never for ignored messages. Read-only
    /// and idempotent; the adapter decides whose messages count (its own are left out
    /// on Slack and Discord, which the conversation does not need). The default: no
    /// history, and the question goes without.
    async fn thread_history(
        &self,
        _thread: &ThreadKey,
        _before: &MessageRef,
        _limit: usize,
    ) -> Result<Vec<super::context::HistoryLine>, AdapterError> {
        Ok(Vec::new())
    }
}
