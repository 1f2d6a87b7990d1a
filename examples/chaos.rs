//! The fault campaign at full size:
//!
//! ```text
//! cargo build --release && cargo run --release --example chaos -- [--seed N] [--events N] [--discord-events N] [--kill-events N] [--discord-kill-events N] [--limits-events N] [--kills N]
//! ```
//!
//! Runs `--events` questions (default 1,000) through the Slack bridge in this process,
//! `--limits-events` (default 60) through it with the question limits on and Slack's
//! update limit squeezed, six questions in each of three Discord threads (the channel
//! budget bites),
//! `--discord-events` (default 300) through the Discord bridge in this process (against
//! the fake Discord), `--kill-events` (default 200) through the real binary on Slack
//! and `--discord-kill-events` (default 100) through it on Discord, each SIGKILLed
//! `--kills` times (default 5) mid-stream, against the SiteAssist simulator
//! and the fakes on 127.0.0.1, with faults injected at random from `--seed`. Prints
//! the faults injected and the summary line; exits 1 unless the report is clean (no
//! duplicates, lost, stuck or unexpected outcomes, every fault used). The binary it kills is `siteassist-bridge` next to this example's
//! directory, so build it with the same profile first.

#[path = "../tests/chaos_campaign/mod.rs"]
mod chaos_campaign;
#[path = "../tests/fake_discord/mod.rs"]
mod fake_discord;
#[path = "../tests/fake_slack/mod.rs"]
mod fake_slack;
#[path = "../tests/support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::process::ExitCode;

struct Args {
    seed: u64,
    events: usize,
    discord_events: usize,
    kill_events: usize,
    discord_kill_events: usize,
    limits_events: usize,
    kills: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        seed: 1,
        events: 1000,
        discord_events: 300,
        kill_events: 200,
        discord_kill_events: 100,
        limits_events: 60,
        kills: 5,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |v: &str| v.parse::<u64>().map_err(|_| format!("{flag}: not a number: {v}"));
        match flag.as_str() {
            "--seed" => args.seed = number(&value)?,
            "--events" => args.events = number(&value)? as usize,
            "--discord-events" => args.discord_events = number(&value)? as usize,
            "--kill-events" => args.kill_events = number(&value)? as usize,
            "--discord-kill-events" => args.discord_kill_events = number(&value)? as usize,
            "--limits-events" => args.limits_events = number(&value)? as usize,
            "--kills" => args.kills = number(&value)? as usize,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(args)
}

/// `target/<profile>/siteassist-bridge`, beside `target/<profile>/examples/chaos`.
fn bridge_binary() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let profile_dir = exe.parent().and_then(|examples| examples.parent());
    let binary = profile_dir.map(|d| d.join("siteassist-bridge"));
    match binary {
        Some(b) if b.is_file() => Ok(b),
        _ => Err("siteassist-bridge is not built for this profile; run `cargo build --release` \
                  (or without --release for a debug run) first"
            .into()),
    }
}

fn main() -> ExitCode {
    let (args, binary) = match parse_args().and_then(|a| Ok((a, bridge_binary()?))) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("chaos: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let (report, problems) = runtime.block_on(async {
        let started = std::time::Instant::now();
        let (mut report, mut problems) =
            chaos_campaign::in_process(args.seed, args.events, 32).await;
        eprintln!("in-process phase: {report} ({:.0?})", started.elapsed());
        let (limits, more) = chaos_campaign::limits(args.seed, args.limits_events).await;
        eprintln!("limits phase: {limits} ({:.0?})", started.elapsed());
        report.merge(&limits);
        problems.extend(more);
        let (crowded, more) = chaos_campaign::discord::limits(args.seed, 6).await;
        eprintln!("discord limits phase: {crowded} ({:.0?})", started.elapsed());
        report.merge(&crowded);
        problems.extend(more);
        let (discord, more) =
            chaos_campaign::discord::discord(args.seed, args.discord_events, 32).await;
        eprintln!("discord phase: {discord} ({:.0?})", started.elapsed());
        report.merge(&discord);
        problems.extend(more);
        let (killed, more) =
            chaos_campaign::with_kills(&binary, args.seed, args.kill_events, args.kills).await;
        eprintln!("kill phase: {killed} ({:.0?})", started.elapsed());
        report.merge(&killed);
        problems.extend(more);
        let (killed, more) = chaos_campaign::discord::with_kills(
            &binary,
            args.seed,
            args.discord_kill_events,
            args.kills,
        )
        .await;
        eprintln!("discord kill phase: {killed} ({:.0?})", started.elapsed());
        report.merge(&killed);
        problems.extend(more);
        (report, problems)
    });
    for p in &problems {
        eprintln!("{p}");
    }
    println!("seed={} faults: {}", args.seed, report.faults_line());
    println!("{report}");
    if report.clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
