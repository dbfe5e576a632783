//! Offline (air-gapped) activation: the hub's signed request, carried to the vendor by hand,
//! and the vendor's signed answer that binds the license to that host for a stated time.
//!
//! The request is signed with the hub's own key, so the answer can only be installed by the
//! hub that holds it; the answer is signed with a vendor key, so the hub and its runners check
//! it with the vendor trust set alone, exactly like a license.

use serde::{Deserialize, Serialize};

use crate::armor::{Envelope, FormatError, Kind};
use crate::fingerprint::Fingerprint;
use crate::keys::{KeyId, PublicKey, SigningKey};
use crate::license::{LicenseId, ProductId};
use crate::machine::MachineDigest;
use crate::receipt::Nonce;
use crate::status::Status;
use crate::time::UnixTime;
use crate::trust::{TrustSet, Untrusted};

fn version_1() -> u8 {
    crate::fingerprint::VERSION_1
}

/// What a hub asks for: bind this license to this host and this hub key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestClaims {
    /// The license the hub asks to run.
    pub license_id: LicenseId,
    /// The licensed product.
    pub product: ProductId,
    /// The hub's host fingerprint.
    pub fingerprint: Fingerprint,
    /// The version of `fingerprint`; absent means 1.
    #[serde(default = "version_1")]
    pub fingerprint_version: u8,
    /// The hub's public key, which signs the request.
    pub hub_key: PublicKey,
    /// Echoed in the answer: the hub installs only the answer to its outstanding request.
    pub nonce: Nonce,
    /// The hub's clock when it wrote the request, for the vendor's eyes.
    pub created_at: UnixTime,
}

/// Signs a request with the hub's key; returns the armored text.
pub fn sign_request(claims: &RequestClaims, hub_key: &SigningKey) -> String {
    Envelope::seal(Kind::ActivationRequest, hub_key, claims)
}

/// Why an activation request or answer is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ActivationError {
    /// Not a well-formed file of the expected kind.
    #[error("malformed: {0}")]
    Malformed(#[from] FormatError),
    /// A request or runner call is not signed by the key it carries.
    #[error("the {what} is not signed by the {key} it carries")]
    NotSelfSigned {
        /// What was opened: "activation request", "runner call".
        what: &'static str,
        /// The key it carries: "hub key", "runner key".
        key: &'static str,
    },
    /// The activation's signing key is not trusted.
    #[error("activation: {0}")]
    Untrusted(#[from] Untrusted),
    /// A signature does not verify.
    #[error("the {what}'s signature by key {key_id} does not verify")]
    BadSignature {
        /// What was verified: "activation", "lease".
        what: &'static str,
        /// The key it names.
        key_id: KeyId,
    },
    /// Signed by another key than the one it must be.
    #[error("the {what} is signed by key {found}, not by the {expected_name} {expected}")]
    WrongSigner {
        /// What was verified: "lease".
        what: &'static str,
        /// The key that signed it.
        found: KeyId,
        /// Which key must have: "hub key".
        expected_name: &'static str,
        /// That key's id.
        expected: KeyId,
    },
    /// The activation's validity window is empty.
    #[error("activation's not_before is after its not_after")]
    EmptyWindow,
}

impl ActivationError {
    /// The status word this refusal is reported as.
    pub fn status(&self) -> Status {
        match self {
            ActivationError::Malformed(_) | ActivationError::EmptyWindow => Status::Malformed,
            ActivationError::Untrusted(_) => Status::UnknownKey,
            ActivationError::NotSelfSigned { .. }
            | ActivationError::BadSignature { .. }
            | ActivationError::WrongSigner { .. } => Status::BadSignature,
        }
    }
}

/// Opens a request and checks that the hub key inside signed it (proof of possession).
pub fn open_request(bytes: &[u8]) -> Result<RequestClaims, ActivationError> {
    let envelope = Envelope::parse(Kind::ActivationRequest, bytes)?;
    let claims: RequestClaims = envelope.open()?;
    if envelope.key_id() != claims.hub_key.key_id()
        || envelope.verify_signature(&claims.hub_key).is_err()
    {
        return Err(ActivationError::NotSelfSigned { what: "activation request", key: "hub key" });
    }
    Ok(claims)
}

/// The vendor's answer: this license runs on this host, with this hub key, in this window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivationClaims {
    /// The activated license.
    pub license_id: LicenseId,
    /// The fingerprint from the request; the hub checks it with the core matching rule.
    pub fingerprint: Fingerprint,
    /// The version of `fingerprint`, from the request; absent (activations signed before
    /// version 2) means 1.
    #[serde(default = "version_1")]
    pub fingerprint_version: u8,
    /// The id of the hub key the activation is for.
    pub hub_key_id: KeyId,
    /// The request's nonce, echoed.
    pub nonce: Nonce,
    /// When the vendor signed it.
    pub issued_at: UnixTime,
    /// The activation is valid from then.
    pub not_before: UnixTime,
    /// The hub needs a new activation (or the portal) after this second.
    pub not_after: UnixTime,
}

