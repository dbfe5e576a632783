//! Receipts: the portal's signed answers to activations and pings, and the calls that ask
//! for them. Where the portal signs a receipt and where a hub or runner checks one.
//!
//! Hub → portal calls are envelopes of kind `activate` and `ping`, signed with the hub's own
//! key and sent as [`Compact`](crate::armor::Compact) JSON. Receipts are armored `RECEIPT`
//! envelopes signed with the portal's receipt key, which a [`Delegation`] ties to the vendor
//! trust set.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::armor::{Envelope, FormatError, Kind};
use crate::delegation::Delegation;
use crate::fingerprint::Fingerprint;
use crate::keys::{KeyId, PublicKey, RandomError, SigningKey, fill_random};
use crate::ledger::LedgerHead;
use crate::license::{LicenseId, LicenseKey};
use crate::status::Status;
use crate::time::UnixTime;

/// 16 random bytes a hub puts in a call and finds echoed in the receipt, as base64url.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Nonce([u8; 16]);

impl Nonce {
    /// A fresh random nonce.
    pub fn generate() -> Result<Self, RandomError> {
        let mut bytes = [0u8; 16];
        fill_random(&mut bytes)?;
        Ok(Nonce(bytes))
    }

    /// A nonce from its 16 bytes.
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Nonce(bytes)
    }

    /// The nonce's bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Display for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&URL_SAFE_NO_PAD.encode(self.0))
    }
}

impl fmt::Debug for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Nonce({self})")
    }
}

/// Text that is not a nonce.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a nonce is 16 bytes as unpadded base64url (22 characters)")]
pub struct BadNonce;

impl FromStr for Nonce {
    type Err = BadNonce;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0u8; 18];
        match URL_SAFE_NO_PAD.decode_slice(s, &mut bytes) {
            Ok(16) => {
                let mut nonce = [0u8; 16];
                nonce.copy_from_slice(&bytes[..16]);
                Ok(Nonce(nonce))
            }
            _ => Err(BadNonce),
        }
    }
}

serde_via_str!(Nonce);

/// SHA-256 of a fingerprint's canonical JSON, hex: what a receipt says about the host.
pub fn fingerprint_digest(fingerprint: &Fingerprint) -> String {
    // A map of strings serializes deterministically (BTreeMap order).
    fingerprint_json_digest(&serde_json::to_string(fingerprint).unwrap_or_default())
}

/// [`fingerprint_digest`] from the fingerprint's canonical JSON, for callers that already
/// serialized it.
pub fn fingerprint_json_digest(canonical_json: &str) -> String {
    hex::encode(Sha256::digest(canonical_json.as_bytes()))
}

/// A hub's first call: bind this license to me.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivateCall {
    /// The license key the customer typed.
    pub license_key: LicenseKey,
    /// The hub's host fingerprint.
    pub fingerprint: Fingerprint,
    /// The version of `fingerprint` ([`crate::fingerprint::VERSION`]); absent means 1.
    #[serde(default = "version_1")]
    pub fingerprint_version: u8,
    /// This host's version 1 fingerprint, sent only to move a version 1 binding over to
    /// version 2 (the portal checks it against what it holds, then keeps only `fingerprint`).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::present")]
    pub previous_fingerprint: Option<Fingerprint>,
    /// The hub's public key: the calls after this one are signed with it.
    pub hub_key: PublicKey,
    /// Fresh for every call; the receipt echoes it.
    pub nonce: Nonce,
    /// The hub's time in milliseconds: must grow from call to call (replay protection).
    pub hub_time_ms: i64,
}

fn version_1() -> u8 {
    crate::fingerprint::VERSION_1
}

/// A hub's hourly call: I am still here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PingCall {
    /// The license the hub runs.
    pub license_id: LicenseId,
    /// The hub's host fingerprint now.
    pub fingerprint: Fingerprint,
    /// The version of `fingerprint`; absent means 1.
    #[serde(default = "version_1")]
    pub fingerprint_version: u8,
    /// As in [`ActivateCall`]: the version 1 fingerprint, only while moving over.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::present")]
    pub previous_fingerprint: Option<Fingerprint>,
    /// The nonce of the latest receipt the hub holds: chains its pings, so that a copy of
    /// the hub (same key, same state) that falls behind is noticed ([`crate::chain`]).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::present")]
    pub holds: Option<Nonce>,
    /// The receipt whose nonce is `holds`, armored as the portal sent it: the proof the
    /// portal looks at only when `holds` is not where its chain is (a portal restored from a
    /// backup remembers an older chain than the receipt it signed since, [`resync_proof`]).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::present")]
    pub held_receipt: Option<String>,
    /// On a license with `runner_countersign`: the place ids of the runners holding a slot
    /// ([`crate::machine::runner_place`]: opaque ids only), which the hub asks the portal to
    /// countersign.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::present")]
    pub runners: Option<Vec<KeyId>>,
    /// Fresh for every call; the receipt echoes it.
    pub nonce: Nonce,
    /// The hub's clock in milliseconds: each ping must be newer than the last one.
    pub hub_time_ms: i64,
}

