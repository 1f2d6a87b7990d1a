//! Human handoff: when a person on the SiteAssist dashboard takes a conversation over,
//! their replies reach the chat thread, each exactly once.
//!
//! A handover learnt from a question ("Message sent" instead of a stream) starts one
//! relay for the conversation (never two, however many questions follow). The relay
//! holds the conversation's WebSocket, reconnecting with jittered backoff; on every
//! connection it first lists the conversation's agent messages and posts those not yet
//! posted (so nothing sent while it was away is lost), then posts each agent message
//! the socket brings. Posting goes through the thread's worker as a job, in order with
//! the answers, and like an answer: claimed and recorded in flight in one store
//! operation before it shows, so a redelivery never doubles it and a crash between
//! showing it and forgetting the record is finished by recovery with the same text.
//! When SiteAssist hands the conversation back or closes it, the relay says so once
//! in the thread and stops.
//!
//! Each handoff is recorded in the store while it lasts, and
//! [`Bridge::recover_unfinished`](super::Bridge::recover_unfinished) re-opens the
//! relays at start. Not yet here (see the handoff issue): listening on recently active
//! threads before any question, the cap on sockets, the delivery mark.

use super::ids::{MessageRef, ThreadKey};
use super::job::Job;
use super::notice;
use super::reply::Reply;
use super::Inner;
use crate::siteassist::error::{ApiError, Error};
use crate::siteassist::ids::ConversationId;
use crate::siteassist::model::{ConversationStatus, ListMessages, Message, Role};
use crate::siteassist::{message_text, SocketFrame};
use crate::store::{unix_secs, Handoff, InFlightReply, ThreadLink};
use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

/// The longest wait between two connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How long an agent message's claim lasts: longer than any conversation stays open,
/// so a catch-up never posts an old message again.
const POSTED_TTL: Duration = Duration::from_secs(400 * 24 * 3600);

/// The conversations being relayed now.
#[derive(Default)]
pub(crate) struct Relays {
    active: Mutex<HashSet<ConversationId>>,
}

impl Relays {
    /// Marks `conversation` as relayed; false if it already was.
    fn start(&self, conversation: &ConversationId) -> bool {
        let mut active = self.active.lock().unwrap_or_else(PoisonError::into_inner);
        let started = active.insert(conversation.clone());
        crate::ops::metrics::handoff_relays(active.len());
        started
    }

    fn stop(&self, conversation: &ConversationId) {
        let mut active = self.active.lock().unwrap_or_else(PoisonError::into_inner);
        active.remove(conversation);
        crate::ops::metrics::handoff_relays(active.len());
    }

