//! Connecting to Slack and receiving events in either mode; both end in
//! [`SlackBridge::deliver`], which translates and hands events to the core.

use super::config::{SlackMode, SlackSettings};
use super::egress::{self, Client, SlackEgress, SlackWeb};
use super::ids;
use super::ingress::{self, BotIdentity, Translated};
use crate::adapters::file_fetch::FileHost;
use crate::bridge::channels::ChannelPolicy;
use crate::bridge::decide::PlaceRules;
use crate::bridge::event::{InboundEvent, MessageContext};
use crate::bridge::{Bridge, BridgeConfig, BridgeError, Disposition};
use crate::store::Store;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::Value;
use slack_morphism::prelude::*;
use std::future::Future;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Slack's event payloads are small; anything bigger is not from Slack.
const MAX_EVENT_BYTES: usize = 256 * 1024;

/// How long the asker's and channel's names may take to look up before an event is
/// handled without them. Events are acknowledged only once handled (so a crash before
/// that leaves Slack to redeliver), and Slack wants the acknowledgement within 3 s.
const ENRICH_BUDGET: Duration = Duration::from_millis(1500);

/// Why the Slack adapter could not run.
#[derive(Debug, thiserror::Error)]
pub enum SlackError {
    /// `auth.test` refused the bot token, or Slack could not be reached.
    #[error(
        "Slack auth.test failed ({0}); check slack.bot_token / SLACK_BOT_TOKEN and slack.api_url"
    )]
    Auth(String),
    /// Socket Mode could not connect (bad app token, no `connections:write` scope).
    #[error("Slack Socket Mode failed ({0}); check slack.app_token / SLACK_APP_TOKEN")]
    SocketMode(String),
    /// A local I/O failure (binding the Events API port, TLS roots).
    #[error("Slack adapter I/O failed: {0}")]
    Io(#[from] std::io::Error),
    /// The core failed.
    #[error(transparent)]
    Bridge(#[from] BridgeError),
}

/// Why a request to the Events API endpoints was refused before it was read.
#[derive(Debug, thiserror::Error)]
pub(super) enum Refused {
    /// No signature or timestamp header: answered 400 (not a request from Slack).
    #[error("missing Slack signature headers")]
    Unsigned,
    /// The signature does not match, or the timestamp is too far from now: answered
    /// 401, and the request changes nothing.
    #[error("invalid Slack signature: {0}")]
    BadSignature(super::signature::SignatureError),
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let status = match self {
            Refused::Unsigned => StatusCode::BAD_REQUEST,
            Refused::BadSignature(_) => StatusCode::UNAUTHORIZED,
        };
        (status, self.to_string()).into_response()
    }
}

/// What became of one Slack payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivered {
    /// A `url_verification`: answer with this challenge.
    Challenge(String),
    /// The core took the event: queued, answered with a note, or ignored (and why).
    Handled(Disposition),
    /// Not an event for the core at all (an edit, a deletion, a malformed payload, the
    /// `message` twin of an `app_mention`), and why.
    NotForCore(&'static str),
}

/// The running Slack side of the bridge.
pub struct SlackBridge {
    bridge: Bridge,
    web: Arc<SlackWeb>,
    client: Arc<Client>,
    /// Who the bot is, to recognise its mentions and its own messages.
    bot: BotIdentity,
    /// Where Socket Mode reports its connection coming and going (set by [`run`]).
    readiness: std::sync::OnceLock<crate::ops::health::Readiness>,
    workspace_url: String,
    /// The workspace's name, from `auth.test`, for the page titles SiteAssist shows.
    workspace_name: String,
    settings: SlackSettings,
    /// Button presses on their way to the core (see `presses`).
    pub(super) presses: super::presses::Presses,
    /// SiteAssist, for the welcome message of a new assistant thread.
    siteassist: crate::siteassist::client::Client,
    /// The assistant threads this run has seen (see `assistant`), shared with the
    /// egress (which shows a status only in them).
    assistant: Arc<super::assistant::Threads>,
}

