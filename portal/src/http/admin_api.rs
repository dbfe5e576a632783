//! The admin API, for vendor staff and their tools: register licenses, look at them, change
//! their state, export usage. Every call carries an API key (`Authorization: Bearer tsk_…`).

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tessera_core::keys::KeyId;
use tessera_core::license::{Expectations, LicenseFile, LicenseKey, Verdict};
use tessera_core::{Status, UnixTime};

use super::error::ApiError;
use super::extract::{AdminKey, ApiJson};
use crate::app::Portal;
use crate::domain::actions::{self, Action, ActionError, Done};
use crate::domain::apikeys::Scope;
use crate::domain::audit::{self, Actor};
use crate::domain::standing::license_status;
use crate::store::{
    LicenseFilter, LicenseRow, LicenseStanding, LicenseSummary, Registered, UsagePage,
};

/// `POST /v1/admin/licenses` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// The armored license file.
    pub license: String,
}

/// Licenses checked for registration, their signatures in one batch: for each, in order,
/// its row and its status now, or why not.
fn admit_many(
    portal: &Portal,
    texts: &[String],
    now: UnixTime,
) -> Vec<Result<(LicenseRow, Status), ApiError>> {
    let Some(trust) = portal.trust.as_ref() else {
        let missing = "no trust set: the portal cannot check licenses";
        return texts
            .iter()
            .map(|_| Err(ApiError::NotReady { missing: missing.to_owned() }))
            .collect();
    };
    let parsed: Vec<_> = texts.iter().map(|text| LicenseFile::parse(text.as_bytes())).collect();
    let files: Vec<LicenseFile> = parsed.iter().filter_map(|p| p.as_ref().ok().cloned()).collect();
    let mut verdicts =
        LicenseFile::verify_many(&files, trust, now, &Expectations::default()).into_iter();
    parsed
        .into_iter()
        .map(|parsed| {
            let verdict = match parsed {
                Ok(_) => verdicts.next().ok_or_else(|| ApiError::Internal("verdicts".into()))?,
                Err(e) => return Err(malformed(e)),
            };
            admitted(&verdict, now)
        })
        .collect()
}

fn malformed(e: tessera_core::armor::FormatError) -> ApiError {
    ApiError::unprocessable("malformed", format!("malformed license: {e}"))
}

/// The row of a verified license, or why it is refused.
fn admitted(verdict: &Verdict, now: UnixTime) -> Result<(LicenseRow, Status), ApiError> {
    let Some(claims) = verdict.claims() else {
        let status = verdict.status();
        let problem = verdict.problem().map(ToString::to_string).unwrap_or_default();
        return Err(ApiError::unprocessable(status.as_str(), problem));
    };
    Ok((LicenseRow::registered(claims, now), verdict.status()))
}

/// `POST /v1/admin/licenses`: verify a license against the trust set and store its terms
/// and the SHA-256 of its key. Registering the same license again changes nothing.
pub async fn register(
    key: AdminKey,
    State(portal): State<Arc<Portal>>,
    ApiJson(request): ApiJson<RegisterRequest>,
) -> Result<Response, ApiError> {
    key.require(Scope::Write)?;
    key.require_vendor()?;
    let admitted = admit_many(&portal, std::slice::from_ref(&request.license), portal.now());
    let (row, status) =
        admitted.into_iter().next().unwrap_or_else(|| Err(ApiError::Internal("verdict".into())))?;
    let registered = portal.store.register_license(&row).await?;
    let code = match registered {
        Registered::New => {
            audit::record(
                &portal.store,
                &key.actor(),
                "license.registered",
                &row.id,
                None,
                portal.now(),
            )
            .await?;
            tracing::info!(license = %row.id, org = %row.org, by = %key.id, "license registered");
            StatusCode::CREATED
        }
        Registered::AlreadyThere => StatusCode::OK,
    };
    let body = json!({
        "id": row.id,
        "registered": registered == Registered::New,
        "status": status,
    });
    Ok((code, Json(body)).into_response())
}

