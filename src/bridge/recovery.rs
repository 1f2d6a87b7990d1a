//! Restart recovery and takeover: replies a previous run left unfinished (a crash, a
//! kill, a grace period that ran out) are closed visibly at the next start; with
//! several replicas on one store, replies of a replica that died are closed by another
//! one, without a restart.
//!
//! Which records a pass touches is its [`Scope`]. One process alone (sled, memory)
//! closes everything of its platform at start, as before replicas existed. Replicas
//! never touch each other's live replies: they take a record only when its replica's
//! lease expired (or it names none: an older release wrote it), and only after
//! claiming `takeover:<id>:<owner>` in the store, so exactly one replica closes each; the
//! taker writes its own id into the record first, so its own death is covered too.

use super::ids::{ChannelKey, UserKey};
use super::notice;
use super::pacing::BudgetKeys;
use super::reply::Reply;
use super::{BridgeError, Inner};
use crate::siteassist::client::message_text;
use crate::siteassist::model::MessageStatus;
use crate::store::{InFlightReply, ReplyLink};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// A run killed between posting a message and saving its id left a message no record
/// names: a placeholder (a question's reply), or a whole message (a person's message
/// relayed into the thread, whose record holds its final text). Where the adapter can
/// find it, the reply takes it over instead of posting a second message beside it.
async fn adopt_unrecorded(inner: &Inner, reply: &mut Reply<'_>) {
    if !reply.record.messages.is_empty() {
        return;
    }
    // The final text first: a record that has one and no message was about to post it.
    let mut texts = Vec::new();
    if let Some(markdown) = &reply.record.final_markdown {
        let rendered = inner.adapter.render(markdown);
        let limit = inner.adapter.capabilities().message_limit();
        texts.extend(super::split::split_message_within(&rendered, &|_| limit).into_iter().next());
    }
    texts.push(inner.cfg.placeholder.clone());
    let (thread, question) = (&reply.record.thread, &reply.record.question);
    let adapter = &inner.adapter;
    for text in &texts {
        // Retried like any platform call: a restart looks in every unfinished thread at
        // once, and a 429 on the look must not become a second message beside the
        // first (the full campaign's Discord kill phase caught exactly that).
        let look = || adapter.find_unrecorded(thread, question, text);
        match super::reply::retry(adapter.name(), look).await {
            Ok(Some(message)) => {
                tracing::info!(%message, "adopting a message a previous run did not record");
                reply.record.messages.push(message);
                reply.save().await;
                return;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "could not look for an unrecorded message"),
        }
    }
}

/// Which in-flight records a recovery pass closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Scope {
    /// Every record of the adapter: the only process starting.
    Everything,
    /// Records of dead replicas or of none (replicas starting, and their scans).
    Orphans,
    /// This replica's own (its shutdown grace ran out); with no shared store, all.
    Mine,
}

/// How long a takeover claim keeps other replicas off a record: longer than closing
/// a reply takes. Harmless if the taker dies: its id is in the record by then, and the
/// claim is per owner.
const TAKEOVER_CLAIM: Duration = Duration::from_secs(120);

/// Scans for dead replicas' replies and handoff relays every quarter of the lease ttl
/// until shutdown.
pub(super) async fn take_over_periodically(inner: Arc<Inner>) {
    let every = inner.cfg.replica.ttl() / 4;
    let mut stopping = inner.stopping.subscribe();
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {},
            _ = stopping.wait_for(|stop| *stop) => return,
        }
        if let Err(e) = recover_unfinished(&inner, Scope::Orphans).await {
            tracing::warn!(error = %e, "could not look for replies of dead replicas");
        }
        if let Err(e) = super::handoff::adopt_orphans(&inner).await {
            tracing::warn!(error = %e, "could not look for handoff relays of dead replicas");
        }
    }
}

