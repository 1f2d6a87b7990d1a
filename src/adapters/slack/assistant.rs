//! Slack's assistant threads (the AI-app container in Slack's sidebar): the status
//! shown while an answer is prepared, and what a new assistant thread is given.
//!
//! Facts relied on (checked 2026-12-04):
//! - `assistant.threads.setStatus` takes `channel_id`, `thread_ts` and `status` (e.g.
//!   "is thinking…"); "a two minute timeout applies, which will cause the status to be
//!   removed if no message has been sent" (docs.slack.dev/reference/methods/
//!   assistant.threads.setStatus). Its rate limit is "special" (same page);
//!   slack-morphism 2.31.1 paces it at one a second. It accepts `chat:write` or
//!   `assistant:write` (docs.slack.dev changelog 2026-03-05, "Set status method scope
//!   update").
//! - Assistant threads live in the app's DM with the user (`channel_type: im`), each
//!   conversation a thread. The thread's root is a message of subtype
//!   `assistant_app_thread`: "the subtype of the root message of an assistant thread
//!   started by the end user … when a user clicks the assistant entry point … or starts
//!   a new chat with the app" (docs.slack.dev/reference/events/message/
//!   assistant_app_thread, checked 2026-12-05). A user's message in the thread does not
//!   say so in any field slack-morphism 2.31 keeps (Socket Mode events come through its
//!   types), so a thread in a DM whose kind is not known yet is looked up once: its
//!   root, by `conversations.replies` (`limit` 1). A thread in an ordinary DM (its root
//!   a person's message) gets the placeholder, as a channel thread does; were
//!   `setStatus` refused all the same, the core posts the placeholder instead.
//! - `assistant_thread_started` and `assistant_thread_context_changed` carry
//!   `assistant_thread: {user_id, channel_id, thread_ts, context: {channel_id, team_id,
//!   enterprise_id}}`; the context's `channel_id` is the channel the user is viewing
//!   (docs.slack.dev/reference/events/assistant_thread_started, slack-morphism 2.31.1's
//!   `SlackAssistantThread`).
//! - `assistant.threads.setSuggestedPrompts` sets "up to four suggested prompts", each
//!   with a `title` and a `message`; `thread_ts` belongs to the legacy assistant
//!   experience (`assistant_view` in the manifest, which is ours). `setTitle` takes a
//!   `title`. Both are Tier 4 and need `assistant:write` (docs.slack.dev/reference/
//!   methods/assistant.threads.setSuggestedPrompts, …setTitle).
//!
//! What the bridge keeps about assistant threads (which DM threads are ones, the
//! context channel, whether the thread has its title) lives in memory, bounded. Which
//! threads are assistant threads Slack says again after a restart or on another replica
//! (the root's look-up); the context channel is unknown there until it changes, and a
//! thread started before the restart gets no title.

use super::egress::{classify, SlackWeb};
use super::ids;
use crate::bridge::adapter::AdapterError;
use crate::bridge::controls::Controls;
use crate::bridge::ids::ThreadKey;
use serde::Deserialize;
use serde_json::Value;
use slack_morphism::prelude::*;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Most assistant threads remembered; past it the memory starts over (see the module
/// docs for what that costs).
const MAX_THREADS: usize = 10_000;

/// Longest thread title taken from a question, in characters.
const MAX_TITLE_CHARS: usize = 60;

/// How long the welcome message may take to fetch from SiteAssist.
const WELCOME_BUDGET: Duration = Duration::from_secs(5);

/// An assistant-thread event, as the bridge uses it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ThreadEvent {
    /// `assistant_thread_started` (else `…_context_changed`).
    pub started: bool,
    /// The DM channel and the thread in it.
    pub channel: String,
    pub thread_ts: String,
    /// The channel the user is viewing, when Slack says.
    pub context_channel: Option<String>,
}

#[derive(Deserialize)]
struct EventFields {
    assistant_thread: ThreadFields,
}

#[derive(Deserialize)]
struct ThreadFields {
    channel_id: String,
    thread_ts: String,
    #[serde(default)]
    context: Option<ContextFields>,
}

#[derive(Deserialize)]
struct ContextFields {
    #[serde(default)]
    channel_id: Option<String>,
}

/// Reads an `assistant_thread_started` / `…_context_changed` event; `None` when
/// malformed.
pub(crate) fn translate(event: &Value, started: bool) -> Option<ThreadEvent> {
    let e = EventFields::deserialize(event).ok()?;
    let t = e.assistant_thread;
    Some(ThreadEvent {
        started,
        channel: t.channel_id,
        thread_ts: t.thread_ts,
        context_channel: t.context.and_then(|c| c.channel_id).filter(|c| !c.is_empty()),
    })
}

