//! The admin API, for vendor staff and their tools: register licenses, look at them, change
//! their state, export usage. Every call carries an API key (`Authorization: Bearer tsk_…`).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tessera_core::license::{Expectations, LicenseFile};

use super::error::ApiError;
use super::extract::{AdminKey, ApiJson};
use crate::app::Portal;
use crate::domain::apikeys::Scope;
use crate::domain::standing::license_status;
use crate::store::{LicenseRow, LicenseState, Registered};

/// `POST /v1/admin/licenses` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// The armored license file.
    pub license: String,
}

/// `POST /v1/admin/licenses`: verify a license against the trust set and store its terms
/// and the SHA-256 of its key. Registering the same license again changes nothing.
pub async fn register(
    key: AdminKey,
    State(portal): State<Arc<Portal>>,
    ApiJson(request): ApiJson<RegisterRequest>,
) -> Result<Response, ApiError> {
    key.require(Scope::Write)?;
    let trust = portal.trust.as_ref().ok_or_else(|| ApiError::NotReady {
        missing: "no trust set: the portal cannot check licenses".to_owned(),
    })?;
    let now = portal.now();
    let verdict = LicenseFile::parse(request.license.as_bytes())
        .map(|file| file.verify(trust, now, &Expectations::default()));
    let verdict = match verdict {
        Ok(verdict) => verdict,
        Err(e) => {
            return Err(ApiError::unprocessable("malformed", format!("malformed license: {e}")));
        }
    };
    let Some(claims) = verdict.claims() else {
        let status = verdict.status();
        let problem = verdict.problem().map(ToString::to_string).unwrap_or_default();
        return Err(ApiError::unprocessable(status.as_str(), problem));
    };
    let row = LicenseRow {
        id: claims.id.to_string(),
        key_sha256: hex::encode(claims.key.digest()),
        org: claims.org.to_string(),
        product: claims.product.to_string(),
        runners: i64::from(claims.runners),
        not_before: claims.not_before.as_unix(),
        expires_at: claims.expires_at.as_unix(),
        terminates_at: claims.terminates_at.map(|t| t.as_unix()),
        grace_period_secs: i64::from(claims.grace_period_secs),
        ping_interval_secs: i64::from(claims.ping_interval_secs),
        state: LicenseState::Active,
        registered_at: now.as_unix(),
        status_changed_at: now.as_unix(),
    };
    let registered = portal.store.register_license(&row).await?;
    let code = match registered {
        Registered::New => {
            tracing::info!(license = %row.id, org = %row.org, by = %key.id, "license registered");
            StatusCode::CREATED
        }
        Registered::AlreadyThere => StatusCode::OK,
    };
    let body = json!({
        "id": row.id,
        "registered": registered == Registered::New,
        "status": verdict.status(),
    });
    Ok((code, Json(body)).into_response())
}

/// A license as the admin API shows it.
#[derive(Debug, Serialize)]
pub struct LicenseView {
    #[serde(flatten)]
    license: LicenseRow,
    /// What a ping would answer now.
    status: tessera_core::Status,
    activated: bool,
    last_ping_at: Option<i64>,
}

/// `GET /v1/admin/licenses`.
pub async fn list(
    key: AdminKey,
    State(portal): State<Arc<Portal>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    key.require(Scope::Read)?;
    let now = portal.now();
    let licenses: Vec<LicenseView> = portal
        .store
        .list_licenses()
        .await?
        .into_iter()
        .map(|s| LicenseView {
            status: license_status(&s.license, now),
            license: s.license,
            activated: s.activated,
            last_ping_at: s.last_ping_at,
        })
        .collect();
    Ok(Json(json!({ "licenses": licenses })))
}

async fn existing(portal: &Portal, id: &str) -> Result<LicenseRow, ApiError> {
    portal.store.license(id).await?.ok_or_else(|| {
        ApiError::not_found("unknown_license", format!("no license {id:?} is registered"))
    })
}

