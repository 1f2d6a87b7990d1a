//! The Discord phase: questions through the real Discord adapter (serenity's gateway
//! client, the adapter's REST calls, the core) against the fake Discord on 127.0.0.1,
//! with SiteAssist faults, Discord REST failures and duplicate deliveries injected at
//! random from the seed, accounted as the Slack phases are.
//!
//! Each question is a mention of the bot by a user of its own, posted in `#support`:
//! the adapter opens a thread on the message (the thread has the message's id), so the
//! reply is read off the fake as the bot messages in that thread.
//!
//! Duplicates and gateway trouble come the ways Discord has them: the same
//! MESSAGE_CREATE twice (at once, or once the bot has taken it), and a few times per
//! run a gateway disconnection: a RECONNECT request, or a cut connection with the
//! next question sent while the bot is away (the fake keeps it for the resume), each
//! followed by the bot's RESUME and a replay of the message; and once, a session the
//! fake invalidated, so that the bot must identify again.

use super::{
    campaign_client, campaign_config, classify, kill_mid_stream, maybe_siteassist_fault,
    question_text, siteassist_hits, BridgeProcess, Judged, Report, Rng, Shown,
    MAX_QUEUED_PLATFORM_FAILURES, SETTLE_LIMIT, STEP_LIMIT,
};
use crate::fake_discord::harness::settings;
use crate::fake_discord::payloads::{self, Msg};
use crate::fake_discord::{Failure, FakeDiscord, Op, Record, SUPPORT, TOKEN};
use serde_json::{json, Value};
use siteassist_bridge::adapters::discord::format::render;
use siteassist_bridge::adapters::discord::{DiscordBot, Handled};
use siteassist_bridge::simulator::{answer_for, RunningSimulator};
use siteassist_bridge::store::{SledStore, Store};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// Gateway disconnections (each followed by a resume and a replay) per run, at event
/// numbers drawn from the seed.
const RECONNECTS: usize = 3;
/// First user id; question `i` is asked by user `USERS + i`.
const USERS: u64 = 800_000_000_000_000_000;

/// One user question: a mention of the bot in `#support`, by a user of its own.
#[derive(Clone, Debug)]
struct Question {
    /// The message id, which is also the id of the thread the reply goes in.
    id: u64,
    user: u64,
    text: String,
}

impl Question {
    fn new(fake: &FakeDiscord, i: usize, rng: &mut Rng) -> Self {
        Self { id: fake.next_id(), user: USERS + i as u64, text: question_text(rng, i) }
    }

    /// The `d` of its MESSAGE_CREATE.
    fn message_create(&self) -> Value {
        let mut m = Msg::mention(self.id, SUPPORT, &self.text);
        m.author = payloads::user(self.user, &format!("user{}", self.user - USERS), false);
        m.json()
    }

    fn expected(&self) -> String {
        render(&answer_for(&self.text))
    }

    /// What the bot's messages in the question's thread show now.
    fn texts(&self, r: &Record) -> Vec<String> {
        r.messages_in(self.id).iter().map(|m| m.text().to_string()).collect()
    }
}

/// What the question's thread shows, and how many bot messages it holds (as the Slack
/// phase reads a thread).
fn shown(r: &Record, q: &Question) -> (Shown, usize) {
    classify(&q.texts(r), &q.expected())
}

fn settled(r: &Record, q: &Question) -> bool {
    matches!(shown(r, q).0, Shown::Answer | Shown::Explained)
}