/// What registering one license of a batch came to.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The license id, unless refused.
    pub id: Option<String>,
    /// `registered`, `already` or `refused`.
    pub outcome: &'static str,
    /// The license's status word now, or the refusal's code.
    pub status: String,
    /// Why, when the license is not valid or was refused.
    pub problem: Option<String>,
}

/// Checks and stores licenses in one batch (signatures off the async workers, rows in one
/// transaction): the batch call's and the web upload's one path.
pub(crate) async fn register_texts(
    portal: &Arc<Portal>,
    actor: &Actor,
    texts: Vec<String>,
) -> Result<Vec<Outcome>, ApiError> {
    if portal.trust.is_none() {
        return Err(ApiError::NotReady {
            missing: "no trust set: the portal cannot check licenses".to_owned(),
        });
    }
    let now = portal.now();
    // A full call is ~20 ms of CPU.
    let checked = {
        let portal = portal.clone();
        tokio::task::spawn_blocking(move || admit_many(&portal, &texts, now))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
    };
    let rows: Vec<LicenseRow> =
        checked.iter().filter_map(|c| c.as_ref().ok().map(|(row, _)| row.clone())).collect();
    let stored: Vec<Registered> = portal.store.register_licenses(&rows).await?;
    let new: Vec<&str> = rows
        .iter()
        .zip(&stored)
        .filter(|(_, r)| **r == Registered::New)
        .map(|(row, _)| row.id.as_str())
        .collect();
    if !new.is_empty() {
        audit::record(&portal.store, actor, "license.registered", &new.join(" "), None, now)
            .await?;
    }
    let mut stored = stored.into_iter();
    Ok(checked
        .into_iter()
        .map(|checked| match checked {
            Ok((row, status)) => Outcome {
                id: Some(row.id),
                outcome: match stored.next() {
                    Some(Registered::New) => "registered",
                    _ => "already",
                },
                status: status.as_str().to_owned(),
                problem: None,
            },
            Err(e) => Outcome {
                id: None,
                outcome: "refused",
                status: e.code().to_owned(),
                problem: Some(e.to_string()),
            },
        })
        .collect())
}

/// Licenses in one `POST /v1/admin/licenses/batch` call, at most.
pub const MAX_BATCH: usize = 1000;

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
    key.require_vendor()?;
    if request.licenses.is_empty() || request.licenses.len() > MAX_BATCH {
        return Err(ApiError::bad_request(
            "invalid_fields",
            format!("licenses: give 1 to {MAX_BATCH} licenses ({} given)", request.licenses.len()),
        ));
    }
    let outcomes = register_texts(&portal, &key.actor(), request.licenses).await?;
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

/// Page sizes of the license list and the usage export's internal pages.
pub const DEFAULT_PAGE: u32 = 100;
/// See [`DEFAULT_PAGE`].
pub const MAX_PAGE: u32 = 1000;

/// The filters of `GET /v1/admin/licenses` and `GET /v1/admin/usage`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    org: Option<String>,
    product: Option<String>,
    standing: Option<LicenseStanding>,
    /// A time: Unix seconds, an RFC 3339 time or a date.
    expiring_before: Option<String>,
    activated: Option<bool>,
    /// A time, as `expiring_before`.
    silent_since: Option<String>,
    /// Licenses per page (list only): default 100, at most 1000.
    limit: Option<u32>,
    /// The `next` cursor of the previous page (list only).
    after: Option<String>,
    /// `json` (default), `jsonl` or `csv` (usage only).
    format: Option<String>,
}

