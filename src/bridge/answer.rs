//! The answer flow: conversation → placeholder → streamed edits → final text.

use super::controls::Controls;
use super::event::InboundMessage;
use super::notice;
use super::pacing::BudgetKeys;
use super::reply::{retry, Reply};
use super::stop::StopGuard;
use super::Inner;
use crate::ops::metrics;
use crate::siteassist::client::{message_text, NewMessage, PageContext, StreamStart};
use crate::siteassist::error::{ApiError, Error};
use crate::siteassist::ids::SaVid;
use crate::siteassist::model::MessageStatus;
use crate::siteassist::stream::{AnswerStream, StreamEnd, StreamEvent, StreamOutcome};
use crate::store::{unix_secs, InFlightReply, ReplyLink, StoreError, ThreadLink};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::watch;

/// After a cut stream, SiteAssist may still be finishing the answer server-side; we
/// look this many times, this far apart, before settling for the partial text.
const RECOVERY_POLLS: u32 = 3;
const RECOVERY_POLL_GAP: Duration = Duration::from_millis(700);

/// What the thread's worker does after an answer: follow the conversation for a
/// person's replies.
pub(super) enum Follow {
    /// A person handles it ("Message sent"): relay their replies.
    Relay(ThreadLink),
    /// The AI answered: listen for a takeover for a while.
    Listen(ThreadLink),
}

/// Answers `msg`, whose in-flight `record` ingress already stored. Returns how to
/// follow the conversation afterwards, when there is one.
///
/// While a person handles the thread's conversation (as its relay knows), the question
/// goes to them: no placeholder, no typing, and a delivery mark on the question when
/// SiteAssist takes it ("Message sent").
pub(super) async fn answer(
    inner: &Inner,
    msg: InboundMessage,
    record: InFlightReply,
) -> Option<Follow> {
    let keys = BudgetKeys::new(&msg.channel, msg.workspace.as_ref());
    let platform = inner.adapter.name();
    metrics::reply_started(platform);
    // A Stop press finds the reply by its record, from the placeholder on.
    let stop = inner.stops.register(&record.id);
    let mut reply = Reply::new(inner, keys, record);
    let handled_by = super::handoff::handled_by(inner, &msg.thread).await;
    // A reply streamed natively keeps the placeholder (and its Stop button) above the
    // stream, unless the platform shows a status there instead.
    let native = handled_by.is_none() && reply.stream_natively(msg.author.clone());
    let status_only = native && inner.adapter.shows_status_in(&msg.thread);
    let placeholder = async {
        if handled_by.is_none() {
            if !status_only {
                reply.set_controls(Controls::streaming());
                reply.show_raw(&inner.cfg.placeholder).await;
            }
            if inner.adapter.capabilities().typing_every.is_some() {
                if let Err(e) = inner.adapter.typing(&msg.thread).await {
                    tracing::debug!(error = %e, "typing indicator failed");
                    if status_only {
                        // The status was to stand for the placeholder: without either,
                        // the asker would see nothing until the first words.
                        tracing::info!(thread = %msg.thread, error = %e, "the platform refused the status; posting the placeholder instead");
                        reply.set_controls(Controls::streaming());
                        reply.show_raw(&inner.cfg.placeholder).await;
                    }
                }
            }
        }
    };
    // What the question needs from SiteAssist and the store, at the same time as the
    // placeholder goes up: the first words come that much sooner (the load bench
    // measured the steps one after another). The thread's history is read before its
    // conversation exists, since it is only wanted for a thread's first question.
    let intake = async {
        let question = super::files::prepare(inner, &msg).await;
        if question.content.trim().is_empty() {
            return (question, None, None);
        }
        let history = super::context::gather(inner, &msg).await;
        let asker = SaVid::for_user(msg.author.as_str());
        let link = conversation(inner, &msg, &asker).await;
        (question, history, Some(link))
    };
    let ((), (question, history, first_link)) = tokio::join!(placeholder, intake);
    if question.content.trim().is_empty() {
        // Files alone, none of them readable: what became of them is the reply.
        reply.show_final(&question.notes.join("\n")).await;
        metrics::reply_finished(platform, "noted", reply.actions);
        reply.finish(None).await;
        return None;
    }
    let asked = Asked { question: &question, history, first_link };
    let (link, outcome) = relay(inner, &msg, asked, &mut reply, handled_by, &stop).await;
    drop(stop);
    if let Outcome::Failed(failure) = &outcome {
        metrics::reply_failed(platform, failure.cause());
    }
    metrics::reply_finished(platform, outcome.label(), reply.actions);
    reply.finish(link).await;
    match outcome {
        Outcome::HumanHandled(link) => Some(Follow::Relay(link)),
        Outcome::Answered(link) | Outcome::Partial(link) => Some(Follow::Listen(link)),
        Outcome::Failed(_) => None,
    }
}