/// Adds the phase's figures to `report` (as [`Report::account`] does for Slack), each
/// question judged against the faults that hit it; bot messages outside every
/// question's thread count as duplicates too.
fn account(
    report: &mut Report,
    fake: &FakeDiscord,
    sim: &RunningSimulator,
    questions: &[Question],
    interrupted: &HashSet<u64>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let faults = siteassist_hits(sim);
    fake.read(|r| {
        for q in questions {
            // A failure hit the question when its call was in the question's thread, or
            // opened that thread on the question's message.
            let platform_failures = r
                .failure_hits
                .iter()
                .filter(|(op, channel, message)| {
                    *channel == Some(q.id) || (*op == Op::CreateThread && *message == Some(q.id))
                })
                .count();
            let judged = Judged {
                texts: q.texts(r),
                answer: q.expected(),
                faults: faults.get(&q.text).map_or(&[], Vec::as_slice),
                platform_failures,
                interrupted: interrupted.contains(&q.id),
                may_be_limited: false,
            };
            problems.extend(judged.account(report, &format!("{:?} in thread {}", q.text, q.id)));
        }
        let threads: HashSet<u64> = questions.iter().map(|q| q.id).collect();
        for m in r.messages.iter().filter(|m| !threads.contains(&m.channel)) {
            report.duplicates += 1;
            problems.push(format!("stray: bot message in channel {}: {:?}", m.channel, m.texts));
        }
    });
    problems
}

/// A Discord REST failure, picked at random: a 429 with a short `retry_after`, or a
/// 5xx, on the next message creation, edit or thread creation.
fn discord_fault(rng: &mut Rng) -> (Op, Failure, &'static str) {
    let op = match rng.below(10) {
        0..=3 => Op::CreateMessage,
        4..=8 => Op::EditMessage,
        _ => Op::CreateThread,
    };
    let server_error = |status: u16| Failure {
        status,
        headers: vec![],
        body: json!({ "message": "Internal Server Error", "code": 0 }),
    };
    let (failure, kind) = match rng.below(4) {
        0 | 1 => (Failure::rate_limited(0.1 + rng.below(4) as f64 * 0.1), "429"),
        2 => (server_error(500), "500"),
        _ => (server_error(503), "503"),
    };
    let label = match (op, kind) {
        (Op::CreateMessage, "429") => "discord_429_create_message",
        (Op::CreateMessage, "500") => "discord_500_create_message",
        (Op::CreateMessage, _) => "discord_503_create_message",
        (Op::EditMessage, "429") => "discord_429_edit_message",
        (Op::EditMessage, "500") => "discord_500_edit_message",
        (Op::EditMessage, _) => "discord_503_edit_message",
        (_, "429") => "discord_429_create_thread",
        (_, "500") => "discord_500_create_thread",
        _ => "discord_503_create_thread",
    };
    (op, failure, label)
}

/// Injects what event `i` gets, at random: a SiteAssist fault (45 %, as for Slack), a
/// Discord REST failure (12 %; a fifth of them after the call took effect). Both hit the next request of their kind, whichever
/// question it belongs to.
fn inject(rng: &mut Rng, sim: &RunningSimulator, fake: &FakeDiscord, report: &mut Report) {
    maybe_siteassist_fault(rng, sim, report);
    if rng.percent(12) {
        let ops = [Op::CreateMessage, Op::EditMessage, Op::CreateThread];
        if ops.iter().any(|op| fake.queued_failures_for(*op) >= MAX_QUEUED_PLATFORM_FAILURES) {
            return;
        }
        if rng.percent(20) {
            // Done, then answered 500: a retry must not do it a second time.
            let (op, label) = match rng.below(3) {
                0 => (Op::CreateMessage, "discord_500_after_effect_create_message"),
                1 => (Op::EditMessage, "discord_500_after_effect_edit_message"),
                _ => (Op::CreateThread, "discord_500_after_effect_create_thread"),
            };
            fake.fail_after_effect(op, 500);
            report.inject(label);
        } else {
            let (op, failure, label) = discord_fault(rng);
            fake.fail_next(op, failure);
            report.inject(label);
        }
    }
}

/// Waits until fewer than `limit` of `questions` are unsettled, unless an earlier wait
/// gave up (as the Slack phases do: a jammed bridge shows as counters, not a panic).
async fn wait_for_room(
    fake: &FakeDiscord,
    questions: &[Question],
    limit: usize,
    jammed: &mut bool,
) {
    if *jammed {
        return;
    }
    let what = format!("fewer than {limit} unanswered questions");
    let room = fake.wait_until(&what, STEP_LIMIT * 2, |r| {
        questions.iter().rev().take(limit * 4).filter(|q| !settled(r, q)).count() < limit
    });
    *jammed = tokio::time::timeout(STEP_LIMIT, room).await.is_err();
}

