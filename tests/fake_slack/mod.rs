//! A fake Slack for integration tests: Web API, Socket Mode and signed Events API posts,
//! and button presses in both modes.
//!
//! It answers with the JSON shapes from Slack's documentation and checks what the real
//! service checks (token kind, required parameters, single-use socket tickets), so an
//! adapter that works against it sends what Slack expects. It also keeps a "what a user
//! would see" view (current text of each bot message) so tests assert outcomes, not calls.
//!
//! Use it from a test file with `mod fake_slack;`.
#![allow(dead_code, unused_imports)]

mod assistant;
pub mod commands;
pub mod events;
mod history;
pub mod interactions;
pub mod signing;
mod socket;
mod state;
mod streams;
mod text_limits;
mod web;

pub use assistant::AssistantThread;
pub use events::*;
pub use interactions::{action_ids, form_body, post_interaction};
pub use signing::{post_event, post_signed_body, sign, unix_now};
pub use state::{FailKind, FakeSlackConfig, PostedMessage, RecordedCall, SlackLimits, UserMessage};
pub use streams::StreamPolicy;

use serde_json::Value;
use state::{Envelope, Outgoing, Shared};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Bot token the fake accepts by default.
pub const BOT_TOKEN: &str = "xoxb-fake-bot-token";
/// App-level token the fake accepts by default (for `apps.connections.open`).
pub const APP_TOKEN: &str = "xapp-fake-app-token";
/// A signing secret tests can give the adapter and `post_event` alike.
pub const SIGNING_SECRET: &str = "fake-signing-secret";
/// Default workspace id.
pub const TEAM_ID: &str = "T0001";
/// Default bot user id (mention it as `<@UBOT>`).
pub const BOT_USER_ID: &str = "UBOT";
/// Default bot id.
pub const BOT_ID: &str = "BBOT";
/// Default app id.
pub const APP_ID: &str = "A1";

/// How long any `wait_*` waits before failing the test.
const WAIT_LIMIT: Duration = Duration::from_secs(10);

/// A running fake Slack on 127.0.0.1; stops (and closes its sockets) when dropped.
pub struct FakeSlack {
    shared: Arc<Shared>,
    addr: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl FakeSlack {
    /// Starts with the default identity and tokens (`BOT_TOKEN`, `APP_TOKEN`, `UBOT`, …).
    pub async fn start() -> Self {
        Self::start_with(FakeSlackConfig::default()).await
    }

    /// Starts with a custom identity or tokens.
    pub async fn start_with(cfg: FakeSlackConfig) -> Self {
        let http = TcpListener::bind("127.0.0.1:0").await.expect("bind fake Slack API");
        let ws = TcpListener::bind("127.0.0.1:0").await.expect("bind fake Slack socket");
        let addr = http.local_addr().expect("api addr");
        let ws_addr = ws.local_addr().expect("socket addr");
        let shared = Arc::new(Shared::new(cfg, format!("ws://{ws_addr}/socket")));
        let app = web::router(shared.clone());
        let api_task = tokio::spawn(async move {
            let _ = axum::serve(http, app).await;
        });
        let socket_task = tokio::spawn(socket::serve(ws, shared.clone()));
        Self { shared, addr, tasks: vec![api_task, socket_task] }
    }

    /// `http://127.0.0.1:PORT/api`: what `slack.api_url` is set to.
    pub fn api_url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    /// The bridge's Slack settings for this fake: its tokens and secret, its API URL,
    /// Slack's default limits, no channel lists. Tests change what they exercise.
    #[cfg(feature = "slack")]
    pub fn bridge_settings(
        &self,
        mode: siteassist_bridge::adapters::slack::config::SlackMode,
    ) -> siteassist_bridge::adapters::slack::config::SlackSettings {
        use siteassist_bridge::secret::Secret;
        siteassist_bridge::adapters::slack::config::SlackSettings {
            enabled: true,
            mode,
            bot_token: Secret::new(BOT_TOKEN),
            app_token: Secret::new(APP_TOKEN),
            signing_secret: Secret::new(SIGNING_SECRET),
            listen: "127.0.0.1:0".into(),
            api_url: self.api_url(),
            auto_respond_channels: vec![],
            allow_channels: vec![],
            deny_channels: vec![],
            max_message_chars: 3900,
            max_message_bytes: 3900,
            edit_budget_per_minute: 50,
            files_url: self.files_url(),
            // The tests written before native streams see the edit path they test;
            // tests/slack_streaming.rs sets `auto` and `native` itself.
            streaming: siteassist_bridge::adapters::slack::config::StreamingMode::Edit,
            suggested_prompts: vec![],
        }
    }

    /// `http://127.0.0.1:PORT/files/`: what `slack.files_url` is set to.
    pub fn files_url(&self) -> String {
        format!("http://{}/files/", self.addr)
    }

    /// Serves `bytes` as a shared file named `name` and returns Slack's file object for
    /// an event's `files` (its `url_private` on this fake).
    pub fn add_file(&self, name: &str, mimetype: &str, bytes: Vec<u8>) -> Value {
        let size = bytes.len();
        self.shared.lock().files.insert(name.to_owned(), (bytes, mimetype.to_owned()));
        let filetype = name.rsplit_once('.').map_or("text", |(_, e)| e);
        serde_json::json!({
            "id": format!("F{}", name.len()),
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": filetype,
            "pretty_type": filetype.to_uppercase(),
            "user": "U0ALICE",
            "mode": "hosted",
            "is_external": false,
            "size": size,
            "url_private": format!("{}{name}", self.files_url()),
            "url_private_download": format!("{}{name}", self.files_url()),
        })
    }

    /// Every file download so far: `(name, Authorization header)`.
    pub fn file_fetches(&self) -> Vec<(String, Option<String>)> {
        self.shared.lock().file_fetches.clone()
    }

    /// `ws://127.0.0.1:PORT/socket` (without a ticket; clients get theirs from
    /// `apps.connections.open`).
    pub fn socket_url(&self) -> String {
        self.shared.socket_base.clone()
    }

    /// The identity and tokens in use.
    pub fn config(&self) -> &FakeSlackConfig {
        &self.shared.cfg
    }

    // ---- Web API: recording and the user's view ----

    /// Every Web API call so far, in arrival order (failed ones included).
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.shared.lock().calls.clone()
    }

