//! The answer flow: conversation → placeholder → streamed edits → final text, and the
//! small flows beside it (feedback, busy threads, recovery after a crash).

use super::event::InboundMessage;
use super::feedback::decide;
use super::ids::{ChannelKey, ThreadKey, UserKey};
use super::notice;
use super::pacing::BudgetKeys;
use super::reply::{retry, Reply};
use super::threads::Job;
use super::{BridgeError, Inner};
use crate::ops::metrics;
use crate::siteassist::client::{message_text, NewMessage, PageContext, StreamStart};
use crate::siteassist::error::{ApiError, Error};
use crate::siteassist::ids::{Feedback, SaVid};
use crate::siteassist::model::MessageStatus;
use crate::siteassist::stream::{AnswerStream, StreamEnd, StreamEvent, StreamOutcome};
use crate::store::{unix_secs, InFlightReply, ReplyLink, ThreadLink};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::watch;

/// While no text is visible, the typing indicator is renewed this often (Discord's
/// lasts 10 s).
const TYPING_EVERY: Duration = Duration::from_secs(8);
/// After a cut stream, SiteAssist may still be finishing the answer server-side; we
/// look this many times, this far apart, before settling for the partial text.
const RECOVERY_POLLS: u32 = 3;
const RECOVERY_POLL_GAP: Duration = Duration::from_millis(700);

pub(super) async fn run(inner: &Arc<Inner>, job: Job) {
    use tracing::Instrument;
    match job {
        Job::Answer { msg, record } => {
            // Every log line of this reply carries where it is; never the text itself.
            let span = tracing::info_span!(
                "reply",
                platform = inner.adapter.name(),
                thread = %msg.thread,
                conversation = tracing::field::Empty,
            );
            answer(inner, *msg, *record).instrument(span).await
        }
        Job::Feedback { link, value, added } => {
            let span = tracing::info_span!(
                "feedback",
                platform = inner.adapter.name(),
                thread = %link.thread,
                conversation = %link.conversation,
            );
            feedback(inner, *link, value, added).instrument(span).await
        }
        Job::Notice { thread, markdown } => tell(inner, &thread, &markdown).await,
        Job::NewConversation { thread } => {
            // A store failure leaves the old conversation in place; say so rather than
            // claim a fresh start.
            match inner.store.remove_thread_link(&thread).await {
                Ok(()) => tell(inner, &thread, &notice::new_conversation()).await,
                Err(e) => {
                    tracing::error!(error = %e, "could not forget a thread's conversation");
                    tell(inner, &thread, &notice::store_failed()).await
                }
            }
        }
        Job::Barrier(done) => {
            let _ = done.send(());
        }
    }
}

async fn answer(inner: &Inner, msg: InboundMessage, record: InFlightReply) {
    let keys = BudgetKeys::new(&msg.channel, msg.workspace.as_ref());
    let platform = inner.adapter.name();
    metrics::reply_started(platform);
    let mut reply = Reply::new(inner, keys, record);
    reply.show_raw(&inner.cfg.placeholder).await;
    if let Err(e) = inner.adapter.typing(&msg.thread).await {
        tracing::debug!(error = %e, "typing indicator failed");
    }
    let (link, outcome) = relay(inner, &msg, &mut reply).await;
    if let Outcome::Failed(cause) = &outcome {
        metrics::reply_failed(platform, cause.clone());
    }
    metrics::reply_finished(platform, outcome.label(), reply.actions);
    reply.finish(link).await;
}

/// How a reply ended, for the metrics.
enum Outcome {
    Answered,
    Partial,
    HumanHandled,
    Failed(String),
}

impl Outcome {
    fn label(&self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::Partial => "partial",
            Outcome::HumanHandled => "human_handled",
            Outcome::Failed(_) => "failed",
        }
    }
}

/// A short cause for a SiteAssist error: the API's code, or the kind of failure.
fn cause_of(err: &Error) -> String {
    match err {
        Error::Api(api) => api.code().to_ascii_lowercase(),
        Error::EmptyContent => "empty_content".into(),
        Error::ContentTooLong { .. } => "content_too_long".into(),
        Error::Transport(_) => "transport".into(),
        Error::Decode(_) => "decode".into(),
        Error::NotConfigured(_) => "not_configured".into(),
    }
}

