//! Three processes race for the same claims on one PostgreSQL store, as three bridge
//! replicas receiving the same redelivered events would: every key is won exactly
//! once, and every in-flight record written belongs to a won claim.
//!
//! The test binary is its own child process (as in `store_durability.rs`):
//! [`three_processes_claim_each_key_once`] re-runs this executable with [`CHILD_ENV`]
//! set to the schema and a filter that selects only [`race_child`], three times. Each
//! child connects, says `ready`, waits for `go` on its stdin (sent to all three once
//! all are ready), then claims every key and prints the ones it won. Without the
//! variable, `race_child` does nothing.

use siteassist_bridge::bridge::ids::{MessageRef, ThreadKey};
use siteassist_bridge::store::{InFlightReply, PostgresStore, Store};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

/// Set (to the schema) only in the children.
const CHILD_ENV: &str = "STORE_RACE_CHILD";
const CHILD_TEST: &str = "race_child";
const PROCESSES: usize = 3;
/// Keys claimed one by one, and as pairs together with an in-flight record.
const KEYS: usize = 300;
const TTL: Duration = Duration::from_secs(3_600);

fn url() -> String {
    std::env::var("SITEASSIST_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn record(id: &str) -> InFlightReply {
    InFlightReply::new(
        id,
        "race",
        ThreadKey::new(format!("race:{id}")),
        MessageRef::new(format!("race:{id}:q")),
        1,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn race_child() {
    let Ok(schema) = std::env::var(CHILD_ENV) else { return };
    let store = PostgresStore::connect(&url(), 4, Some(&schema), None).await.expect("connects");
    println!("ready");
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).unwrap();
    let now = SystemTime::now();
    for i in 0..KEYS {
        let key = format!("event-{i}");
        if store.claim(&key, now, TTL).await.unwrap() {
            println!("won {key}");
        }
        // Two keys at once (the event id and the message id, as ingress claims them).
        let (a, b) = (format!("ev-{i}"), format!("msg-{i}"));
        let id = format!("reply-{i}-{}", std::process::id());
        if store.claim_and_record(&[&a, &b], now, TTL, &record(&id)).await.unwrap() {
            println!("won pair-{i} {id}");
        }
    }
    println!("done");
}

#[tokio::test(flavor = "multi_thread")]
async fn three_processes_claim_each_key_once() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let schema = format!("sab_race_{}", uuid::Uuid::new_v4().simple());
    let exe = std::env::current_exe().unwrap();
    let mut children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            Command::new(&exe)
                .args([CHILD_TEST, "--exact", "--nocapture", "--test-threads", "1"])
                .env(CHILD_ENV, &schema)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("child starts")
        })
        .collect();
    // Bounded: children still running after a minute are killed, their output ends,
    // and the checks below fail instead of the suite hanging.
    let pids: Vec<String> = children.iter().map(|c| c.id().to_string()).collect();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(60));
        for pid in pids {
            let _ = Command::new("kill").args(["-9", &pid]).status();
        }
    });
    let mut outputs: Vec<_> =
        children.iter_mut().map(|c| BufReader::new(c.stdout.take().unwrap()).lines()).collect();
    // Everyone connected (and migrated) before anyone claims.
    for out in &mut outputs {
        // libtest prints "test race_child ... " before the child's first line.
        let line = out.find(|l| l.as_ref().is_ok_and(|l| l.ends_with("ready")));
        assert!(line.is_some(), "a child never got ready");
    }
    for child in &mut children {
        child.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
    }
    let mut wins: HashMap<String, usize> = HashMap::new();
    let mut records = Vec::new();
    for out in outputs {
        for line in out.map_while(Result::ok) {
            if let Some(won) = line.strip_prefix("won ") {
                let mut parts = won.split(' ');
                *wins.entry(parts.next().unwrap().to_string()).or_default() += 1;
                records.extend(parts.next().map(str::to_string));
            }
        }
    }
    for mut child in children {
        assert!(child.wait().unwrap().success(), "a child failed");
    }
    for i in 0..KEYS {
        for key in [format!("event-{i}"), format!("pair-{i}")] {
            assert_eq!(wins.get(&key), Some(&1), "{key} won by exactly one process");
        }
    }
    // The stored in-flight records are exactly the winners'.
    let store = PostgresStore::connect(&url(), 2, Some(&schema), None).await.unwrap();
    let mut stored: Vec<String> =
        store.in_flight().await.unwrap().into_iter().map(|r| r.id).collect();
    stored.sort();
    records.sort();
    assert_eq!(stored, records);
    let (client, conn) = tokio_postgres::connect(&url(), tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).await.unwrap();
}
