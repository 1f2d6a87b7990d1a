//! `migrate-store` with the real binary: a sled store made by real conversations is
//! copied into a fresh PostgreSQL schema, a bridge started on PostgreSQL continues an
//! existing thread's SiteAssist conversation, and a second copy into the now non-empty
//! target is refused without changing it.
//!
//! Needs PostgreSQL: `SITEASSIST_TEST_DATABASE_URL` (set by `.ci/run`); without it the
//! test is listed as ignored (see `build.rs`).

mod support;

use siteassist_bridge::bridge::ids::ThreadKey;
use siteassist_bridge::simulator::answer_for;
use siteassist_bridge::store::{PostgresStore, SledStore, Store};
use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_siteassist-bridge");
/// A password put into the database URL (trust authentication ignores it), so the test
/// can tell that no output ever shows it.
const PASSWORD: &str = "hunter2-never-printed";

/// The database URL with a password, and the schema this test works in.
fn database_url() -> String {
    let base = std::env::var("SITEASSIST_TEST_DATABASE_URL")
        .expect("SITEASSIST_TEST_DATABASE_URL (tests needing it are ignored without it)");
    let mut url = url::Url::parse(&base).expect("a postgres:// URL");
    if url.password().is_none() {
        url.set_password(Some(PASSWORD)).unwrap();
    }
    url.to_string()
}

/// Runs the binary with `args`, `envs` and `input` on stdin; at most 60 s.
fn run(args: &[&str], envs: &[(String, String)], input: &str) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("USER", "migrating-user")
        .envs(envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(out) => out.expect("binary exits"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("the binary did not exit within 60 s");
        }
    }
}

/// [`run`] off the async runtime (the simulator serves on it meanwhile).
async fn run_async(args: &[&str], envs: &[(String, String)], input: &str) -> Output {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let (envs, input) = (envs.to_vec(), input.to_string());
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&args, &envs, &input)
    })
    .await
    .unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[track_caller]
fn assert_ok(out: &Output) {
    assert!(out.status.success(), "exit {:?}: {}", out.status, text(out));
}

/// The count printed in front of `what` in migrate-store's report.
#[track_caller]
fn printed_count(out: &Output, what: &str) -> i64 {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find(|l| l.contains(what)).unwrap_or_else(|| panic!("{stdout}"));
    line.split_whitespace().next().unwrap().parse().unwrap()
}

/// Every record of the schema as `(kind, key, value)`, in order.
async fn dump(db: &tokio_postgres::Client, schema: &str) -> Vec<(String, String, Vec<u8>)> {
    let q = format!("SELECT kind, key, value FROM {schema}.sab_records ORDER BY kind, key");
    let rows = db.query(&q, &[]).await.unwrap();
    rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect()
}

