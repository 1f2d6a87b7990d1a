//! The fault campaign: many user questions through the real Slack and Discord adapters,
//! against the SiteAssist simulator and the fake platforms on 127.0.0.1, with faults
//! injected at random from a seed, ending in one line:
//!
//! `events=N answered=N errors_explained=N duplicates=0 lost=0 stuck=0 unexpected=0 unused_faults=0`
//!
//! Each question is a top-level mention in its own thread (on Slack its ts older than
//! any the fake mints for the bot, as a question is older than its answer), so the
//! outcome is read off the fake, which keeps what a user would see:
//! - **answered**: the bot's one message in the thread is the whole answer;
//! - **errors_explained**: its one message carries a notice (`⚠️ …`: an error, or a
//!   partial answer marked as cut short);
//! - **duplicates**: bot messages beyond the first in a thread, or outside every
//!   question's thread;
//! - **lost**: a thread the bot never posted in;
//! - **stuck**: a thread still showing the placeholder or an unmarked partial answer
//!   when everything has had time to finish;
//! - **unexpected**: a question whose outcome is not the one the faults that hit it
//!   imply (see [`Expected`]): faults are recorded where they take effect, by the
//!   question they hit, so a question hit only by recoverable faults must be answered
//!   and a notice must name the cause injected;
//! - **unused_faults**: faults queued that never took effect.
//!
//! The phases share the accounting. [`in_process`] runs the Slack bridge inside this
//! process (its Socket Mode listener, core and sled store), which allows many events
//! quickly; [`with_kills`] runs the real binary as a child and SIGKILLs it mid-stream,
//! restarts it on the same sled directory and redelivers what it never acknowledged, as
//! Slack does; [`discord::discord`] does for the Discord adapter (serenity's gateway
//! client against the fake Discord, with reconnects, resumes and an invalidated
//! session) what [`in_process`] does for Slack, and [`discord::with_kills`] what
//! [`with_kills`] does. Used by `tests/chaos.rs` (small) and `examples/chaos.rs` (full
//! size).
#![allow(dead_code)]

pub mod discord;
pub mod handoff;

use crate::fake_slack::{self, app_mention, message, FailKind, FakeSlack, SlackLimits};
use siteassist_bridge::adapters::slack::config::{SlackMode, SlackSettings};
use siteassist_bridge::adapters::slack::format::to_slack;
use siteassist_bridge::adapters::slack::SlackBridge;
use siteassist_bridge::bridge::BridgeConfig;
use siteassist_bridge::simulator::{answer_for, Fault, RunningSimulator};
use siteassist_bridge::siteassist::client::Client;
use siteassist_bridge::store::{SledStore, Store};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// The bridge's placeholder (its default `bridge.placeholder`).
const PLACEHOLDER: &str = "Thinking…";
/// Every notice the bridge posts starts with this (see `bridge::notice`).
const NOTICE: &str = "⚠️";
/// How long the campaign waits, after the last event, for every thread to settle.
const SETTLE_LIMIT: Duration = Duration::from_secs(90);
/// How long one step (an acknowledgement, a reconnection, a free slot) may take.
const STEP_LIMIT: Duration = Duration::from_secs(30);

/// Questions with short answers (one Slack message each), FAQ hits and the fallback.
const QUESTIONS: &[&str] = &[
    "How do I reset my password?",
    "Where do I find my API key?",
    "How do I delete my account?",
    "Can I get a refund?",
    "How can I contact support?",
    "What is the airspeed velocity of an unladen swallow?",
];

/// Attempts the bridge makes at sending a question to SiteAssist, in every phase (its
/// `siteassist.max_attempts`).
const MAX_ATTEMPTS: usize = 3;
/// What the bridge shows on a reply a kill interrupted (see `notice::interrupted`).
const RESTARTED: &str = "because the bridge restarted";
/// Platform failures (429s, 5xxs) queued at once per call kind, at most: one call meets
/// at most this many in a row, fewer than the bridge retries (`platform_retry`), so a
/// platform failure never changes a question's outcome, only its timing.
const MAX_QUEUED_PLATFORM_FAILURES: usize = 3;

/// The limits phase's channels and askers: few, so that limits bite.
const CROWDED_CHANNELS: usize = 12;
const CROWDED_USERS: usize = 6;
/// The limits phase's question limits (per minute).
const CROWDED_USER_LIMIT: usize = 5;
const CROWDED_CHANNEL_LIMIT: usize = 3;
/// Every question-limit notice contains this (see `notice::rate_limited`).
const LIMITED: &str = "asking faster than I can answer";

/// Question `i`'s text: one of [`QUESTIONS`], tagged with `i` (the tag changes no
/// answer) so that the simulator's record of which request a fault hit names the
/// question.
fn question_text(rng: &mut Rng, i: usize) -> String {
    format!("{} (q{i})", QUESTIONS[rng.below(QUESTIONS.len())])
}

