//! The runner places the portal counts for a license with `runner_countersign`
//! ([`crate::domain::pings::countersign`]): those held now, and the vendor's freeing of them.
//!
//! A place stays counted until the grace of the last receipt naming it ends, since a runner
//! may run on that receipt until then: so a site at its limit that replaces a broken runner
//! machine would wait that long (7 days by default) for its new runner. The vendor may free
//! places at once, on the customer's word: a freed place's runner, if it still runs
//! somewhere, runs on the receipt it holds until that receipt's grace ends, beside the runner
//! that takes its place. That is the vendor's call, and each freeing is in the audit ledger.

use tessera_core::UnixTime;
use tessera_core::keys::KeyId;

use crate::domain::audit::{self, Actor};
use crate::domain::authorization::{self, Caller, Denied, Operation};
use crate::domain::licenses::{facts, find};
pub use crate::store::CountersignedRow;
use crate::store::{Store, StoreError};

/// The places a license's runners hold at the portal now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacesHeld {
    /// Whether the license counts its runners at the portal (its `runner_countersign`
    /// claim, as registered).
    pub counted: bool,
    /// The license's runner limit: the most places counted at once.
    pub limit: u32,
    /// The places counted now, each with until when (Unix seconds).
    pub places: Vec<CountersignedRow>,
}

/// Why places were not shown or freed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlacesError {
    /// No license with this id is registered (or not the caller's to see).
    #[error("no license {0:?} is registered")]
    UnknownLicense(String),
    /// The caller may not (see [`authorization::may`]).
    #[error(transparent)]
    Denied(Denied),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The places license `id` holds at `now`, if `caller` may see the license.
pub async fn held(
    store: &Store,
    caller: &Caller<'_>,
    id: &str,
    now: UnixTime,
) -> Result<PlacesHeld, PlacesError> {
    let found = find(store, id).await?;
    asked(caller, Operation::SeeLicense, id, facts(found.as_ref()))?;
    let counted = found.as_ref().is_some_and(|(license, _)| license.runner_countersign);
    let limit = found.map_or(0, |(license, _)| u32::try_from(license.runners).unwrap_or(0));
    // Rows past their end are dropped at the license's next countersigning: they count for
    // nothing meanwhile, and are not shown.
    let places = store.countersigned_places(id, now.as_unix()).await?;
    Ok(PlacesHeld { counted, limit, places })
}

/// Frees the places of license `id` (every one, or only `place`) at `now`, if `caller` may
/// (the vendor's alone); `actor` in the ledger, whose target names the place freed, if one.
/// Answers how many places were freed. Taken in the countersigning's own transaction, so a
/// ping countersigning at the same time sees the places before or after, never half.
pub async fn free(
    store: &Store,
    (caller, actor): (&Caller<'_>, &Actor),
    id: &str,
    place: Option<KeyId>,
    now: UnixTime,
) -> Result<u64, PlacesError> {
    let found = find(store, id).await?;
    asked(caller, Operation::FreeRunnerPlaces, id, facts(found.as_ref()))?;
    let org = found.and_then(|(_, org)| org);
    let place = place.map(|p| p.to_string());
    let (mut change, _) = store.begin_countersign(id).await?;
    let freed = change.free(id, place.as_deref()).await?;
    change.commit().await?;
    // How many went: a freeing that freed nothing is told from one that lent places.
    let target = match &place {
        Some(place) => format!("{id} place:{place} count:{freed}"),
        None => format!("{id} count:{freed}"),
    };
    audit::record(store, actor, "license.runner_places_freed", &target, org.as_deref(), now)
        .await?;
    Ok(freed)
}

fn asked(
    caller: &Caller<'_>,
    operation: Operation,
    id: &str,
    resource: authorization::Resource<'_>,
) -> Result<(), PlacesError> {
    match authorization::may(caller, operation, resource) {
        Ok(()) => Ok(()),
        Err(Denied::Unknown) => Err(PlacesError::UnknownLicense(id.to_owned())),
        Err(denied) => Err(PlacesError::Denied(denied)),
    }
}