impl SlackBridge {
    /// Checks the bot token with `auth.test` (which also says who the bot is, so its
    /// own messages can be recognised) and builds the core around the Slack adapter.
    pub async fn connect(
        settings: &SlackSettings,
        store: Arc<dyn Store>,
        siteassist: crate::siteassist::client::Client,
        mut bridge_cfg: BridgeConfig,
    ) -> Result<Self, SlackError> {
        let client = Arc::new(egress::client(&settings.api_url)?);
        let web = Arc::new(SlackWeb::new(client.clone(), &settings.bot_token));
        let auth = web.auth_test().await.map_err(|e| SlackError::Auth(e.to_string()))?;
        tracing::info!(team = %auth.team, team_id = %auth.team_id, bot_user = %auth.user_id, "connected to Slack");
        let assistant = Arc::new(super::assistant::Threads::default());
        let adapter = SlackEgress::new(
            web.clone(),
            assistant.clone(),
            auth.user_id.clone(),
            settings.max_message_chars,
            settings.max_message_bytes,
            settings.edit_budget_per_minute,
            FileHost::new(&settings.files_url, Some(settings.bot_token.clone())),
            settings.streaming,
        );
        bridge_cfg.places = PlaceRules {
            auto_respond: settings.auto_respond_channels.iter().cloned().collect(),
            channels: ChannelPolicy::new(&settings.allow_channels, &settings.deny_channels),
            ..bridge_cfg.places
        };
        let bridge = Bridge::new(Arc::new(adapter), store, siteassist.clone(), bridge_cfg);
        Ok(Self {
            bridge,
            web,
            client,
            bot: BotIdentity { user_id: auth.user_id, bot_id: auth.bot_id },
            readiness: std::sync::OnceLock::new(),
            workspace_url: auth.url,
            workspace_name: auth.team,
            settings: settings.clone(),
            presses: super::presses::Presses::new(),
            siteassist,
            assistant,
        })
    }

    /// Reports Socket Mode's connection coming and going to `readiness` ([`run`] does
    /// this; tests that serve by hand may too). Only the first call takes effect.
    pub fn report_to(&self, readiness: crate::ops::health::Readiness) {
        let _ = self.readiness.set(readiness);
    }

    /// The core behind this adapter.
    pub fn bridge(&self) -> &Bridge {
        &self.bridge
    }

    /// The channel's and the user's names, for the dashboard: looked up together and
    /// bounded, since they are a nicety and the acknowledgement deadline is not (both
    /// lookups are cached after the first).
    pub(super) async fn names(
        &self,
        channel: &str,
        user: &str,
    ) -> (Option<String>, Option<String>) {
        let names =
            async { tokio::join!(self.web.channel_name(channel), self.web.user_name(user)) };
        tokio::time::timeout(ENRICH_BUDGET, names).await.unwrap_or_else(|_| {
            tracing::info!("Slack name lookups are slow; going on without them");
            (None, None)
        })
    }

    /// The Web API client, for the adapter's own posts (a slash command's question).
    pub(super) fn web(&self) -> &SlackWeb {
        &self.web
    }

    /// The workspace's URL, for permalinks.
    pub(super) fn workspace_url(&self) -> &str {
        &self.workspace_url
    }

    /// The workspace's name, for the page titles SiteAssist shows.
    pub(super) fn workspace_name(&self) -> &str {
        &self.workspace_name
    }

