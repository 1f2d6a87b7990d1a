//! Shared state of the fake: what was called, what a user would see, what the socket did.
//!
//! One `std::sync::Mutex` guards everything (never held across an `.await`), and a
//! `watch` counter is bumped after every change so waiters are woken by events instead
//! of polling with sleeps.

use serde_json::Value;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;
use tokio::sync::{mpsc, watch};

/// Who the fake pretends to be, and which tokens it accepts.
#[derive(Clone, Debug)]
pub struct FakeSlackConfig {
    /// Bot token (`xoxb-…`) every Web API method except `apps.connections.open` requires.
    pub bot_token: String,
    /// App-level token (`xapp-…`) `apps.connections.open` requires.
    pub app_token: String,
    /// Workspace id (`auth.test` `team_id`, events' `team_id`).
    pub team_id: String,
    /// Workspace name (`auth.test` `team`).
    pub team_name: String,
    /// The bot's user id (`auth.test` `user_id`, author of every posted message).
    pub bot_user_id: String,
    /// The bot's bot id (`auth.test` `bot_id`, `bot_id` of every posted message).
    pub bot_id: String,
    /// The bot user's name (`auth.test` `user`).
    pub bot_name: String,
    /// App id (Socket Mode `hello`, events' `api_app_id`).
    pub app_id: String,
}

impl Default for FakeSlackConfig {
    fn default() -> Self {
        Self {
            bot_token: super::BOT_TOKEN.into(),
            app_token: super::APP_TOKEN.into(),
            team_id: super::TEAM_ID.into(),
            team_name: "Fake Team".into(),
            bot_user_id: super::BOT_USER_ID.into(),
            bot_id: super::BOT_ID.into(),
            bot_name: "siteassist".into(),
            app_id: super::APP_ID.into(),
        }
    }
}

/// One Web API call as the fake received it.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedCall {
    /// Method name, e.g. `chat.postMessage`.
    pub method: String,
    /// JSON body, or form / query parameters as a JSON object of strings (`token` removed).
    pub params: Value,
    /// Bearer token (or `token` parameter) the call carried.
    pub token: Option<String>,
    /// `GET` or `POST`, to check the client sends what real Slack expects.
    pub http_method: String,
    /// The `error` code answered (`None` when the call succeeded).
    pub error: Option<String>,
    /// When the fake received it, so tests can check pacing.
    pub at: Instant,
}

/// Slack's limits as the fake enforces them (on in every test; a test that means to go
/// past them raises them with `FakeSlack::set_limits`).
///
/// Sources (checked 2026-12): `chat.update` is a Tier 3 method, about 50 calls a
/// minute per workspace (api.slack.com/methods/chat.update, "Rate limits"), answered
/// over the limit with HTTP 429 and `Retry-After`; `msg_too_long` comes well below the
/// documented 40,000 characters, near 4,000 as users report it, in a unit Slack does
/// not document, so the fake counts bytes too (see `text_limits`).
#[derive(Clone, Copy, Debug)]
pub struct SlackLimits {
    /// Longest `text` of `chat.postMessage` and `chat.update`, in characters.
    pub max_text_chars: usize,
    /// Longest `text` of the same, in UTF-8 bytes (emoji are 4, CJK characters 3).
    pub max_text_bytes: usize,
    /// `chat.update` calls per `update_window` in the workspace.
    pub updates_per_window: usize,
    /// Slack's window is a minute; a test may shorten it to see a 429 without waiting
    /// for one.
    pub update_window: std::time::Duration,
}

impl Default for SlackLimits {
    fn default() -> Self {
        Self {
            max_text_chars: 4_000,
            max_text_bytes: 4_000,
            updates_per_window: 50,
            update_window: std::time::Duration::from_secs(60),
        }
    }
}

/// A one-shot failure injected with `FakeSlack::fail_next`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FailKind {
    /// HTTP 429, `Retry-After: {retry_after_secs}`, body `{"ok":false,"error":"ratelimited"}`.
    RateLimited {
        /// Value of the `Retry-After` header, in seconds.
        retry_after_secs: u64,
    },
    /// HTTP 200 with `{"ok":false,"error":…}` (e.g. `channel_not_found`, `internal_error`).
    Error(&'static str),
    /// A bare HTTP status (e.g. 500 / 503) with `{"ok":false,"error":"fatal_error"}`.
    Status(u16),
    /// The call takes effect (a message is posted, an edit applied), then the answer is
    /// this bare HTTP status, as when Slack times out after doing the work: the client
    /// cannot tell it from [`FailKind::Status`].
    StatusAfterEffect(u16),
}

/// A message the bot posted, with its current text (after `chat.update`s).
#[derive(Clone, Debug, PartialEq)]
pub struct PostedMessage {
    /// Channel id.
    pub channel: String,
    /// Message ts minted by the fake.
    pub ts: String,
    /// Thread parent ts, when posted as a reply.
    pub thread_ts: Option<String>,
    /// Current text (`""` when the post had only blocks).
    pub text: String,
    /// Current blocks, if any were sent.
    pub blocks: Option<Value>,
    /// How many times `chat.update` changed it.
    pub edits: usize,
}

