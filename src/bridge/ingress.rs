//! The first steps every event goes through: drop what the bot caused or must not
//! answer, claim the event so a redelivery is never answered twice, then hand it to
//! the thread's worker.

use super::controls::ButtonAction;
use super::decide::{decide, Decision, Ignored, PlaceKind, Speaker};
use super::event::{ButtonPress, InboundEvent, InboundMessage, ReactionEvent};
use super::feedback::may_give_feedback;
use super::jobs::{self, Job};
use super::limits::Verdict;
use super::notice;
use super::threads::Queued;
use super::{BridgeError, Disposition, Inner};
use crate::ops::metrics;
use crate::store::{unix_secs, InFlightReply};
use std::sync::Arc;
use std::time::SystemTime;

pub(super) async fn handle(
    inner: &Arc<Inner>,
    event: InboundEvent,
) -> Result<Disposition, BridgeError> {
    let platform = inner.adapter.name();
    let kind = match &event {
        InboundEvent::Message(_) => "message",
        InboundEvent::Reaction(_) => "reaction",
        InboundEvent::Button(_) => "button",
    };
    metrics::event_received(platform, kind);
    let disposition = match event {
        InboundEvent::Message(msg) => message(inner, *msg).await?,
        InboundEvent::Reaction(r) => reaction(inner, r).await?,
        InboundEvent::Button(press) => button(inner, press).await?,
    };
    if let Disposition::Ignored(why) = disposition {
        tracing::debug!(adapter = platform, reason = why.as_str(), "event ignored");
        metrics::event_ignored(platform, why.as_str());
    }
    Ok(disposition)
}

async fn message(inner: &Arc<Inner>, msg: InboundMessage) -> Result<Disposition, BridgeError> {
    let trigger = match decision(inner, &msg).await? {
        Decision::Answer(trigger) => trigger,
        Decision::Ignore(why) => return Ok(Disposition::Ignored(why)),
        Decision::NewConversation => {
            let in_thread =
                matches!(msg.facts.place.kind, PlaceKind::Thread | PlaceKind::ForumPost);
            let reopen_for = in_thread.then(|| Box::new(msg.clone()));
            let job = Job::NewConversation { thread: msg.thread.clone(), reopen_for };
            return told(inner, &msg, job, Disposition::NewConversation).await;
        }
        Decision::Help => {
            let job = Job::Notice { thread: msg.thread.clone(), markdown: notice::help() };
            return told(inner, &msg, job, Disposition::Help).await;
        }
        Decision::TooLong { chars } => {
            let markdown = notice::too_long(chars, inner.cfg.places.max_question_chars);
            let job = Job::Notice { thread: msg.thread.clone(), markdown };
            return told(inner, &msg, job, Disposition::Ignored(Ignored::TooLong)).await;
        }
    };
    // Both claims are needed: Slack retries carry the same event id, but a redelivery
    // after a reconnect may carry a new one for the same message. They are written with
    // the in-flight record in one store operation, before the platform is acknowledged:
    // if the process dies from here on, the next start finds the record and closes the
    // reply visibly (see `recovery::recover_unfinished`), and a redelivery is a duplicate.
    let event_key = format!("event:{}:{}", inner.adapter.name(), msg.event_id);
    let message_key = format!("message:{}", msg.message);
    let record = InFlightReply {
        asker: Some(msg.author.clone()),
        channel: Some(msg.channel.clone()),
        workspace: msg.workspace.clone(),
        replica: inner.cfg.replica.stamp(),
        ..InFlightReply::new(
            uuid::Uuid::new_v4().to_string(),
            inner.adapter.name().to_string(),
            msg.thread.clone(),
            msg.message.clone(),
            unix_secs(SystemTime::now()),
        )
    };
    let (now, ttl) = (SystemTime::now(), inner.cfg.dedupe_ttl);
    if !inner.store.claim_and_record(&[&event_key, &message_key], now, ttl, &record).await? {
        return Ok(Disposition::Ignored(Ignored::Duplicate));
    }
    // Counted after the claims, so a redelivery never uses up anyone's quota.
    let verdict = inner.limits.check(msg.author.as_str(), msg.channel.as_str());
    if !matches!(verdict, Verdict::Allow) {
        inner.store.remove_in_flight(&record.id).await?;
    }
    match verdict {
        Verdict::Allow => {}
        Verdict::Drop(_) => return Ok(Disposition::Ignored(Ignored::RateLimited)),
        Verdict::Notify(which) => {
            let (inner, thread) = (Arc::clone(inner), msg.thread.clone());
            tokio::spawn(
                async move { jobs::tell(&inner, &thread, &notice::rate_limited(which)).await },
            );
            return Ok(Disposition::Ignored(Ignored::RateLimited));
        }
    }
    if inner.questions.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 1024 == 1023 {
        inner.limits.forget_idle();
    }
    tracing::info!(adapter = inner.adapter.name(), thread = %msg.thread, ?trigger, "question received");
    let thread = msg.thread.clone();
    let job = Job::Answer { msg: Box::new(msg), record: Box::new(record) };
    Ok(queued(inner.threads.dispatch(inner, thread, job), Disposition::Queued))
}

