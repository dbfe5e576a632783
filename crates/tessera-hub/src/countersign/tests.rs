//! What the hub keeps for each runner place and hands out: the newest receipt naming it,
//! never for a place the latest receipt refuses, past its grace, or of no runner.

use std::time::Duration;

use tessera_core::Status;
use tessera_core::chain::Chain;
use tessera_core::keys::SigningKey;
use tessera_core::license::LicenseTerms;
use tessera_core::machine::MachineDigest;
use tessera_core::receipt::{self, Answers, Countersigned, Nonce};

use super::*;

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

struct Scene {
    portal: SigningKey,
    hub: SigningKey,
    license: Claims,
    state: HubState,
    /// The places of runners r1 and r2.
    places: [KeyId; 2],
    t0: UnixTime,
}

/// A `runner_countersign` license (hourly pings, 7 days of grace) whose hub leased two
/// runners, each on a machine.
fn scene() -> Scene {
    let t0: UnixTime = "2027-01-10".parse().expect("t0");
    let mut terms = LicenseTerms::new(
        "Acme Corp".parse().expect("org"),
        "acme-hub".parse().expect("product"),
        2,
        t0.saturating_add(DAY * 365),
    );
    terms.grace_period = DAY * 7;
    terms.ping_interval = HOUR;
    terms.runner_countersign = true;
    let license = terms.issue(t0.saturating_sub(DAY)).expect("issue");
    let mut state = HubState::default();
    let mut places = Vec::new();
    for (seed, name) in [(4u8, "r1"), (5, "r2")] {
        let key = SigningKey::from_seed(&[seed; 32]);
        let machine = MachineDigest::of("0123456789abcdef0123456789abcdef", &key.key_id());
        let record = RunnerRecord {
            key: key.public_key().clone(),
            label: name.into(),
            enrolled_at: t0,
            lease_until: Some(t0.saturating_add(HOUR)),
            chain: Chain::default(),
            last_call_ms: 0,
            cloned_at: None,
            machine,
        };
        places.push(place_of(&record));
        state.runners.insert(key.key_id().to_string(), record);
    }
    let places = [places[0], places[1]];
    Scene {
        portal: SigningKey::from_seed(&[2; 32]),
        hub: SigningKey::from_seed(&[3; 32]),
        license,
        state,
        places,
        t0,
    }
}

impl Scene {
    /// A receipt at `at` naming `keys` and refusing `refused`, with a delegation text
    /// (unverified here: the hub's bookkeeping reads claims, runners verify).
    fn receipt(&self, at: UnixTime, keys: &[KeyId], refused: &[KeyId]) -> NamedReceipt {
        let claims = ReceiptClaims {
            license_id: self.license.id,
            answers: Answers::Ping,
            status: Status::Valid,
            portal_time: at,
            nonce: Nonce::from_bytes([6; 16]),
            next_ping_by: at.saturating_add(HOUR),
            fingerprint: "f".repeat(64),
            hub_key_id: self.hub.key_id(),
            ledger_head: None,
            runners: Some(Countersigned {
                limit: 2,
                keys: keys.to_vec(),
                refused: refused.to_vec(),
            }),
        };
        NamedReceipt {
            receipt: receipt::sign(&claims, &self.portal),
            delegation: format!("delegation at {at}"),
        }
    }

    /// The hub takes `next` as its receipt at `now`.
    fn ping(&mut self, next: &NamedReceipt, now: UnixTime) {
        let previous = self.state.receipt.clone().zip(self.state.delegation.clone());
        let previous = previous.map(|(receipt, delegation)| NamedReceipt { receipt, delegation });
        self.state.receipt = Some(next.receipt.clone());
        self.state.delegation = Some(next.delegation.clone());
        keep_named(&mut self.state, previous, &self.license, &self.hub.key_id(), now);
    }

    fn named(&self, place: usize, now: UnixTime) -> Option<NamedReceipt> {
        named_for(&self.state, &self.places[place], &self.license, &self.hub.key_id(), now)
            .map(|(n, _)| n)
    }
}

#[test]
fn the_hub_keeps_per_place_the_newest_receipt_that_named_it() {
    let mut s = scene();
    let [p1, p2] = s.places;
    let both = s.receipt(s.t0, &[p1, p2], &[]);
    s.ping(&both, s.t0);
    assert!(s.state.named_receipts.is_empty(), "the newest names both");
    assert_eq!(s.named(0, s.t0), None);
    // r1's lease lapsed before the next ping: that receipt names r2 only. r1 gets the
    // one before, with the delegation it came with; r2 needs none.
    let t1 = s.t0.saturating_add(HOUR);
    let r2_only = s.receipt(t1, &[p2], &[]);
    s.ping(&r2_only, t1);
    assert_eq!(s.named(0, t1), Some(both.clone()));
    assert_eq!(s.named(1, t1), None);
    // Pings that name r1 no more keep it, one receipt for both places when neither is
    // named, and then the newest for each.
    let t2 = s.t0.saturating_add(HOUR * 2);
    let none = s.receipt(t2, &[], &[]);
    s.ping(&none, t2);
    assert_eq!(s.named(0, t2), Some(both.clone()));
    assert_eq!(s.named(1, t2), Some(r2_only.clone()));
    assert_eq!(s.state.named_receipts.len(), 2);
    let t3 = s.t0.saturating_add(HOUR * 3);
    s.ping(&s.receipt(t3, &[], &[]), t3);
    assert_eq!(s.state.named_receipts, vec![r2_only.clone(), both.clone()]);
    // A receipt that names r1 again ends the keeping for r1.
    let t4 = s.t0.saturating_add(HOUR * 4);
    s.ping(&s.receipt(t4, &[p1], &[]), t4);
    assert_eq!(s.named(0, t4), None);
    assert_eq!(s.state.named_receipts, vec![r2_only]);
}