/// A time given in a query: Unix seconds, or what [`UnixTime`]'s parser reads.
fn query_time(name: &str, value: Option<&str>) -> Result<Option<i64>, ApiError> {
    let Some(text) = value else { return Ok(None) };
    let parsed = match text.parse::<i64>() {
        Ok(seconds) => UnixTime::from_unix(seconds).ok(),
        Err(_) => text.parse::<UnixTime>().ok(),
    };
    parsed.map(|t| Some(t.as_unix())).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_query",
            format!("{name} {text:?}: give Unix seconds, an RFC 3339 time or a date (YYYY-MM-DD)"),
        )
    })
}

impl ListQuery {
    fn parse(
        query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
    ) -> Result<ListQuery, ApiError> {
        let Query(query) =
            query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
        Ok(query)
    }

    fn filter(&self) -> Result<LicenseFilter, ApiError> {
        // No name or product id holds a control character (and PostgreSQL refuses NUL in
        // text): such a filter is a mistake, not an empty answer or a 500.
        for (name, value) in [("org", &self.org), ("product", &self.product)] {
            if value.as_ref().is_some_and(|v| v.chars().any(char::is_control)) {
                return Err(ApiError::bad_request(
                    "invalid_query",
                    format!("{name}: control characters are in no {name}"),
                ));
            }
        }
        Ok(LicenseFilter {
            organization: None,
            org: self.org.clone(),
            product: self.product.clone(),
            standing: self.standing,
            expiring_before: query_time("expiring_before", self.expiring_before.as_deref())?,
            activated: self.activated,
            silent_since: query_time("silent_since", self.silent_since.as_deref())?,
            ids: None,
        })
    }
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
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
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
        portal.store.license_page(&filter, query.after.as_deref(), limit + 1, now).await?;
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
    query: Result<Query<OrganizationsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    key.require(Scope::Read)?;
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let limit = page_size(query.limit)?;
    // An organization's name is at most 200 characters (docs/FORMAT.md), of up to 4 bytes.
    // Control characters are in no organization's name (and PostgreSQL refuses NUL in text).
    if query.after.as_ref().is_some_and(|a| a.len() > 800 || a.chars().any(char::is_control)) {
        return Err(ApiError::bad_request("invalid_query", "after: not a cursor of this API"));
    }
    if let Some(org) = &key.organization {
        // An organization's key sees its own organization only.
        let counted = portal.store.organization_counted(org).await?;
        let organizations: Vec<serde_json::Value> = counted
            .into_iter()
            .filter(|(o, _)| query.after.as_deref().is_none_or(|after| o.name.as_str() > after))
            .map(|(o, licenses)| json!({ "org": o.name, "licenses": licenses }))
            .collect();
        return Ok(Json(json!({ "organizations": organizations, "next": null })));
    }
    let mut page = portal.store.organization_page(query.after.as_deref(), limit + 1).await?;
    let more = page.len() > limit as usize;
    page.truncate(limit as usize);
    let next = if more { page.last().map(|(org, _)| org.clone()) } else { None };
    let organizations: Vec<serde_json::Value> = page
        .into_iter()
        .map(|(org, licenses)| json!({ "org": org, "licenses": licenses }))
        .collect();
    Ok(Json(json!({ "organizations": organizations, "next": next })))
}

/// A page size asked for: the default, or 1 to the maximum.
fn page_size(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit {
        None => Ok(DEFAULT_PAGE),
        Some(n @ 1..=MAX_PAGE) => Ok(n),
        Some(n) => {
            Err(ApiError::bad_request("invalid_query", format!("limit {n}: give 1 to {MAX_PAGE}")))
        }
    }
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
            portal.store.license_by_key_digest(&hex::encode(license_key.digest())).await?
        }
        (None, Some(id)) => portal.store.license(id).await?,
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
    if !key.sees(&portal, &license.id).await? {
        return Err(unknown());
    }
    let activation = portal.store.activation(&license.id).await?;
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
    let license = portal.store.license(id).await?.ok_or_else(unknown)?;
    if !key.sees(portal, id).await? {
        return Err(unknown());
    }
    Ok(license)
}

