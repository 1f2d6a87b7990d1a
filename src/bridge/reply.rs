//! One bot reply on the platform: the placeholder, its edits, and the continuation
//! messages of a long answer. Keeps what each message shows, so only changed parts are
//! edited, and keeps the in-flight record in the store up to date.

use super::adapter::AdapterError;
use super::controls::Controls;
use super::ids::{MessageRef, ThreadKey};
use super::pacing::{BudgetKeys, Family};
use super::platform_retry;
use super::split::{split_message_within, Limit};
use super::throttle::EditPacer;
use super::Inner;
use crate::store::{InFlightReply, ReplyLink};
use std::future::Future;
use std::time::Instant;

mod native;

/// A reply being built. Dropped without [`Reply::finish`] only when the task is
/// aborted, in which case the in-flight record stays for recovery.
pub(crate) struct Reply<'a> {
    inner: &'a Inner,
    pub(crate) thread: ThreadKey,
    keys: BudgetKeys,
    pub(crate) record: InFlightReply,
    shown: Vec<String>,
    /// The buttons each message shows, by index (only the last one has any).
    shown_controls: Vec<Controls>,
    /// The buttons the reply's last message should carry.
    controls: Controls,
    pub(crate) pacer: EditPacer,
    /// The limit of each message of this reply by index, the last entry for every
    /// message after it: the platform's limit, lowered from a message on after the
    /// platform refused that message as too long ([`AdapterError::TooLong`]). Kept per
    /// index so lowering never rewrites the messages before.
    limits: Vec<Limit>,
    /// Platform calls made for this reply (posts and edits), for the metrics.
    pub(crate) actions: usize,
    /// When the reply started, and whether answer text has been shown yet.
    started: Instant,
    first_text_shown: bool,
    /// Set when the platform refused for good (message deleted, no permission): stop
    /// trying to show anything.
    pub(crate) broken: bool,
    /// Native streaming ([`native`]): off unless [`Self::stream_natively`] turned it on.
    native: native::Native,
    /// The messages [`Self::link`] recorded, with the link they got: a later call
    /// writes only what changed.
    linked: Vec<(MessageRef, ReplyLink)>,
}

impl<'a> Reply<'a> {
    pub(crate) fn new(inner: &'a Inner, keys: BudgetKeys, record: InFlightReply) -> Self {
        let caps = inner.adapter.capabilities();
        let interval = inner.cfg.edit_interval.max(caps.min_edit_interval);
        Self {
            inner,
            thread: record.thread.clone(),
            keys,
            record,
            shown: Vec::new(),
            shown_controls: Vec::new(),
            controls: Controls::NONE,
            pacer: EditPacer::new(interval),
            limits: vec![caps.message_limit()],
            actions: 0,
            started: Instant::now(),
            first_text_shown: false,
            broken: false,
            native: native::Native::Off,
            linked: Vec::new(),
        }
    }

    /// Sets the buttons of the reply's last message; they show with the next update
    /// (an update whose text is unchanged still goes out when they differ).
    pub(crate) fn set_controls(&mut self, controls: Controls) {
        self.controls = controls;
    }

    /// Whether any text other than the placeholder is visible.
    pub(crate) fn has_text(&self) -> bool {
        self.streaming_natively()
            || self.shown.first().is_some_and(|s| s != &self.inner.cfg.placeholder)
    }

    /// When the next intermediate edit may go out.
    pub(crate) fn next_edit_at(&self, now: Instant) -> Instant {
        // A native stream's next text is a start or an append, paced by its own budget.
        let family = self.native_family(now).unwrap_or(Family::Edit);
        self.pacer
            .ready_at(now, false)
            .max(self.inner.pacing.available_for(&self.keys, family, now))
            .max(self.native_not_before(now))
    }

    /// Saves the in-flight record (after the conversation or the messages changed).
    pub(crate) async fn save(&self) {
        if let Err(e) = self.inner.store.put_in_flight(&self.record).await {
            tracing::warn!(error = %e, "could not update the in-flight record");
        }
    }

    /// Shows `text` (platform markup, already rendered) as is, e.g. a placeholder or a
    /// notice, without Markdown rendering.
    /// The placeholder does not count for the pacer: the first words must replace it
    /// at once, not one interval later.
    pub(crate) async fn show_raw(&mut self, text: &str) {
        loop {
            let parts = split_message_within(text, &|i| self.limit_at(i));
            if !self.show_or_lower(parts, false).await {
                return;
            }
        }
    }

    /// Renders `markdown` for the platform and shows it, splitting it over as many
    /// messages as the platform's length limit needs.
    /// While the reply streams natively, only the new text is appended.
    pub(crate) async fn show_markdown(&mut self, markdown: &str) {
        if self.stream_to(markdown).await {
            return;
        }
        self.show_markdown_with(markdown, None).await;
    }

