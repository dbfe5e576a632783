//! The hub's local HTTP API for its runners: runner slots (leases) up to the license's
//! runner limit, each answered with the bundle runners check offline. Every call is signed
//! by the runner's own key ([`crate::slots`]); a runner key the hub does not know yet must
//! come with an unused runner token (`Authorization: Bearer trt_…`, made by `tessera-hub
//! runner-token`), which it uses up.
//!
//! `POST /v1/lease {"call": RUNNER CALL}` → `{"bundle", "lease"}`, `POST /v1/release
//! {"call": RUNNER CALL}` → 204, `GET /healthz`. Errors are `{"error": {"code", "message"}}`
//! like the portal's.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use tessera_core::Status;

use crate::agent::{Hub, HubError};
use crate::slots::{Authority, LeaseAnswer, LeaseError};

/// Largest request body: a runner call is well under 2 KiB.
const MAX_BODY: usize = 16 * 1024;

/// Shared by the runner API's handlers.
pub struct RunnerApi {
    /// The hub the runner API answers for.
    pub hub: Arc<Hub>,
    /// How long a lease lasts unless renewed.
    pub lease_ttl: Duration,
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    http: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(http: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { http, code, message: message.into() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = tessera_core::wire::ErrorBody::new(self.code, self.message);
        (self.http, Json(body)).into_response()
    }
}

impl From<HubError> for ApiError {
    fn from(e: HubError) -> Self {
        match e.status() {
            Some(Status::NoLicense) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "no_license", e.to_string())
            }
            _ => {
                // The cause goes to the hub's log, not to the runner.
                tracing::error!(error = %e, "runner API");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "hub error; see its log",
                )
            }
        }
    }
}

impl From<LeaseError> for ApiError {
    fn from(e: LeaseError) -> Self {
        let e = match e {
            LeaseError::Hub(hub) => return hub.into(),
            other => other,
        };
        let (http, code) = match &e {
            LeaseError::LimitExceeded { .. } => {
                (StatusCode::CONFLICT, Status::RunnerLimitExceeded.as_str())
            }
            LeaseError::NotRunnable(status) | LeaseError::LocalRefusal(status) => {
                (StatusCode::FORBIDDEN, status.as_str())
            }
            LeaseError::BadCall(_) => (StatusCode::BAD_REQUEST, "malformed_call"),
            LeaseError::BadLabel => (StatusCode::BAD_REQUEST, "invalid_runner"),
            LeaseError::NotEnrolled => (StatusCode::UNAUTHORIZED, "not_enrolled"),
            LeaseError::BadToken => (StatusCode::UNAUTHORIZED, "invalid_token"),
            LeaseError::Stale => (StatusCode::CONFLICT, "stale_call"),
            LeaseError::Cloned | LeaseError::OtherMachine { .. } => {
                (StatusCode::CONFLICT, Status::Cloned.as_str())
            }
            LeaseError::UnknownRunner(_) => (StatusCode::NOT_FOUND, "unknown_runner"),
            LeaseError::Leased { .. } => (StatusCode::CONFLICT, "leased"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        ApiError::new(http, code, e.to_string())
    }
}

/// The router, with its state.
pub fn router(api: Arc<RunnerApi>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/v1/lease", post(lease))
        .route("/v1/release", post(release))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "no_such_route", "no such route")
        })
        .with_state(api)
}

/// The runner token of an `Authorization: Bearer trt_…` header, if one came.
fn presented_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned())
}

/// The hub's operations touch files under a lock: off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        tracing::error!(error = %e, "runner API task");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "hub error; see its log")
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CallBody {
    call: String,
}

/// The armored runner call of a `{"call": "…"}` body, strictly.
pub fn call_body(body: &[u8]) -> Result<String, String> {
    serde_json::from_slice::<CallBody>(body)
        .map(|b| b.call)
        .map_err(|e| format!("expected {{\"call\": RUNNER CALL}}: {e}"))
}

/// The call of a JSON request, or the error to answer.
fn read_call(
    headers: &HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<String, ApiError> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|t| t.trim() == "application/json"));
    if !json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send Content-Type: application/json",
        ));
    }
    let body = body.map_err(|e| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body is over {MAX_BODY} bytes or unreadable: {e}"),
        )
    })?;
    call_body(&body)
        .map_err(|message| ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", message))
}

async fn lease(
    State(api): State<Arc<RunnerApi>>,
    headers: HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<LeaseAnswer>, ApiError> {
    let call = read_call(&headers, body)?;
    let token = presented_token(&headers);
    let hub = api.hub.clone();
    let ttl = api.lease_ttl;
    let answer =
        blocking(move || hub.runner_call(call.as_bytes(), Authority::Token(token.as_deref()), ttl))
            .await??;
    Ok(Json(api.hub.countersigned(answer).await))
}

async fn release(
    State(api): State<Arc<RunnerApi>>,
    headers: HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let call = read_call(&headers, body)?;
    let hub = api.hub.clone();
    let ttl = api.lease_ttl;
    blocking(move || hub.runner_call(call.as_bytes(), Authority::Token(None), ttl)).await??;
    Ok(StatusCode::NO_CONTENT)
}