#[test]
fn a_place_refused_past_its_grace_or_of_no_runner_gets_nothing_kept() {
    let mut s = scene();
    let [p1, p2] = s.places;
    let both = s.receipt(s.t0, &[p1, p2], &[]);
    s.ping(&both, s.t0);
    // The newest refuses r1: nothing handed to it (the runner is refused either way).
    let t1 = s.t0.saturating_add(HOUR);
    s.ping(&s.receipt(t1, &[], &[p1]), t1);
    assert_eq!(s.named(0, t1), None);
    assert_eq!(s.named(1, t1), Some(both.clone()));
    // Past that receipt's grace (7 days): not handed out, and dropped at the next ping.
    let late = s.t0.saturating_add(DAY * 7 + HOUR);
    assert_eq!(s.named(1, late), None);
    s.ping(&s.receipt(late, &[], &[]), late);
    assert!(s.state.named_receipts.is_empty());
    // A runner released (it holds no lease) or forgotten: its place needs nothing.
    let mut s = scene();
    s.ping(&both, s.t0);
    s.state.runners.values_mut().for_each(|r| r.lease_until = None);
    s.ping(&s.receipt(t1, &[], &[]), t1);
    assert!(s.state.named_receipts.is_empty());
    // Of another hub key (a hub whose key changed): not kept.
    let mut s = scene();
    s.ping(&both, s.t0);
    let (old, new) = (s.hub.key_id(), SigningKey::from_seed(&[9; 32]));
    s.hub = new;
    s.ping(&s.receipt(t1, &[], &[]), t1);
    assert_ne!(old, s.hub.key_id());
    assert!(s.state.named_receipts.is_empty());
    // A license without runner_countersign keeps nothing.
    let mut s = scene();
    s.license.runner_countersign = false;
    s.ping(&both, s.t0);
    s.ping(&s.receipt(t1, &[], &[]), t1);
    assert!(s.state.named_receipts.is_empty());
}

/// Attack (operator's view): once the portal says the license may not run (revoked,
/// suspended: its receipt countersigns nothing), `runners list` must not tell the operator
/// that a runner is "countersigned by the portal in an earlier receipt (the latest does not
/// name it: its lease lapsed before the last ping), until T" a week on: no runner runs.
#[test]
fn a_receipt_that_lets_no_runner_run_hands_out_no_earlier_countersignature() {
    for status in [Status::Revoked, Status::Suspended, Status::Cloned] {
        let mut s = scene();
        let [p1, p2] = s.places;
        let both = s.receipt(s.t0, &[p1, p2], &[]);
        s.ping(&both, s.t0);
        let t1 = s.t0.saturating_add(HOUR);
        let claims = ReceiptClaims {
            license_id: s.license.id,
            answers: Answers::Ping,
            status,
            portal_time: t1,
            nonce: Nonce::from_bytes([7; 16]),
            next_ping_by: t1.saturating_add(HOUR),
            fingerprint: "f".repeat(64),
            hub_key_id: s.hub.key_id(),
            ledger_head: None,
            runners: None,
        };
        let refusal = NamedReceipt {
            receipt: receipt::sign(&claims, &s.portal),
            delegation: "delegation".into(),
        };
        s.ping(&refusal, t1);
        assert_eq!(s.named(0, t1), None, "{status}: an earlier countersignature shown");
        assert_eq!(s.named(1, t1), None, "{status}: an earlier countersignature shown");
    }
}

/// Attack (a place the portal refused): after the vendor freed the places and another
/// runner took r1's, the portal refuses r1's place. r1 is silent in the next receipt (its
/// lease lapsed), and the hub hands it the receipt from before the refusal, which it kept
/// for r2's place: r1 runs again, on a countersignature the portal has since refused, until
/// that older receipt's grace ends. Bounded by the freeing row of docs/SECURITY.md, but a
/// refusal should end what came before it.
#[test]
fn a_place_refused_since_gets_nothing_from_a_receipt_kept_for_another() {
    let mut s = scene();
    let [p1, p2] = s.places;
    let both = s.receipt(s.t0, &[p1, p2], &[]);
    s.ping(&both, s.t0);
    // The newest refuses r1 and says nothing of r2 (its lease lapsed): `both` is kept for r2.
    let t1 = s.t0.saturating_add(HOUR);
    s.ping(&s.receipt(t1, &[], &[p1]), t1);
    assert_eq!(s.named(0, t1), None);
    assert_eq!(s.named(1, t1), Some(both.clone()));
    // Now r1's lease lapsed too: the next receipt says nothing of either.
    let t2 = s.t0.saturating_add(HOUR * 2);
    s.ping(&s.receipt(t2, &[], &[]), t2);
    assert_eq!(s.named(1, t2), Some(both.clone()));
    assert_eq!(s.named(0, t2), None, "r1 gets the receipt from before its refusal");
}
