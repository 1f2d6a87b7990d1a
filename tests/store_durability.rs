//! `kill -9` durability of [`SledStore`]: every write the store acknowledged (the call
//! returned) must be there after the writing process is killed without warning.
//!
//! The test binary is its own child process. [`acknowledged_writes_survive_kill_9`]
//! re-runs this executable with [`CHILD_ENV`] set to a store directory and a filter
//! that selects only [`durability_child`], which writes thread links and claims in a
//! loop and prints each key only after its call returned. The parent SIGKILLs the child
//! mid-stream, reopens the store, and checks every printed key. Without the variable,
//! `durability_child` does nothing, so a normal `cargo test` run passes it instantly.

use siteassist_bridge::bridge::ids::ThreadKey;
use siteassist_bridge::siteassist::ids::{ConversationId, SaVid};
use siteassist_bridge::store::{SledStore, Store, ThreadLink};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

/// Set (to the store directory) only in the child process.
const CHILD_ENV: &str = "STORE_DURABILITY_CHILD";
/// The child's test name, used as the exact filter when spawning it.
const CHILD_TEST: &str = "durability_child";
/// The child stops writing after this many writes (then waits to be killed).
const MAX_WRITES: usize = 3_000;
/// The parent kills the child once it has seen this many acknowledgements.
const KILL_AFTER: usize = 200;
/// The whole test gives up after this long.
const DEADLINE: Duration = Duration::from_secs(20);
/// Claims are taken for an hour, so they are certainly still held when checked.
const CLAIM_TTL: Duration = Duration::from_secs(3_600);
/// Marks an acknowledgement line; anything else on stdout is libtest's.
const ACK: &str = "ACK ";

/// One acknowledged write, as the child prints it and the parent checks it.
#[derive(Debug, PartialEq)]
enum Acked {
    /// `put_thread_link_if_absent(thread-i, conversation c-i)` returned.
    Thread(usize),
    /// `claim(claim-i, now, CLAIM_TTL)` returned true.
    Claim(usize),
}

impl Acked {
    fn for_write(i: usize) -> Self {
        if i % 2 == 0 {
            Self::Thread(i)
        } else {
            Self::Claim(i)
        }
    }

    fn line(&self) -> String {
        match self {
            Self::Thread(i) => format!("{ACK}thread {i}"),
            Self::Claim(i) => format!("{ACK}claim {i}"),
        }
    }

    /// Parses an acknowledgement out of a stdout line. libtest may have printed
    /// `test durability_child ... ` on the same line before the first one.
    fn parse(line: &str) -> Option<Self> {
        let start = line.find(ACK)?;
        let (kind, i) = line[start + ACK.len()..].trim_end().split_once(' ')?;
        let i = i.parse().ok()?;
        match kind {
            "thread" => Some(Self::Thread(i)),
            "claim" => Some(Self::Claim(i)),
            _ => None,
        }
    }
}

fn thread_key(i: usize) -> ThreadKey {
    ThreadKey::new(format!("durability:thread-{i}"))
}

fn claim_key(i: usize) -> String {
    format!("durability:claim-{i}")
}

fn link(i: usize) -> ThreadLink {
    ThreadLink {
        conversation: ConversationId::new(format!("c-{i}")),
        owner: SaVid::new("sab-durability"),
        created_at: 1_700_000_000,
    }
}

/// The child: a no-op unless [`CHILD_ENV`] is set.
#[tokio::test]
async fn durability_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let store = SledStore::open(&dir).unwrap();
    let started = Instant::now();
    for i in 0..MAX_WRITES {
        let acked = Acked::for_write(i);
        match acked {
            Acked::Thread(i) => {
                let got = store.put_thread_link_if_absent(&thread_key(i), &link(i)).await;
                assert_eq!(got.unwrap(), link(i));
            }
            Acked::Claim(i) => {
                let got = store.claim(&claim_key(i), SystemTime::now(), CLAIM_TTL).await;
                assert!(got.unwrap());
            }
        }
        // Printed only now, after the store acknowledged the write.
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", acked.line()).unwrap();
        out.flush().unwrap();
    }
    let per_write = started.elapsed() / u32::try_from(MAX_WRITES).unwrap();
    println!("DONE all {MAX_WRITES} writes, {per_write:?} per flushed write");
    // Wait to be killed (the parent never writes to stdin; EOF if the parent dies).
    let _ = std::io::stdin().read(&mut [0u8; 1]);
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let test_start = Instant::now();
    let deadline = test_start + DEADLINE;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([CHILD_TEST, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();

    // Read lines on a thread so that the parent can wait with a deadline. Only complete
    // lines count: the child may die halfway through printing one.
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        while matches!(stdout.read_line(&mut line), Ok(n) if n > 0) {
            if line.ends_with('\n') && tx.send(std::mem::take(&mut line)).is_err() {
                break;
            }
            line.clear();
        }
    });

    let mut acked = Vec::new();
    let mut first_ack_at = None;
    let mut child_finished = false;
    while acked.len() < KILL_AFTER {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                child_finished |= line.starts_with("DONE");
                if let Some(a) = Acked::parse(&line) {
                    first_ack_at.get_or_insert_with(Instant::now);
                    acked.push(a);
                }
            }
            Err(e) => {
                let _ = child.kill();
                let status = child.wait();
                panic!(
                    "child gave {} acknowledgements before {e:?} (status {status:?})",
                    acked.len()
                );
            }
        }
    }
    let per_write = first_ack_at.map(|t| t.elapsed() / u32::try_from(KILL_AFTER - 1).unwrap());

    child.kill().unwrap(); // SIGKILL on Unix: no destructors, no sled flush on drop.
    let status = child.wait().unwrap();
    drop(child.stdin.take());
    // Lines the child printed before it died are acknowledged too: collect them all.
    let drain_until = Instant::now() + Duration::from_secs(5).min(DEADLINE);
    while let Ok(line) = rx.recv_timeout(drain_until.saturating_duration_since(Instant::now())) {
        child_finished |= line.starts_with("DONE");
        acked.extend(Acked::parse(&line));
    }
    reader.join().unwrap();

    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9), "the child must die by SIGKILL: {status:?}");
    }
    #[cfg(not(unix))]
    assert!(!status.success());
    // Acknowledgements arrive in write order, without gaps: the stream was read whole.
    for (i, a) in acked.iter().enumerate() {
        assert_eq!(*a, Acked::for_write(i), "acknowledgement {i} out of order");
    }

    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    runtime.block_on(async {
        let store = SledStore::open(&path).expect("the killed child's lock is gone");
        let now = SystemTime::now();
        for a in &acked {
            match *a {
                Acked::Thread(i) => assert_eq!(
                    store.thread_link(&thread_key(i)).await.unwrap(),
                    Some(link(i)),
                    "acknowledged thread link {i} lost"
                ),
                Acked::Claim(i) => assert!(
                    !store.claim(&claim_key(i), now, CLAIM_TTL).await.unwrap(),
                    "acknowledged claim {i} lost"
                ),
            }
        }
    });
    eprintln!(
        "{} acknowledged writes survived SIGKILL (child finished all writes first: \
         {child_finished}); {per_write:?} per flushed write incl. pipe; test took {:?}",
        acked.len(),
        test_start.elapsed()
    );
    assert!(test_start.elapsed() < DEADLINE, "took too long");
}
