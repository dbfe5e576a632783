//! The countersignature rule through `check::decide`: the kept receipt answers "counted" only
//! while it permits running itself, never over the newest receipt's refusal or standing.

use std::time::Duration;

use tessera_core::Status;
use tessera_core::delegation::DelegationClaims;
use tessera_core::keyfile;
use tessera_core::keys::SigningKey;
use tessera_core::license::{LicenseTerms, sign};
use tessera_core::receipt::{self, Answers, Countersigned, Nonce};

use super::*;
use crate::cache::VerifiedDelegation;
use crate::check::decide;
use crate::machine::Machine;
use tessera_core::activation::Bundle;

const MACHINE_ID: &str = "0123456789abcdef0123456789abcdef";
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

struct Scene {
    vendor: SigningKey,
    portal: SigningKey,
    claims: Claims,
    cache: Cache,
    place: KeyId,
    machine: Machine,
    t0: UnixTime,
}

/// A cache of a `runner_countersign` license (hourly pings, 7 days of grace) whose lease
/// names this machine, with no receipt yet; `t0` is the portal time of the first receipt.
fn scene() -> Scene {
    let vendor = SigningKey::from_seed(&[1; 32]);
    let portal = SigningKey::from_seed(&[2; 32]);
    let hub = SigningKey::from_seed(&[3; 32]);
    let runner = SigningKey::from_seed(&[4; 32]);
    let t0: UnixTime = "2027-01-10".parse().expect("t0");
    let mut terms = LicenseTerms::new(
        "Acme Corp".parse().expect("org"),
        "acme-hub".parse().expect("product"),
        1,
        t0.saturating_add(DAY * 365),
    );
    terms.grace_period = DAY * 7;
    terms.ping_interval = HOUR;
    terms.runner_countersign = true;
    let claims = terms.issue(t0.saturating_sub(DAY)).expect("issue");
    let license = sign(&claims, &vendor).expect("sign");
    let machine = Machine::with_id(MACHINE_ID);
    let digest = machine.digest(&runner.key_id()).expect("digest");
    let place = runner_place(&runner.key_id(), Some(&digest));
    let delegation = DelegationClaims {
        portal_key: portal.public_key().clone(),
        issued_at: t0.saturating_sub(DAY),
        not_before: t0.saturating_sub(DAY),
        not_after: t0.saturating_add(DAY * 365),
    };
    let cache = Cache {
        generation: 1,
        runner_key_id: runner.key_id(),
        label: "r1".into(),
        hub: None,
        trust: keyfile::public(&vendor),
        license,
        receipt: None,
        named_receipt: None,
        delegation: Some(VerifiedDelegation { claims: delegation, vendor_key_id: vendor.key_id() }),
        activation: None,
        hub_key_id: hub.key_id(),
        lease: LeaseClaims {
            license_id: claims.id,
            runner_key_id: runner.key_id(),
            label: "r1".into(),
            nonce: Nonce::from_bytes([5; 16]),
            issued_at: t0,
            expires_at: t0.saturating_add(DAY * 30),
            machine: Some(digest),
        },
        receipt_time: None,
        high_water: t0,
        refreshed_at: t0,
    };
    Scene { vendor, portal, claims, cache, place, machine, t0 }
}

impl Scene {
    /// A receipt signed at `at` saying `status`, naming `keys` and refusing `refused`.
    fn receipt(&self, at: UnixTime, status: Status, keys: &[KeyId], refused: &[KeyId]) -> String {
        self.receipt_by(&self.portal, self.cache.hub_key_id, at, status, keys, refused)
    }

    /// [`Scene::receipt`], signed by `portal` for the hub key `hub`.
    fn receipt_by(
        &self,
        portal: &SigningKey,
        hub: KeyId,
        at: UnixTime,
        status: Status,
        keys: &[KeyId],
        refused: &[KeyId],
    ) -> String {
        let claims = ReceiptClaims {
            license_id: self.claims.id,
            answers: Answers::Ping,
            status,
            portal_time: at,
            nonce: Nonce::from_bytes([6; 16]),
            next_ping_by: at.saturating_add(HOUR),
            fingerprint: "f".repeat(64),
            hub_key_id: hub,
            ledger_head: None,
            runners: Some(Countersigned {
                limit: 1,
                keys: keys.to_vec(),
                refused: refused.to_vec(),
            }),
        };
        receipt::sign(&claims, portal)
    }

