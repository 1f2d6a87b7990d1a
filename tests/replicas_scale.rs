//! Three replicas behave as one bot on both platforms at once: 1,000 questions over 200
//! threads, with follow-ups in the same threads arriving at different replicas, are
//! each answered exactly once and in per-thread order.
//!
//! - Slack, Socket Mode: each replica opens its own connection; every question goes to
//!   a different connection than the one before it in its thread, and one in ten
//!   envelopes is delivered again on another connection (as Slack redelivers when an
//!   ack is late). A round's follow-ups are sent once Slack has the acks of the round
//!   before, as a person writes after their message went through.
//! - Discord, `discord.shards = "auto"` with 4 shards: every shard runs on exactly one
//!   replica; the guild's questions reach whichever runs its shard.
//!
//! Needs PostgreSQL (`SITEASSIST_TEST_DATABASE_URL`, set by `.ci/run`); without it the
//! test is listed as ignored.
#![cfg(all(unix, feature = "slack", feature = "discord"))]

mod fake_discord;
mod fake_slack;
mod replicas_kit;
mod support;

use fake_discord::Op;
use futures_util::FutureExt;
use replicas_kit::{question, slack_channel, slack_root, Cluster};
use siteassist_bridge::adapters::discord::format::render;
use siteassist_bridge::adapters::slack::format::to_slack;
use siteassist_bridge::simulator::answer_for;
use std::time::{Duration, Instant};