    /// How many conversations are being relayed.
    pub(crate) fn count(&self) -> usize {
        self.active.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

/// Starts relaying `link`'s conversation into `thread`, unless it already is.
pub(super) fn watch(inner: &Arc<Inner>, thread: ThreadKey, link: ThreadLink) {
    if !inner.relays.start(&link.conversation) {
        return;
    }
    let inner = Arc::clone(inner);
    tokio::spawn(async move {
        // Recorded, so that a restart re-opens the relay (and catches up).
        let handoff = Handoff {
            platform: inner.adapter.name().to_string(),
            thread: thread.clone(),
            link: link.clone(),
            since: unix_secs(SystemTime::now()),
        };
        if let Err(e) = inner.store.put_handoff(&handoff).await {
            tracing::warn!(error = %e, "could not record a handoff; a restart will not resume it");
        }
        let end = relay(&inner, &thread, &link).await;
        inner.relays.stop(&link.conversation);
        say_end(&inner, &thread, &link, end).await;
    });
}

/// Why a relay ended.
enum End {
    /// Back with the AI.
    HandedBack,
    /// Closed on SiteAssist.
    Closed,
    /// SiteAssist refused the socket for good (key, conversation gone).
    Refused,
    /// The bridge is shutting down.
    Closing,
}

/// Relays until the handover ends, and says how it ended.
async fn relay(inner: &Arc<Inner>, thread: &ThreadKey, link: &ThreadLink) -> End {
    let mut failures = 0u32;
    let mut stopping = inner.stopping.subscribe();
    // What this relay has queued already: a catch-up lists every agent message, and
    // queuing them all again each time filled the thread's queue (the end note was
    // then refused). The store's claims still guard across relays and restarts.
    let mut queued = HashSet::new();
    let end = loop {
        if *stopping.borrow() {
            break End::Closing;
        }
        match inner.client.open_socket_pinging(&link.conversation, inner.cfg.handoff_ping).await {
            Ok(mut socket) => {
                failures = 0;
                if let Some(end) = catch_up(inner, thread, link, &mut queued).await {
                    socket.close().await;
                    break end;
                }
                let mut ended = None;
                loop {
                    let frame = tokio::select! {
                        frame = socket.next() => frame,
                        _ = stopping.wait_for(|s| *s) => {
                            ended = Some(End::Closing);
                            break;
                        }
                    };
                    let Some(frame) = frame else { break };
                    match frame {
                        SocketFrame::NewMessage(Some(m)) if m.role == Role::HumanAgent => {
                            post(inner, thread, link, &m, &mut queued);
                        }
                        // Echoes of the user's messages, assistant messages: not ours.
                        SocketFrame::NewMessage(Some(_)) => {}
                        SocketFrame::NewMessage(None) | SocketFrame::HumanAssigned => {
                            if let Some(end) = catch_up(inner, thread, link, &mut queued).await {
                                ended = Some(end);
                                break;
                            }
                        }
                    }
                }
                if let Some(end) = ended {
                    socket.close().await;
                    break end;
                }
                tracing::info!(conversation = %link.conversation, "conversation socket dropped; reconnecting");
            }
            Err(Error::Api(
                ApiError::Unauthorized { .. }
                | ApiError::ConversationNotFound { .. }
                | ApiError::Forbidden { .. },
            )) => break End::Refused,
            Err(e) => {
                failures += 1;
                tracing::debug!(error = %e, failures, "could not open the conversation socket");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(backoff(failures, &link.conversation)) => {}
            _ = stopping.wait_for(|s| *s) => break End::Closing,
        }
    };
    end
}

/// Tells the thread how the handover ended (once: one relay per conversation).
/// The note goes through the thread's worker, after the agent messages queued before
/// it (posted directly, it overtook them).
async fn say_end(inner: &Arc<Inner>, thread: &ThreadKey, link: &ThreadLink, end: End) {
    let note = match end {
        End::HandedBack => notice::handed_back(),
        End::Closed => notice::handoff_closed(),
        End::Refused => {
            tracing::warn!(conversation = %link.conversation, "SiteAssist refused the conversation socket; the support team's replies cannot be shown here");
            notice::handoff_refused()
        }
        End::Closing => return,
    };
    if let Err(e) = inner.store.remove_handoff(thread).await {
        tracing::warn!(error = %e, "could not forget a finished handoff");
    }
    if matches!(end, End::Closed) {
        if let Err(e) = inner.store.remove_thread_link(thread).await {
            tracing::warn!(error = %e, "could not forget a closed conversation");
        }
    }
    let job = Job::Notice { thread: thread.clone(), markdown: note };
    let _ = inner.threads.dispatch(inner, thread.clone(), job);
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

/// Re-reads the conversation: posts the agent messages not yet posted, in order, and
/// says whether the handover is over.
async fn catch_up(
    inner: &Arc<Inner>,
    thread: &ThreadKey,
    link: &ThreadLink,
    queued: &mut HashSet<String>,
) -> Option<End> {
    let conversation = match inner.client.get_conversation(&link.owner, &link.conversation).await {
        Ok(c) => c,
        Err(Error::Api(ApiError::ConversationNotFound { .. } | ApiError::Forbidden { .. })) => {
            return Some(End::Refused)
        }
        Err(e) => {
            tracing::debug!(error = %e, "could not re-read a human-handled conversation");
            return None;
        }
    };
    let agent = conversation.human_agent.as_ref().and_then(|a| a.name.as_deref());
    if let (true, Some(name)) = (conversation.is_human_handled, agent) {
        announce(inner, thread, link, name, queued);
    }
    let query = ListMessages { role: Some(Role::HumanAgent), ..ListMessages::default() };
    match inner.client.list_messages(&link.owner, &link.conversation, &query).await {
        Ok(messages) => messages.iter().for_each(|m| post(inner, thread, link, m, queued)),
        Err(e) => tracing::debug!(error = %e, "could not list the agent's messages"),
    }
    if conversation.status == ConversationStatus::Closed {
        Some(End::Closed)
    } else if !conversation.is_human_handled {
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
    let message = format!("joined:{name}");
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

/// Queues agent message `m` for the thread (the job posts it at most once), after the
/// note that its author joined.
fn post(
    inner: &Arc<Inner>,
    thread: &ThreadKey,
    link: &ThreadLink,
    m: &Message,
    queued: &mut HashSet<String>,
) {
    let text = message_text(m);
    if text.trim().is_empty() || queued.contains(m.id.as_str()) {
        return;
    }
    let name = m.human_agent.as_ref().and_then(|a| a.name.clone());
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

/// Shows agent message `message` in `thread`, unless it already was (or is being).
pub(super) async fn show(
    inner: &Inner,
    thread: ThreadKey,
    conversation: &ConversationId,
    message: &str,
    markdown: &str,
) {
    let key = format!("agent:{conversation}:{message}");
    let record = InFlightReply {
        id: uuid::Uuid::new_v4().to_string(),
        platform: inner.adapter.name().to_string(),
        thread: thread.clone(),
        question: MessageRef::new(format!("siteassist:{message}")),
        conversation: Some(conversation.clone()),
        owner: None,
        messages: Vec::new(),
        started_at: unix_secs(SystemTime::now()),
        asker: None,
        channel: None,
        workspace: None,
        final_markdown: Some(markdown.to_string()),
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
        crate::ops::metrics::agent_message_relayed(inner.adapter.name());
    }
    reply.finish(None).await;
}
