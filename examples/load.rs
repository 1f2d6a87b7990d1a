//! The load bench: N questions at once through the real Discord adapter and core, in
//! one process with the fake Discord (its rate limits raised) and the SiteAssist
//! simulator, each question a new thread with one multi-delta answer.
//!
//! ```text
//! cargo run --release --example load -- [--n 100,1000,10000] [--word-ms 10] [--watch 30]
//! ```
//!
//! Each N runs twice in a fresh child process (so memory figures start from the same
//! idle state): once through the bridge, once through a naive baseline in the same
//! process shape (one post, then one edit per streamed delta, no coalescing, no
//! store) talking to the same fakes. It prints, per N and mode: time to first visible
//! answer text from the event (p50/p99), final-text lag after the answer's last word
//! left SiteAssist (p50/p99), platform calls per reply, CPU time per reply, resident memory per reply
//! above idle (peak), store operations per reply, and errors (answers that did not end
//! identical to the stream), then the ratios against the baseline; as a table and as
//! one JSON line per N and mode. The CPU and memory figures include the fakes and the
//! simulator, which share the process. Linux only (it reads `/proc/self`).

#[path = "../tests/fake_discord/mod.rs"]
mod fake_discord;
#[path = "../tests/support/mod.rs"]
mod support;

use async_trait::async_trait;
use fake_discord::harness;
use fake_discord::payloads::{self, Msg};
use fake_discord::{FakeDiscord, Limits, Op, SUPPORT};
use serde::{Deserialize, Serialize};
use siteassist_bridge::adapters::discord::format::render;
use siteassist_bridge::bridge::ids::{MessageRef, ThreadKey};
use siteassist_bridge::bridge::BridgeConfig;
use siteassist_bridge::simulator::answer_for;
use siteassist_bridge::siteassist::client::{NewMessage, PageContext};
use siteassist_bridge::siteassist::ids::{Feedback, MessageId, SaVid};
use siteassist_bridge::siteassist::{StreamEvent, StreamStart};
use siteassist_bridge::store::{
    FlushMode, Handoff, InFlightReply, ReplyLink, SledStore, Store, StoreError, StoreStats,
    ThreadLink,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// The question every thread asks: a list-shaped answer of about 80 words.
const QUESTION: &str = "How do I reset my password?";

/// The runs per N: the bridge (its sled store grouping concurrent flushes), the bridge
/// with a flush per store write (the comparison for group commit), the naive bot.
const MODES: [&str; 3] = ["bridge", "flush-each", "naive"];

/// How long one run may take before it counts what has not finished as errors.
const RUN_LIMIT: Duration = Duration::from_secs(900);

/// How long a run may go without one more answer finishing before it is called over.
const STALL: Duration = Duration::from_secs(30);

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

/// One run's figures.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Row {
    n: usize,
    mode: String,
    first_text_p50_ms: f64,
    first_text_p99_ms: f64,
    final_lag_p50_ms: f64,
    final_lag_p99_ms: f64,
    calls_per_reply: f64,
    cpu_ms_per_reply: f64,
    rss_kib_per_reply: f64,
    store_ops_per_reply: f64,
    errors: usize,
    seconds: f64,
}