    /// `receipt` kept under the scene's (first) delegation.
    fn kept(&self, receipt: &str) -> KeptReceipt {
        KeptReceipt {
            receipt: receipt.to_owned(),
            delegation: self.cache.delegation.clone().expect("a delegation"),
        }
    }

    /// The newest receipt `newest` with `named` kept under the scene's delegation.
    fn check(&self, newest: String, named: Option<String>, now: UnixTime) -> Decision {
        self.check_kept(newest, named.map(|n| self.kept(&n)), now)
    }

    fn check_kept(&self, newest: String, named: Option<KeptReceipt>, now: UnixTime) -> Decision {
        let mut cache = self.cache.clone();
        cache.receipt = Some(newest);
        cache.named_receipt = named;
        cache.high_water = now;
        decide(&cache, now, Duration::from_secs(3600), &self.machine)
    }

    /// The vendor's delegation of `portal`'s key from `not_before`, signed, and as a cache
    /// keeps it.
    fn delegation(
        &self,
        portal: &SigningKey,
        not_before: UnixTime,
    ) -> (String, VerifiedDelegation) {
        let claims = DelegationClaims {
            portal_key: portal.public_key().clone(),
            issued_at: not_before,
            not_before,
            not_after: not_before.saturating_add(DAY * 365),
        };
        let text = tessera_core::delegation::sign(&claims, &self.vendor);
        (text, VerifiedDelegation { claims, vendor_key_id: self.vendor.key_id() })
    }

    /// The trust set the cache holds.
    fn trust(&self) -> TrustSet {
        TrustSet::parse(self.cache.trust.as_bytes()).expect("trust")
    }
}

/// The receipt naming the place at t0; a newer one (t0 + 2 h) that names nothing.
fn named_then_silent(s: &Scene) -> (String, String) {
    let named = s.receipt(s.t0, Status::Valid, &[s.place], &[]);
    let silent = s.receipt(s.t0.saturating_add(HOUR * 2), Status::Valid, &[], &[]);
    (named, silent)
}

#[test]
fn a_receipt_naming_the_place_lets_the_runner_run() {
    let s = scene();
    let (named, _) = named_then_silent(&s);
    assert_eq!(s.check(named, None, s.t0.saturating_add(HOUR)).status, Status::Valid);
}

#[test]
fn the_kept_receipt_countersigns_while_it_permits_running_itself() {
    let s = scene();
    let (named, silent) = named_then_silent(&s);
    let now = s.t0.saturating_add(HOUR * 3);
    // The bug this fixes: the newest receipt alone refuses an honest runner.
    let alone = s.check(silent.clone(), None, now);
    assert_eq!(alone.status, Status::RunnerLimitExceeded, "{}", alone.reason);
    assert!(alone.reason.contains("has not countersigned"), "{}", alone.reason);
    // With the receipt that named it kept: it runs (the newest receipt is fresh: valid).
    assert_eq!(s.check(silent.clone(), Some(named.clone()), now).status, Status::Valid);
    // Six days on, the kept receipt is within its 7 days of grace; so is the newest.
    let later = s.t0.saturating_add(DAY * 6);
    assert_eq!(s.check(silent, Some(named), later).status, Status::Grace);
}

#[test]
fn a_kept_receipt_past_its_own_grace_countersigns_nothing() {
    let s = scene();
    let named = s.receipt(s.t0, Status::Valid, &[s.place], &[]);
    // The newest receipt is fresh, the kept one eight days old: past its grace (7 days and
    // the check's hour), when the portal counts the place no longer.
    let now = s.t0.saturating_add(DAY * 8);
    let newest = s.receipt(now.saturating_sub(HOUR / 2), Status::Valid, &[], &[]);
    let decision = s.check(newest, Some(named), now);
    assert_eq!(decision.status, Status::RunnerLimitExceeded, "{}", decision.reason);
}

#[test]
fn a_place_the_newest_receipt_refuses_is_refused_whatever_was_kept() {
    let s = scene();
    let named = s.receipt(s.t0, Status::Valid, &[s.place], &[]);
    let refusing = s.receipt(s.t0.saturating_add(HOUR), Status::Valid, &[], &[s.place]);
    let decision = s.check(refusing, Some(named), s.t0.saturating_add(HOUR * 2));
    assert_eq!(decision.status, Status::RunnerLimitExceeded);
    assert!(decision.reason.contains("refused"), "{}", decision.reason);
}

