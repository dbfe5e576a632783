//! Proofs of the audit ledger, for auditors (the vendor's keys): an entry's inclusion in a
//! signed checkpoint and a checkpoint's consistency with an earlier size, as text that
//! `tessera audit proof` checks offline (docs/FORMAT.md, section 12.2).

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::super::error::ApiError;
use super::super::extract::AdminKey;
use crate::app::Portal;
use crate::domain::apikeys::Scope;
use crate::domain::ledger_proofs::{self, ProofRefusal};

/// The query of `GET /v1/admin/audit/inclusion`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionQuery {
    /// The entry (`seq`, from 1).
    seq: u64,
    /// The size of the signed checkpoint to prove it in; the newest when absent.
    size: Option<u64>,
}

/// The query of `GET /v1/admin/audit/consistency`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    /// The earlier tree's size.
    old: u64,
    /// The size of the signed checkpoint that extends it; the newest when absent.
    size: Option<u64>,
}

impl From<ProofRefusal> for ApiError {
    fn from(refusal: ProofRefusal) -> ApiError {
        match refusal {
            ProofRefusal::NoCheckpoint(_) => {
                ApiError::not_found("no_checkpoint", refusal.to_string())
            }
            ProofRefusal::NoEntry { .. } => {
                ApiError::not_found("no_such_entry", refusal.to_string())
            }
            ProofRefusal::BadRange { .. } => {
                ApiError::bad_request("invalid_query", refusal.to_string())
            }
            ProofRefusal::Forged(_) => {
                tracing::error!(%refusal, "no ledger proof served");
                ApiError::conflict("ledger_not_extended", refusal.to_string())
            }
            ProofRefusal::Store(e) => e.into(),
        }
    }
}

fn text(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

/// `GET /v1/admin/audit/inclusion?seq=N[&size=M]`: the C2SP `tlog-proof` of entry `seq` in
/// the signed checkpoint of `size` entries (the newest when absent). The vendor's keys only.
pub async fn inclusion(
    key: AdminKey,
    State(portal): State<Arc<Portal>>,
    query: Result<Query<InclusionQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    key.require(Scope::Read)?;
    key.require_vendor()?;
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let proof =
        ledger_proofs::inclusion(portal.records(), &portal.ledger_proofs, query.seq, query.size)
            .await?;
    Ok(text(proof.to_text()))
}

/// `GET /v1/admin/audit/consistency?old=N[&size=M]`: the consistency proof from the tree of
/// `old` entries to the signed checkpoint of `size` entries (the newest when absent). The
/// vendor's keys only.
pub async fn consistency(
    key: AdminKey,
    State(portal): State<Arc<Portal>>,
    query: Result<Query<ConsistencyQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    key.require(Scope::Read)?;
    key.require_vendor()?;
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let proof =
        ledger_proofs::consistency(portal.records(), &portal.ledger_proofs, query.old, query.size)
            .await?;
    Ok(text(proof.to_text()))
}
