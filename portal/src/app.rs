//! The portal as a running thing: its state, its routes, readiness, and serving.

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
use tessera_core::UnixTime;
use tessera_core::delegation::Delegation;
use tessera_core::fsutil::{WriteOptions, read_capped, write_atomic};
use tessera_core::keyfile::{self, KeyFile, MAX_KEY_FILE_LEN};
use tessera_core::keys::SigningKey;
use tessera_core::time::Clock;
use tessera_core::trust::{MAX_TRUST_FILE_LEN, TrustSet};

use crate::config::Settings;
use crate::error::ApiError;
use crate::limits::RateLimits;
use crate::metrics::{Metrics, RequestLabels, RouteLabel};
use crate::pings::PingPath;
use crate::store::{Store, StoreError};
use crate::{admin, hub};

/// File names in the data directory.
pub const RECEIPT_KEY_FILE: &str = "receipt.key";
pub const RECEIPT_PUB_FILE: &str = "receipt.pub";

/// The OpenAPI document, served at `/openapi.json`.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// Why the portal could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error("receipt key {path}: {message}")]
    ReceiptKey { path: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The delegation the portal serves, as loaded at start.
struct LoadedDelegation {
    text: String,
    delegation: Delegation,
}

/// Everything a request handler needs.
pub struct Portal {
    pub store: Store,
    pub settings: Settings,
    pub clock: Arc<dyn Clock>,
    pub receipt_key: SigningKey,
    pub trust: Option<TrustSet>,
    delegation: Option<LoadedDelegation>,
    /// What was wrong with the configuration at start (missing trust set, bad delegation).
    setup_problems: Vec<String>,
    pub limits: RateLimits,
    pub metrics: Metrics,
    pub pings: PingPath,
}

/// Loads the receipt key from the data directory, making one on first start.
pub fn load_or_create_receipt_key(data_dir: &Path) -> Result<SigningKey, StartError> {
    let path = data_dir.join(RECEIPT_KEY_FILE);
    let fail =
        |message: String| StartError::ReceiptKey { path: path.display().to_string(), message };
    if path.exists() {
        let bytes = read_capped(&path, MAX_KEY_FILE_LEN).map_err(|e| fail(e.to_string()))?;
        return match KeyFile::parse(&bytes).map_err(|e| fail(e.to_string()))? {
            KeyFile::Plain(key) => Ok(*key),
            KeyFile::Encrypted(_) => Err(fail(
                "is encrypted; the portal needs a plain key it can load unattended".into(),
            )),
        };
    }
    // Unattended service: the key is plain, protected by mode 0600 and the data directory.
    let key = SigningKey::generate().map_err(|e| fail(e.to_string()))?;
    write_atomic(&path, keyfile::plain(&key).as_bytes(), WriteOptions::SECRET_NEW)
        .map_err(|e| fail(e.to_string()))?;
    let public = data_dir.join(RECEIPT_PUB_FILE);
    write_atomic(&public, keyfile::public(&key).as_bytes(), WriteOptions::SECRET_REPLACE)
        .map_err(|e| fail(e.to_string()))?;
    tracing::info!(key_id = %key.key_id(), path = %path.display(), "made a new receipt key");
    Ok(key)
}

fn load_trust(paths: &[std::path::PathBuf], problems: &mut Vec<String>) -> Option<TrustSet> {
    if paths.is_empty() {
        problems.push(
            "no trust set: give --trust VENDOR.pub (the vendor's public signing keys)".to_owned(),
        );
        return None;
    }
    let mut trust = TrustSet::new();
    for path in paths {
        let loaded = read_capped(path, MAX_TRUST_FILE_LEN)
            .map_err(|e| e.to_string())
            .and_then(|bytes| TrustSet::parse(&bytes).map_err(|e| e.to_string()))
            .and_then(|set| trust.extend(set).map_err(|e| e.to_string()));
        if let Err(e) = loaded {
            problems.push(format!("trust file {}: {e}", path.display()));
            return None;
        }
    }
    Some(trust)
}

fn load_delegation(
    path: Option<&Path>,
    trust: Option<&TrustSet>,
    receipt_key: &SigningKey,
    now: UnixTime,
    data_dir: &Path,
    problems: &mut Vec<String>,
) -> Option<LoadedDelegation> {
    let how = format!(
        "make one with `tessera delegate --key VENDOR/signing.key --portal-key {} --out delegation.txt` and give --delegation delegation.txt",
        data_dir.join(RECEIPT_PUB_FILE).display()
    );
    let Some(path) = path else {
        problems.push(format!("no delegation of the receipt key {}: {how}", receipt_key.key_id()));
        return None;
    };
    let trust = trust?;
    let loaded = read_capped(path, tessera_core::armor::MAX_ARMORED_LEN)
        .map_err(|e| e.to_string())
        .and_then(|bytes| {
            let text = String::from_utf8(bytes).map_err(|_| "not text".to_owned())?;
            let delegation =
                Delegation::verify(text.as_bytes(), trust, now).map_err(|e| e.to_string())?;
            Ok(LoadedDelegation { text, delegation })
        });
    match loaded {
        Err(e) => {
            problems.push(format!("delegation {}: {e}", path.display()));
            None
        }
        Ok(loaded) if loaded.delegation.claims.portal_key != *receipt_key.public_key() => {
            problems.push(format!(
                "delegation {} certifies key {}, not this portal's receipt key {}: {how}",
                path.display(),
                loaded.delegation.claims.portal_key.key_id(),
                receipt_key.key_id()
            ));
            None
        }
        Ok(loaded) => Some(loaded),
    }
}

impl Portal {
    /// Opens the store, loads or makes the receipt key, loads the trust set and delegation
    /// (noting what is missing rather than failing), and starts the ping writer.
    pub async fn start(
        settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Portal>, StartError> {
        std::fs::create_dir_all(&settings.data_dir).map_err(|source| StartError::DataDir {
            path: settings.data_dir.display().to_string(),
            source,
        })?;
        let store = Store::open(&settings.database_url).await?;
        let receipt_key = load_or_create_receipt_key(&settings.data_dir)?;
        let mut problems = Vec::new();
        let trust = load_trust(&settings.trust, &mut problems);
        let delegation = load_delegation(
            settings.delegation.as_deref(),
            trust.as_ref(),
            &receipt_key,
            clock.now(),
            &settings.data_dir,
            &mut problems,
        );
        for problem in &problems {
            tracing::warn!(%problem, "hubs cannot be served until this is fixed");
        }
        let metrics = Metrics::default();
        let pings = PingPath::start(store.clone(), metrics.ping_batches.clone())?;
        Ok(Arc::new(Portal {
            limits: RateLimits::new(settings.limits),
            store,
            settings,
            clock,
            receipt_key,
            trust,
            delegation,
            setup_problems: problems,
            metrics,
            pings,
        }))
    }

    pub fn now(&self) -> UnixTime {
        self.clock.now()
    }

    /// What is still missing before hubs can be served; empty when ready.
    pub fn missing(&self) -> Vec<String> {
        let mut missing = self.setup_problems.clone();
        if let Some(loaded) = &self.delegation
            && let Err(e) = loaded.delegation.check_window(self.now())
        {
            missing.push(format!("delegation: {e}"));
        }
        missing
    }

    /// The trust set and delegation, or 503 saying what is missing.
    pub fn hub_ready(&self) -> Result<(&TrustSet, &str), ApiError> {
        let missing = self.missing();
        match (&self.trust, &self.delegation) {
            (Some(trust), Some(loaded)) if missing.is_empty() => Ok((trust, &loaded.text)),
            _ => Err(ApiError::NotReady { missing: missing.join("; ") }),
        }
    }

    /// The delegation's armored text, if one is loaded.
    pub fn delegation_text(&self) -> Option<&str> {
        self.delegation.as_ref().map(|d| d.text.as_str())
    }

    /// Every route.
    pub fn router(self: &Arc<Self>) -> Router {
        let limit = self.settings.max_body_bytes;
        Router::new()
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz))
            .route("/metrics", get(metrics))
            .route("/openapi.json", get(openapi))
            .route("/v1/delegation", get(delegation))
            .route("/v1/activate", post(hub::activate))
            .route("/v1/ping", post(hub::ping))
            .route("/v1/admin/licenses", post(admin::register).get(admin::list))
            .route("/v1/admin/licenses/{id}", get(admin::show))
            .route("/v1/admin/licenses/{id}/suspend", post(admin::suspend))
            .route("/v1/admin/licenses/{id}/reinstate", post(admin::reinstate))
            .route("/v1/admin/licenses/{id}/revoke", post(admin::revoke))
            .route("/v1/admin/licenses/{id}/reset-binding", post(admin::reset_binding))
            .route("/v1/admin/usage", get(admin::usage))
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(middleware::from_fn_with_state(self.clone(), observe))
            .layer(DefaultBodyLimit::max(limit))
            .with_state(self.clone())
    }

    /// Runs the rollup now and counts it.
    pub async fn rollup(&self) -> Result<crate::store::RollupReport, StoreError> {
        let report = self.store.rollup(self.now()).await?;
        self.metrics.rollups.inc();
        self.metrics.rolled_days.inc_by(report.days_rolled);
        Ok(report)
    }
}

