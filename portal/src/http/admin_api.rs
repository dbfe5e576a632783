//! The admin API, for vendor staff and their tools: register licenses (`registering`),
//! look at them (`licenses`), change their state (`changes`), the runner places a license
//! holds and their freeing (`runner_places`), export usage (`usage`), the
//! audit ledger and what is held about a person or an organization (here). Every call
//! carries an API key (`Authorization: Bearer tsk_…`), authenticated by [`AdminKey`]; who
//! may do what is [`crate::domain::authorization`]'s rule.

mod changes;
mod licenses;
mod proofs;
mod query;
mod registering;
mod runner_places;
mod usage;

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

pub use changes::{reinstate, reset_binding, revoke, suspend};
pub use licenses::{list, lookup, organizations, show};
pub use proofs::{consistency as audit_consistency, inclusion as audit_inclusion};
pub use query::{DEFAULT_PAGE, MAX_PAGE};
pub(crate) use registering::not_registered;
pub use registering::{register, register_batch};
pub use runner_places::{free_runner_places, runner_places};
pub use usage::usage;
pub(crate) use usage::usage_csv;

use super::error::ApiError;
use super::extract::AdminKey;
use crate::app::Portal;
use crate::domain::apikeys::Scope;
use crate::domain::authorization::{Operation, PersonFacts, Resource};
use crate::domain::ledger_reading::{self, ExportPlan};

/// `GET /v1/admin/audit`: the whole audit ledger as JSON lines — the delegations of the keys
/// that signed checkpoints, the frontier a retention cut left (if any), every entry held with
/// its leaf hash, oldest first, then every signed checkpoint (one is signed first, so the
/// export ends covered), and an `end` line naming the tree size it covers — for `tessera
/// audit verify` ([`ledger_reading::export_plan`]). Streamed: memory does not grow with the
/// ledger. The vendor's keys only.
pub async fn audit(key: AdminKey, State(portal): State<Arc<Portal>>) -> Result<Response, ApiError> {
    key.require(Scope::Read)?;
    key.require_vendor()?;
    let signed = portal.sign_ledger_head().await?;
    let refused = !signed && portal.ledger_refused().is_some();
    let ExportPlan { head: head_text, tail: tail_text, start, upto } =
        ledger_reading::export_plan(portal.records(), refused).await?;
    let store = portal.records().clone();
    let entries = futures_util::stream::unfold(Some(start), move |after| {
        let store = store.clone();
        async move {
            let after = after.filter(|after| *after < upto)?;
            match ledger_reading::entries_after(&store, after, 10_000.min(upto - after)).await {
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
    let person = crate::domain::accounts::person(portal.records(), &id).await?;
    let facts = person.as_ref().map(|p| PersonFacts {
        id: &p.id,
        role: p.role.parse().ok(),
        org: p.org_id.as_deref(),
    });
    key.may(Operation::ExportPerson, Resource::Person(facts), unknown)?;
    let person = person.ok_or_else(unknown)?;
    let data = crate::domain::accounts::export_person(portal.records(), &person)
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
    query: Result<Query<OrgExportQuery>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    key.require(Scope::Read)?;
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let unknown = || ApiError::not_found("unknown_organization", "no such organization");
    // An organization's key exports its own unless it names another.
    let Some(org) = query.org.or_else(|| key.organization.clone()) else {
        return Err(ApiError::bad_request("invalid_query", "org: give the organization's id"));
    };
    let exists = org.len() <= 64
        && crate::domain::accounts::organization(portal.records(), &org).await?.is_some();
    let resource = Resource::Organization(exists.then_some(org.as_str()));
    key.may(Operation::ExportOrganization, resource, unknown)?;
    let data = crate::domain::accounts::export_organization(portal.records(), &org, portal.now())
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(data))
}
