//! The Discord REST calls the adapter makes, with failures classified for the core.
//!
//! Requests are built with serenity's routes and token handling, but sent so that the
//! raw response stays in our hands: serenity turns a 429 into an error without the
//! `retry-after` header and cannot decode Discord's 429 body (it has no `code`), so the
//! core could not honour the wait. In production serenity's rate limiter sends the
//! request (it waits out 429s itself); with `discord.api_url` set (a proxy or a test
//! fake) the limiter is off, a 429 comes back here and becomes
//! [`AdapterError::RateLimited`], and the core waits and retries.

use crate::bridge::adapter::AdapterError;
use crate::bridge::controls::Controls;
use serde::Deserialize;
use serde_json::json;
use serenity::http::{Http, LightMethod, Request, Route};
use serenity::model::id::{ChannelId, MessageId};
use std::sync::Arc;
use std::time::Duration;

/// Wait used when a 429 carries no usable `retry_after`.
pub(crate) const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);
/// Longest wait believed from a 429 (a bogus value must not park a reply for hours).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);
/// Discord's error code for "a thread has already been created for this message".
pub(crate) const THREAD_ALREADY_CREATED: i64 = 160_004;

/// A failed call: what the core should do, and Discord's JSON error code if any.
#[derive(Debug)]
pub(crate) struct Failure {
    /// The classified error.
    pub error: AdapterError,
    /// Discord's `code` from the error body.
    pub code: Option<i64>,
}

impl From<Failure> for AdapterError {
    fn from(f: Failure) -> Self {
        f.error
    }
}

/// Classifies a non-2xx response. Pure.
///
/// 429 → [`AdapterError::RateLimited`] with the wait from the body's `retry_after`
/// (seconds, fractional), else the `retry-after` header, else
/// `x-ratelimit-reset-after`, else [`DEFAULT_RETRY_AFTER`]; 408 and 5xx →
/// [`AdapterError::Transient`]; every other status (missing permission, unknown
/// channel, deleted message) → [`AdapterError::Permanent`].
pub(crate) fn classify(
    status: u16,
    retry_after: Option<&str>,
    reset_after: Option<&str>,
    body: &[u8],
) -> Failure {
    let body: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let code = body.get("code").and_then(serde_json::Value::as_i64);
    let message = body.get("message").and_then(serde_json::Value::as_str).unwrap_or("");
    let seconds = |v: Option<f64>| v.filter(|s| s.is_finite() && *s >= 0.0);
    let error = match status {
        429 => {
            let wait = seconds(body.get("retry_after").and_then(serde_json::Value::as_f64))
                .or_else(|| seconds(retry_after.and_then(|h| h.trim().parse().ok())))
                .or_else(|| seconds(reset_after.and_then(|h| h.trim().parse().ok())))
                .map_or(DEFAULT_RETRY_AFTER, |s| Duration::from_secs_f64(s).min(MAX_RETRY_AFTER));
            AdapterError::RateLimited { retry_after: wait }
        }
        408 | 500..=599 => AdapterError::Transient(format!("Discord answered {status}: {message}")),
        _ => AdapterError::Permanent(match code {
            Some(c) => format!("Discord answered {status} (code {c}): {message}"),
            None => format!("Discord answered {status}: {message}"),
        }),
    };
    Failure { error, code }
}

fn transport(e: impl std::fmt::Display) -> Failure {
    Failure { error: AdapterError::Transient(format!("could not reach Discord: {e}")), code: None }
}

/// A channel as `GET /channels/{id}` describes it (only what the adapter reads).
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct RawChannel {
    /// Channel type number (0 text, 5 announcement, 11 public thread, 15 forum, …).
    #[serde(rename = "type")]
    pub kind: u8,
    /// The parent channel (a thread's channel or forum; a channel's category).
    #[serde(default)]
    pub parent_id: Option<String>,
    /// The name (DMs have none).
    #[serde(default)]
    pub name: Option<String>,
}

