//! The HTTP client: configuration, visitor sessions and the retrying request loop. The
//! endpoint methods are in `endpoints.rs`.
//!
//! Sessions: every visitor endpoint needs a session token, obtained with
//! `POST /identity/init {apiKey, saVid}`. Tokens are fetched lazily, cached per `saVid`
//! and, since the API gives no expiry, renewed when a call answers 401: the call is
//! then made once more with a fresh token (§2 of the API notes).
//!
//! Logging: method, path and status at debug. Never the query (the publishable key
//! travels in one), never headers (the token), never message text.

use super::error::{ApiError, Error};
use super::ids::SaVid;
use super::model::Identity;
use super::retry::{self, Decision, Failure, RetryPolicy};
use crate::secret::Secret;
use reqwest::header::{HeaderMap, HeaderValue, ORIGIN, RETRY_AFTER};
use reqwest::{Method, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use url::Url;

pub use super::endpoints::{SendOutcome, StreamStart};
pub use super::model::{message_text, NewMessage, PageContext};

/// Sessions kept at most; beyond this the cache is emptied (tokens are re-fetched on
/// demand), so a long-running bridge with many users cannot grow it without bound.
const MAX_CACHED_SESSIONS: usize = 10_000;

/// How to reach SiteAssist.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// The v2 base URL, e.g. `https://api.siteassist.io/v2` or
    /// `http://127.0.0.1:8787/v2` (a trailing slash is optional).
    pub api_url: Url,
    /// The publishable key (`pk_…`), sent in the init body and the project query.
    pub publishable_key: Secret,
    /// An `Origin` header for every request, for keys restricted to some websites.
    pub origin: Option<String>,
    /// Attempts per request in total, for 429/503 and failed connections.
    pub max_attempts: u32,
    /// The longest single wait before a retry, whatever the server asks for.
    pub max_retry_wait: Duration,
    /// A streamed answer with no chunk for this long is given up as stalled.
    pub idle_timeout: Duration,
    /// Timeout of every non-stream call, body included.
    pub request_timeout: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            api_url: Url::parse("https://api.siteassist.io/v2").expect("a valid URL literal"),
            publishable_key: Secret::default(),
            origin: None,
            max_attempts: 4,
            max_retry_wait: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(90),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// The SiteAssist v2 visitor API client. Cheap to clone (one shared connection pool and
/// session cache).
#[derive(Clone)]
pub struct Client {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    http: reqwest::Client,
    pub(super) cfg: ClientConfig,
    tokens: Mutex<HashMap<SaVid, Secret>>,
    /// When SiteAssist last answered with a 2xx, for the readiness check.
    last_success: Mutex<Option<std::time::Instant>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("api_url", &self.inner.cfg.api_url.as_str())
            .finish_non_exhaustive()
    }
}

/// One request, as the retry loop re-sends it.
pub(super) struct Call {
    pub method: Method,
    pub url: Url,
    pub body: Option<Value>,
    /// The visitor whose session authorises the call; `None` for no auth header.
    pub auth: Option<SaVid>,
    /// A streamed answer: no total timeout, only one for the response headers.
    pub stream: bool,
}