/// What a question's thread must show, derived from the SiteAssist faults that hit its
/// requests.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Expected {
    /// The whole answer, in one message.
    Answer,
    /// One message whose last part is a notice containing this (the cause named).
    Notice(&'static str),
}

impl Expected {
    /// Follows the client's retry policy over the faults that hit one question, in
    /// order: 429 and 503 are sent again (up to [`MAX_ATTEMPTS`]), other errors are
    /// final, an error or abort mid-stream leaves a partial answer marked as cut short,
    /// and a stall, a drop or a slow start cost time only (generation goes on, so the
    /// bridge fetches the whole answer).
    fn from_faults(faults: &[Fault]) -> Self {
        for (attempt, fault) in faults.iter().enumerate() {
            let last = attempt + 1 >= MAX_ATTEMPTS;
            let notice = match fault {
                Fault::RateLimited { .. } | Fault::Unavailable { .. } if !last => continue,
                Fault::RateLimited { .. } => "SiteAssist is busy right now",
                Fault::Unavailable { .. } | Fault::Internal | Fault::BadGateway => {
                    "SiteAssist is unavailable right now"
                }
                Fault::ErrorChunk { .. } => "cut short: SiteAssist reported an error",
                Fault::Abort { .. } => "cut short: SiteAssist stopped answering",
                Fault::Stall { .. } | Fault::Drop { .. } | Fault::SlowFirstByte { .. } => {
                    return Expected::Answer
                }
                other => panic!("the campaign does not inject {other:?}"),
            };
            return Expected::Notice(notice);
        }
        Expected::Answer
    }

    fn met_by(&self, texts: &[String], answer: &str) -> bool {
        match self {
            Expected::Answer => texts.concat() == answer,
            Expected::Notice(cause) => {
                texts.last().is_some_and(|t| t.contains(NOTICE) && t.contains(cause))
            }
        }
    }
}

/// The SiteAssist faults that took effect, by the question (its text) they hit.
fn siteassist_hits(sim: &RunningSimulator) -> HashMap<String, Vec<Fault>> {
    let mut by_question: HashMap<String, Vec<Fault>> = HashMap::new();
    for hit in sim.sim.fault_hits() {
        let question = hit.content.unwrap_or_default();
        by_question.entry(question).or_default().push(hit.fault);
    }
    by_question
}

/// What one question's thread showed against what its faults say it must show.
struct Judged<'a> {
    /// The bot's messages in the thread, oldest first.
    texts: Vec<String>,
    /// The whole answer, as the platform renders it.
    answer: String,
    /// SiteAssist faults that hit the question, in order.
    faults: &'a [Fault],
    /// Platform failures that hit its calls (they cost time, never the answer).
    platform_failures: usize,
    /// True when a kill came while it was unsettled: its reply may instead end with
    /// the bridge's "restarted" note.
    interrupted: bool,
    /// True when enough questions of its channel or asker came before it that the
    /// bridge's question limits may refuse it (with one notice, or silently after one).
    may_be_limited: bool,
}

impl Judged<'_> {
    /// Adds the question to `report`; a line for `problems` when it is not as expected.
    fn account(&self, report: &mut Report, what: &str) -> Option<String> {
        report.events += 1;
        let limit_notice = matches!(self.texts.as_slice(), [one] if one.contains(LIMITED));
        if self.may_be_limited && (self.texts.is_empty() || limit_notice) {
            report.limited += 1;
            return None;
        }
        let (state, count) = classify(&self.texts, &self.answer);
        if count > 1 {
            report.duplicates += count - 1;
        }
        let expected = Expected::from_faults(self.faults);
        match state {
            Shown::Answer => report.answered += 1,
            Shown::Explained => report.errors_explained += 1,
            Shown::Nothing => report.lost += 1,
            Shown::Unfinished => report.stuck += 1,
        }
        let as_expected = expected.met_by(&self.texts, &self.answer)
            || (self.interrupted && Expected::Notice(RESTARTED).met_by(&self.texts, &self.answer));
        if matches!(state, Shown::Answer | Shown::Explained) && !as_expected {
            report.unexpected += 1;
        }
        match state {
            _ if count > 1 => Some(format!("duplicate: {what}: {:?}", self.texts)),
            Shown::Nothing => Some(format!("lost: {what}")),
            Shown::Unfinished => Some(format!("stuck: {what}: {:?}", self.texts)),
            _ if !as_expected => Some(format!(
                "unexpected: {what}: hit by {:?} and {} platform failure(s){}, so expected \
                 {expected:?}, shows {:?}",
                self.faults,
                self.platform_failures,
                if self.interrupted { ", interrupted by a kill" } else { "" },
                self.texts
            )),
            _ => None,
        }
    }
}