impl ActivationClaims {
    /// The answer to `request`, valid from `now` for `valid_for`.
    pub fn answer(request: &RequestClaims, now: UnixTime, valid_for: std::time::Duration) -> Self {
        ActivationClaims {
            license_id: request.license_id,
            fingerprint: request.fingerprint.clone(),
            fingerprint_version: request.fingerprint_version,
            hub_key_id: request.hub_key.key_id(),
            nonce: request.nonce,
            issued_at: now,
            not_before: now,
            not_after: now.saturating_add(valid_for),
        }
    }

    /// Whether `t` is inside the activation's window.
    pub fn covers(&self, t: UnixTime) -> bool {
        (self.not_before..=self.not_after).contains(&t)
    }
}

/// Signs an activation with a vendor key; returns the armored text.
pub fn sign_activation(claims: &ActivationClaims, vendor_key: &SigningKey) -> String {
    Envelope::seal(Kind::Activation, vendor_key, claims)
}

/// Verifies an activation's vendor signature with `trust` (looked up at `now`). The window,
/// nonce, hub key and fingerprint are the caller's to check against its own state.
pub fn verify_activation(
    bytes: &[u8],
    trust: &TrustSet,
    now: UnixTime,
) -> Result<ActivationClaims, ActivationError> {
    let envelope = Envelope::parse(Kind::Activation, bytes)?;
    let key = trust.lookup(envelope.key_id(), now)?;
    envelope.verify_signature(key).map_err(|_| ActivationError::BadSignature {
        what: "activation",
        key_id: envelope.key_id(),
    })?;
    let claims: ActivationClaims = envelope.open()?;
    if claims.not_before > claims.not_after {
        return Err(ActivationError::EmptyWindow);
    }
    Ok(claims)
}

/// What a hub hands its runners: everything a runner needs to decide offline. Served as JSON
/// by the hub (`GET /v1/bundle`) and written to a file for air-gapped runners.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// The hub's own status when it served the bundle (informative: runners decide).
    #[serde(deserialize_with = "crate::status::tolerant")]
    pub status: Status,
    /// The hub's license, as signed.
    pub license: String,
    /// The portal's latest receipt, as signed (online hubs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<String>,
    /// The vendor's delegation of the portal's receipt key, as signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegation: Option<String>,
    /// The vendor's offline activation, as signed (air-gapped hubs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation: Option<String>,
    /// The hub's public key: leases are signed with it, receipts and activations name its id.
    pub hub_key: PublicKey,
    /// A lease for one runner, in bundles written for air-gapped runners.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<String>,
    /// On a license with `runner_countersign`, in the answer to one runner's call when
    /// `receipt` does not name that runner's place: the newest receipt that did, with the
    /// delegation it was signed under. The runner verifies both as it does `receipt` and
    /// `delegation`, and takes only the countersignature from it (docs/RUNNER.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub named_receipt: Option<NamedReceipt>,
}

/// A receipt that named a runner's place, as signed, with the vendor's delegation of the key
/// that signed it, as signed: a delegation renewed since (a later `not_before`, another
/// portal key) does not cover an older receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedReceipt {
    /// The receipt, as signed.
    pub receipt: String,
    /// The delegation of the portal key that signed it, as signed.
    pub delegation: String,
}