    /// Translates one Events API payload and hands it to the core. Returns what became
    /// of it: the challenge for a `url_verification`, the core's disposition, or why the
    /// translation kept it from the core.
    ///
    /// When this returns `Ok`, what the event needs is durable (the claims and the
    /// in-flight record; the answer itself goes on in the background), so the caller
    /// may acknowledge the event to Slack. On `Err` it must not: Slack's redelivery is
    /// the retry.
    pub async fn deliver(&self, body: &Value) -> Result<Delivered, BridgeError> {
        let translated = ingress::translate(body, &self.bot);
        let event = match translated {
            Translated::UrlVerification(challenge) => return Ok(Delivered::Challenge(challenge)),
            Translated::Ignore(why) => {
                tracing::debug!(reason = why, "Slack event ignored");
                return Ok(Delivered::NotForCore(why));
            }
            Translated::Reaction(r) => InboundEvent::Reaction(r),
            Translated::AssistantThread(e) => {
                self.assistant_thread(e);
                return Ok(Delivered::NotForCore("assistant thread event"));
            }
            // Most channel messages are not for the bot: no name lookups for those.
            Translated::Message { msg, .. } if self.bridge.will_ignore(&msg) => {
                InboundEvent::Message(msg)
            }
            Translated::Message { mut msg, channel, user, ts, thread_ts } => {
                let (channel_name, user_name) = self.names(&channel, &user).await;
                msg.author_name = user_name;
                msg.context = MessageContext {
                    url: Some(ingress::permalink(
                        &self.workspace_url,
                        &channel,
                        &ts,
                        thread_ts.as_deref(),
                    )),
                    place_name: channel_name,
                    workspace_name: Some(self.workspace_name.clone()),
                };
                self.in_assistant_thread(&mut msg).await;
                InboundEvent::Message(msg)
            }
        };
        match self.bridge.handle(event).await {
            Ok(disposition) => Ok(Delivered::Handled(disposition)),
            Err(e) => {
                tracing::error!(error = %e, "could not handle a Slack event; leaving it to Slack's redelivery");
                Err(e)
            }
        }
    }

    /// Notes an assistant thread's event; a new thread gets its welcome (in the
    /// background: the event is acknowledged at once).
    fn assistant_thread(&self, e: super::assistant::ThreadEvent) {
        if !self.assistant.note(&e) {
            return;
        }
        let (web, siteassist) = (self.web.clone(), self.siteassist.clone());
        let prompts = self.settings.suggested_prompts.clone();
        tokio::spawn(async move {
            super::assistant::welcome(&web, &siteassist, &e, &prompts).await;
        });
    }

    /// A question in an assistant thread: the channel the user is viewing becomes its
    /// page context (its link and name), and the thread's first question its title.
    async fn in_assistant_thread(&self, msg: &mut crate::bridge::event::InboundMessage) {
        let Some((channel, thread_ts)) = super::assistant::dm_thread(&msg.thread) else {
            return;
        };
        if self.assistant.is_assistant(channel, thread_ts).is_none() {
            // Not seen starting (a restart since, another replica): Slack says, once.
            let question_ts = ids::parse_message(&msg.message).map_or("", |(_, ts)| ts);
            let look = super::assistant::look_up(
                &self.web,
                channel,
                thread_ts,
                question_ts,
                &self.bot.user_id,
            );
            match tokio::time::timeout(ENRICH_BUDGET, look).await {
                Ok(Ok(looked)) => self.assistant.looked_up(channel, thread_ts, looked),
                Ok(Err(e)) => {
                    tracing::info!(error = %e, "could not tell whether a DM thread is an assistant thread");
                }
                Err(_) => tracing::info!(
                    "Slack took too long to say whether a DM thread is an assistant thread"
                ),
            }
        }
        if self.assistant.is_assistant(channel, thread_ts) != Some(true) {
            return;
        }
        if let Some(viewing) = self.assistant.context(channel, thread_ts) {
            let base = self.workspace_url.trim_end_matches('/');
            msg.context.url = Some(format!("{base}/archives/{viewing}"));
            let name = tokio::time::timeout(ENRICH_BUDGET, self.web.channel_name(&viewing));
            msg.context.place_name = name.await.ok().flatten().or(Some(viewing));
        }
        if self.assistant.take_title(channel, thread_ts) {
            if let Some(title) = super::assistant::title_from(&msg.text) {
                let (web, channel, ts) =
                    (self.web.clone(), channel.to_string(), thread_ts.to_string());
                tokio::spawn(async move {
                    super::assistant::set_title(&web, &channel, &ts, &title).await;
                });
            }
        }
    }

