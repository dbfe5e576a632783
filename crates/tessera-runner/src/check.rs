//! Where a runner decides, offline, whether it may run: from an opened cache and the time.

use std::time::Duration;

use serde::Serialize;
use tessera_core::activation::{self, Bundle, LeaseClaims, NamedReceipt};
use tessera_core::delegation::Delegation;
use tessera_core::keys::KeyId;
use tessera_core::license::{Claims, Expectations, LicenseFile};
use tessera_core::receipt::{self, ReceiptClaims};
use tessera_core::standing::{self, Evidence};
use tessera_core::trust::TrustSet;
use tessera_core::{Status, UnixTime};

use crate::cache::{Cache, KeptReceipt, VerifiedDelegation};
use crate::countersignature::{self, Countersignature};
use crate::machine::Machine;

/// The default tolerance for a clock behind the high-water mark (DST, drift).
pub const DEFAULT_TOLERANCE: Duration = standing::DEFAULT_TOLERANCE;

/// A runner's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// The runner's status word.
    pub status: Status,
    /// One sentence for people.
    pub reason: String,
    /// Seconds of grace left (or of the offline activation), when that applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grace_left_secs: Option<u64>,
    /// The cached license's id, once its signature was checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license_id: Option<String>,
    /// The runner's label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runner: Option<String>,
    /// When the lease the runner holds ends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_expires_at: Option<UnixTime>,
    /// The cached license's claims when it verified: features and runner limit for
    /// in-process callers (never printed: they hold the license key).
    #[serde(skip)]
    pub license: Option<Box<Claims>>,
}

impl Decision {
    /// A decision with `status` and its reason, nothing else known.
    pub fn new(status: Status, reason: impl Into<String>) -> Self {
        Decision {
            status,
            reason: reason.into(),
            grace_left_secs: None,
            license_id: None,
            runner: None,
            lease_expires_at: None,
            license: None,
        }
    }

    /// Exit code: 0 for `valid` and `grace`, else the status's code.
    pub fn exit_code(&self) -> u8 {
        self.status.exit_code()
    }
}

/// Decides from a cache whose seal and generation were checked, through the rule the hub
/// uses too (`tessera_core::standing`). Verifies the license against the cached trust set
/// and the receipt through the cached (verified) delegation, or the offline activation
/// against the trust set: two signature checks.
pub fn decide(cache: &Cache, now: UnixTime, tolerance: Duration, machine: &Machine) -> Decision {
    let (mut decision, claims) = judge(cache, now, tolerance, machine);
    decision.license = claims.map(Box::new);
    decision.runner = Some(cache.label.clone());
    decision.lease_expires_at = Some(cache.lease.expires_at);
    decision.license_id = Some(cache.lease.license_id.to_string());
    decision
}

fn judge(
    cache: &Cache,
    now: UnixTime,
    tolerance: Duration,
    machine: &Machine,
) -> (Decision, Option<Claims>) {
    match judge_claims(cache, now, tolerance, machine) {
        Ok((decision, claims)) => (decision, Some(claims)),
        Err(decision) => (decision, None),
    }
}

