//! A fake Discord on 127.0.0.1: the REST API the adapter calls (recording every call,
//! answering with Discord's payload shapes, with injectable failures) and a gateway
//! websocket that speaks Hello → Identify → READY → GUILD_CREATE → dispatches.
//!
//! Tests wait on what the fake records ([`FakeDiscord::wait_until`]) instead of
//! sleeping.
#![allow(dead_code)]

pub mod gateway;
pub mod harness;
pub mod interactions;
pub mod payloads;
pub mod rest;

use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The server (guild) the bot is in.
pub const GUILD: u64 = 900_000_000_000_000_001;
/// The bot user (its application id too).
pub const BOT: u64 = 900_000_000_000_000_002;
/// A person asking questions.
pub const ALICE: u64 = 900_000_000_000_000_003;
/// Another person.
pub const BOB: u64 = 900_000_000_000_000_004;
/// Another bot in the server.
pub const OTHER_BOT: u64 = 900_000_000_000_000_005;
/// A text channel where the bot answers mentions.
pub const SUPPORT: u64 = 900_000_000_000_000_010;
/// A text channel where the bot answers everything (auto-respond).
pub const AUTO: u64 = 900_000_000_000_000_011;
/// A forum where every post is answered (auto-respond).
pub const FORUM: u64 = 900_000_000_000_000_012;
/// A forum without auto-respond.
pub const QUIET_FORUM: u64 = 900_000_000_000_000_013;
/// Alice's DM channel with the bot.
pub const DM: u64 = 900_000_000_000_000_020;
/// The bot's managed role.
pub const BOT_ROLE: u64 = 900_000_000_000_000_030;
/// The token the fake accepts.
pub const TOKEN: &str = "OTAwMDAwMDAwMDAwMDAwMDAy.fake.token";

/// Which REST call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Gateway,
    Me,
    GetChannel,
    CreateMessage,
    EditMessage,
    CreateThread,
    Typing,
    ListMessages,
    AddReaction,
    Other,
}

/// One recorded REST call.
#[derive(Clone, Debug)]
pub struct Call {
    pub op: Op,
    pub method: String,
    pub path: String,
    /// The channel in the path, if any.
    pub channel: Option<u64>,
    /// The message in the path (edits, threads), or the message created.
    pub message: Option<u64>,
    pub body: Value,
    pub status: u16,
    pub at: Instant,
}

/// A canned failure for the next call of one kind.
#[derive(Clone, Debug)]
pub struct Failure {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Failure {
    /// Discord's 429: `retry_after` in the body (seconds) and the `Retry-After` header
    /// (whole seconds, rounded up).
    pub fn rate_limited(retry_after: f64) -> Self {
        Self {
            status: 429,
            headers: vec![
                ("retry-after".into(), (retry_after.ceil() as u64).to_string()),
                ("x-ratelimit-scope".into(), "user".into()),
            ],
            body: serde_json::json!({
                "message": "You are being rate limited.",
                "retry_after": retry_after,
                "global": false
            }),
        }
    }
}

/// A message the bot posted, with every text it showed (post, then edits).
#[derive(Clone, Debug)]
pub struct BotMessage {
    pub id: u64,
    pub channel: u64,
    pub texts: Vec<String>,
    /// Its components now (`[]` without buttons).
    pub components: Value,
}

impl BotMessage {
    /// What it shows now.
    pub fn text(&self) -> &str {
        self.texts.last().map(String::as_str).unwrap_or("")
    }
}

/// Discord's rate limits as the fake enforces them (on in every test; a test that
/// means to go past them raises them with [`FakeDiscord::set_limits`]).
///
/// Source: Discord's API docs, Rate Limits (checked 2026-12): per-route limits come in
/// `x-ratelimit-*` headers (message creation in a channel is commonly 5 per 5 s), and
/// a bot may make 50 requests per second in all. The fake counts posts and edits in a
/// channel together, as the bridge's channel budget does.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Posts and edits allowed in one channel per `channel_window`.
    pub channel_actions: usize,
    /// The per-channel window.
    pub channel_window: Duration,
    /// Requests of any kind per second, for the whole bot.
    pub global_per_second: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { channel_actions: 5, channel_window: Duration::from_secs(5), global_per_second: 50 }
    }
}

