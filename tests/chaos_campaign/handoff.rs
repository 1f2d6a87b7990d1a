//! Handoff under fire: people of the support team write a burst of messages across many
//! threads while SiteAssist cuts every conversation socket again and again and the
//! bridge binary is SIGKILLed and restarted in the middle. Every agent message must
//! appear in its thread exactly once, in the order written, after the one note that
//! the agent joined.
//!
//! Each thread is its own channel (Slack paces posts per channel, about one a second:
//! twenty threads in one channel would measure that pacing, not the relay).

use super::{BridgeProcess, STEP_LIMIT};
use crate::fake_slack::{self, FakeSlack};
use siteassist_bridge::adapters::slack::format::to_slack;
use siteassist_bridge::bridge::notice;
use siteassist_bridge::simulator::{answer_for, RunningSimulator};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long the burst may take to show everything after the last message is written.
const SHOW_LIMIT: Duration = Duration::from_secs(90);

/// What the burst showed.
#[derive(Debug, Default)]
pub struct BurstReport {
    /// Agent messages written.
    pub written: usize,
    /// Agent messages shown exactly once, in order.
    pub shown: usize,
    /// Shown more than once (every extra copy counts).
    pub duplicates: usize,
    /// Never shown.
    pub lost: usize,
    /// Threads whose messages are all there but not in the order written, or whose
    /// "joined" note is missing, doubled or late.
    pub out_of_order: usize,
    /// Times every socket was cut.
    pub drops: usize,
    /// SIGKILLs of the bridge.
    pub kills: usize,
}

impl BurstReport {
    /// Everything shown once, in order.
    pub fn clean(&self) -> bool {
        self.written > 0
            && self.shown == self.written
            && self.duplicates == 0
            && self.lost == 0
            && self.out_of_order == 0
    }
}

impl std::fmt::Display for BurstReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "handoff burst: written={} shown={} duplicates={} lost={} out_of_order={} drops={} kills={}",
            self.written,
            self.shown,
            self.duplicates,
            self.lost,
            self.out_of_order,
            self.drops,
            self.kills
        )
    }
}

/// One thread of the burst: where it is and which conversation it is.
struct Thread {
    channel: String,
    ts: String,
    question: String,
    conversation: String,
    /// The agent messages written to it, in order (as the bot must show them).
    expected: Vec<String>,
}