/// `GET /v1/admin/licenses/{id}`: the license, its activation and its monthly pings.
pub async fn show(
    key: AdminKey,
    State(portal): State<Arc<Portal>>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    key.require(Scope::Read)?;
    let license = existing(&portal, &id).await?;
    let activation = portal.store.activation(&id).await?;
    let usage = portal.store.monthly_usage(Some(&id)).await?;
    let activation = activation.map(|a| {
        let components =
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&a.fingerprint)
                .map(|m| m.len())
                .unwrap_or(0);
        let hub_key_id = a
            .hub_key
            .parse::<tessera_core::keys::PublicKey>()
            .map(|k| k.key_id().to_string())
            .unwrap_or_default();
        json!({
            "activated_at": a.activated_at,
            "last_ping_at": a.last_ping_at,
            "hub_key_id": hub_key_id,
            "fingerprint_components": components,
            "fingerprint_version": a.fingerprint_version,
            "rebinds": a.rebinds,
            "rebound_at": a.rebound_at,
            // When a copy of the bound hub was last refused: a cloned VM, a restored backup.
            "cloned_at": a.cloned_at,
        })
    });
    let monthly: Vec<_> =
        usage.iter().map(|u| json!({ "month": u.month, "pings": u.pings })).collect();
    Ok(Json(json!({
        "license": license,
        "status": license_status(&license, portal.now()),
        "activation": activation,
        "monthly_pings": monthly,
    })))
}

async fn change_state(
    portal: &Portal,
    key: &AdminKey,
    id: &str,
    to: LicenseState,
) -> Result<Json<serde_json::Value>, ApiError> {
    let license = existing(portal, id).await?;
    if license.state == LicenseState::Revoked && to != LicenseState::Revoked {
        return Err(ApiError::conflict("revoked", "a revoked license stays revoked"));
    }
    portal.store.set_state(id, to, portal.now()).await?;
    tracing::info!(license = %id, state = to.as_str(), by = %key.id, "license state changed");
    Ok(Json(json!({ "id": id, "state": to })))
}

/// `POST /v1/admin/licenses/{id}/suspend`.
pub async fn suspend(
    key: AdminKey,
    State(portal): State<Arc<Portal>>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    key.require(Scope::Write)?;
    change_state(&portal, &key, &id, LicenseState::Suspended).await
}

/// `POST /v1/admin/licenses/{id}/reinstate`.
pub async fn reinstate(
    key: AdminKey,
    State(portal): State<Arc<Portal>>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    key.require(Scope::Write)?;
    change_state(&portal, &key, &id, LicenseState::Active).await
}

/// `POST /v1/admin/licenses/{id}/revoke`: final.
pub async fn revoke(
    key: AdminKey,
    State(portal): State<Arc<Portal>>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    key.require(Scope::Revoke)?;
    change_state(&portal, &key, &id, LicenseState::Revoked).await
}

/// `POST /v1/admin/licenses/{id}/reset-binding`: the next activation may come from a new host.
pub async fn reset_binding(
    key: AdminKey,
    State(portal): State<Arc<Portal>>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    key.require(Scope::Write)?;
    existing(&portal, &id).await?;
    let reset = portal.store.reset_binding(&id).await?;
    tracing::info!(license = %id, reset, by = %key.id, "binding reset");
    Ok(Json(json!({ "id": id, "reset": reset })))
}

/// `GET /v1/admin/usage?format=json|csv` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    #[serde(default)]
    pub format: Option<String>,
}

/// `GET /v1/admin/usage`: pings per license and month.
pub async fn usage(
    key: AdminKey,
    State(portal): State<Arc<Portal>>,
    query: Result<Query<UsageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    key.require(Scope::Read)?;
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let usage = portal.store.monthly_usage(None).await?;
    match query.format.as_deref().unwrap_or("json") {
        "json" => Ok(Json(json!({ "usage": usage })).into_response()),
        "csv" => {
            let mut out = csv::Writer::from_writer(Vec::new());
            for row in &usage {
                out.serialize(row).map_err(|e| ApiError::Internal(e.to_string()))?;
            }
            let bytes = out.into_inner().map_err(|e| ApiError::Internal(e.to_string()))?;
            Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], bytes).into_response())
        }
        other => Err(ApiError::bad_request(
            "invalid_query",
            format!("format {other:?}: use json or csv"),
        )),
    }
}