impl Client {
    /// Builds a client. Fails with [`Error::NotConfigured`] when the key is empty, the
    /// URL is not http(s), or the Origin is not a valid header value.
    pub fn new(cfg: ClientConfig) -> Result<Self, Error> {
        if cfg.publishable_key.is_empty() {
            return Err(Error::NotConfigured("the publishable key is empty".into()));
        }
        if !matches!(cfg.api_url.scheme(), "http" | "https") || cfg.api_url.cannot_be_a_base() {
            return Err(Error::NotConfigured(format!(
                "the API URL {} is not an http(s) URL",
                cfg.api_url
            )));
        }
        let mut headers = HeaderMap::new();
        if let Some(origin) = &cfg.origin {
            let value = HeaderValue::from_str(origin).map_err(|_| {
                Error::NotConfigured(format!("the Origin {origin:?} is not a valid header"))
            })?;
            headers.insert(ORIGIN, value);
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("siteassist-bridge/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            .connect_timeout(cfg.request_timeout)
            .build()
            .map_err(|e| Error::NotConfigured(format!("HTTP client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                cfg,
                tokens: Mutex::new(HashMap::new()),
                last_success: Mutex::new(None),
            }),
        })
    }

    /// When SiteAssist last answered a request successfully (any 2xx), if ever.
    pub fn last_success(&self) -> Option<std::time::Instant> {
        *self.inner.last_success.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `POST /identity/init`: starts (or resumes) the session of visitor `vid` and
    /// caches its token for later calls.
    pub async fn init_identity(&self, vid: &SaVid) -> Result<Identity, Error> {
        let call = Call {
            method: Method::POST,
            url: self.url(&["identity", "init"]),
            body: Some(serde_json::json!({
                "apiKey": self.inner.cfg.publishable_key.expose(),
                "saVid": vid.as_str(),
            })),
            auth: None,
            stream: false,
        };
        let response = self.send_with_retries(&call, None).await?;
        let bytes = response.bytes().await.map_err(Error::transport)?;
        // The body holds the token: describe a failure by position only.
        let identity: Identity = serde_json::from_slice(&bytes).map_err(|e| {
            Error::Decode(format!(
                "identity/init: {:?} error at line {} column {}",
                e.classify(),
                e.line(),
                e.column()
            ))
        })?;
        let mut tokens = self.lock_tokens();
        if tokens.len() >= MAX_CACHED_SESSIONS {
            tokens.clear();
        }
        tokens.insert(vid.clone(), identity.session_token.clone());
        Ok(identity)
    }

    fn lock_tokens(&self) -> std::sync::MutexGuard<'_, HashMap<SaVid, Secret>> {
        // A panic while holding the lock cannot leave the map inconsistent.
        self.inner.tokens.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn token(&self, vid: &SaVid) -> Result<Secret, Error> {
        let cached = self.lock_tokens().get(vid).cloned();
        match cached {
            Some(token) => Ok(token),
            None => Ok(self.init_identity(vid).await?.session_token),
        }
    }

    /// The base URL with `segments` appended (each percent-encoded as needed).
    pub(super) fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.inner.cfg.api_url.clone();
        url.set_query(None);
        url.set_fragment(None);
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// Sends a call as its visitor: with a fresh session after a 401, once.
    pub(super) async fn execute(&self, call: &Call) -> Result<Response, Error> {
        let Some(vid) = &call.auth else {
            return self.send_with_retries(call, None).await;
        };
        let token = self.token(vid).await?;
        match self.send_with_retries(call, Some(&token)).await {
            Err(Error::Api(ApiError::Unauthorized { .. })) => {
                tracing::debug!(path = call.url.path(), "session rejected; re-initialising");
                {
                    let mut tokens = self.lock_tokens();
                    // Another call may have renewed it already.
                    if tokens.get(vid) == Some(&token) {
                        tokens.remove(vid);
                    }
                }
                let token = self.token(vid).await?;
                self.send_with_retries(call, Some(&token)).await
            }
            other => other,
        }
    }

    /// Sends a call, retrying as [`retry::decide`] says; a non-2xx answer becomes
    /// [`Error::Api`].
    async fn send_with_retries(
        &self,
        call: &Call,
        token: Option<&Secret>,
    ) -> Result<Response, Error> {
        let cfg = &self.inner.cfg;
        let policy =
            RetryPolicy { max_attempts: cfg.max_attempts, max_retry_wait: cfg.max_retry_wait };
        let mut attempts = 1;
        loop {
            let (failure, error) = match self.send_once(call, token).await {
                Ok(response) if response.status().is_success() => {
                    *self.inner.last_success.lock().unwrap_or_else(|p| p.into_inner()) =
                        Some(std::time::Instant::now());
                    return Ok(response);
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    let header = response
                        .headers()
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| retry::parse_retry_after(v, chrono::Utc::now()));
                    // Bounded: on a stream call nothing else limits the wait for the body.
                    let body = tokio::time::timeout(cfg.request_timeout, response.text())
                        .await
                        .ok()
                        .and_then(Result::ok)
                        .unwrap_or_default();
                    let api = ApiError::from_response(status, header, &body);
                    crate::ops::metrics::siteassist_error(api.code());
                    let failure = Failure::Status { status, retry_after: api.retry_after() };
                    (failure, Error::Api(api))
                }
                Err((failure, error)) => (failure, error),
            };
            match retry::decide(&policy, attempts, &failure) {
                Decision::RetryAfter(wait) => {
                    tracing::debug!(path = call.url.path(), attempts, ?wait, "retrying");
                    tokio::time::sleep(wait).await;
                    attempts += 1;
                }
                Decision::GiveUp => return Err(error),
            }
        }
    }

    async fn send_once(
        &self,
        call: &Call,
        token: Option<&Secret>,
    ) -> Result<Response, (Failure, Error)> {
        let cfg = &self.inner.cfg;
        let mut request = self.inner.http.request(call.method.clone(), call.url.clone());
        if let Some(token) = token {
            request = request.bearer_auth(token.expose());
        }
        if let Some(body) = &call.body {
            request = request.json(body);
        }
        let sent = if call.stream {
            // The body may stream for minutes; only the wait for headers is bounded here.
            match tokio::time::timeout(cfg.idle_timeout, request.send()).await {
                Ok(sent) => sent,
                Err(_) => {
                    let error = Error::Transport(format!(
                        "no response within {:?} (the message may have been stored)",
                        cfg.idle_timeout
                    ));
                    return Err((Failure::Other, error));
                }
            }
        } else {
            request.timeout(cfg.request_timeout).send().await
        };
        match sent {
            Ok(response) => {
                tracing::debug!(
                    method = %call.method,
                    path = call.url.path(),
                    status = response.status().as_u16(),
                    "SiteAssist call"
                );
                Ok(response)
            }
            Err(e) => {
                let failure = if e.is_connect() { Failure::NotSent } else { Failure::Other };
                let error = Error::transport(e);
                tracing::debug!(method = %call.method, path = call.url.path(), %error, "SiteAssist call failed");
                Err((failure, error))
            }
        }
    }
}

/// Appends a query struct's fields as query pairs (`None` fields are left out).
pub(super) fn with_query<T: Serialize>(mut url: Url, query: &T) -> Url {
    let Ok(Value::Object(fields)) = serde_json::to_value(query) else {
        return url;
    };
    let pairs: Vec<(String, String)> = fields
        .into_iter()
        .filter_map(|(key, value)| match value {
            Value::Null => None,
            Value::String(s) => Some((key, s)),
            other => Some((key, other.to_string())),
        })
        .collect();
    if !pairs.is_empty() {
        url.query_pairs_mut().extend_pairs(pairs);
    }
    url
}

/// Reads a JSON body.
pub(super) async fn read_json<T: DeserializeOwned>(
    response: Response,
    what: &str,
) -> Result<T, Error> {
    let bytes = response.bytes().await.map_err(Error::transport)?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Decode(format!("{what}: {e}")))
}