/// For each question (in the order sent), whether as many questions of its channel, or
/// of its asker, came before it as the limits phase allows a minute: only those may be
/// refused by the bridge's question limits.
fn past_allowance<'a, Q>(
    questions: &'a [Q],
    keys: impl Fn(&'a Q) -> (&'a str, &'a str),
) -> Vec<bool> {
    let (mut by_channel, mut by_user) = (HashMap::new(), HashMap::new());
    questions
        .iter()
        .map(|q| {
            let (channel, user) = keys(q);
            let c: &mut usize = by_channel.entry(channel).or_default();
            let u: &mut usize = by_user.entry(user).or_default();
            let past = *c >= CROWDED_CHANNEL_LIMIT || *u >= CROWDED_USER_LIMIT;
            *c += 1;
            *u += 1;
            past
        })
        .collect()
}

/// SplitMix64: a reproducible stream from the seed, without a dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn percent(&mut self, p: usize) -> bool {
        self.below(100) < p
    }
}

/// One user question: a top-level mention in its own channel (so the per-channel edit
/// budget, one action a second, is not what the campaign measures).
#[derive(Clone, Debug)]
struct Question {
    channel: String,
    user: String,
    ts: String,
    text: String,
    event_id: String,
}

impl Question {
    fn new(phase: &str, i: usize, rng: &mut Rng) -> Self {
        let phase_no = if phase == "kill" { 1 } else { 0 };
        Self {
            channel: format!("C{phase_no}{i:06}"),
            user: format!("U{phase_no}{i:06}"),
            ts: format!("{}.{:06}", 1_600_000_000 + phase_no * 1000 + i / 1_000_000, i % 1_000_000),
            text: question_text(rng, i),
            event_id: format!("Ev{phase_no}{i:06}"),
        }
    }

    /// Question `i` of the limits phase: in one of [`CROWDED_CHANNELS`] channels, by one
    /// of [`CROWDED_USERS`] users, so that the question limits and the budgets bite.
    fn crowded(i: usize, rng: &mut Rng) -> Self {
        Self {
            channel: format!("C2{:06}", rng.below(CROWDED_CHANNELS)),
            user: format!("U2{:06}", rng.below(CROWDED_USERS)),
            ts: format!("1600002000.{i:06}"),
            text: question_text(rng, i),
            event_id: format!("Ev2{i:06}"),
        }
    }

    fn mention(&self) -> serde_json::Value {
        let text = format!("<@{}> {}", fake_slack::BOT_USER_ID, self.text);
        app_mention(&self.event_id, &self.channel, &self.user, &text, &self.ts, None)
    }

    /// The `message.channels` event Slack sends for the same post (new event id).
    fn as_message_event(&self) -> serde_json::Value {
        let text = format!("<@{}> {}", fake_slack::BOT_USER_ID, self.text);
        let event_id = format!("{}m", self.event_id);
        message(&event_id, &self.channel, &self.user, &text, &self.ts, None)
    }

    fn expected(&self) -> String {
        to_slack(&answer_for(&self.text))
    }
}

/// What a thread shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shown {
    Nothing,
    Answer,
    Explained,
    Unfinished,
}

/// What a thread whose bot messages show `texts` (oldest first) tells its asker, and
/// how many bot messages it holds. Shared by every phase.
fn classify(texts: &[String], expected: &str) -> (Shown, usize) {
    let Some(last) = texts.last() else { return (Shown::Nothing, 0) };
    let state = if texts.concat() == expected {
        Shown::Answer
    } else if last.contains(NOTICE) {
        Shown::Explained
    } else {
        Shown::Unfinished
    };
    (state, texts.len())
}

fn shown(slack: &FakeSlack, q: &Question) -> (Shown, usize) {
    let texts: Vec<String> =
        slack.messages_in_thread(&q.channel, &q.ts).into_iter().map(|(_, t)| t).collect();
    classify(&texts, &q.expected())
}

/// The SiteAssist client every phase uses: quick retries, a short idle timeout (so a
/// stalled stream is given up in 700 ms). The timeout also bounds the wait for a
/// stream's headers, so it keeps a wide margin over the slow-first-byte fault (300 ms):
/// at 400 ms, two busy cores (answers streaming, handoff relays listening) once pushed
/// a slow start past it, and an answer the faults allowed became a notice.
fn campaign_client(sim: &RunningSimulator) -> Client {
    crate::support::client_idle(sim, 3, Duration::from_millis(700))
}

/// The core's settings for every phase: quick edits, and no per-user or per-channel
/// question limits (each question has its own asker and channel; the limits have
/// their own tests).
fn campaign_config() -> BridgeConfig {
    BridgeConfig {
        edit_interval: Duration::from_millis(100),
        user_questions_per_minute: 0,
        channel_questions_per_minute: 0,
        ..BridgeConfig::default()
    }
}

fn settled(slack: &FakeSlack, q: &Question) -> bool {
    matches!(shown(slack, q).0, Shown::Answer | Shown::Explained)
}

