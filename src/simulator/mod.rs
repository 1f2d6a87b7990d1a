//! A SiteAssist-compatible local server: the demo backend and the fake every test talks to.
//!
//! It implements the v2 visitor surface (`/v2/identity`, `/v2/projects/current`,
//! `/v2/conversations…`, `/v2/messages/{id}/feedback`) with the wire format of
//! `shared/siteassist-api.md`: the error envelope, the list envelopes, and the AI SDK v5
//! UI message stream byte for byte. It is written independently of the crate's client
//! (it shares only [`crate::siteassist::ids`]), so that tests of the client against it
//! check two readings of the spec against each other.
//!
//! Answers come from a small FAQ ([`answer_for`], deterministic, so tests know the final
//! text in advance). Misbehaviour is switched on with [`Fault`]s, in-process through
//! [`Simulator::push_fault`] or over HTTP through `POST /__sim/faults`.
//!
//! Where the spec is silent the simulator picks the stricter reading, so a client that
//! passes here is robust: `POST /conversations` answers 201; user messages have
//! `status: null`; assistant messages carry `step-start` before their text part; errors
//! send no `Retry-After` header (only `details.retryAfter`); a non-empty body needs
//! `Content-Type: application/json`; bodies over 64 KiB get 413 `PAYLOAD_TOO_LARGE`;
//! the old `lastInterationAt` spelling is refused; feedback on an unknown message is
//! 404 `MESSAGE_NOT_FOUND` and on a non-assistant message 422.
//!
//! Layout: [`faq`] answers; [`faults`] the knobs; `state` the data and its JSON; `query`
//! list parameters and paging; `routes` the handlers; `send` the message POST; `stream`
//! the SSE script and its player; `error` the envelope.

mod agents;
mod error;
pub mod faq;
pub mod faults;
mod query;
mod request;
mod routes;
mod send;
mod state;
mod stream;

pub use faq::{answer_for, sources_for};
pub use faults::Fault;
pub use state::FaultHit;

use serde::Serialize;
use state::{MsgStatus, State};
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{oneshot, watch, Notify};

/// How a simulator behaves.
#[derive(Clone)]
pub struct SimulatorConfig {
    /// Pause before each streamed word: 30 ms reads like a live answer in the demo; tests
    /// use 1–2 ms to stay fast.
    pub word_delay: Duration,
    /// When set, `identity/init` and `projects/current` accept only this publishable key
    /// (401 otherwise); when unset any non-empty key works, which suits the demo.
    pub publishable_key: Option<String>,
    /// When set, every `/v2` request must carry exactly this `Origin` header (403
    /// otherwise), like a key restricted to allowed websites.
    pub required_origin: Option<String>,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        Self { word_delay: Duration::from_millis(30), publishable_key: None, required_origin: None }
    }
}

/// Masks the key: even publishable keys stay out of logs by habit.
impl fmt::Debug for SimulatorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimulatorConfig")
            .field("word_delay", &self.word_delay)
            .field("publishable_key", &self.publishable_key.as_ref().map(|_| "***"))
            .field("required_origin", &self.required_origin)
            .finish()
    }
}

/// One feedback call the simulator accepted, in the order received.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FeedbackRecord {
    /// The rated message.
    pub message_id: String,
    /// The `saVid` of the visitor who rated it.
    pub visitor_sa_vid: String,
    /// `"like"`, `"dislike"`, or `None` for a cleared rating (`null` on the wire).
    pub value: Option<String>,
}

/// A question the simulator stored, as the bridge sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedQuestion {
    /// `content`: the question.
    pub content: String,
    /// `pageContext.url`.
    pub page_url: Option<String>,
    /// `pageContext.title`.
    pub page_title: Option<String>,
    /// `pageContext.content`: the page text (the bridge's thread context).
    pub page_content: Option<String>,
}

/// A simulated SiteAssist API. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct Simulator {
    inner: Arc<Inner>,
}