/// Relays the question and shows the outcome. Returns the reply link to record when
/// the reply shows (part of) an answer.
async fn relay(
    inner: &Inner,
    msg: &InboundMessage,
    reply: &mut Reply<'_>,
) -> (Option<ReplyLink>, Outcome) {
    let asker = SaVid::for_user(msg.author.as_str());
    let request = NewMessage {
        content: msg.text.trim().to_string(),
        page_context: Some(PageContext {
            url: msg.context.url.clone(),
            title: msg.context.title.clone(),
            content: None,
            text_selection: None,
        }),
    };
    let mut recreated = false;
    let (link, start) = loop {
        let link = match conversation(inner, msg, &asker).await {
            Ok(link) => link,
            Err((text, cause)) => {
                reply.show_markdown(&text).await;
                return (None, Outcome::Failed(cause));
            }
        };
        tracing::Span::current()
            .record("conversation", tracing::field::display(&link.conversation));
        reply.record.conversation = Some(link.conversation.clone());
        reply.record.owner = Some(link.owner.clone());
        reply.save().await;
        match inner.client.send_message_stream(&link.owner, &link.conversation, &request).await {
            Ok(start) => break (link, start),
            // SiteAssist forgot the conversation (deleted, expired): start a new one once,
            // rather than leaving the thread unusable.
            Err(Error::Api(ApiError::ConversationNotFound { .. })) if !recreated => {
                recreated = true;
                tracing::info!(thread = %msg.thread, "conversation gone on SiteAssist; starting a new one");
                if let Err(e) = inner.store.remove_thread_link(&msg.thread).await {
                    tracing::warn!(error = %e, "could not forget the old conversation");
                }
            }
            Err(e) => {
                tracing::warn!(thread = %msg.thread, error = %e, "SiteAssist refused the question");
                reply.show_markdown(&notice::for_error(&e)).await;
                return (None, Outcome::Failed(cause_of(&e)));
            }
        }
    };
    let stream = match start {
        StreamStart::Streaming(stream) => stream,
        StreamStart::StoredNoReply => {
            reply.show_markdown(&notice::human_handled()).await;
            return (None, Outcome::HumanHandled);
        }
    };
    let streaming = Instant::now();
    let mut end = pump(inner, &msg.thread, reply, stream).await;
    metrics::stream_duration(inner.adapter.name(), streaming.elapsed());
    if matches!(
        end.outcome,
        StreamOutcome::Truncated | StreamOutcome::Stalled { .. } | StreamOutcome::Transport { .. }
    ) {
        recover_final_text(inner, &link, &mut end).await;
    }
    tracing::info!(thread = %msg.thread, outcome = ?end.outcome, chars = end.text.chars().count(), "answer finished");
    let reply_link = ReplyLink {
        thread: msg.thread.clone(),
        conversation: link.conversation,
        assistant_message: end.message_id.clone(),
        asker: msg.author.clone(),
        owner: link.owner,
    };
    // Linked before the final text shows: a user may react the moment it appears.
    reply.link(&reply_link).await;
    let outcome = if end.text.trim().is_empty() {
        reply.show_markdown(&notice::for_empty_answer(&end.outcome)).await;
        Outcome::Failed("empty_answer".into())
    } else {
        match notice::cut_short_note(&end.outcome) {
            Some(note) => {
                reply.show_markdown(&format!("{}\n\n{note}", end.text.trim_end())).await;
                Outcome::Partial
            }
            None => {
                reply.show_markdown(&end.text).await;
                Outcome::Answered
            }
        }
    };
    (Some(reply_link), outcome)
}

/// The thread's conversation, created on first use. Returns the text to show, and a
/// cause for the metrics, when it cannot be had.
async fn conversation(
    inner: &Inner,
    msg: &InboundMessage,
    asker: &SaVid,
) -> Result<ThreadLink, (String, String)> {
    match inner.store.thread_link(&msg.thread).await {
        Ok(Some(link)) => return Ok(link),
        Ok(None) => {}
        Err(e) => {
            tracing::error!(error = %e, "store failed reading a thread link");
            return Err((notice::store_failed(), "store".into()));
        }
    }
    let created =
        inner.client.create_conversation(asker, msg.context.url.as_deref()).await.map_err(|e| {
            tracing::warn!(error = %e, "could not create a SiteAssist conversation");
            (notice::for_error(&e), cause_of(&e))
        })?;
    let link = ThreadLink {
        conversation: created.id.clone(),
        owner: asker.clone(),
        created_at: unix_secs(SystemTime::now()),
    };
    // Two first questions racing in one thread cannot happen (one worker per thread), but
    // two bridge replicas could: whoever stored first wins, and both use that link.
    inner.store.put_thread_link_if_absent(&msg.thread, &link).await.map_err(|e| {
        tracing::error!(error = %e, "store failed writing a thread link");
        (notice::store_failed(), "store".into())
    })
}

