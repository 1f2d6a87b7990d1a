//! The parent process: the fake Discord (its rate limits raised) and the simulator,
//! serving one child that runs the bridge (or the naive bot) alone. It sends the
//! questions, watches the fake until every reply shows the whole answer, and takes
//! the time figures from what the fake and the simulator recorded.

use crate::bridge_side::Usage;
use crate::fake_discord::payloads::{self, Msg};
use crate::fake_discord::{self, FakeDiscord, Limits, Op, SUPPORT};
use crate::measure::percentile;
use crate::{support, Row, QUESTION};
use siteassist_bridge::adapters::discord::format::render;
use siteassist_bridge::simulator::answer_for;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How long one run may take before it counts what has not finished as errors.
const RUN_LIMIT: Duration = Duration::from_secs(900);

/// How long a run may go without one more answer finishing before it is called over.
const STALL: Duration = Duration::from_secs(30);

/// How to run each child.
pub struct Plan {
    pub word_ms: u64,
    pub watch_minutes: u64,
    pub settle_secs: u64,
    /// Events the bridge's intake hands to the core at once (`bridge` and
    /// `flush-each`; `serial` is 1).
    pub lanes: u64,
}

/// The child and its lines.
struct Side {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::UnboundedReceiver<String>,
}

impl Side {
    fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("the child reads its input");
    }

    async fn expect(&mut self, what: &str) -> String {
        loop {
            let line =
                self.lines.recv().await.unwrap_or_else(|| panic!("child ended before {what}"));
            if line.starts_with(what) {
                return line;
            }
        }
    }
}