/// The campaign's figures.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub events: usize,
    pub answered: usize,
    pub errors_explained: usize,
    pub duplicates: usize,
    pub lost: usize,
    pub stuck: usize,
    /// Questions answered or explained otherwise than the faults that hit them say: an
    /// answer where a notice was due, a notice naming another cause, or a notice where
    /// only recoverable faults hit.
    pub unexpected: usize,
    /// Questions the bridge's own question limits refused, each past its allowance.
    pub limited: usize,
    /// Faults queued that no request took: they were counted as injected but never hit.
    pub unused_faults: usize,
    /// Faults injected, by kind.
    pub injected: BTreeMap<String, usize>,
}

impl Report {
    /// True when nothing was lost, doubled or left unfinished.
    pub fn clean(&self) -> bool {
        self.duplicates == 0
            && self.lost == 0
            && self.stuck == 0
            && self.unexpected == 0
            && self.unused_faults == 0
    }

    /// Adds another phase's figures.
    pub fn merge(&mut self, other: &Report) {
        self.events += other.events;
        self.answered += other.answered;
        self.errors_explained += other.errors_explained;
        self.duplicates += other.duplicates;
        self.lost += other.lost;
        self.stuck += other.stuck;
        self.unexpected += other.unexpected;
        self.limited += other.limited;
        self.unused_faults += other.unused_faults;
        for (k, v) in &other.injected {
            *self.injected.entry(k.clone()).or_default() += v;
        }
    }

    fn inject(&mut self, kind: &str) {
        *self.injected.entry(kind.to_string()).or_default() += 1;
    }

    /// The faults, one `kind=count` per entry, for the log.
    pub fn faults_line(&self) -> String {
        self.injected.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
    }

    /// Reads every question's thread off the fake Slack and judges it against the faults
    /// that hit it (`interrupted`: indices of questions a kill came upon unsettled).
    fn account(
        &mut self,
        slack: &FakeSlack,
        sim: &RunningSimulator,
        questions: &[Question],
        interrupted: &HashSet<usize>,
        limits_on: bool,
    ) -> Vec<String> {
        let mut problems = Vec::new();
        // A bot post outside every question's thread is one the asker did not ask for
        // (a reply posted at the channel's top level, or in the wrong thread).
        let threads: HashSet<(&str, &str)> =
            questions.iter().map(|q| (q.channel.as_str(), q.ts.as_str())).collect();
        for m in slack.messages() {
            let thread = m.thread_ts.as_deref().unwrap_or("");
            if !threads.contains(&(m.channel.as_str(), thread)) {
                self.duplicates += 1;
                problems
                    .push(format!("stray post in {} ({:?}): {:?}", m.channel, m.thread_ts, m.text));
            }
        }
        let faults = siteassist_hits(sim);
        let mut platform: HashMap<String, usize> = HashMap::new();
        for (_, channel) in slack.failure_hits() {
            *platform.entry(channel.unwrap_or_default()).or_default() += 1;
        }
        let limitable = past_allowance(questions, |q| (q.channel.as_str(), q.user.as_str()));
        for (i, q) in questions.iter().enumerate() {
            let judged = Judged {
                texts: slack
                    .messages_in_thread(&q.channel, &q.ts)
                    .into_iter()
                    .map(|(_, t)| t)
                    .collect(),
                answer: q.expected(),
                faults: faults.get(&q.text).map_or(&[], Vec::as_slice),
                platform_failures: platform.get(&q.channel).copied().unwrap_or(0),
                interrupted: interrupted.contains(&i),
                may_be_limited: limits_on && limitable[i],
            };
            problems.extend(judged.account(self, &format!("{:?} in {}", q.text, q.channel)));
        }
        problems
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "events={} answered={} errors_explained={} limited={} duplicates={} lost={} stuck={} unexpected={} unused_faults={}",
            self.events,
            self.answered,
            self.errors_explained,
            self.limited,
            self.duplicates,
            self.lost,
            self.stuck,
            self.unexpected,
            self.unused_faults
        )
    }
}

/// A SiteAssist fault, picked at random, with its report label.
fn siteassist_fault(rng: &mut Rng, idle_stall: bool) -> (Fault, &'static str) {
    let words = 1 + rng.below(4);
    match rng.below(10) {
        0 => (Fault::RateLimited { retry_after_secs: 1 }, "siteassist_429"),
        1 => (Fault::Internal, "siteassist_500"),
        2 => (Fault::BadGateway, "siteassist_502"),
        3 => (Fault::Unavailable { retry_after_secs: 1 }, "siteassist_503"),
        4 => (Fault::ErrorChunk { after_words: words }, "siteassist_error_chunk"),
        5 => (Fault::Abort { after_words: words }, "siteassist_abort"),
        6 if idle_stall => (Fault::Stall { after_words: words }, "siteassist_stall"),
        6 | 7 => (Fault::Drop { after_words: words }, "siteassist_drop"),
        _ => (Fault::SlowFirstByte { delay_ms: 300 }, "siteassist_slow_first_byte"),
    }
}