/// Serves `portal` over plain HTTP on `listener` until `shutdown` completes, then drains
/// in-flight requests and writes the queued pings. The rollup runs meanwhile.
pub async fn serve(
    portal: Arc<Portal>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let scheduler = tokio::spawn(run_schedule(portal.clone()));
    // No Nagle delay: a response is one write, and a hub waits for it.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let result = axum::serve(listener, portal.router()).with_graceful_shutdown(shutdown).await;
    scheduler.abort();
    portal.pings.close().await;
    result
}

/// Like [`serve`], over HTTPS with the PEM certificate chain and key given (rustls).
pub async fn serve_tls(
    portal: Arc<Portal>,
    listener: std::net::TcpListener,
    cert: &Path,
    key: &Path,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The ring provider: no C toolchain needed. Installing twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config =
        axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key).await.map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("TLS certificate {} / key {}: {e}", cert.display(), key.display()),
            )
        })?;
    listener.set_nonblocking(true)?;
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopper.graceful_shutdown(Some(Duration::from_secs(30)));
    });
    let scheduler = tokio::spawn(run_schedule(portal.clone()));
    let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(config)
        .acceptor(axum_server::accept::NoDelayAcceptor::new());
    let result = axum_server::from_tcp(listener)?
        .acceptor(acceptor)
        .handle(handle)
        .serve(portal.router().into_make_service())
        .await;
    scheduler.abort();
    portal.pings.close().await;
    result
}