#[test]
fn standing_comes_from_the_newest_receipt() {
    let s = scene();
    let named = s.receipt(s.t0, Status::Valid, &[s.place], &[]);
    for status in [Status::Revoked, Status::Suspended, Status::Cloned] {
        let newest = s.receipt(s.t0.saturating_add(HOUR), status, &[], &[]);
        let decision = s.check(newest, Some(named.clone()), s.t0.saturating_add(HOUR * 2));
        assert_eq!(decision.status, status, "{}", decision.reason);
    }
}

#[test]
fn a_kept_receipt_naming_another_place_or_forged_counts_for_nothing() {
    let s = scene();
    let (_, silent) = named_then_silent(&s);
    let other = runner_place(&SigningKey::from_seed(&[9; 32]).key_id(), None);
    let elsewhere = s.receipt(s.t0, Status::Valid, &[other], &[]);
    let now = s.t0.saturating_add(HOUR * 3);
    assert_eq!(s.check(silent.clone(), Some(elsewhere), now).status, Status::RunnerLimitExceeded);
    // Signed by a key the vendor did not delegate.
    let forger = SigningKey::from_seed(&[8; 32]);
    let hub = s.cache.hub_key_id;
    let forged = s.receipt_by(&forger, hub, s.t0, Status::Valid, &[s.place], &[]);
    assert_eq!(s.check(silent.clone(), Some(forged), now).status, Status::RunnerLimitExceeded);
    // Of another license, or of another hub key (a hub installed anew: its lease's key).
    let mut other_license = s.claims.clone();
    other_license.id = "6f1c1f1e-3a5b-4c1d-9e2f-0a1b2c3d4e5f".parse().expect("id");
    let elsewhere = Scene { claims: other_license, ..scene() };
    let for_another = elsewhere.receipt(s.t0, Status::Valid, &[s.place], &[]);
    assert_eq!(s.check(silent.clone(), Some(for_another), now).status, Status::RunnerLimitExceeded);
    let old_hub = SigningKey::from_seed(&[11; 32]).key_id();
    let of_old_hub = s.receipt_by(&s.portal, old_hub, s.t0, Status::Valid, &[s.place], &[]);
    assert_eq!(s.check(silent, Some(of_old_hub), now).status, Status::RunnerLimitExceeded);
}

#[test]
fn a_new_cache_keeps_the_newest_receipt_that_named_the_place() {
    let s = scene();
    let (named, silent) = named_then_silent(&s);
    let refusing = s.receipt(s.t0.saturating_add(HOUR * 3), Status::Valid, &[], &[s.place]);
    let mut previous = s.cache.clone();
    previous.receipt = Some(named.clone());
    let (lease, hub, trust, now) = (&s.cache.lease, &s.cache.hub_key_id, s.trust(), s.t0);
    let kept = |previous: &Cache, newest: &str| {
        super::kept(Some(previous), Some(newest), lease, hub, None, &trust, now)
    };
    // The new receipt names nothing: the previous one, which named the place, is kept with
    // the delegation it came with.
    assert_eq!(kept(&previous, &silent), Some(s.kept(&named)));
    // And kept on through a further refresh that names nothing either.
    let mut after = previous.clone();
    after.receipt = Some(silent.clone());
    after.named_receipt = Some(s.kept(&named));
    assert_eq!(kept(&after, &silent), Some(s.kept(&named)));
    // A receipt naming the place, or refusing it, ends the keeping.
    assert_eq!(kept(&after, &named), None);
    assert_eq!(kept(&after, &refusing), None);
    // Another hub's receipts, or a lease naming no machine: nothing kept.
    let other_hub = SigningKey::from_seed(&[7; 32]).key_id();
    assert_eq!(
        super::kept(Some(&after), Some(&silent), lease, &other_hub, None, &trust, now),
        None
    );
    let no_machine = LeaseClaims { machine: None, ..lease.clone() };
    assert_eq!(super::kept(Some(&after), Some(&silent), &no_machine, hub, None, &trust, now), None);
    assert_eq!(super::kept(None, Some(&silent), lease, hub, None, &trust, now), None);
    // A trust set given anew that no longer holds the vendor's key: nothing carried over.
    let stranger = TrustSet::parse(keyfile::public(&SigningKey::from_seed(&[9; 32])).as_bytes())
        .expect("trust");
    assert_eq!(super::kept(Some(&after), Some(&silent), lease, hub, None, &stranger, now), None);
}