/// A Slack Web API failure, picked at random: 429s, transient `ok:false` answers and
/// 5xxs, one of which comes after the call took effect.
fn slack_fault(rng: &mut Rng) -> (&'static str, FailKind, &'static str) {
    let method = if rng.percent(50) { "chat.postMessage" } else { "chat.update" };
    match rng.below(5) {
        0 => (method, FailKind::RateLimited { retry_after_secs: 1 }, "slack_429"),
        1 => (method, FailKind::Error("internal_error"), "slack_ok_false_internal_error"),
        2 => (method, FailKind::Error("service_unavailable"), "slack_ok_false_unavailable"),
        // Done, then answered 500: the retry must not post the message a second time.
        3 => (method, FailKind::StatusAfterEffect(500), "slack_http_500_after_effect"),
        _ => (method, FailKind::Status(503), "slack_http_503"),
    }
}

/// Injects what event `i` gets, at random: a SiteAssist fault (45 %), a Slack failure
/// (12 %). Faults are queued and hit the next request of their kind, whichever
/// question it belongs to: with several questions in flight, that is random too.
fn inject(rng: &mut Rng, sim: &RunningSimulator, slack: &FakeSlack, report: &mut Report) {
    maybe_siteassist_fault(rng, sim, report);
    if rng.percent(12) {
        let (method, kind, label) = slack_fault(rng);
        if slack.queued_failures_for(method) < MAX_QUEUED_PLATFORM_FAILURES {
            slack.fail_next(method, kind);
            report.inject(label);
        }
    }
}

/// Queues a SiteAssist fault for 45 % of events (every phase draws them the same way).
fn maybe_siteassist_fault(rng: &mut Rng, sim: &RunningSimulator, report: &mut Report) {
    if rng.percent(45) {
        let (fault, label) = siteassist_fault(rng, true);
        sim.sim.push_fault(fault);
        report.inject(label);
    }
}

/// Waits until fewer than `limit` of `questions` are unsettled, unless an earlier wait
/// already gave up (`jammed`): a bridge that stops settling questions must show as the
/// counters that moved (stuck, lost), not as a panic here, and once jammed the phase
/// sends the rest without waiting, so a broken bridge costs one [`STEP_LIMIT`], not one
/// per question.
async fn wait_for_room(slack: &FakeSlack, questions: &[Question], limit: usize, jammed: &mut bool) {
    if *jammed {
        return;
    }
    let what = format!("fewer than {limit} unanswered questions");
    let room = slack.wait_until_within(&what, STEP_LIMIT * 2, |f| {
        questions.iter().rev().take(limit * 4).filter(|q| !settled(f, q)).count() < limit
    });
    *jammed = tokio::time::timeout(STEP_LIMIT, room).await.is_err();
}

/// Waits (up to [`SETTLE_LIMIT`]) until every question is answered or explained; what
/// is not by then counts as stuck. Never panics: the report says what happened.
async fn settle(slack: &FakeSlack, questions: &[Question]) {
    // The fake's own limit is longer, so the outer timeout ends the wait, not a panic
    // (with the same limit the fake's panic won the race, and a broken bridge showed as
    // a timeout instead of as the counter that moved).
    let _ = tokio::time::timeout(SETTLE_LIMIT, async {
        slack
            .wait_until_within("every thread settled", SETTLE_LIMIT * 2, |f| {
                questions.iter().all(|q| settled(f, q))
            })
            .await
    })
    .await;
}

/// The fake Slack with its `chat.update` limit raised to match the bridge's budget
/// below: the campaign checks outcomes under faults, not pacing (the Slack e2e tests
/// keep Slack's 50 a minute).
async fn campaign_slack() -> FakeSlack {
    let slack = FakeSlack::start().await;
    slack.set_limits(SlackLimits { updates_per_window: 1_000_000, ..SlackLimits::default() });
    slack
}

/// The fake's settings, with a budget that never holds a campaign back (the campaign
/// checks outcomes, not pacing).
fn slack_settings(slack: &FakeSlack) -> SlackSettings {
    SlackSettings { edit_budget_per_minute: 1_000_000, ..slack.bridge_settings(SlackMode::Socket) }
}