/// `messages` agent messages across `threads` threads, written in `drops` batches,
/// every socket cut after each batch (once all were back), the binary killed once
/// halfway (after a batch, before that batch's cut).
pub async fn burst(
    binary: &Path,
    threads: usize,
    messages: usize,
    drops: usize,
) -> (BurstReport, Vec<String>) {
    let sim = crate::support::simulator(1).await;
    let slack = super::campaign_slack().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let store: PathBuf = dir.path().join("store");
    let mut bridge = BridgeProcess::slack(binary, &store, &sim, &slack);
    slack.wait_for_socket_connections(1).await;
    let mut report = BurstReport::default();

    // Each thread gets an AI answer first: the bridge then listens on it.
    let mut all: Vec<Thread> = (0..threads)
        .map(|i| Thread {
            channel: format!("C0HAND{i:02}"),
            ts: format!("1600001{i:03}.000100"),
            question: format!("How do refunds work? (thread {i})"),
            conversation: String::new(),
            expected: Vec::new(),
        })
        .collect();
    for (i, t) in all.iter().enumerate() {
        let text = format!("<@UBOT> {}", t.question);
        let event =
            fake_slack::app_mention(&format!("EvHB{i}"), &t.channel, "U0ASK", &text, &t.ts, None);
        slack.send_socket_event(event);
    }
    for t in &all {
        let answer = to_slack(&answer_for(&t.question));
        slack
            .wait_until_within("every thread answered", STEP_LIMIT, |f| {
                f.messages_in_thread(&t.channel, &t.ts).last().is_some_and(|(_, x)| *x == answer)
            })
            .await;
    }
    for conversation in sim.sim.conversation_ids() {
        let asked = sim.sim.conversation_messages(&conversation);
        let first = asked.first().map(|(_, text, _)| text.clone()).unwrap_or_default();
        if let Some(t) = all.iter_mut().find(|t| t.question == first) {
            t.conversation = conversation;
        }
    }
    assert!(all.iter().all(|t| !t.conversation.is_empty()), "every thread has its conversation");
    all_sockets_open(&sim, threads).await;
    for t in &all {
        assert!(sim.sim.hand_over(&t.conversation, "Dana"));
    }

    let per_drop = (messages / drops.max(1)).max(1);
    let mut written = 0;
    while written < messages {
        for _ in 0..per_drop.min(messages - written) {
            let t = &mut all[written % threads];
            let text = format!("Message {written:03} in {}.", t.channel);
            sim.sim.agent_message(&t.conversation, &text).expect("the agent writes");
            t.expected.push(to_slack(&format!("**Dana:** {text}")));
            written += 1;
        }
        if report.kills == 0 && written >= messages / 2 {
            // Killed with messages in flight; more are written while it is down.
            bridge.kill_9();
            report.kills += 1;
            for t in all.iter_mut() {
                let text = format!("Written while the bridge was down, to {}.", t.channel);
                sim.sim.agent_message(&t.conversation, &text).expect("the agent writes");
                t.expected.push(to_slack(&format!("**Dana:** {text}")));
            }
            report.written += threads;
            let connections = slack.socket_connections_total();
            bridge = BridgeProcess::slack(binary, &store, &sim, &slack);
            slack
                .wait_until_within("the restarted bridge", STEP_LIMIT, |f| {
                    f.socket_connections_total() > connections
                })
                .await;
            all_sockets_open(&sim, threads).await;
        }
        if report.drops < drops {
            sim.sim.drop_sockets();
            report.drops += 1;
        }
        all_sockets_open(&sim, threads).await;
    }
    report.written += written;

    let joined = to_slack(&notice::agent_joined("Dana"));
    let everything_shown = |f: &FakeSlack| {
        all.iter().all(|t| {
            let shown = f.messages_in_thread(&t.channel, &t.ts);
            t.expected.iter().all(|m| shown.iter().any(|(_, x)| x == m))
        })
    };
    let _ =
        tokio::time::timeout(SHOW_LIMIT, slack.wait_until("every agent message", everything_shown))
            .await;
    bridge.terminate();

    let mut problems = Vec::new();
    for t in &all {
        let shown: Vec<String> =
            slack.messages_in_thread(&t.channel, &t.ts).into_iter().map(|(_, x)| x).collect();
        let agent: Vec<&String> = shown.iter().filter(|x| x.starts_with("*Dana:*")).collect();
        for m in &t.expected {
            match agent.iter().filter(|x| **x == m).count() {
                0 => report.lost += 1,
                1 => report.shown += 1,
                n => report.duplicates += n - 1,
            }
        }
        let expected: Vec<&String> = t.expected.iter().collect();
        let joined_once = shown.iter().filter(|x| **x == joined).count() == 1;
        let joined_first = shown.iter().position(|x| *x == joined)
            < shown.iter().position(|x| x.starts_with("*Dana:*"));
        if agent != expected || !joined_once || !joined_first {
            report.out_of_order += usize::from(agent.len() == expected.len() || !joined_once);
            problems.push(format!("{}: expected {expected:?}, shown {shown:?}", t.channel));
        }
    }
    (report, problems)
}

/// Waits until the simulator sees `n` conversation sockets open.
async fn all_sockets_open(sim: &RunningSimulator, n: usize) {
    let open = sim.sim.wait_until(|s| s.open_sockets() == n);
    tokio::time::timeout(STEP_LIMIT, open).await.expect("every relay's socket is open");
}

/// What holding human-handled threads open costs the bridge process.
#[derive(Debug)]
pub struct IdleReport {
    /// Threads held, one socket each.
    pub threads: usize,
    /// The bridge's resident memory once every thread was answered by the AI (no
    /// socket open), in KiB.
    pub rss_before_kib: u64,
    /// Once every thread's conversation was handed to a person and relayed, in KiB.
    pub rss_after_kib: u64,
    /// CPU time the bridge used while the sockets sat idle, in milliseconds.
    pub idle_cpu_ms: u64,
    /// How long they sat idle.
    pub idle_for: Duration,
}