/// The fix for a renewed delegation: the kept receipt verifies under the delegation it was
/// signed under, not the cache's newest one, which a renewal from a later date (or of a new
/// portal key) makes no longer cover it.
#[test]
fn the_kept_receipt_verifies_under_its_own_delegation_after_a_renewal() {
    let s = scene();
    let named = s.receipt(s.t0, Status::Valid, &[s.place], &[]);
    // The vendor renews the delegation from t0 + 1 h, for a new portal key.
    let renewed_portal = SigningKey::from_seed(&[12; 32]);
    let (_, renewed) = s.delegation(&renewed_portal, s.t0.saturating_add(HOUR));
    let hub = s.cache.hub_key_id;
    let silent =
        s.receipt_by(&renewed_portal, hub, s.t0.saturating_add(HOUR * 2), Status::Valid, &[], &[]);
    let now = s.t0.saturating_add(HOUR * 3);
    let mut cache = s.cache.clone();
    cache.delegation = Some(renewed.clone());
    cache.receipt = Some(silent.clone());
    cache.high_water = now;
    // Under the cache's newest delegation the kept receipt does not verify: refused. This
    // is what the runner did before it kept the receipt's own delegation.
    cache.named_receipt = Some(KeptReceipt { receipt: named.clone(), delegation: renewed });
    let refused = decide(&cache, now, HOUR, &s.machine);
    assert_eq!(refused.status, Status::RunnerLimitExceeded, "{}", refused.reason);
    // Under its own: it runs.
    cache.named_receipt = Some(s.kept(&named));
    let decision = decide(&cache, now, HOUR, &s.machine);
    assert_eq!(decision.status, Status::Valid, "{}", decision.reason);
    // And a new cache carries that delegation over with it.
    let mut previous = s.cache.clone();
    previous.receipt = Some(named.clone());
    let carried = kept(
        Some(&previous),
        Some(&silent),
        &s.cache.lease,
        &s.cache.hub_key_id,
        None,
        &s.trust(),
        now,
    );
    assert_eq!(carried, Some(s.kept(&named)));
}

/// The receipt a hub hands with its bundle (a runner restored from a backup, or whose cache
/// was lost, has none of its own) is kept when it names the place, and is the newest.
#[test]
fn a_receipt_the_hub_hands_over_is_kept_when_it_names_the_place() {
    let s = scene();
    let (named, silent) = named_then_silent(&s);
    let (lease, hub, trust, now) = (&s.cache.lease, &s.cache.hub_key_id, s.trust(), s.t0);
    let offered = Some(s.kept(&named));
    assert_eq!(kept(None, Some(&silent), lease, hub, offered.clone(), &trust, now), offered);
    // The newest of what the cache held and what the hub offers.
    let older = s.receipt(s.t0.saturating_sub(HOUR), Status::Valid, &[s.place], &[]);
    let mut previous = s.cache.clone();
    previous.receipt = Some(older.clone());
    assert_eq!(
        kept(Some(&previous), Some(&silent), lease, hub, offered.clone(), &trust, now),
        offered
    );
    let mut held_newer = s.cache.clone();
    held_newer.named_receipt = Some(s.kept(&named));
    let older_offered = Some(s.kept(&older));
    assert_eq!(
        kept(Some(&held_newer), Some(&silent), lease, hub, older_offered, &trust, now),
        Some(s.kept(&named))
    );
    // Offered for another place: not kept.
    let other = runner_place(&SigningKey::from_seed(&[9; 32]).key_id(), None);
    let elsewhere = Some(s.kept(&s.receipt(s.t0, Status::Valid, &[other], &[])));
    assert_eq!(kept(None, Some(&silent), lease, hub, elsewhere, &trust, now), None);
    // When the newest refuses the place, nothing offered is kept.
    let refusing = s.receipt(s.t0.saturating_add(HOUR * 3), Status::Valid, &[], &[s.place]);
    assert_eq!(kept(None, Some(&refusing), lease, hub, offered, &trust, now), None);
}