/// What a runner asks of its hub, signed with the runner's own key: the runner proves it
/// holds the key a slot is leased to. Sent online (`POST /v1/lease`) or, air-gapped, as a
/// request file the hub operator answers with a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunnerCall {
    /// The runner's identity: made at install, kept in its state directory.
    pub runner_key: PublicKey,
    /// A name for people (the hub operator sees it); never an identity.
    pub label: String,
    /// What the runner wants.
    pub action: RunnerAction,
    /// Fresh for every call: the lease that answers it echoes it, so an old answer (a saved
    /// bundle) can never be installed again.
    pub nonce: Nonce,
    /// The nonce of the lease the runner holds, if any: chains the runner's calls, so a
    /// copy of the runner that falls behind is noticed (see [`crate::chain`]).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::present")]
    pub holds: Option<Nonce>,
    /// The runner's clock in milliseconds: each call of a runner must be newer than its
    /// last one (a replayed call is refused).
    pub runner_time_ms: i64,
    /// The runner's machine, when it has an id: the lease names it, and the hub leases one
    /// runner key to one machine at a time.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::present")]
    pub machine: Option<MachineDigest>,
}

/// What a runner call asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunnerAction {
    /// A slot, or the renewal of the one held, with the hub's current bundle.
    Lease,
    /// Give the slot back.
    Release,
}

/// Signs a runner call with the runner's key; returns the armored text.
pub fn sign_runner_call(call: &RunnerCall, runner_key: &SigningKey) -> String {
    Envelope::seal(Kind::RunnerCall, runner_key, call)
}

/// Opens a runner call and checks that the runner key inside signed it.
pub fn open_runner_call(bytes: &[u8]) -> Result<RunnerCall, ActivationError> {
    let envelope = Envelope::parse(Kind::RunnerCall, bytes)?;
    let call: RunnerCall = envelope.open()?;
    if envelope.key_id() != call.runner_key.key_id()
        || envelope.verify_signature(&call.runner_key).is_err()
    {
        return Err(ActivationError::NotSelfSigned { what: "runner call", key: "runner key" });
    }
    Ok(call)
}

/// What a hub hands a runner: "the runner with key K holds a slot of license L until T",
/// signed with the hub key the portal's receipt (or the vendor's activation) names, so a
/// runner checks it offline through the same chain. It answers one runner call (its nonce).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaseClaims {
    /// The license the slot belongs to.
    pub license_id: LicenseId,
    /// The runner key the slot is leased to: a runner accepts only a lease for its own key.
    pub runner_key_id: KeyId,
    /// The runner's label, for people.
    pub label: String,
    /// The nonce of the runner call this lease answers.
    pub nonce: Nonce,
    /// When the hub granted it.
    pub issued_at: UnixTime,
    /// When the slot ends unless renewed.
    pub expires_at: UnixTime,
    /// The machine the lease was granted to (from the runner's call): a runner on another
    /// machine is `fingerprint_mismatch` with it.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::present")]
    pub machine: Option<MachineDigest>,
}

/// Signs a lease with the hub key; returns the armored text.
pub fn sign_lease(claims: &LeaseClaims, hub_key: &SigningKey) -> String {
    Envelope::seal(Kind::Lease, hub_key, claims)
}