/// Which call a receipt answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answers {
    /// An activation call.
    Activate,
    /// A ping.
    Ping,
}

/// What a receipt says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptClaims {
    /// The license the receipt is about.
    pub license_id: LicenseId,
    /// Which call it answers.
    pub answers: Answers,
    /// `valid`, `expired`, `terminated`, `suspended`, `revoked`, `fingerprint_mismatch`,
    /// `cloned`, …; a word this version does not know reads as `unrecognized`.
    #[serde(deserialize_with = "crate::status::tolerant")]
    pub status: Status,
    /// The portal's clock when it signed: the time hubs and runners trust.
    pub portal_time: UnixTime,
    /// The nonce of the call, echoed.
    pub nonce: Nonce,
    /// The hub should ping again before this time.
    pub next_ping_by: UnixTime,
    /// [`fingerprint_digest`] of the fingerprint in the call.
    pub fingerprint: String,
    /// The hub key the license is bound to.
    pub hub_key_id: KeyId,
    /// The audit ledger's latest signed checkpoint when the receipt was signed, if the
    /// portal has signed one: evidence the hub keeps of what the ledger was.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::present")]
    pub ledger_head: Option<LedgerHead>,
    /// On a license with `runner_countersign`, answering a ping: the runner places the portal
    /// countersigns. A runner of such a license runs only while the receipt it holds names its
    /// place here, and no longer than that receipt counts (its grace).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::present")]
    pub runners: Option<Countersigned>,
}

/// The portal's countersignature of a hub's runners (their places,
/// [`crate::machine::runner_place`]), inside a ping's receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Countersigned {
    /// The license's runner limit: how many places the portal countersigns at most.
    pub limit: u32,
    /// The places countersigned (of those the ping asked for).
    pub keys: Vec<KeyId>,
    /// The places asked for and refused: the limit is held by places countersigned before,
    /// until the receipts that named them end.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<KeyId>,
}

impl Countersigned {
    /// Whether the place `place` is countersigned.
    pub fn names(&self, place: &KeyId) -> bool {
        self.keys.contains(place)
    }
}

/// Signs a receipt with the portal's receipt key; returns the armored text.
pub fn sign(claims: &ReceiptClaims, portal_key: &SigningKey) -> String {
    Envelope::seal(Kind::Receipt, portal_key, claims)
}

/// Why a receipt is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiptError {
    /// Not a well-formed receipt.
    #[error("malformed receipt: {0}")]
    Malformed(#[from] FormatError),
    /// Signed by another key than the delegated one.
    #[error("receipt is signed by key {found}, but the delegation certifies {delegated}")]
    NotDelegated {
        /// The key that signed it.
        found: KeyId,
        /// The key the delegation certifies.
        delegated: KeyId,
    },
    /// The signature does not verify.
    #[error("receipt signature does not verify")]
    BadSignature,
    /// Signed outside the delegation's validity.
    #[error("receipt time {portal_time} is outside the delegation's window")]
    OutsideDelegation {
        /// The receipt's time.
        portal_time: UnixTime,
    },
}

impl ReceiptError {
    /// The status word this refusal is reported as.
    pub fn status(&self) -> Status {
        match self {
            ReceiptError::Malformed(_) => Status::Malformed,
            ReceiptError::NotDelegated { .. } | ReceiptError::OutsideDelegation { .. } => {
                Status::UnknownKey
            }
            ReceiptError::BadSignature => Status::BadSignature,
        }
    }
}

/// Checks a receipt against a verified delegation: signed by the delegated portal key, at a
/// time the delegation covers. Nonce, license and hub checks are the caller's.
pub fn verify(bytes: &[u8], delegation: &Delegation) -> Result<ReceiptClaims, ReceiptError> {
    let envelope = Envelope::parse(Kind::Receipt, bytes)?;
    let portal_key = &delegation.claims.portal_key;
    if envelope.key_id() != portal_key.key_id() {
        return Err(ReceiptError::NotDelegated {
            found: envelope.key_id(),
            delegated: portal_key.key_id(),
        });
    }
    envelope.verify_signature(portal_key).map_err(|_| ReceiptError::BadSignature)?;
    let claims: ReceiptClaims = envelope.open()?;
    if !delegation.covers(claims.portal_time) {
        return Err(ReceiptError::OutsideDelegation { portal_time: claims.portal_time });
    }
    Ok(claims)
}

