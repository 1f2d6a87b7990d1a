//! Several bridge binaries on one PostgreSQL database against the fake Slack (Socket
//! Mode: each replica opens its own connection, as Slack lets up to 10 connections of
//! one app share its envelopes) and the fake Discord (4 shards, `discord.shards =
//! "auto"`), with the SiteAssist simulator. Shared by `tests/replicas_scale.rs` (every
//! question answered once, in order) and `examples/replicas.rs` (answers per second
//! with one replica and with three).
#![allow(dead_code)] // each user takes its own part

use super::fake_discord::payloads::Msg;
use super::fake_discord::{self, FakeDiscord, SUPPORT};
use super::fake_slack::{self, app_mention, FakeSlack};
use super::support::{self, ReportingChild};
use siteassist_bridge::simulator::RunningSimulator;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Discord's recommended shard count in the fake.
pub const SHARDS: u64 = 4;

/// One database, simulator, fake Slack and fake Discord shared by the replicas.
pub struct Cluster {
    /// The database URL the replicas use (its own database, so its statistics are the
    /// replicas' alone).
    pub url: String,
    /// The database's name.
    pub database: String,
    admin_url: String,
    /// The SiteAssist simulator.
    pub sim: RunningSimulator,
    /// The fake Slack (Socket Mode).
    pub slack: FakeSlack,
    /// The fake Discord, recommending [`SHARDS`] shards.
    pub discord: FakeDiscord,
}

impl Cluster {
    /// A fresh database on `SITEASSIST_TEST_DATABASE_URL`'s server, and the fakes. The
    /// platforms' rate limits are raised: the budgets are per process, and this is about
    /// who answers, not about pacing.
    pub async fn start(word_delay_ms: u64) -> Self {
        let admin_url = std::env::var("SITEASSIST_TEST_DATABASE_URL")
            .expect("SITEASSIST_TEST_DATABASE_URL names the PostgreSQL server");
        let database = format!("sab_scale_{}", uuid::Uuid::new_v4().simple());
        let admin = connect(&admin_url).await;
        admin.batch_execute(&format!("CREATE DATABASE {database}")).await.unwrap();
        let url = with_database(&admin_url, &database);
        let sim = support::simulator(word_delay_ms).await;
        let slack = FakeSlack::start().await;
        slack.set_limits(fake_slack::SlackLimits {
            updates_per_window: 1_000_000,
            ..Default::default()
        });
        let discord = FakeDiscord::start().await;
        discord.state.with(|r| {
            r.recommended_shards = SHARDS;
            r.limits = fake_discord::Limits {
                channel_actions: 1_000_000,
                global_per_second: 1_000_000,
                ..Default::default()
            };
        });
        Self { url, database, admin_url, sim, slack, discord }
    }

    /// Starts a replica (Slack in Socket Mode and Discord with leased shards) and
    /// waits until its health server is up.
    pub fn replica(&self, extra: &[(&str, &str)]) -> ReportingChild {
        let env = [
            ("SITEASSIST_PUBLISHABLE_KEY", "pk_test_scale"),
            ("SITEASSIST_BRIDGE__SITEASSIST__API_URL", self.sim.base_url.as_str()),
            ("SITEASSIST_BRIDGE__STORE__BACKEND", "postgres"),
            ("DATABASE_URL", &self.url),
            ("SITEASSIST_BRIDGE__BRIDGE__USER_QUESTIONS_PER_MINUTE", "0"),
            ("SITEASSIST_BRIDGE__BRIDGE__CHANNEL_QUESTIONS_PER_MINUTE", "0"),
            ("SITEASSIST_BRIDGE__BRIDGE__THREAD_QUEUE", "64"),
            ("SITEASSIST_BRIDGE__HANDOFF__WATCH_MINUTES", "0"),
            ("SITEASSIST_BRIDGE__SLACK__ENABLED", "true"),
            // The edit path: these runs check answers by their rendered text and count
            // edits; native streams, and their recovery after a kill, are tested in
            // tests/slack_streaming.rs.
            ("SITEASSIST_BRIDGE__SLACK__STREAMING", "edit"),
            ("SITEASSIST_BRIDGE__SLACK__API_URL", &self.slack.api_url()),
            ("SITEASSIST_BRIDGE__SLACK__EDIT_BUDGET_PER_MINUTE", "1000000"),
            ("SLACK_BOT_TOKEN", fake_slack::BOT_TOKEN),
            ("SLACK_APP_TOKEN", fake_slack::APP_TOKEN),
            ("SITEASSIST_BRIDGE__DISCORD__ENABLED", "true"),
            ("SITEASSIST_BRIDGE__DISCORD__API_URL", &self.discord.api_url),
            ("SITEASSIST_BRIDGE__DISCORD__SHARDS", "auto"),
            ("DISCORD_TOKEN", fake_discord::TOKEN),
            ("RUST_LOG", "warn,siteassist_bridge::ops::server=info"),
        ];
        ReportingChild::spawn(
            Command::new(env!("CARGO_BIN_EXE_siteassist-bridge"))
                .env_clear()
                .envs(env)
                .envs(extra.iter().copied())
                .stdin(Stdio::null())
                .stdout(Stdio::null()),
        )
    }

