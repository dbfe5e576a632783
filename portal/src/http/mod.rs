//! The portal over HTTP: the routes, serving (plain and TLS), request metrics, and the
//! small operational endpoints. The hub API is in [`hub_api`], the admin API in
//! [`admin_api`]; every error answer is built by [`error::ApiError`].

pub mod admin_api;
pub mod error;
pub mod extract;
pub mod hub_api;
pub mod ui;

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::app::{Portal, run_jobs};
use crate::metrics::{RequestLabels, RouteLabel};
use error::ApiError;

/// The OpenAPI document, served at `/openapi.json`.
pub const OPENAPI: &str = include_str!("../../openapi.json");

/// Every route, with the metric name it is counted under.
const ROUTES: &[&str] = &[
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/v1/delegation",
    "/v1/activate",
    "/v1/ping",
    "/v1/admin/licenses",
    "/v1/admin/licenses/batch",
    "/v1/admin/licenses/lookup",
    "/v1/admin/licenses/{id}",
    "/v1/admin/licenses/{id}/suspend",
    "/v1/admin/licenses/{id}/reinstate",
    "/v1/admin/licenses/{id}/revoke",
    "/v1/admin/licenses/{id}/reset-binding",
    "/v1/admin/licenses/{id}/runner-places",
    "/v1/admin/licenses/{id}/runner-places/free",
    "/v1/admin/usage",
    "/v1/admin/organizations",
    "/v1/admin/audit",
    "/v1/admin/audit/inclusion",
    "/v1/admin/audit/consistency",
    "/v1/admin/people/{id}/export",
    "/v1/admin/organization/export",
];

/// Every route of the portal.
pub fn router(portal: &Arc<Portal>) -> Router {
    let limit = portal.settings.max_body_bytes;
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .route("/v1/delegation", get(delegation))
        .route("/v1/activate", post(hub_api::activate))
        .route("/v1/ping", post(hub_api::ping))
        .route("/v1/admin/licenses", post(admin_api::register).get(admin_api::list))
        .route(
            "/v1/admin/licenses/batch",
            post(admin_api::register_batch)
                .layer(DefaultBodyLimit::max(portal.settings.max_batch_body_bytes)),
        )
        .route("/v1/admin/licenses/lookup", post(admin_api::lookup))
        .route("/v1/admin/licenses/{id}", get(admin_api::show))
        .route("/v1/admin/licenses/{id}/suspend", post(admin_api::suspend))
        .route("/v1/admin/licenses/{id}/reinstate", post(admin_api::reinstate))
        .route("/v1/admin/licenses/{id}/revoke", post(admin_api::revoke))
        .route("/v1/admin/licenses/{id}/reset-binding", post(admin_api::reset_binding))
        .route("/v1/admin/licenses/{id}/runner-places", get(admin_api::runner_places))
        .route("/v1/admin/licenses/{id}/runner-places/free", post(admin_api::free_runner_places))
        .route("/v1/admin/usage", get(admin_api::usage))
        .route("/v1/admin/organizations", get(admin_api::organizations))
        .route("/v1/admin/audit", get(admin_api::audit))
        .route("/v1/admin/audit/inclusion", get(admin_api::audit_inclusion))
        .route("/v1/admin/audit/consistency", get(admin_api::audit_consistency))
        .route("/v1/admin/people/{id}/export", get(admin_api::export_person))
        .route("/v1/admin/organization/export", get(admin_api::export_organization))
        .merge(ui::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(portal.clone(), observe))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(portal.clone())
}

