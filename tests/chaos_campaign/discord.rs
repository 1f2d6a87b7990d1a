//! The Discord phase: questions through the real Discord adapter (serenity's gateway
//! client, the adapter's REST calls, the core) against the fake Discord on 127.0.0.1,
//! with SiteAssist faults, Discord REST failures and duplicate deliveries injected at
//! random from the seed, accounted as the Slack phases are.
//!
//! Each question is a mention of the bot by a user of its own, posted in `#support`:
//! the adapter opens a thread on the message (the thread has the message's id), so the
//! reply is read off the fake as the bot messages in that thread.
//!
//! Duplicates come the ways Discord sends them: the same MESSAGE_CREATE twice (a
//! replay after a RESUME), and a few times per run a real gateway reconnect followed
//! by the replay. The fake gateway cannot end a live session nor answer a RESUME, so
//! the bot talks to it through [`Relay`], which asks the bot to reconnect (op 7) and
//! turns the bot's RESUME into a new session on the fake, answered with RESUMED.

use super::{
    campaign_client, campaign_config, classify, maybe_siteassist_fault, question_text,
    siteassist_hits, Judged, Report, Rng, Shown, MAX_QUEUED_PLATFORM_FAILURES, SETTLE_LIMIT,
    STEP_LIMIT,
};
use crate::fake_discord::harness::settings;
use crate::fake_discord::payloads::{self, Msg};
use crate::fake_discord::{Failure, FakeDiscord, Op, Record, SUPPORT};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use siteassist_bridge::adapters::discord::format::render;
use siteassist_bridge::adapters::discord::{DiscordBot, Handled};
use siteassist_bridge::simulator::{answer_for, RunningSimulator};
use siteassist_bridge::store::{SledStore, Store};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, watch};
use tokio_tungstenite::tungstenite::Message;

/// Gateway reconnects (each followed by a replay) per run, at event numbers drawn from
/// the seed.
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
                interrupted: false,
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

/// The bot serving against the fake (through the relay), and what it reports.
struct Bot {
    reports: broadcast::Receiver<Handled>,
    /// How often the adapter has handled each message so far.
    handled: HashMap<u64, usize>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Bot {
    /// Connects as [`crate::fake_discord::harness::start`] does, with the campaign's
    /// client and limits, the gateway reached through `relay`; waits for READY.
    async fn start(fake: &FakeDiscord, relay: &Relay, sim: &RunningSimulator) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let store: Arc<dyn Store> =
            Arc::new(SledStore::open(dir.path().join("store")).expect("store opens"));
        let (client, cfg) = (campaign_client(sim), campaign_config());
        let mut discord = settings(fake);
        discord.gateway_url = relay.url.clone();
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

/// A websocket relay between the bot and the fake gateway, passing frames through
/// (with its own sequence numbers, continuous across connections), which can ask the
/// bot to reconnect. The bot then resumes: the relay identifies on the fake with the
/// bot's first Identify (a new fake session, so dispatches reach the bot again), keeps
/// that session's READY and GUILD_CREATE to itself and tells the bot RESUMED, as
/// Discord does after a successful resume.
struct Relay {
    url: String,
    reconnect: watch::Sender<u64>,
}

/// What the relay's connections share.
#[derive(Default)]
struct RelayState {
    identify: Option<Value>,
    seq: u64,
}

impl Relay {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("relay binds");
        let url = format!("ws://{}", listener.local_addr().expect("relay address"));
        let (reconnect, _) = watch::channel(0);
        let kicks = reconnect.clone();
        let state = Arc::new(Mutex::new(RelayState::default()));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let kick = kicks.subscribe();
                tokio::spawn(relay(stream, upstream.clone(), Arc::clone(&state), kick));
            }
        });
        Self { url, reconnect }
    }

    /// Sends op 7 RECONNECT to the bot on its current connection.
    fn ask_reconnect(&self) {
        self.reconnect.send_modify(|n| *n += 1);
    }
}

