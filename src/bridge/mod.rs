//! The platform-agnostic core. It names no platform, HTTP or storage crate: adapters
//! reach it through [`event::InboundEvent`] and [`adapter::ChatAdapter`], SiteAssist
//! through [`crate::siteassist::client::Client`], state through [`crate::store::Store`].
//!
//! Event flow: an adapter calls [`Bridge::handle`] with the facts of a message;
//! [`decide`] says whether and how to answer, the same on every platform; [`ingress`]
//! acts on it and claims the event in the store (exactly once); the event
//! goes to its thread's single worker ([`threads`]), which runs its [`jobs`]: for a
//! question, [`answer`] resolves the conversation, posts a placeholder and streams the
//! answer into it through the [`throttle`] and [`split`] rules within the channel budget
//! ([`pacing`]). At start, [`recovery`] closes the replies a previous run left open.
//!
//! Several replicas on one shared store: each is a [`replica::Replica`] with a lease;
//! [`recovery`] also takes over the replies of replicas whose lease expired, and a
//! thread's worker takes its [`turns`] (arrival order, a thread lease) before each job.

pub mod adapter;
mod answer;
pub mod channels;
pub mod context;
pub mod controls;
pub mod decide;
pub mod event;
pub mod feedback;
pub mod files;
mod handoff;
pub mod ids;
mod ingress;
mod job;
mod jobs;
pub mod limits;
pub mod notice;
mod pacing;
mod platform_retry;
mod recovery;
pub mod replica;
mod reply;
pub mod sources;
/// Runs a platform call as replies do: rate limits waited out, transient failures
/// retried (for adapters' own calls, such as identifying the bot at start).
#[cfg(any(feature = "slack", feature = "discord"))]
pub(crate) use reply::retry as platform_call;
pub mod split;
mod stop;
mod threads;
pub mod throttle;
mod turns;

use crate::siteassist::client::Client;
use crate::store::{Store, StoreError};
use adapter::ChatAdapter;
pub use decide::Ignored;
use event::InboundEvent;
use feedback::{FeedbackEmoji, FeedbackFrom};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long a conversation socket may fail to connect before the bridge reports
/// itself not ready.
pub const HANDOFF_FAILING_LIMIT: Duration = Duration::from_secs(5 * 60);

/// The core's settings (built from `[bridge]` by the app).
#[derive(Clone, Debug)]
pub struct BridgeConfig {
    /// Shortest time between two edits of one reply (the platform minimum still applies).
    pub edit_interval: Duration,
    /// Whose reactions count as feedback.
    pub feedback_from: FeedbackFrom,
    /// Which reactions mean like and dislike.
    pub emoji: FeedbackEmoji,
    /// The placeholder text shown until the first words arrive.
    pub placeholder: String,
    /// How long handled event ids are remembered.
    pub dedupe_ttl: Duration,
    /// How many questions may wait per thread.
    pub thread_queue: usize,
    /// How long an idle thread worker lives before it is dropped (it is re-created on
    /// the next event, so this only bounds memory).
    pub worker_idle: Duration,
    /// Questions one user may ask per minute (0: no limit).
    pub user_questions_per_minute: u32,
    /// Questions one channel may ask per minute (0: no limit).
    pub channel_questions_per_minute: u32,
    /// The platform's auto-respond channels, channel lists and question length, for
    /// [`decide`](decide::decide). Each adapter fills it from its own config section.
    pub places: decide::PlaceRules,
    /// Human handoff: sockets, windows and bounds.
    pub handoff: HandoffConfig,
    /// How many earlier messages of a thread the first question there carries
    /// ([`context`]); 0: none.
    pub context_messages: usize,
    /// This process among the replicas sharing the store ([`replica`]); a
    /// [`replica::Replica::solo`] when the store is not shared.
    pub replica: Arc<replica::Replica>,
}

/// How the core follows human handoffs (see [`handoff`]).
#[derive(Clone, Debug)]
pub struct HandoffConfig {
    /// How often a conversation socket is pinged (SiteAssist's widget: 30 s).
    pub ping: Duration,
    /// How long after the AI's last answer in a thread the bridge listens for a person
    /// taking the conversation over (zero: only learn it from questions).
    pub watch: Duration,
    /// How long after an answer the bridge waits before it opens the conversation's
    /// socket to listen. Nothing is missed meanwhile (connecting catches up on what a
    /// person wrote), and answers that end together (a burst) no longer open their
    /// sockets while the last of them are still showing their final text: in the load
    /// bench that work at the streams' end was most of the final-text lag. At most half
    /// of `watch` is waited.
    pub listen_after: Duration,
    /// How long a human-handled thread with no question and no agent message keeps
    /// its socket (a question wakes it again).
    pub idle: Duration,
    /// The most sockets open at once; the least recently active relay closes first.
    pub max_sockets: usize,
}