/// The decision with the license's claims, or a decision made before the license verified.
fn judge_claims(
    cache: &Cache,
    now: UnixTime,
    tolerance: Duration,
    machine: &Machine,
) -> Result<(Decision, Claims), Decision> {
    // First, before anything is verified: a clock set back must not make an expired
    // license or an ended grace look fine, nor a not-yet-valid one look wrong.
    if let Some(standing) = standing::rollback(now, cache.high_water, tolerance) {
        return Err(Decision::new(standing.status, standing.reason));
    }
    let trust = match TrustSet::parse(cache.trust.as_bytes()) {
        Ok(trust) => trust,
        Err(e) => return Err(Decision::new(Status::Tampered, format!("cached trust set: {e}"))),
    };
    let claims = license_claims(&cache.license, &trust, now)?;
    if cache.lease.license_id != claims.id {
        return Err(Decision::new(Status::Tampered, "the lease is for another license"));
    }
    if cache.lease.runner_key_id != cache.runner_key_id {
        return Err(Decision::new(Status::Tampered, "the lease is for another runner key"));
    }
    // A state directory copied to another machine, keystore entry and all: the lease was
    // granted to the machine that asked for it. A machine whose id cannot be read here is
    // not that machine as far as anyone can tell (an id hidden to pass the copy off).
    if let Some(granted) = &cache.lease.machine
        && !machine.digest(&cache.lease.runner_key_id).is_some_and(|here| granted.same(&here))
    {
        return Err(Decision::new(
            Status::FingerprintMismatch,
            format!(
                "this runner's lease was granted to another machine (its state directory \
                 copied here, or this machine's id changed or cannot be read: /etc/machine-id); \
                 the hub leases this runner key again, to the machine that asks, once that lease \
                 ends at {}",
                cache.lease.expires_at
            ),
        ));
    }
    let offline;
    let receipt;
    let evidence = if let Some(text) = &cache.activation {
        offline = match activation::verify_activation(text.as_bytes(), &trust, now) {
            Ok(a) if a.license_id == claims.id && a.hub_key_id == cache.hub_key_id => a,
            Ok(_) => {
                return Err(Decision::new(
                    Status::Tampered,
                    "the offline activation is for another license or hub",
                ));
            }
            Err(e) => return Err(Decision::new(e.status(), format!("offline activation: {e}"))),
        };
        Evidence::Offline(&offline)
    } else if let (Some(text), Some(delegation)) = (&cache.receipt, &cache.delegation) {
        receipt = verified_receipt(text, delegation, cache, &claims)?;
        Evidence::Receipt(&receipt)
    } else {
        Evidence::None
    };
    let standing = standing::judge(evidence, &claims, now, cache.high_water, tolerance);
    let reason = match (standing.status, evidence) {
        (Status::NoLicense, Evidence::None) => "the hub has no receipt yet (not activated)".into(),
        (Status::Unrecognized, _) => {
            format!("{}: a status this runner does not know; update the runner", standing.reason)
        }
        (Status::Grace, Evidence::Receipt(_)) => {
            format!("{} (refresh from the hub)", standing.reason)
        }
        _ => standing.reason,
    };
    let left = standing.left.map(|l| l.as_secs());
    if standing.status.permits_running() && now > cache.lease.expires_at {
        let d = Decision::new(
            Status::RunnerLimitExceeded,
            format!(
                "this runner's lease ended {}: `tessera-runner refresh` renews it while a slot is free",
                cache.lease.expires_at
            ),
        );
        return Ok((d, claims));
    }
    let mut left = left;
    let mut reason = reason;
    if standing.status.permits_running() {
        match countersignature::countersigned(&claims, evidence, cache, now, tolerance) {
            Countersignature::Refused(refusal) => return Ok((refusal, claims)),
            // Running on an older receipt's countersignature: it ends with that receipt's
            // grace, which may come long before the newest receipt's.
            Countersignature::Kept { left: kept, portal_time } => {
                let kept_secs = kept.as_secs();
                left = Some(left.map_or(kept_secs, |l| l.min(kept_secs)));
                reason = format!(
                    "{reason}; this runner's place was countersigned by the receipt of \
                     {portal_time}, which lets it run until {}",
                    now.saturating_add(kept)
                );
            }
            Countersignature::Newest => {}
        }
    }
    let mut d = Decision::new(standing.status, reason);
    d.grace_left_secs = left;
    Ok((d, claims))
}

fn license_claims(text: &str, trust: &TrustSet, now: UnixTime) -> Result<Claims, Decision> {
    let file = LicenseFile::parse(text.as_bytes())
        .map_err(|e| Decision::new(Status::Tampered, format!("cached license: {e}")))?;
    let verdict = file.verify(trust, now, &Expectations::default());
    let status = verdict.status();
    let problem = verdict.problem().map(ToString::to_string).unwrap_or_default();
    match verdict.into_claims() {
        Some(claims) if status == Status::Valid => Ok(claims),
        _ => Err(Decision::new(status, format!("license: {problem}"))),
    }
}

/// The cached receipt, through the cached (verified) delegation, for this license and hub.
pub(crate) fn verified_receipt(
    text: &str,
    delegation: &VerifiedDelegation,
    cache: &Cache,
    claims: &Claims,
) -> Result<ReceiptClaims, Decision> {
    let delegation =
        Delegation { claims: delegation.claims.clone(), vendor_key_id: delegation.vendor_key_id };
    let receipt = receipt::verify(text.as_bytes(), &delegation)
        .map_err(|e| Decision::new(Status::Tampered, format!("cached receipt: {e}")))?;
    if receipt.license_id != claims.id || receipt.hub_key_id != cache.hub_key_id {
        return Err(Decision::new(Status::Tampered, "the receipt is for another license or hub"));
    }
    Ok(receipt)
}

/// Why a bundle cannot be installed.
#[derive(Debug, thiserror::Error)]
#[error("bundle: {status}: {message}")]
#[non_exhaustive]
pub struct BadBundle {
    /// The status the bundle is refused with.
    pub status: Status,
    /// What is wrong with it, for people.
    pub message: String,
}

/// A bundle refused with `status`.
pub fn bad(status: Status, message: impl Into<String>) -> BadBundle {
    BadBundle { status, message: message.into() }
}