/// A message as `GET /channels/{id}/messages` lists it (only what history reads).
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct ListedMessage {
    /// Message type (0 default, 19 reply; others are system messages).
    #[serde(rename = "type", default)]
    pub kind: u8,
    /// The author.
    pub author: ListedUser,
    /// The text, with Discord's markup.
    #[serde(default)]
    pub content: String,
    /// The users it mentions, to show their names.
    #[serde(default)]
    pub mentions: Vec<ListedUser>,
}

/// A user as messages carry them.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct ListedUser {
    /// The user id.
    pub id: String,
    /// The account name.
    pub username: String,
    /// The display name, when set.
    #[serde(default)]
    pub global_name: Option<String>,
}

impl ListedUser {
    /// The name people see: the display name, else the account name.
    pub(crate) fn shown(&self) -> String {
        self.global_name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| self.username.clone())
    }
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

/// The REST client: serenity's [`Http`] (token, proxy, rate limiter) plus the HTTP
/// client that sends requests when the limiter is off.
pub(crate) struct Rest {
    http: Arc<Http>,
    client: reqwest::Client,
}

impl Rest {
    /// Uses `http`'s token, proxy and limiter; `client` sends when there is no limiter.
    pub(crate) fn new(http: Arc<Http>, client: reqwest::Client) -> Self {
        Self { http, client }
    }

