//! Shared test harness: a simulator on 127.0.0.1:0 and a console bridge against it.
#![allow(dead_code)]

use siteassist_bridge::adapters::console::{
    ConsoleAdapter, ConsoleEvent, ConsoleSession, OutputMode,
};
use siteassist_bridge::bridge::{Bridge, BridgeConfig};
use siteassist_bridge::secret::Secret;
use siteassist_bridge::simulator::{spawn_local, RunningSimulator, SimulatorConfig};
use siteassist_bridge::siteassist::client::{Client, ClientConfig};
use siteassist_bridge::store::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// A simulator that streams fast enough for tests but slow enough for several edits.
pub async fn simulator(word_delay_ms: u64) -> RunningSimulator {
    spawn_local(SimulatorConfig {
        word_delay: Duration::from_millis(word_delay_ms),
        ..SimulatorConfig::default()
    })
    .await
    .expect("simulator starts")
}

/// A client for `sim` with quick retries.
pub fn client(sim: &RunningSimulator, max_attempts: u32) -> Client {
    client_idle(sim, max_attempts, Duration::from_secs(2))
}

/// A client for `sim` with quick retries that gives up on a stream silent for `idle`.
pub fn client_idle(sim: &RunningSimulator, max_attempts: u32, idle: Duration) -> Client {
    Client::new(ClientConfig {
        api_url: sim.base_url.parse().expect("simulator url"),
        publishable_key: Secret::new("pk_test_harness"),
        max_attempts,
        max_retry_wait: Duration::from_secs(2),
        idle_timeout: idle,
        ..ClientConfig::default()
    })
    .expect("client builds")
}

/// The values of the feedback SiteAssist received (`None`: cleared), once it has at least
/// `n`; panics when they do not arrive within `limit`.
pub async fn feedback_values(
    sim: &RunningSimulator,
    n: usize,
    limit: Duration,
) -> Vec<Option<String>> {
    tokio::time::timeout(limit, sim.sim.wait_until(|s| s.feedback_log().len() >= n))
        .await
        .unwrap_or_else(|_| panic!("{n} feedback records reach SiteAssist within {limit:?}"));
    sim.sim.feedback_log().into_iter().map(|r| r.value).collect()
}

/// One console bridge: adapter, core and a session in thread `thread`.
pub struct Console {
    pub adapter: Arc<ConsoleAdapter>,
    pub bridge: Bridge,
    pub session: ConsoleSession,
    pub events: broadcast::Receiver<ConsoleEvent>,
}

/// Core settings for tests: quick edits so a short answer shows several.
pub fn fast_config() -> BridgeConfig {
    BridgeConfig { edit_interval: Duration::from_millis(100), ..BridgeConfig::default() }
}

impl Console {
    pub fn new(client: Client, store: Arc<dyn Store>, thread: &str) -> Self {
        Self::with_config(client, store, thread, fast_config())
    }

    pub fn with_config(
        client: Client,
        store: Arc<dyn Store>,
        thread: &str,
        cfg: BridgeConfig,
    ) -> Self {
        let adapter = Arc::new(ConsoleAdapter::new(OutputMode::Silent, Box::new(std::io::sink())));
        let events = adapter.subscribe();
        let bridge = Bridge::new(adapter.clone(), store, client, cfg);
        let session = ConsoleSession::new(bridge.clone(), adapter.clone(), "tester", Some(thread));
        Self { adapter, bridge, session, events }
    }

    /// Everything the adapter did so far (posts and edits, in order).
    pub fn drain_events(&mut self) -> Vec<ConsoleEvent> {
        let mut out = Vec::new();
        while let Ok(e) = self.events.try_recv() {
            out.push(e);
        }
        out
    }
}

/// Texts shown for the first bot message, in order: the placeholder post, then edits.
pub fn first_message_texts(events: &[ConsoleEvent]) -> Vec<String> {
    let mut first = None;
    let mut texts = Vec::new();
    for e in events {
        match e {
            ConsoleEvent::Posted { message, text } if first.is_none() => {
                first = Some(message.clone());
                texts.push(text.clone());
            }
            ConsoleEvent::Edited { message, text } if Some(message) == first.as_ref() => {
                texts.push(text.clone())
            }
            _ => {}
        }
    }
    texts
}

