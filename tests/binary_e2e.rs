//! The real binary, driven through a pipe as a script would: one line per message,
//! each final reply printed whole.

mod support;

use siteassist_bridge::simulator::answer_for;
use std::io::Write;
use std::process::{Command, Output, Stdio};

fn run_bridge(envs: &[(&str, &str)], input: &str) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_siteassist-bridge"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("USER", "pipe-user")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("binary starts");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    // Bounded: a binary that does not exit fails the test instead of hanging the suite.
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(std::time::Duration::from_secs(60)) {
        Ok(out) => out.expect("binary exits"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("the binary did not exit within 60 s");
        }
    };
    assert!(
        out.status.success(),
        "exit {:?}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Notes the core posts instead of an answer (help, a refusal) print in a pipe too, in
/// order, and the next answer is still the next line's.
#[test]
fn notes_print_in_a_pipe_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let q = "How do refunds work?";
    let input = format!("!help\n{}\n{q}\n", "a".repeat(10_001));
    let out = run_bridge(
        &[
            ("SITEASSIST_BRIDGE__STORE__PATH", dir.path().to_str().unwrap()),
            ("SITEASSIST_BRIDGE__SIMULATOR__WORD_DELAY_MS", "1"),
        ],
        &input,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let help = stdout.find("I answer questions").expect("the help printed");
    let refused = stdout.find("10001 characters").expect("the refusal printed");
    let answer = stdout.find(&answer_for(q)).expect("the answer printed");
    assert!(help < refused && refused < answer, "in order: {stdout}");
}

#[test]
fn with_no_credentials_it_answers_from_the_embedded_simulator() {
    let dir = tempfile::tempdir().unwrap();
    let q = "How do I reset my password?";
    let out = run_bridge(
        &[
            ("SITEASSIST_BRIDGE__STORE__PATH", dir.path().to_str().unwrap()),
            ("SITEASSIST_BRIDGE__SIMULATOR__WORD_DELAY_MS", "1"),
        ],
        &format!("{q}\n"),
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stdout.contains(&answer_for(q)), "stdout: {stdout}");
    assert!(stderr.contains("built-in simulator at http://127.0.0.1:"), "stderr: {stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_binary_continues_the_thread_on_the_same_sled_path() {
    let sim = support::simulator(1).await;
    let dir = tempfile::tempdir().unwrap();
    let envs = [
        ("SITEASSIST_BRIDGE__STORE__PATH", dir.path().to_str().unwrap()),
        ("SITEASSIST_BRIDGE__SITEASSIST__API_URL", sim.base_url.as_str()),
        ("SITEASSIST_PUBLISHABLE_KEY", "pk_test_binary"),
        ("SITEASSIST_BRIDGE_CONSOLE_THREAD", "ticket-42"),
    ];
    let first = tokio::task::spawn_blocking({
        let envs: Vec<(String, String)> =
            envs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move || {
            let refs: Vec<(&str, &str)> =
                envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            run_bridge(&refs, "What are your prices?\n")
        }
    })
    .await
    .unwrap();
    assert!(String::from_utf8_lossy(&first.stdout).contains(&answer_for("What are your prices?")));
    let second = tokio::task::spawn_blocking({
        let envs: Vec<(String, String)> =
            envs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move || {
            let refs: Vec<(&str, &str)> =
                envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            run_bridge(&refs, "How do refunds work?\n/quit\n")
        }
    })
    .await
    .unwrap();
    assert!(String::from_utf8_lossy(&second.stdout).contains(&answer_for("How do refunds work?")));
    assert_eq!(
        sim.sim.conversation_count(),
        1,
        "the second run continued the first run's conversation"
    );
}

/// The binary on the PostgreSQL store (the server on 127.0.0.1, a schema of its own):
/// a second run continues the first run's thread, and the database password never
/// reaches the output.
#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_binary_continues_the_thread_on_postgres() {
    let sim = support::simulator(1).await;
    let base = std::env::var("SITEASSIST_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres:hunter2-not-logged@127.0.0.1:5432/test".into());
    let schema = format!("sab_bin_{}", uuid::Uuid::new_v4().simple());
    let (admin, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    admin.batch_execute(&format!("CREATE SCHEMA {schema}")).await.unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
    let envs = vec![
        ("SITEASSIST_BRIDGE__STORE__BACKEND".to_string(), "postgres".to_string()),
        ("DATABASE_URL".to_string(), url),
        ("SITEASSIST_BRIDGE__SITEASSIST__API_URL".to_string(), sim.base_url.clone()),
        ("SITEASSIST_PUBLISHABLE_KEY".to_string(), "pk_test_binary".to_string()),
        ("SITEASSIST_BRIDGE_CONSOLE_THREAD".to_string(), "ticket-pg".to_string()),
        ("RUST_LOG".to_string(), "debug".to_string()),
    ];
    let run = |input: &'static str| {
        let envs = envs.clone();
        tokio::task::spawn_blocking(move || {
            let refs: Vec<(&str, &str)> =
                envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            run_bridge(&refs, input)
        })
    };
    let first = run("What are your prices?\n").await.unwrap();
    let second = run("How do refunds work?\n/quit\n").await.unwrap();
    assert!(String::from_utf8_lossy(&first.stdout).contains(&answer_for("What are your prices?")));
    assert!(String::from_utf8_lossy(&second.stdout).contains(&answer_for("How do refunds work?")));
    assert_eq!(sim.sim.conversation_count(), 1, "the second run continued the conversation");
    let rows = admin
        .query_one(&format!("SELECT COUNT(*) FROM {schema}.sab_records WHERE kind = 'thread'"), &[])
        .await
        .unwrap();
    assert_eq!(rows.get::<_, i64>(0), 1, "the thread's link lives in PostgreSQL");
    for out in [&first, &second] {
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!all.contains("hunter2-not-logged"), "the password leaked: {all}");
    }
    admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).await.unwrap();
}
