//! A small recording fake of the SiteAssist v2 API on 127.0.0.1:0, for the client tests.
//! Each test gives it a handler; the fake records every request it receives.
#![allow(dead_code)]

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use siteassist_bridge::secret::Secret;
use siteassist_bridge::siteassist::client::{Client, ClientConfig};

/// A request as the fake received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// Path without the query, e.g. `/v2/identity/init`.
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: String,
}

impl Recorded {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).map(|v| v.to_str().unwrap().to_owned())
    }

    pub fn is(&self, method: &str, path: &str) -> bool {
        self.method == method && self.path == path
    }

    /// A query parameter's value.
    pub fn param(&self, key: &str) -> Option<String> {
        let query = self.query.as_deref()?;
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    }
}

/// Answers one request; `nth` counts earlier requests with the same method and path.
pub type Handler = dyn Fn(&Recorded, usize) -> Response + Send + Sync;

struct Shared {
    log: Mutex<Vec<Recorded>>,
    handler: Box<Handler>,
}

/// The running fake.
pub struct Fake {
    pub base: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, 1 << 20).await.unwrap_or_default();
    let recorded = Recorded {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let nth = {
        let mut log = shared.log.lock().unwrap();
        let nth = log.iter().filter(|r| r.is(&recorded.method, &recorded.path)).count();
        log.push(recorded.clone());
        nth
    };
    (shared.handler)(&recorded, nth)
}

impl Fake {
    /// Starts a fake whose `handler` answers everything except `POST /v2/identity/init`,
    /// which always returns token `tok-<n>` (n = 1, 2, …).
    pub async fn start(
        handler: impl Fn(&Recorded, usize) -> Response + Send + Sync + 'static,
    ) -> Self {
        let handler = move |req: &Recorded, nth: usize| {
            if req.is("POST", "/v2/identity/init") {
                return identity(nth + 1);
            }
            handler(req, nth)
        };
        let shared = Arc::new(Shared { log: Mutex::new(Vec::new()), handler: Box::new(handler) });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { base: format!("http://{addr}/v2"), shared, task }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.log.lock().unwrap().clone()
    }

    /// Requests with this method and path.
    pub fn to(&self, method: &str, path: &str) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| r.is(method, path)).collect()
    }

    /// A client for this fake: quick retries unless a test says otherwise.
    pub fn config(&self) -> ClientConfig {
        ClientConfig {
            api_url: self.base.parse().unwrap(),
            publishable_key: Secret::new("pk_test_123"),
            max_attempts: 3,
            max_retry_wait: Duration::from_millis(20),
            idle_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(5),
            ..ClientConfig::default()
        }
    }

    pub fn client(&self) -> Client {
        Client::new(self.config()).unwrap()
    }
}

pub fn json_response(status: u16, body: Value) -> Response {
    (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
}

pub fn api_error(status: u16, code: &str, details: Option<Value>) -> Response {
    let mut error = json!({"message": format!("{code} from the fake"), "code": code});
    if let Some(details) = details {
        error["details"] = details;
    }
    json_response(status, json!({ "error": error }))
}

fn identity(n: usize) -> Response {
    json_response(
        if n == 1 { 201 } else { 200 },
        json!({
            "sessionToken": format!("tok-{n}"),
            "visitor": {"object": "visitor", "id": "visitor-1", "type": "anonymous",
                        "externalId": null, "name": null, "avatarUrl": null}
        }),
    )
}

/// The headers the AI SDK sets on a UI message stream.
fn sse_response(body: Body) -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .header(header::CONNECTION, "keep-alive")
        .header("x-vercel-ai-ui-message-stream", "v1")
        .header("x-accel-buffering", "no")
        .body(body)
        .unwrap()
}

/// `data: <chunk>` lines, then `data: [DONE]`, as one body.
pub fn sse(chunks: &[Value]) -> Response {
    sse_response(Body::from(sse_text(chunks, true)))
}

pub fn sse_text(chunks: &[Value], done: bool) -> String {
    let mut body: String = chunks.iter().map(|c| format!("data: {c}\n\n")).collect();
    if done {
        body.push_str("data: [DONE]\n\n");
    }
    body
}

/// A stream whose body the test writes piece by piece.
pub fn sse_channel(rx: tokio::sync::mpsc::Receiver<String>) -> Response {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|s| (Ok::<_, std::convert::Infallible>(s), rx))
    });
    sse_response(Body::from_stream(stream))
}

pub fn text_plain(body: &str) -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

/// A message object as the API returns it.
pub fn message(id: &str, role: &str, text: &str) -> Value {
    json!({"object": "message", "id": id, "createdAt": "2025-08-19T09:29:41.469Z",
           "chatId": "c1", "role": role, "parts": [{"type": "text", "text": text}],
           "status": "complete", "error": null, "feedback": null, "feedbackAt": null,
           "metadata": null, "humanAgent": null, "pageUrl": null, "pageTitle": null,
           "textSelection": null})
}