    /// The calls to one method, e.g. `calls_to("chat.update")`.
    pub fn calls_to(&self, method: &str) -> Vec<RecordedCall> {
        self.shared.lock().calls.iter().filter(|c| c.method == method).cloned().collect()
    }

    /// Current text of the bot message `ts` in `channel` (after edits; `None` if the bot
    /// never posted it or deleted it).
    pub fn message_text(&self, channel: &str, ts: &str) -> Option<String> {
        let state = self.shared.lock();
        state.messages.iter().find(|m| m.channel == channel && m.ts == ts).map(|m| m.text.clone())
    }

    /// `(ts, current text)` of the bot's messages in a thread, oldest first: replies with
    /// that `thread_ts`, plus the parent itself when the bot posted it.
    pub fn messages_in_thread(&self, channel: &str, thread_ts: &str) -> Vec<(String, String)> {
        let state = self.shared.lock();
        state
            .messages
            .iter()
            .filter(|m| m.channel == channel)
            .filter(|m| m.thread_ts.as_deref() == Some(thread_ts) || m.ts == thread_ts)
            .map(|m| (m.ts.clone(), m.text.clone()))
            .collect()
    }

    /// Every message the bot posted and has not deleted, in posting order.
    pub fn messages(&self) -> Vec<PostedMessage> {
        self.shared.lock().messages.clone()
    }

    /// Reactions the bot currently has on messages: `(channel, ts, name)`.
    pub fn reactions(&self) -> Vec<(String, String, String)> {
        self.shared.lock().reactions.clone()
    }

    // ---- knobs ----

    /// Makes the next correctly authorised call to `method` fail as `kind` (queued; each
    /// is used once; the call is still recorded, with its `error`).
    pub fn fail_next(&self, method: &str, kind: FailKind) {
        self.shared.lock().failures.entry(method.to_owned()).or_default().push_back(kind);
    }

    /// Sets what `users.info` answers for `id` (otherwise any `U…`/`W…` id gets
    /// `name` = lower-case id, `real_name` "User {id}", `display_name` "user-{name}").
    pub fn set_user(&self, id: &str, name: &str, real_name: &str, display_name: &str) {
        let user = web::user_object(&self.shared.cfg.team_id, id, name, real_name, display_name);
        self.shared.lock().users.insert(id.to_owned(), user);
    }