/// Streams the answer into the reply, editing within the throttle's rules, and returns
/// how the stream ended. The stream is read by its own task into a `watch` channel, so
/// slow platform calls never hold up reading (and deltas coalesce while an edit runs).
async fn pump(
    inner: &Inner,
    thread: &ThreadKey,
    reply: &mut Reply<'_>,
    mut stream: AnswerStream,
) -> StreamEnd {
    let (tx, mut rx) = watch::channel((String::new(), None::<StreamEnd>));
    let reader = tokio::spawn(async move {
        loop {
            match stream.next_event().await {
                StreamEvent::Text => {
                    tx.send_replace((stream.text(), None));
                }
                StreamEvent::End(end) => {
                    tx.send_replace((end.text.clone(), Some(end)));
                    return;
                }
            }
        }
    });
    let _abort = AbortOnDrop(reader);
    let mut pending: Option<String> = None;
    let mut deadline: Option<Instant> = None;
    let mut next_typing = Instant::now() + TYPING_EVERY;
    loop {
        let wake = deadline.or((!reply.has_text()).then_some(next_typing));
        tokio::select! {
            changed = rx.changed() => {
                let (text, end) = rx.borrow_and_update().clone();
                if let Some(end) = end {
                    return end;
                }
                if changed.is_err() {
                    return StreamEnd {
                        outcome: StreamOutcome::Transport { error: "the stream reader stopped".into() },
                        text,
                        message_id: None,
                    };
                }
                pending = Some(text);
            }
            () = sleep_until(wake) => {
                if !reply.has_text() && Instant::now() >= next_typing {
                    next_typing = Instant::now() + TYPING_EVERY;
                    if let Err(e) = inner.adapter.typing(thread).await {
                        tracing::debug!(error = %e, "typing indicator failed");
                    }
                }
            }
        }
        if let Some(text) = &pending {
            let now = Instant::now();
            let at = reply.next_edit_at(now);
            if at <= now {
                reply.show_markdown(text).await;
                pending = None;
                deadline = None;
            } else {
                deadline = Some(at);
            }
        }
    }
}

async fn sleep_until(when: Option<Instant>) {
    match when {
        Some(t) => tokio::time::sleep_until(tokio::time::Instant::from_std(t)).await,
        None => std::future::pending().await,
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// After a cut stream, asks SiteAssist for the stored answer: the server usually
/// finishes generating even when our connection dropped, so the user can get all of it.
async fn recover_final_text(inner: &Inner, link: &ThreadLink, end: &mut StreamEnd) {
    for attempt in 0..RECOVERY_POLLS {
        if attempt > 0 {
            tokio::time::sleep(RECOVERY_POLL_GAP).await;
        }
        let message =
            match inner.client.last_assistant_message(&link.owner, &link.conversation).await {
                Ok(Some(m)) => m,
                Ok(None) => return,
                Err(e) => {
                    tracing::debug!(error = %e, "could not fetch the stored answer");
                    return;
                }
            };
        // Without the streamed id we cannot tell this answer from the previous one.
        if end.message_id.as_ref() != Some(&message.id) {
            return;
        }
        match message.status {
            Some(MessageStatus::Complete) => {
                let text = message_text(&message);
                if text.len() >= end.text.len() {
                    tracing::info!("recovered the full answer after a cut stream");
                    end.text = text;
                    end.message_id = Some(message.id.clone());
                    end.outcome = StreamOutcome::Finished { reason: None };
                }
                return;
            }
            Some(MessageStatus::Streaming) => continue,
            _ => return,
        }
    }
}

async fn feedback(inner: &Inner, link: ReplyLink, value: Feedback, added: bool) {
    let Some(message) = link.assistant_message else { return };
    let current = match inner.store.feedback(&message).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "could not read feedback state");
            return;
        }
    };
    let Some(new) = decide(current, value, added) else { return };
    match inner.client.send_feedback(&link.owner, &message, new).await {
        Ok(_) => {
            tracing::info!(assistant_message = %message, feedback = ?new, "feedback sent");
            metrics::feedback_sent(match new {
                Some(Feedback::Like) => "like",
                Some(Feedback::Dislike) => "dislike",
                None => "none",
            });
            if let Err(e) = inner.store.put_feedback(&message, new).await {
                tracing::warn!(error = %e, "could not record feedback state");
            }
        }
        // Reactions have no reply to carry an error message; the log has to do.
        Err(e) => {
            tracing::warn!(assistant_message = %message, error = %e, "SiteAssist refused feedback")
        }
    }
}