    /// [`Self::show_markdown`] with `footer` (platform text, e.g. the sources line)
    /// whole at the end of the last message, or in a message of its own when the last
    /// one has no room: never split, and the answer's parts stay where streaming put
    /// them.
    pub(crate) async fn show_markdown_with(&mut self, markdown: &str, footer: Option<&str>) {
        let rendered = self.inner.adapter.render(markdown);
        loop {
            let mut parts = split_message_within(&rendered, &|i| self.limit_at(i));
            if parts.is_empty() {
                parts.push(self.inner.cfg.placeholder.clone());
            }
            if let Some(footer) = footer.filter(|f| !f.is_empty()) {
                let last_index = parts.len() - 1;
                let last = parts.last_mut().expect("at least one part");
                let with_footer = format!("{last}\n\n{footer}");
                if self.limit_at(last_index).fits(&with_footer) {
                    *last = with_footer;
                } else {
                    parts.push(footer.to_string());
                }
            }
            if !self.show_or_lower(parts, true).await {
                return;
            }
        }
    }

    /// The limit of the reply's message number `i`.
    fn limit_at(&self, i: usize) -> Limit {
        self.limits[i.min(self.limits.len() - 1)]
    }

    /// Shows `parts`; when the platform refused one as too long, lowers the limit from
    /// that message on and returns `true`: the caller splits again and shows the new
    /// parts (the messages before keep their text; the refused one still shows what it
    /// showed, and becomes a shorter finished part). Gives up on the reply when the
    /// limit cannot go lower, so this ends.
    async fn show_or_lower(&mut self, parts: Vec<String>, paced: bool) -> bool {
        let Some(i) = self.show_parts(parts, paced).await else {
            return false;
        };
        let Some(lower) = self.limit_at(i).halved() else {
            tracing::warn!(thread = %self.thread, "platform refuses even the shortest message as too long; giving up on this reply");
            self.broken = true;
            return false;
        };
        tracing::info!(thread = %self.thread, message = i, limit = ?lower, "platform refused a message as too long; splitting again from it");
        let last = self.limit_at(self.limits.len() - 1);
        self.limits.resize(i + 1, last);
        self.limits[i] = lower;
        true
    }

    /// Shows the reply's last state (the whole answer, a partial one with its note, or a
    /// notice), saved in the in-flight record first, so that a run dying before
    /// [`Self::finish`] leaves recovery the text to keep rather than "interrupted".
    /// It carries no buttons (a notice is not an answer to rate, nor to stop).
    pub(crate) async fn show_final(&mut self, markdown: &str) {
        self.show_final_with(markdown, None, Controls::NONE).await;
    }

    /// [`Self::show_final`] with a footer under it (see [`Self::show_markdown_with`])
    /// and the answer's buttons under the last message.
    pub(crate) async fn show_final_with(
        &mut self,
        markdown: &str,
        footer: Option<String>,
        controls: Controls,
    ) {
        self.record.final_markdown = Some(markdown.to_string());
        self.record.final_footer = footer.clone();
        self.save().await;
        self.show_answer_with(markdown, footer, controls).await;
    }

    /// Shows a whole answer exactly as SiteAssist keeps it (with its footer and
    /// buttons), without saving it first as [`Self::show_final_with`] does: a run
    /// dying between showing it and [`Self::finish`] leaves recovery SiteAssist's
    /// stored answer to show, the same text, so the durable write the save costs is not
    /// needed, and the final text goes out that much sooner (the load bench: lag p99
    /// at N = 100 about halved; at 1,000 with lanes the cores, not writes, set it). Not
    /// for text SiteAssist does not keep: a notice, a note under a partial answer, the
    /// notes on unread files.
    pub(crate) async fn show_answer_with(
        &mut self,
        markdown: &str,
        footer: Option<String>,
        controls: Controls,
    ) {
        self.controls = controls;
        let controls = self.controls.clone();
        if self.stop_with(markdown, footer.as_deref(), &controls).await {
            return;
        }
        self.show_markdown_with(markdown, footer.as_deref()).await;
    }

    /// Shows each part that changed. `Some(i)`: the platform refused part `i` as too
    /// long, and nothing after it was shown.
    async fn show_parts(&mut self, parts: Vec<String>, paced: bool) -> Option<usize> {
        if self.broken {
            return None;
        }
        let last = parts.len().saturating_sub(1);
        for (i, part) in parts.into_iter().enumerate() {
            let controls = if i == last { self.controls.clone() } else { Controls::NONE };
            let same_controls = self.shown_controls.get(i).unwrap_or(&Controls::NONE) == &controls;
            if self.shown.get(i) == Some(&part) && same_controls {
                continue;
            }
            // A new message takes a post's slots, an existing one an edit's: platforms
            // limit the two apart (Slack's `chat.postMessage` per channel, and
            // `chat.update` by a workspace budget a post must not use up).
            let existing = self.record.messages.get(i).cloned();
            let family = if existing.is_some() { Family::Edit } else { Family::Post };
            self.inner.pacing.acquire_for(&self.keys, family).await;
            let result = match existing {
                Some(message) => {
                    let adapter = &self.inner.adapter;
                    let edit = || adapter.edit(&message, &part, &controls);
                    match retry(adapter.name(), edit).await {
                        // The message is gone (deleted by someone, or posted by a run
                        // whose messages this adapter cannot edit): carry on in a new one
                        // rather than leave the user without the answer.
                        Err(AdapterError::Permanent(e)) => {
                            tracing::info!(error = %e, "cannot edit a reply message; posting anew");
                            self.post_part(i, &part, &controls).await
                        }
                        other => other,
                    }
                }
                None => self.post_part(i, &part, &controls).await,
            };
            self.actions += 1;
            if paced {
                self.pacer.record_sent(Instant::now());
                if !self.first_text_shown {
                    self.first_text_shown = true;
                    crate::ops::metrics::first_text(
                        self.inner.adapter.name(),
                        self.started.elapsed(),
                    );
                }
            }
            match result {
                Err(AdapterError::TooLong(e)) => {
                    tracing::debug!(error = %e, "a reply message was refused as too long");
                    return Some(i);
                }
                Ok(()) if i < self.shown.len() => {
                    self.shown[i] = part;
                    self.shown_controls[i] = controls;
                }
                Ok(()) => {
                    self.shown.push(part);
                    self.shown_controls.push(controls);
                }
                Err(e) => {
                    tracing::warn!(thread = %self.thread, error = %e, "platform refused a reply update; giving up on this reply");
                    self.broken = true;
                    return None;
                }
            }
        }
        None
    }