/// The rules' decision for `msg`. The store is read only when the answer depends on
/// whether the bot is part of the thread.
async fn decision(inner: &Inner, msg: &InboundMessage) -> Result<Decision, BridgeError> {
    let rules = &inner.cfg.places;
    let decided = decide(&msg.facts, &msg.text, rules, false);
    let in_thread = matches!(msg.facts.place.kind, PlaceKind::Thread | PlaceKind::ForumPost);
    if decided != Decision::Ignore(Ignored::NotForBot) || !in_thread {
        return Ok(decided);
    }
    // The bot's thread: it has a conversation, or the bot's first answer there is still
    // on its way to one (a follow-up written the moment the bot opened the thread comes
    // before SiteAssist has made the conversation: the campaign's crowded threads
    // showed such follow-ups ignored).
    let ours = inner.store.thread_link(&msg.thread).await?.is_some()
        || inner.store.in_flight().await?.iter().any(|r| r.thread == msg.thread);
    Ok(if ours { decide(&msg.facts, &msg.text, rules, true) } else { decided })
}

/// Queues a reply that is not an answer (a note, a reset) on the thread's worker, so it
/// shows in order with the answers around it, once per event.
async fn told(
    inner: &Arc<Inner>,
    msg: &InboundMessage,
    job: Job,
    done: Disposition,
) -> Result<Disposition, BridgeError> {
    let event_key = format!("event:{}:{}", inner.adapter.name(), msg.event_id);
    let message_key = format!("message:{}", msg.message);
    let now = SystemTime::now();
    for key in [event_key, message_key] {
        if !inner.store.claim(&key, now, inner.cfg.dedupe_ttl).await? {
            return Ok(Disposition::Ignored(Ignored::Duplicate));
        }
    }
    Ok(queued(inner.threads.dispatch(inner, msg.thread.clone(), job), done))
}

async fn reaction(inner: &Arc<Inner>, r: ReactionEvent) -> Result<Disposition, BridgeError> {
    match r.user_kind {
        Speaker::Person => {}
        Speaker::SelfBot => return Ok(Disposition::Ignored(Ignored::FromSelf)),
        Speaker::Bot | Speaker::Webhook => return Ok(Disposition::Ignored(Ignored::FromBot)),
        Speaker::System => return Ok(Disposition::Ignored(Ignored::System)),
    }
    let Some(value) = inner.cfg.emoji.classify(&r.emoji) else {
        return Ok(Disposition::Ignored(Ignored::NotFeedbackEmoji));
    };
    let event_key = format!("event:{}:{}", inner.adapter.name(), r.event_id);
    let given = Given { message: &r.message, user: &r.user, value, added: r.added };
    feedback(inner, given, &event_key).await
}

