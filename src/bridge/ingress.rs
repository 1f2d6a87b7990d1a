//! The first steps every event goes through: drop what the bot caused or must not
//! answer, claim the event so a redelivery is never answered twice, then hand it to
//! the thread's worker.

use super::event::{AuthorKind, InboundEvent, InboundMessage, ReactionEvent, Trigger};
use super::feedback::may_give_feedback;
use super::limits::Verdict;
use super::threads::Job;
use super::{notice, relay};
use super::{BridgeError, Disposition, Inner};
use crate::ops::metrics;
use crate::store::{unix_secs, InFlightReply};
use std::sync::Arc;
use std::time::SystemTime;

/// Why an event needs nothing from the bot. An outcome, not an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ignored {
    /// The bot's own message or reaction, echoed back by the platform.
    FromSelf,
    /// Another bot, integration or webhook (bots answering bots loop forever).
    FromBot,
    /// A thread reply in a thread the bot is not part of.
    NotForBot,
    /// A thread reply that mentions someone else: it is for them.
    AddressedToOthers,
    /// A redelivery of an event or message already handled.
    Duplicate,
    /// A reaction on a message that is not a bot reply.
    NotOurReply,
    /// A reaction that is not a feedback emoji.
    NotFeedbackEmoji,
    /// A reaction from someone other than the asker (with `feedback_from = "asker"`).
    NotAsker,
    /// A reaction on a reply whose SiteAssist message is not known (yet).
    NoAssistantMessage,
    /// The bridge is shutting down and takes no new work.
    ShuttingDown,
    /// The thread's queue is full; the user was told to wait.
    ThreadBusy,
    /// The asker or the channel is over its question limit (told once, then silent).
    RateLimited,
}

impl Ignored {
    /// A short label for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Ignored::FromSelf => "from_self",
            Ignored::FromBot => "from_bot",
            Ignored::NotForBot => "not_for_bot",
            Ignored::AddressedToOthers => "addressed_to_others",
            Ignored::Duplicate => "duplicate",
            Ignored::NotOurReply => "not_our_reply",
            Ignored::NotFeedbackEmoji => "not_feedback_emoji",
            Ignored::NotAsker => "not_asker",
            Ignored::NoAssistantMessage => "no_assistant_message",
            Ignored::ShuttingDown => "shutting_down",
            Ignored::ThreadBusy => "thread_busy",
            Ignored::RateLimited => "rate_limited",
        }
    }
}

/// Decides what the bot does with a message, before touching the store. Pure.
pub(crate) fn screen_message(msg: &InboundMessage) -> Result<(), Ignored> {
    match msg.author_kind {
        AuthorKind::SelfBot => return Err(Ignored::FromSelf),
        AuthorKind::OtherBot => return Err(Ignored::FromBot),
        AuthorKind::Human => {}
    }
    if let Trigger::ThreadReply { mentions_others: true } = msg.trigger {
        return Err(Ignored::AddressedToOthers);
    }
    Ok(())
}

pub(super) async fn handle(
    inner: &Arc<Inner>,
    event: InboundEvent,
) -> Result<Disposition, BridgeError> {
    let platform = inner.adapter.name();
    let kind = match &event {
        InboundEvent::Message(_) => "message",
        InboundEvent::Reaction(_) => "reaction",
    };
    metrics::event_received(platform, kind);
    let disposition = match event {
        InboundEvent::Message(msg) => message(inner, msg).await?,
        InboundEvent::Reaction(r) => reaction(inner, r).await?,
    };
    if let Disposition::Ignored(why) = disposition {
        tracing::debug!(adapter = platform, reason = why.as_str(), "event ignored");
        metrics::event_ignored(platform, why.as_str());
    }
    Ok(disposition)
}