/// How a reply ended, for the metrics.
enum Outcome {
    /// Answered (the thread's link, to listen for a takeover).
    Answered(ThreadLink),
    /// Answered in part.
    Partial(ThreadLink),
    /// A person handles the conversation (the thread's link, for the relay).
    HumanHandled(ThreadLink),
    Failed(Failure),
}

/// Why a question got a notice instead of an answer.
pub(super) enum Failure {
    /// The bridge's own store failed.
    Store,
    /// SiteAssist refused the question or failed before streaming.
    SiteAssist(Error),
    /// The stream ended without any text.
    EmptyAnswer(StreamOutcome),
}

impl Failure {
    /// What the asker reads.
    pub(super) fn notice(&self) -> String {
        match self {
            Failure::Store => notice::store_failed(),
            Failure::SiteAssist(e) => notice::for_error(e),
            Failure::EmptyAnswer(outcome) => notice::for_empty_answer(outcome),
        }
    }

    /// A short cause for the metrics: the API's code, or the kind of failure.
    fn cause(&self) -> String {
        let label = match self {
            Failure::Store => "store",
            Failure::EmptyAnswer(_) => "empty_answer",
            Failure::SiteAssist(Error::Api(api)) => return api.code().to_ascii_lowercase(),
            Failure::SiteAssist(Error::EmptyContent) => "empty_content",
            Failure::SiteAssist(Error::ContentTooLong { .. }) => "content_too_long",
            Failure::SiteAssist(Error::Transport(_)) => "transport",
            Failure::SiteAssist(Error::Decode(_)) => "decode",
            Failure::SiteAssist(Error::NotConfigured(_)) => "not_configured",
        };
        label.to_string()
    }
}

impl Outcome {
    fn label(&self) -> &'static str {
        match self {
            Outcome::Answered(_) => "answered",
            Outcome::Partial(_) => "partial",
            Outcome::HumanHandled(_) => "human_handled",
            Outcome::Failed(_) => "failed",
        }
    }
}