/// The Slack bridge serving Socket Mode in this process, on a sled store of its own.
struct InProcessSlack {
    app: Arc<SlackBridge>,
    stop: tokio::sync::oneshot::Sender<()>,
    serving: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl InProcessSlack {
    /// Connects to the fake Slack and serves until [`Self::stop`].
    async fn start(
        slack: &FakeSlack,
        settings: &SlackSettings,
        client: Client,
        cfg: BridgeConfig,
    ) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let store: Arc<dyn Store> =
            Arc::new(SledStore::open(dir.path().join("store")).expect("store opens"));
        let app = Arc::new(
            SlackBridge::connect(settings, store, client, cfg)
                .await
                .expect("connects to the fake Slack"),
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn({
            let app = app.clone();
            async move {
                let _ = app
                    .serve_socket_mode(async {
                        let _ = stopped.await;
                    })
                    .await;
            }
        });
        slack.wait_for_socket_connections(1).await;
        Self { app, stop, serving, _dir: dir }
    }

    /// Stops taking events, then lets queued replies finish for up to `grace`.
    async fn stop(self, grace: Duration) {
        let _ = self.stop.send(());
        let _ = self.serving.await;
        self.app.bridge().shutdown(grace).await;
    }
}

/// Phase one: `events` questions through the bridge running in this process, at most
/// `concurrency` unanswered at a time, with SiteAssist faults, Slack failures and
/// duplicate deliveries (Slack's retry of the same envelope; the `message` event for
/// the same post, with a new event id; redelivery after a Socket Mode reconnect).
pub async fn in_process(seed: u64, events: usize, concurrency: usize) -> (Report, Vec<String>) {
    let mut rng = Rng::new(seed);
    let mut report = Report::default();
    let sim = crate::support::simulator(1).await;
    let slack = campaign_slack().await;
    let bridge = InProcessSlack::start(
        &slack,
        &slack_settings(&slack),
        campaign_client(&sim),
        campaign_config(),
    )
    .await;

    let mut questions = Vec::with_capacity(events);
    // Every envelope sent, with how many times: each delivery must be acknowledged.
    let mut deliveries: HashMap<String, usize> = HashMap::new();
    let mut jammed = false;
    for i in 0..events {
        let q = Question::new("inproc", i, &mut rng);
        inject(&mut rng, &sim, &slack, &mut report);
        let envelope = slack.send_socket_event(q.mention());
        *deliveries.entry(envelope.clone()).or_default() += 1;
        match rng.below(100) {
            // Slack's retry of an envelope it thinks was not acknowledged in time.
            0..=6 => {
                slack.wait_for_ack(&envelope).await;
                slack.redeliver(&envelope);
                *deliveries.entry(envelope).or_default() += 1;
                report.inject("duplicate_same_event_id");
            }
            // Slack's second event for the same post (`message.channels`).
            7..=13 => {
                let second = slack.send_socket_event(q.as_message_event());
                *deliveries.entry(second).or_default() += 1;
                report.inject("duplicate_new_event_id");
            }
            // The connection is refreshed and the envelope comes again on the new one.
            14 if report.injected.get("duplicate_after_reconnect").copied().unwrap_or(0) < 5 => {
                slack.wait_for_ack(&envelope).await;
                slack.disconnect_socket("refresh_requested");
                slack.wait_for_socket_connections(1).await;
                slack.redeliver(&envelope);
                *deliveries.entry(envelope).or_default() += 1;
                report.inject("duplicate_after_reconnect");
            }
            _ => {}
        }
        questions.push(q);
        wait_for_room(&slack, &questions, concurrency, &mut jammed).await;
    }
    settle(&slack, &questions).await;
    // Every delivery, duplicates included, was taken and acknowledged before counting:
    // a duplicate still in flight could otherwise post after the count.
    slack
        .wait_until_within("every delivery acknowledged", STEP_LIMIT, |f| {
            let mut acked: HashMap<String, usize> = HashMap::new();
            for a in f.acks() {
                *acked.entry(a).or_default() += 1;
            }
            deliveries.iter().all(|(e, n)| acked.get(e).copied().unwrap_or(0) >= *n)
        })
        .await;
    // Stopped (its queues drained) before counting, so nothing posts after the count.
    bridge.stop(Duration::from_secs(5)).await;
    report.unused_faults += sim.sim.queued_faults() + slack.queued_failures();
    let problems = report.account(&slack, &sim, &questions, &HashSet::new(), false);
    drop(sim);
    (report, problems)
}

/// The limits phase: `events` questions sent at once into [`CROWDED_CHANNELS`]
/// channels by [`CROWDED_USERS`] askers, with the bridge's question limits on, Slack's
/// `chat.update` limit squeezed to 20 per 5 s (Slack's 50 a minute, in less time), and
/// the bridge's workspace budget at the same rate over a minute (240), so its bursts
/// meet Slack's 429s, and the question limits bite; SiteAssist
/// faults as in the other phases. Every question within its allowance must still end
/// exactly as its faults say (a 429 costs time, never an answer); one past it may be
/// refused, with one notice or silently.
pub async fn limits(seed: u64, events: usize) -> (Report, Vec<String>) {
    let mut rng = Rng::new(seed ^ 0x6c69_6d69_7473);
    let mut report = Report::default();
    // Words a little slower, so answers take a few edits each.
    let sim = crate::support::simulator(10).await;
    let slack = FakeSlack::start().await;
    let squeezed = SlackLimits {
        updates_per_window: 20,
        update_window: Duration::from_secs(5),
        ..SlackLimits::default()
    };
    slack.set_limits(squeezed);
    let settings =
        SlackSettings { edit_budget_per_minute: 240, ..slack.bridge_settings(SlackMode::Socket) };
    let cfg = BridgeConfig {
        edit_interval: Duration::from_millis(100),
        user_questions_per_minute: CROWDED_USER_LIMIT as u32,
        channel_questions_per_minute: CROWDED_CHANNEL_LIMIT as u32,
        ..BridgeConfig::default()
    };
    let bridge = InProcessSlack::start(&slack, &settings, campaign_client(&sim), cfg).await;

    let questions: Vec<Question> = (0..events).map(|i| Question::crowded(i, &mut rng)).collect();
    let limitable = past_allowance(&questions, |q| (q.channel.as_str(), q.user.as_str()));
    let mut envelopes = Vec::with_capacity(events);
    for (q, limitable) in questions.iter().zip(&limitable) {
        // Faults only with questions sure to reach SiteAssist: a refused one sends
        // nothing, and its fault would be left unused (seed 31 showed it).
        if !limitable {
            maybe_siteassist_fault(&mut rng, &sim, &mut report);
        }
        envelopes.push(slack.send_socket_event(q.mention()));
    }
    let acked = |f: &FakeSlack| {
        let acks: HashSet<String> = f.acks().into_iter().collect();
        envelopes.iter().all(|e| acks.contains(e))
    };
    slack.wait_until_within("every envelope acknowledged", STEP_LIMIT, acked).await;
    // The questions within their allowance must all settle; the others may never
    // show anything. Then the bridge finishes what it has and stops.
    let due: Vec<Question> =
        questions.iter().zip(&limitable).filter(|(_, l)| !**l).map(|(q, _)| q.clone()).collect();
    settle(&slack, &due).await;
    bridge.stop(SETTLE_LIMIT).await;
    report.unused_faults += sim.sim.queued_faults() + slack.queued_failures();
    let budget_429s = slack
        .calls()
        .iter()
        .filter(|c| c.method == "chat.update" && c.error.as_deref() == Some("ratelimited"))
        .count();
    for _ in 0..budget_429s {
        report.inject("slack_update_limit_429");
    }
    let mut problems = report.account(&slack, &sim, &questions, &HashSet::new(), true);
    // The phase is for limits that bite; one where they did not tested nothing.
    if budget_429s == 0 || report.limited == 0 {
        report.unexpected += 1;
        problems.push(format!(
            "the limits did not bite: {budget_429s} chat.update 429s, {} questions limited",
            report.limited
        ));
    }
    (report, problems)
}

/// The bridge binary as a child process, against the simulator and a fake platform.
struct BridgeProcess {
    child: Child,
}

impl BridgeProcess {
    /// Starts the binary on `store`, with the campaign's SiteAssist and core settings and
    /// the platform's `env`.
    fn start(binary: &Path, store: &Path, sim: &RunningSimulator, env: &[(&str, String)]) -> Self {
        let child = Command::new(binary)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("SITEASSIST_BRIDGE__STORE__PATH", store)
            .env("SITEASSIST_BRIDGE__SITEASSIST__API_URL", &sim.base_url)
            .env("SITEASSIST_BRIDGE__SITEASSIST__IDLE_TIMEOUT_SECS", "1")
            .env("SITEASSIST_BRIDGE__SITEASSIST__MAX_ATTEMPTS", MAX_ATTEMPTS.to_string())
            .env("SITEASSIST_BRIDGE__SITEASSIST__MAX_RETRY_WAIT_SECS", "2")
            .env("SITEASSIST_PUBLISHABLE_KEY", "pk_test_chaos")
            .env("SITEASSIST_BRIDGE__BRIDGE__EDIT_INTERVAL_MS", "100")
            .env("SITEASSIST_BRIDGE__BRIDGE__USER_QUESTIONS_PER_MINUTE", "0")
            .env("SITEASSIST_BRIDGE__BRIDGE__CHANNEL_QUESTIONS_PER_MINUTE", "0")
            .env("SITEASSIST_BRIDGE__SERVER__LISTEN", "127.0.0.1:0")
            .env("SITEASSIST_BRIDGE__LOG__LEVEL", "warn")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the bridge binary starts");
        Self { child }
    }