    /// Waits until `n` replicas have their Socket Mode connection open and every
    /// Discord shard runs exactly once.
    pub async fn settled(&self, n: usize, limit: Duration) {
        self.slack
            .wait_until_within("a Socket Mode connection per replica", limit, |f| {
                f.socket_connections() >= n
            })
            .await;
        let each_once = (0..SHARDS).map(|s| [s, SHARDS]).collect::<Vec<_>>();
        self.discord
            .wait_until("every Discord shard running once", limit, move |r| {
                r.live_shards() == each_once
            })
            .await;
    }

    /// Question `k` of Slack thread `i` as an envelope on connection `conn`; returns
    /// the envelope id.
    pub fn ask_slack(&self, i: usize, k: usize, conn: usize) -> String {
        self.ask_slack_in(&slack_channel(i), i, k, conn)
    }

    /// [`Self::ask_slack`] in `channel` rather than thread `i`'s usual one.
    pub fn ask_slack_in(&self, channel: &str, i: usize, k: usize, conn: usize) -> String {
        let root = slack_root(i);
        let ts = format!("{}.{:06}", 1_700_200_000 + i * 10, 100 + k * 100);
        let text = format!("<@{}> {}", fake_slack::BOT_USER_ID, question(i, k));
        let thread = (k > 0).then_some(root.as_str());
        let body = app_mention(&format!("EvScale{i}x{k}"), channel, "U0SCALE", &text, &ts, thread);
        self.slack.send_socket_event_on(conn, body)
    }

    /// Question `k` of Discord thread `i`: the first mentions the bot in the support
    /// channel (the answer's thread is started on it), the others are written in that
    /// thread. Returns the first question's message id, which is the thread's id.
    pub fn ask_discord(&self, thread: Option<u64>, i: usize, k: usize) -> u64 {
        let id = self.discord.next_id();
        let q = question(i, k);
        let msg = match thread {
            None => Msg::mention(id, SUPPORT, &q),
            Some(thread) => Msg::in_guild(id, thread, &q),
        };
        self.discord.dispatch("MESSAGE_CREATE", msg.json());
        thread.unwrap_or(id)
    }

    /// Transactions the replicas ran in the database so far (PostgreSQL's own
    /// statistics; every statement outside an explicit transaction counts as one).
    pub async fn transactions(&self) -> i64 {
        let admin = connect(&self.admin_url).await;
        let _ = admin.batch_execute("SELECT pg_stat_clear_snapshot()").await;
        let row = admin
            .query_one(
                "SELECT (xact_commit + xact_rollback)::bigint FROM pg_stat_database WHERE datname = $1",
                &[&self.database],
            )
            .await
            .unwrap();
        row.get(0)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let (url, database) = (self.admin_url.clone(), self.database.clone());
        // A fresh runtime on its own thread: the test's runtime may be shutting down.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let Ok((client, conn)) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await
                else {
                    return;
                };
                tokio::spawn(conn);
                let drop = format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)");
                let _ = client.batch_execute(&drop).await;
            })
        })
        .join();
    }
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client
}

/// `url` with its database replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let authority = base.rsplit_once('/').map_or(base, |(a, _)| a);
    match query {
        Some(q) => format!("{authority}/{database}?{q}"),
        None => format!("{authority}/{database}"),
    }
}

/// Question `k` of thread `i`: three topics in turn, so every answer differs from the
/// one before it in its thread.
pub fn question(i: usize, k: usize) -> String {
    let topic =
        ["How do I reset my password?", "Can I get a refund?", "Where is my API key?"][k % 3];
    format!("Thread {i} question {k}: {topic}")
}

pub fn slack_channel(i: usize) -> String {
    format!("C0SCALE{}", i % 20)
}

pub fn slack_root(i: usize) -> String {
    format!("{}.000100", 1_700_200_000 + i * 10)
}
