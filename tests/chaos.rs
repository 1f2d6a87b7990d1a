//! The fault campaign at a size CI affords: the same code as `examples/chaos.rs`
//! (see `tests/chaos_campaign`), fewer events, two kills of the real binary on each
//! platform.
#![cfg(all(feature = "slack", feature = "discord"))]

mod chaos_campaign;
mod fake_discord;
mod fake_slack;
mod support;

use std::path::Path;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_campaign_loses_doubles_and_strands_nothing() {
    let (mut report, mut problems) = chaos_campaign::in_process(7, 160, 16).await;
    let (discord, discord_problems) = chaos_campaign::discord::discord(7, 60, 16).await;
    report.merge(&discord);
    problems.extend(discord_problems);
    let (limits, limits_problems) = chaos_campaign::limits(7, 40).await;
    report.merge(&limits);
    problems.extend(limits_problems);
    let (limits, limits_problems) = chaos_campaign::discord::limits(7, 4).await;
    report.merge(&limits);
    problems.extend(limits_problems);
    let binary = Path::new(env!("CARGO_BIN_EXE_siteassist-bridge"));
    let (killed, kill_problems) = chaos_campaign::with_kills(binary, 7, 30, 2).await;
    report.merge(&killed);
    problems.extend(kill_problems);
    let (killed, kill_problems) = chaos_campaign::discord::with_kills(binary, 7, 20, 2).await;
    report.merge(&killed);
    problems.extend(kill_problems);
    println!("faults: {}", report.faults_line());
    println!("{report}");
    // Clean means exact: every question shows what the faults that hit it say it must
    // (an answer after recoverable ones, a notice naming the cause otherwise), once, and
    // every fault queued took effect.
    assert!(report.clean(), "{report}\n{}", problems.join("\n"));
}
