//! Registering licenses: one, or a batch in one transaction (the work is
//! [`crate::domain::registration`]'s).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::app::Portal;
use crate::domain::apikeys::Scope;
use crate::domain::authorization::{Operation, Resource};
use crate::domain::licenses::Registered;
use crate::domain::registration::{self, MAX_BATCH, RegistrationError};
use crate::http::error::ApiError;
use crate::http::extract::{AdminKey, ApiJson};

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
    vendor_only(&key)?;
    let registered = registration::register_one(
        portal.records(),
        portal.trust.as_ref(),
        &key.actor(),
        &request.license,
        portal.now(),
    )
    .await
    .map_err(not_registered)?;
    let (row, status, registered) =
        registered.map_err(|refused| ApiError::unprocessable(refused.code, refused.problem))?;
    let new = registered == Registered::New;
    let code = if new {
        tracing::info!(license = %row.id, org = %row.org, by = %key.id, "license registered");
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let body = json!({ "id": row.id, "registered": new, "status": status });
    Ok((code, Json(body)).into_response())
}

/// Registering is the vendor's: an organization's key is refused.
fn vendor_only(key: &AdminKey) -> Result<(), ApiError> {
    key.may(Operation::RegisterLicenses, Resource::Portal, || ApiError::VendorOnly)
}

/// Why nothing was registered, as the API answers it.
pub(crate) fn not_registered(e: RegistrationError) -> ApiError {
    match e {
        RegistrationError::NoTrustSet => ApiError::NotReady { missing: e.to_string() },
        RegistrationError::Store(e) => e.into(),
        other => ApiError::Internal(other.to_string()),
    }
}

/// `POST /v1/admin/licenses/batch` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// Armored license files.
    pub licenses: Vec<String>,
}

/// `POST /v1/admin/licenses/batch`: many licenses in one call and one transaction. Each is
/// verified; the answer says for each, in order, `registered` (new), `already` (there
/// before) or `refused` with its status word and why.
pub async fn register_batch(
    key: AdminKey,
    State(portal): State<Arc<Portal>>,
    ApiJson(request): ApiJson<BatchRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    key.require(Scope::Write)?;
    vendor_only(&key)?;
    if request.licenses.is_empty() || request.licenses.len() > MAX_BATCH {
        return Err(ApiError::bad_request(
            "invalid_fields",
            format!("licenses: give 1 to {MAX_BATCH} licenses ({} given)", request.licenses.len()),
        ));
    }
    let (trust, now) = (portal.trust.as_ref(), portal.now());
    let outcomes =
        registration::register_many(portal.records(), trust, &key.actor(), request.licenses, now)
            .await
            .map_err(not_registered)?;
    let new = outcomes.iter().filter(|o| o.outcome == "registered").count();
    let results: Vec<serde_json::Value> = outcomes
        .iter()
        .map(|o| match &o.id {
            Some(id) => json!({ "id": id, "outcome": o.outcome, "status": o.status }),
            None => json!({ "outcome": o.outcome, "status": o.status, "problem": o.problem }),
        })
        .collect();
    tracing::info!(licenses = results.len(), new, by = %key.id, "license batch registered");
    Ok(Json(json!({ "results": results })))
}