/// Relays the question and shows the outcome. Returns the reply link to record when
/// the reply shows (part of) an answer.
async fn relay(
    inner: &Inner,
    msg: &InboundMessage,
    asked: Asked<'_>,
    reply: &mut Reply<'_>,
    handled_by: Option<Option<String>>,
    stop: &StopGuard,
) -> (Option<ReplyLink>, Outcome) {
    let Asked { question, history, mut first_link } = asked;
    let asker = SaVid::for_user(msg.author.as_str());
    let request = NewMessage {
        content: question.content.clone(),
        page_context: Some(PageContext {
            url: msg.context.url.clone(),
            title: Some(msg.context.title(
                inner.adapter.title(),
                msg.facts.place.kind,
                msg.author_name.as_deref(),
            )),
            content: history,
            text_selection: None,
        }),
    };
    let mut recreated = false;
    let (link, start) = loop {
        let found = match first_link.take() {
            Some(found) => found,
            None => conversation(inner, msg, &asker).await,
        };
        let link = match found {
            Ok(link) => link,
            Err(failure) => {
                reply.show_final(&failure.notice()).await;
                return (None, Outcome::Failed(failure));
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
                let failure = Failure::SiteAssist(e);
                reply.show_final(&failure.notice()).await;
                return (None, Outcome::Failed(failure));
            }
        }
    };
    let stream = match start {
        StreamStart::Streaming(stream) => stream,
        StreamStart::StoredNoReply => {
            match handled_by {
                Some(agent) => mark_delivered(inner, msg, agent.as_deref()).await,
                None => handed_over(inner, reply, &link).await,
            }
            return (None, Outcome::HumanHandled(link));
        }
    };
    let streaming = Instant::now();
    // The link the reply's messages get once the stream names the answer's id.
    let early = ReplyLink {
        thread: msg.thread.clone(),
        conversation: link.conversation.clone(),
        assistant_message: None,
        asker: msg.author.clone(),
        owner: link.owner.clone(),
    };
    let mut end = pump(inner, &early, reply, stream, stop).await;
    metrics::stream_duration(inner.adapter.name(), streaming.elapsed());
    if matches!(
        end.outcome,
        StreamOutcome::Truncated | StreamOutcome::Stalled { .. } | StreamOutcome::Transport { .. }
    ) {
        recover_final_text(inner, &link, &mut end).await;
    }
    tracing::info!(thread = %msg.thread, outcome = ?end.outcome, chars = end.text.chars().count(), "answer finished");
    let reply_link = ReplyLink { assistant_message: end.message_id.clone(), ..early };
    // Linked before the final text shows (only what the stream did not link already): a
    // user may react the moment it appears.
    reply.link(&reply_link).await;
    let outcome = if end.text.trim().is_empty() {
        let failure = Failure::EmptyAnswer(end.outcome.clone());
        reply.show_final(&failure.notice()).await;
        Outcome::Failed(failure)
    } else {
        let (body, cited) = super::sources::cite(&end.text, &end.sources);
        // What became of the files the answer did not see, under it.
        let kept_by_siteassist = question.notes.is_empty();
        let body = match kept_by_siteassist {
            true => body,
            false => format!("{}\n\n{}", body.trim_end(), question.notes.join("\n")),
        };
        let footer = sources_line(inner, cited);
        let controls = Controls::answered(&end.actions, end.message_id.is_some());
        match notice::cut_short_note(&end.outcome) {
            Some(note) => {
                let text = format!("{}\n\n{note}", body.trim_end());
                reply.show_final_with(&text, footer, controls).await;
                Outcome::Partial(link)
            }
            // Recovery would show SiteAssist's copy of it: no need to save it first.
            None if kept_by_siteassist => {
                reply.show_answer_with(&body, footer, controls).await;
                Outcome::Answered(link)
            }
            None => {
                reply.show_final_with(&body, footer, controls).await;
                Outcome::Answered(link)
            }
        }
    };
    (Some(reply_link), outcome)
}

/// What the intake found for a question, before it is sent.
struct Asked<'a> {
    /// The question's text, files included.
    question: &'a super::files::Prepared,
    /// The thread's earlier messages, for its page context.
    history: Option<String>,
    /// The thread's conversation as the intake found or made it.
    first_link: Option<Result<ThreadLink, Failure>>,
}

/// The platform's sources line for `cited`, dropping the last sources until it fits in
/// one message; `None` without sources (or when not even one fits).
pub(super) fn sources_line(inner: &Inner, mut cited: Vec<super::sources::Cited>) -> Option<String> {
    let limit = inner.adapter.capabilities().message_limit();
    while !cited.is_empty() {
        let line = inner.adapter.render_sources(&cited);
        if limit.fits(&line) {
            return Some(line);
        }
        cited.pop();
    }
    None
}

/// The question reached a person the relay knew of: mark it delivered (a reaction, or
/// the console's "(sent to …)"), nothing more.
async fn mark_delivered(inner: &Inner, msg: &InboundMessage, agent: Option<&str>) {
    let adapter = &inner.adapter;
    let mark = || adapter.mark_delivered(&msg.message, agent);
    if let Err(e) = retry(adapter.name(), mark).await {
        tracing::info!(error = %e, "could not mark a question delivered");
    }
}