    /// The Events API endpoints: `POST /slack/events`, and `POST /slack/interactions`
    /// for button presses.
    pub fn events_router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/slack/events", post(events_endpoint))
            .route("/slack/interactions", post(super::presses::interactions_endpoint))
            .route("/slack/commands", post(super::commands::commands_endpoint))
            .layer(DefaultBodyLimit::max(MAX_EVENT_BYTES))
            .with_state(self.clone())
    }

    /// Serves the Events API on `listener` until `shutdown`.
    pub async fn serve_events(
        self: Arc<Self>,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        tracing::info!(addr = %listener.local_addr()?, "Slack Events API listening on /slack/events, /slack/interactions and /slack/commands");
        axum::serve(listener, self.events_router()).with_graceful_shutdown(shutdown).await
    }

    /// Checks Slack's signature on a request to the Events API endpoints (HMAC of
    /// `v0:timestamp:body`, within five minutes).
    pub(super) fn verify_request(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), Refused> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let (Some(signature), Some(timestamp)) =
            (header("x-slack-signature"), header("x-slack-request-timestamp"))
        else {
            return Err(Refused::Unsigned);
        };
        let now = chrono::Utc::now().timestamp();
        let secret = self.settings.signing_secret.expose();
        super::signature::verify(secret, timestamp, body, signature, now).map_err(|e| {
            tracing::warn!(error = %e, "refused a Slack request with a bad signature or timestamp");
            Refused::BadSignature(e)
        })
    }

    /// Runs Socket Mode until `shutdown`.
    pub async fn serve_socket_mode(
        self: Arc<Self>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), SlackError> {
        self.serve_socket_mode_with(shutdown, || {}).await
    }

    /// Runs Socket Mode until `shutdown`, calling `connected` once the connection is up.
    pub async fn serve_socket_mode_with(
        self: Arc<Self>,
        shutdown: impl Future<Output = ()>,
        connected: impl FnOnce(),
    ) -> Result<(), SlackError> {
        let environment = SlackClientEventsListenerEnvironment::new(self.client.clone())
            .with_error_handler(on_socket_error)
            // Weak: slack-morphism's connection tasks outlive `listener.shutdown()` for a
            // moment, and must not keep the bridge (and its store's lock) alive after
            // this returns.
            .with_user_state(Arc::downgrade(&self));
        let callbacks = SlackSocketModeListenerCallbacks::new()
            .with_push_events(on_push_event)
            .with_interaction_events(super::presses::on_interaction)
            .with_command_events(super::commands::on_command)
            .with_hello_events(on_hello);
        let listener = SlackClientSocketModeListener::new(
            &SlackClientSocketModeConfig::new(),
            Arc::new(environment),
            callbacks,
        );
        let token =
            SlackApiToken::new(SlackApiTokenValue(self.settings.app_token.expose().to_string()));
        listener.listen_for(&token).await.map_err(|e| SlackError::SocketMode(e.to_string()))?;
        listener.start().await;
        tracing::info!("Slack Socket Mode connected");
        connected();
        shutdown.await;
        listener.shutdown().await;
        Ok(())
    }
}

/// Runs the Slack adapter in the configured mode until `shutdown`, then lets replies
/// in flight finish for up to `grace`.
pub async fn run(
    settings: &SlackSettings,
    store: Arc<dyn Store>,
    siteassist: crate::siteassist::client::Client,
    bridge_cfg: BridgeConfig,
    grace: Duration,
    readiness: crate::ops::health::Readiness,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), SlackError> {
    let app = Arc::new(SlackBridge::connect(settings, store, siteassist, bridge_cfg).await?);
    app.report_to(readiness.clone());
    let probed = app.bridge.clone();
    readiness.add_probe("slack", move |now| probed.readiness_problem(now));
    app.bridge.recover_unfinished().await?;
    let served = match settings.mode {
        SlackMode::Socket => {
            let app = app.clone();
            let up = readiness.clone();
            // Ready once Socket Mode has registered the token (done inside serve).
            app.serve_socket_mode_with(shutdown, move || up.adapter_up("slack")).await
        }
        SlackMode::Events => {
            let listener = tokio::net::TcpListener::bind(&settings.listen).await?;
            readiness.adapter_up("slack");
            app.clone().serve_events(listener, shutdown).await.map_err(SlackError::from)
        }
    };
    if let Err(e) = &served {
        readiness.adapter_down("slack", e.to_string());
    }
    app.bridge.shutdown(grace).await;
    served
}