/// Everything the fake remembers.
#[derive(Default)]
pub struct Record {
    pub calls: Vec<Call>,
    /// Bot messages in posting order.
    pub messages: Vec<BotMessage>,
    /// Button presses and commands sent, with their answers.
    pub interactions: Vec<interactions::Interaction>,
    /// Registered slash commands: global (`None`) or per guild.
    pub commands: HashMap<Option<u64>, Value>,
    /// People's (and other bots') messages dispatched by the test (MESSAGE_CREATE), as
    /// the REST API lists them: the channels' history besides the bot's own.
    pub user_messages: Vec<Value>,
    /// Attachments served at `/attachments/{name}`: bytes and content type.
    pub files: HashMap<String, (Vec<u8>, String)>,
    /// Every attachment download: `(name, Authorization header)`.
    pub file_fetches: Vec<(String, Option<String>)>,
    /// The bot's reactions: `(channel, message, emoji)` (emoji percent-decoded).
    pub reactions: Vec<(u64, u64, String)>,
    /// Channels the fake knows (`GET /channels/{id}`), as Discord channel objects.
    pub channels: HashMap<u64, Value>,
    /// Identify payloads (`d` of op 2), one per gateway session.
    pub identifies: Vec<Value>,
    /// The shard count `GET /gateway/bot` recommends (0 counts as 1).
    pub recommended_shards: u64,
    failures: HashMap<Op, VecDeque<Failure>>,
    /// Failures (queued or after-effect) that took effect, in order, with the ids in the
    /// path of the call each hit: `(op, channel, message)`.
    pub failure_hits: Vec<(Op, Option<u64>, Option<u64>)>,
    /// Statuses to answer after doing the work (see [`FakeDiscord::fail_after_effect`]).
    after_effect: HashMap<Op, VecDeque<u16>>,
    /// Close the next session with this code right after Identify.
    close_after_identify: Option<u16>,
    /// Gateway sessions, oldest first (they outlive their connections).
    pub(crate) gateway: Vec<gateway::Session>,
    /// Gateway sessions opened by an Identify.
    pub sessions_opened: usize,
    /// Sessions resumed (op 6 accepted, events replayed, RESUMED sent).
    pub resumes: usize,
    /// RESUMEs refused with INVALID_SESSION.
    pub invalid_resumes: usize,
    next_id: u64,
    /// The limits in force.
    pub limits: Limits,
    /// When each channel's recent posts and edits were accepted.
    pub(crate) channel_actions: HashMap<u64, VecDeque<Instant>>,
    /// When the last second's requests were accepted.
    pub(crate) recent_requests: VecDeque<Instant>,
    /// Requests Discord would refuse (or that would ping people) that the bridge must
    /// never make; the test fails when the fake is dropped with any left.
    pub violations: Vec<String>,
}

impl Record {
    /// A new snowflake-like id.
    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        1_000_000_000_000_000_000 + self.next_id
    }

    /// Bot messages in `channel`, in posting order.
    pub fn messages_in(&self, channel: u64) -> Vec<&BotMessage> {
        self.messages.iter().filter(|m| m.channel == channel).collect()
    }

    /// The shards with a live gateway connection now, as `[id, total]`, sorted, each
    /// as often as it has live sessions (a shard run twice shows twice).
    pub fn live_shards(&self) -> Vec<[u64; 2]> {
        let mut live: Vec<[u64; 2]> =
            self.gateway.iter().filter(|s| s.is_live()).map(|s| s.shard).collect();
        live.sort_unstable();
        live
    }

    /// The id of the newest live gateway session of shard `[id, total]`, if any.
    pub fn live_session_of(&self, shard: [u64; 2]) -> Option<&str> {
        let live = self.gateway.iter().rev().find(|s| s.shard == shard && s.is_live());
        live.map(|s| s.id.as_str())
    }

    /// Calls of one kind.
    pub fn calls_of(&self, op: Op) -> Vec<&Call> {
        self.calls.iter().filter(|c| c.op == op).collect()
    }
}

/// Shared by the REST and gateway servers.
pub struct State {
    record: Mutex<Record>,
    changed: watch::Sender<u64>,
    pub gateway_url: Mutex<String>,
}

impl State {
    /// Reads or changes the record, and wakes waiters.
    pub fn with<R>(&self, f: impl FnOnce(&mut Record) -> R) -> R {
        let r = f(&mut self.record.lock().unwrap());
        self.changed.send_modify(|v| *v += 1);
        r
    }

    fn take_failure(&self, op: Op, ids: (Option<u64>, Option<u64>)) -> Option<Failure> {
        self.with(|r| {
            let failure = r.failures.get_mut(&op).and_then(VecDeque::pop_front);
            if failure.is_some() {
                r.failure_hits.push((op, ids.0, ids.1));
            }
            failure
        })
    }

    fn take_after_effect(&self, op: Op, ids: (Option<u64>, Option<u64>)) -> Option<u16> {
        self.with(|r| {
            let status = r.after_effect.get_mut(&op).and_then(VecDeque::pop_front);
            if status.is_some() {
                r.failure_hits.push((op, ids.0, ids.1));
            }
            status
        })
    }
}