    /// Socket Mode against the fake Slack.
    fn slack(binary: &Path, store: &Path, sim: &RunningSimulator, slack: &FakeSlack) -> Self {
        Self::slack_with(binary, store, sim, slack, &[])
    }

    /// Socket Mode against the fake Slack, with `extra` settings.
    fn slack_with(
        binary: &Path,
        store: &Path,
        sim: &RunningSimulator,
        slack: &FakeSlack,
        extra: &[(&str, String)],
    ) -> Self {
        let mut env = vec![
            ("SITEASSIST_BRIDGE__SLACK__ENABLED", "true".to_string()),
            ("SITEASSIST_BRIDGE__SLACK__MODE", "socket".to_string()),
            // The edit path: these runs check answers by their rendered text and count
            // edits; native streams, and their recovery after a kill, are tested in
            // tests/slack_streaming.rs.
            ("SITEASSIST_BRIDGE__SLACK__STREAMING", "edit".to_string()),
            ("SITEASSIST_BRIDGE__SLACK__API_URL", slack.api_url()),
            ("SITEASSIST_BRIDGE__SLACK__EDIT_BUDGET_PER_MINUTE", "1000000".to_string()),
            ("SLACK_BOT_TOKEN", fake_slack::BOT_TOKEN.to_string()),
            ("SLACK_APP_TOKEN", fake_slack::APP_TOKEN.to_string()),
        ];
        env.extend(extra.iter().cloned());
        Self::start(binary, store, sim, &env)
    }