impl std::fmt::Display for IdleReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.threads.max(1) as f64;
        let growth = self.rss_after_kib.saturating_sub(self.rss_before_kib) as f64;
        let minutes = self.idle_for.as_secs_f64() / 60.0;
        write!(
            f,
            "idle handoff sockets: threads={} rss_before={} KiB rss_after={} KiB \
             growth_per_socket={:.1} KiB idle_cpu={} ms over {:.0} s \
             cpu_per_socket_minute={:.3} ms",
            self.threads,
            self.rss_before_kib,
            self.rss_after_kib,
            growth / n,
            self.idle_cpu_ms,
            self.idle_for.as_secs_f64(),
            self.idle_cpu_ms as f64 / n / minutes.max(f64::EPSILON),
        )
    }
}

/// Holds `threads` human-handled threads open in the real binary for `idle_for` and
/// reads its memory and CPU time off `/proc` (Linux only): first every thread gets an
/// AI answer (listening is off, so no socket yet), then each conversation is handed to
/// a person and the user writes once more (the relay starts: one socket per thread),
/// then nothing happens but the pings.
pub async fn idle(binary: &Path, threads: usize, idle_for: Duration) -> IdleReport {
    let sim = crate::support::simulator(0).await;
    let slack = super::campaign_slack().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let store: PathBuf = dir.path().join("store");
    let off = [("SITEASSIST_BRIDGE__HANDOFF__WATCH_MINUTES", "0".to_string())];
    let bridge = BridgeProcess::slack_with(binary, &store, &sim, &slack, &off);
    slack.wait_for_socket_connections(1).await;
    let channel = |i: usize| format!("C0IDLE{i:05}");
    let ts = |i: usize| format!("1600002{i:03}.{:06}", i / 1000);
    // In waves, so the fake's 3 s acknowledgement deadline holds on two cores.
    for wave in (0..threads).collect::<Vec<_>>().chunks(100) {
        for &i in wave {
            let text = format!("<@UBOT> How do refunds work? ({i})");
            let ev = fake_slack::app_mention(
                &format!("EvI{i}"),
                &channel(i),
                "U0I",
                &text,
                &ts(i),
                None,
            );
            slack.send_socket_event(ev);
        }
        let last = *wave.last().expect("a wave");
        let answered = |f: &FakeSlack| {
            wave.iter().all(|&i| {
                f.messages_in_thread(&channel(i), &ts(i))
                    .last()
                    .is_some_and(|(_, x)| x != "Thinking…")
            })
        };
        slack.wait_until_within(&format!("answers up to {last}"), SHOW_LIMIT, answered).await;
    }
    let rss_before_kib = rss_kib(bridge.pid());
    for conversation in sim.sim.conversation_ids() {
        sim.sim.hand_over(&conversation, "Dana");
    }
    for wave in (0..threads).collect::<Vec<_>>().chunks(100) {
        for &i in wave {
            let ev = fake_slack::message(
                &format!("EvJ{i}"),
                &channel(i),
                "U0I",
                "Can a person look at this?",
                &format!("1600003{i:03}.{:06}", i / 1000),
                Some(&ts(i)),
            );
            slack.send_socket_event(ev);
        }
        let n = wave.last().map_or(0, |l| l + 1);
        let open = sim.sim.wait_until(|s| s.open_sockets() >= n);
        tokio::time::timeout(SHOW_LIMIT, open).await.expect("a socket per handed-over thread");
    }
    let rss_after_kib = rss_kib(bridge.pid());
    let cpu_before = cpu_ms(bridge.pid());
    tokio::time::sleep(idle_for).await;
    let idle_cpu_ms = cpu_ms(bridge.pid()).saturating_sub(cpu_before);
    assert_eq!(sim.sim.open_sockets(), threads, "every socket still open");
    bridge.terminate();
    IdleReport { threads, rss_before_kib, rss_after_kib, idle_cpu_ms, idle_for }
}

/// Resident memory of `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// CPU time (user + system) `pid` has used, in milliseconds (clock ticks of 10 ms).
fn cpu_ms(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc stat");
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 =
        fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0);
    ticks * 10
}