/// Serves `portal` on `listener` until `shutdown` completes (over HTTPS when `tls` is
/// given), with the connection limits of its settings; then drains in-flight requests and
/// writes the queued pings. The periodic jobs run meanwhile.
pub async fn serve(
    portal: Arc<Portal>,
    listener: tokio::net::TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let jobs = tokio::spawn(run_jobs(portal.clone()));
    let limits = tessera_http_server::Limits {
        header_read_timeout: Duration::from_secs(portal.settings.header_read_timeout_secs),
        handshake_timeout: Duration::from_secs(portal.settings.header_read_timeout_secs),
        max_connections: portal.settings.max_connections,
        max_connections_per_address: portal.settings.max_connections_per_address,
        body_read_timeout: Duration::from_secs(portal.settings.body_read_timeout_secs),
    };
    let result = tessera_http_server::serve(listener, router(&portal), limits, tls, shutdown).await;
    jobs.abort();
    portal.pings.close().await;
    result
}

/// The TLS configuration from a PEM certificate chain and key.
pub fn tls_config(
    cert: &Path,
    key: &Path,
) -> Result<Arc<rustls::ServerConfig>, tessera_http_server::TlsError> {
    tessera_http_server::tls_config(cert, key)
}

/// Counts and times every request; logs it without bodies, addresses or agents.
async fn observe(State(portal): State<Arc<Portal>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| route_name(p.as_str()))
        .unwrap_or("unmatched");
    let method = request.method().clone();
    let started = Instant::now();
    let mut response = next.run(request).await;
    ui::security_headers(response.headers_mut(), portal.settings.secure_cookies);
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    portal.metrics.requests.get_or_create(&RequestLabels { route, status }).inc();
    portal.metrics.latency.get_or_create(&RouteLabel { route }).observe(elapsed.as_secs_f64());
    tracing::debug!(%method, route, status, micros = elapsed.as_micros() as u64, "request");
    response
}

/// A static name for a matched route (metrics labels must not grow with input).
fn route_name(path: &str) -> &'static str {
    ROUTES.iter().find(|r| **r == path).copied().unwrap_or("other")
}

async fn healthz() -> impl IntoResponse {
    axum::Json(json!({ "status": "ok" }))
}

async fn readyz(State(portal): State<Arc<Portal>>) -> Response {
    let mut missing = portal.missing();
    if let Err(e) = portal.database_answers().await {
        missing.push(format!("database: {e}"));
    }
    let ready = missing.is_empty();
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = json!({
        "ready": ready,
        "missing": missing,
        "receipt_key_id": portal.receipt_key.key_id().to_string(),
        // Reported, not a reason to stop serving hubs: pings never touch the ledger.
        "ledger": match portal.ledger_refused() {
            Some(why) => json!({ "signing": false, "refused": why }),
            None => json!({ "signing": true }),
        },
        // Each tlog witness and why it did not cosign the last checkpoint, if it did not.
        "ledger_witnesses": portal.ledger_witness_failures().into_iter().map(|(url, failing)| {
            match failing {
                Some(why) => json!({ "url": url, "cosigning": false, "failure": why }),
                None => json!({ "url": url, "cosigning": true }),
            }
        }).collect::<Vec<_>>(),
    });
    (status, axum::Json(body)).into_response()
}

async fn metrics(State(portal): State<Arc<Portal>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        portal.metrics.render(),
    )
        .into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn delegation(State(portal): State<Arc<Portal>>) -> Result<Response, ApiError> {
    let text = portal
        .delegation_text()
        .ok_or_else(|| ApiError::not_found("no_delegation", "this portal has no delegation yet"))?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text.to_owned()).into_response())
}

async fn not_found() -> ApiError {
    ApiError::not_found("no_such_route", "no such endpoint; see /openapi.json")
}

async fn method_not_allowed() -> Response {
    let body = tessera_core::wire::ErrorBody::new(
        "method_not_allowed",
        "method not allowed on this endpoint",
    );
    (StatusCode::METHOD_NOT_ALLOWED, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_names_are_the_routes() {
        assert_eq!(route_name("/v1/ping"), "/v1/ping");
        assert_eq!(route_name("/v1/admin/licenses/{id}/revoke"), "/v1/admin/licenses/{id}/revoke");
        assert_eq!(route_name("/anything/else"), "other");
    }
}
