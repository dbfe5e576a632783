//! Changing a license: suspend, reinstate, revoke, reset its binding (the rule of who may
//! is [`crate::domain::authorization`]'s, the change [`crate::domain::actions`]').

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::json;
use tessera_core::keys::KeyId;

use crate::app::Portal;
use crate::domain::actions::{self, Action, ActionError, Done};
use crate::domain::apikeys::Scope;
use crate::domain::authorization::Denied;
use crate::http::error::ApiError;
use crate::http::extract::{AdminKey, ApiJson};

/// Does `action` to license `id` for `key`: the vendor's keys any change; an
/// organization's key only a reset of its own licenses' bindings, as often as its people may.
async fn act(
    portal: &Portal,
    key: &AdminKey,
    id: &str,
    action: Action,
    admit: Option<KeyId>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let every = portal.settings.customer_reset_every_secs;
    let outcome = actions::act(
        portal.records(),
        &key.caller(),
        &key.actor(),
        id,
        (action, admit),
        every,
        portal.now(),
    )
    .await;
    let done = outcome.map_err(|e| match e {
        ActionError::UnknownLicense(_) => ApiError::not_found("unknown_license", e.to_string()),
        ActionError::Revoked => ApiError::conflict("revoked", e.to_string()),
        ActionError::TooSoon { .. } => ApiError::conflict("too_soon", e.to_string()),
        ActionError::Denied(Denied::VendorOnly) => ApiError::VendorOnly,
        ActionError::Denied(other) => ApiError::conflict("not_now", other.to_string()),
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
pub struct ResetBody {
    /// Absent admits any hub; `null` is not absent (the schema says a string).
    #[serde(default, deserialize_with = "a_string")]
    hub_key_id: Option<String>,
}

/// A field that, when present, must be a string (never `null`).
fn a_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    String::deserialize(d).map(Some)
}

/// `POST /v1/admin/licenses/{id}/reset-binding`: the next activation may come from a new
/// host; with `{"hub_key_id": "..."}`, only from the hub with that key. The body may be
/// left out (or be `{}`): any hub is admitted.
pub async fn reset_binding(
    key: AdminKey,
    State(portal): State<Arc<Portal>>,
    Path(id): Path<String>,
    body: Result<Option<ApiJson<ResetBody>>, ApiError>,
) -> Result<Json<serde_json::Value>, ApiError> {
    key.require(Scope::Write)?;
    let admit = body?
        .and_then(|ApiJson(body)| body.hub_key_id)
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