fn main() {
    if let (Some(n), Some(mode)) = (arg("--one"), arg("--mode")) {
        let word_ms: u64 = arg("--word-ms").and_then(|w| w.parse().ok()).unwrap_or(10);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let row = runtime.block_on(one(n.parse().expect("--one N"), &mode, word_ms));
        println!("{}", serde_json::to_string(&row).expect("a row"));
        return;
    }
    let sweep: Vec<usize> = arg("--n")
        .unwrap_or_else(|| "100,1000,10000".into())
        .split(',')
        .map(|n| n.trim().parse().expect("--n takes numbers"))
        .collect();
    let word_ms = arg("--word-ms").unwrap_or_else(|| "10".into());
    let watch = arg("--watch").unwrap_or_else(|| "30".into());
    let me = std::env::current_exe().expect("this bench's path");
    let mut rows = Vec::new();
    for n in sweep {
        for mode in MODES {
            let out = std::process::Command::new(&me)
                .args(["--one", &n.to_string(), "--mode", mode, "--word-ms", &word_ms])
                .args(["--watch", &watch])
                .stderr(std::process::Stdio::inherit())
                .output()
                .expect("the bench runs itself");
            let line = String::from_utf8_lossy(&out.stdout);
            let row: Row = match line.lines().last().map(serde_json::from_str) {
                Some(Ok(row)) => row,
                _ => panic!("run n={n} {mode} failed: {line}"),
            };
            println!("{}", serde_json::to_string(&row).expect("a row"));
            rows.push(row);
        }
    }
    println!();
    println!(
        "{:>6} {:>7} {:>10} {:>10} {:>10} {:>10} {:>8} {:>8} {:>9} {:>8} {:>6}",
        "N",
        "mode",
        "first p50",
        "first p99",
        "lag p50",
        "lag p99",
        "calls",
        "cpu ms",
        "KiB",
        "store",
        "errors"
    );
    for r in &rows {
        println!(
            "{:>6} {:>7} {:>8.0}ms {:>8.0}ms {:>8.1}ms {:>8.1}ms {:>8.1} {:>8.3} {:>9.1} {:>8.1} {:>6}",
            r.n,
            r.mode,
            r.first_text_p50_ms,
            r.first_text_p99_ms,
            r.final_lag_p50_ms,
            r.final_lag_p99_ms,
            r.calls_per_reply,
            r.cpu_ms_per_reply,
            r.rss_kib_per_reply,
            r.store_ops_per_reply,
            r.errors
        );
    }
    println!();
    for runs in rows.chunks(MODES.len()) {
        if let [bridge, each, naive] = runs {
            println!(
                "N={}: group commit vs a flush per write: first text p99 {:.0} vs {:.0} ms, CPU per reply {:.3} vs {:.3} ms",
                bridge.n,
                bridge.first_text_p99_ms,
                each.first_text_p99_ms,
                bridge.cpu_ms_per_reply,
                each.cpu_ms_per_reply,
            );
            println!(
                "N={}: platform calls per reply {:.1} vs naive {:.1} (1/{:.1}), CPU per reply {:.3} ms vs {:.3} ms ({:.2}x)",
                bridge.n,
                bridge.calls_per_reply,
                naive.calls_per_reply,
                naive.calls_per_reply / bridge.calls_per_reply.max(f64::MIN_POSITIVE),
                bridge.cpu_ms_per_reply,
                naive.cpu_ms_per_reply,
                bridge.cpu_ms_per_reply / naive.cpu_ms_per_reply.max(f64::MIN_POSITIVE),
            );
        }
    }
}