async fn message(inner: &Arc<Inner>, msg: InboundMessage) -> Result<Disposition, BridgeError> {
    if let Err(why) = screen_message(&msg) {
        return Ok(Disposition::Ignored(why));
    }
    if matches!(msg.trigger, Trigger::ThreadReply { .. })
        && inner.store.thread_link(&msg.thread).await?.is_none()
    {
        return Ok(Disposition::Ignored(Ignored::NotForBot));
    }
    // Both claims are needed: Slack retries carry the same event id, but a redelivery
    // after a reconnect may carry a new one for the same message. They are written with
    // the in-flight record in one store operation, before the platform is acknowledged:
    // if the process dies from here on, the next start finds the record and closes the
    // reply visibly (see `relay::recover_unfinished`), and a redelivery is a duplicate.
    let event_key = format!("event:{}:{}", inner.adapter.name(), msg.event_id);
    let message_key = format!("message:{}", msg.message);
    let record = InFlightReply {
        id: uuid::Uuid::new_v4().to_string(),
        platform: inner.adapter.name().to_string(),
        thread: msg.thread.clone(),
        question: msg.message.clone(),
        conversation: None,
        owner: None,
        messages: Vec::new(),
        started_at: unix_secs(SystemTime::now()),
        asker: Some(msg.author.clone()),
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
            tokio::spawn(async move {
                relay::tell(&inner, &thread, &notice::rate_limited(which)).await
            });
            return Ok(Disposition::Ignored(Ignored::RateLimited));
        }
    }
    if inner.questions.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 1024 == 1023 {
        inner.limits.forget_idle();
    }
    tracing::info!(adapter = inner.adapter.name(), thread = %msg.thread, "question received");
    let thread = msg.thread.clone();
    let job = Job::Answer { msg: Box::new(msg), record: Box::new(record) };
    Ok(inner.threads.dispatch(inner, thread, job))
}

async fn reaction(inner: &Arc<Inner>, r: ReactionEvent) -> Result<Disposition, BridgeError> {
    match r.user_kind {
        AuthorKind::SelfBot => return Ok(Disposition::Ignored(Ignored::FromSelf)),
        AuthorKind::OtherBot => return Ok(Disposition::Ignored(Ignored::FromBot)),
        AuthorKind::Human => {}
    }
    let Some(value) = inner.cfg.emoji.classify(&r.emoji) else {
        return Ok(Disposition::Ignored(Ignored::NotFeedbackEmoji));
    };
    let Some(link) = inner.store.reply_link(&r.message).await? else {
        return Ok(Disposition::Ignored(Ignored::NotOurReply));
    };
    if !may_give_feedback(inner.cfg.feedback_from, &r.user, &link.asker) {
        return Ok(Disposition::Ignored(Ignored::NotAsker));
    }
    if link.assistant_message.is_none() {
        return Ok(Disposition::Ignored(Ignored::NoAssistantMessage));
    }
    let event_key = format!("event:{}:{}", inner.adapter.name(), r.event_id);
    if !claim(inner, &event_key).await? {
        return Ok(Disposition::Ignored(Ignored::Duplicate));
    }
    let thread = link.thread.clone();
    let job = Job::Feedback { link: Box::new(link), value, added: r.added };
    Ok(inner.threads.dispatch(inner, thread, job))
}

async fn claim(inner: &Inner, key: &str) -> Result<bool, BridgeError> {
    Ok(inner.store.claim(key, SystemTime::now(), inner.cfg.dedupe_ttl).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bridge::event::MessageContext;
    use crate::bridge::ids::{ChannelKey, MessageRef, ThreadKey, UserKey};

    fn msg(kind: AuthorKind, trigger: Trigger) -> InboundMessage {
        InboundMessage {
            event_id: "e".into(),
            message: MessageRef::new("m"),
            thread: ThreadKey::new("t"),
            channel: ChannelKey::new("c"),
            workspace: None,
            author: UserKey::new("u"),
            author_name: None,
            author_kind: kind,
            text: "hi".into(),
            trigger,
            context: MessageContext::default(),
        }
    }

    #[test]
    fn screening_table() {
        use AuthorKind::*;
        let table = [
            (Human, Trigger::Mention, Ok(())),
            (Human, Trigger::Direct, Ok(())),
            (Human, Trigger::AutoRespond, Ok(())),
            (Human, Trigger::ThreadReply { mentions_others: false }, Ok(())),
            (
                Human,
                Trigger::ThreadReply { mentions_others: true },
                Err(Ignored::AddressedToOthers),
            ),
            (SelfBot, Trigger::Mention, Err(Ignored::FromSelf)),
            (OtherBot, Trigger::Direct, Err(Ignored::FromBot)),
        ];
        for (kind, trigger, expected) in table {
            assert_eq!(screen_message(&msg(kind, trigger)), expected, "{kind:?} {trigger:?}");
        }
    }
}