/// The lease that goes into the cache with a bundle.
#[derive(Debug, Clone, Copy)]
pub enum LeaseInput<'a> {
    /// A lease just granted: verified with the bundle's hub key.
    Signed(&'a str),
    /// The lease already in the cache (verified when it entered), kept when the hub hands
    /// out the bundle but no lease — e.g. the license was revoked: the runner must learn that.
    Kept(&'a LeaseClaims),
}

/// What a bundle brings into the cache once verified.
#[derive(Debug)]
pub struct Admitted {
    /// The portal key's delegation, verified (none for an offline activation).
    pub delegation: Option<VerifiedDelegation>,
    /// The lease, verified with the hub key.
    pub lease: LeaseClaims,
    /// The receipt's portal time: the latest time the runner has seen from the portal.
    pub portal_time: Option<UnixTime>,
    /// The bundle's `named_receipt`, when its delegation verifies with the trust set and the
    /// receipt under it, for this license and hub (else none: it only ever adds a
    /// countersignature, so one that does not verify is left out, never a reason to refuse
    /// the bundle).
    pub named: Option<KeptReceipt>,
}

/// Verifies everything in a bundle with the trust set before it enters the cache: the
/// license, the delegation and receipt (or the activation), the lease against the hub key
/// the receipt or activation names. Returns what the cache keeps.
pub fn admit(
    bundle: &Bundle,
    lease: LeaseInput<'_>,
    trust: &TrustSet,
    now: UnixTime,
) -> Result<Admitted, BadBundle> {
    let file = LicenseFile::parse(bundle.license.as_bytes())
        .map_err(|e| bad(Status::Malformed, e.to_string()))?;
    let verdict = file.verify(trust, now, &Expectations::default());
    let status = verdict.status();
    // An expired license may be cached (the check will say so); a forged one may not.
    let claims = verdict
        .into_claims()
        .ok_or_else(|| bad(status, "the license does not verify with the trust set"))?;
    let hub_key_id = bundle.hub_key.key_id();
    let (delegation, portal_time) = match (&bundle.activation, &bundle.receipt, &bundle.delegation)
    {
        (Some(text), _, _) => {
            let a = activation::verify_activation(text.as_bytes(), trust, now)
                .map_err(|e| bad(e.status(), e.to_string()))?;
            if a.license_id != claims.id || a.hub_key_id != hub_key_id {
                return Err(bad(Status::Malformed, "the activation is for another license or hub"));
            }
            (None, None)
        }
        (None, Some(receipt_text), Some(delegation_text)) => {
            let d = Delegation::verify(delegation_text.as_bytes(), trust, now)
                .map_err(|e| bad(e.status(), e.to_string()))?;
            let r = receipt::verify(receipt_text.as_bytes(), &d)
                .map_err(|e| bad(e.status(), e.to_string()))?;
            if r.license_id != claims.id || r.hub_key_id != hub_key_id {
                return Err(bad(Status::Malformed, "the receipt is for another license or hub"));
            }
            let verified = VerifiedDelegation { claims: d.claims, vendor_key_id: d.vendor_key_id };
            (Some(verified), Some(r.portal_time))
        }
        _ => {
            return Err(bad(
                Status::NoLicense,
                "the hub is not activated (no receipt, no activation)",
            ));
        }
    };
    let lease = match lease {
        LeaseInput::Signed(text) => activation::verify_lease(text.as_bytes(), &bundle.hub_key)
            .map_err(|e| bad(Status::BadSignature, format!("lease: {e}")))?,
        LeaseInput::Kept(claims) => claims.clone(),
    };
    if lease.license_id != claims.id {
        return Err(bad(Status::Malformed, "the lease is for another license"));
    }
    let named = match (&delegation, &bundle.named_receipt) {
        (Some(_), Some(named)) => admit_named(named, trust, &claims, &hub_key_id, now),
        _ => None,
    };
    Ok(Admitted { delegation, lease, portal_time, named })
}

/// A bundle's `named_receipt`, verified as its `receipt` and `delegation` are: the
/// delegation with the trust set, the receipt under it, for this license and hub key.
fn admit_named(
    named: &NamedReceipt,
    trust: &TrustSet,
    claims: &Claims,
    hub_key_id: &KeyId,
    now: UnixTime,
) -> Option<KeptReceipt> {
    let d = Delegation::verify(named.delegation.as_bytes(), trust, now).ok()?;
    let r = receipt::verify(named.receipt.as_bytes(), &d).ok()?;
    (r.license_id == claims.id && r.hub_key_id == *hub_key_id).then(|| KeptReceipt {
        receipt: named.receipt.clone(),
        delegation: VerifiedDelegation { claims: d.claims, vendor_key_id: d.vendor_key_id },
    })
}