    /// Sets the name `conversations.info` answers for a `C…`/`G…` channel
    /// (default `chan-{lower-case id}`).
    pub fn set_channel_name(&self, id: &str, name: &str) {
        self.shared.lock().channel_names.insert(id.to_owned(), name.to_owned());
    }

    // ---- Socket Mode ----

    /// Sends an Events API body (e.g. `app_mention(..)`) as an `events_api` envelope on
    /// the newest connection (or the next one to open); returns the envelope id.
    pub fn send_socket_event(&self, payload: Value) -> String {
        self.remember(&payload);
        let envelope_id = uuid::Uuid::new_v4().to_string();
        let envelope = Envelope { payload, retry_attempt: 0 };
        let frame = envelope_frame(&envelope_id, &envelope, "");
        self.shared.lock().envelopes.insert(envelope_id.clone(), envelope);
        self.deliver(frame);
        envelope_id
    }

    /// [`Self::send_socket_event`] on open connection `n` (counted modulo how many are
    /// open), as Slack spreads envelopes over the connections of one app.
    pub fn send_socket_event_on(&self, n: usize, payload: Value) -> String {
        self.remember(&payload);
        let envelope_id = uuid::Uuid::new_v4().to_string();
        let envelope = Envelope { payload, retry_attempt: 0 };
        let frame = envelope_frame(&envelope_id, &envelope, "");
        self.shared.lock().envelopes.insert(envelope_id.clone(), envelope);
        self.deliver_on(n, frame);
        envelope_id
    }

    /// [`Self::redeliver`] on open connection `n` (modulo), as Slack may redeliver an
    /// unacknowledged envelope to another connection.
    pub fn redeliver_on(&self, n: usize, envelope_id: &str) {
        let frame = {
            let mut state = self.shared.lock();
            let envelope = state.envelopes.get_mut(envelope_id).expect("envelope was sent");
            envelope.retry_attempt += 1;
            envelope_frame(envelope_id, envelope, "timeout")
        };
        self.deliver_on(n, frame);
    }

    fn deliver_on(&self, n: usize, frame: String) {
        {
            let state = self.shared.lock();
            let open = state.connections.len();
            assert!(open > 0, "no Socket Mode connection is open");
            let _ = state.connections[n % open].1.send(Outgoing::Text(frame));
        }
        self.shared.notify();
    }

    /// Keeps a person's message from an event body (`message` or `app_mention`) as the
    /// channel's history, once per ts, as Slack would have it. Events sent over Socket
    /// Mode are remembered already; a test posting to the Events API calls this itself.
    pub fn remember(&self, payload: &Value) {
        let event = &payload["event"];
        let kind = event["type"].as_str().unwrap_or_default();
        if kind == "assistant_thread_started" {
            let thread = &event["assistant_thread"];
            if let (Some(channel), Some(ts)) =
                (thread["channel_id"].as_str(), thread["thread_ts"].as_str())
            {
                self.open_assistant_thread(channel, ts);
            }
        }
        let field = |k: &str| event[k].as_str().map(str::to_owned);
        let (Some(channel), Some(user), Some(ts)) = (field("channel"), field("user"), field("ts"))
        else {
            return;
        };
        if !matches!(kind, "message" | "app_mention") || event.get("bot_id").is_some() {
            return;
        }
        {
            let mut state = self.shared.lock();
            if state.user_messages.iter().any(|m| m.channel == channel && m.ts == ts) {
                return;
            }
            let text = field("text").unwrap_or_default();
            let thread_ts = field("thread_ts");
            let micros = ts.split_once('.').and_then(|(s, f)| {
                Some(s.parse::<u64>().ok()? * 1_000_000 + f.parse::<u64>().ok()?)
            });
            state.latest_user_micros = state.latest_user_micros.max(micros.unwrap_or(0));
            state.user_messages.push(UserMessage { channel, user, text, ts, thread_ts });
        }
        self.shared.notify();
    }