/// Whether a pass in `scope` closes `record`, claiming it first when it is another
/// replica's. `alive` caches the replicas already asked about in this pass.
async fn is_ours_to_close(
    inner: &Inner,
    scope: Scope,
    record: &mut InFlightReply,
    alive: &mut HashMap<String, bool>,
) -> Result<bool, BridgeError> {
    let replica = &inner.cfg.replica;
    if !replica.is_shared() || scope == Scope::Everything {
        return Ok(true);
    }
    let owner = record.replica.clone();
    if scope == Scope::Mine {
        return Ok(owner.as_deref() == Some(replica.id()));
    }
    if let Some(owner) = &owner {
        let live = match alive.get(owner) {
            Some(live) => *live,
            None => {
                let live = replica.is_alive(owner).await?;
                alive.insert(owner.clone(), live);
                live
            }
        };
        if live {
            return Ok(false);
        }
    }
    // Per owner: a taker that dies while closing has written its own id into the
    // record, and the next taker must not find the first one's claim in its way.
    let key = format!("takeover:{}:{}", record.id, owner.as_deref().unwrap_or("-"));
    if !inner.store.claim(&key, SystemTime::now(), TAKEOVER_CLAIM).await? {
        return Ok(false);
    }
    tracing::info!(
        reply = %record.id,
        thread = %record.thread,
        from = owner.as_deref().unwrap_or("an older release"),
        "taking over a reply whose replica is gone"
    );
    record.replica = replica.stamp();
    inner.store.put_in_flight(record).await?;
    crate::ops::metrics::takeover(inner.adapter.name());
    Ok(true)
}

/// Closes the replies of this adapter in `scope`: shows the final answer if SiteAssist
/// has it, else a note to ask again.
pub(super) async fn recover_unfinished(inner: &Inner, scope: Scope) -> Result<usize, BridgeError> {
    let mut closed = 0;
    let mut alive = HashMap::new();
    for mut record in inner.store.in_flight().await? {
        if record.platform != inner.adapter.name() {
            continue;
        }
        if !is_ours_to_close(inner, scope, &mut record, &mut alive).await? {
            continue;
        }
        let id = record.id.clone();
        inner.cfg.replica.set_closing(&id, true);
        close(inner, record).await;
        inner.cfg.replica.set_closing(&id, false);
        closed += 1;
    }
    if closed > 0 {
        tracing::info!(closed, ?scope, "closed replies left unfinished");
    }
    Ok(closed)
}

/// Closes one unfinished reply: the final answer if SiteAssist has it, else a note.
async fn close(inner: &Inner, record: InFlightReply) {
    let channel = record.channel.clone().unwrap_or_else(|| ChannelKey::new(record.thread.as_str()));
    let keys = BudgetKeys::new(&channel, record.workspace.as_ref());
    let (conversation, owner) = (record.conversation.clone(), record.owner.clone());
    let asker = record.asker.clone();
    let started_at = record.started_at;
    let final_markdown = record.final_markdown.clone();
    let final_footer = record.final_footer.clone();
    inner.adapter.resume_thread(&record.thread, &record.question).await;
    let mut reply = Reply::new(inner, keys, record);
    reply.close_stream_left_open().await;
    adopt_unrecorded(inner, &mut reply).await;
    let mut link = None;
    if let Some(markdown) = final_markdown {
        // The run got as far as its last show (the reply's links, if any, were
        // recorded before it): show it again, which changes nothing the user already
        // sees, and finish.
        reply.show_markdown_with(&markdown, final_footer.as_deref()).await;
    } else if let (Some(conversation), Some(owner)) = (conversation, owner) {
        match inner.client.last_assistant_message(&owner, &conversation).await {
            Ok(Some(m)) if m.created_at.is_some_and(|t| t.timestamp() + 5 >= started_at as i64) => {
                // The whole answer if SiteAssist finished it; otherwise whatever it has
                // (the user may already have read part of it) with the note.
                let text = message_text(&m);
                // The stored text still holds its reference definitions: shown as
                // a live answer would be (the streamed sources are not stored).
                let (body, cited) = super::sources::cite(&text, &[]);
                let footer = super::answer::sources_line(inner, cited);
                let shown = match m.status {
                    Some(MessageStatus::Complete) => body,
                    _ if text.trim().is_empty() => notice::interrupted(),
                    _ => format!("{}\n\n{}", body.trim_end(), notice::interrupted()),
                };
                reply.show_markdown_with(&shown, footer.as_deref()).await;
                if !text.trim().is_empty() {
                    link = Some(ReplyLink {
                        thread: reply.thread.clone(),
                        conversation,
                        assistant_message: Some(m.id.clone()),
                        asker: asker.unwrap_or_else(|| UserKey::new("")),
                        owner,
                    });
                }
            }
            _ => reply.show_markdown(&notice::interrupted()).await,
        }
    } else {
        reply.show_markdown(&notice::interrupted()).await;
    }
    reply.finish(link).await;
}
