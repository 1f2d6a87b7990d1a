//! Handoff under fire (see `tests/chaos_campaign/handoff.rs`): 200 agent messages
//! across 20 threads, every conversation socket cut 20 times, and the real binary
//! SIGKILLed and restarted halfway: each message shows once, in order.
#![cfg(all(feature = "slack", feature = "discord"))]

mod chaos_campaign;
mod fake_discord;
mod fake_slack;
mod support;

use std::path::Path;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_messages_survive_socket_drops_and_a_kill_once_each_in_order() {
    let binary = Path::new(env!("CARGO_BIN_EXE_siteassist-bridge"));
    let (report, problems) = chaos_campaign::handoff::burst(binary, 20, 200, 20).await;
    println!("{report}");
    assert!(report.clean(), "{report}\n{}", problems.join("\n"));
    assert_eq!((report.drops, report.kills), (20, 1));
}