    /// Sends envelope `envelope_id` again with `retry_attempt` + 1 and
    /// `retry_reason: "timeout"`, as Slack does when an ack is late.
    pub fn redeliver(&self, envelope_id: &str) {
        let frame = {
            let mut state = self.shared.lock();
            let envelope = state.envelopes.get_mut(envelope_id).expect("envelope was sent");
            envelope.retry_attempt += 1;
            envelope_frame(envelope_id, envelope, "timeout")
        };
        self.deliver(frame);
    }

    /// Sends a binary frame (which Slack never sends) on every open connection.
    pub fn send_socket_binary(&self, bytes: &[u8]) {
        for (_, tx) in &self.shared.lock().connections {
            let _ = tx.send(Outgoing::Binary(bytes.to_vec()));
        }
    }

    /// Sends `{"type":"disconnect","reason":…}` on every open connection, then closes them.
    /// They stop counting as open before this returns, so `wait_for_socket_connections(1)`
    /// afterwards waits for the client's reconnection. Returns how many were closed.
    pub fn disconnect_socket(&self, reason: &str) -> usize {
        let closed: Vec<_> = std::mem::take(&mut self.shared.lock().connections);
        for (_, tx) in &closed {
            let _ = tx.send(Outgoing::Text(socket::disconnect_frame(reason)));
            let _ = tx.send(Outgoing::Close);
        }
        self.shared.notify();
        closed.len()
    }

    /// Failures queued with [`Self::fail_next`] that no call has taken yet.
    pub fn queued_failures(&self) -> usize {
        self.shared.lock().failures.values().map(|q| q.len()).sum()
    }

    /// Failures queued for `method` that no call has taken yet.
    pub fn queued_failures_for(&self, method: &str) -> usize {
        self.shared.lock().failures.get(method).map_or(0, |q| q.len())
    }

    /// Failures that took effect, in order: `(method, channel of the call)`, so a test can
    /// tie an outcome to the failure that hit it.
    pub fn failure_hits(&self) -> Vec<(String, Option<String>)> {
        self.shared.lock().failure_hits.clone()
    }

    /// A user opens an assistant thread `thread_ts` in their DM `channel` with the app:
    /// its root (an `assistant_app_thread` message) is in the DM's history from now on.
    /// Sending `assistant_thread_started` does this too; a test that means the bridge
    /// not to have seen that event (a restart since) calls this alone.
    pub fn open_assistant_thread(&self, channel: &str, thread_ts: &str) {
        let key = (channel.to_string(), thread_ts.to_string());
        self.shared.lock().assistant_roots.insert(key);
        self.shared.notify();
    }

    /// What the bot set on the assistant thread `thread_ts` of DM `channel`: statuses,
    /// suggested prompts, title.
    pub fn assistant_thread(&self, channel: &str, thread_ts: &str) -> AssistantThread {
        let key = (channel.to_string(), thread_ts.to_string());
        self.shared.lock().assistant.get(&key).cloned().unwrap_or_default()
    }

    /// Sets what the fake does with native stream calls.
    pub fn set_stream_policy(&self, policy: StreamPolicy) {
        self.shared.lock().streams.policy = policy;
    }

    /// Replaces the limits (for a test that means to go past Slack's).
    pub fn set_limits(&self, limits: SlackLimits) {
        self.shared.lock().limits = limits;
    }

    /// The violations recorded so far, cleared (for a test that provokes one on purpose).
    pub fn take_violations(&self) -> Vec<String> {
        std::mem::take(&mut self.shared.lock().violations)
    }

    /// Envelope ids the client acknowledged, in order (a redelivered one can appear twice).
    pub fn acks(&self) -> Vec<String> {
        self.shared.lock().acks.clone()
    }

    /// Socket Mode connections open now.
    pub fn socket_connections(&self) -> usize {
        self.shared.lock().connections.len()
    }

    /// Socket Mode connections ever accepted (reconnections included).
    pub fn socket_connections_total(&self) -> usize {
        self.shared.lock().connections_total
    }

    fn deliver(&self, frame: String) {
        {
            let mut state = self.shared.lock();
            let sent = state
                .connections
                .last()
                .is_some_and(|(_, tx)| tx.send(Outgoing::Text(frame.clone())).is_ok());
            if !sent {
                state.pending_frames.push(frame);
            }
        }
        self.shared.notify();
    }

    // ---- waiting (event-driven, bounded by WAIT_LIMIT) ----