/// A running fake Discord.
pub struct FakeDiscord {
    pub state: Arc<State>,
    /// For `discord.api_url`.
    pub api_url: String,
    /// Where the gateway listens (`GET /gateway` returns it).
    pub gateway_url: String,
}

impl FakeDiscord {
    /// Starts REST and gateway on 127.0.0.1:0, with the guild's channels known.
    pub async fn start() -> Self {
        let (changed, _) = watch::channel(0);
        let state = Arc::new(State {
            record: Mutex::new(Record::default()),
            changed,
            gateway_url: Mutex::new(String::new()),
        });
        state.with(|r| {
            for channel in payloads::guild_channels() {
                let id = channel["id"].as_str().unwrap().parse().unwrap();
                r.channels.insert(id, channel);
            }
        });
        let gateway_url = gateway::spawn(Arc::clone(&state)).await;
        *state.gateway_url.lock().unwrap() = gateway_url.clone();
        let api_url = rest::spawn(Arc::clone(&state)).await;
        Self { state, api_url, gateway_url }
    }

    /// `http://127.0.0.1:PORT/attachments/`: what `discord.cdn_url` is set to.
    pub fn cdn_url(&self) -> String {
        format!("{}/attachments/", self.api_url)
    }

    /// Serves `bytes` as attachment `name` and returns Discord's attachment object for a
    /// message's `attachments`.
    pub fn add_attachment(&self, name: &str, content_type: &str, bytes: Vec<u8>) -> Value {
        let size = bytes.len();
        let id = self.next_id();
        self.state.with(|r| r.files.insert(name.to_owned(), (bytes, content_type.to_owned())));
        let url = format!("{}{name}?ex=65f1&is=65de&hm=abc123", self.cdn_url());
        serde_json::json!({
            "id": id.to_string(),
            "filename": name,
            "size": size,
            "url": url,
            "proxy_url": url,
            "content_type": content_type,
        })
    }

