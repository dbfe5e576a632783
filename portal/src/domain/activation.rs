//! Where a hub activates: the license its call names, the hub a vendor's reset admits, the
//! license's activation allowance, then the binding rule ([`super::rebinding`]). What the
//! receipt answers is decided here; the hub API parses the call, checks that the hub signed
//! it, logs, counts and signs the answer.

use tessera_core::receipt::ActivateCall;
use tessera_core::{Status, UnixTime};

use super::binding::{Presented, same_host};
use super::licenses::LicenseRow;
use super::rebinding::{self, Activation, Bound};
use super::standing::license_status;
use crate::limits::{Limited, RateLimits};
use crate::store::{Store, StoreError};

/// The portal's settings an activation is judged by.
#[derive(Debug, Clone, Copy)]
pub struct ActivationRules {
    /// The shortest time between two re-activations of one license on its host.
    pub rebind_every_secs: i64,
    /// Re-activations sooner than that allowed in a year (self-service repairs).
    pub repairs_per_year: i64,
}

/// An activation the portal answers with a signed receipt.
#[derive(Debug)]
pub struct Activated {
    /// The license the call names.
    pub license: LicenseRow,
    /// What the receipt says.
    pub status: Status,
    /// What the call did to the binding; none when the license may not run at all (it is
    /// then not bound).
    pub bound: Option<Bound>,
    /// The fingerprint as the call presented it (its digest goes in the receipt).
    pub fingerprint_json: String,
}

/// An activation answered with an error and no receipt.
#[derive(Debug, thiserror::Error)]
pub enum ActivationRefused {
    /// No license with the call's license key is registered.
    #[error("no license with this key is registered here")]
    UnknownLicense,
    /// A vendor's reset admits another hub key only.
    #[error(
        "the vendor reset this license's binding for the hub with key id {admitted}; \
         this hub's key id is {caller}"
    )]
    NotAdmitted {
        /// The key id the reset names.
        admitted: String,
        /// The calling hub's key id.
        caller: String,
    },
    /// The call is not newer than the hub's last one on this host (a replay).
    #[error("this call is not newer than the hub's last one (a replay?)")]
    Stale,
    /// An allowance is spent: the license's own, or the shared one of unknown keys.
    #[error(transparent)]
    Limited(#[from] Limited),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The call's fingerprint cannot be stored as JSON.
    #[error("the fingerprint cannot be stored: {0}")]
    Fingerprint(String),
}

/// Judges the activation `call` (its signature by its hub key already checked) at `now`.
///
/// The order matters: an unknown key spends only the allowance unknown keys share, and a
/// hub the vendor's reset does not admit is refused before it spends the license's own
/// (a stranger holding the license file cannot use it up).
pub async fn activate(
    store: &Store,
    limits: &RateLimits,
    rules: ActivationRules,
    call: &ActivateCall,
    now: UnixTime,
) -> Result<Activated, ActivationRefused> {
    let digest = hex::encode(call.license_key.digest());
    let Some(license) = store.license_by_key_digest(&digest).await? else {
        limits.unknown_activation()?;
        return Err(ActivationRefused::UnknownLicense);
    };
    if let Some(admitted) = store.admitted_hub_key(&license.id).await? {
        let caller = call.hub_key.key_id().to_string();
        if caller != admitted {
            return Err(ActivationRefused::NotAdmitted { admitted, caller });
        }
    }
    limits.activation(&license.id)?;
    let fingerprint_json = serde_json::to_string(&call.fingerprint)
        .map_err(|e| ActivationRefused::Fingerprint(e.to_string()))?;
    let mut status = license_status(&license, now);
    if status != Status::Valid {
        return Ok(Activated { license, status, bound: None, fingerprint_json });
    }
    let presented = Presented {
        fingerprint: &call.fingerprint,
        version: call.fingerprint_version,
        previous: call.previous_fingerprint.as_ref(),
    };
    let same = |stored: &str, version: i64| same_host(stored, version, presented);
    let bound = rebinding::activate(
        store,
        &Activation {
            license_id: &license.id,
            fingerprint_json: &fingerprint_json,
            fingerprint_version: call.fingerprint_version,
            hub_key: &call.hub_key.to_string(),
            hub_time_ms: call.hub_time_ms,
            now,
            answer: call.nonce,
            rebind_every_secs: rules.rebind_every_secs,
            repairs_per_year: rules.repairs_per_year,
            same_host: &same,
        },
    )
    .await?;
    match &bound {
        Bound::Stale => return Err(ActivationRefused::Stale),
        Bound::TooSoon { .. } => status = Status::Cloned,
        Bound::OtherHost { .. } => status = Status::FingerprintMismatch,
        Bound::New | Bound::Again | Bound::Repaired { .. } => {}
    }
    Ok(Activated { license, status, bound: Some(bound), fingerprint_json })
}
