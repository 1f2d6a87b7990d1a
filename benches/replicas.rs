//! Answers per second with one replica and with three, measured in the same run, and
//! the database work per answered question.
//!
//! ```sh
//! SITEASSIST_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//!     cargo bench --bench replicas [-- --threads 600 --asked 1 --rounds 2]
//! ```
//!
//! The real binary (built with the bench, so optimized), a fresh database per run on
//! the given PostgreSQL server, the fake Slack in Socket Mode (each replica opens its
//! own connection and envelopes are spread over them) and the SiteAssist simulator
//! (1 ms a word), all on this machine: `threads` threads, each in a channel of its own,
//! get `asked` questions each,
//! a round at a time (a thread's next question once the previous one is
//! acknowledged, in bursts of 12 per connection, each burst once Slack has its acks),
//! and the clock stops when every thread shows all its answers, in order. Each
//! configuration runs `rounds` times, alternating, so drift on a shared machine hits
//! both. Prints one JSON line per run and a summary with the ratio of three replicas
//! to one.
//!
//! The fakes and the simulator share the machine's cores with the replicas, so the
//! figures say what this machine does, not what three machines would. 2026-12-04, this
//! 2-core machine, defaults: 1 replica 214-222 answers/s, 3 replicas 218-226 (ratio
//! 1.02: the two cores are the limit, so replicas add availability here, not
//! capacity), 17-19 database transactions per question.

#[path = "../tests/fake_discord/mod.rs"]
mod fake_discord;
#[path = "../tests/fake_slack/mod.rs"]
mod fake_slack;
#[path = "../tests/replicas_kit/mod.rs"]
mod replicas_kit;
#[path = "../tests/support/mod.rs"]
mod support;

use replicas_kit::{question, slack_root, Cluster};
use siteassist_bridge::adapters::slack::format::to_slack;
use siteassist_bridge::simulator::answer_for;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(600);

/// A channel of its own for each thread: Slack lets a channel take 5 messages or edits
/// in 5 s, which the bridge paces to, and a few busy channels would measure that pace
/// rather than what the replicas can do (three replicas would even seem three times
/// faster, each pacing its own count: the channel budget is not shared). For the same
/// reason the default is one question a thread: with three, a thread's ~9 calls wait
/// out the channel's window.
fn channel(i: usize) -> String {
    format!("C0BENCH{i}")
}

struct Options {
    threads: usize,
    asked: usize,
    rounds: usize,
}

fn options() -> Options {
    let mut o = Options { threads: 600, asked: 1, rounds: 2 };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = || args.get(i + 1).and_then(|v| v.parse().ok());
        match args[i].as_str() {
            "--threads" => o.threads = value().expect("--threads N"),
            "--asked" => o.asked = value().expect("--asked N"),
            "--rounds" => o.rounds = value().expect("--rounds N"),
            // `cargo bench` passes `--bench`; anything else is a mistake worth saying.
            "--bench" => {
                i += 1;
                continue;
            }
            other => panic!("unknown argument {other:?} (--threads, --asked, --rounds)"),
        }
        i += 2;
    }
    o
}

/// One run's figures.
struct Run {
    replicas: usize,
    questions: usize,
    took: Duration,
    transactions: i64,
}

impl Run {
    fn per_second(&self) -> f64 {
        self.questions as f64 / self.took.as_secs_f64()
    }

    fn per_question(&self) -> f64 {
        self.transactions as f64 / self.questions as f64
    }
}

async fn run(replicas: usize, o: &Options) -> Run {
    let cluster = Cluster::start(1).await;
    let children: Vec<_> = (0..replicas)
        .map(|_| cluster.replica(&[("SITEASSIST_BRIDGE__DISCORD__ENABLED", "false")]))
        .collect();
    cluster
        .slack
        .wait_until_within("a Socket Mode connection per replica", LIMIT, |f| {
            f.socket_connections() >= replicas
        })
        .await;
    let before = cluster.transactions().await;
    let started = Instant::now();
    let burst = 12 * replicas;
    for k in 0..o.asked {
        for start in (0..o.threads).step_by(burst) {
            let envelopes: Vec<String> = (start..(start + burst).min(o.threads))
                .map(|i| cluster.ask_slack_in(&channel(i), i, k, i + k))
                .collect();
            cluster
                .slack
                .wait_until_within("the burst's acks", LIMIT, |f| {
                    let acks = f.acks();
                    envelopes.iter().all(|e| acks.contains(e))
                })
                .await;
        }
    }
    let expected: Vec<Vec<String>> = (0..o.threads)
        .map(|i| (0..o.asked).map(|k| to_slack(&answer_for(&question(i, k)))).collect())
        .collect();
    cluster
        .slack
        .wait_until_within("every thread's answers", LIMIT, |f| {
            (0..o.threads).all(|i| {
                let shown = f.messages_in_thread(&channel(i), &slack_root(i));
                shown.len() == o.asked && shown.iter().zip(&expected[i]).all(|((_, t), e)| t == e)
            })
        })
        .await;
    let took = started.elapsed();
    let transactions = cluster.transactions().await - before;
    drop(children);
    Run { replicas, questions: o.threads * o.asked, took, transactions }
}

fn main() {
    if std::env::var("SITEASSIST_TEST_DATABASE_URL").is_err() {
        println!("replicas bench skipped: set SITEASSIST_TEST_DATABASE_URL to a PostgreSQL server");
        return;
    }
    let o = options();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let mut runs: Vec<Run> = Vec::new();
    for _ in 0..o.rounds {
        for replicas in [1, 3] {
            let r = rt.block_on(run(replicas, &o));
            println!(
                "{{\"replicas\":{},\"questions\":{},\"seconds\":{:.2},\"answers_per_second\":{:.1},\"db_transactions_per_question\":{:.1}}}",
                r.replicas,
                r.questions,
                r.took.as_secs_f64(),
                r.per_second(),
                r.per_question()
            );
            runs.push(r);
        }
    }
    let best = |n: usize, f: fn(&Run) -> f64| {
        runs.iter().filter(|r| r.replicas == n).map(f).fold(f64::NAN, f64::max)
    };
    let (one, three) = (best(1, Run::per_second), best(3, Run::per_second));
    println!(
        "answers per second (best of {}): 1 replica {one:.1}, 3 replicas {three:.1}, ratio {:.2}",
        o.rounds,
        three / one
    );
    println!(
        "database transactions per question: 1 replica {:.1}, 3 replicas {:.1}",
        -best(1, |r| -r.per_question()),
        -best(3, |r| -r.per_question())
    );
}