/// Verifies Slack's signature (HMAC of `v0:timestamp:body`, within five minutes),
/// answers `url_verification`, and acknowledges an event once [`SlackBridge::deliver`]
/// has made it durable (milliseconds; the answer streams afterwards). A 503 when that
/// failed makes Slack redeliver the event.
async fn events_endpoint(
    State(app): State<Arc<SlackBridge>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = app.verify_request(&headers, &body) {
        return refused.into_response();
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let Ok(text) = std::str::from_utf8(&body) else {
        return (StatusCode::BAD_REQUEST, "body is not UTF-8").into_response();
    };
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        return (StatusCode::BAD_REQUEST, "body is not JSON").into_response();
    };
    if let Some(retry) = header("x-slack-retry-num") {
        tracing::info!(
            retry,
            reason = header("x-slack-retry-reason").unwrap_or(""),
            "Slack redelivery"
        );
    }
    if value.get("type").and_then(Value::as_str) == Some("url_verification") {
        return match app.deliver(&value).await {
            Ok(Delivered::Challenge(challenge)) => {
                axum::Json(serde_json::json!({ "challenge": challenge })).into_response()
            }
            _ => (StatusCode::BAD_REQUEST, "url_verification without a challenge").into_response(),
        };
    }
    match app.deliver(&value).await {
        Ok(_) => StatusCode::OK.into_response(),
        Err(_) => {
            (StatusCode::SERVICE_UNAVAILABLE, "event not handled; please retry").into_response()
        }
    }
}

/// The error a Socket Mode callback returns when an event was not handled, so
/// [`on_socket_error`] leaves it unacknowledged and Slack redelivers it.
#[derive(Debug, thiserror::Error)]
#[error("Slack event not handled: {0}")]
struct NotHandled(String);

async fn on_push_event(
    event: SlackPushEventCallback,
    _client: Arc<Client>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    let app = states.read().await.get_user_state::<Weak<SlackBridge>>().and_then(Weak::upgrade);
    // Stopped: leave the envelope unacknowledged for the next connection.
    let Some(app) = app else { return Err(NotHandled("the bridge has stopped".into()).into()) };
    let body = serde_json::to_value(SlackPushEvent::EventCallback(event))?;
    // The listener acknowledges when this returns `Ok`: only once the event is durable.
    app.deliver(&body).await.map_err(|e| NotHandled(e.to_string()))?;
    Ok(())
}

fn on_socket_error(
    err: Box<dyn std::error::Error + Send + Sync>,
    _client: Arc<Client>,
    states: SlackClientEventsUserState,
) -> HttpStatusCode {
    if err.is::<NotHandled>() {
        // No acknowledgement: Slack redelivers the envelope.
        return HttpStatusCode::INTERNAL_SERVER_ERROR;
    }
    if err.is::<slack_morphism::errors::SlackClientProtocolError>() {
        // An envelope slack-morphism could not read (it acknowledges it, as a retry
        // would read no better): a payload problem, not a failing connection.
        tracing::debug!(error = %err, "Slack sent an envelope the bridge cannot read");
        return HttpStatusCode::OK;
    }
    tracing::warn!(error = %err, "Slack Socket Mode error");
    // slack-morphism reconnects by itself and tells us of a connection only by its
    // `hello`; an error here is the sign one is failing. Not ready if no `hello` comes
    // within the reconnect grace. (A close followed by reconnects that fail without an
    // error reaches no hook of slack-morphism's, so that case is not seen.)
    let app = states
        .try_read()
        .ok()
        .and_then(|s| s.get_user_state::<Weak<SlackBridge>>().and_then(Weak::upgrade));
    if let Some(ready) = app.as_ref().and_then(|app| app.readiness.get()) {
        ready.connection_lost("slack", format!("Socket Mode: {err}"), std::time::Instant::now());
    }
    HttpStatusCode::OK
}

/// Every (re)connection of Socket Mode starts with Slack's `hello`: the adapter is up.
/// (Generic over the event because slack-morphism's `SlackSocketModeHelloEvent` is
/// shadowed at its crate root by the listener's module of the same name.)
async fn on_hello<Hello: Send + 'static>(
    _hello: Hello,
    _client: Arc<Client>,
    states: SlackClientEventsUserState,
) {
    let app = states.read().await.get_user_state::<Weak<SlackBridge>>().and_then(Weak::upgrade);
    if let Some(ready) = app.as_ref().and_then(|app| app.readiness.get()) {
        ready.adapter_up("slack");
    }
}