    /// Sends `req`; a non-2xx answer is classified.
    async fn send(&self, req: Request<'_>) -> Result<reqwest::Response, Failure> {
        let response = match &self.http.ratelimiter {
            Some(limiter) => limiter.perform(req).await.map_err(transport)?,
            None => {
                let unbuildable = |e: &dyn std::fmt::Display| Failure {
                    error: AdapterError::Permanent(format!("could not build a request: {e}")),
                    code: None,
                };
                let builder = req
                    .build(&self.client, self.http.token(), self.http.proxy.as_deref())
                    .map_err(|e| unbuildable(&e))?;
                let built = builder.build().map_err(|e| unbuildable(&e))?;
                self.client.execute(built).await.map_err(transport)?
            }
        };
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(response);
        }
        let header = |name: &str| {
            response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
        };
        let (retry_after, reset_after) = (header("retry-after"), header("x-ratelimit-reset-after"));
        let body = response.bytes().await.unwrap_or_default();
        Err(classify(status, retry_after.as_deref(), reset_after.as_deref(), &body))
    }

    async fn send_json<T: serde::de::DeserializeOwned>(
        &self,
        req: Request<'_>,
    ) -> Result<T, Failure> {
        let response = self.send(req).await?;
        let bytes = response.bytes().await.map_err(transport)?;
        serde_json::from_slice(&bytes).map_err(|e| Failure {
            error: AdapterError::Permanent(format!("unexpected answer from Discord: {e}")),
            code: None,
        })
    }

    /// The bot's own user id and name (`GET /users/@me`); also proves the token works.
    pub(crate) async fn current_user(&self) -> Result<(u64, String), Failure> {
        #[derive(Deserialize)]
        struct Me {
            id: String,
            username: String,
        }
        let me: Me = self.send_json(Request::new(Route::UserMe, LightMethod::Get)).await?;
        Ok((parse_id(&me.id)?, me.username))
    }

    /// `GET /gateway`: the gateway's URL.
    pub(crate) async fn gateway_url(&self) -> Result<String, Failure> {
        #[derive(Deserialize)]
        struct Gateway {
            url: String,
        }
        let gateway: Gateway =
            self.send_json(Request::new(Route::Gateway, LightMethod::Get)).await?;
        Ok(gateway.url)
    }

    /// `GET /gateway/bot`: how many shards Discord recommends for this bot (it grows
    /// with the bot's guilds; about one per 1,000).
    pub(crate) async fn recommended_shards(&self) -> Result<u32, Failure> {
        #[derive(Deserialize)]
        struct BotGateway {
            shards: u32,
        }
        let gateway: BotGateway =
            self.send_json(Request::new(Route::GatewayBot, LightMethod::Get)).await?;
        Ok(gateway.shards.max(1))
    }

    /// `GET /channels/{id}`.
    pub(crate) async fn channel(&self, id: u64) -> Result<RawChannel, Failure> {
        let route = Route::Channel { channel_id: ChannelId::new(id) };
        self.send_json(Request::new(route, LightMethod::Get)).await
    }

    /// Posts `content` in `channel`, pinging nobody; returns the new message's id.
    pub(crate) async fn create_message(
        &self,
        channel: u64,
        content: &str,
        controls: &Controls,
    ) -> Result<u64, Failure> {
        let route = Route::ChannelMessages { channel_id: ChannelId::new(channel) };
        let req =
            Request::new(route, LightMethod::Post).body(Some(message_body(content, controls)));
        let created: Created = self.send_json(req).await?;
        parse_id(&created.id)
    }

    /// Up to 100 messages of `channel` newer than `after` (`GET /channels/{id}/messages`):
    /// `(id, author id, content)`, in no particular order.
    pub(crate) async fn messages_after(
        &self,
        channel: u64,
        after: u64,
    ) -> Result<Vec<(u64, u64, String)>, Failure> {
        #[derive(Deserialize)]
        struct Author {
            id: String,
        }
        #[derive(Deserialize)]
        struct Listed {
            id: String,
            author: Author,
            #[serde(default)]
            content: String,
        }
        let route = Route::ChannelMessages { channel_id: ChannelId::new(channel) };
        let params = vec![("after", after.to_string()), ("limit", "100".to_string())];
        let req = Request::new(route, LightMethod::Get).params(Some(params));
        let listed: Vec<Listed> = self.send_json(req).await?;
        listed
            .into_iter()
            .map(|m| Ok((parse_id(&m.id)?, parse_id(&m.author.id)?, m.content)))
            .collect()
    }

    /// Up to `limit` (at most 100) messages of `channel` older than `before`
    /// (`GET /channels/{id}/messages?before=…`), newest first as Discord lists them.
    pub(crate) async fn messages_before(
        &self,
        channel: u64,
        before: u64,
        limit: usize,
    ) -> Result<Vec<ListedMessage>, Failure> {
        let route = Route::ChannelMessages { channel_id: ChannelId::new(channel) };
        let params = vec![("before", before.to_string()), ("limit", limit.min(100).to_string())];
        let req = Request::new(route, LightMethod::Get).params(Some(params));
        self.send_json(req).await
    }

    /// Replaces a message's content, pinging nobody.
    pub(crate) async fn edit_message(
        &self,
        channel: u64,
        message: u64,
        content: &str,
        controls: &Controls,
    ) -> Result<(), Failure> {
        let route = Route::ChannelMessage {
            channel_id: ChannelId::new(channel),
            message_id: MessageId::new(message),
        };
        let req =
            Request::new(route, LightMethod::Patch).body(Some(message_body(content, controls)));
        self.send(req).await.map(drop)
    }

    /// Adds the bot's reaction `emoji` (Unicode) to a message (`PUT
    /// …/reactions/{emoji}/@me`; adding one that is there already succeeds).
    pub(crate) async fn add_reaction(
        &self,
        channel: u64,
        message: u64,
        emoji: &str,
    ) -> Result<(), Failure> {
        let emoji = serenity::all::ReactionType::Unicode(emoji.to_string()).as_data();
        let route = Route::ChannelMessageReactionMe {
            channel_id: ChannelId::new(channel),
            message_id: MessageId::new(message),
            reaction: &emoji,
        };
        self.send(Request::new(route, LightMethod::Put)).await.map(drop)
    }

    /// Answers a button press with a deferred update (`POST /interactions/{id}/{token}/
    /// callback`, type 6), within Discord's 3 seconds.
    pub(crate) async fn ack_press(&self, interaction: u64, token: &str) -> Result<(), Failure> {
        let route = Route::InteractionResponse { interaction_id: interaction.into(), token };
        let body = json!({ "type": DEFERRED_UPDATE }).to_string();
        let req = Request::new(route, LightMethod::Post).body(Some(body.into_bytes()));
        self.send(req).await.map(drop)
    }

    /// Answers a command with `response` (an interaction response object) and returns
    /// the message it created, if any (`?with_response=true` returns it; API docs,
    /// "Create Interaction Response", checked 2026-12).
    pub(crate) async fn respond(
        &self,
        interaction: u64,
        token: &str,
        response: &serde_json::Value,
    ) -> Result<Option<u64>, Failure> {
        #[derive(Deserialize)]
        struct Created {
            resource: Option<Resource>,
        }
        #[derive(Deserialize)]
        struct Resource {
            message: Option<Listed>,
        }
        #[derive(Deserialize)]
        struct Listed {
            id: String,
        }
        let route = Route::InteractionResponse { interaction_id: interaction.into(), token };
        let req = Request::new(route, LightMethod::Post)
            .params(Some(vec![("with_response", "true".to_string())]))
            .body(Some(response.to_string().into_bytes()));
        let created: Created = self.send_json(req).await?;
        match created.resource.and_then(|r| r.message) {
            Some(message) => parse_id(&message.id).map(Some),
            None => Ok(None),
        }
    }

    /// Replaces the text of a command's first reply (`PATCH /webhooks/{app}/{token}/
    /// messages/@original`), e.g. a deferred private reply once the core has decided.
    pub(crate) async fn edit_reply(
        &self,
        application: u64,
        token: &str,
        content: &str,
    ) -> Result<(), Failure> {
        let route =
            Route::WebhookOriginalInteractionResponse { application_id: application.into(), token };
        let body = json!({ "content": content, "allowed_mentions": { "parse": [] } });
        let req = Request::new(route, LightMethod::Patch).body(Some(body.to_string().into_bytes()));
        self.send(req).await.map(drop)
    }

    /// Registers the bot's commands (`PUT`, which replaces the whole set), globally or
    /// in one server.
    pub(crate) async fn put_commands(
        &self,
        application: u64,
        guild: Option<u64>,
        commands: &serde_json::Value,
    ) -> Result<(), Failure> {
        let application_id = application.into();
        let route = match guild {
            Some(g) => Route::GuildCommands { application_id, guild_id: g.into() },
            None => Route::Commands { application_id },
        };
        let req =
            Request::new(route, LightMethod::Put).body(Some(commands.to_string().into_bytes()));
        self.send(req).await.map(drop)
    }

    /// Shows "typing…" in `channel` for about 10 seconds.
    pub(crate) async fn typing(&self, channel: u64) -> Result<(), Failure> {
        let route = Route::ChannelTyping { channel_id: ChannelId::new(channel) };
        self.send(Request::new(route, LightMethod::Post)).await.map(drop)
    }

    /// Starts a public thread on `message` in `parent` (the thread gets the message's
    /// id). A thread that already exists counts as success: a retry after a lost
    /// answer must not fail the reply.
    pub(crate) async fn create_thread(
        &self,
        parent: u64,
        message: u64,
        name: &str,
    ) -> Result<(), Failure> {
        let route = Route::ChannelMessageThreads {
            channel_id: ChannelId::new(parent),
            message_id: MessageId::new(message),
        };
        // One day of inactivity before Discord archives it; a new message revives it.
        let body = json!({ "name": name, "auto_archive_duration": 1440 });
        let req = Request::new(route, LightMethod::Post).body(Some(body.to_string().into_bytes()));
        match self.send(req).await {
            Ok(_) => Ok(()),
            Err(f) if f.code == Some(THREAD_ALREADY_CREATED) => Ok(()),
            Err(f) => Err(f),
        }
    }
}