    /// Waits until `pred` holds for the record, failing the test after `timeout`.
    #[track_caller]
    pub fn wait_until<'a>(
        &'a self,
        what: &'a str,
        timeout: Duration,
        pred: impl Fn(&Record) -> bool + 'a,
    ) -> impl std::future::Future<Output = ()> + 'a {
        let caller = std::panic::Location::caller();
        async move {
            let mut rx = self.state.changed.subscribe();
            let wait = async {
                loop {
                    if pred(&self.state.record.lock().unwrap()) {
                        return;
                    }
                    if rx.changed().await.is_err() {
                        return;
                    }
                }
            };
            if tokio::time::timeout(timeout, wait).await.is_err() {
                panic!("{caller}: timed out after {timeout:?} waiting for {what}");
            }
        }
    }

    /// A snapshot of something in the record.
    pub fn read<R>(&self, f: impl FnOnce(&Record) -> R) -> R {
        f(&self.state.record.lock().unwrap())
    }

    /// A new snowflake-like id (for user messages and posts).
    pub fn next_id(&self) -> u64 {
        self.state.with(Record::next_id)
    }

    /// The next call of kind `op` fails with `failure`.
    pub fn fail_next(&self, op: Op, failure: Failure) {
        self.state.with(|r| r.failures.entry(op).or_default().push_back(failure));
    }

    /// The next call of kind `op` does its work (a message is created, an edit applied)
    /// and then answers the bare `status`, as when Discord times out behind its edge:
    /// the client cannot tell it from a call that did nothing.
    pub fn fail_after_effect(&self, op: Op, status: u16) {
        self.state.with(|r| r.after_effect.entry(op).or_default().push_back(status));
    }

    /// Failures queued with [`Self::fail_next`] or [`Self::fail_after_effect`] that no
    /// call has taken yet.
    pub fn queued_failures(&self) -> usize {
        self.read(|r| {
            r.failures.values().map(VecDeque::len).sum::<usize>()
                + r.after_effect.values().map(VecDeque::len).sum::<usize>()
        })
    }

    /// Failures queued for calls of kind `op` (either way) that no call has taken yet.
    pub fn queued_failures_for(&self, op: Op) -> usize {
        self.read(|r| {
            r.failures.get(&op).map_or(0, VecDeque::len)
                + r.after_effect.get(&op).map_or(0, VecDeque::len)
        })
    }

    /// Replaces the rate limits (for a test that means to go past Discord's).
    pub fn set_limits(&self, limits: Limits) {
        self.state.with(|r| r.limits = limits);
    }

    /// The violations recorded so far, cleared (for a test that provokes one on purpose).
    pub fn take_violations(&self) -> Vec<String> {
        self.state.with(|r| std::mem::take(&mut r.violations))
    }

    /// The next gateway session is closed with `code` after Identify (4014: a
    /// privileged intent that is not enabled).
    pub fn close_after_identify(&self, code: u16) {
        self.state.with(|r| r.close_after_identify = Some(code));
    }

    /// Makes a channel (a forum post, say) known to `GET /channels/{id}`.
    pub fn add_channel(&self, channel: Value) {
        let id = channel["id"].as_str().unwrap().parse().unwrap();
        self.state.with(|r| r.channels.insert(id, channel));
    }

    /// Sends a dispatch (`op` 0, event `t`) on the newest live gateway session of the
    /// shard its guild belongs to (shard 0 without a guild), or logs it on that shard's
    /// newest session for its resume when none is live (Discord keeps a session's
    /// events while its client reconnects).
    pub fn dispatch(&self, t: &str, d: Value) {
        if t == "MESSAGE_CREATE" {
            self.remember(&d);
        }
        let sent = self.state.with(|r| {
            let at = Self::session_for(&r.gateway, &d)?;
            r.gateway[at].dispatch(t, d);
            Some(())
        });
        assert!(sent.is_some(), "no gateway session to dispatch {t} on");
    }

    /// The session a dispatch about `d` goes to: the newest live one of its shard, else
    /// the newest of its shard (for its resume).
    fn session_for(sessions: &[gateway::Session], d: &Value) -> Option<usize> {
        let guild = d["guild_id"].as_str().and_then(|g| g.parse::<u64>().ok());
        let on_shard = |s: &gateway::Session| match guild {
            Some(guild) => gateway::shard_of(guild, s.shard[1]) == s.shard[0],
            None => s.shard[0] == 0,
        };
        let newest_live = sessions.iter().rposition(|s| on_shard(s) && s.is_live());
        newest_live.or_else(|| sessions.iter().rposition(on_shard))
    }

    /// See [`Record::live_shards`].
    pub fn live_shards(&self) -> Vec<[u64; 2]> {
        self.read(Record::live_shards)
    }

    /// Keeps a MESSAGE_CREATE's message as its channel's history (once per id), in
    /// the REST API's shape (no `guild_id`, no `member`). The bot's own are kept apart.
    pub fn remember(&self, d: &Value) {
        let mut listed = d.clone();
        if let Some(o) = listed.as_object_mut() {
            o.remove("guild_id");
            o.remove("member");
        }
        self.state.with(|r| {
            if !r.user_messages.iter().any(|m| m["id"] == listed["id"]) {
                r.user_messages.push(listed);
            }
        });
    }

    /// Sends the same dispatch on every resumable session of the shard `d`'s guild is
    /// on (used after the bot's own REST calls, as Discord does for the bot's own
    /// THREAD_CREATE).
    fn broadcast(state: &State, t: &str, d: Value) {
        let guild = d["guild_id"].as_str().and_then(|g| g.parse::<u64>().ok());
        state.with(|r| {
            let on_shard = |s: &gateway::Session| match guild {
                Some(guild) => gateway::shard_of(guild, s.shard[1]) == s.shard[0],
                None => true,
            };
            for s in r.gateway.iter_mut().filter(|s| s.resumable && on_shard(s)) {
                s.dispatch(t, d.clone());
            }
        });
    }

    /// Asks the client on every live session to reconnect (op 7); it then resumes.
    /// Returns how many were asked.
    pub fn request_reconnect(&self) -> usize {
        self.state.with(|r| {
            r.gateway
                .iter_mut()
                .filter(|s| s.is_live())
                .map(|s| s.control(gateway::Control::Reconnect))
                .filter(|sent| *sent)
                .count()
        })
    }

    /// Cuts every live gateway connection without a close frame, as a network failure
    /// does; the sessions stay resumable. Returns how many were cut.
    pub fn cut_gateway(&self) -> usize {
        self.state.with(|r| {
            r.gateway
                .iter_mut()
                .filter(|s| s.is_live())
                .map(|s| s.control(gateway::Control::Cut))
                .filter(|sent| *sent)
                .count()
        })
    }

    /// Makes every session so far non-resumable: a client's next RESUME gets
    /// INVALID_SESSION and it must identify again (what it missed meanwhile is lost, as
    /// on Discord).
    pub fn invalidate_sessions(&self) {
        self.state.with(|r| r.gateway.iter_mut().for_each(|s| s.resumable = false));
    }
}

impl Drop for FakeDiscord {
    /// A request Discord would refuse fails the test that made it, wherever in the
    /// bridge it came from (unless the test is failing already).
    fn drop(&mut self) {
        let violations = self.take_violations();
        if !violations.is_empty() && !std::thread::panicking() {
            panic!("the bridge made requests Discord refuses:\n{}", violations.join("\n"));
        }
    }
}
