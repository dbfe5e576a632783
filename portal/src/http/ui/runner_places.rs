//! The vendor's freeing of a license's countersigned runner places from its page: a
//! confirmation, then the posted form (the rule: [`crate::domain::runner_places`]).

use super::*;
use crate::domain::licenses;
use crate::domain::runner_places::{self, PlacesError};

impl From<PlacesError> for UiError {
    fn from(e: PlacesError) -> Self {
        match e {
            PlacesError::Store(e) => e.into(),
            // Not the person's to see or do: not there, as every refusal on a page.
            _ => UiError::NotFound,
        }
    }
}

/// `GET /ui/licenses/{id}/runner-places`: the places held, and the confirmation that frees
/// them (the vendor's people only).
pub(super) async fn confirm_free_places(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let found = visible_license(&portal, &viewer, &id).await?;
    viewer.may(Operation::FreeRunnerPlaces, licenses::facts(Some(&found)))?;
    let held = runner_places::held(portal.records(), &viewer.caller(), &id, portal.now()).await?;
    Ok(html(StatusCode::OK, pages::confirm_free_places(&viewer.chrome(), &found.0, &held)))
}

#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct FreeForm {
    /// One place id, or `all`.
    pub(super) place: String,
}

/// `POST /ui/licenses/{id}/runner-places/free`.
pub(super) async fn free_places(
    State(portal): State<Arc<Portal>>,
    Path(id): Path<String>,
    Posted { viewer, form }: Posted<FreeForm>,
) -> Result<Response, UiError> {
    let place = match form.place.as_str() {
        "" => return Err(UiError::BadInput("Choose which places to free.")),
        "all" => None,
        text => Some(text.parse::<tessera_core::keys::KeyId>().map_err(|_| {
            UiError::Conflict("That is not a runner place of this license.".to_owned())
        })?),
    };
    let who = (&viewer.caller(), &viewer.actor());
    let freed = runner_places::free(portal.records(), who, &id, place, portal.now()).await?;
    tracing::info!(license = %id, freed, by = %viewer.user.id, "runner places freed");
    Ok(Redirect::to(&format!("/ui/licenses/{id}?done=runner-places-freed")).into_response())
}