/// `GET /v1/admin/licenses/{id}`: the license, its activation and its monthly pings.
pub async fn show(
    key: AdminKey,
    State(portal): State<Arc<Portal>>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    key.require(Scope::Read)?;
    let license = existing(&portal, &key, &id).await?;
    let activation = portal.store.activation(&id).await?;
    let usage = portal.store.monthly_usage(&id).await?;
    let forks = portal.store.forks(&id).await?;
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

async fn act(
    portal: &Portal,
    key: &AdminKey,
    id: &str,
    action: Action,
    admit: Option<KeyId>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let outcome = match &key.organization {
        None if action == Action::ResetBinding => {
            actions::reset(&portal.store, &key.actor(), id, admit, portal.now()).await
        }
        None => actions::apply(&portal.store, &key.actor(), id, action, portal.now()).await,
        // Naming the hub a reset admits is the vendor's: a customer's reset admits any.
        Some(_) if admit.is_some() => {
            existing(portal, key, id).await?;
            return Err(ApiError::VendorOnly);
        }
        // An organization's key: its own licenses' bindings only, as often as its people may.
        Some(_) if action == Action::ResetBinding => {
            existing(portal, key, id).await?;
            let every = portal.settings.customer_reset_every_secs;
            actions::customer_reset(&portal.store, &key.actor(), id, every, portal.now()).await
        }
        Some(_) => {
            existing(portal, key, id).await?;
            return Err(ApiError::VendorOnly);
        }
    };
    let done = outcome.map_err(|e| match e {
        ActionError::UnknownLicense(_) => ApiError::not_found("unknown_license", e.to_string()),
        ActionError::Revoked => ApiError::conflict("revoked", e.to_string()),
        ActionError::TooSoon { .. } => ApiError::conflict("too_soon", e.to_string()),
        ActionError::Store(e) => e.into(),
    })?;
    Ok(Json(match done {
        Done::State(to) => {
            tracing::info!(license = %id, state = to.as_str(), by = %key.id, "license state changed");
            json!({ "id": id, "state": to })
        }
        Done::Reset(reset) => {
            let admits = admit.map(|k| k.to_string());
            tracing::info!(license = %id, reset, admits = ?admits, by = %key.id, "binding reset");
            json!({ "id": id, "reset": reset, "admits_hub_key_id": admits })
        }
    }))
}

/// `POST /v1/admin/licenses/{id}/suspend`.
pub async fn suspend(
    key: AdminKey,
    State(portal): State<Arc<Portal>>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    key.require(Scope::Write)?;
    act(&portal, &key, &id, Action::Suspend, None).await
}

/// `POST /v1/admin/licenses/{id}/reinstate`.
pub async fn reinstate(
    key: AdminKey,
    State(portal): State<Arc<Portal>>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    key.require(Scope::Write)?;
    act(&portal, &key, &id, Action::Reinstate, None).await
}

/// `POST /v1/admin/licenses/{id}/revoke`: final.
pub async fn revoke(
    key: AdminKey,
    State(portal): State<Arc<Portal>>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    key.require(Scope::Revoke)?;
    act(&portal, &key, &id, Action::Revoke, None).await
}

/// The optional body of a reset: the hub key id the next activation must be signed by.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResetBody {
    /// Absent admits any hub; `null` is not absent (the schema says a string).
    #[serde(default, deserialize_with = "a_string")]
    hub_key_id: Option<String>,
}

/// A field that, when present, must be a string (never `null`).
fn a_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    String::deserialize(d).map(Some)
}