/// Runs N questions in `mode` against a fresh child and measures them.
pub async fn run(n: usize, mode: &str, plan: &Plan) -> Row {
    let fake = FakeDiscord::start().await;
    fake.set_limits(Limits {
        channel_actions: 1_000_000,
        channel_window: Duration::from_secs(1),
        global_per_second: 100_000_000,
    });
    let sim = support::simulator(plan.word_ms).await;
    let sessions = fake.read(|r| r.sessions_opened);
    let me = std::env::current_exe().expect("this bench's path");
    let mut child = Command::new(me)
        .args(["--bridge-side", mode, "--api", &fake.api_url, "--cdn", &fake.cdn_url()])
        .args(["--sim", &sim.base_url, "--watch", &plan.watch_minutes.to_string()])
        .args(["--settle", &plan.settle_secs.to_string(), "--lanes", &plan.lanes.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the bench runs itself");
    let stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, lines) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut side = Side { child, stdin, lines };
    side.expect("ready").await;
    if mode != "naive" {
        fake.wait_until("the bridge's gateway session", Duration::from_secs(30), move |r| {
            r.sessions_opened > sessions
        })
        .await;
    }
    let expected = render(&answer_for(QUESTION));
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        let id = fake.next_id();
        if mode == "naive" {
            // The bridge opens a thread on the question; the naive bot is given one.
            fake.add_channel(payloads::thread(id, SUPPORT, "naive", fake_discord::BOT));
        }
        ids.push(id);
    }
    side.send("go");
    side.expect("going").await;
    let started = Instant::now();
    let mut asked: HashMap<u64, Instant> = HashMap::with_capacity(n);
    for id in ids {
        asked.insert(id, Instant::now());
        if mode == "naive" {
            side.send(&format!("ask {id}"));
        } else {
            fake.dispatch("MESSAGE_CREATE", Msg::mention(id, SUPPORT, QUESTION).json());
        }
    }
    let _ = side.stdin.flush();
    // Done when every thread's reply shows the whole answer (checked a few times a
    // second: a predicate on every change of the fake would cost N per change).
    // A run that stops making progress for STALL is over; what is missing is errors.
    let deadline = started + RUN_LIMIT;
    let (mut progress, mut progress_at) = (0, Instant::now());
    while Instant::now() < deadline && progress_at.elapsed() < STALL {
        let done = fake.read(|r| r.messages.iter().filter(|m| m.text() == expected).count());
        if done >= n {
            break;
        }
        if done > progress {
            (progress, progress_at) = (done, Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    side.send("done");
    let usage: Usage = serde_json::from_str(&side.expect("{").await).expect("the child's usage");
    let _ = side.child.wait();

    // Per thread, from what the fake received: the first call that showed answer text
    // and the first that showed all of it.
    let mut first: HashMap<u64, Instant> = HashMap::new();
    let mut last: HashMap<u64, Instant> = HashMap::new();
    let mut calls: usize = 0;
    // Where the time to first text goes: the thread opened, the placeholder posted.
    let mut opened: HashMap<u64, Instant> = HashMap::new();
    let mut placeholder: HashMap<u64, Instant> = HashMap::new();
    fake.read(|r| {
        for c in r.calls.iter().filter(|c| c.op == Op::CreateThread && c.status < 300) {
            if let Some(question) = c.message.filter(|m| asked.contains_key(m)) {
                opened.entry(question).or_insert(c.at);
            }
        }
        for c in r.calls.iter().filter(|c| c.op == Op::CreateMessage && c.status < 300) {
            if let Some(thread) = c.channel.filter(|t| asked.contains_key(t)) {
                placeholder.entry(thread).or_insert(c.at);
            }
        }
        for c in r.calls.iter().filter(|c| matches!(c.op, Op::CreateMessage | Op::EditMessage)) {
            let Some(thread) = c.channel.filter(|t| asked.contains_key(t)) else { continue };
            calls += 1;
            let text = c.body["content"].as_str().unwrap_or("");
            if c.status < 300 && !text.is_empty() && text != "Thinking…" {
                first.entry(thread).or_insert(c.at);
            }
            if c.status < 300 && text == expected {
                last.entry(thread).or_insert(c.at);
            }
        }
    });
    let ends: HashMap<u64, Instant> = sim
        .sim
        .stream_ends()
        .into_iter()
        .filter_map(|(url, at)| Some((url?.rsplit('/').next()?.parse().ok()?, at)))
        .collect();
    let mut first_ms: Vec<f64> = Vec::new();
    let mut lag_ms: Vec<f64> = Vec::new();
    for (thread, at) in &asked {
        if let Some(shown) = first.get(thread) {
            first_ms.push(shown.duration_since(*at).as_secs_f64() * 1e3);
        }
        if let (Some(done), Some(end)) = (last.get(thread), ends.get(thread)) {
            lag_ms.push(done.saturating_duration_since(*end).as_secs_f64() * 1e3);
        }
    }
    // What the unfinished replies show, so that errors can be told apart (a stream
    // cut short, a reply never posted).
    let mut unfinished: HashMap<String, usize> = HashMap::new();
    fake.read(|r| {
        for thread in asked.keys().filter(|t| !last.contains_key(t)) {
            let shown =
                r.messages_in(*thread).first().map_or("(nothing posted)".to_string(), |m| {
                    let text = m.text();
                    let tail: String =
                        text.chars().rev().take(70).collect::<Vec<_>>().into_iter().rev().collect();
                    tail.replace('\n', " ")
                });
            *unfinished.entry(shown).or_default() += 1;
        }
    });
    let mut unfinished: Vec<(String, usize)> = unfinished.into_iter().collect();
    unfinished.sort_by_key(|u| std::cmp::Reverse(u.1));
    for (shown, count) in unfinished.iter().take(5) {
        eprintln!("n={n} {mode}: {count} replies unfinished, ending in {shown:?}");
    }
    // What Discord would have refused (the naive bot edits before it has text).
    let refused = fake.take_violations();
    if !refused.is_empty() {
        eprintln!(
            "n={n} {mode}: {} requests Discord would refuse, first: {}",
            refused.len(),
            refused[0]
        );
    }
    let since = |at: &HashMap<u64, Instant>| {
        let mut ms: Vec<f64> = asked
            .iter()
            .filter_map(|(t, asked)| Some(at.get(t)?.duration_since(*asked).as_secs_f64() * 1e3))
            .collect();
        (percentile(&mut ms, 0.5), percentile(&mut ms, 0.99))
    };
    let (thread_at, placeholder_at, first_at) =
        (since(&opened), since(&placeholder), since(&first));
    eprintln!(
        "n={n} {mode}: from the event, p50/p99 ms: thread opened {:.0}/{:.0}, placeholder {:.0}/{:.0}, first text {:.0}/{:.0}",
        thread_at.0, thread_at.1, placeholder_at.0, placeholder_at.1, first_at.0, first_at.1
    );
    let per = |x: f64| x / n as f64;
    Row {
        n,
        mode: mode.into(),
        first_text_p50_ms: percentile(&mut first_ms, 0.50),
        first_text_p99_ms: percentile(&mut first_ms, 0.99),
        final_lag_p50_ms: percentile(&mut lag_ms, 0.50),
        final_lag_p99_ms: percentile(&mut lag_ms, 0.99),
        calls_per_reply: per(calls as f64),
        cpu_ms_per_reply: per(usage.cpu_secs * 1e3),
        idle_kib: usage.idle_kib,
        rss_kib_per_reply: per(usage.peak_kib.saturating_sub(usage.idle_kib) as f64),
        settled_kib_above_idle: usage.settled_kib as i64 - usage.idle_kib as i64,
        store_ops_per_reply: per(usage.store_ops as f64),
        errors: n - last.len(),
        seconds,
    }
}
