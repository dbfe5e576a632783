//! The hub's local HTTP API for its runners: the bundle they check offline, and runner
//! slots (leases) up to the license's runner limit. Authenticated with enrollment tokens
//! made by `tessera-hub runner-token`.
//!
//! `GET /v1/bundle`, `POST /v1/lease {"runner": NAME}`, `DELETE /v1/lease/{runner}`,
//! `GET /healthz`. Errors are `{"error": {"code", "message"}}` like the portal's.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use tessera_core::Status;

use crate::agent::{Bundle, Hub, HubError, LeaseError, LeaseGrant};

/// Largest request body: a lease request is a runner name.
const MAX_BODY: usize = 16 * 1024;

/// Shared by the runner API's handlers.
pub struct RunnerApi {
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
        match e {
            LeaseError::LimitExceeded { .. } => ApiError::new(
                StatusCode::CONFLICT,
                Status::RunnerLimitExceeded.as_str(),
                e.to_string(),
            ),
            LeaseError::NotRunnable(status) => {
                ApiError::new(StatusCode::FORBIDDEN, status.as_str(), e.to_string())
            }
            LeaseError::BadName => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_runner", e.to_string())
            }
            LeaseError::Hub(e) => e.into(),
        }
    }
}

/// The router, with its state.
pub fn router(api: Arc<RunnerApi>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/v1/bundle", get(bundle))
        .route("/v1/lease", post(lease))
        .route("/v1/lease/{runner}", delete(release))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "no_such_route", "no such route")
        })
        .with_state(api)
}

/// Checks the `Authorization: Bearer trt_…` header.
async fn authorize(api: &Arc<RunnerApi>, headers: &HeaderMap) -> Result<(), ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing_token",
                "Authorization: Bearer <runner token> is required",
            )
        })?
        .to_owned();
    let hub = api.hub.clone();
    let ok = blocking(move || hub.runner_token_ok(&token)).await??;
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", "unknown runner token"))
    }
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

async fn bundle(
    State(api): State<Arc<RunnerApi>>,
    headers: HeaderMap,
) -> Result<Json<Bundle>, ApiError> {
    authorize(&api, &headers).await?;
    let hub = api.hub.clone();
    Ok(Json(blocking(move || hub.bundle()).await??))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LeaseRequest {
    runner: String,
}

/// The runner name from a `POST /v1/lease` body (`{"runner": NAME}`), strictly.
pub fn lease_request(body: &[u8]) -> Result<String, String> {
    serde_json::from_slice::<LeaseRequest>(body)
        .map(|r| r.runner)
        .map_err(|e| format!("expected {{\"runner\": NAME}}: {e}"))
}

async fn lease(
    State(api): State<Arc<RunnerApi>>,
    headers: HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<LeaseGrant>, ApiError> {
    authorize(&api, &headers).await?;
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
    let runner = lease_request(&body)
        .map_err(|message| ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", message))?;
    let hub = api.hub.clone();
    let ttl = api.lease_ttl;
    let grant = blocking(move || hub.lease(&runner, ttl)).await??;
    Ok(Json(grant))
}

async fn release(
    State(api): State<Arc<RunnerApi>>,
    headers: HeaderMap,
    Path(runner): Path<String>,
) -> Result<StatusCode, ApiError> {
    authorize(&api, &headers).await?;
    let hub = api.hub.clone();
    let released = blocking(move || hub.release(&runner)).await??;
    Ok(if released { StatusCode::NO_CONTENT } else { StatusCode::NOT_FOUND })
}