/// Waits (up to [`SETTLE_LIMIT`]) until every question is answered or explained; what
/// is not by then counts as stuck. Never panics: the report says what happened.
async fn settle(fake: &FakeDiscord, questions: &[Question]) {
    // The fake's own limit is longer, so the outer timeout ends the wait, not a panic.
    let wait = fake.wait_until("every thread settled", SETTLE_LIMIT * 2, |r| {
        questions.iter().all(|q| settled(r, q))
    });
    let _ = tokio::time::timeout(SETTLE_LIMIT, wait).await;
}

/// The bot serving against the fake, and what it reports.
struct Bot {
    reports: broadcast::Receiver<Handled>,
    /// How often the adapter has handled each message so far.
    handled: HashMap<u64, usize>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Bot {
    /// Connects as [`crate::fake_discord::harness::start`] does, with the campaign's
    /// client and limits; waits for READY.
    async fn start(fake: &FakeDiscord, sim: &RunningSimulator) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let store: Arc<dyn Store> =
            Arc::new(SledStore::open(dir.path().join("store")).expect("store opens"));
        let (client, cfg) = (campaign_client(sim), campaign_config());
        let discord = settings(fake);
        let bot = DiscordBot::connect(&discord, store, client, cfg)
            .await
            .expect("connects to the fake Discord");
        let mut reports = bot.subscribe();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = bot
                .serve(
                    async {
                        let _ = stopped.await;
                    },
                    Duration::from_secs(5),
                )
                .await;
            if let Err(e) = served {
                eprintln!("the Discord bot stopped: {e}");
            }
            // The store lives as long as the bot.
            drop(dir);
        });
        let ready = async {
            loop {
                match reports.recv().await {
                    Ok(Handled::Ready) => return,
                    Err(broadcast::error::RecvError::Closed) => panic!("the bot stopped"),
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                }
            }
        };
        tokio::time::timeout(STEP_LIMIT, ready).await.expect("READY handled");
        fake.wait_until("a gateway session", STEP_LIMIT, |r| r.sessions_opened > 0).await;
        Self { reports, handled: HashMap::new(), stop, task }
    }

    /// Waits until the adapter has handled message `id` (whatever it decided) `times`
    /// times.
    async fn wait_handled(&mut self, id: u64, times: usize) {
        let wait = async {
            while self.handled.get(&id).copied().unwrap_or(0) < times {
                match self.reports.recv().await {
                    Ok(Handled::Message { id, .. }) => *self.handled.entry(id).or_default() += 1,
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        panic!("missed the adapter's reports; drain them more often")
                    }
                    Err(broadcast::error::RecvError::Closed) => panic!("the bot stopped"),
                }
            }
        };
        tokio::time::timeout(STEP_LIMIT, wait)
            .await
            .unwrap_or_else(|_| panic!("message {id} not handled {times}× within {STEP_LIMIT:?}"));
    }

    /// Takes the reports waiting, so the channel never overflows.
    fn drain(&mut self) {
        while let Ok(report) = self.reports.try_recv() {
            if let Handled::Message { id, .. } = report {
                *self.handled.entry(id).or_default() += 1;
            }
        }
    }

    /// Stops the gateway and gives replies in flight time to finish.
    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(STEP_LIMIT, self.task).await;
    }
}