/// What a bundle's `named_receipt` must be to enter: its delegation verifies with the trust
/// set, the receipt under it, for this license and hub. Anything else is left out (the
/// bundle itself still installs).
#[test]
fn a_named_receipt_the_hub_hands_over_must_verify_to_enter() {
    use tessera_core::activation::{NamedReceipt, sign_lease};
    let s = scene();
    let hub = SigningKey::from_seed(&[3; 32]);
    let (named, silent) = named_then_silent(&s);
    let (delegation_text, _) = s.delegation(&s.portal, s.t0.saturating_sub(DAY));
    let bundle = |named_receipt: Option<NamedReceipt>| Bundle {
        status: Status::Valid,
        license: s.cache.license.clone(),
        receipt: Some(silent.clone()),
        delegation: Some(delegation_text.clone()),
        activation: None,
        hub_key: hub.public_key().clone(),
        lease: Some(sign_lease(&s.cache.lease, &hub)),
        named_receipt,
    };
    let admitted = |named_receipt| {
        let bundle = bundle(named_receipt);
        let lease = bundle.lease.clone().expect("lease");
        crate::check::admit(&bundle, crate::check::LeaseInput::Signed(&lease), &s.trust(), s.t0)
            .expect("the bundle installs")
            .named
    };
    let genuine = NamedReceipt { receipt: named.clone(), delegation: delegation_text.clone() };
    let entered = admitted(Some(genuine)).expect("a genuine named receipt enters");
    assert_eq!(entered.receipt, named);
    assert_eq!(entered.delegation.claims.portal_key, s.portal.public_key().clone());
    assert_eq!(admitted(None), None);
    // Signed by a key the vendor did not delegate, under a delegation the vendor did not
    // sign, or for another license: left out.
    let forger = SigningKey::from_seed(&[8; 32]);
    let forged = s.receipt_by(&forger, hub.key_id(), s.t0, Status::Valid, &[s.place], &[]);
    assert_eq!(
        admitted(Some(NamedReceipt { receipt: forged, delegation: delegation_text.clone() })),
        None
    );
    let stranger = Scene { vendor: SigningKey::from_seed(&[10; 32]), ..scene() };
    let (foreign_delegation, _) = stranger.delegation(&s.portal, s.t0.saturating_sub(DAY));
    assert_eq!(
        admitted(Some(NamedReceipt { receipt: named, delegation: foreign_delegation })),
        None
    );
    let mut other_license = s.claims.clone();
    other_license.id = "6f1c1f1e-3a5b-4c1d-9e2f-0a1b2c3d4e5f".parse().expect("id");
    let elsewhere = Scene { claims: other_license, ..scene() };
    let for_another = elsewhere.receipt(s.t0, Status::Valid, &[s.place], &[]);
    assert_eq!(
        admitted(Some(NamedReceipt { receipt: for_another, delegation: delegation_text.clone() })),
        None
    );
}

/// Attack: a runner that runs on the countersignature of a kept receipt stops when that
/// receipt's grace ends, which can be days before the newest receipt's: what `check` reports
/// (`grace_left_secs`, and `valid` while the newest receipt is fresh) must not promise more
/// than the kept receipt leaves. Here the kept receipt is six days old, the newest fresh: the
/// runner stops one day on, and must not say it has seven.
#[test]
fn a_runner_on_a_kept_receipt_reports_no_more_grace_than_that_receipt_leaves() {
    let s = scene();
    let named = s.receipt(s.t0, Status::Valid, &[s.place], &[]);
    let now = s.t0.saturating_add(DAY * 6);
    let newest = s.receipt(now.saturating_sub(HOUR / 2), Status::Valid, &[], &[]);
    let decision = s.check(newest.clone(), Some(named.clone()), now);
    assert!(decision.status.permits_running(), "{}", decision.reason);
    let kept_left = (DAY * 7).as_secs() - (DAY * 6).as_secs();
    let left = decision.grace_left_secs.expect("grace left");
    assert!(
        left <= kept_left,
        "reports {left} s of grace left, but the kept receipt it runs on ends in {kept_left} s"
    );
    // And a day and a second on it is indeed refused.
    let after = now.saturating_add(DAY).saturating_add(Duration::from_secs(1));
    let newest = s.receipt(after.saturating_sub(HOUR / 2), Status::Valid, &[], &[]);
    assert_eq!(s.check(newest, Some(named), after).status, Status::RunnerLimitExceeded);
}
