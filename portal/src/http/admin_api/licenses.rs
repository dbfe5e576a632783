//! Looking at licenses: the list, one license, a lookup by key or id, and the
//! organizations that hold licenses.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tessera_core::UnixTime;
use tessera_core::license::LicenseKey;

use super::query::{ListQuery, page_size};
use crate::app::Portal;
use crate::domain::apikeys::Scope;
use crate::domain::authorization::Operation;
use crate::domain::licenses::{self, LicenseRow, LicenseSummary};
use crate::domain::standing::license_status;
use crate::http::error::ApiError;
use crate::http::extract::{AdminKey, ApiJson};

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

fn view(summary: LicenseSummary, now: UnixTime) -> LicenseView {
    LicenseView {
        status: license_status(&summary.license, now),
        license: summary.license,
        activated: summary.activated,
        last_ping_at: summary.last_ping_at,
    }
}

/// `GET /v1/admin/licenses`: a page of licenses in license id order, filtered; `next` is
/// the cursor of the following page (`after=`), absent on the last.
pub async fn list(
    key: AdminKey,
    State(portal): State<Arc<Portal>>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    key.require(Scope::Read)?;
    let query = ListQuery::parse(query)?;
    if query.format.is_some() {
        return Err(ApiError::bad_request("invalid_query", "format is for /v1/admin/usage"));
    }
    let limit = page_size(query.limit)?;
    // A cursor is a license id: anything else (control characters included, which
    // PostgreSQL refuses in text) is not one of ours.
    let not_a_cursor =
        |a: &String| a.len() > 64 || !a.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    if query.after.as_ref().is_some_and(not_a_cursor) {
        return Err(ApiError::bad_request("invalid_query", "after: not a cursor of this API"));
    }
    let now = portal.now();
    let mut filter = query.filter()?;
    key.limit(&mut filter);
    let mut page =
        licenses::page(portal.records(), &filter, query.after.as_deref(), limit + 1, now).await?;
    let more = page.len() > limit as usize;
    page.truncate(limit as usize);
    let next = if more { page.last().map(|s| s.license.id.clone()) } else { None };
    let licenses: Vec<LicenseView> = page.into_iter().map(|s| view(s, now)).collect();
    Ok(Json(json!({ "licenses": licenses, "next": next })))
}

/// The query of `GET /v1/admin/organizations`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganizationsQuery {
    /// Organizations per page: default 100, at most 1000.
    limit: Option<u32>,
    /// The `next` cursor of the previous page.
    after: Option<String>,
}

/// `GET /v1/admin/organizations`: a page of the organizations that hold licenses, in name
/// order, each with its number of licenses; `next` as for licenses.
pub async fn organizations(
    key: AdminKey,
    State(portal): State<Arc<Portal>>,
    query: Result<Query<OrganizationsQuery>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    key.require(Scope::Read)?;
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let limit = page_size(query.limit)?;
    // An organization's name is at most 200 characters (docs/FORMAT.md), of up to 4 bytes.
    // Control characters are in no organization's name (and PostgreSQL refuses NUL in text).
    if query.after.as_ref().is_some_and(|a| a.len() > 800 || a.chars().any(char::is_control)) {
        return Err(ApiError::bad_request("invalid_query", "after: not a cursor of this API"));
    }
    // An organization's key sees its own organization only.
    let (page, next) = licenses::organizations_page(
        portal.records(),
        &key.caller(),
        query.after.as_deref(),
        limit,
    )
    .await?;
    let organizations: Vec<serde_json::Value> = page
        .into_iter()
        .map(|(org, licenses)| json!({ "org": org, "licenses": licenses }))
        .collect();
    Ok(Json(json!({ "organizations": organizations, "next": next })))
}

/// `POST /v1/admin/licenses/lookup` body: a license key (in a body, never a URL, so that it
/// stays out of proxies' logs; the portal hashes it) or a license id. No `Debug`: it holds
/// a secret.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupRequest {
    license_key: Option<String>,
    id: Option<String>,
}

/// `POST /v1/admin/licenses/lookup`: the license a key or an id names.
pub async fn lookup(
    key: AdminKey,
    State(portal): State<Arc<Portal>>,
    ApiJson(request): ApiJson<LookupRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    key.require(Scope::Read)?;
    let row = match (&request.license_key, &request.id) {
        (Some(text), None) => {
            let license_key = LicenseKey::parse_lenient(text).map_err(|e| {
                ApiError::bad_request("invalid_fields", format!("license_key: {e}"))
            })?;
            licenses::by_key(portal.records(), &license_key).await?
        }
        (None, Some(id)) => licenses::by_id(portal.records(), id).await?,
        _ => {
            return Err(ApiError::bad_request(
                "invalid_fields",
                "give exactly one of license_key and id",
            ));
        }
    };
    let unknown =
        || ApiError::not_found("unknown_license", "no registered license has that key or id");
    let license = row.ok_or_else(unknown)?;
    let found = licenses::find(portal.records(), &license.id).await?;
    key.may(Operation::SeeLicense, licenses::facts(found.as_ref()), unknown)?;
    let activation = licenses::activation(portal.records(), &license.id).await?;
    let summary = LicenseSummary {
        activated: activation.is_some(),
        last_ping_at: activation.and_then(|a| a.last_ping_at),
        license,
    };
    Ok(Json(json!({ "license": view(summary, portal.now()) })))
}

/// A license the key may see, or "unknown": an organization's key is told nothing of the
/// licenses of others, not even that they exist.
async fn existing(portal: &Portal, key: &AdminKey, id: &str) -> Result<LicenseRow, ApiError> {
    let unknown =
        || ApiError::not_found("unknown_license", format!("no license {id:?} is registered"));
    let found = licenses::find(portal.records(), id).await?;
    key.may(Operation::SeeLicense, licenses::facts(found.as_ref()), unknown)?;
    found.map(|(license, _)| license).ok_or_else(unknown)
}

/// `GET /v1/admin/licenses/{id}`: the license, its activation and its monthly pings.
pub async fn show(
    key: AdminKey,
    State(portal): State<Arc<Portal>>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    key.require(Scope::Read)?;
    let license = existing(&portal, &key, &id).await?;
    let licenses::LicenseActivity { activation, usage } =
        licenses::activity(portal.records(), &id).await?;
    let forks = licenses::forks(portal.records(), &id).await?;
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
            // Re-activations sooner than the rebind limit (self-service repairs), this year.
            "repairs": a.repairs,
            "repairs_from": a.repairs_from,
            "repaired_at": a.repaired_at,
            // When a copy of the bound hub was last refused: a cloned VM, a restored backup.
            "cloned_at": a.cloned_at,
            // Re-activations whose replaced hub was seen pinging again (two hubs in turn).
            "forks": forks,
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