/// The Discord phase: `events` questions through the Discord adapter in this process,
/// at most `concurrency` unanswered at a time, with SiteAssist faults (as for Slack),
/// Discord REST failures (429s and 5xx on message creation, edits and thread creation)
/// and duplicate deliveries (the same MESSAGE_CREATE again, at once or once the bot
/// has taken the first; and [`RECONNECTS`] times after a gateway disconnection: a
/// RECONNECT request, a cut connection, an invalidated session).
pub async fn discord(seed: u64, events: usize, concurrency: usize) -> (Report, Vec<String>) {
    let mut rng = Rng::new(seed ^ 0x0064_6973_636f_7264);
    let mut report = Report::default();
    let sim = crate::support::simulator(1).await;
    let fake = FakeDiscord::start().await;
    let mut bot = Bot::start(&fake, &sim).await;

    let mut reconnect_at = BTreeSet::new();
    while reconnect_at.len() < RECONNECTS.min(events) {
        reconnect_at.insert(rng.below(events));
    }
    let mut questions = Vec::with_capacity(events);
    // Messages sent twice: the campaign checks that both deliveries reached the adapter.
    let mut replayed = Vec::new();
    let mut jammed = false;
    // The last disconnection invalidates the session: the bot must identify anew.
    let invalidate_at = reconnect_at.last().copied();
    for i in 0..events {
        let q = Question::new(&fake, i, &mut rng);
        inject(&mut rng, &sim, &fake, &mut report);
        let message = q.message_create();
        if reconnect_at.contains(&i) {
            let resumes = fake.read(|r| r.resumes);
            let sessions = fake.read(|r| r.sessions_opened);
            if invalidate_at == Some(i) {
                // Its session is gone: what Discord sends meanwhile is lost, so the
                // question waits for the new session.
                fake.invalidate_sessions();
                fake.cut_gateway();
                fake.wait_until("a new session", STEP_LIMIT, |r| r.sessions_opened > sessions)
                    .await;
                fake.dispatch("MESSAGE_CREATE", message.clone());
                report.inject("gateway_invalid_session");
            } else if rng.percent(50) {
                // Asked to reconnect once it has the message: it resumes.
                fake.dispatch("MESSAGE_CREATE", message.clone());
                bot.wait_handled(q.id, 1).await;
                fake.request_reconnect();
                report.inject("gateway_reconnect_request");
            } else {
                // Cut off, the question sent while the bot is away: the resume brings it.
                fake.cut_gateway();
                fake.dispatch("MESSAGE_CREATE", message.clone());
                report.inject("gateway_cut_question_while_away");
            }
            if invalidate_at != Some(i) {
                fake.wait_until("the resume", STEP_LIMIT, |r| r.resumes > resumes).await;
            }
            // And Discord sends the message again on the new connection.
            bot.wait_handled(q.id, 1).await;
            fake.dispatch("MESSAGE_CREATE", message);
            replayed.push(q.id);
            report.inject("duplicate_after_resume");
        } else {
            fake.dispatch("MESSAGE_CREATE", message.clone());
            match rng.below(100) {
                // Replayed right behind the first delivery.
                0..=6 => {
                    fake.dispatch("MESSAGE_CREATE", message);
                    replayed.push(q.id);
                    report.inject("duplicate_same_message");
                }
                // Replayed once the bot has taken the first.
                7..=13 => {
                    bot.wait_handled(q.id, 1).await;
                    fake.dispatch("MESSAGE_CREATE", message);
                    replayed.push(q.id);
                    report.inject("duplicate_same_message_later");
                }
                _ => {}
            }
        }
        questions.push(q);
        bot.drain();
        wait_for_room(&fake, &questions, concurrency, &mut jammed).await;
    }
    settle(&fake, &questions).await;
    for id in replayed {
        bot.wait_handled(id, 2).await;
    }
    bot.stop().await;
    report.unused_faults += sim.sim.queued_faults() + fake.queued_failures();
    let problems = account(&mut report, &fake, &sim, &questions, &HashSet::new());
    drop(sim);
    (report, problems)
}

