//! Native streaming for a [`Reply`]: where the adapter offers it
//! ([`ChatAdapter::streams_in`](crate::bridge::adapter::ChatAdapter::streams_in)), the
//! answer grows in one message by appends of only the new text, instead of being
//! edited whole each time (Slack's `chat.update` budget is shared by a whole workspace).
//!
//! The rules, decided here once for every platform:
//! - The stream starts with the first words (a stream cannot take back a placeholder's
//!   text). Until then the placeholder shows, with its Stop button, or the platform's
//!   status where it has one ([`ChatAdapter::shows_status_in`](crate::bridge::adapter::ChatAdapter::shows_status_in)).
//!   The placeholder stays above the stream while it runs, for its Stop button (a
//!   stream's message shows no buttons until it stops), and is deleted when the
//!   stream ends; where a status stood for it, one is posted below the stream when
//!   it starts, for the same reason. A Stop press ends the stream with what was
//!   shown and the stopped note, like any final text.
//! - Starts, appends and stops each take a slot of their own workspace budget (the
//!   platform's [`StreamBudgets`](crate::bridge::adapter::StreamBudgets), kept by the
//!   same per-workspace [`Pacing`](crate::bridge::pacing) as edits), at the reply's
//!   edit pace; a start also takes a channel slot, as a post does. A start whose slots
//!   are not free within [`MAX_START_WAIT`] is not made: the reply posts and edits.
//! - The final text stops the stream when it extends what was streamed; the sources
//!   line and the buttons go under it.
//! - Any refusal (start, append or stop), or a final text that does not extend what was
//!   streamed (a stream cannot unsay text), ends native streaming for this reply: the
//!   stream is stopped as it is (best effort), and the stream message becomes the
//!   reply's first message for the ordinary path, which edits it to the whole text and
//!   posts continuations. The user sees one message growing, then corrected in place:
//!   the streamed text is never shown a second time. A refusal before any stream
//!   started leaves nothing to correct: the ordinary path posts.

use super::Reply;
use crate::bridge::controls::Controls;
use crate::bridge::ids::{MessageRef, UserKey};
use crate::bridge::pacing::{Family, OpenStream};
use crate::store::NativeStream;
use std::time::{Duration, Instant};

/// Longest wait for a stream start's budget slots before the reply goes the ordinary
/// way: one edit interval, as an edit would wait.
const MAX_START_WAIT: Duration = Duration::from_secs(1);

/// Longest `markdown_text` of one append: Slack's documented limit for
/// `chat.appendStream` (12,000 characters; docs.slack.dev/reference/methods/chat.appendStream,
/// checked 2026-12). Longer deltas go out in several appends.
const MAX_APPEND_CHARS: usize = 12_000;

/// Where a reply stands with native streaming.
#[derive(Debug, Default)]
pub(crate) enum Native {
    /// The reply shows through posts and edits.
    #[default]
    Off,
    /// The reply may stream natively; nothing is shown yet.
    Ready {
        /// Who the stream is for (the asker), as some platforms need (Slack, in channels).
        recipient: UserKey,
    },
    /// A stream is open on `message`, which shows `sent` (Markdown).
    Open {
        /// The stream message, the reply's first part (before `control` in its record
        /// while the stream runs).
        message: MessageRef,
        /// All the Markdown appended so far.
        sent: String,
        /// The placeholder posted before the stream, kept above it for its Stop button
        /// (a stream cannot carry one: its text only grows, and buttons come at its
        /// stop) and deleted when the stream ends.
        control: Option<MessageRef>,
        /// Counts this stream in its workspace while it is open, for the fair share
        /// of appends ([`Pacing::append_share`](crate::bridge::pacing::Pacing::append_share)).
        counted: OpenStream,
        /// When it was last appended to (or started).
        last: Instant,
    },
}

/// The part of `text` after `sent`, when `text` extends it.
fn delta<'t>(sent: &str, text: &'t str) -> Option<&'t str> {
    text.strip_prefix(sent)
}