/// Why a held receipt does not prove a place in the chain ([`resync_proof`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// Not a well-formed receipt.
    #[error("the held receipt is malformed: {0}")]
    Malformed(#[from] FormatError),
    /// Not signed by the portal's receipt key.
    #[error("the held receipt is not signed by this portal's receipt key")]
    NotOurs,
    /// About another license, hub key or call than the ping's.
    #[error("the held receipt is about another license, hub key or call")]
    Elsewhere,
    /// An answer that did not move the chain (`cloned`, or an activation that bound
    /// nothing): it proves no place in it.
    #[error("the held receipt answered a call that did not move the chain")]
    Unchained,
}

/// Checks a ping's held receipt as proof that its hub follows the chain: signed by
/// `portal_key`, for `license_id` and the bound hub key `hub_key_id`, echoing `holds`, and
/// an answer that moved the chain (a counted ping's receipt is anything but `cloned`; an
/// activation's binds only when `valid`). Returns the portal time it was signed at: a
/// receipt the portal signed after the latest call it remembers can only come from a
/// chain it has forgotten (a restore), never from a copy left behind, whose receipt is
/// older than the call that moved the chain past it.
pub fn resync_proof(
    held: &str,
    portal_key: &PublicKey,
    license_id: LicenseId,
    hub_key_id: KeyId,
    holds: Nonce,
) -> Result<UnixTime, ProofError> {
    let envelope = Envelope::parse(Kind::Receipt, held.as_bytes())?;
    if envelope.key_id() != portal_key.key_id() || envelope.verify_signature(portal_key).is_err() {
        return Err(ProofError::NotOurs);
    }
    let claims: ReceiptClaims = envelope.open()?;
    if claims.license_id != license_id || claims.hub_key_id != hub_key_id || claims.nonce != holds {
        return Err(ProofError::Elsewhere);
    }
    let chained = match claims.answers {
        Answers::Ping => claims.status != Status::Cloned,
        Answers::Activate => claims.status == Status::Valid,
    };
    if !chained {
        return Err(ProofError::Unchained);
    }
    Ok(claims.portal_time)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delegation::{self, DelegationClaims};
    use crate::trust::TrustSet;

    fn t(s: &str) -> UnixTime {
        s.parse().expect("time")
    }

    #[test]
    fn a_receipt_verifies_through_the_delegation_chain_only() {
        let vendor = SigningKey::from_seed(&[1; 32]);
        let portal = SigningKey::from_seed(&[2; 32]);
        let stranger = SigningKey::from_seed(&[3; 32]);
        let trust = TrustSet::single(vendor.public_key().clone());
        let claims = DelegationClaims {
            portal_key: portal.public_key().clone(),
            issued_at: t("2027-01-01"),
            not_before: t("2027-01-01"),
            not_after: t("2027-12-31"),
        };
        let text = delegation::sign(&claims, &vendor);
        let verified =
            Delegation::verify(text.as_bytes(), &trust, t("2027-06-01")).expect("delegation");
        let forged = delegation::sign(&claims, &stranger);
        assert!(Delegation::verify(forged.as_bytes(), &trust, t("2027-06-01")).is_err());

        let receipt = ReceiptClaims {
            license_id: "6f1c1f1e-3a5b-4c1d-9e2f-0a1b2c3d4e5f".parse().expect("id"),
            answers: Answers::Ping,
            status: Status::Valid,
            portal_time: t("2027-06-01T10:00:00Z"),
            nonce: Nonce::from_bytes([9; 16]),
            next_ping_by: t("2027-06-01T11:00:00Z"),
            fingerprint: "00".repeat(32),
            hub_key_id: stranger.key_id(),
            ledger_head: None,
            runners: None,
        };
        let signed = sign(&receipt, &portal);
        assert_eq!(verify(signed.as_bytes(), &verified), Ok(receipt.clone()));
        let by_stranger = sign(&receipt, &stranger);
        assert!(matches!(
            verify(by_stranger.as_bytes(), &verified),
            Err(ReceiptError::NotDelegated { .. })
        ));
        let late = ReceiptClaims { portal_time: t("2028-01-01"), ..receipt };
        assert!(matches!(
            verify(sign(&late, &portal).as_bytes(), &verified),
            Err(ReceiptError::OutsideDelegation { .. })
        ));
    }

    #[test]
    fn only_the_portals_own_chained_answer_proves_a_place_in_the_chain() {
        let portal = SigningKey::from_seed(&[2; 32]);
        let hub = SigningKey::from_seed(&[4; 32]);
        let stranger = SigningKey::from_seed(&[3; 32]);
        let license: LicenseId = "6f1c1f1e-3a5b-4c1d-9e2f-0a1b2c3d4e5f".parse().expect("id");
        let held = Nonce::from_bytes([9; 16]);
        let receipt = ReceiptClaims {
            license_id: license,
            answers: Answers::Ping,
            status: Status::Valid,
            portal_time: t("2027-06-01T10:00:00Z"),
            nonce: held,
            next_ping_by: t("2027-06-01T11:00:00Z"),
            fingerprint: "00".repeat(32),
            hub_key_id: hub.key_id(),
            ledger_head: None,
            runners: None,
        };
        let proof = |claims: &ReceiptClaims, key: &SigningKey| {
            resync_proof(&sign(claims, key), portal.public_key(), license, hub.key_id(), held)
        };
        assert_eq!(proof(&receipt, &portal), Ok(t("2027-06-01T10:00:00Z")));
        // A counted ping's receipt is chained whatever the license's standing.
        let expired = ReceiptClaims { status: Status::Expired, ..receipt.clone() };
        assert!(proof(&expired, &portal).is_ok());
        let bound = ReceiptClaims { answers: Answers::Activate, ..receipt.clone() };
        assert!(proof(&bound, &portal).is_ok());

        assert_eq!(proof(&receipt, &stranger), Err(ProofError::NotOurs));
        let mut forged = sign(&receipt, &portal).into_bytes();
        let last = forged.len() - 40;
        forged[last] ^= 1;
        let forged = String::from_utf8_lossy(&forged).into_owned();
        assert!(resync_proof(&forged, portal.public_key(), license, hub.key_id(), held).is_err());
        assert!(matches!(
            resync_proof("not a receipt", portal.public_key(), license, hub.key_id(), held),
            Err(ProofError::Malformed(_))
        ));
        for other in [
            ReceiptClaims { nonce: Nonce::from_bytes([8; 16]), ..receipt.clone() },
            ReceiptClaims { hub_key_id: stranger.key_id(), ..receipt.clone() },
            ReceiptClaims {
                license_id: "6f1c1f1e-3a5b-4c1d-9e2f-0a1b2c3d4e50".parse().expect("id"),
                ..receipt.clone()
            },
        ] {
            assert_eq!(proof(&other, &portal), Err(ProofError::Elsewhere));
        }
        // Answers that did not move the chain: a `cloned` one (a copy keeps it), an
        // activation that bound nothing.
        let cloned = ReceiptClaims { status: Status::Cloned, ..receipt.clone() };
        assert_eq!(proof(&cloned, &portal), Err(ProofError::Unchained));
        let refused = ReceiptClaims { status: Status::FingerprintMismatch, ..bound };
        assert_eq!(proof(&refused, &portal), Err(ProofError::Unchained));
    }

    #[test]
    fn a_receipts_ledger_head_is_signed_with_it_and_read_strictly() {
        let portal = SigningKey::from_seed(&[2; 32]);
        let checkpoint = crate::ledger::Checkpoint {
            origin: "tessera.ledger/0011223344556677".into(),
            size: 7,
            root: [7; 32],
        };
        let head = LedgerHead { signed_at: t("2027-06-01"), note: checkpoint.sign(&portal) };
        let receipt = ReceiptClaims {
            license_id: "6f1c1f1e-3a5b-4c1d-9e2f-0a1b2c3d4e5f".parse().expect("id"),
            answers: Answers::Ping,
            status: Status::Valid,
            portal_time: t("2027-06-01T10:00:00Z"),
            nonce: Nonce::from_bytes([9; 16]),
            next_ping_by: t("2027-06-01T11:00:00Z"),
            fingerprint: "00".repeat(32),
            hub_key_id: portal.key_id(),
            ledger_head: Some(head.clone()),
            runners: None,
        };
        let opened: ReceiptClaims =
            Envelope::parse(Kind::Receipt, sign(&receipt, &portal).as_bytes())
                .expect("receipt")
                .open()
                .expect("claims");
        assert_eq!(opened.ledger_head.as_ref(), Some(&head));
        let read = head.read().expect("a checkpoint");
        assert_eq!((read.checkpoint.size, read.signed_by(portal.public_key())), (7, true));
        // Strict: an unknown field in the head, or a null, is refused; absent is none.
        let mut json = serde_json::to_value(&receipt).expect("json");
        json["ledger_head"]["extra"] = serde_json::json!(1);
        assert!(serde_json::from_value::<ReceiptClaims>(json.clone()).is_err());
        json["ledger_head"] = serde_json::Value::Null;
        assert!(serde_json::from_value::<ReceiptClaims>(json.clone()).is_err());
        json.as_object_mut().expect("object").remove("ledger_head");
        let none: ReceiptClaims = serde_json::from_value(json).expect("no head");
        assert_eq!(none.ledger_head, None);
    }

    #[test]
    fn nonces_round_trip_strictly() {
        let nonce = Nonce::generate().expect("random");
        assert_eq!(nonce.to_string().parse::<Nonce>(), Ok(nonce));
        assert!("short".parse::<Nonce>().is_err());
        assert!(format!("{nonce}A").parse::<Nonce>().is_err());
    }
}