/// `POST /v1/admin/licenses/{id}/reset-binding`: the next activation may come from a new
/// host; with `{"hub_key_id": "..."}`, only from the hub with that key.
pub async fn reset_binding(
    key: AdminKey,
    State(portal): State<Arc<Portal>>,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    key.require(Scope::Write)?;
    // No body (or an empty one) admits any hub, as before.
    let body: ResetBody = if body.iter().all(u8::is_ascii_whitespace) {
        ResetBody::default()
    } else {
        let json = headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(';').next().is_some_and(|t| t.trim() == "application/json"));
        if !json {
            return Err(ApiError::bad_request(
                "malformed_body",
                "a reset's body is JSON (Content-Type: application/json)",
            ));
        }
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request("malformed_body", e.to_string()))?
    };
    let admit = body
        .hub_key_id
        .map(|k| {
            k.parse::<KeyId>().map_err(|_| {
                ApiError::bad_request(
                    "bad_hub_key_id",
                    "hub_key_id is 16 upper-case hex digits, as `tessera-hub status --json` shows it",
                )
            })
        })
        .transpose()?;
    act(&portal, &key, &id, Action::ResetBinding, admit).await
}

/// How a usage export is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    JsonLines,
    Csv,
}

impl Format {
    fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::JsonLines => "application/jsonl",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }

    /// One page of rows; `first` says whether rows were written before. Written by hand
    /// from the page's borrowed strings: an export is millions of rows.
    fn rows(self, page: &UsagePage, first: bool) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(page.rows.len() * 100);
        if self == Format::Csv && first && !page.rows.is_empty() {
            out.extend_from_slice(CSV_HEADER);
        }
        let mut csv = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
        for (i, row) in page.rows.iter().enumerate() {
            let license = &page.licenses[row.license];
            let (mut month, mut pings) = (itoa::Buffer::new(), itoa::Buffer::new());
            let (month, pings) = (month.format(row.month), pings.format(row.pings));
            match self {
                Format::Csv => {
                    csv.write_record([
                        license.id.as_str(),
                        &license.org,
                        &license.product,
                        month,
                        pings,
                    ])
                    .map_err(|e| e.to_string())?;
                }
                Format::Json | Format::JsonLines => {
                    if self == Format::Json && !(first && i == 0) {
                        out.push(b',');
                    }
                    out.extend_from_slice(b"{\"license_id\":");
                    serde_json::to_writer(&mut out, &license.id).map_err(|e| e.to_string())?;
                    out.extend_from_slice(b",\"org\":");
                    serde_json::to_writer(&mut out, &license.org).map_err(|e| e.to_string())?;
                    out.extend_from_slice(b",\"product\":");
                    serde_json::to_writer(&mut out, &license.product).map_err(|e| e.to_string())?;
                    out.extend_from_slice(b",\"month\":");
                    out.extend_from_slice(month.as_bytes());
                    out.extend_from_slice(b",\"pings\":");
                    out.extend_from_slice(pings.as_bytes());
                    out.push(b'}');
                    if self == Format::JsonLines {
                        out.push(b'\n');
                    }
                }
            }
        }
        if self == Format::Csv {
            out.extend_from_slice(&csv.into_inner().map_err(|e| e.to_string())?);
        }
        Ok(out)
    }
}

/// The CSV export's header line.
const CSV_HEADER: &[u8] = b"license_id,org,product,month,pings\n";

/// Where a streamed export is.
struct Export {
    portal: Arc<Portal>,
    filter: LicenseFilter,
    format: Format,
    after: Option<String>,
    wrote_rows: bool,
    done: bool,
}

impl Export {
    /// The next piece of the body, or None at its end. A page is read only when the client
    /// has taken the previous one, so a client that stops reading (or disconnects) stops the
    /// work.
    async fn next(mut self) -> Option<(Result<bytes::Bytes, std::io::Error>, Self)> {
        if self.done {
            return None;
        }
        let page = self
            .portal
            .store
            .usage_page(&self.filter, self.after.as_deref(), MAX_PAGE, self.portal.now())
            .await;
        let page = match page {
            Ok(page) => page,
            Err(e) => {
                // Headers are gone: the only way left to say so is to break the body.
                tracing::error!(error = %e, "usage export failed");
                self.done = true;
                return Some((Err(std::io::Error::other("usage export failed")), self));
            }
        };
        let mut bytes = match self.format.rows(&page, !self.wrote_rows) {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::error!(error = %e, "usage export failed");
                self.done = true;
                return Some((Err(std::io::Error::other("usage export failed")), self));
            }
        };
        self.wrote_rows |= !page.rows.is_empty();
        self.portal.metrics.export_rows.inc_by(page.rows.len() as u64);
        self.after = page.next;
        if self.after.is_none() {
            self.done = true;
            match self.format {
                Format::Json => bytes.extend_from_slice(b"]}\n"),
                // A CSV export without rows still has its header line.
                Format::Csv if !self.wrote_rows => bytes.extend_from_slice(CSV_HEADER),
                _ => {}
            }
        }
        Some((Ok(bytes::Bytes::from(bytes)), self))
    }
}