/// A person's message, as history lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct UserMessage {
    pub channel: String,
    pub user: String,
    pub text: String,
    pub ts: String,
    pub thread_ts: Option<String>,
}

/// A frame queued for one socket connection's writer task.
#[derive(Debug)]
pub(crate) enum Outgoing {
    Text(String),
    Binary(Vec<u8>),
    Close,
}

/// An envelope sent over Socket Mode, kept so it can be redelivered.
#[derive(Clone, Debug)]
pub(crate) struct Envelope {
    pub payload: Value,
    pub retry_attempt: u32,
}

#[derive(Default)]
pub(crate) struct State {
    pub calls: Vec<RecordedCall>,
    pub messages: Vec<PostedMessage>,
    pub reactions: Vec<(String, String, String)>,
    /// People's messages the fake saw in events it delivered (Slack keeps them as the
    /// channel's history): `conversations.replies` and `.history` list them too.
    pub user_messages: Vec<UserMessage>,
    /// Files served at `/files/{name}` (`url_private`): bytes and content type.
    pub files: HashMap<String, (Vec<u8>, String)>,
    /// Every file download: `(name, Authorization header)`.
    pub file_fetches: Vec<(String, Option<String>)>,
    pub ts_counter: u64,
    /// The latest person's message ts seen, in microseconds ([`State::next_ts`] stays
    /// after it).
    pub latest_user_micros: u64,
    pub failures: HashMap<String, VecDeque<FailKind>>,
    /// Failures that took effect, in order: `(method, channel of the call)`.
    pub failure_hits: Vec<(String, Option<String>)>,
    pub users: HashMap<String, Value>,
    pub channel_names: HashMap<String, String>,
    pub tickets: HashSet<String>,
    pub connections: Vec<(u64, mpsc::UnboundedSender<Outgoing>)>,
    pub connections_total: usize,
    pub next_connection_id: u64,
    pub envelopes: HashMap<String, Envelope>,
    /// Frames waiting for a connection (sent while none was open), delivered after `hello`.
    pub pending_frames: Vec<String>,
    pub acks: Vec<String>,
    /// The `payload` of acknowledgements that carried one (slash command responses).
    pub ack_payloads: std::collections::HashMap<String, serde_json::Value>,
    /// The limits in force.
    pub limits: SlackLimits,
    /// When the last minute's `chat.update` calls were accepted.
    pub updates: VecDeque<Instant>,
    /// Button presses made so far (each gets its own `action_ts` and `trigger_id`).
    pub presses: u64,
    /// When each envelope was last written to a connection, to time its ack.
    pub written_at: HashMap<String, Instant>,
    /// What Slack would refuse or the bridge must never do (a text over the limit, an
    /// ack later than 3 s); the test fails when the fake is dropped with any left.
    pub violations: Vec<String>,
    /// Native streams (`chat.startStream` and the rest).
    pub streams: super::streams::Streams,
    /// Assistant threads by `(channel, thread_ts)`: what the bridge set on them.
    pub assistant: HashMap<(String, String), super::assistant::AssistantThread>,
    /// The roots of the assistant threads users opened, `(channel, thread_ts)`: Slack
    /// lists each as a message of subtype `assistant_app_thread` by the app.
    pub assistant_roots: std::collections::HashSet<(String, String)>,
}

impl State {
    /// Next ts: `1700000000.000100`, `1700000000.000200`, … (same width, so string order
    /// is time order, as with real Slack timestamps), and always after every person's
    /// message the fake has seen: Slack stamps a message with the time it was posted,
    /// so a reply is never older than the question (tests choose the questions' ts).
    pub fn next_ts(&mut self) -> String {
        const BASE: u64 = 1_700_000_000 * 1_000_000;
        let seen = self.latest_user_micros.saturating_sub(BASE) / 100;
        self.ts_counter = (self.ts_counter + 1).max(seen + 1);
        let micros_total = self.ts_counter * 100;
        format!("{}.{:06}", 1_700_000_000 + micros_total / 1_000_000, micros_total % 1_000_000)
    }
}

/// State plus the change counter every waiter watches.
pub(crate) struct Shared {
    pub cfg: FakeSlackConfig,
    state: Mutex<State>,
    changed: watch::Sender<u64>,
    /// `ws://127.0.0.1:PORT/socket`, filled once the socket listener is bound.
    pub socket_base: String,
}

impl Shared {
    pub fn new(cfg: FakeSlackConfig, socket_base: String) -> Self {
        Self {
            cfg,
            state: Mutex::new(State::default()),
            changed: watch::Sender::new(0),
            socket_base,
        }
    }

    /// Locks the state; a poisoned lock (a panicking test thread) is still readable.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes every waiter; call after each change, with the lock released.
    pub fn notify(&self) {
        self.changed.send_modify(|n| *n += 1);
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }
}