/// The Discord bot as the real binary, against the fake.
fn bridge_process(
    binary: &Path,
    store: &Path,
    sim: &RunningSimulator,
    fake: &FakeDiscord,
) -> BridgeProcess {
    let env = [
        ("SITEASSIST_BRIDGE__DISCORD__ENABLED", "true".to_string()),
        ("SITEASSIST_BRIDGE__DISCORD__API_URL", fake.api_url.clone()),
        ("DISCORD_TOKEN", TOKEN.to_string()),
    ];
    BridgeProcess::start(binary, store, sim, &env)
}

/// Whether the bot has taken question `q`: it opened (or tried to open) its thread.
fn taken(r: &Record, q: &Question) -> bool {
    r.calls.iter().any(|c| c.op == Op::CreateThread && c.message == Some(q.id))
}

/// The Discord kill phase: `events` questions through the real binary's Discord
/// adapter, SIGKILLed `kills` times while answers stream, each time restarted on the
/// same store (a new gateway session: Discord does not redeliver what a dead client
/// missed, so the kill comes once every question has reached the bot), with faults as
/// in [`discord`].
pub async fn with_kills(
    binary: &Path,
    seed: u64,
    events: usize,
    kills: usize,
) -> (Report, Vec<String>) {
    let mut rng = Rng::new(seed ^ 0x6469_6b69_6c6c);
    let mut report = Report::default();
    // Slower words, so answers are still streaming when the kill comes.
    let sim = crate::support::simulator(15).await;
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let store: PathBuf = dir.path().join("store");
    let mut bridge = bridge_process(binary, &store, &sim, &fake);
    fake.wait_until("the bridge's session", STEP_LIMIT, |r| r.sessions_opened > 0).await;

    let every = (events / (kills + 1)).max(1);
    let mut questions: Vec<Question> = Vec::with_capacity(events);
    let mut interrupted = HashSet::new();
    let (mut killed, mut jammed) = (0, false);
    for i in 0..events {
        let q = Question::new(&fake, i, &mut rng);
        inject(&mut rng, &sim, &fake, &mut report);
        fake.dispatch("MESSAGE_CREATE", q.message_create());
        questions.push(q);
        if (i + 1) % every == 0 && killed < kills {
            fake.wait_until("every question taken", STEP_LIMIT, |r| {
                questions.iter().all(|q| taken(r, q))
            })
            .await;
            let sessions = fake.read(|r| r.sessions_opened);
            let unsettled = |r: &Record| -> Vec<u64> {
                questions.iter().filter(|q| !settled(r, q)).map(|q| q.id).collect()
            };
            let label = kill_mid_stream(&sim, || {
                interrupted.extend(fake.read(unsettled));
                bridge.kill_9();
            })
            .await;
            killed += 1;
            report.inject(label);
            bridge = bridge_process(binary, &store, &sim, &fake);
            fake.wait_until("the restarted bridge's session", STEP_LIMIT, |r| {
                r.sessions_opened > sessions
            })
            .await;
        } else {
            wait_for_room(&fake, &questions, 8, &mut jammed).await;
        }
    }
    settle(&fake, &questions).await;
    bridge.terminate();
    report.unused_faults += sim.sim.queued_faults() + fake.queued_failures();
    let problems = account(&mut report, &fake, &sim, &questions, &interrupted);
    (report, problems)
}

/// Threads in the Discord limits phase, and questions asked in each (the first a
/// mention that opens it, the rest follow-ups).
const CROWDED_THREADS: usize = 3;