/// `GET /v1/admin/usage`: pings per license and month, for the licenses the filters select,
/// streamed in license id order as JSON (`{"usage":[…]}`), JSON lines or CSV.
pub async fn usage(
    key: AdminKey,
    State(portal): State<Arc<Portal>>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    key.require(Scope::Read)?;
    let query = ListQuery::parse(query)?;
    if query.limit.is_some() || query.after.is_some() {
        return Err(ApiError::bad_request(
            "invalid_query",
            "the usage export is never paged: it streams every row",
        ));
    }
    let format = match query.format.as_deref().unwrap_or("json") {
        "json" => Format::Json,
        "jsonl" => Format::JsonLines,
        "csv" => Format::Csv,
        other => {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("format {other:?}: use json, jsonl or csv"),
            ));
        }
    };
    let mut filter = query.filter()?;
    key.limit(&mut filter);
    Ok(stream_usage(portal, filter, format))
}

/// The usage rows of the licenses `filter` covers, streamed page by page as they are read.
fn stream_usage(portal: Arc<Portal>, filter: LicenseFilter, format: Format) -> Response {
    let head: &'static [u8] = if format == Format::Json { b"{\"usage\":[" } else { b"" };
    let export = Export { portal, filter, format, after: None, wrote_rows: false, done: false };
    let pages = futures_util::stream::unfold(export, Export::next);
    let body = futures_util::StreamExt::chain(
        futures_util::stream::once(async move { Ok(bytes::Bytes::from_static(head)) }),
        pages,
    );
    ([(header::CONTENT_TYPE, format.content_type())], Body::from_stream(body)).into_response()
}

/// The usage export as CSV, for the web pages' download (the same rows and columns as
/// `GET /v1/admin/usage?format=csv`).
pub(crate) fn usage_csv(portal: Arc<Portal>, filter: LicenseFilter) -> Response {
    stream_usage(portal, filter, Format::Csv)
}