/// Posts a one-off notice in `thread` (not a reply to track: nothing follows it).
pub(super) async fn tell(inner: &Inner, thread: &ThreadKey, markdown: &str) {
    let text = inner.adapter.render(markdown);
    let adapter = &inner.adapter;
    if let Err(e) = retry(adapter.name(), || adapter.post(thread, &text)).await {
        tracing::warn!(error = %e, "could not post a notice");
    }
}

/// Answers a question that did not fit in its thread's queue with a short notice.
pub(super) async fn reject_busy(inner: &Inner, job: Job) {
    let record = match job {
        Job::Answer { record, .. } => record,
        Job::Feedback { .. } => {
            tracing::warn!("feedback dropped: thread queue full");
            return;
        }
        Job::Notice { thread, .. } | Job::NewConversation { thread } => {
            tell(inner, &thread, &notice::busy_thread()).await;
            return;
        }
        Job::Barrier(done) => {
            let _ = done.send(());
            return;
        }
    };
    let text = inner.adapter.render(&notice::busy_thread());
    let (adapter, thread) = (&inner.adapter, &record.thread);
    if let Err(e) = retry(adapter.name(), || adapter.post(thread, &text)).await {
        tracing::warn!(error = %e, "could not post the busy notice");
    }
    if let Err(e) = inner.store.remove_in_flight(&record.id).await {
        tracing::warn!(error = %e, "could not clear the in-flight record");
    }
}

/// A run killed between posting the placeholder and saving its id left a message no
/// record names; where the adapter can find it, the reply takes it over (and edits it)
/// instead of posting a second message beside a placeholder that thinks forever.
async fn adopt_unrecorded_placeholder(inner: &Inner, reply: &mut Reply<'_>) {
    if !reply.record.messages.is_empty() {
        return;
    }
    let (thread, question) = (&reply.record.thread, &reply.record.question);
    match inner.adapter.find_unrecorded(thread, question, &inner.cfg.placeholder).await {
        Ok(Some(message)) => {
            tracing::info!(%message, "adopting a placeholder a previous run did not record");
            reply.record.messages.push(message);
            reply.save().await;
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "could not look for an unrecorded placeholder"),
    }
}

/// Closes every reply of this adapter that a previous run left unfinished: shows the
/// final answer if SiteAssist has it, else a note to ask again.
pub(super) async fn recover_unfinished(inner: &Inner) -> Result<usize, BridgeError> {
    let mut closed = 0;
    for record in inner.store.in_flight().await? {
        if record.platform != inner.adapter.name() {
            continue;
        }
        let keys = BudgetKeys::new(&ChannelKey::new(record.thread.as_str()), None);
        let (conversation, owner) = (record.conversation.clone(), record.owner.clone());
        let asker = record.asker.clone();
        let started_at = record.started_at;
        let mut reply = Reply::new(inner, keys, record);
        adopt_unrecorded_placeholder(inner, &mut reply).await;
        let mut link = None;
        if let (Some(conversation), Some(owner)) = (conversation, owner) {
            match inner.client.last_assistant_message(&owner, &conversation).await {
                Ok(Some(m))
                    if m.created_at.is_some_and(|t| t.timestamp() + 5 >= started_at as i64) =>
                {
                    // The whole answer if SiteAssist finished it; otherwise whatever it has
                    // (the user may already have read part of it) with the note.
                    let text = message_text(&m);
                    let shown = match m.status {
                        Some(MessageStatus::Complete) => text.clone(),
                        _ if text.trim().is_empty() => notice::interrupted(),
                        _ => format!("{}\n\n{}", text.trim_end(), notice::interrupted()),
                    };
                    reply.show_markdown(&shown).await;
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
        closed += 1;
    }
    if closed > 0 {
        tracing::info!(closed, "closed replies left unfinished by an earlier run");
    }
    Ok(closed)
}