/// Verifies a lease with the hub's public key.
pub fn verify_lease(bytes: &[u8], hub_key: &PublicKey) -> Result<LeaseClaims, ActivationError> {
    let envelope = Envelope::parse(Kind::Lease, bytes)?;
    if envelope.key_id() != hub_key.key_id() {
        return Err(ActivationError::WrongSigner {
            what: "lease",
            found: envelope.key_id(),
            expected_name: "hub key",
            expected: hub_key.key_id(),
        });
    }
    if envelope.verify_signature(hub_key).is_err() {
        return Err(ActivationError::BadSignature { what: "lease", key_id: envelope.key_id() });
    }
    Ok(envelope.open()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::ComponentHash;

    fn t(s: &str) -> UnixTime {
        s.parse().expect("time")
    }

    fn request(hub: &SigningKey) -> RequestClaims {
        let product: ProductId = "acme-hub".parse().expect("product");
        let mut fingerprint = Fingerprint::new();
        fingerprint
            .insert("machine_id", ComponentHash::of(&product, "machine_id", b"m"))
            .expect("x");
        RequestClaims {
            license_id: "6f1c1f1e-3a5b-4c1d-9e2f-0a1b2c3d4e5f".parse().expect("id"),
            product,
            fingerprint,
            fingerprint_version: crate::fingerprint::VERSION,
            hub_key: hub.public_key().clone(),
            nonce: Nonce::from_bytes([7; 16]),
            created_at: t("2027-01-01"),
        }
    }

    #[test]
    fn a_request_must_be_signed_by_the_key_it_carries() {
        let hub = SigningKey::from_seed(&[1; 32]);
        let other = SigningKey::from_seed(&[2; 32]);
        let claims = request(&hub);
        assert_eq!(open_request(sign_request(&claims, &hub).as_bytes()), Ok(claims.clone()));
        let refused = open_request(sign_request(&claims, &other).as_bytes()).expect_err("refused");
        assert_eq!(
            refused.to_string(),
            "the activation request is not signed by the hub key it carries"
        );
    }

    #[test]
    fn an_activation_verifies_with_the_vendor_trust_set_only() {
        let vendor = SigningKey::from_seed(&[3; 32]);
        let stranger = SigningKey::from_seed(&[4; 32]);
        let hub = SigningKey::from_seed(&[1; 32]);
        let trust = TrustSet::single(vendor.public_key().clone());
        let answer = ActivationClaims::answer(
            &request(&hub),
            t("2027-01-02"),
            std::time::Duration::from_secs(86_400 * 30),
        );
        assert_eq!(answer.hub_key_id, hub.key_id());
        let now = t("2027-01-03");
        let text = sign_activation(&answer, &vendor);
        assert_eq!(verify_activation(text.as_bytes(), &trust, now), Ok(answer.clone()));
        let forged = sign_activation(&answer, &stranger);
        assert!(matches!(
            verify_activation(forged.as_bytes(), &trust, now),
            Err(ActivationError::Untrusted(_))
        ));
        assert!(answer.covers(now) && !answer.covers(t("2027-03-01")));
    }

    #[test]
    fn a_runner_call_must_be_signed_by_the_runner_key_it_carries() {
        let runner = SigningKey::from_seed(&[5; 32]);
        let other = SigningKey::from_seed(&[6; 32]);
        let call = RunnerCall {
            runner_key: runner.public_key().clone(),
            label: "r1".into(),
            action: RunnerAction::Lease,
            nonce: Nonce::from_bytes([8; 16]),
            holds: None,
            runner_time_ms: 1,
            machine: MachineDigest::of("3d1219c7c4c5404aaa1f6d2a48adfda4", &runner.key_id()),
        };
        assert_eq!(open_runner_call(sign_runner_call(&call, &runner).as_bytes()), Ok(call.clone()));
        let refused = open_runner_call(sign_runner_call(&call, &other).as_bytes()).expect_err("no");
        assert_eq!(
            refused.to_string(),
            "the runner call is not signed by the runner key it carries"
        );
    }

    #[test]
    fn a_lease_verifies_only_with_its_hub_key() {
        let hub = SigningKey::from_seed(&[1; 32]);
        let other = SigningKey::from_seed(&[2; 32]);
        let lease = LeaseClaims {
            license_id: "6f1c1f1e-3a5b-4c1d-9e2f-0a1b2c3d4e5f".parse().expect("id"),
            runner_key_id: SigningKey::from_seed(&[5; 32]).key_id(),
            label: "runner-1".into(),
            nonce: Nonce::from_bytes([8; 16]),
            issued_at: t("2027-01-01"),
            expires_at: t("2027-01-01T00:10:00Z"),
            machine: None,
        };
        let text = sign_lease(&lease, &hub);
        assert_eq!(verify_lease(text.as_bytes(), hub.public_key()), Ok(lease));
        // The error names the key that signed and the hub key that should have.
        let refused = verify_lease(text.as_bytes(), other.public_key()).expect_err("refused");
        assert_eq!(
            refused.to_string(),
            format!(
                "the lease is signed by key {}, not by the hub key {}",
                hub.key_id(),
                other.key_id()
            )
        );
    }
}
