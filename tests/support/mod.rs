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
    Client::new(ClientConfig {
        api_url: sim.base_url.parse().expect("simulator url"),
        publishable_key: Secret::new("pk_test_harness"),
        max_attempts,
        max_retry_wait: Duration::from_secs(2),
        idle_timeout: Duration::from_secs(2),
        ..ClientConfig::default()
    })
    .expect("client builds")
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