/// A message body with empty `allowed_mentions`: nothing the bot writes can ping
/// `@everyone`, a role or a user, whatever the answer contains.
///
/// Link previews are suppressed (`SUPPRESS_EMBEDS`): Discord adds a preview under a
/// message for its links, which made a streaming answer jump each time a link appeared
/// and buried a short answer under cards for the pages it cites.
///
/// `components` is always sent: an edit without buttons removes those a message had
/// (Stop, once the answer is done).
fn message_body(content: &str, controls: &Controls) -> Vec<u8> {
    json!({
        "content": content,
        "allowed_mentions": { "parse": [] },
        "flags": SUPPRESS_EMBEDS,
        "components": super::components::rows(controls),
    })
    .to_string()
    .into_bytes()
}

/// Interaction response type: acknowledge a component press without changing the
/// message (`DEFERRED_UPDATE_MESSAGE`).
const DEFERRED_UPDATE: u8 = 6;

/// Message flag: no embeds (link previews) for this message.
const SUPPRESS_EMBEDS: u64 = 1 << 2;

fn parse_id(id: &str) -> Result<u64, Failure> {
    id.parse().map_err(|_| Failure {
        error: AdapterError::Permanent(format!("Discord returned an invalid id {id:?}")),
        code: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait(f: Failure) -> Option<Duration> {
        match f.error {
            AdapterError::RateLimited { retry_after } => Some(retry_after),
            _ => None,
        }
    }

    /// (retry-after header, x-ratelimit-reset-after header, body, expected wait)
    type Case = (Option<&'static str>, Option<&'static str>, &'static [u8], Duration);

    #[test]
    fn rate_limits_take_the_most_precise_wait() {
        let body =
            br#"{"message":"You are being rate limited.","retry_after":0.25,"global":false}"#;
        let table: [Case; 6] = [
            (Some("1"), None, body, Duration::from_millis(250)),
            (Some("2"), Some("1.5"), b"", Duration::from_secs(2)),
            (None, Some("1.5"), b"{}", Duration::from_millis(1500)),
            (None, None, b"not json", DEFAULT_RETRY_AFTER),
            (Some("-3"), None, br#"{"retry_after":"soon"}"#, DEFAULT_RETRY_AFTER),
            (Some("999999"), None, b"", MAX_RETRY_AFTER),
        ];
        for (header, reset, body, expected) in table {
            assert_eq!(
                wait(classify(429, header, reset, body)),
                Some(expected),
                "{header:?} {reset:?}"
            );
        }
    }

    #[test]
    fn other_statuses() {
        let f = classify(
            400,
            None,
            None,
            br#"{"code":160004,"message":"A thread has already been created for this message"}"#,
        );
        assert_eq!(f.code, Some(THREAD_ALREADY_CREATED));
        assert!(matches!(f.error, AdapterError::Permanent(ref m) if m.contains("160004")));
        for status in [500, 502, 503, 408] {
            assert!(
                matches!(classify(status, None, None, b"").error, AdapterError::Transient(_)),
                "{status}"
            );
        }
        for status in [401, 403, 404] {
            assert!(
                matches!(classify(status, None, None, b"").error, AdapterError::Permanent(_)),
                "{status}"
            );
        }
    }

    #[test]
    fn bodies_never_allow_mentions() {
        let body: serde_json::Value =
            serde_json::from_slice(&message_body("hi @everyone", &Controls::NONE)).unwrap();
        assert_eq!(body["allowed_mentions"], json!({ "parse": [] }));
        assert_eq!(body["content"], "hi @everyone");
        assert_eq!(body["flags"], 4, "link previews suppressed");
        assert_eq!(body["components"], json!([]), "buttons removed");
    }
}
