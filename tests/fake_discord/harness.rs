//! Starting the Discord adapter against the fake, and waiting on what it reports.

use super::{FakeDiscord, Op, AUTO, FORUM, TOKEN};
use siteassist_bridge::adapters::discord::config::DiscordSettings;
use siteassist_bridge::adapters::discord::{DiscordBot, DiscordError, Handled, Outcome};
use siteassist_bridge::bridge::BridgeConfig;
use siteassist_bridge::secret::Secret;
use siteassist_bridge::siteassist::client::Client;
use siteassist_bridge::store::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, oneshot};
use tokio::task::JoinHandle;

/// How long any single wait in a test may take before it fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// `[discord]` pointed at the fake, with the auto-respond channel and forum.
pub fn settings(fake: &FakeDiscord) -> DiscordSettings {
    DiscordSettings {
        enabled: true,
        token: Secret::new(TOKEN),
        auto_respond_channels: vec![AUTO.to_string(), FORUM.to_string()],
        allow_channels: vec![],
        deny_channels: vec![],
        max_message_chars: 1900,
        api_url: fake.api_url.clone(),
        gateway_url: String::new(),
        cdn_url: fake.cdn_url(),
        shards: String::new(),
        message_content: true,
        command_guilds: vec![],
    }
}

/// Core settings for tests: quick edits (Discord's own minimum still applies).
pub fn bridge_config() -> BridgeConfig {
    BridgeConfig { edit_interval: Duration::from_millis(100), ..BridgeConfig::default() }
}

/// A bot serving against the fake.
pub struct Running {
    pub reports: broadcast::Receiver<Handled>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), DiscordError>>,
}

/// Connects, serves, and waits until the gateway session is ready.
pub async fn start(fake: &FakeDiscord, store: Arc<dyn Store>, client: Client) -> Running {
    start_with(fake, &settings(fake), store, client).await
}

/// [`start`] with other settings.
pub async fn start_with(
    fake: &FakeDiscord,
    settings: &DiscordSettings,
    store: Arc<dyn Store>,
    client: Client,
) -> Running {
    start_configured(fake, settings, store, client, bridge_config()).await
}

/// [`start_with`] with other core settings too.
pub async fn start_configured(
    fake: &FakeDiscord,
    settings: &DiscordSettings,
    store: Arc<dyn Store>,
    client: Client,
    cfg: BridgeConfig,
) -> Running {
    let sessions = fake.read(|r| r.sessions_opened);
    let bot = DiscordBot::connect(settings, store, client, cfg)
        .await
        .expect("the bot connects to the fake");
    let mut reports = bot.subscribe();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(bot.serve(
        async move {
            let _ = stopped.await;
        },
        Duration::from_secs(5),
    ));
    let ready = async {
        loop {
            if let Ok(Handled::Ready) = reports.recv().await {
                return;
            }
        }
    };
    tokio::time::timeout(WAIT, ready).await.expect("READY handled");
    // The fake registers the session for dispatches right after GUILD_CREATE.
    fake.wait_until("a gateway session", WAIT, move |r| r.sessions_opened > sessions).await;
    Running { reports, stop: Some(stop), task }
}

impl Running {
    /// What became of message `id` (waits for it).
    pub async fn message_outcome(&mut self, id: u64) -> Outcome {
        let wait = async {
            loop {
                match self.reports.recv().await {
                    Ok(Handled::Message { id: got, outcome }) if got == id => return outcome,
                    Ok(_) => {}
                    Err(e) => panic!("reports ended: {e}"),
                }
            }
        };
        tokio::time::timeout(WAIT, wait)
            .await
            .unwrap_or_else(|_| panic!("message {id} not handled"))
    }

    /// What became of the next reaction on `message` (waits for it).
    pub async fn reaction_outcome(&mut self, message: u64) -> Outcome {
        let wait = async {
            loop {
                match self.reports.recv().await {
                    Ok(Handled::Reaction { message: got, outcome, .. }) if got == message => {
                        return outcome
                    }
                    Ok(_) => {}
                    Err(e) => panic!("reports ended: {e}"),
                }
            }
        };
        tokio::time::timeout(WAIT, wait).await.unwrap_or_else(|_| panic!("reaction not handled"))
    }

    /// What became of command `interaction` (waits for it).
    pub async fn command_outcome(&mut self, interaction: u64) -> Outcome {
        let wait = async {
            loop {
                match self.reports.recv().await {
                    Ok(Handled::Command { interaction: got, outcome }) if got == interaction => {
                        return outcome
                    }
                    Ok(_) => {}
                    Err(e) => panic!("reports ended: {e}"),
                }
            }
        };
        tokio::time::timeout(WAIT, wait).await.unwrap_or_else(|_| panic!("command not handled"))
    }

    /// What became of the next button press on `message` (waits for it).
    pub async fn button_outcome(&mut self, message: u64) -> Outcome {
        let wait = async {
            loop {
                match self.reports.recv().await {
                    Ok(Handled::Button { message: got, outcome }) if got == message => {
                        return outcome
                    }
                    Ok(_) => {}
                    Err(e) => panic!("reports ended: {e}"),
                }
            }
        };
        tokio::time::timeout(WAIT, wait).await.unwrap_or_else(|_| panic!("press not handled"))
    }

    /// Asks the bot to stop and waits until it has (gateway closed, replies drained).
    pub async fn stop(mut self) -> Result<(), DiscordError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(WAIT, self.task).await.expect("the bot stops").expect("no panic")
    }
}

/// Waits until the bot's reply in `channel` shows `text` as its first message, and
/// returns every text that message showed (placeholder first).
pub async fn reply_shown(fake: &FakeDiscord, channel: u64, text: &str) -> Vec<String> {
    fake.wait_until("the final answer", WAIT, |r| {
        r.messages_in(channel).first().is_some_and(|m| m.text() == text)
    })
    .await;
    fake.read(|r| r.messages_in(channel)[0].texts.clone())
}

/// Every message body the bot sent (posts and edits).
pub fn message_bodies(fake: &FakeDiscord) -> Vec<serde_json::Value> {
    fake.read(|r| {
        r.calls
            .iter()
            .filter(|c| matches!(c.op, Op::CreateMessage | Op::EditMessage))
            .map(|c| c.body.clone())
            .collect()
    })
}