/// The periodic jobs: the rollup and forgetting idle rate-limit keys.
async fn run_schedule(portal: Arc<Portal>) {
    let mut every = tokio::time::interval(Duration::from_secs(portal.settings.rollup_every_secs));
    loop {
        every.tick().await;
        match portal.rollup().await {
            Ok(report) if report.days_rolled > 0 => {
                tracing::info!(days = report.days_rolled, pings = report.pings_moved, "rolled up");
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "rollup failed"),
        }
        portal.limits.shrink();
    }
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
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    portal.metrics.requests.get_or_create(&RequestLabels { route, status }).inc();
    portal.metrics.latency.get_or_create(&RouteLabel { route }).observe(elapsed.as_secs_f64());
    tracing::debug!(%method, route, status, micros = elapsed.as_micros() as u64, "request");
    response
}

/// A static name for a matched route (metrics labels must not grow with input).
fn route_name(path: &str) -> &'static str {
    const ROUTES: &[&str] = &[
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/v1/delegation",
        "/v1/activate",
        "/v1/ping",
        "/v1/admin/licenses",
        "/v1/admin/licenses/{id}",
        "/v1/admin/licenses/{id}/suspend",
        "/v1/admin/licenses/{id}/reinstate",
        "/v1/admin/licenses/{id}/revoke",
        "/v1/admin/licenses/{id}/reset-binding",
        "/v1/admin/usage",
    ];
    ROUTES.iter().find(|r| **r == path).copied().unwrap_or("other")
}

async fn healthz() -> impl IntoResponse {
    axum::Json(json!({ "status": "ok" }))
}

async fn readyz(State(portal): State<Arc<Portal>>) -> Response {
    let mut missing = portal.missing();
    if let Err(e) = portal.store.ping_database().await {
        missing.push(format!("database: {e}"));
    }
    let ready = missing.is_empty();
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = json!({
        "ready": ready,
        "missing": missing,
        "receipt_key_id": portal.receipt_key.key_id().to_string(),
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
