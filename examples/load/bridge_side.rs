//! The child process: the bridge alone (the real Discord adapter, core and a sled
//! store), or the naive bot, pointed at the fake Discord and the simulator that the
//! parent serves. It measures only itself, so its CPU seconds and resident memory are
//! the bridge's own.
//!
//! It talks to the parent by lines: it prints `ready` once it can take events; on
//! `go` it takes its idle figures and prints `going`; `ask ID` (naive bot only) asks
//! one question in thread ID; on `done` it takes its busy figures, waits `settle`
//! seconds for idle workers to exit, takes its memory again, prints one JSON
//! [`Usage`] line and exits.

use crate::counting::Counting;
use crate::measure::{cpu_secs, rss_kib};
use crate::{fake_discord, QUESTION};
use serde::{Deserialize, Serialize};
use siteassist_bridge::adapters::discord::config::DiscordSettings;
use siteassist_bridge::adapters::discord::format::render;
use siteassist_bridge::adapters::discord::{DiscordBot, Handled};
use siteassist_bridge::bridge::BridgeConfig;
use siteassist_bridge::secret::Secret;
use siteassist_bridge::siteassist::client::{Client, ClientConfig, NewMessage, PageContext};
use siteassist_bridge::siteassist::ids::SaVid;
use siteassist_bridge::siteassist::{StreamEvent, StreamStart};
use siteassist_bridge::store::{FlushMode, SledStore, Store};
use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// What the child measured of itself.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Usage {
    /// CPU seconds between `go` and `done`.
    pub cpu_secs: f64,
    /// Resident memory at `go`, KiB.
    pub idle_kib: u64,
    /// The most resident memory between `go` and `done` (sampled every 50 ms), KiB.
    pub peak_kib: u64,
    /// Resident memory after `done` and the settle time, KiB.
    pub settled_kib: u64,
    /// Store operations between `go` and `done`.
    pub store_ops: u64,
}

/// Where the parent serves, and how to run.
pub struct Options {
    pub mode: String,
    pub api_url: String,
    pub cdn_url: String,
    pub sim_url: String,
    /// `handoff.watch`, in minutes.
    pub watch_minutes: u64,
    /// Seconds to wait after `done` before the settled memory is read.
    pub settle_secs: u64,
    /// Events the intake hands to the core at once; the bridge's default if `None`.
    pub lanes: Option<usize>,
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Runs the child until the parent says `done`.
pub async fn run(opts: Options) {
    // `RUST_LOG` (say `warn`) shows what the bridge logs, on stderr; nothing by default.
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    }
    let client = Client::new(ClientConfig {
        api_url: opts.sim_url.parse().expect("the simulator's URL"),
        publishable_key: Secret::new("pk_test_harness"),
        // Retries and timeouts as the bridge ships them: a burst of 10,000 questions
        // may wait for SiteAssist's headers longer than a test's patience, and that
        // wait is part of what the bench measures.
        ..ClientConfig::default()
    })
    .expect("a client");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut counting = None;
    if opts.mode != "naive" {
        let flush =
            if opts.mode == "flush-each" { FlushMode::EachWrite } else { FlushMode::Grouped };
        let sled = SledStore::open_with(dir.path().join("store"), flush).expect("sled opens");
        let store = Arc::new(Counting { inner: Arc::new(sled), ops: AtomicU64::new(0) });
        let mut cfg = BridgeConfig {
            edit_interval: Duration::from_millis(100),
            user_questions_per_minute: 0,
            channel_questions_per_minute: 0,
            // Idle thread workers exit soon, so the settled memory shows what a
            // finished reply leaves behind.
            worker_idle: Duration::from_secs(opts.settle_secs.saturating_sub(3).max(1)),
            ..BridgeConfig::default()
        };
        // After each answer the bridge listens on the conversation's socket for a
        // person taking over (`handoff.watch_minutes`); `--watch 0` measures the
        // answers alone.
        cfg.handoff.watch = Duration::from_secs(opts.watch_minutes * 60);
        let settings = DiscordSettings {
            enabled: true,
            token: Secret::new(fake_discord::TOKEN),
            auto_respond_channels: vec![],
            allow_channels: vec![],
            deny_channels: vec![],
            max_message_chars: 1900,
            api_url: opts.api_url.clone(),
            gateway_url: String::new(),
            cdn_url: opts.cdn_url.clone(),
            shards: String::new(),
            message_content: true,
            command_guilds: vec![],
        };
        let as_store: Arc<dyn Store> = store.clone();
        let mut bot = DiscordBot::connect(&settings, as_store, client.clone(), cfg)
            .await
            .expect("the bot connects to the fake");
        match (opts.mode.as_str(), opts.lanes) {
            ("serial", _) => bot.set_intake_concurrency(1),
            (_, Some(lanes)) => bot.set_intake_concurrency(lanes),
            _ => {}
        }
        let mut reports = bot.subscribe();
        tokio::spawn(bot.serve(std::future::pending(), Duration::from_secs(5)));
        while !matches!(reports.recv().await, Ok(Handled::Ready)) {}
        counting = Some(store);
    }
    let mut lines = stdin_lines();
    say("ready");
    let mut usage = Usage::default();
    let (mut cpu0, mut ops0) = (0.0, 0);
    let peak = Arc::new(AtomicU64::new(0));
    let ops = |c: &Option<Arc<Counting>>| c.as_ref().map_or(0, |c| c.ops());
    while let Some(line) = lines.recv().await {
        match line.split_once(' ').unwrap_or((line.as_str(), "")) {
            ("go", _) => {
                usage.idle_kib = rss_kib();
                (cpu0, ops0) = (cpu_secs(), ops(&counting));
                peak.store(usage.idle_kib, Ordering::Relaxed);
                let peak = Arc::clone(&peak);
                tokio::spawn(async move {
                    loop {
                        peak.fetch_max(rss_kib(), Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                });
                say("going");
            }
            ("ask", id) => {
                let thread: u64 = id.parse().expect("ask THREAD");
                tokio::spawn(naive(opts.api_url.clone(), client.clone(), thread));
            }
            ("done", _) => {
                usage.cpu_secs = cpu_secs() - cpu0;
                usage.store_ops = ops(&counting) - ops0;
                usage.peak_kib = peak.load(Ordering::Relaxed).max(rss_kib());
                tokio::time::sleep(Duration::from_secs(opts.settle_secs)).await;
                usage.settled_kib = rss_kib();
                say(&serde_json::to_string(&usage).expect("usage"));
                // The bot and its store go with the process.
                std::process::exit(0);
            }
            (other, _) => panic!("unknown line from the parent: {other:?}"),
        }
    }
}

/// The parent's lines, read on a thread of their own.
fn stdin_lines() -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// The naive baseline for one question: the thread is the question's id, a
/// placeholder is posted, and every streamed delta is one edit with the whole text so
/// far (what a bot without coalescing does). Its page URL names the thread, as the
/// bridge's does, so the lag is measured the same way.
async fn naive(api: String, client: Client, thread: u64) {
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
    let page = format!("https://discord.com/channels/1/{}/{thread}", fake_discord::SUPPORT);
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