/// A thread title from the first question: its first line, at most
/// [`MAX_TITLE_CHARS`] characters (cut at a word, with "…").
pub(crate) fn title_from(question: &str) -> Option<String> {
    let line = question.lines().map(str::trim).find(|l| !l.is_empty())?;
    if line.chars().count() <= MAX_TITLE_CHARS {
        return Some(line.to_string());
    }
    let cut: String = line.chars().take(MAX_TITLE_CHARS - 1).collect();
    let cut = match cut.rfind(' ') {
        Some(i) if i > MAX_TITLE_CHARS / 2 => cut[..i].to_string(),
        _ => cut,
    };
    Some(format!("{}…", cut.trim_end()))
}

#[derive(Default)]
struct Known {
    /// Whether it is an assistant thread (`None`: not known yet; a thread seen starting
    /// is one).
    assistant: Option<bool>,
    /// The channel the user is viewing.
    context: Option<String>,
    /// Whether the thread's title was set (from its first question).
    titled: bool,
}

/// `key`'s entry, made when missing; past [`MAX_THREADS`] the memory starts over first.
fn remember(known: &mut HashMap<(String, String), Known>, key: (String, String)) -> &mut Known {
    if known.len() >= MAX_THREADS && !known.contains_key(&key) {
        known.clear();
    }
    known.entry(key).or_default()
}

/// The assistant threads this run has seen, by `(channel, thread_ts)`.
#[derive(Default)]
pub(crate) struct Threads {
    known: Mutex<HashMap<(String, String), Known>>,
}

impl Threads {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Known>> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notes an event; `true` for a thread started that this run had not seen (so it
    /// gets the welcome once, even if Slack delivers the event again).
    pub(crate) fn note(&self, e: &ThreadEvent) -> bool {
        let mut known = self.lock();
        let key = (e.channel.clone(), e.thread_ts.clone());
        let new = !known.contains_key(&key);
        let entry = remember(&mut known, key);
        entry.assistant = Some(true);
        if e.context_channel.is_some() || !e.started {
            entry.context = e.context_channel.clone();
        }
        e.started && new
    }

    /// Whether the thread in DM `channel` is an assistant thread, when known.
    pub(crate) fn is_assistant(&self, channel: &str, thread_ts: &str) -> Option<bool> {
        self.lock().get(&(channel.to_string(), thread_ts.to_string()))?.assistant
    }

    /// Notes what Slack said the thread in DM `channel` is.
    pub(crate) fn looked_up(&self, channel: &str, thread_ts: &str, looked: Looked) {
        let mut known = self.lock();
        let entry = remember(&mut known, (channel.to_string(), thread_ts.to_string()));
        entry.assistant = Some(looked.assistant);
        entry.titled = looked.asked_before;
    }

    /// `(channel, thread_ts)` of `thread` when it is known to be an assistant thread.
    pub(crate) fn assistant_thread<'t>(&self, thread: &'t ThreadKey) -> Option<(&'t str, &'t str)> {
        let (channel, ts) = dm_thread(thread)?;
        self.is_assistant(channel, ts).unwrap_or(false).then_some((channel, ts))
    }

    /// The channel the user of this thread is viewing, when known.
    pub(crate) fn context(&self, channel: &str, thread_ts: &str) -> Option<String> {
        self.lock().get(&(channel.to_string(), thread_ts.to_string()))?.context.clone()
    }

    /// `true` once for a thread this run saw start: its first question titles it.
    pub(crate) fn take_title(&self, channel: &str, thread_ts: &str) -> bool {
        match self.lock().get_mut(&(channel.to_string(), thread_ts.to_string())) {
            Some(k) if !k.titled => {
                k.titled = true;
                true
            }
            _ => false,
        }
    }
}

