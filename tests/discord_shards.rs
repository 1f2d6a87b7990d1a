//! Discord shards divided between replicas (`discord.shards = "auto"`), with the real
//! binary: three replicas on one PostgreSQL database against the fake Discord, which
//! recommends 4 shards and routes each guild's events to its shard's session, as
//! Discord does. Every shard runs exactly once; a replica killed with SIGKILL has its
//! shards running elsewhere within 30 s, and the guild's questions are answered again.
#![cfg(feature = "discord")]

mod fake_discord;
mod support;

use fake_discord::payloads::Msg;
use fake_discord::{FakeDiscord, GUILD, SUPPORT};
use siteassist_bridge::adapters::discord::format::render;
use siteassist_bridge::simulator::answer_for;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{metric_sample, ReportingChild};

const BIN: &str = env!("CARGO_BIN_EXE_siteassist-bridge");
const SHARDS: u64 = 4;
/// The bound for a dead replica's shards to run again.
const TAKEOVER: Duration = Duration::from_secs(30);

/// A fresh schema on the test database; the URL that uses it.
async fn database() -> String {
    let base = std::env::var("SITEASSIST_TEST_DATABASE_URL").expect("SITEASSIST_TEST_DATABASE_URL");
    let schema = format!("sab_shards_{}", uuid::Uuid::new_v4().simple());
    let (admin, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    admin.batch_execute(&format!("CREATE SCHEMA {schema}")).await.unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}

fn replica(sim_url: &str, fake: &FakeDiscord, db: &str) -> ReportingChild {
    ReportingChild::spawn(
        Command::new(BIN)
            .env_clear()
            .envs([
                ("SITEASSIST_PUBLISHABLE_KEY", "pk_test_shards"),
                ("SITEASSIST_BRIDGE__SITEASSIST__API_URL", sim_url),
                ("SITEASSIST_BRIDGE__STORE__BACKEND", "postgres"),
                ("DATABASE_URL", db),
                ("SITEASSIST_BRIDGE__DISCORD__ENABLED", "true"),
                ("SITEASSIST_BRIDGE__DISCORD__API_URL", &fake.api_url),
                ("SITEASSIST_BRIDGE__DISCORD__SHARDS", "auto"),
                ("DISCORD_TOKEN", fake_discord::TOKEN),
                ("RUST_LOG", "info"),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null()),
    )
}

/// Every shard has exactly one live gateway session.
fn each_shard_once(r: &fake_discord::Record) -> bool {
    r.live_shards() == (0..SHARDS).map(|s| [s, SHARDS]).collect::<Vec<_>>()
}

/// The shards replica `r` says it runs (its `/metrics`).
async fn shards_of(r: &ReportingChild) -> Vec<u64> {
    let Ok(resp) = reqwest::get(format!("{}/metrics", r.base_url())).await else {
        return Vec::new();
    };
    let text = resp.text().await.unwrap_or_default();
    (0..SHARDS)
        .filter(|s| {
            let label = format!("shard=\"{s}\"");
            metric_sample(&text, "siteassist_bridge_discord_shard_running", &[&label]) == Some(1.0)
        })
        .collect()
}

/// Asks in the support channel and waits for the answer in the thread on the question.
async fn ask(fake: &FakeDiscord, question: &str) {
    let id = fake.next_id();
    fake.dispatch("MESSAGE_CREATE", Msg::mention(id, SUPPORT, question).json());
    let expected = render(&answer_for(question));
    fake.wait_until("the answer", Duration::from_secs(30), |r| {
        r.messages_in(id).last().is_some_and(|m| m.text() == expected)
    })
    .await;
    assert_eq!(fake.read(|r| r.messages_in(id).len()), 1, "answered once: {question}");
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(not(test_database), ignore = "needs PostgreSQL: set SITEASSIST_TEST_DATABASE_URL")]
async fn replicas_divide_the_shards_and_take_over_a_killed_ones() {
    let sim = support::simulator(2).await;
    let fake = FakeDiscord::start().await;
    fake.state.with(|r| r.recommended_shards = SHARDS);
    let db = database().await;
    let guild_shard = fake_discord::gateway::shard_of(GUILD, SHARDS);

    let first = replica(&sim.base_url, &fake, &db);
    fake.wait_until("one replica runs all 4 shards", TAKEOVER, each_shard_once).await;
    let mut replicas =
        vec![first, replica(&sim.base_url, &fake, &db), replica(&sim.base_url, &fake, &db)];

    // Three replicas: fair shares of ceil(4 / 3) = 2, every shard still once.
    let deadline = Instant::now() + TAKEOVER * 2;
    loop {
        let mut held = Vec::new();
        for r in &replicas {
            held.push(shards_of(r).await);
        }
        let mut all: Vec<u64> = held.iter().flatten().copied().collect();
        all.sort_unstable();
        if all == (0..SHARDS).collect::<Vec<_>>()
            && held.iter().all(|h| h.len() <= 2)
            && fake.read(each_shard_once)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "shards never settled: {held:?}, live {:?}",
            fake.live_shards()
        );
        // No event tells this test that another process re-divided; a bounded poll.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    ask(&fake, "How do I reset my password?").await;

    // SIGKILL the replica that runs the guild's shard: its shards run elsewhere again,
    // and the guild is heard again, within 30 s.
    let mut victim = None;
    for (i, r) in replicas.iter().enumerate() {
        if shards_of(r).await.contains(&guild_shard) {
            victim = Some(i);
        }
    }
    let victim = replicas.remove(victim.expect("some replica runs the guild's shard"));
    let shard = [guild_shard, SHARDS];
    let dead = fake.read(|r| r.live_session_of(shard).map(str::to_owned)).expect("a live session");
    let killed = Instant::now();
    drop(victim.kill_and_logs());
    // The fake sees a killed process's sockets close only some time after the kill, so
    // "every shard once" can still be true of the dead sessions: wait for a new one.
    fake.wait_until("the killed replica's shards run again", TAKEOVER, |r| {
        each_shard_once(r) && r.live_session_of(shard).is_some_and(|s| s != dead)
    })
    .await;
    let took = killed.elapsed();
    eprintln!("a killed replica's shards ran again after {took:?}");
    assert!(took <= TAKEOVER, "{took:?}");
    ask(&fake, "Where can I see my invoices?").await;

    let identifies = fake.read(|r| r.identifies.len());
    assert!(identifies > SHARDS as usize, "sessions were opened again ({identifies})");
}