/// The question learnt that a person handles the conversation: the reply says so
/// (with their name when SiteAssist gives it), and that note counts as the one
/// "joined" note, so the relay does not show it again.
async fn handed_over(inner: &Inner, reply: &mut Reply<'_>, link: &ThreadLink) {
    let agent = match inner.client.get_conversation(&link.owner, &link.conversation).await {
        Ok(c) => c.human_agent.and_then(|a| a.name),
        Err(e) => {
            tracing::debug!(error = %e, "could not read who handles the conversation");
            None
        }
    };
    let note = match agent {
        Some(name) if super::handoff::claim_joined(inner, &link.conversation, &name).await => {
            notice::agent_joined(&name)
        }
        Some(name) => notice::sent_to(&name),
        None => notice::human_handled(),
    };
    reply.show_final(&note).await;
}

/// The thread's conversation, created on first use, or why it cannot be had.
pub(super) async fn conversation(
    inner: &Inner,
    msg: &InboundMessage,
    asker: &SaVid,
) -> Result<ThreadLink, Failure> {
    match patiently("reading a thread link", || inner.store.thread_link(&msg.thread)).await {
        Ok(Some(link)) => return Ok(link),
        Ok(None) => {}
        Err(e) => {
            tracing::error!(error = %e, "store failed reading a thread link");
            return Err(Failure::Store);
        }
    }
    let created =
        inner.client.create_conversation(asker, msg.context.url.as_deref()).await.map_err(|e| {
            tracing::warn!(error = %e, "could not create a SiteAssist conversation");
            Failure::SiteAssist(e)
        })?;
    let link = ThreadLink {
        conversation: created.id.clone(),
        owner: asker.clone(),
        created_at: unix_secs(SystemTime::now()),
    };
    // Two first questions racing in one thread cannot happen (one worker per thread), but
    // two bridge replicas could: whoever stored first wins, and both use that link.
    let write = || inner.store.put_thread_link_if_absent(&msg.thread, &link);
    patiently("writing a thread link", write).await.map_err(|e| {
        tracing::error!(error = %e, "store failed writing a thread link");
        Failure::Store
    })
}

/// How long a question waits out a store that does not answer (a database restarting
/// or failing over) before its asker is told: longer than such a blip lasts, well
/// within what an asker waits on the placeholder. The replicas' database-outage test
/// met a question reading its thread's link in the first second of a 5 s outage.
const STORE_PATIENCE: Duration = Duration::from_secs(15);

/// Runs `op` until it succeeds, trying again after a backend failure (not after a
/// record that cannot be read, which no retry mends) for up to [`STORE_PATIENCE`].
async fn patiently<T, F, Fut>(what: &str, mut op: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    // Tokio's clock, which tests may pause.
    let deadline = tokio::time::Instant::now() + STORE_PATIENCE;
    let mut wait = Duration::from_millis(100);
    loop {
        match op().await {
            Err(e @ StoreError::Backend(_)) if tokio::time::Instant::now() + wait < deadline => {
                tracing::warn!(error = %e, what, "the store failed; trying again");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(2));
            }
            other => return other,
        }
    }
}

