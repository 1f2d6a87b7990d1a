//! What idle human-handled threads cost: the real binary holds `--threads` (default
//! 1,000) conversation sockets open for `--seconds` (default 120: four ping rounds)
//! against the simulator and the fake Slack, and this prints its resident memory
//! before and after the sockets and the CPU time it used while they sat idle:
//!
//! ```text
//! cargo build --release && cargo run --release --example handoff_idle -- [--threads N] [--seconds S]
//! ```
//!
//! The binary measured is `siteassist-bridge` next to this example's directory, so
//! build it with the same profile first. Linux only (it reads `/proc`).

#[path = "../tests/chaos_campaign/mod.rs"]
mod chaos_campaign;
#[path = "../tests/fake_discord/mod.rs"]
mod fake_discord;
#[path = "../tests/fake_slack/mod.rs"]
mod fake_slack;
#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Duration;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name} takes a number")))
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let threads = arg("--threads", 1_000) as usize;
    let seconds = arg("--seconds", 120);
    let here = std::env::current_exe().expect("this example's path");
    let binary =
        here.parent().and_then(|p| p.parent()).expect("target dir").join("siteassist-bridge");
    assert!(binary.exists(), "build {} first", binary.display());
    let report =
        chaos_campaign::handoff::idle(&binary, threads, Duration::from_secs(seconds)).await;
    println!("{report}");
}
