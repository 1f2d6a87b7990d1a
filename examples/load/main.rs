//! The load bench: N questions at once through the real Discord adapter and core,
//! each question a new thread with one multi-delta answer, against the fake Discord
//! (its rate limits raised) and the SiteAssist simulator.
//!
//! ```text
//! cargo run --release --example load -- [--n 100,1000,10000] [--modes bridge,serial,flush-each,naive]
//!     [--word-ms 10] [--watch 30] [--settle 10] [--lanes 64]
//! ```
//!
//! The fake Discord and the simulator run in this process; each N and mode runs the
//! bridge alone in a fresh child process ([`bridge_side`]), so the CPU seconds and the
//! resident memory above idle that it reports are the bridge's own. The modes, all in
//! the same build and run:
//! - `bridge`: the bridge as it ships (intake lanes, sled grouping concurrent flushes);
//! - `serial`: the intake before issue #17's lanes, one event at a time;
//! - `flush-each`: a flush per store write instead of group commit;
//! - `naive`: a naive bot (one post, then one edit per streamed delta, no coalescing,
//!   no store) talking to the same fakes.
//!
//! It prints, per N and mode: time to first visible answer text from the event
//! (p50/p99), final-text lag after the answer's last word left SiteAssist (p50/p99),
//! platform calls per reply, CPU time per reply, peak resident memory per reply above
//! idle, what is left above idle `--settle` seconds after the last answer (idle thread
//! workers exit after `--settle` minus 3 s; the handoff watch keeps a socket per
//! conversation open for `--watch` minutes), store operations per reply, and errors
//! (answers that did not end identical to the stream); then the ratios. As a table and
//! as one JSON line per N and mode. Linux only (it reads `/proc/self`).

#[path = "../../tests/fake_discord/mod.rs"]
mod fake_discord;
#[path = "../../tests/support/mod.rs"]
mod support;

mod bridge_side;
mod counting;
mod measure;
mod platform_side;

use serde::{Deserialize, Serialize};

/// The question every thread asks: a list-shaped answer of about 80 words.
const QUESTION: &str = "How do I reset my password?";

/// The runs per N, in this order (see the module docs).
const MODES: [&str; 4] = ["bridge", "serial", "flush-each", "naive"];

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

fn number(name: &str, default: u64) -> u64 {
    arg(name).map_or(default, |v| v.parse().unwrap_or_else(|_| panic!("{name} takes a number")))
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
    idle_kib: u64,
    rss_kib_per_reply: f64,
    settled_kib_above_idle: i64,
    store_ops_per_reply: f64,
    errors: usize,
    seconds: f64,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

fn main() {
    measure::open();
    if let Some(mode) = arg("--bridge-side") {
        let opts = bridge_side::Options {
            mode,
            api_url: arg("--api").expect("--api"),
            cdn_url: arg("--cdn").expect("--cdn"),
            sim_url: arg("--sim").expect("--sim"),
            watch_minutes: number("--watch", 30),
            settle_secs: number("--settle", 10),
            lanes: arg("--lanes").and_then(|l| l.parse().ok()).filter(|l| *l > 0),
        };
        runtime().block_on(bridge_side::run(opts));
        return;
    }
    let sweep: Vec<usize> = arg("--n")
        .unwrap_or_else(|| "100,1000,10000".into())
        .split(',')
        .map(|n| n.trim().parse().expect("--n takes numbers"))
        .collect();
    let modes: Vec<String> = arg("--modes").map_or_else(
        || MODES.iter().map(|m| m.to_string()).collect(),
        |m| m.split(',').map(|m| m.trim().to_string()).collect(),
    );
    for m in &modes {
        assert!(MODES.contains(&m.as_str()), "unknown mode {m:?}: one of {MODES:?}");
    }
    let plan = platform_side::Plan {
        word_ms: number("--word-ms", 10),
        watch_minutes: number("--watch", 30),
        settle_secs: number("--settle", 10),
        lanes: number("--lanes", 0),
    };
    let rt = runtime();
    let mut rows = Vec::new();
    for n in sweep {
        for mode in &modes {
            let row = rt.block_on(platform_side::run(n, mode, &plan));
            println!("{}", serde_json::to_string(&row).expect("a row"));
            rows.push(row);
        }
    }
    table(&rows);
}

fn table(rows: &[Row]) {
    println!();
    println!(
        "{:>6} {:>10} {:>10} {:>10} {:>9} {:>9} {:>6} {:>7} {:>8} {:>9} {:>6} {:>6}",
        "N",
        "mode",
        "first p50",
        "first p99",
        "lag p50",
        "lag p99",
        "calls",
        "cpu ms",
        "KiB peak",
        "KiB left",
        "store",
        "errors"
    );
    for r in rows {
        println!(
            "{:>6} {:>10} {:>8.0}ms {:>8.0}ms {:>7.1}ms {:>7.1}ms {:>6.1} {:>7.3} {:>8.1} {:>9} {:>6.1} {:>6}",
            r.n,
            r.mode,
            r.first_text_p50_ms,
            r.first_text_p99_ms,
            r.final_lag_p50_ms,
            r.final_lag_p99_ms,
            r.calls_per_reply,
            r.cpu_ms_per_reply,
            r.rss_kib_per_reply,
            r.settled_kib_above_idle,
            r.store_ops_per_reply,
            r.errors
        );
    }
    println!();
    let find = |n: usize, mode: &str| rows.iter().find(|r| r.n == n && r.mode == mode);
    let mut ns: Vec<usize> = rows.iter().map(|r| r.n).collect();
    ns.dedup();
    for n in ns {
        let Some(bridge) = find(n, "bridge") else { continue };
        if let Some(serial) = find(n, "serial") {
            println!(
                "N={n}: intake lanes vs one at a time: first text p50 {:.0} vs {:.0} ms, p99 {:.0} vs {:.0} ms, CPU per reply {:.3} vs {:.3} ms",
                bridge.first_text_p50_ms,
                serial.first_text_p50_ms,
                bridge.first_text_p99_ms,
                serial.first_text_p99_ms,
                bridge.cpu_ms_per_reply,
                serial.cpu_ms_per_reply,
            );
        }
        if let Some(each) = find(n, "flush-each") {
            println!(
                "N={n}: group commit vs a flush per write: first text p99 {:.0} vs {:.0} ms, CPU per reply {:.3} vs {:.3} ms",
                bridge.first_text_p99_ms,
                each.first_text_p99_ms,
                bridge.cpu_ms_per_reply,
                each.cpu_ms_per_reply,
            );
        }
        if let Some(naive) = find(n, "naive") {
            println!(
                "N={n}: platform calls per reply {:.1} vs naive {:.1} (1/{:.1}), CPU per reply {:.3} ms vs {:.3} ms ({:.2}x)",
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