/// Streams the answer into the reply, editing within the throttle's rules, and returns
/// how the stream ended. The stream is read by its own task into a `watch` channel, so
/// slow platform calls never hold up reading (and deltas coalesce while an edit runs).
async fn pump(
    inner: &Inner,
    early: &ReplyLink,
    reply: &mut Reply<'_>,
    mut stream: AnswerStream,
    stop: &StopGuard,
) -> StreamEnd {
    let thread = &early.thread;
    let (tx, mut rx) = watch::channel((String::new(), None::<StreamEnd>));
    // The answer's id as soon as the stream names it, for feedback on a stopped answer.
    let (id_tx, id_rx) = watch::channel(None);
    let reader = tokio::spawn(async move {
        loop {
            match stream.next_event().await {
                StreamEvent::Text => {
                    id_tx.send_if_modified(|id| {
                        let changed = id.is_none() && stream.message_id().is_some();
                        if changed {
                            *id = stream.message_id().cloned();
                        }
                        changed
                    });
                    tx.send_replace((stream.text(), None));
                }
                StreamEvent::End(end) => {
                    tx.send_replace((end.text.clone(), Some(end)));
                    return;
                }
            }
        }
    });
    // Dropping the reader drops the stream, which closes the connection: on a Stop,
    // SiteAssist sees the request cancelled at once.
    let _abort = AbortOnDrop(reader);
    let mut pending: Option<String> = None;
    // What the reply shows (Markdown), which is what a Stop keeps.
    let mut shown = String::new();
    let mut deadline: Option<Instant> = None;
    let typing_every = inner.adapter.capabilities().typing_every;
    let mut next_typing = typing_every.map(|every| Instant::now() + every);
    loop {
        let wake = deadline.or(next_typing.filter(|_| !reply.has_text()));
        tokio::select! {
            biased;
            () = stop.requested() => {
                return StreamEnd {
                    outcome: StreamOutcome::Stopped,
                    text: shown,
                    message_id: id_rx.borrow().clone(),
                    sources: Vec::new(),
                    actions: Vec::new(),
                };
            }
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
                        sources: Vec::new(),
                        actions: Vec::new(),
                    };
                }
                pending = Some(text);
            }
            () = sleep_until(wake) => {
                let due = next_typing.is_some_and(|at| Instant::now() >= at);
                if let (true, false, Some(every)) = (due, reply.has_text(), typing_every) {
                    next_typing = Some(Instant::now() + every);
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
                // Without the reference definitions the final text drops, so the answer
                // does not shrink at the end (they show raw on every platform).
                shown = super::sources::streaming_text(text);
                reply.show_markdown(&shown).await;
                pending = None;
                deadline = None;
                // Reactions on the answer count from its first words on.
                let id = id_rx.borrow().clone();
                if let Some(id) = id {
                    reply.link(&ReplyLink { assistant_message: Some(id), ..early.clone() }).await;
                }
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
                    if end.actions.is_empty() {
                        end.actions = crate::siteassist::action::from_parts(
                            message.parts.iter().filter_map(|p| match p {
                                crate::siteassist::model::MessagePart::Unknown(v) => Some(v),
                                _ => None,
                            }),
                        );
                    }
                    end.outcome = StreamOutcome::Finished { reason: None };
                }
                return;
            }
            Some(MessageStatus::Streaming) => continue,
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{patiently, STORE_PATIENCE};
    use crate::store::StoreError;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn backend() -> StoreError {
        StoreError::Backend("connection closed".into())
    }

    #[tokio::test(start_paused = true)]
    async fn a_store_that_comes_back_is_waited_for() {
        let calls = AtomicU32::new(0);
        let started = tokio::time::Instant::now();
        let got = patiently("test", || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0..=3 => Err(backend()),
                n => Ok(n),
            }
        })
        .await;
        assert_eq!(got.unwrap(), 4, "the fifth try answers");
        // 100 + 200 + 400 + 800 ms of (paused, so exact) waiting.
        assert_eq!(started.elapsed().as_millis(), 1_500);
    }

    #[tokio::test(start_paused = true)]
    async fn a_store_that_stays_down_is_given_up_on_within_the_patience() {
        let calls = AtomicU32::new(0);
        let started = tokio::time::Instant::now();
        let got: Result<(), _> = patiently("test", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(backend())
        })
        .await;
        assert!(matches!(got, Err(StoreError::Backend(_))));
        assert!(started.elapsed() <= STORE_PATIENCE, "{:?}", started.elapsed());
        assert!(calls.load(Ordering::SeqCst) > 5, "tried again meanwhile");
    }

    #[tokio::test(start_paused = true)]
    async fn an_unreadable_record_is_not_tried_again() {
        let calls = AtomicU32::new(0);
        let got: Result<(), _> = patiently("test", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(StoreError::Corrupt { key: "k".into(), reason: "bad".into() })
        })
        .await;
        assert!(matches!(got, Err(StoreError::Corrupt { .. })));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