impl Default for HandoffConfig {
    fn default() -> Self {
        Self {
            ping: crate::siteassist::socket::PING_EVERY,
            watch: Duration::from_secs(30 * 60),
            listen_after: Duration::from_secs(2),
            idle: Duration::from_secs(72 * 3600),
            max_sockets: 5_000,
        }
    }
}

impl Default for BridgeConfig {
    fn default() -> Self {
        Self {
            edit_interval: Duration::from_millis(1000),
            feedback_from: FeedbackFrom::Asker,
            emoji: FeedbackEmoji::default(),
            placeholder: "Thinking…".into(),
            dedupe_ttl: Duration::from_secs(86_400),
            thread_queue: 8,
            worker_idle: Duration::from_secs(60),
            user_questions_per_minute: 10,
            channel_questions_per_minute: 60,
            places: decide::PlaceRules::default(),
            handoff: HandoffConfig::default(),
            context_messages: 20,
            replica: replica::Replica::solo(),
        }
    }
}

/// What happened to an event handed to [`Bridge::handle`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// It will be answered (or its feedback sent) by the thread's worker.
    Queued,
    /// `/new`: the thread's worker forgets its conversation and says so.
    NewConversation,
    /// `/help`: the thread's worker posts how to use the bot.
    Help,
    /// Stop: the streaming reply was told to stop.
    Stopped,
    /// It needs nothing from the bot, and why.
    Ignored(Ignored),
}

/// A failure of the core itself (not of SiteAssist or the platform, which become
/// messages to the user).
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// The store failed; the event was not handled and may be redelivered.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The core for one adapter. Cheap to clone; all clones share the same workers.
#[derive(Clone)]
pub struct Bridge {
    inner: Arc<Inner>,
}

struct Inner {
    adapter: Arc<dyn ChatAdapter>,
    store: Arc<dyn Store>,
    client: Client,
    cfg: BridgeConfig,
    threads: threads::Threads<jobs::Job>,
    pacing: pacing::Pacing,
    closing: AtomicBool,
    limits: limits::Limits,
    /// Questions taken on, to prune the limiters now and then.
    questions: std::sync::atomic::AtomicU64,
    /// Conversations whose human agent is being relayed.
    relays: handoff::Relays,
    /// Replies streaming now, for Stop presses.
    stops: Arc<stop::Stops>,
    /// Becomes true at shutdown, for tasks that wait on something else (the relays).
    stopping: tokio::sync::watch::Sender<bool>,
}

impl Bridge {
    /// Builds the core for `adapter`. Nothing runs until events arrive.
    pub fn new(
        adapter: Arc<dyn ChatAdapter>,
        store: Arc<dyn Store>,
        client: Client,
        cfg: BridgeConfig,
    ) -> Self {
        let caps = adapter.capabilities().clone();
        let inner = Inner {
            pacing: pacing::Pacing::new(
                caps.channel_budget,
                caps.workspace_budget,
                adapter.stream_budgets(),
                cfg.replica.clone(),
            ),
            threads: threads::Threads::new(cfg.thread_queue, cfg.worker_idle),
            limits: limits::Limits::new(
                cfg.user_questions_per_minute,
                cfg.channel_questions_per_minute,
            ),
            questions: std::sync::atomic::AtomicU64::new(0),
            relays: handoff::Relays::default(),
            stops: Arc::default(),
            stopping: tokio::sync::watch::Sender::new(false),
            adapter,
            store,
            client,
            cfg,
            closing: AtomicBool::new(false),
        };
        Self { inner: Arc::new(inner) }
    }

    /// Takes one event from the adapter. Returns quickly (the answer is produced by the
    /// thread's worker), so adapters can acknowledge deliveries at once.
    pub async fn handle(&self, event: InboundEvent) -> Result<Disposition, BridgeError> {
        if self.inner.closing.load(Ordering::SeqCst) {
            crate::ops::metrics::event_ignored(self.inner.adapter.name(), "shutting_down");
            return Ok(Disposition::Ignored(Ignored::ShuttingDown));
        }
        ingress::handle(&self.inner, event).await
    }