    /// Waits until `pred` holds; re-checked after every change to the fake. Panics with
    /// `what` after 10 s.
    pub async fn wait_until(&self, what: &str, pred: impl Fn(&FakeSlack) -> bool) {
        self.wait_until_within(what, WAIT_LIMIT, pred).await
    }

    /// [`Self::wait_until`] with its own limit, for long runs (the fault campaign).
    pub async fn wait_until_within(
        &self,
        what: &str,
        limit: Duration,
        pred: impl Fn(&FakeSlack) -> bool,
    ) {
        let mut changes = self.shared.subscribe();
        let deadline = tokio::time::Instant::now() + limit;
        while !pred(self) {
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                _ => panic!("fake Slack: timed out waiting for {what}"),
            }
        }
    }

    /// Waits until the client has acknowledged `envelope_id` at least once.
    pub async fn wait_for_ack(&self, envelope_id: &str) {
        let what = format!("an ack of envelope {envelope_id}");
        self.wait_until(&what, |f| f.acks().iter().any(|a| a == envelope_id)).await;
    }

    /// Waits until `n` acks of `envelope_id` arrived (e.g. 2 after one redelivery).
    pub async fn wait_for_acks_of(&self, envelope_id: &str, n: usize) {
        let what = format!("{n} acks of envelope {envelope_id}");
        self.wait_until(&what, |f| f.acks().iter().filter(|a| *a == envelope_id).count() >= n)
            .await;
    }

    /// Waits until at least `n` Socket Mode connections are open (hello sent).
    /// Mentions the bot with `question` as a top-level message `ts` in `channel` (over
    /// Socket Mode), waits until the thread's last bot message shows the answer
    /// `markdown` (see [`shows_answer`]), and returns the ts of that message (the one
    /// reactions target).
    pub async fn ask(
        &self,
        event_id: &str,
        channel: &str,
        user: &str,
        question: &str,
        ts: &str,
        markdown: &str,
    ) -> String {
        let text = format!("<@{BOT_USER_ID}> {question}");
        self.send_socket_event(app_mention(event_id, channel, user, &text, ts, None));
        self.wait_until("the answer", |f| {
            f.messages_in_thread(channel, ts).last().is_some_and(|(_, t)| shows_answer(t, markdown))
        })
        .await;
        self.messages_in_thread(channel, ts).last().expect("the answer").0.clone()
    }

    pub async fn wait_for_socket_connections(&self, n: usize) {
        let what = format!("{n} open socket connections");
        self.wait_until(&what, |f| f.socket_connections() >= n).await;
    }

    /// Waits until `method` was called at least `n` times; returns those calls.
    pub async fn wait_for_calls(&self, method: &str, n: usize) -> Vec<RecordedCall> {
        let what = format!("{n} calls to {method}");
        self.wait_until(&what, |f| f.calls_to(method).len() >= n).await;
        self.calls_to(method)
    }
}

/// Slack's `events_api` envelope.
fn envelope_frame(envelope_id: &str, envelope: &Envelope, retry_reason: &str) -> String {
    serde_json::json!({
        "envelope_id": envelope_id,
        "type": "events_api",
        "payload": envelope.payload,
        "accepts_response_payload": false,
        "retry_attempt": envelope.retry_attempt,
        "retry_reason": retry_reason,
    })
    .to_string()
}

impl Drop for FakeSlack {
    /// Anything Slack would refuse, or an ack later than Slack waits, fails the test
    /// that caused it (unless the test is failing already).
    fn drop(&mut self) {
        let violations = std::mem::take(&mut self.shared.lock().violations);
        if !violations.is_empty() && !std::thread::panicking() {
            panic!("the bridge did what Slack refuses:\n{}", violations.join("\n"));
        }
        for (_, tx) in std::mem::take(&mut self.shared.lock().connections) {
            let _ = tx.send(Outgoing::Close);
        }
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Whether a message's `text` is the whole answer `markdown` as either streaming mode
/// leaves it: rendered as Slack mrkdwn (edits), or the Markdown itself (a native
/// stream's `markdown_text`, whitespace aside).
pub fn shows_answer(text: &str, markdown: &str) -> bool {
    let squeeze = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    text == siteassist_bridge::adapters::slack::format::to_slack(markdown)
        || squeeze(text) == squeeze(markdown)
}
