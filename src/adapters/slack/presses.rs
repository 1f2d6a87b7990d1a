//! Receiving button presses in either mode: Socket Mode's `interactive` envelopes and
//! the Events API mode's `POST /slack/interactions`. Both acknowledge at once (Slack
//! gives 3 seconds and never retries an interaction; see `interactions`) and queue the
//! press for the core, which checks, de-duplicates and acts on it.
//!
//! One queue, handled in arrival order by one task: a quick 👍 then 👎 must reach
//! SiteAssist in that order, which separately spawned tasks would not promise. The
//! task holds the adapter only weakly, so it never keeps a stopped bridge (and its
//! store's lock) alive; it ends when the adapter is dropped.

use super::interactions::{self, Interaction};
use super::runtime::SlackBridge;
use crate::bridge::event::{ButtonPress, InboundEvent};
use crate::bridge::ids::MessageRef;
use crate::bridge::Disposition;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use slack_morphism::prelude::*;
use std::sync::{Arc, OnceLock, Weak};
use tokio::sync::{broadcast, mpsc};

/// Presses waiting for the core. People press buttons one at a time; a queue this
/// long means the core is stuck, and a press past it is dropped (and logged).
const QUEUE: usize = 1024;

/// What became of one press the core was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PressReport {
    /// The message the button is on.
    pub message: MessageRef,
    /// The core's disposition, or why it failed (its store). Either way the press was
    /// acknowledged already: Slack does not retry interactions.
    pub outcome: Result<Disposition, String>,
}

/// The adapter's press queue and the reports of what became of each press.
pub(super) struct Presses {
    /// Started with the first press (it needs the adapter's `Arc`).
    queue: OnceLock<mpsc::Sender<ButtonPress>>,
    /// Every handled press, for whoever listens (tests; nobody in production).
    reports: broadcast::Sender<PressReport>,
}

impl Presses {
    pub(super) fn new() -> Self {
        Self { queue: OnceLock::new(), reports: broadcast::channel(64).0 }
    }
}

impl SlackBridge {
    /// Reports of the presses handled from now on, in order.
    pub fn press_reports(&self) -> broadcast::Receiver<PressReport> {
        self.presses.reports.subscribe()
    }

    /// Takes one interaction payload (Slack's `payload` JSON): a press of the bridge's
    /// buttons is queued for the core; anything else is logged at debug and dropped.
    /// Returns at once, so the caller can acknowledge within Slack's 3 seconds.
    pub(super) fn accept_interaction(self: &Arc<Self>, payload: &Value) {
        let press = match interactions::translate(payload) {
            Interaction::Press(press) => press,
            Interaction::Ignore(why) => {
                tracing::debug!(reason = why, "Slack interaction ignored");
                return;
            }
        };
        let queue = self.presses.queue.get_or_init(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(handle_presses(Arc::downgrade(self), rx));
            tx
        });
        if queue.try_send(press).is_err() {
            tracing::warn!("Slack button press dropped: the press queue is full");
        }
    }
}

/// Hands queued presses to the core, one at a time, while the adapter lives.
async fn handle_presses(app: Weak<SlackBridge>, mut queue: mpsc::Receiver<ButtonPress>) {
    while let Some(press) = queue.recv().await {
        let Some(app) = app.upgrade() else { return };
        let message = press.message.clone();
        let outcome = app.bridge().handle(InboundEvent::Button(press)).await.map_err(|e| {
            tracing::error!(error = %e, "could not handle a Slack button press");
            e.to_string()
        });
        // Nobody listening is the normal case.
        let _ = app.presses.reports.send(PressReport { message, outcome });
    }
}

/// `POST /slack/interactions`: checked like an event (signature and timestamp; a bad
/// one is refused with 401 and changes nothing), then the form's `payload` field is
/// taken. A body without a JSON `payload` is a 400; any press, or anything else
/// well-formed, a 200 at once.
pub(super) async fn interactions_endpoint(
    State(app): State<Arc<SlackBridge>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = app.verify_request(&headers, &body) {
        return refused.into_response();
    }
    let payload = url::form_urlencoded::parse(&body)
        .find(|(key, _)| key == "payload")
        .and_then(|(_, json)| serde_json::from_str::<Value>(&json).ok());
    let Some(payload) = payload else {
        tracing::debug!("Slack interaction without a JSON payload field");
        return (StatusCode::BAD_REQUEST, "expected a form with a JSON payload field")
            .into_response();
    };
    app.accept_interaction(&payload);
    StatusCode::OK.into_response()
}

/// Socket Mode's `interactive` envelopes. slack-morphism acknowledges the envelope
/// when this returns, which is at once: the press only joins the queue here.
pub(super) async fn on_interaction(
    event: SlackInteractionEvent,
    _client: Arc<super::egress::Client>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    let app = states.read().await.get_user_state::<Weak<SlackBridge>>().and_then(Weak::upgrade);
    match app {
        Some(app) => app.accept_interaction(&serde_json::to_value(&event)?),
        // Stopped: the press is lost either way (Slack does not redeliver it).
        None => tracing::debug!("Slack interaction after the bridge stopped"),
    }
    Ok(())
}