/// Opens a new assistant thread: the SiteAssist project's welcome message (when it has
/// one and SiteAssist answers in time) and the suggested `prompts` (when any).
pub(crate) async fn welcome(
    web: &SlackWeb,
    siteassist: &crate::siteassist::client::Client,
    e: &ThreadEvent,
    prompts: &[String],
) {
    let project = tokio::time::timeout(WELCOME_BUDGET, siteassist.current_project()).await;
    let text = match project {
        Ok(Ok(p)) => p.chat_widget_config.welcome_message.filter(|w| !w.trim().is_empty()),
        Ok(Err(err)) => {
            tracing::info!(error = %err, "no welcome message: SiteAssist's project is not readable");
            None
        }
        Err(_) => {
            tracing::info!("no welcome message: SiteAssist's project took too long");
            None
        }
    };
    if let Some(text) = text {
        let shown = super::format::to_slack(&text);
        if let Err(err) = web.post(&e.channel, Some(&e.thread_ts), &shown, &Controls::NONE).await {
            tracing::info!(error = %err, "could not post the welcome message");
        }
    }
    let prompts: Vec<SlackAssistantPrompt> = prompts
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .take(4)
        .map(|p| SlackAssistantPrompt::new(p.into(), p.into()))
        .collect();
    if prompts.is_empty() {
        return;
    }
    let req = SlackApiAssistantThreadsSetSuggestedPromptsRequest::new(
        SlackChannelId(e.channel.clone()),
        SlackTs(e.thread_ts.clone()),
        prompts,
    );
    let session = web.client.open_session(&web.token);
    if let Err(err) = session.assistant_threads_set_suggested_prompts(&req).await {
        tracing::info!(error = %err, "could not set the suggested prompts");
    }
}

/// Sets an assistant thread's title.
pub(crate) async fn set_title(web: &SlackWeb, channel: &str, thread_ts: &str, title: &str) {
    let req = SlackApiAssistantThreadSetTitleRequest::new(
        SlackChannelId(channel.into()),
        SlackTs(thread_ts.into()),
        title.into(),
    );
    let session = web.client.open_session(&web.token);
    if let Err(err) = session.assistant_threads_set_title(&req).await {
        tracing::info!(error = %err, "could not set the assistant thread's title");
    }
}

/// The status shown while an answer is prepared.
pub(crate) const THINKING: &str = "is thinking…";

/// How often the status is renewed while no text shows: a little under Slack's two
/// minutes, after which it would vanish.
pub(crate) const STATUS_EVERY: Duration = Duration::from_secs(100);

/// What Slack says of a DM thread the bridge had not seen start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Looked {
    /// Its root is an `assistant_app_thread` message (see the module docs).
    pub assistant: bool,
    /// A person wrote in it before the question being answered: that question is not
    /// the thread's first, and does not title it.
    pub asked_before: bool,
}

/// Most messages of a thread read to tell [`Looked`]: the root, a welcome, and the
/// first question are the first three of a new thread.
const LOOK_LIMIT: u16 = 10;

/// Asks Slack what the thread under `thread_ts` in DM `channel` is, for the question
/// `question_ts` (the bot is `bot_user`).
pub(crate) async fn look_up(
    web: &SlackWeb,
    channel: &str,
    thread_ts: &str,
    question_ts: &str,
    bot_user: &str,
) -> Result<Looked, AdapterError> {
    let req = SlackApiConversationsRepliesRequest::new(
        SlackChannelId(channel.into()),
        SlackTs(thread_ts.into()),
    )
    .with_limit(LOOK_LIMIT);
    let page =
        web.client.open_session(&web.token).conversations_replies(&req).await.map_err(classify)?;
    let root = page.messages.iter().find(|m| m.origin.ts.0 == thread_ts);
    let assistant = root
        .and_then(|m| m.subtype.as_ref())
        .is_some_and(|s| matches!(s, SlackMessageEventType::Other(name) if name == ASSISTANT_ROOT));
    let asked_before = page.messages.iter().any(|m| {
        let ts = m.origin.ts.0.as_str();
        let by_person =
            m.sender.user.as_ref().is_some_and(|u| u.0 != bot_user) && m.sender.bot_id.is_none();
        by_person && ts != thread_ts && ts < question_ts
    });
    Ok(Looked { assistant, asked_before })
}

/// The subtype of an assistant thread's root message.
const ASSISTANT_ROOT: &str = "assistant_app_thread";

/// `(channel, thread_ts)` of `thread` when it is a thread in a DM: where assistant
/// threads are, though not every such thread is one (see [`Threads::assistant_thread`]).
pub(crate) fn dm_thread(thread: &ThreadKey) -> Option<(&str, &str)> {
    match ids::parse_thread(thread) {
        Some((_, channel, Some(ts))) if channel.starts_with('D') => Some((channel, ts)),
        _ => None,
    }
}

