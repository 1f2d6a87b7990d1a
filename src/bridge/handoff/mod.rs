//! Human handoff: when a person on the SiteAssist dashboard takes a conversation over,
//! their replies reach the chat thread, each exactly once.
//!
//! Each thread has at most one relay: a task holding the conversation's WebSocket,
//! reconnecting with jittered backoff. A relay is in one of two modes:
//! - **listening**, for a thread the AI answered in the last `watch` window: an agent
//!   often takes over from the dashboard and writes first, before the user says
//!   anything more, and the socket's `human_assigned` / `new_message` frames tell us at
//!   once (a thread idle past the window is no longer listened to);
//! - **relaying**, once the conversation is known to be human-handled ("Message sent"
//!   to a question, `isHumanHandled` on a re-fetch, an agent's message on the socket).
//!
//! On every connection, and on every frame that says who handles the conversation
//! changed, the relay re-reads the conversation; while a person handles it, it lists
//! the agent's messages and posts those not yet posted (so nothing written while it
//! was away is lost), then posts each agent message the socket brings. Posting goes
//! through the thread's worker as a job, in order with the answers, and like an answer:
//! claimed and recorded in flight in one store operation before it shows, so a
//! redelivery never doubles it and a crash between showing it and forgetting the record
//! is finished by recovery with the same text. When SiteAssist hands the conversation
//! back or closes it, the relay says so once in the thread and stops.
//!
//! Bounds: a relaying socket idle (no question, no agent message) past `idle` is
//! closed, and at most `max_sockets` relays run, the least recently active closed
//! first; a closed relay wakes when the user writes again (the question is answered
//! "Message sent", and the new relay catches up from the message list).
//!
//! Each relay is recorded in the store while it lasts, and
//! [`Bridge::recover_unfinished`](super::Bridge::recover_unfinished) re-opens them at
//! start (those still within their window).
//!
//! Replicas on a shared store run one relay per thread between them ([`leases`]).

mod leases;

use super::ids::{MessageRef, ThreadKey};
use super::job::Job;
use super::notice;
use super::reply::Reply;
use super::Inner;
use crate::ops::metrics;
use crate::siteassist::error::{ApiError, Error};
use crate::siteassist::ids::ConversationId;
use crate::siteassist::model::{ConversationStatus, ListMessages, Message, Role};
use crate::siteassist::{message_text, SocketFrame};
use crate::store::{unix_secs, Handoff, InFlightReply, ThreadLink};
pub(super) use leases::{adopt_orphans, handled_by};
use leases::{keep_lease, release_lease, take_lease};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::Notify;

/// The longest wait between two connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How long an agent message's claim lasts: longer than any conversation stays open,
/// so a catch-up never posts an old message again.
const POSTED_TTL: Duration = Duration::from_secs(400 * 24 * 3600);

/// What the core knows of one thread's relay.
struct Entry {
    /// Which relay task owns the entry (a newer relay for the thread replaces it).
    id: u64,
    conversation: ConversationId,
    /// A person handles the conversation (relaying), or not yet (listening).
    handled: bool,
    /// The person's name, once SiteAssist gave it.
    agent: Option<String>,
    /// The thread's last activity: a question, an agent message, the relay's start.
    active: Instant,
    /// Wakes the relay to close (evicted for the cap, or replaced).
    stop: Arc<Notify>,
    /// Since when the socket could not be opened, while it cannot.
    failing_since: Option<Instant>,
}

/// The relays running now, one per thread.
pub(crate) struct Relays {
    entries: Mutex<HashMap<ThreadKey, Entry>>,
    next_id: AtomicU64,
    sockets_open: AtomicUsize,
    /// Relay tasks alive (a shutdown waits for them: each holds the store).
    tasks: Arc<tokio::sync::watch::Sender<usize>>,
    /// The relay leases live at the last takeover scan (see [`adopt_orphans`]).
    leases_seen: Mutex<HashSet<String>>,
    /// Takeover scans so far (every [`leases::FULL_SCAN_EVERY`]th reads every record).
    scans: AtomicU64,
}