    /// The child's process id (to read its memory and CPU time off `/proc`).
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no destructor, no flush, no goodbye to the platform.
    fn kill_9(&mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }

    /// SIGTERM (through kill(1), to stay free of `unsafe`), then waits for the graceful
    /// shutdown.
    fn terminate(mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

impl Drop for BridgeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits (a while) for an answer to be streaming, runs `kill`, and says whether the
/// kill came mid-stream: whether the simulator saw a stream's reader go away.
async fn kill_mid_stream(sim: &RunningSimulator, kill: impl FnOnce()) -> &'static str {
    let streaming = sim.sim.wait_until(|s| s.open_streams() > 0);
    let _ = tokio::time::timeout(STEP_LIMIT, streaming).await;
    let aborts_before = sim.sim.client_aborts();
    kill();
    let cut = sim.sim.wait_until(|s| s.client_aborts() > aborts_before);
    match tokio::time::timeout(Duration::from_secs(5), cut).await {
        Ok(()) => "kill_9_mid_stream",
        Err(_) => "kill_9_between_streams",
    }
}

/// Sends again, as Slack does, every envelope the bridge never acknowledged.
fn redeliver_unacked(slack: &FakeSlack, sent: &[String], report: &mut Report) {
    let acked: HashSet<String> = slack.acks().into_iter().collect();
    for envelope in sent.iter().filter(|e| !acked.contains(*e)) {
        slack.redeliver(envelope);
        report.inject("redelivery_after_kill");
    }
}

/// Phase two: `events` questions through the real binary, SIGKILLed `kills` times while
/// answers stream, each time restarted on the same store, with SiteAssist faults as in
/// [`in_process`] and Slack's redelivery of unacknowledged envelopes after each restart.
pub async fn with_kills(
    binary: &Path,
    seed: u64,
    events: usize,
    kills: usize,
) -> (Report, Vec<String>) {
    let mut rng = Rng::new(seed ^ 0x6b69_6c6c);
    let mut report = Report::default();
    // Slower words, so answers are still streaming when the kill comes.
    let sim = crate::support::simulator(15).await;
    let slack = campaign_slack().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let store: PathBuf = dir.path().join("store");
    let mut bridge = BridgeProcess::slack(binary, &store, &sim, &slack);
    slack.wait_for_socket_connections(1).await;

    let every = (events / (kills + 1)).max(1);
    let mut questions = Vec::with_capacity(events);
    let mut envelopes = Vec::with_capacity(events);
    let mut killed = 0;
    // Questions a kill came upon before they settled.
    let mut interrupted = HashSet::new();
    let mut jammed = false;
    for i in 0..events {
        let q = Question::new("kill", i, &mut rng);
        inject(&mut rng, &sim, &slack, &mut report);
        envelopes.push(slack.send_socket_event(q.mention()));
        questions.push(q);
        if (i + 1) % every == 0 && killed < kills {
            let connections_before = slack.socket_connections_total();
            let label = kill_mid_stream(&sim, || {
                interrupted
                    .extend((0..questions.len()).filter(|&n| !settled(&slack, &questions[n])));
                bridge.kill_9();
            })
            .await;
            killed += 1;
            report.inject(label);
            bridge = BridgeProcess::slack(binary, &store, &sim, &slack);
            slack
                .wait_until_within("the restarted bridge's connection", STEP_LIMIT, |f| {
                    f.socket_connections_total() > connections_before
                })
                .await;
            redeliver_unacked(&slack, &envelopes, &mut report);
        } else {
            wait_for_room(&slack, &questions, 8, &mut jammed).await;
        }
    }
    settle(&slack, &questions).await;
    let acked = |f: &FakeSlack| {
        let acks: HashSet<String> = f.acks().into_iter().collect();
        envelopes.iter().all(|e| acks.contains(e))
    };
    slack.wait_until_within("every envelope acknowledged", STEP_LIMIT, acked).await;
    bridge.terminate();
    report.unused_faults += sim.sim.queued_faults() + slack.queued_failures();
    let problems = report.account(&slack, &sim, &questions, &interrupted, false);
    (report, problems)
}
