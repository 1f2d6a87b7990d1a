//! The operations endpoints: `GET /healthz` (the process is up), `GET /readyz` (ready to
//! answer, or 503 with the reasons), `GET /metrics` (Prometheus text format).

use super::health::Readiness;
use crate::siteassist::client::Client;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use std::future::Future;
use std::time::Instant;

/// What the endpoints look at.
#[derive(Clone)]
pub struct OpsState {
    /// Adapter connection states and the components' probes (the store's among them).
    pub readiness: Readiness,
    /// The SiteAssist client, whose last success `/readyz` checks.
    pub client: Client,
    /// The metrics recorder's handle; `None` serves an empty page.
    pub metrics: Option<PrometheusHandle>,
}

/// The router with the three endpoints.
pub fn router(state: OpsState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(middleware::from_fn(refuse_bodies))
        .with_state(state)
}

/// The endpoints are `GET`s that read nothing: a request carrying a body is refused
/// with 413 before any handler runs, so nobody can make the bridge buffer one.
async fn refuse_bodies(request: Request, next: Next) -> Response {
    let headers = request.headers();
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() != "0");
    if declared || headers.contains_key(header::TRANSFER_ENCODING) {
        return (StatusCode::PAYLOAD_TOO_LARGE, "these endpoints take no request body\n")
            .into_response();
    }
    next.run(request).await
}

/// Serves the endpoints on `listener` until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: OpsState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tracing::info!(addr = %listener.local_addr()?, "health and metrics endpoints listening");
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}

async fn readyz(State(state): State<OpsState>) -> Response {
    // The store reports through its probe (see `store_probe`): a request touches no
    // database, so it answers at once even while the database does not.
    match state.readiness.check(Instant::now(), Ok(()), state.client.last_success()) {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(reasons) => {
            (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {}\n", reasons.join("; ")))
                .into_response()
        }
    }
}

async fn metrics(State(state): State<OpsState>) -> Response {
    let body = state.metrics.as_ref().map(PrometheusHandle::render).unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}