    /// Whether the rules will ignore `msg` whatever the store says (they are asked as if
    /// the bot were part of its thread). Adapters use it to skip costly enrichment, such
    /// as name lookups, for the many channel messages that are not for the bot; they
    /// still hand every message to [`Self::handle`], which decides for real and counts.
    pub fn will_ignore(&self, msg: &event::InboundMessage) -> bool {
        let decided = decide::decide(&msg.facts, &msg.text, &self.inner.cfg.places, true);
        matches!(decided, decide::Decision::Ignore(_))
    }

    /// Finds replies that a previous run left unfinished (crash, kill) and closes each
    /// one visibly. Call once at start, before events flow.
    ///
    /// With a shared store it closes only the replies of replicas that died (or of an
    /// older release), and from then on scans for them every quarter of the lease ttl
    /// until shutdown, so a replica's death is noticed without a restart.
    pub async fn recover_unfinished(&self) -> Result<usize, BridgeError> {
        let scope = if self.inner.cfg.replica.is_shared() {
            tokio::spawn(recovery::take_over_periodically(Arc::clone(&self.inner)));
            recovery::Scope::Orphans
        } else {
            recovery::Scope::Everything
        };
        let closed = recovery::recover_unfinished(&self.inner, scope).await?;
        // The conversations a person was handling when the last run stopped: their
        // relays start again (catching up on what was written meanwhile).
        for h in self.inner.store.handoffs().await? {
            if h.platform == self.inner.adapter.name() {
                let thread = h.thread.clone();
                if !handoff::resume(&self.inner, h).await {
                    self.inner.store.remove_handoff(&thread).await?;
                }
            }
        }
        Ok(closed)
    }

    /// Stops taking events, lets replies in flight finish for up to `grace`, then
    /// closes the rest visibly. Returns how many had to be cut off.
    pub async fn shutdown(&self, grace: Duration) -> usize {
        self.inner.closing.store(true, Ordering::SeqCst);
        self.inner.stopping.send_replace(true);
        let cut = self.inner.threads.drain(grace).await;
        // The relays close their sockets at once (their records stay for the next start).
        self.inner.relays.stopped(Duration::from_secs(5)).await;
        if cut > 0 {
            if let Err(e) = recovery::recover_unfinished(&self.inner, recovery::Scope::Mine).await {
                tracing::warn!(error = %e, "could not close unfinished replies at shutdown");
            }
        }
        cut
    }

    /// Human-handled conversations whose agent's replies are being relayed now.
    pub fn handoff_relays(&self) -> usize {
        self.inner.relays.relaying()
    }

    /// Threads listened to for a takeover, or relayed (one socket each, when up).
    pub fn handoff_listeners(&self) -> usize {
        self.inner.relays.count()
    }

    /// Conversation sockets connected now.
    pub fn handoff_sockets_open(&self) -> usize {
        self.inner.relays.sockets_open()
    }

    /// Why the bridge is not ready, if it is not on its own account: a conversation
    /// socket that has not connected for [`HANDOFF_FAILING_LIMIT`] (a person's replies
    /// are not reaching a thread).
    pub fn readiness_problem(&self, now: std::time::Instant) -> Option<String> {
        let failing = self.inner.relays.failing_for(now)?;
        (failing > HANDOFF_FAILING_LIMIT).then(|| {
            format!(
                "handoff: a conversation socket has failed to connect for {}s (a person's replies cannot reach a thread)",
                failing.as_secs()
            )
        })
    }

    /// Whether the thread has a conversation (the console says so when it switches
    /// threads).
    pub async fn has_conversation(&self, thread: &ids::ThreadKey) -> Result<bool, BridgeError> {
        Ok(self.inner.store.thread_link(thread).await?.is_some())
    }

    /// Waits until everything queued for `thread` so far has been handled (answers
    /// finished, feedback sent). For the console and tests, which must not sleep.
    pub async fn barrier(&self, thread: &ids::ThreadKey) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let _ = self.inner.threads.dispatch(&self.inner, thread.clone(), jobs::Job::Barrier(tx));
        let _ = rx.await;
    }
}