/// Sets the status of an assistant thread (an empty `status` clears it).
pub(crate) async fn set_status(
    web: &SlackWeb,
    channel: &str,
    thread_ts: &str,
    status: &str,
) -> Result<(), AdapterError> {
    let req = SlackApiAssistantThreadsSetStatusRequest::new(
        SlackChannelId(channel.into()),
        status.into(),
        SlackTs(thread_ts.into()),
    );
    web.client
        .open_session(&web.token)
        .assistant_threads_set_status(&req)
        .await
        .map_err(classify)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{dm_thread, title_from, translate, Looked, ThreadEvent, Threads, MAX_THREADS};
    use crate::bridge::ids::ThreadKey;
    use serde_json::json;

    fn started(context: Option<&str>) -> serde_json::Value {
        json!({"type": "assistant_thread_started", "event_ts": "1.2", "assistant_thread": {
            "user_id": "U1", "channel_id": "D1", "thread_ts": "17.1",
            "context": {"channel_id": context, "team_id": "T1"}}})
    }

    #[test]
    fn events_give_the_thread_and_the_viewed_channel() {
        let e = translate(&started(Some("C9")), true).unwrap();
        assert_eq!(
            e,
            ThreadEvent {
                started: true,
                channel: "D1".into(),
                thread_ts: "17.1".into(),
                context_channel: Some("C9".into())
            }
        );
        assert_eq!(translate(&started(None), true).unwrap().context_channel, None);
        assert_eq!(translate(&json!({"type": "assistant_thread_started"}), true), None);
    }

    #[test]
    fn a_thread_is_welcomed_and_titled_once_and_follows_its_context() {
        let threads = Threads::default();
        let e = translate(&started(Some("C9")), true).unwrap();
        assert!(!threads.take_title("D1", "17.1"), "unknown threads get no title");
        assert!(threads.note(&e), "welcomed");
        assert!(!threads.note(&e), "a redelivery is not welcomed again");
        assert_eq!(threads.context("D1", "17.1").as_deref(), Some("C9"));
        let changed = translate(&started(Some("C7")), false).unwrap();
        assert!(!threads.note(&changed));
        assert_eq!(threads.context("D1", "17.1").as_deref(), Some("C7"));
        assert!(threads.take_title("D1", "17.1"));
        assert!(!threads.take_title("D1", "17.1"), "only the first question titles it");
    }

    #[test]
    fn titles_are_the_first_line_cut_at_a_word() {
        assert_eq!(
            title_from("\n  Where is my order?\nmore").as_deref(),
            Some("Where is my order?")
        );
        let long = "How do I move every one of my projects from the old workspace to the new one";
        let t = title_from(long).unwrap();
        assert!(t.ends_with('…') && t.chars().count() <= 60, "{t}");
        assert!(long.starts_with(t.trim_end_matches('…')), "{t}");
        assert_eq!(title_from("   "), None);
    }

    #[test]
    fn assistant_threads_are_dm_threads_seen_starting_or_said_to_be_by_slack() {
        let t = |s: &str| ThreadKey::new(s);
        assert_eq!(dm_thread(&t("slack:T1:D2:17.1")), Some(("D2", "17.1")));
        assert_eq!(dm_thread(&t("slack:T1:D2")), None, "the DM itself");
        assert_eq!(dm_thread(&t("slack:T1:C2:17.1")), None, "a channel thread");
        assert_eq!(dm_thread(&t("discord:1:2")), None);
        let threads = Threads::default();
        let key = t("slack:T1:D1:17.1");
        assert_eq!(threads.is_assistant("D1", "17.1"), None, "not known yet");
        assert_eq!(threads.assistant_thread(&key), None, "unknown is not one");
        threads.note(&translate(&started(None), true).unwrap());
        assert_eq!(threads.assistant_thread(&key), Some(("D1", "17.1")), "seen starting");
        threads.looked_up("D1", "18.1", Looked { assistant: false, asked_before: false });
        assert_eq!(threads.assistant_thread(&t("slack:T1:D1:18.1")), None, "an ordinary one");
        assert_eq!(threads.is_assistant("D1", "18.1"), Some(false));
        // Said to be one after a restart: its first question titles it, a later one not.
        threads.looked_up("D1", "19.1", Looked { assistant: true, asked_before: false });
        assert!(threads.take_title("D1", "19.1"));
        threads.looked_up("D1", "20.1", Looked { assistant: true, asked_before: true });
        assert!(!threads.take_title("D1", "20.1"));
    }

    #[test]
    fn the_memory_starts_over_only_for_a_thread_past_the_bound() {
        let threads = Threads::default();
        let looked = || Looked { assistant: true, asked_before: true };
        for i in 0..MAX_THREADS {
            threads.looked_up("D1", &i.to_string(), looked());
        }
        threads.looked_up("D1", "0", looked());
        assert_eq!(threads.is_assistant("D1", "1"), Some(true), "a known thread kept the rest");
        threads.looked_up("D1", "new", looked());
        assert_eq!(threads.is_assistant("D1", "1"), None, "a new one past the bound starts over");
        assert_eq!(threads.is_assistant("D1", "new"), Some(true));
    }
}