/// Feedback someone gave on a bot message, by reaction or button.
struct Given<'a> {
    message: &'a super::ids::MessageRef,
    user: &'a super::ids::UserKey,
    value: crate::siteassist::ids::Feedback,
    /// Added (a press always adds) or removed.
    added: bool,
}

/// Queues feedback on the answer a bot message shows, by the rules reactions and
/// buttons share: a reply of the bot's with a known SiteAssist message, given by the
/// asker (unless `feedback_from = "anyone"`), once per delivery (`event_key`, claimed
/// last so a refused one does not use up its id).
async fn feedback(
    inner: &Arc<Inner>,
    given: Given<'_>,
    event_key: &str,
) -> Result<Disposition, BridgeError> {
    let Some(link) = inner.store.reply_link(given.message).await? else {
        return Ok(Disposition::Ignored(Ignored::NotOurReply));
    };
    if !may_give_feedback(inner.cfg.feedback_from, given.user, &link.asker) {
        return Ok(Disposition::Ignored(Ignored::NotAsker));
    }
    if link.assistant_message.is_none() {
        return Ok(Disposition::Ignored(Ignored::NoAssistantMessage));
    }
    if !claim(inner, event_key).await? {
        return Ok(Disposition::Ignored(Ignored::Duplicate));
    }
    let thread = link.thread.clone();
    let job = Job::Feedback { link: Box::new(link), value: given.value, added: given.added };
    Ok(queued(inner.threads.dispatch(inner, thread, job), Disposition::Queued))
}

/// A button press: like / dislike follow the rules of feedback reactions (a press is an
/// added reaction: the other button switches, the same one again changes nothing);
/// Stop signals the streaming reply directly, since its thread's worker is busy
/// streaming it. Checked (only the asker, unless `feedback_from = "anyone"`) before the
/// press is claimed, so a refused press does not use up its id.
async fn button(inner: &Arc<Inner>, press: ButtonPress) -> Result<Disposition, BridgeError> {
    let event_key = format!("event:{}:{}", inner.adapter.name(), press.event_id);
    let value = match press.action {
        ButtonAction::Like => crate::siteassist::ids::Feedback::Like,
        ButtonAction::Dislike => crate::siteassist::ids::Feedback::Dislike,
        ButtonAction::Stop => {
            let streaming = inner.store.in_flight().await?;
            let Some(record) = streaming.into_iter().find(|r| r.messages.contains(&press.message))
            else {
                return Ok(Disposition::Ignored(Ignored::NotStreaming));
            };
            let asker = record.asker.as_ref();
            if asker.is_some_and(|a| !may_give_feedback(inner.cfg.feedback_from, &press.user, a)) {
                return Ok(Disposition::Ignored(Ignored::NotAsker));
            }
            if !claim(inner, &event_key).await? {
                return Ok(Disposition::Ignored(Ignored::Duplicate));
            }
            if !inner.stops.stop(&record.id) {
                return Ok(Disposition::Ignored(Ignored::NotStreaming));
            }
            tracing::info!(thread = %record.thread, "stop requested");
            return Ok(Disposition::Stopped);
        }
    };
    let given = Given { message: &press.message, user: &press.user, value, added: true };
    feedback(inner, given, &event_key).await
}

/// `done` when the job was queued; a full thread queue is [`Ignored::ThreadBusy`] (the
/// asker is told by the handler's `reject`).
fn queued(queued: Queued, done: Disposition) -> Disposition {
    match queued {
        Queued::Yes => done,
        Queued::Rejected => Disposition::Ignored(Ignored::ThreadBusy),
    }
}

async fn claim(inner: &Inner, key: &str) -> Result<bool, BridgeError> {
    Ok(inner.store.claim(key, SystemTime::now(), inner.cfg.dedupe_ttl).await?)
}