    /// Posts `part` as the reply's message number `i` (a new continuation, or a
    /// replacement for one that can no longer be edited).
    async fn post_part(
        &mut self,
        i: usize,
        part: &str,
        controls: &Controls,
    ) -> Result<(), AdapterError> {
        let (adapter, thread, question) =
            (&self.inner.adapter, &self.thread, &self.record.question);
        // A post that failed in a way that may pass (a timeout, a 5xx) may have been
        // made all the same; before trying again, look whether it was, so a retry never
        // shows the user the same message twice. (A 429 was not acted on: no look.)
        let post_once = || async move {
            match adapter.post(thread, part, controls).await {
                Err(AdapterError::Transient(e)) => {
                    // The look is retried on its own (a 429 on it is common right after
                    // a burst): posting again because the look was refused would show
                    // the message twice. Only a look that keeps failing lets the post
                    // be tried again blind.
                    let look = || adapter.find_unrecorded(thread, question, part);
                    match retry(adapter.name(), look).await {
                        Ok(Some(message)) => {
                            tracing::info!(%message, "a post reported as failed was made; keeping it");
                            Ok(message)
                        }
                        Ok(None) => Err(AdapterError::Transient(e)),
                        Err(look) => {
                            tracing::warn!(error = %look, "could not look for a post reported as failed");
                            Err(AdapterError::Transient(e))
                        }
                    }
                }
                other => other,
            }
        };
        let message = retry(adapter.name(), post_once).await?;
        if i < self.record.messages.len() {
            self.record.messages[i] = message;
        } else {
            self.record.messages.push(message);
        }
        self.save().await;
        Ok(())
    }

    /// Records which answer the reply's messages show, so reactions on them become
    /// feedback. Writes only the messages not yet recorded with this link: the answer
    /// links its messages as soon as the stream names its id (reactions count while it
    /// streams), and the calls before its final text and in [`Self::finish`] then
    /// write nothing unless a message was posted since, which keeps a durable write
    /// off the path to the final text.
    pub(crate) async fn link(&mut self, link: &ReplyLink) {
        for message in &self.record.messages {
            if self.linked.iter().any(|(m, l)| m == message && l == link) {
                continue;
            }
            match self.inner.store.put_reply_link(message, link).await {
                Ok(()) => self.linked.push((message.clone(), link.clone())),
                Err(e) => {
                    tracing::warn!(error = %e, "could not record a reply link; reactions on it will be ignored");
                }
            }
        }
    }

    /// Links the reply's messages (see [`Self::link`]), forgets the in-flight record
    /// and tells the adapter the reply is final.
    pub(crate) async fn finish(mut self, link: Option<ReplyLink>) {
        if let Some(link) = &link {
            self.link(link).await;
        }
        if let Err(e) = self.inner.store.remove_in_flight(&self.record.id).await {
            tracing::warn!(error = %e, "could not clear the in-flight record");
        }
        let question = Some(&self.record.question);
        self.inner.adapter.reply_finished(&self.thread, question, &self.record.messages).await;
    }
}

/// Runs a platform call, waiting out rate limits and retrying transient failures as
/// [`platform_retry::decide`] says.
pub(crate) async fn retry<T, F, Fut>(platform: &'static str, mut call: F) -> Result<T, AdapterError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AdapterError>>,
{
    let mut so_far = platform_retry::Attempts::default();
    loop {
        let error = match call().await {
            Ok(value) => return Ok(value),
            Err(e) => e,
        };
        match platform_retry::decide(&mut so_far, &error) {
            platform_retry::Decision::GiveUp => return Err(error),
            platform_retry::Decision::RetryAfter(wait) => {
                if let AdapterError::RateLimited { retry_after } = &error {
                    crate::ops::metrics::platform_rate_limited(platform);
                    tracing::info!(platform, ?retry_after, "platform rate limit; waiting");
                } else {
                    tracing::info!(platform, error = %error, "platform call failed; retrying");
                }
                tokio::time::sleep(wait).await;
            }
        }
    }
}