struct Inner {
    config: SimulatorConfig,
    state: Mutex<State>,
    /// Woken after every state change, for [`Simulator::wait_until`].
    changed: Notify,
    /// Becomes true when `serve` is shutting down, which ends stalled streams.
    closing: watch::Sender<bool>,
    /// Frames for the conversation WebSockets, one channel per conversation with a
    /// socket open (see [`agents`]): a frame wakes only its conversation's sockets.
    frames: Mutex<std::collections::HashMap<String, tokio::sync::broadcast::Sender<String>>>,
    /// Bumped to cut every open WebSocket.
    drops: watch::Sender<u64>,
}

impl Simulator {
    /// A simulator with empty state.
    pub fn new(config: SimulatorConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                state: Mutex::new(State::default()),
                changed: Notify::new(),
                closing: watch::Sender::new(false),
                frames: Mutex::default(),
                drops: watch::Sender::new(0),
            }),
        }
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &SimulatorConfig {
        &self.inner.config
    }

    /// The routes (`/v2/…` and `/__sim/…`), with state, body limit and origin check.
    pub fn router(&self) -> axum::Router {
        routes::router(self.clone())
    }

    /// Serves on an already bound listener until `shutdown` resolves, then shuts down
    /// gracefully (stalled streams are cut so that they do not hold the shutdown up).
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.inner.closing.send_replace(false);
        let sim = self.clone();
        let signal = async move {
            shutdown.await;
            sim.inner.closing.send_replace(true);
        };
        axum::serve(listener, self.router()).with_graceful_shutdown(signal).await
    }

    /// Queues a fault for the next message POST (first in, first out; one per request).
    pub fn push_fault(&self, fault: Fault) {
        self.with_state(|s| s.faults.next.push_back(fault));
    }

    /// Faults queued with [`Self::push_fault`] that no request has taken yet.
    pub fn queued_faults(&self) -> usize {
        self.read(|s| s.faults.next.len())
    }

    /// Faults that took effect so far, in order, each with the question it hit: a test
    /// ties an outcome to the fault that caused it (queued faults hit whichever request
    /// comes next, so the queue alone does not say which).
    pub fn fault_hits(&self) -> Vec<FaultHit> {
        self.read(|s| s.fault_hits.clone())
    }

    /// Applies `fault` to every message POST that has no queued fault, until cleared
    /// with `None`.
    pub fn set_persistent_fault(&self, fault: Option<Fault>) {
        self.with_state(|s| s.faults.persistent = fault);
    }

    /// Removes queued and persistent faults.
    pub fn clear_faults(&self) {
        self.with_state(|s| s.faults = Default::default());
    }

    /// Every `POST …/messages` received, including rejected ones.
    pub fn message_posts(&self) -> usize {
        self.read(|s| s.message_posts)
    }

    /// Accepted feedback calls, in order.
    pub fn feedback_log(&self) -> Vec<FeedbackRecord> {
        self.read(|s| s.feedback_log.clone())
    }

    /// Conversations created so far (all visitors).
    pub fn conversation_count(&self) -> usize {
        self.read(|s| s.conversations.len())
    }

    /// `identity/init` calls that succeeded.
    pub fn init_count(&self) -> usize {
        self.read(|s| s.init_count)
    }

    /// The messages of a conversation, oldest first, as `(role, text, status)`; `status`
    /// is `""` where the API sends `null` (user messages). Empty for an unknown id.
    pub fn conversation_messages(&self, conversation_id: &str) -> Vec<(String, String, String)> {
        self.read(|s| {
            s.messages_of(conversation_id)
                .iter()
                .map(|m| {
                    let status = m.status.map_or("", MsgStatus::as_str);
                    (m.role.as_str().into(), m.text.clone(), status.into())
                })
                .collect()
        })
    }

    /// Every question stored (all conversations), in arrival order: what SiteAssist
    /// got, including the page text it does not echo back on messages.
    pub fn questions(&self) -> Vec<ReceivedQuestion> {
        self.read(|s| s.questions.clone())
    }

    /// Hands a conversation to a human agent, or back to the AI. False for an unknown id.
    pub fn set_human_handled(&self, conversation_id: &str, human: bool) -> bool {
        self.with_state(|s| match s.conversations.get_mut(conversation_id) {
            Some(c) => {
                c.is_human_handled = human;
                true
            }
            None => false,
        })
    }

    /// When each streamed answer was complete (its last word sent and stored), with the
    /// page URL of its question (`pageContext.url`), in order.
    pub fn stream_ends(&self) -> Vec<(Option<String>, std::time::Instant)> {
        self.read(|s| s.stream_ends.clone())
    }

    /// Answers still being generated (streams whose task has not finished).
    pub fn generations_in_flight(&self) -> usize {
        self.read(|s| s.generating)
    }

    /// SSE bodies a client dropped before reading them to their end (a stop, a
    /// shutdown, or a client that hangs up at `finish` instead of reading to `[DONE]`).
    pub fn client_aborts(&self) -> usize {
        self.read(|s| s.client_aborts)
    }

    /// SSE response bodies not yet dropped by the server (a client that went away
    /// closes its body).
    pub fn open_streams(&self) -> usize {
        self.read(|s| s.open_streams)
    }

    /// Resolves once `pred` holds, re-checking after every state change. Bound it with
    /// `tokio::time::timeout`; it waits for events, not on a clock. The predicate should
    /// only read (the inspection getters do not count as changes); one that pushes faults
    /// or flips conversations would wake itself forever.
    pub async fn wait_until(&self, pred: impl Fn(&Simulator) -> bool) {
        loop {
            let mut notified = std::pin::pin!(self.inner.changed.notified());
            notified.as_mut().enable();
            if pred(self) {
                return;
            }
            notified.await;
        }
    }

    /// Runs `f` on the state under the lock, then wakes [`Self::wait_until`] callers.
    pub(crate) fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let r = f(&mut self.lock());
        self.inner.changed.notify_waiters();
        r
    }

    /// Reads the state without waking waiters, so a [`Self::wait_until`] predicate that
    /// reads does not wake itself forever.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.lock())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic in another handler must not wedge the simulator: the state is still
        // consistent enough for a fake.
        self.inner.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Appends a streamed word to a stored message.
    pub(crate) fn append_text(&self, message_id: &str, word: &str) {
        self.with_state(|s| {
            if let Some(m) = s.messages.get_mut(message_id) {
                m.text.push_str(word);
            }
        });
    }

    /// Stores how a message ended.
    pub(crate) fn finish_message(&self, message_id: &str, status: MsgStatus, error: Option<&str>) {
        self.with_state(|s| {
            if let Some(m) = s.messages.get_mut(message_id) {
                m.status = Some(status);
                m.error = error.map(String::from);
            }
        });
    }

    /// Resolves when `serve` starts shutting down (never, if it is not serving).
    pub(crate) async fn closed(&self) {
        let mut rx = self.inner.closing.subscribe();
        if rx.wait_for(|closing| *closing).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// A simulator serving on `127.0.0.1` in a background task; dropping it shuts the server
/// down.
pub struct RunningSimulator {
    /// The simulator, for faults and inspection.
    pub sim: Simulator,
    /// `http://127.0.0.1:PORT/v2`, the base URL a client is configured with.
    pub base_url: String,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl RunningSimulator {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, for the `/__sim` routes.
    pub fn root_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Shuts down gracefully and waits for the server to finish.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(std::io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for RunningSimulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Connections waiting to be accepted that [`bind`] asks the kernel to keep (Linux caps
/// it at `net.core.somaxconn`, 4096 by default).
const ACCEPT_QUEUE: u32 = 8192;

/// Listens on `addr` with a deep accept queue. A load test opens thousands of
/// connections at once; with tokio's default of 1024 the queue overflowed and the
/// kernel dropped handshakes (seen at 10,000 questions in the load bench: 76,843
/// overflows in one run, and some requests reset), which real SiteAssist, behind its
/// own servers, would not do to the bridge.
pub fn bind(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = match addr {
        std::net::SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        std::net::SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(ACCEPT_QUEUE)
}

/// Binds `127.0.0.1:0` and serves a new simulator in a background task.
pub async fn spawn_local(cfg: SimulatorConfig) -> std::io::Result<RunningSimulator> {
    let listener = bind(([127, 0, 0, 1], 0).into())?;
    let addr = listener.local_addr()?;
    let sim = Simulator::new(cfg);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(sim.clone().serve(listener, async move {
        let _ = stopped.await;
    }));
    Ok(RunningSimulator {
        sim,
        base_url: format!("http://{addr}/v2"),
        addr,
        stop: Some(stop),
        task: Some(task),
    })
}
