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

const MACHINE_ID: &str = "0123456789abcdef0123456789abcdef";
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

struct Scene {
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
    Scene { portal, claims, cache, place, machine, t0 }
}

impl Scene {
    /// A receipt signed at `at` saying `status`, naming `keys` and refusing `refused`.
    fn receipt(&self, at: UnixTime, status: Status, keys: &[KeyId], refused: &[KeyId]) -> String {
        let claims = ReceiptClaims {
            license_id: self.claims.id,
            answers: Answers::Ping,
            status,
            portal_time: at,
            nonce: Nonce::from_bytes([6; 16]),
            next_ping_by: at.saturating_add(HOUR),
            fingerprint: "f".repeat(64),
            hub_key_id: self.cache.hub_key_id,
            ledger_head: None,
            runners: Some(Countersigned {
                limit: 1,
                keys: keys.to_vec(),
                refused: refused.to_vec(),
            }),
        };
        receipt::sign(&claims, &self.portal)
    }

    fn check(&self, newest: String, named: Option<String>, now: UnixTime) -> Decision {
        let mut cache = self.cache.clone();
        cache.receipt = Some(newest);
        cache.named_receipt = named;
        cache.high_water = now;
        decide(&cache, now, Duration::from_secs(3600), &self.machine)
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
    let forger = Scene { portal: SigningKey::from_seed(&[8; 32]), ..scene() };
    let forged = forger.receipt(s.t0, Status::Valid, &[s.place], &[]);
    assert_eq!(s.check(silent, Some(forged), now).status, Status::RunnerLimitExceeded);
}

#[test]
fn a_new_cache_keeps_the_newest_receipt_that_named_the_place() {
    let s = scene();
    let (named, silent) = named_then_silent(&s);
    let refusing = s.receipt(s.t0.saturating_add(HOUR * 3), Status::Valid, &[], &[s.place]);
    let mut previous = s.cache.clone();
    previous.receipt = Some(named.clone());
    let (lease, hub) = (&s.cache.lease, &s.cache.hub_key_id);
    // The new receipt names nothing: the previous one, which named the place, is kept.
    assert_eq!(kept(Some(&previous), Some(&silent), lease, hub), Some(named.clone()));
    // And kept on through a further refresh that names nothing either.
    let mut after = previous.clone();
    after.receipt = Some(silent.clone());
    after.named_receipt = Some(named.clone());
    assert_eq!(kept(Some(&after), Some(&silent), lease, hub), Some(named.clone()));
    // A receipt naming the place, or refusing it, ends the keeping.
    assert_eq!(kept(Some(&after), Some(&named), lease, hub), None);
    assert_eq!(kept(Some(&after), Some(&refusing), lease, hub), None);
    // Another hub's receipts, or a lease naming no machine: nothing kept.
    let other_hub = SigningKey::from_seed(&[7; 32]).key_id();
    assert_eq!(kept(Some(&after), Some(&silent), lease, &other_hub), None);
    let no_machine = LeaseClaims { machine: None, ..lease.clone() };
    assert_eq!(kept(Some(&after), Some(&silent), &no_machine, hub), None);
    assert_eq!(kept(None, Some(&silent), lease, hub), None);
}