/// `text` in pieces of at most [`MAX_APPEND_CHARS`] characters.
fn pieces(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let cut = rest.char_indices().nth(MAX_APPEND_CHARS).map_or(rest.len(), |(i, _)| i);
        out.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    out
}

impl Reply<'_> {
    /// Lets this reply stream natively for `recipient`, when the adapter offers it in
    /// the reply's thread. Returns whether it will (then no placeholder is posted).
    pub(crate) fn stream_natively(&mut self, recipient: UserKey) -> bool {
        if self.inner.adapter.streams_in(&self.thread) {
            self.native = Native::Ready { recipient };
            true
        } else {
            false
        }
    }

    /// The budget the reply's next text takes while it streams natively at `now`: a
    /// start, unless none is free soon (then the text will go the ordinary way, see
    /// [`MAX_START_WAIT`]), or an append.
    pub(super) fn native_family(&self, now: Instant) -> Option<Family> {
        match self.native {
            Native::Off => None,
            Native::Ready { .. } if self.start_free_soon(now) => Some(Family::StreamStart),
            Native::Ready { .. } => Some(Family::Edit),
            Native::Open { .. } => Some(Family::StreamAppend),
        }
    }

    /// The earliest the next append of an open stream may go: its fair share of the
    /// workspace's append budget after the last one (`now` otherwise).
    pub(super) fn native_not_before(&self, now: Instant) -> Instant {
        match &self.native {
            Native::Open { last, .. } => {
                now.max(*last + self.inner.pacing.append_share(&self.keys))
            }
            _ => now,
        }
    }

    /// Whether a stream start's slots are free within [`MAX_START_WAIT`] of `now`.
    fn start_free_soon(&self, now: Instant) -> bool {
        let at = self.inner.pacing.available_for(&self.keys, Family::StreamStart, now);
        at.saturating_duration_since(now) <= MAX_START_WAIT
    }

    /// Whether a native stream is open.
    pub(super) fn streaming_natively(&self) -> bool {
        matches!(self.native, Native::Open { .. })
    }

    /// Shows `markdown` through the native stream. `false`: native streaming is off (or
    /// just ended), and the caller shows it the ordinary way.
    pub(super) async fn stream_to(&mut self, markdown: &str) -> bool {
        match std::mem::take(&mut self.native) {
            Native::Off => false,
            Native::Ready { recipient } if markdown.trim().is_empty() => {
                self.native = Native::Ready { recipient };
                true
            }
            Native::Ready { recipient } => {
                // A start waits at most about one edit interval for its slots: past
                // that (many answers starting at once) the reply goes the ordinary
                // way at once rather than keep its asker waiting for the first words.
                if !self.start_free_soon(Instant::now()) {
                    tracing::debug!(thread = %self.thread, "no stream start free soon; posting and editing instead");
                    return false;
                }
                self.inner.pacing.acquire_for(&self.keys, Family::StreamStart).await;
                let adapter = &self.inner.adapter;
                let started = adapter.start_stream(&self.thread, Some(&recipient), markdown).await;
                self.counted();
                match started {
                    Ok(message) => {
                        // The stream message is the reply's first part from now on.
                        // The placeholder, if any, stays in the record after it while
                        // the stream runs, so a Stop press on it finds this reply, and
                        // leaves the record (and the thread) when the stream ends. A run
                        // dying meanwhile leaves recovery the stream message as the part
                        // to finish, and the placeholder as a stale extra message.
                        let placeholder = self.record.messages.first().cloned();
                        self.record.messages.insert(0, message.clone());
                        let control = match placeholder {
                            Some(placeholder) => Some(placeholder),
                            None => {
                                let posted = self.post_control().await;
                                self.record.messages.extend(posted.clone());
                                posted
                            }
                        };
                        let open =
                            NativeStream { message: message.clone(), control: control.clone() };
                        self.record.open_stream = Some(open);
                        self.save().await;
                        let counted = self.inner.pacing.open_stream(&self.keys);
                        let (sent, last) = (markdown.to_string(), Instant::now());
                        self.native = Native::Open { message, sent, control, counted, last };
                        true
                    }
                    Err(e) => {
                        tracing::info!(thread = %self.thread, error = %e, "native stream refused at its start; posting and editing instead");
                        false
                    }
                }
            }
            Native::Open { message, sent, control, counted, last } => {
                let Some(new) = delta(&sent, markdown) else {
                    self.fall_back(&message, control, "the text changed before its end").await;
                    return false;
                };
                if new.is_empty() {
                    self.native = Native::Open { message, sent, control, counted, last };
                    return true;
                }
                for piece in pieces(new) {
                    self.inner.pacing.acquire_for(&self.keys, Family::StreamAppend).await;
                    let appended = self.inner.adapter.append_stream(&message, piece).await;
                    self.counted();
                    if let Err(e) = appended {
                        self.fall_back(&message, control, &e.reason).await;
                        return false;
                    }
                }
                let (sent, last) = (markdown.to_string(), Instant::now());
                self.native = Native::Open { message, sent, control, counted, last };
                true
            }
        }
    }

    /// Ends the reply's native stream with its final `markdown`, `footer` and
    /// `controls`. `false`: native streaming is off (or just ended), and the caller
    /// shows the final text the ordinary way.
    pub(super) async fn stop_with(
        &mut self,
        markdown: &str,
        footer: Option<&str>,
        controls: &Controls,
    ) -> bool {
        let Native::Open { message, sent, control, .. } = std::mem::take(&mut self.native) else {
            // Never streamed (a notice, or an answer refused at its start): ordinary.
            return false;
        };
        let Some(rest) = delta(&sent, markdown) else {
            let why = "the final text does not extend the streamed one";
            self.fall_back(&message, control, why).await;
            return false;
        };
        // The remainder may be long only after appends were held back; all but the
        // last piece go as appends. When no stop is free now (stops have the smaller
        // budget), the last piece is appended too, so the whole answer shows at once
        // and only the buttons wait for the stop.
        let mut parts = pieces(rest);
        let stop_free =
            self.inner.pacing.available_for(&self.keys, Family::StreamStop, Instant::now())
                <= Instant::now();
        let last = if stop_free { parts.pop().unwrap_or("") } else { "" };
        for piece in parts {
            self.inner.pacing.acquire_for(&self.keys, Family::StreamAppend).await;
            let appended = self.inner.adapter.append_stream(&message, piece).await;
            self.counted();
            if let Err(e) = appended {
                self.fall_back(&message, control, &e.reason).await;
                return false;
            }
        }
        // The placeholder goes before the stop, so the finished answer is never seen
        // beside a stale placeholder; the Stop button has nothing left to stop.
        self.drop_control(control).await;
        self.inner.pacing.acquire_for(&self.keys, Family::StreamStop).await;
        let stopped = self.inner.adapter.stop_stream(&message, last, footer, controls).await;
        self.counted();
        match stopped {
            Ok(()) => {
                self.record.open_stream = None;
                // What the message shows, so a later show of the same state does nothing.
                self.shown = vec![markdown.to_string()];
                self.shown_controls = vec![controls.clone()];
                true
            }
            Err(e) => {
                self.fall_back(&message, None, &e.reason).await;
                false
            }
        }
    }

    /// Ends native streaming for this reply after a refusal: stops the stream as it is
    /// (best effort: an open stream the platform closes itself is no worse), and leaves
    /// its message as the reply's first one with nothing known shown, so the ordinary
    /// path edits it to the whole text rather than posting the text again.
    async fn fall_back(&mut self, message: &MessageRef, control: Option<MessageRef>, why: &str) {
        tracing::info!(thread = %self.thread, reason = why, "native stream refused mid-way; finishing by editing its message");
        self.native = Native::Off;
        self.record.open_stream = None;
        if let Err(e) = self.inner.adapter.stop_stream(message, "", None, &Controls::NONE).await {
            tracing::debug!(error = %e, "could not stop a refused stream");
        }
        self.actions += 1;
        self.shown.clear();
        self.shown_controls.clear();
        self.drop_control(control).await;
    }

    /// Closes the native stream a run that died left open (its record says so): stops
    /// it as it is and deletes the placeholder kept for its Stop button, so the user is
    /// left no message still streaming and no Stop button nothing answers. The stream's
    /// message stays the reply's first one, for recovery to show its last text in, the
    /// ordinary way. Best effort, like [`Self::fall_back`]: a stream the platform closed
    /// already, or a placeholder gone, changes nothing.
    pub(crate) async fn close_stream_left_open(&mut self) {
        let Some(open) = self.record.open_stream.take() else { return };
        tracing::info!(thread = %self.thread, message = %open.message, "stopping a native stream a previous run left open");
        self.inner.pacing.acquire_for(&self.keys, Family::StreamStop).await;
        self.actions += 1;
        if let Err(e) =
            self.inner.adapter.stop_stream(&open.message, "", None, &Controls::NONE).await
        {
            tracing::debug!(error = %e, "could not stop a stream left open");
        }
        self.drop_control(open.control).await;
        self.save().await;
    }

    /// Where no placeholder went before the stream (a platform status stood for it),
    /// posts one with the Stop button once the stream has started, below it, so Stop
    /// is there while it runs. Only when the channel has a post free now (a reply
    /// past it streams without Stop rather than wait); it does not spend the edit
    /// budget the replies on the edit path need.
    async fn post_control(&mut self) -> Option<MessageRef> {
        if !self.inner.pacing.try_acquire_now(&self.keys, Family::Post) {
            return None;
        }
        self.actions += 1;
        let text = self.inner.cfg.placeholder.clone();
        match self.inner.adapter.post(&self.thread, &text, &Controls::streaming()).await {
            Ok(control) => Some(control),
            Err(e) => {
                tracing::info!(error = %e, "could not post the Stop button beside a stream");
                None
            }
        }
    }

    /// Deletes the placeholder kept for the Stop button once the stream has ended (best
    /// effort: a platform that cannot delete leaves it showing the placeholder), and
    /// takes it out of the record: the stream message is the reply's first part.
    async fn drop_control(&mut self, control: Option<MessageRef>) {
        let Some(control) = control else { return };
        self.record.messages.retain(|m| m != &control);
        self.actions += 1;
        if let Err(e) = self.inner.adapter.delete(&control).await {
            tracing::info!(error = %e, "could not delete the placeholder above a stream");
        }
    }

    /// Counts a platform call for the metrics and the pacer, and the first text.
    fn counted(&mut self) {
        self.actions += 1;
        self.pacer.record_sent(Instant::now());
        if !self.first_text_shown {
            self.first_text_shown = true;
            crate::ops::metrics::first_text(self.inner.adapter.name(), self.started.elapsed());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{delta, pieces, MAX_APPEND_CHARS};

    #[test]
    fn a_delta_is_only_the_new_text_and_none_when_the_text_changed() {
        assert_eq!(delta("Hello", "Hello, world"), Some(", world"));
        assert_eq!(delta("Hello", "Hello"), Some(""));
        assert_eq!(delta("Hello [1]", "Hello"), None);
    }

    #[test]
    fn long_deltas_go_in_pieces_within_the_append_limit() {
        let text = "é".repeat(MAX_APPEND_CHARS * 2 + 5);
        let p = pieces(&text);
        assert_eq!(p.iter().map(|s| s.chars().count()).collect::<Vec<_>>(), [12_000, 12_000, 5]);
        assert_eq!(p.concat(), text);
        assert!(pieces("").is_empty());
    }
}