/// Runs one N in one mode and measures it.
async fn one(n: usize, mode: &str, word_ms: u64) -> Row {
    let fake = FakeDiscord::start().await;
    fake.set_limits(Limits {
        channel_actions: 1_000_000,
        channel_window: Duration::from_secs(1),
        global_per_second: 100_000_000,
    });
    let sim = support::simulator(word_ms).await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let flush = if mode == "flush-each" { FlushMode::EachWrite } else { FlushMode::Grouped };
    let sled = SledStore::open_with(dir.path().join("store"), flush).expect("sled opens");
    let counting = Arc::new(Counting { inner: Arc::new(sled), ops: AtomicU64::new(0) });
    let client = support::client(&sim, 3);
    let bot = match mode {
        "bridge" | "flush-each" => {
            let mut cfg = BridgeConfig {
                edit_interval: Duration::from_millis(100),
                user_questions_per_minute: 0,
                channel_questions_per_minute: 0,
                ..BridgeConfig::default()
            };
            // After each answer the bridge listens on the conversation's socket for a
            // person taking over (`handoff.watch_minutes`); `--watch 0` measures the
            // answers alone.
            if let Some(minutes) = arg("--watch").and_then(|m| m.parse::<u64>().ok()) {
                cfg.handoff.watch = Duration::from_secs(minutes * 60);
            }
            let settings = harness::settings(&fake);
            let store: Arc<dyn Store> = counting.clone();
            Some(harness::start_configured(&fake, &settings, store, client.clone(), cfg).await)
        }
        _ => None,
    };
    let expected = render(&answer_for(QUESTION));
    let (idle_rss, cpu0, ops0) = (rss_kib(), cpu_secs(), counting.ops.load(Ordering::Relaxed));
    let peak = Arc::new(AtomicU64::new(idle_rss));
    let sampler = {
        let peak = Arc::clone(&peak);
        tokio::spawn(async move {
            loop {
                peak.fetch_max(rss_kib(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let started = Instant::now();
    let mut asked: HashMap<u64, Instant> = HashMap::with_capacity(n);
    for _ in 0..n {
        let id = fake.next_id();
        asked.insert(id, Instant::now());
        match mode {
            "bridge" | "flush-each" => {
                fake.dispatch("MESSAGE_CREATE", Msg::mention(id, SUPPORT, QUESTION).json())
            }
            _ => {
                // The bridge opens a thread on the question; the naive bot is given one.
                fake.add_channel(payloads::thread(id, SUPPORT, "naive", fake_discord::BOT));
                tokio::spawn(naive(fake.api_url.clone(), client.clone(), id));
            }
        }
    }
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
    let (cpu, ops) = (cpu_secs() - cpu0, counting.ops.load(Ordering::Relaxed) - ops0);
    sampler.abort();
    let peak = peak.load(Ordering::Relaxed).max(rss_kib());

    // Per thread, from what the fake received: the first call that showed answer text
    // and the first that showed all of it.
    let mut first: HashMap<u64, Instant> = HashMap::new();
    let mut last: HashMap<u64, Instant> = HashMap::new();
    let mut calls: usize = 0;
    fake.read(|r| {
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
    let errors = n - last.len();
    drop(bot);
    Row {
        n,
        mode: mode.into(),
        first_text_p50_ms: percentile(&mut first_ms, 0.50),
        first_text_p99_ms: percentile(&mut first_ms, 0.99),
        final_lag_p50_ms: percentile(&mut lag_ms, 0.50),
        final_lag_p99_ms: percentile(&mut lag_ms, 0.99),
        calls_per_reply: calls as f64 / n as f64,
        cpu_ms_per_reply: cpu * 1e3 / n as f64,
        rss_kib_per_reply: peak.saturating_sub(idle_rss) as f64 / n as f64,
        store_ops_per_reply: ops as f64 / n as f64,
        errors,
        seconds,
    }
}

/// The naive baseline for one question: the thread is the question's id, a
/// placeholder is posted, and every streamed delta is one edit with the whole text so
/// far (what a bot without coalescing does). Its page URL names the thread, as the
/// bridge's does, so the lag is measured the same way.
async fn naive(api: String, client: siteassist_bridge::siteassist::Client, thread: u64) {
    let http = reqwest::Client::new();
    let url = format!("{api}/api/v10/channels/{thread}/messages");
    let auth = format!("Bot {}", fake_discord::TOKEN);
    let body =
        |text: &str| serde_json::json!({ "content": text, "allowed_mentions": { "parse": [] } });
    let post = http.post(&url).header("authorization", &auth).json(&body("Thinking…"));
    let Ok(posted) = post.send().await else { return };
    let Ok(posted) = posted.json::<serde_json::Value>().await else { return };
    let Some(message) = posted["id"].as_str().map(str::to_string) else { return };
    let asker = SaVid::for_user(&format!("naive-{thread}"));
    let page = format!("https://discord.com/channels/1/{SUPPORT}/{thread}");
    let Ok(conversation) = client.create_conversation(&asker, Some(&page)).await else { return };
    let question = NewMessage {
        content: QUESTION.into(),
        page_context: Some(PageContext { url: Some(page.clone()), ..PageContext::default() }),
    };
    let Ok(StreamStart::Streaming(mut stream)) =
        client.send_message_stream(&asker, &conversation.id, &question).await
    else {
        return;
    };
    let edit = format!("{url}/{message}");
    loop {
        let (text, done) = match stream.next_event().await {
            StreamEvent::Text => (stream.text(), false),
            StreamEvent::End(end) => (end.text, true),
        };
        let rendered = render(&text);
        let _ =
            http.patch(&edit).header("authorization", &auth).json(&body(&rendered)).send().await;
        if done {
            return;
        }
    }
}

fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let i = ((values.len() as f64 - 1.0) * p).round() as usize;
    values[i]
}

/// Resident memory now, in KiB (`VmRSS`).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// CPU time used so far (user + system), in seconds (`/proc/self/stat` counts in
/// clock ticks of 1/100 s on Linux).
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name may contain spaces; fields are counted after its `)`.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// A store that counts the operations the core asks of it.
struct Counting {
    inner: Arc<dyn Store>,
    ops: AtomicU64,
}

impl Counting {
    fn count(&self) -> &dyn Store {
        self.ops.fetch_add(1, Ordering::Relaxed);
        self.inner.as_ref()
    }
}

#[async_trait]
impl Store for Counting {
    async fn thread_link(&self, thread: &ThreadKey) -> Result<Option<ThreadLink>, StoreError> {
        self.count().thread_link(thread).await
    }
    async fn put_thread_link_if_absent(
        &self,
        thread: &ThreadKey,
        link: &ThreadLink,
    ) -> Result<ThreadLink, StoreError> {
        self.count().put_thread_link_if_absent(thread, link).await
    }
    async fn remove_thread_link(&self, thread: &ThreadKey) -> Result<(), StoreError> {
        self.count().remove_thread_link(thread).await
    }
    async fn put_reply_link(
        &self,
        message: &MessageRef,
        link: &ReplyLink,
    ) -> Result<(), StoreError> {
        self.count().put_reply_link(message, link).await
    }
    async fn reply_link(&self, message: &MessageRef) -> Result<Option<ReplyLink>, StoreError> {
        self.count().reply_link(message).await
    }
    async fn claim(&self, key: &str, now: SystemTime, ttl: Duration) -> Result<bool, StoreError> {
        self.count().claim(key, now, ttl).await
    }
    async fn claim_and_record(
        &self,
        keys: &[&str],
        now: SystemTime,
        ttl: Duration,
        reply: &InFlightReply,
    ) -> Result<bool, StoreError> {
        self.count().claim_and_record(keys, now, ttl, reply).await
    }
    async fn sweep_claims(&self, now: SystemTime) -> Result<usize, StoreError> {
        self.count().sweep_claims(now).await
    }
    async fn stats(&self) -> Result<StoreStats, StoreError> {
        self.count().stats().await
    }
    async fn put_in_flight(&self, reply: &InFlightReply) -> Result<(), StoreError> {
        self.count().put_in_flight(reply).await
    }
    async fn remove_in_flight(&self, id: &str) -> Result<(), StoreError> {
        self.count().remove_in_flight(id).await
    }
    async fn in_flight(&self) -> Result<Vec<InFlightReply>, StoreError> {
        self.count().in_flight().await
    }
    async fn put_handoff(&self, handoff: &Handoff) -> Result<(), StoreError> {
        self.count().put_handoff(handoff).await
    }
    async fn remove_handoff(&self, thread: &ThreadKey) -> Result<(), StoreError> {
        self.count().remove_handoff(thread).await
    }
    async fn handoffs(&self) -> Result<Vec<Handoff>, StoreError> {
        self.count().handoffs().await
    }
    async fn feedback(&self, message: &MessageId) -> Result<Option<Feedback>, StoreError> {
        self.count().feedback(message).await
    }
    async fn put_feedback(
        &self,
        message: &MessageId,
        feedback: Option<Feedback>,
    ) -> Result<(), StoreError> {
        self.count().put_feedback(message, feedback).await
    }
    async fn thread_links_after(
        &self,
        after: Option<&ThreadKey>,
        limit: usize,
    ) -> Result<Vec<(ThreadKey, ThreadLink)>, StoreError> {
        self.count().thread_links_after(after, limit).await
    }
    async fn reply_links_after(
        &self,
        after: Option<&MessageRef>,
        limit: usize,
    ) -> Result<Vec<(MessageRef, ReplyLink)>, StoreError> {
        self.count().reply_links_after(after, limit).await
    }
    async fn feedback_after(
        &self,
        after: Option<&MessageId>,
        limit: usize,
    ) -> Result<Vec<(MessageId, Feedback)>, StoreError> {
        self.count().feedback_after(after, limit).await
    }
}