impl Default for Relays {
    fn default() -> Self {
        Self {
            entries: Mutex::default(),
            next_id: AtomicU64::new(0),
            sockets_open: AtomicUsize::new(0),
            tasks: Arc::new(tokio::sync::watch::Sender::new(0)),
            leases_seen: Mutex::default(),
            scans: AtomicU64::new(0),
        }
    }
}

/// What [`Relays::begin`] did.
enum Begin {
    /// A relay runs for the thread already (its activity and mode are updated).
    Running {
        /// It was listening and now knows a person handles the conversation.
        upgraded: bool,
    },
    /// A new relay must be started with this id and stop signal.
    New(u64, Arc<Notify>),
}

impl Relays {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ThreadKey, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers activity in `thread` for `conversation`, starting a relay entry unless
    /// one runs; with `handled`, the relay (new or running) knows a person handles it.
    /// Past `max` relays, the least recently active one is told to stop.
    fn begin(
        &self,
        thread: &ThreadKey,
        conversation: &ConversationId,
        handled: bool,
        active: Instant,
        max: usize,
    ) -> Begin {
        let mut entries = self.lock();
        if let Some(e) = entries.get_mut(thread) {
            if e.conversation == *conversation {
                e.active = e.active.max(active);
                let upgraded = handled && !e.handled;
                e.handled |= handled;
                return Begin::Running { upgraded };
            }
            // The thread moved to a new conversation: the old relay has nothing to say.
            e.stop.notify_one();
            entries.remove(thread);
        }
        while entries.len() >= max.max(1) {
            let Some(oldest) = entries.iter().min_by_key(|(_, e)| e.active).map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(e) = entries.remove(&oldest) {
                tracing::info!(thread = %oldest, "handoff socket cap reached; closing the least recently active relay");
                e.stop.notify_one();
            }
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let stop = Arc::new(Notify::new());
        entries.insert(
            thread.clone(),
            Entry {
                id,
                conversation: conversation.clone(),
                handled,
                agent: None,
                active,
                stop: Arc::clone(&stop),
                failing_since: None,
            },
        );
        metrics::handoff_relays(entries.len());
        Begin::New(id, stop)
    }

    /// Runs `f` on relay `id`'s entry, if it still owns the thread.
    fn with<T>(&self, thread: &ThreadKey, id: u64, f: impl FnOnce(&mut Entry) -> T) -> Option<T> {
        self.lock().get_mut(thread).filter(|e| e.id == id).map(f)
    }

    /// Forgets relay `id` (unless a newer relay owns the thread).
    fn end(&self, thread: &ThreadKey, id: u64) {
        let mut entries = self.lock();
        if entries.get(thread).is_some_and(|e| e.id == id) {
            entries.remove(thread);
        }
        metrics::handoff_relays(entries.len());
    }

    /// Whether a relay runs for `thread` (of any relay id).
    fn runs(&self, thread: &ThreadKey) -> bool {
        self.lock().contains_key(thread)
    }

    /// `Some(agent)` when a person handles `thread`'s conversation (their name when
    /// known), as far as the running relay knows.
    pub(super) fn handled_by(&self, thread: &ThreadKey) -> Option<Option<String>> {
        self.lock().get(thread).filter(|e| e.handled).map(|e| e.agent.clone())
    }

    /// Waits until every relay task has ended (after the bridge said it is stopping),
    /// for at most `limit`.
    pub(crate) async fn stopped(&self, limit: Duration) {
        let mut tasks = self.tasks.subscribe();
        let _ = tokio::time::timeout(limit, tasks.wait_for(|n| *n == 0)).await;
    }

    /// Relays running (listening or relaying).
    pub(crate) fn count(&self) -> usize {
        self.lock().len()
    }

    /// Relays whose conversation a person handles.
    pub(crate) fn relaying(&self) -> usize {
        self.lock().values().filter(|e| e.handled).count()
    }

    /// Sockets connected now.
    pub(crate) fn sockets_open(&self) -> usize {
        self.sockets_open.load(Ordering::Relaxed)
    }

    /// How long the longest-failing socket has been failing (none failing: `None`).
    pub(crate) fn failing_for(&self, now: Instant) -> Option<Duration> {
        self.lock()
            .values()
            .filter_map(|e| e.failing_since)
            .map(|since| now.saturating_duration_since(since))
            .max()
    }

    fn socket_opened(&self) {
        let open = self.sockets_open.fetch_add(1, Ordering::Relaxed) + 1;
        metrics::handoff_sockets_open(open);
    }

    fn socket_closed(&self) {
        let open = self.sockets_open.fetch_sub(1, Ordering::Relaxed) - 1;
        metrics::handoff_sockets_open(open);
    }
}

/// A person handles `link`'s conversation: relay their replies into `thread` (a
/// running relay switches to relaying; a new one starts).
pub(super) async fn watch(inner: &Arc<Inner>, thread: ThreadKey, link: ThreadLink) {
    start(inner, thread, link, true, None).await;
}

/// The AI just answered in `thread`: listen for a takeover for the `watch` window.
pub(super) async fn listen(inner: &Arc<Inner>, thread: ThreadKey, link: ThreadLink) {
    if !inner.cfg.handoff.watch.is_zero() {
        start(inner, thread, link, false, None).await;
    }
}

/// Re-opens the relay a previous run recorded, if it is still within its window.
/// Returns false when it is not (the caller forgets the record).
pub(super) async fn resume(inner: &Arc<Inner>, h: Handoff) -> bool {
    let age = Duration::from_secs(unix_secs(SystemTime::now()).saturating_sub(h.since));
    let window = if h.watching { inner.cfg.handoff.watch } else { inner.cfg.handoff.idle };
    if age >= window {
        return false;
    }
    let active = Instant::now().checked_sub(age).unwrap_or_else(Instant::now);
    start(inner, h.thread, h.link, !h.watching, Some(active)).await;
    true
}

/// Starts (or updates) `thread`'s relay: on activity now, or `resumed` from a record
/// whose last activity was then.
async fn start(
    inner: &Arc<Inner>,
    thread: ThreadKey,
    link: ThreadLink,
    handled: bool,
    resumed: Option<Instant>,
) {
    let active = resumed.unwrap_or_else(Instant::now);
    if *inner.stopping.borrow() && !inner.relays.runs(&thread) {
        // Shutting down (an answer finished within the grace): no socket now. The record
        // lets the next start, or another replica's full scan, open it.
        persist(inner, &record(inner, &thread, &link, handled)).await;
        return;
    }
    // The lease first, so that a thread another replica relays never shows here as a
    // relay, not even for a moment. A relay of this replica renews the lease itself.
    if !inner.relays.runs(&thread) && !take_lease(inner, &thread).await {
        // What this replica just learnt (a person handles the conversation) goes into
        // the record; the relaying replica learns it from its own socket.
        if handled && resumed.is_none() {
            persist(inner, &record(inner, &thread, &link, true)).await;
        }
        tracing::debug!(%thread, "another replica relays this thread's conversation");
        return;
    }
    let max = inner.cfg.handoff.max_sockets;
    let (id, stop) = match inner.relays.begin(&thread, &link.conversation, handled, active, max) {
        Begin::Running { upgraded } => {
            if upgraded || handled {
                // Recorded again: a restart re-opens it as relaying, and its window
                // counts from this activity.
                persist(inner, &record(inner, &thread, &link, true)).await;
            }
            return;
        }
        Begin::New(id, stop) => (id, stop),
    };
    // Listening after an answer can wait a moment (at most half a short window, so
    // that it still listens); a person handling it, or a relay a previous run
    // recorded, cannot.
    let h = &inner.cfg.handoff;
    let first_wait =
        if handled || resumed.is_some() { Duration::ZERO } else { h.listen_after.min(h.watch / 2) };
    let inner = Arc::clone(inner);
    inner.relays.tasks.send_modify(|n| *n += 1);
    tokio::spawn(async move {
        persist(&inner, &record(&inner, &thread, &link, handled)).await;
        let lost = AtomicBool::new(false);
        let end = tokio::select! {
            end = relay(&inner, &thread, &link, id, &stop, first_wait) => end,
            never = keep_lease(&inner, &thread, &lost, &stop) => match never {},
        };
        let end = if lost.load(Ordering::Relaxed) { End::Lost } else { end };
        inner.relays.end(&thread, id);
        let release = !matches!(end, End::Lost);
        // The record goes (in `say_end`) before the lease: a replica that saw the lease
        // free and the record still there would start the relay again and repeat the
        // end note.
        say_end(&inner, &thread, &link, end).await;
        // A newer relay of this replica for the thread holds the same lease.
        if release && !inner.relays.runs(&thread) {
            release_lease(&inner, &thread).await;
        }
        // Counted down only once this task holds nothing of the bridge (a shutdown
        // waiting on it may then release the store).
        let tasks = Arc::clone(&inner.relays.tasks);
        drop(inner);
        tasks.send_modify(|n| *n -= 1);
    });
}

fn record(inner: &Inner, thread: &ThreadKey, link: &ThreadLink, handled: bool) -> Handoff {
    Handoff {
        platform: inner.adapter.name().to_string(),
        thread: thread.clone(),
        link: link.clone(),
        since: unix_secs(SystemTime::now()),
        watching: !handled,
    }
}

async fn persist(inner: &Inner, record: &Handoff) {
    if let Err(e) = inner.store.put_handoff(record).await {
        tracing::warn!(error = %e, "could not record a handoff relay; a restart will not resume it");
    }
}

/// Why a relay ended.
enum End {
    /// Back with the AI.
    HandedBack,
    /// Closed on SiteAssist.
    Closed,
    /// SiteAssist refused the socket for good (key, conversation gone).
    Refused,
    /// Nothing to say: a listening relay's window passed, or what it listened to
    /// ended before any person took it (refused, closed).
    Quiet,
    /// Idle past its window, or closed for the cap: a question wakes it again.
    Idle,
    /// The bridge is shutting down: the record stays for the next start.
    Closing,
    /// Another replica took the relay's lease: the record is its now.
    Lost,
}

/// Relays until the handover ends, and says how it ended.
async fn relay(
    inner: &Arc<Inner>,
    thread: &ThreadKey,
    link: &ThreadLink,
    id: u64,
    stop: &Notify,
    first_wait: Duration,
) -> End {
    let mut failures = 0u32;
    let mut stopping = inner.stopping.subscribe();
    if !first_wait.is_zero() {
        tokio::select! {
            () = tokio::time::sleep(first_wait) => {}
            _ = stopping.wait_for(|s| *s) => return End::Closing,
            () = stop.notified() => return End::Idle,
        }
    }
    // What this relay has queued already: a catch-up lists every agent message, and
    // queuing them all again each time filled the thread's queue (the end note was
    // then refused). The store's claims still guard across relays and restarts.
    let mut queued = HashSet::new();
    let mut connected_before = false;
    loop {
        if *stopping.borrow() {
            return End::Closing;
        }
        let Some(deadline) = idle_deadline(inner, thread, id) else { return End::Idle };
        if Instant::now() >= deadline {
            return if handled(inner, thread, id) { End::Idle } else { End::Quiet };
        }
        match inner.client.open_socket_pinging(&link.conversation, inner.cfg.handoff.ping).await {
            Ok(mut socket) => {
                failures = 0;
                inner.relays.with(thread, id, |e| e.failing_since = None);
                inner.relays.socket_opened();
                if connected_before {
                    metrics::handoff_reconnected();
                }
                connected_before = true;
                let end = connected(inner, thread, link, id, stop, &mut socket, &mut queued).await;
                inner.relays.socket_closed();
                if let Some(end) = end {
                    socket.close().await;
                    return end;
                }
                tracing::info!(conversation = %link.conversation, "conversation socket dropped; reconnecting");
            }
            Err(Error::Api(
                ApiError::Unauthorized { .. }
                | ApiError::ConversationNotFound { .. }
                | ApiError::Forbidden { .. },
            )) => {
                return if handled(inner, thread, id) { End::Refused } else { End::Quiet };
            }
            Err(e) => {
                failures += 1;
                metrics::handoff_socket_failed();
                inner.relays.with(thread, id, |e| {
                    e.failing_since.get_or_insert_with(Instant::now);
                });
                tracing::debug!(error = %e, failures, "could not open the conversation socket");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(backoff(failures, &link.conversation)) => {}
            _ = stopping.wait_for(|s| *s) => return End::Closing,
            () = stop.notified() => return End::Idle,
        }
    }
}

/// Serves one connection until it drops (`None`) or the relay ends.
async fn connected(
    inner: &Arc<Inner>,
    thread: &ThreadKey,
    link: &ThreadLink,
    id: u64,
    stop: &Notify,
    socket: &mut crate::siteassist::ConversationSocket,
    queued: &mut HashSet<String>,
) -> Option<End> {
    let mut stopping = inner.stopping.subscribe();
    if let Some(end) = catch_up(inner, thread, link, id, queued).await {
        return Some(end);
    }
    loop {
        let Some(deadline) = idle_deadline(inner, thread, id) else { return Some(End::Idle) };
        let frame = tokio::select! {
            frame = socket.next() => frame,
            _ = stopping.wait_for(|s| *s) => return Some(End::Closing),
            () = stop.notified() => return Some(End::Idle),
            () = tokio::time::sleep_until(deadline.into()) => {
                // Activity may have moved the deadline meanwhile: look again.
                match idle_deadline(inner, thread, id) {
                    Some(d) if d > Instant::now() => continue,
                    _ if handled(inner, thread, id) => return Some(End::Idle),
                    _ => return Some(End::Quiet),
                }
            }
        };
        match frame? {
            SocketFrame::NewMessage(Some(m)) if m.role == Role::HumanAgent => {
                if handled(inner, thread, id) {
                    post(inner, thread, link, id, &m, queued);
                } else if let Some(end) = catch_up(inner, thread, link, id, queued).await {
                    // A person wrote before the bridge knew they took over.
                    return Some(end);
                }
            }
            // Echoes of the user's messages, assistant messages: not ours.
            SocketFrame::NewMessage(Some(_)) => {}
            SocketFrame::NewMessage(None) | SocketFrame::HumanAssigned => {
                if let Some(end) = catch_up(inner, thread, link, id, queued).await {
                    return Some(end);
                }
            }
        }
    }
}

/// When relay `id` goes idle, or `None` when it no longer owns its thread.
fn idle_deadline(inner: &Inner, thread: &ThreadKey, id: u64) -> Option<Instant> {
    let cfg = &inner.cfg.handoff;
    inner.relays.with(thread, id, |e| e.active + if e.handled { cfg.idle } else { cfg.watch })
}

fn handled(inner: &Inner, thread: &ThreadKey, id: u64) -> bool {
    inner.relays.with(thread, id, |e| e.handled).unwrap_or(false)
}

/// Tells the thread how the handover ended (once: one relay per thread). The note
/// goes through the thread's worker, after the agent messages queued before it (posted
/// directly, it overtook them).
async fn say_end(inner: &Arc<Inner>, thread: &ThreadKey, link: &ThreadLink, end: End) {
    let note = match end {
        End::HandedBack => Some(notice::handed_back()),
        End::Closed => Some(notice::handoff_closed()),
        End::Refused => {
            tracing::warn!(conversation = %link.conversation, "SiteAssist refused the conversation socket; the support team's replies cannot be shown here");
            Some(notice::handoff_refused())
        }
        End::Quiet | End::Idle => None,
        End::Closing | End::Lost => return,
    };
    // A newer relay for the thread has its own record.
    if !inner.relays.runs(thread) {
        if let Err(e) = inner.store.remove_handoff(thread).await {
            tracing::warn!(error = %e, "could not forget a finished handoff");
        }
    }
    if matches!(end, End::Closed) {
        reopen(inner, thread, link).await;
    }
    if let Some(note) = note {
        let job = Job::Notice { thread: thread.clone(), markdown: note };
        let _ = inner.threads.dispatch(inner, thread.clone(), job);
    }
}

/// Gives a thread whose conversation was closed a new one for the same visitor, so
/// the next message there is answered (as a follow-up in a thread the bot is part of)
/// by the AI in a fresh conversation. If SiteAssist refuses, the link is forgotten
/// instead: the next mention starts one.
async fn reopen(inner: &Inner, thread: &ThreadKey, old: &ThreadLink) {
    let fresh = match inner.client.create_conversation(&old.owner, None).await {
        Ok(created) => Some(ThreadLink {
            conversation: created.id,
            owner: old.owner.clone(),
            created_at: unix_secs(SystemTime::now()),
        }),
        Err(e) => {
            tracing::warn!(error = %e, "could not start a new conversation after a close");
            None
        }
    };
    if let Err(e) = inner.store.remove_thread_link(thread).await {
        tracing::warn!(error = %e, "could not forget a closed conversation");
        return;
    }
    if let Some(fresh) = fresh {
        if let Err(e) = inner.store.put_thread_link_if_absent(thread, &fresh).await {
            tracing::warn!(error = %e, "could not record the new conversation");
        }
    }
}

/// 1 s, 2 s, 4 s … up to [`MAX_BACKOFF`], each scaled by a factor in [0.5, 1.5) that
/// differs per conversation and attempt, so sockets dropped together do not come back
/// together.
fn backoff(failures: u32, conversation: &ConversationId) -> Duration {
    use std::hash::{Hash, Hasher};
    let base = Duration::from_secs(1u64 << failures.min(6)).min(MAX_BACKOFF);
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (conversation.as_str(), failures, SystemTime::now()).hash(&mut h);
    let factor = 0.5 + (h.finish() % 1000) as f64 / 1000.0;
    base.mul_f64(factor)
}

/// Re-reads the conversation and says whether the relay is over. While a person
/// handles it, posts the agent messages not yet posted, in order (a listening relay
/// switches to relaying first).
async fn catch_up(
    inner: &Arc<Inner>,
    thread: &ThreadKey,
    link: &ThreadLink,
    id: u64,
    queued: &mut HashSet<String>,
) -> Option<End> {
    let conversation = match inner.client.get_conversation(&link.owner, &link.conversation).await {
        Ok(c) => c,
        Err(Error::Api(ApiError::ConversationNotFound { .. } | ApiError::Forbidden { .. })) => {
            return Some(if handled(inner, thread, id) { End::Refused } else { End::Quiet })
        }
        Err(e) => {
            tracing::debug!(error = %e, "could not re-read a conversation");
            return None;
        }
    };
    let was_handled = handled(inner, thread, id);
    if conversation.is_human_handled {
        let agent = conversation.human_agent.as_ref().and_then(|a| a.name.clone());
        inner.relays.with(thread, id, |e| {
            e.handled = true;
            e.active = Instant::now();
            e.agent = agent.clone().or(e.agent.take());
        });
        if !was_handled {
            tracing::info!(%thread, "a person took the conversation over");
            persist(inner, &record(inner, thread, link, true)).await;
        }
        if let Some(name) = &agent {
            announce(inner, thread, link, name, queued);
        }
        let query = ListMessages { role: Some(Role::HumanAgent), ..ListMessages::default() };
        match inner.client.list_messages(&link.owner, &link.conversation, &query).await {
            Ok(messages) => messages.iter().for_each(|m| post(inner, thread, link, id, m, queued)),
            Err(e) => tracing::debug!(error = %e, "could not list the agent's messages"),
        }
    } else if was_handled {
        // Handed back: what the agent wrote before that still shows.
        let query = ListMessages { role: Some(Role::HumanAgent), ..ListMessages::default() };
        if let Ok(messages) =
            inner.client.list_messages(&link.owner, &link.conversation, &query).await
        {
            messages.iter().for_each(|m| post(inner, thread, link, id, m, queued));
        }
    }
    let handled_now = conversation.is_human_handled || was_handled;
    if conversation.status == ConversationStatus::Closed {
        Some(if handled_now { End::Closed } else { End::Quiet })
    } else if was_handled && !conversation.is_human_handled {
        Some(End::HandedBack)
    } else {
        None
    }
}

/// Queues the note that `name` joined (shown once per agent and conversation: the job
/// claims it like a message), so that it comes before the first thing they write.
fn announce(
    inner: &Arc<Inner>,
    thread: &ThreadKey,
    link: &ThreadLink,
    name: &str,
    queued: &mut HashSet<String>,
) {
    let message = joined_key(name);
    if queued.contains(&message) {
        return;
    }
    let job = Job::AgentMessage {
        thread: thread.clone(),
        conversation: link.conversation.clone(),
        message: message.clone(),
        markdown: notice::agent_joined(name),
    };
    if inner.threads.dispatch(inner, thread.clone(), job) == super::threads::Queued::Yes {
        queued.insert(message);
    }
}

/// The message key under which the note that `name` joined is claimed.
fn joined_key(name: &str) -> String {
    format!("joined:{name}")
}

/// Queues agent message `m` for the thread (the job posts it at most once), after the
/// note that its author joined.
fn post(
    inner: &Arc<Inner>,
    thread: &ThreadKey,
    link: &ThreadLink,
    id: u64,
    m: &Message,
    queued: &mut HashSet<String>,
) {
    let text = message_text(m);
    if text.trim().is_empty() || queued.contains(m.id.as_str()) {
        return;
    }
    let name = m.human_agent.as_ref().and_then(|a| a.name.clone());
    inner.relays.with(thread, id, |e| {
        e.active = Instant::now();
        if name.is_some() {
            e.agent.clone_from(&name);
        }
    });
    if let Some(name) = &name {
        announce(inner, thread, link, name, queued);
    }
    let markdown = format!("**{}:** {}", name.as_deref().unwrap_or("Support"), text.trim());
    let job = Job::AgentMessage {
        thread: thread.clone(),
        conversation: link.conversation.clone(),
        message: m.id.as_str().to_string(),
        markdown,
    };
    if inner.threads.dispatch(inner, thread.clone(), job) == super::threads::Queued::Yes {
        queued.insert(m.id.as_str().to_string());
    } else {
        tracing::warn!(%thread, "thread queue full; the agent's message waits for the next catch-up");
    }
}

/// Claims the note that `name` joined `conversation`, for a question that learnt of
/// the handover itself and shows the note in its own reply: the relay then does not
/// show it again. False when it was shown already (or the store failed: then the
/// question shows a plain note and the relay may still announce).
pub(super) async fn claim_joined(inner: &Inner, conversation: &ConversationId, name: &str) -> bool {
    let key = format!("agent:{conversation}:{}", joined_key(name));
    inner.store.claim(&key, SystemTime::now(), POSTED_TTL).await.unwrap_or(false)
}

/// Shows agent message `message` in `thread`, unless it already was (or is being).
pub(super) async fn show(
    inner: &Inner,
    thread: ThreadKey,
    conversation: &ConversationId,
    message: &str,
    markdown: &str,
) {
    let key = format!("agent:{conversation}:{message}");
    // No question: the thread's root bounds the look for a post a killed run made but
    // did not record (recovery adopts it rather than post it twice).
    let root = inner
        .adapter
        .thread_root(&thread)
        .unwrap_or_else(|| MessageRef::new(format!("siteassist:{message}")));
    let id = uuid::Uuid::new_v4().to_string();
    let started_at = unix_secs(SystemTime::now());
    let record = InFlightReply {
        conversation: Some(conversation.clone()),
        final_markdown: Some(markdown.to_string()),
        replica: inner.cfg.replica.stamp(),
        ..InFlightReply::new(id, inner.adapter.name(), thread.clone(), root, started_at)
    };
    match inner.store.claim_and_record(&[&key], SystemTime::now(), POSTED_TTL, &record).await {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => {
            tracing::warn!(error = %e, "could not record an agent message; it waits for the next catch-up");
            return;
        }
    }
    let keys = super::pacing::BudgetKeys::new(&super::ids::ChannelKey::new(thread.as_str()), None);
    let mut reply = Reply::new(inner, keys, record);
    reply.show_final(markdown).await;
    // The "joined" notes go through here too; only what the agents wrote is counted.
    if !message.starts_with("joined:") {
        metrics::agent_message_relayed(inner.adapter.name());
    }
    reply.finish(None).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thread(n: u32) -> ThreadKey {
        ThreadKey::new(format!("test:{n}"))
    }

    fn conversation(n: u32) -> ConversationId {
        ConversationId::new(format!("c-{n}"))
    }

    #[test]
    fn one_relay_per_thread_and_the_cap_closes_the_least_recently_active() {
        let relays = Relays::default();
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let Begin::New(_, stop1) = relays.begin(&thread(1), &conversation(1), false, at(1), 2)
        else {
            panic!("a new relay")
        };
        assert!(matches!(
            relays.begin(&thread(2), &conversation(2), false, at(2), 2),
            Begin::New(..)
        ));
        // Thread 1 is active again: thread 2 becomes the oldest.
        let again = relays.begin(&thread(1), &conversation(1), true, at(3), 2);
        assert!(matches!(again, Begin::Running { upgraded: true }));
        assert_eq!(relays.handled_by(&thread(1)), Some(None));
        assert!(matches!(
            relays.begin(&thread(3), &conversation(3), false, at(4), 2),
            Begin::New(..)
        ));
        assert_eq!(relays.count(), 2);
        assert!(relays.runs(&thread(1)) && relays.runs(&thread(3)) && !relays.runs(&thread(2)));
        assert_eq!(relays.relaying(), 1);
        // A new conversation in thread 1 replaces its relay, and stops the old one.
        assert!(matches!(
            relays.begin(&thread(1), &conversation(9), false, at(5), 2),
            Begin::New(..)
        ));
        let stopped = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let woke = stopped.block_on(async {
            tokio::time::timeout(Duration::from_secs(1), stop1.notified()).await.is_ok()
        });
        assert!(woke, "the replaced relay was told to stop");
        assert_eq!(relays.handled_by(&thread(1)), None, "the new relay only listens");
    }

    #[test]
    fn the_longest_failing_socket_is_reported() {
        let relays = Relays::default();
        let now = Instant::now();
        let Begin::New(a, _) = relays.begin(&thread(1), &conversation(1), true, now, 10) else {
            panic!("new")
        };
        let Begin::New(b, _) = relays.begin(&thread(2), &conversation(2), true, now, 10) else {
            panic!("new")
        };
        assert_eq!(relays.failing_for(now), None);
        relays.with(&thread(1), a, |e| e.failing_since = Some(now));
        relays.with(&thread(2), b, |e| e.failing_since = now.checked_sub(Duration::from_secs(9)));
        let later = now + Duration::from_secs(1);
        assert_eq!(relays.failing_for(later), Some(Duration::from_secs(10)));
        // A stale id does not touch the thread's current relay.
        assert_eq!(relays.with(&thread(1), b, |e| e.handled), None);
        relays.end(&thread(2), b);
        assert_eq!(relays.failing_for(later), Some(Duration::from_secs(1)));
    }
}
