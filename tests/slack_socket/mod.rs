//! One Slack bridge in Socket Mode on a memory store against the fake Slack: the
//! set-up the Slack feature tests share (`slack_assistant`, `slack_streaming`,
//! `slack_limits`).
#![allow(dead_code)] // each test file takes what it needs

use super::fake_slack::FakeSlack;
use super::support;
use siteassist_bridge::adapters::slack::config::{SlackMode, SlackSettings};
use siteassist_bridge::adapters::slack::SlackBridge;
use siteassist_bridge::bridge::ids::ThreadKey;
use siteassist_bridge::simulator::RunningSimulator;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// A Slack bridge serving Socket Mode until [`SocketBridge::stop`].
pub struct SocketBridge {
    pub app: Arc<SlackBridge>,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl SocketBridge {
    /// With the fake Slack's settings as they are.
    pub async fn start(slack: &FakeSlack, sim: &RunningSimulator) -> Self {
        Self::start_with(slack, sim, |_| {}).await
    }

    /// With the settings as `adjust` leaves them; returns once the connection is up.
    pub async fn start_with(
        slack: &FakeSlack,
        sim: &RunningSimulator,
        adjust: impl FnOnce(&mut SlackSettings),
    ) -> Self {
        let store = Arc::new(siteassist_bridge::store::MemoryStore::new());
        Self::start_on(slack, sim, store, adjust).await
    }

    /// On `store`, with the settings as `adjust` leaves them.
    pub async fn start_on(
        slack: &FakeSlack,
        sim: &RunningSimulator,
        store: Arc<dyn siteassist_bridge::store::Store>,
        adjust: impl FnOnce(&mut SlackSettings),
    ) -> Self {
        let mut settings = slack.bridge_settings(SlackMode::Socket);
        adjust(&mut settings);
        let app = Arc::new(
            SlackBridge::connect(&settings, store, support::client(sim, 3), support::fast_config())
                .await
                .expect("connects to the fake Slack"),
        );
        let (stop, rx) = oneshot::channel::<()>();
        let serving = app.clone();
        let task = tokio::spawn(async move {
            let stopped = async move {
                let _ = rx.await;
            };
            serving.serve_socket_mode(stopped).await.expect("socket mode")
        });
        slack.wait_for_socket_connections(1).await;
        Self { app, stop, task }
    }

    /// Waits until every reply in the thread under `thread_ts` of `channel` is done.
    pub async fn settle(&self, channel: &str, thread_ts: &str) {
        let thread = ThreadKey::new(format!("slack:T0001:{channel}:{thread_ts}"));
        self.app.bridge().barrier(&thread).await;
    }

    /// Stops Socket Mode and lets the replies in flight finish.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
        self.app.bridge().shutdown(Duration::from_secs(5)).await;
    }
}

/// Whitespace aside, as an answer's Markdown is streamed natively as is.
pub fn squeeze(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}