/// One bot connection, relayed to a connection of its own to the fake.
async fn relay(
    stream: TcpStream,
    upstream: String,
    state: Arc<Mutex<RelayState>>,
    mut kick: watch::Receiver<u64>,
) {
    let Ok(mut bot) = tokio_tungstenite::accept_async(stream).await else { return };
    let Ok((mut fake, _)) = tokio_tungstenite::connect_async(upstream.as_str()).await else {
        return;
    };
    let mut resuming = false;
    loop {
        tokio::select! {
            from_bot = bot.next() => {
                let text = match from_bot {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                    Some(Ok(_)) => continue,
                };
                let Ok(mut payload) = serde_json::from_str::<Value>(&text) else { continue };
                match payload["op"].as_u64() {
                    Some(2) => state.lock().unwrap().identify = Some(payload["d"].clone()),
                    Some(6) => {
                        let identify = state.lock().unwrap().identify.clone();
                        let Some(identify) = identify else { return };
                        payload = json!({ "op": 2, "d": identify });
                        resuming = true;
                    }
                    _ => {}
                }
                if fake.send(Message::text(payload.to_string())).await.is_err() {
                    return;
                }
            }
            from_fake = fake.next() => {
                let text = match from_fake {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                    Some(Ok(_)) => continue,
                };
                let Ok(mut payload) = serde_json::from_str::<Value>(&text) else { continue };
                if payload["op"] == 0 {
                    if resuming && payload["t"] == "READY" {
                        continue;
                    }
                    if resuming && payload["t"] == "GUILD_CREATE" {
                        payload = json!({ "op": 0, "t": "RESUMED", "d": {} });
                    }
                    let mut s = state.lock().unwrap();
                    s.seq += 1;
                    payload["s"] = json!(s.seq);
                }
                if bot.send(Message::text(payload.to_string())).await.is_err() {
                    return;
                }
            }
            changed = kick.changed() => {
                if changed.is_err() {
                    return;
                }
                let reconnect = json!({ "op": 7, "d": null, "s": null, "t": null });
                if bot.send(Message::text(reconnect.to_string())).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// The Discord phase: `events` questions through the Discord adapter in this process,
/// at most `concurrency` unanswered at a time, with SiteAssist faults (as for Slack),
/// Discord REST failures (429s and 5xx on message creation, edits and thread creation)
/// and duplicate deliveries (the same MESSAGE_CREATE again, at once or once the bot
/// has taken the first; and [`RECONNECTS`] times after a gateway reconnect and resume).
pub async fn discord(seed: u64, events: usize, concurrency: usize) -> (Report, Vec<String>) {
    let mut rng = Rng::new(seed ^ 0x0064_6973_636f_7264);
    let mut report = Report::default();
    let sim = crate::support::simulator(1).await;
    let fake = FakeDiscord::start().await;
    let relay = Relay::start(fake.gateway_url.clone()).await;
    let mut bot = Bot::start(&fake, &relay, &sim).await;

    let mut reconnect_at = BTreeSet::new();
    while reconnect_at.len() < RECONNECTS.min(events) {
        reconnect_at.insert(rng.below(events));
    }
    let mut questions = Vec::with_capacity(events);
    // Messages sent twice: the campaign checks that both deliveries reached the adapter.
    let mut replayed = Vec::new();
    let mut jammed = false;
    for i in 0..events {
        let q = Question::new(&fake, i, &mut rng);
        inject(&mut rng, &sim, &fake, &mut report);
        let message = q.message_create();
        fake.dispatch("MESSAGE_CREATE", message.clone());
        if reconnect_at.contains(&i) {
            // The bot took the message; its connection drops, it resumes, and Discord
            // replays the message on the resumed session.
            bot.wait_handled(q.id, 1).await;
            let sessions = fake.read(|r| r.sessions_opened);
            relay.ask_reconnect();
            fake.wait_until("the resumed session", STEP_LIMIT, |r| r.sessions_opened > sessions)
                .await;
            fake.dispatch("MESSAGE_CREATE", message);
            replayed.push(q.id);
            report.inject("duplicate_after_resume");
        } else {
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
    let problems = account(&mut report, &fake, &sim, &questions);
    drop(sim);
    (report, problems)
}
