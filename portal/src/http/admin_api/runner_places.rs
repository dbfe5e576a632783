//! The runner places a license with `runner_countersign` holds at the portal: shown, and
//! freed by the vendor (the rule and its reasons: [`crate::domain::runner_places`]).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::json;
use tessera_core::keys::KeyId;

use crate::app::Portal;
use crate::domain::apikeys::Scope;
use crate::domain::authorization::Denied;
use crate::domain::runner_places::{self, PlacesError};
use crate::http::error::ApiError;
use crate::http::extract::{AdminKey, ApiJson};

fn refused(e: PlacesError) -> ApiError {
    match e {
        PlacesError::UnknownLicense(_) => ApiError::not_found("unknown_license", e.to_string()),
        PlacesError::Denied(Denied::VendorOnly) => ApiError::VendorOnly,
        PlacesError::Denied(other) => ApiError::conflict("not_now", other.to_string()),
        PlacesError::Store(e) => e.into(),
    }
}

/// `GET /v1/admin/licenses/{id}/runner-places`: the places counted now, each until when.
pub async fn runner_places(
    key: AdminKey,
    State(portal): State<Arc<Portal>>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    key.require(Scope::Read)?;
    let held = runner_places::held(portal.records(), &key.caller(), &id, portal.now())
        .await
        .map_err(refused)?;
    let places: Vec<serde_json::Value> = held
        .places
        .iter()
        .map(|row| json!({ "place": row.runner_place, "until": row.until }))
        .collect();
    Ok(Json(json!({
        "id": id,
        "runner_countersign": held.counted,
        "limit": held.limit,
        "held": places.len(),
        "places": places,
    })))
}

/// The optional body of a freeing: the one place to free (all, when absent).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreeBody {
    /// Absent frees every place; `null` is not absent (the schema says a string).
    #[serde(default, deserialize_with = "a_string")]
    place: Option<String>,
}

/// A field that, when present, must be a string (never `null`).
fn a_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    String::deserialize(d).map(Some)
}

/// `POST /v1/admin/licenses/{id}/runner-places/free`: the vendor frees the license's places
/// (with `{"place": "..."}`, that one only), so that the hub's next ping gets new runners
/// countersigned at once.
pub async fn free_runner_places(
    key: AdminKey,
    State(portal): State<Arc<Portal>>,
    Path(id): Path<String>,
    body: Result<Option<ApiJson<FreeBody>>, ApiError>,
) -> Result<Json<serde_json::Value>, ApiError> {
    key.require(Scope::Write)?;
    let place = body?
        .and_then(|ApiJson(body)| body.place)
        .map(|p| {
            p.parse::<KeyId>().map_err(|_| {
                ApiError::bad_request(
                    "bad_place",
                    "place is 16 upper-case hex digits, as `GET /v1/admin/licenses/{id}/runner-places` shows it",
                )
            })
        })
        .transpose()?;
    let who = (&key.caller(), &key.actor());
    let freed = runner_places::free(portal.records(), who, &id, place, portal.now())
        .await
        .map_err(refused)?;
    let place = place.map(|p| p.to_string());
    tracing::info!(license = %id, freed, place = ?place, by = %key.id, "runner places freed");
    Ok(Json(json!({ "id": id, "freed": freed, "place": place })))
}