/// The Discord limits phase: `per_thread` questions in each of [`CROWDED_THREADS`]
/// threads, the follow-ups sent at once, so that every reply in a thread (placeholder
/// and edits) competes for Discord's five actions per five seconds in that channel,
/// with SiteAssist faults as in [`discord`]. Each thread must show one reply per
/// question, in order, each exactly as its faults say, and the fake must have seen the
/// bridge use a channel's whole allowance (the budget bit) without losing anything.
pub async fn limits(seed: u64, per_thread: usize) -> (Report, Vec<String>) {
    let mut rng = Rng::new(seed ^ 0x6c69_6d69_7444);
    let mut report = Report::default();
    let sim = crate::support::simulator(10).await;
    let fake = FakeDiscord::start().await;
    let mut bot = Bot::start(&fake, &sim).await;

    let mut threads: Vec<Vec<Question>> = Vec::new();
    let mut i = 0;
    for t in 0..CROWDED_THREADS {
        let opening = Question::new(&fake, i, &mut rng);
        i += 1;
        maybe_siteassist_fault(&mut rng, &sim, &mut report);
        fake.dispatch("MESSAGE_CREATE", opening.message_create());
        // Follow-ups can only be written once the thread exists.
        fake.wait_until("the thread", STEP_LIMIT, |r| {
            taken(r, &opening) && r.channels.contains_key(&opening.id)
        })
        .await;
        let mut asked = vec![opening.clone()];
        for _ in 1..per_thread {
            let q = Question {
                id: fake.next_id(),
                user: opening.user,
                text: question_text(&mut rng, i),
            };
            i += 1;
            maybe_siteassist_fault(&mut rng, &sim, &mut report);
            let mut m = Msg::in_guild(q.id, opening.id, &q.text);
            m.author = payloads::user(q.user, &format!("user{t}"), false);
            fake.dispatch("MESSAGE_CREATE", m.json());
            // Serenity hands each event to its own task, so two messages within the
            // same instant may reach the core in either order; a person's next message
            // comes after the bot has taken the last one.
            bot.wait_handled(q.id, 1).await;
            asked.push(q);
        }
        threads.push(asked);
        bot.drain();
    }
    let all_replied = |r: &Record| {
        threads.iter().all(|asked| {
            let shown = r.messages_in(asked[0].id);
            shown.len() >= asked.len()
                && asked.iter().zip(&shown).all(|(q, m)| {
                    let texts = [m.text().to_string()];
                    matches!(classify(&texts, &q.expected()).0, Shown::Answer | Shown::Explained)
                })
        })
    };
    let _ = tokio::time::timeout(
        SETTLE_LIMIT,
        fake.wait_until("every reply", SETTLE_LIMIT * 2, all_replied),
    )
    .await;
    bot.stop().await;
    report.unused_faults += sim.sim.queued_faults() + fake.queued_failures();

    let faults = siteassist_hits(&sim);
    let mut problems = Vec::new();
    let mut saturated = false;
    fake.read(|r| {
        for asked in &threads {
            let thread = asked[0].id;
            let shown = r.messages_in(thread);
            for (k, q) in asked.iter().enumerate() {
                let judged = Judged {
                    texts: shown.get(k).map(|m| vec![m.text().to_string()]).unwrap_or_default(),
                    answer: q.expected(),
                    faults: faults.get(&q.text).map_or(&[], Vec::as_slice),
                    platform_failures: 0,
                    interrupted: false,
                    may_be_limited: false,
                };
                let what = format!("{:?} (reply {k}) in thread {thread}", q.text);
                problems.extend(judged.account(&mut report, &what));
            }
            if shown.len() > asked.len() {
                report.duplicates += shown.len() - asked.len();
                problems.push(format!(
                    "duplicate: {} replies to {} questions in thread {thread}",
                    shown.len(),
                    asked.len()
                ));
            }
            // The budget bit when five posts or edits in the thread came within five
            // seconds (a sixth would have been refused).
            let actions: Vec<_> = r
                .calls
                .iter()
                .filter(|c| {
                    c.channel == Some(thread) && matches!(c.op, Op::CreateMessage | Op::EditMessage)
                })
                .filter(|c| c.status < 300)
                .map(|c| c.at)
                .collect();
            let window = r.limits.channel_window;
            saturated |= actions.windows(5).any(|w| w[4].duration_since(w[0]) < window);
        }
        let refused = r.calls.iter().filter(|c| c.status == 429).count();
        for _ in 0..refused {
            report.inject("discord_channel_limit_429");
        }
    });
    if !saturated {
        report.unexpected += 1;
        problems.push(
            "the channel budget did not bite: no five actions within five seconds in any thread"
                .into(),
        );
    }
    (report, problems)
}