async fn count(db: &tokio_postgres::Client, schema: &str, kind: &str) -> i64 {
    let q = format!("SELECT COUNT(*) FROM {schema}.sab_records WHERE kind = $1");
    db.query_one(&q, &[&kind]).await.unwrap().get(0)
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(test_database),
    ignore = "needs PostgreSQL: set SITEASSIST_TEST_DATABASE_URL (.ci/run sets it)"
)]
async fn a_migrated_store_continues_every_thread_on_postgres_and_is_not_copied_twice() {
    let sim = support::simulator(1).await;
    let dir = tempfile::tempdir().unwrap();
    let sled = dir.path().join("store");
    let sled_arg = format!("sled:{}", sled.display());
    let on_sim = |thread: &str| {
        vec![
            ("SITEASSIST_BRIDGE__SITEASSIST__API_URL".to_string(), sim.base_url.clone()),
            ("SITEASSIST_PUBLISHABLE_KEY".to_string(), "pk_test_migrate".to_string()),
            ("SITEASSIST_BRIDGE_CONSOLE_THREAD".to_string(), thread.to_string()),
        ]
    };
    let on_sled = |thread: &str| {
        let mut env = on_sim(thread);
        env.push(("SITEASSIST_BRIDGE__STORE__PATH".into(), sled.display().to_string()));
        env
    };

    // Today's binary on sled: two threads, a reaction on the first answer.
    let (q1, q2, q3) = ("What are your prices?", "How do refunds work?", "Do you ship abroad?");
    let first = run_async(&[], &on_sled("ticket-a"), &format!("{q1}\n/react +1\n")).await;
    assert_ok(&first);
    assert!(String::from_utf8_lossy(&first.stdout).contains(&answer_for(q1)), "{}", text(&first));
    assert_ok(&run_async(&[], &on_sled("ticket-b"), &format!("{q2}\n")).await);
    assert_eq!(sim.sim.conversation_count(), 2);
    assert_eq!(sim.sim.feedback_log().len(), 1, "the reaction became feedback");

    let url = database_url();
    let schema = format!("sab_migrate_{}", uuid::Uuid::new_v4().simple());
    let (db, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    db.batch_execute(&format!("CREATE SCHEMA {schema}")).await.unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    let schema_url = format!("{url}{sep}options=-c%20search_path%3D{schema}");
    let mut outputs = Vec::new();

    // While something holds the sled store, migrate-store says so and writes nothing.
    {
        let _held = SledStore::open(&sled).unwrap();
        let args = ["migrate-store", "--from", &sled_arg, "--to", "postgres"];
        let env = vec![("DATABASE_URL".to_string(), schema_url.clone())];
        let locked = run_async(&args, &env, "").await;
        assert!(!locked.status.success(), "{}", text(&locked));
        assert!(text(&locked).contains("it is locked"), "{}", text(&locked));
        outputs.push(locked);
    }
    let tables = format!("SELECT COUNT(*) FROM pg_tables WHERE schemaname = '{schema}'");
    assert_eq!(db.query_one(&tables, &[]).await.unwrap().get::<_, i64>(0), 0, "untouched");

    // The copy, with the URL from DATABASE_URL.
    let args = ["migrate-store", "--from", &sled_arg, "--to", "postgres"];
    let env = vec![("DATABASE_URL".to_string(), schema_url.clone())];
    let migrated = run_async(&args, &env, "").await;
    assert_ok(&migrated);
    assert_eq!(count(&db, &schema, "thread").await, 2);
    assert_eq!(printed_count(&migrated, "thread links"), 2);
    let replies = count(&db, &schema, "reply").await;
    assert!(replies >= 2, "a reply link per answer message: {replies}");
    assert_eq!(printed_count(&migrated, "reply links"), replies);
    assert_eq!(count(&db, &schema, "feedback").await, 1);
    assert_eq!(printed_count(&migrated, "feedback records"), 1);
    let handoffs = count(&db, &schema, "handoff").await;
    assert_eq!(printed_count(&migrated, "handoffs"), handoffs);
    assert_eq!(count(&db, &schema, "claim").await, 0, "claims are not copied");
    let claims = printed_count(&migrated, "event claims, not copied");
    assert!(claims >= 2, "the source's claims are counted: {}", text(&migrated));
    assert!(text(&migrated).contains("PostgreSQL at postgres://"), "{}", text(&migrated));
    outputs.push(migrated);

    // The bridge on PostgreSQL continues thread a's conversation.
    let mut on_pg = on_sim("ticket-a");
    on_pg.push(("SITEASSIST_BRIDGE__STORE__BACKEND".into(), "postgres".into()));
    on_pg.push(("DATABASE_URL".into(), schema_url.clone()));
    let follow_up = run_async(&[], &on_pg, &format!("{q3}\n/quit\n")).await;
    assert_ok(&follow_up);
    assert!(String::from_utf8_lossy(&follow_up.stdout).contains(&answer_for(q3)));
    assert_eq!(sim.sim.conversation_count(), 2, "no new conversation");
    let store = PostgresStore::connect(&url, 2, Some(&schema), None).await.unwrap();
    let link = store.thread_link(&ThreadKey::new("console:ticket-a")).await.unwrap().unwrap();
    let asked: Vec<String> = sim
        .sim
        .conversation_messages(link.conversation.as_str())
        .into_iter()
        .filter(|(role, _, _)| role == "user")
        .map(|(_, text, _)| text)
        .collect();
    assert_eq!(asked, [q1, q3], "the follow-up joined the thread's conversation");
    outputs.push(follow_up);

    // A second copy into the now non-empty target is refused and changes nothing.
    let before = dump(&db, &schema).await;
    let again = run_async(&args, &env, "").await;
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    let said = text(&again);
    assert!(said.contains("not empty") && said.contains("nothing was written"), "{said}");
    assert_eq!(dump(&db, &schema).await, before, "the target is unchanged");
    outputs.push(again);

    for out in &outputs {
        assert!(!text(out).contains(PASSWORD), "the password was printed: {}", text(out));
    }
    db.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).await.unwrap();
}
