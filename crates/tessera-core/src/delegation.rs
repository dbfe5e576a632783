//! The portal's receipt key, certified by a vendor signing key, so that hubs and runners can
//! check receipts with the vendor trust set alone.

use serde::{Deserialize, Serialize};

use crate::armor::{Envelope, FormatError, Kind};
use crate::keys::{KeyId, PublicKey, SigningKey};
use crate::status::Status;
use crate::time::UnixTime;
use crate::trust::{TrustSet, Untrusted};

/// What a delegation says: this portal key may sign receipts from `not_before` through
/// `not_after`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelegationClaims {
    /// The portal's receipt key being certified.
    pub portal_key: PublicKey,
    /// When the vendor signed it.
    pub issued_at: UnixTime,
    /// The portal key may sign from then.
    pub not_before: UnixTime,
    /// The portal key may sign until then.
    pub not_after: UnixTime,
}

/// Why a delegation is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DelegationError {
    /// Not a well-formed delegation.
    #[error("malformed delegation: {0}")]
    Malformed(#[from] FormatError),
    /// The vendor key that signed it is not trusted.
    #[error("delegation: {0}")]
    Untrusted(#[from] Untrusted),
    /// The signature does not verify.
    #[error("delegation signature by key {key_id} does not verify")]
    BadSignature {
        /// The key it names.
        key_id: KeyId,
    },
    /// The delegation is not valid yet.
    #[error("delegation is valid only from {not_before}")]
    NotYetValid {
        /// When it starts.
        not_before: UnixTime,
    },
    /// The delegation has expired.
    #[error("delegation expired at {not_after}")]
    Expired {
        /// When it ended.
        not_after: UnixTime,
    },
    /// The delegation's validity window is empty.
    #[error("delegation's not_before is after its not_after")]
    EmptyWindow,
}

impl DelegationError {
    /// The status word this refusal is reported as.
    pub fn status(&self) -> Status {
        match self {
            DelegationError::Malformed(_) | DelegationError::EmptyWindow => Status::Malformed,
            DelegationError::Untrusted(_) => Status::UnknownKey,
            DelegationError::BadSignature { .. } => Status::BadSignature,
            DelegationError::NotYetValid { .. } => Status::NotYetValid,
            DelegationError::Expired { .. } => Status::Expired,
        }
    }
}

/// What a delegation lets the portal key sign. Each is a signed statement of its own, so a
/// hub that knows only receipts never meets a field it does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Receipts of activations and pings (`DELEGATION`).
    Receipts,
    /// The heads of the portal's audit ledger (`LEDGER DELEGATION`).
    Ledger,
}

impl Purpose {
    fn kind(self) -> Kind {
        match self {
            Purpose::Receipts => Kind::Delegation,
            Purpose::Ledger => Kind::LedgerDelegation,
        }
    }
}

/// Signs a delegation of `claims.portal_key` for `purpose` with the vendor key.
pub fn sign_for(purpose: Purpose, claims: &DelegationClaims, vendor_key: &SigningKey) -> String {
    Envelope::seal(purpose.kind(), vendor_key, claims)
}

/// Signs a delegation of `claims.portal_key` with the vendor key; returns the armored text.
pub fn sign(claims: &DelegationClaims, vendor_key: &SigningKey) -> String {
    sign_for(Purpose::Receipts, claims, vendor_key)
}

/// A delegation whose vendor signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegation {
    /// The delegation's claims.
    pub claims: DelegationClaims,
    /// The id of the vendor key that signed it.
    pub vendor_key_id: KeyId,
}

impl Delegation {
    /// Verifies the vendor's signature with `trust` (looked up at `now`). The window is not
    /// checked here: see [`Delegation::check_window`] and [`Delegation::covers`].
    pub fn verify(bytes: &[u8], trust: &TrustSet, now: UnixTime) -> Result<Self, DelegationError> {
        Self::verify_for(Purpose::Receipts, bytes, trust, now)
    }

    /// [`Delegation::verify`] for a delegation of `purpose`: one of another purpose is
    /// malformed here.
    pub fn verify_for(
        purpose: Purpose,
        bytes: &[u8],
        trust: &TrustSet,
        now: UnixTime,
    ) -> Result<Self, DelegationError> {
        let envelope = Envelope::parse(purpose.kind(), bytes)?;
        let key = trust.lookup(envelope.key_id(), now)?;
        envelope
            .verify_signature(key)
            .map_err(|_| DelegationError::BadSignature { key_id: envelope.key_id() })?;
        let claims: DelegationClaims = envelope.open()?;
        if claims.not_before > claims.not_after {
            return Err(DelegationError::EmptyWindow);
        }
        Ok(Delegation { claims, vendor_key_id: envelope.key_id() })
    }

    /// Whether receipts signed at `t` are covered.
    pub fn covers(&self, t: UnixTime) -> bool {
        (self.claims.not_before..=self.claims.not_after).contains(&t)
    }

    /// The delegation's window, checked at `now`.
    pub fn check_window(&self, now: UnixTime) -> Result<(), DelegationError> {
        if now < self.claims.not_before {
            return Err(DelegationError::NotYetValid { not_before: self.claims.not_before });
        }
        if now > self.claims.not_after {
            return Err(DelegationError::Expired { not_after: self.claims.not_after });
        }
        Ok(())
    }
}