/// `GET /v1/admin/audit`: the whole audit ledger as JSON lines — the delegations of the keys
/// that signed checkpoints, the frontier a retention cut left (if any), every entry held with
/// its leaf hash, oldest first, then every signed checkpoint (one is signed first, so the
/// export ends covered) — for `tessera audit verify`. Streamed: memory does not grow with the
/// ledger. The vendor's keys only.
pub async fn audit(key: AdminKey, State(portal): State<Arc<Portal>>) -> Result<Response, ApiError> {
    key.require(Scope::Read)?;
    key.require_vendor()?;
    let signed = portal.sign_ledger_head().await?;
    // Entries up to the newest checkpoint (those appended while the export streams wait for
    // the next one) — unless the portal refuses to sign or never signed: then every entry, so
    // that verify names what is wrong.
    let size = portal.store.ledger_size().await?;
    let (checkpoints, delegations) = portal.store.ledger_checkpoints().await?;
    let newest = checkpoints.iter().map(|c| c.size).max().unwrap_or(0);
    let refused = !signed && portal.ledger_refused().is_some();
    let upto = if refused || checkpoints.is_empty() { size } else { newest.min(size) };
    let mut head_text = String::new();
    for text in &delegations {
        head_text.push_str(&json!({ "kind": "delegation", "text": text }).to_string());
        head_text.push('\n');
    }
    let start = match portal.store.ledger_frontier().await? {
        Some((size, hashes)) => {
            let hashes: Vec<String> = hashes.iter().map(hex::encode).collect();
            head_text.push_str(
                &json!({ "kind": "frontier", "size": size, "hashes": hashes }).to_string(),
            );
            head_text.push('\n');
            size
        }
        None => 0,
    };
    let mut tail_text = String::new();
    for checkpoint in &checkpoints {
        tail_text.push_str(
            &json!({ "kind": "checkpoint", "signed_at": checkpoint.signed_at, "note": checkpoint.note })
                .to_string(),
        );
        tail_text.push('\n');
    }
    let store = portal.store.clone();
    let entries = futures_util::stream::unfold(Some(start), move |after| {
        let store = store.clone();
        async move {
            let after = after.filter(|after| *after < upto)?;
            match store.ledger_after(after, 10_000.min(upto - after)).await {
                Ok(page) if page.is_empty() => None,
                Ok(page) => {
                    let next = page.last().map(|e| e.entry.seq as i64);
                    let mut text = String::new();
                    for stored in &page {
                        let mut line = serde_json::to_value(&stored.entry).unwrap_or_default();
                        line["kind"] = json!("entry");
                        line["hash"] = json!(stored.hash);
                        text.push_str(&line.to_string());
                        text.push('\n');
                    }
                    Some((Ok::<_, std::io::Error>(bytes::Bytes::from(text)), next))
                }
                Err(e) => {
                    tracing::error!(error = %e, "audit export stopped");
                    Some((Err(std::io::Error::other("the store failed")), None))
                }
            }
        }
    });
    let body = futures_util::StreamExt::chain(
        futures_util::StreamExt::chain(
            futures_util::stream::once(async move { Ok(bytes::Bytes::from(head_text)) }),
            entries,
        ),
        futures_util::stream::once(async move { Ok(bytes::Bytes::from(tail_text)) }),
    );
    Ok(([(header::CONTENT_TYPE, "application/jsonl")], Body::from_stream(body)).into_response())
}

/// `GET /v1/admin/people/{id}/export`: everything held about a person (as they download it
/// on their profile page), for a data request handled by automation. The vendor's keys: any
/// person; an organization's key: its own people only (others are unknown).
pub async fn export_person(
    key: AdminKey,
    State(portal): State<Arc<Portal>>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    key.require(Scope::Read)?;
    let unknown = || ApiError::not_found("unknown_person", "no such person");
    let person = portal.store.user(&id).await?.ok_or_else(unknown)?;
    if key.organization.is_some() && person.org_id != key.organization {
        return Err(unknown());
    }
    let data = crate::domain::accounts::export_person(&portal.store, &person)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(data))
}

/// The query of `GET /v1/admin/organization/export`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgExportQuery {
    /// The organization's id (the vendor's keys; an organization's key exports its own).
    org: Option<String>,
}

/// `GET /v1/admin/organization/export`: an organization's licenses, bindings and monthly
/// validations (as its org-admins download them).
pub async fn export_organization(
    key: AdminKey,
    State(portal): State<Arc<Portal>>,
    query: Result<Query<OrgExportQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    key.require(Scope::Read)?;
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let unknown = || ApiError::not_found("unknown_organization", "no such organization");
    let org = match (&key.organization, query.org) {
        (Some(own), None) => own.clone(),
        (Some(own), Some(asked)) if &asked == own => asked,
        (Some(_), Some(_)) => return Err(unknown()),
        (None, Some(asked)) => asked,
        (None, None) => {
            return Err(ApiError::bad_request("invalid_query", "org: give the organization's id"));
        }
    };
    if org.len() > 64 || portal.store.organization(&org).await?.is_none() {
        return Err(unknown());
    }
    let data = crate::domain::accounts::export_organization(&portal.store, &org, portal.now())
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(data))
}