const REPLICAS: usize = 3;
const SLACK_THREADS: usize = 180;
const DISCORD_THREADS: usize = 20;
/// Questions per thread: 200 threads x 5 = 1,000 questions.
const ASKED: usize = 5;
const LIMIT: Duration = Duration::from_secs(300);

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(test_database),
    ignore = "needs PostgreSQL: set SITEASSIST_TEST_DATABASE_URL (.ci/run sets it)"
)]
async fn a_thousand_questions_over_three_replicas_are_answered_once_and_in_order() {
    let cluster = Cluster::start(1).await;
    let replicas: Vec<_> = (0..REPLICAS).map(|_| cluster.replica(&[])).collect();
    cluster.settled(REPLICAS, Duration::from_secs(60)).await;
    let started = Instant::now();

    // Discord: the first question of each thread, then (once the bot opened the
    // thread on it, as Discord allows nothing earlier) the follow-ups, in order.
    let firsts: Vec<u64> = (0..DISCORD_THREADS).map(|i| cluster.ask_discord(None, i, 0)).collect();
    let opened = firsts.clone();
    cluster
        .discord
        .wait_until("a Discord thread on every first question", LIMIT, move |r| {
            let made: Vec<u64> =
                r.calls_of(Op::CreateThread).iter().filter_map(|c| c.message).collect();
            opened.iter().all(|id| made.contains(id))
        })
        .await;
    // Each follow-up once the bot has started answering the one before (its reply is
    // posted), as a person writes: serenity hands each gateway event to the handler on
    // a task of its own, so two messages written in the same instant may reach the
    // core in either order (a limit of the library, not of replicas).
    let discord_rounds = async {
        for k in 1..ASKED {
            let threads = firsts.clone();
            cluster
                .discord
                .wait_until("the previous Discord question taken", LIMIT, move |r| {
                    threads.iter().all(|t| r.messages_in(*t).len() >= k)
                })
                .await;
            for (i, thread) in firsts.iter().enumerate() {
                cluster.ask_discord(Some(*thread), i, k);
            }
        }
    };

    // Slack: round k sends every thread's question k, each on another connection than
    // the thread's previous one; one envelope in ten comes again on a third one. They
    // go in bursts of six per connection, each burst once the last is acknowledged:
    // Socket Mode reads a connection's envelopes one after another (slack-morphism
    // answers each before reading the next) and acknowledges each only once its claim
    // is stored, so a burst of dozens on one connection would test the 3 s ack limit
    // on this loaded machine rather than who answers.
    let burst = 6 * 2 * REPLICAS;
    let slack_rounds = async {
        let mut redelivered = 0;
        for k in 0..ASKED {
            for start in (0..SLACK_THREADS).step_by(burst) {
                let mut envelopes = Vec::new();
                for i in start..(start + burst).min(SLACK_THREADS) {
                    let conn = i + k;
                    let envelope = cluster.ask_slack(i, k, conn);
                    if (i * 7 + k * 3) % 10 == 0 {
                        cluster.slack.redeliver_on(conn + 1, &envelope);
                        redelivered += 1;
                    }
                    envelopes.push(envelope);
                }
                cluster
                    .slack
                    .wait_until_within("the burst's acks", LIMIT, |f| {
                        let acks = f.acks();
                        envelopes.iter().all(|e| acks.contains(e))
                    })
                    .await;
            }
        }
        redelivered
    };
    let ((), redelivered) = tokio::join!(discord_rounds, slack_rounds);

    let slack_expected = |i: usize| -> Vec<String> {
        (0..ASKED).map(|k| to_slack(&answer_for(&question(i, k)))).collect()
    };
    let discord_expected = |i: usize| -> Vec<String> {
        (0..ASKED).map(|k| render(&answer_for(&question(i, k)))).collect()
    };
    let slack_done = |f: &fake_slack::FakeSlack, i: usize| {
        let texts: Vec<String> = f
            .messages_in_thread(&slack_channel(i), &slack_root(i))
            .into_iter()
            .map(|(_, t)| t)
            .collect();
        texts == slack_expected(i)
    };
    let all_slack = cluster.slack.wait_until_within("every Slack thread's answers", LIMIT, |f| {
        (0..SLACK_THREADS).all(|i| slack_done(f, i))
    });
    if std::panic::AssertUnwindSafe(all_slack).catch_unwind().await.is_err() {
        for i in (0..SLACK_THREADS).filter(|i| !slack_done(&cluster.slack, *i)).take(5) {
            let texts = cluster.slack.messages_in_thread(&slack_channel(i), &slack_root(i));
            eprintln!("Slack thread {i}: {texts:?}");
        }
        panic!("not every Slack thread was answered once and in order");
    }
    let discord_done = |r: &fake_discord::Record, i: usize, thread: u64| {
        let texts: Vec<String> =
            r.messages_in(thread).iter().map(|m| m.text().to_string()).collect();
        texts == discord_expected(i)
    };
    let discord_firsts = firsts.clone();
    let all_discord =
        cluster.discord.wait_until("every Discord thread's answers", LIMIT, move |r| {
            discord_firsts.iter().enumerate().all(|(i, thread)| discord_done(r, i, *thread))
        });
    if std::panic::AssertUnwindSafe(all_discord).catch_unwind().await.is_err() {
        cluster.discord.read(|r| {
            for (i, thread) in
                firsts.iter().enumerate().filter(|(i, t)| !discord_done(r, *i, **t)).take(5)
            {
                // Which question each message answers (by index), or `?`.
                let answers: Vec<String> = r
                    .messages_in(*thread)
                    .iter()
                    .map(|m| {
                        let k = (0..ASKED).find(|k| discord_expected(i)[*k] == m.text());
                        k.map_or_else(|| format!("?{:.30}", m.text()), |k| k.to_string())
                    })
                    .collect();
                eprintln!("Discord thread {i} ({thread}): {answers:?}");
            }
            eprintln!("live shards {:?}, identifies {}", r.live_shards(), r.identifies.len());
        });
        for r in replicas {
            let logs = r.kill_and_logs();
            eprintln!(
                "replica:\n{}",
                logs.lines()
                    .filter(|l| !l.contains("INFO"))
                    .take(30)
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        panic!("not every Discord thread was answered once and in order");
    }
    let took = started.elapsed();
    let questions = (SLACK_THREADS + DISCORD_THREADS) * ASKED;
    let transactions = cluster.transactions().await;
    eprintln!(
        "{questions} questions over {} threads on {REPLICAS} replicas ({redelivered} envelopes \
         delivered twice): all answered once, in order, in {took:?}; the database counted \
         {transactions} transactions so far",
        SLACK_THREADS + DISCORD_THREADS
    );
    // Every replica answered on Slack: a spread that fell back to one connection would
    // not have tested anything.
    for r in &replicas {
        let text = reqwest::get(format!("{}/metrics", r.base_url())).await.unwrap().text().await;
        let labels = ["platform=\"slack\"", "outcome=\"answered\""];
        let answered = support::metric_sample(
            &text.unwrap(),
            "siteassist_bridge_replies_finished_total",
            &labels,
        );
        assert!(answered.unwrap_or(0.0) > 0.0, "a replica answered nothing on Slack");
    }
}