/// Value of the first sample of `name` in a Prometheus text page whose labels contain
/// all of `labels`.
pub fn metric_sample(metrics: &str, name: &str, labels: &[&str]) -> Option<f64> {
    metrics
        .lines()
        .filter(|l| l.starts_with(name) && labels.iter().all(|x| l.contains(x)))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
}

/// Reads `{base}/metrics` of a bridge running in another process until `ready` holds
/// for the page, for at most ten seconds, and returns the last page read.
///
/// A child process's counters are only visible through its endpoint, and it counts
/// after the effect another fake has already seen (the simulator logs feedback before
/// it answers; the bridge counts it when the answer arrives). So a test that waited on
/// the fake must also wait on the counter; asserting on the first read races.
pub async fn wait_for_metrics(base: &str, what: &str, ready: impl Fn(&str) -> bool) -> String {
    let url = format!("{base}/metrics");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut page = String::new();
    while tokio::time::Instant::now() < deadline {
        let response = reqwest::get(&url).await.expect("the metrics endpoint answers");
        assert_eq!(response.status().as_u16(), 200, "GET {url}");
        page = response.text().await.expect("a metrics page");
        if ready(&page) {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{what} never showed in /metrics within 10 s; last page:\n{page}");
}

/// Waits for `child` to exit, for at most `limit`; kills it and fails the test past that,
/// so a hung binary cannot hang the suite.
pub fn wait_child(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("the child can be waited on") {
            return status;
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the child did not exit within {limit:?}");
        }
        // No event announces a child's exit to a std::process::Child; a bounded poll.
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A bridge binary whose stderr is read line by line: the port its health and metrics
/// server bound (started with `server.listen = 127.0.0.1:0`, so no test picks a port
/// that another process may take first), and everything it logged.
pub struct ReportingChild {
    /// The process.
    pub child: std::process::Child,
    /// The port of `/healthz`, `/readyz` and `/metrics`.
    pub port: u16,
    lines: Arc<std::sync::Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl ReportingChild {
    /// Spawns `cmd` with its stderr piped and waits (at most 20 s) for the line that
    /// names the bound ops address.
    pub fn spawn(cmd: &mut std::process::Command) -> Self {
        use std::io::BufRead;
        let mut child = cmd
            .env("SITEASSIST_BRIDGE__SERVER__LISTEN", "127.0.0.1:0")
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let kept = Arc::clone(&lines);
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if line.contains("health and metrics endpoints listening") {
                    let _ = port_tx.send(bound_port(&line));
                }
                kept.lock().unwrap().push(line);
            }
        });
        let port = match port_rx.recv_timeout(Duration::from_secs(20)) {
            Ok(Some(port)) => port,
            other => {
                let _ = child.kill();
                panic!("the binary did not report its ops port: {other:?}");
            }
        };
        Self { child, port, lines, reader: Some(reader) }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Waits (at most `limit`, polling: the log is another process's) for a stderr line
    /// containing `needle`, and returns it.
    pub fn wait_for_line(&self, needle: &str, limit: Duration) -> String {
        let start = std::time::Instant::now();
        loop {
            if let Some(line) = self.lines.lock().unwrap().iter().find(|l| l.contains(needle)) {
                return line.clone();
            }
            assert!(start.elapsed() < limit, "no line with {needle:?} within {limit:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The port in the first stderr line containing `needle` (e.g. the Slack Events API
    /// listener's), waiting for it as [`Self::wait_for_line`].
    pub fn wait_for_port(&self, needle: &str, limit: Duration) -> u16 {
        let line = self.wait_for_line(needle, limit);
        bound_port(&line).unwrap_or_else(|| panic!("no 127.0.0.1:PORT in {line:?}"))
    }

    /// Kills the process and returns everything it wrote to stderr.
    pub fn kill_and_logs(mut self) -> String {
        let _ = self.child.kill();
        wait_child(&mut self.child, Duration::from_secs(10));
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        self.lines.lock().unwrap().join("\n")
    }
}

impl Drop for ReportingChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The port in a log line naming `127.0.0.1:PORT` (text or JSON format).
fn bound_port(line: &str) -> Option<u16> {
    let at = line.find("127.0.0.1:")? + "127.0.0.1:".len();
    line[at..].chars().take_while(char::is_ascii_digit).collect::<String>().parse().ok()
}
