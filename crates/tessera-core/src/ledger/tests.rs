//! Every kind of edit an insider can make to an export, and what `verify` names it.

use super::*;
use crate::delegation::{self, DelegationClaims};
use crate::merkle::{Frontier, leaf_hash};
use crate::trust::TrustSet;

#[test]
fn the_canonical_bytes_are_fixed_width_numbers_and_length_prefixed_texts() {
    for (seq, at) in [(1u64, 0i64), (10, -1), (u64::MAX, i64::MIN), (999, i64::MAX)] {
        let entry = Entry {
            seq,
            at,
            actor: "a".into(),
            action: "b".into(),
            target: String::new(),
            org: Some("o".into()),
        };
        let mut expected = seq.to_be_bytes().to_vec();
        expected.extend(at.to_be_bytes());
        for field in ["a", "b", "", "o"] {
            expected.extend((field.len() as u64).to_be_bytes());
            expected.extend(field.as_bytes());
        }
        expected.push(1);
        assert_eq!(entry.bytes(), expected);
        assert_eq!(entry.leaf_hash(), leaf_hash(&expected));
    }
}

fn t(s: i64) -> UnixTime {
    UnixTime::from_unix(1_800_000_000 + s).expect("t")
}

/// A portal as the tests need one: it appends, signs checkpoints and cuts.
struct Portal {
    vendor: SigningKey,
    key: SigningKey,
    export: Export,
}

impl Portal {
    fn new() -> Portal {
        let mut portal = Portal {
            vendor: SigningKey::generate().expect("vendor"),
            key: SigningKey::generate().expect("portal"),
            export: Export::default(),
        };
        portal.delegate(t(0), t(1000));
        portal
    }

    fn delegate(&mut self, from: UnixTime, to: UnixTime) {
        let claims = DelegationClaims {
            portal_key: self.key.public_key().clone(),
            issued_at: from,
            not_before: from,
            not_after: to,
        };
        let text = delegation::sign_for(delegation::Purpose::Ledger, &claims, &self.vendor);
        self.export.delegations.push(text);
    }

    fn size(&self) -> u64 {
        self.export.frontier.as_ref().map_or(0, Frontier::size) + self.export.entries.len() as u64
    }

    fn append_entry(&mut self, action: &str, target: &str) {
        let entry = Entry {
            seq: self.size() + 1,
            at: 1_800_000_000,
            actor: "0123abcd".into(),
            action: action.into(),
            target: target.into(),
            org: None,
        };
        let hash = entry.leaf_hash();
        self.export.entries.push((entry, hash));
    }

    fn append(&mut self, action: &str) {
        self.append_entry(action, "license-1");
    }

    fn tree(&self) -> Frontier {
        let mut tree = self.export.frontier.clone().unwrap_or_default();
        for (_, leaf) in &self.export.entries {
            tree.push(*leaf);
        }
        tree
    }

    fn sign(&mut self, at: UnixTime) {
        sign_into(&self.key, &mut self.export, at);
    }

    /// Cuts entries through `to`, as the portal does: an entry records it, a checkpoint
    /// covers that entry, then the entries go and their frontier stays.
    fn cut(&mut self, to: u64, at: UnixTime) {
        let from = self.export.frontier.as_ref().map_or(0, Frontier::size) + 1;
        self.append_entry(CUT_ACTION, &cut_target(from, to));
        self.sign(at);
        let mut frontier = self.export.frontier.clone().unwrap_or_default();
        let held = (to + 1 - from) as usize;
        for (_, leaf) in self.export.entries.drain(..held) {
            frontier.push(leaf);
        }
        self.export.frontier = Some(frontier);
    }

    fn trust(&self) -> TrustSet {
        TrustSet::single(self.vendor.public_key().clone())
    }
}

/// Signs a checkpoint of `export`'s whole tree with `key`.
fn sign_into(key: &SigningKey, export: &mut Export, at: UnixTime) {
    let mut tree = export.frontier.clone().unwrap_or_default();
    for (_, leaf) in &export.entries {
        tree.push(*leaf);
    }
    let origin = origin_for(&export.delegations[0]);
    let checkpoint = Checkpoint { origin, size: tree.size(), root: tree.root() };
    let note = checkpoint.sign(key);
    export.checkpoints.push(Signed::parse(&note, at).expect("note"));
}

fn sample() -> Portal {
    let mut portal = Portal::new();
    for action in ["license.registered", "license.suspended", "user.invited", "user.joined"] {
        portal.append(action);
    }
    portal.sign(t(10));
    portal.append("license.reinstated");
    portal.sign(t(20));
    portal
}

#[test]
fn a_sound_export_verifies() {
    let portal = sample();
    for (entry, _) in &portal.export.entries {
        assert_eq!(entry.leaf_hash(), leaf_hash(&entry.bytes()), "one encoding");
    }
    let verified = verify(&portal.export, &portal.trust(), None).expect("sound");
    assert_eq!(
        verified,
        Verified {
            entries: 5,
            checkpoints: 2,
            size: 5,
            starts_after: 0,
            extends: None,
            witnessed: 0,
            witnessed_before_cut: 0,
        }
    );
}

#[test]
fn every_kind_of_edit_is_named() {
    let portal = sample();
    let trust = portal.trust();
    let check = |edit: &dyn Fn(&mut Export)| {
        let mut export = portal.export.clone();
        edit(&mut export);
        verify(&export, &trust, None)
    };
    assert_eq!(
        check(&|e| e.entries[1].0.action = "license.reinstated".into()),
        Err(LedgerError::Changed { seq: 2 })
    );
    assert_eq!(check(&|e| drop(e.entries.remove(2))), Err(LedgerError::Removed { seq: 3 }));
    assert_eq!(check(&|e| e.entries.swap(1, 2)), Err(LedgerError::Removed { seq: 2 }));
    assert_eq!(
        check(&|e| {
            let copy = e.entries[0].clone();
            e.entries.insert(2, copy);
        }),
        Err(LedgerError::Inserted { seq: 1 })
    );
    // A forger who recomputes the edited entry's hash is caught by the checkpoints.
    assert_eq!(
        check(&|e| {
            e.entries[1].0.target = "license-2".into();
            e.entries[1].1 = e.entries[1].0.leaf_hash();
        }),
        Err(LedgerError::Rewritten { size: 4, signed_at: t(10) })
    );
    // Every checkpoint removed.
    assert_eq!(check(&|e| e.checkpoints.clear()), Err(LedgerError::NoCheckpoint));
    // An entry appended with a valid hash after the last checkpoint.
    assert_eq!(
        check(&|e| {
            let mut entry = e.entries[4].0.clone();
            entry.seq = 6;
            let hash = entry.leaf_hash();
            e.entries.push((entry, hash));
        }),
        Err(LedgerError::Unsigned { from: 6, to: 6 })
    );
    // The newest entry dropped, its checkpoint kept.
    assert_eq!(
        check(&|e| drop(e.entries.pop())),
        Err(LedgerError::Truncated { size: 5, signed_at: t(20), held: 4 })
    );
    // A checkpoint's root changed: its signature no longer holds.
    assert!(matches!(
        check(&|e| {
            let signed = &e.checkpoints[0];
            let forged = signed.note.replacen("\n4\n", "\n3\n", 1);
            e.checkpoints[0] = Signed::parse(&forged, signed.signed_at).expect("note");
        }),
        Err(LedgerError::Undelegated { size: 3, .. })
    ));
}

#[test]
fn an_earlier_export_shows_whether_the_ledger_only_grew() {
    let mut portal = sample();
    let earlier = portal.export.clone();
    portal.append("license.revoked");
    portal.sign(t(30));
    let trust = portal.trust();
    let verified = verify(&portal.export, &trust, Some(&earlier)).expect("it grew");
    assert_eq!(verified.extends, Some(5));
    // The newest entries dropped together with their checkpoints: sound alone, caught
    // against what the auditor kept.
    let mut shrunk = portal.export.clone();
    shrunk.entries.truncate(3);
    shrunk.checkpoints.clear();
    sign_into(&portal.key, &mut shrunk, t(40));
    verify(&shrunk, &trust, None).expect("sound on its own");
    assert_eq!(
        verify(&shrunk, &trust, Some(&earlier)),
        Err(LedgerError::Shrunk { size: 5, held: 3 })
    );
    // Entries rewritten and the checkpoints replaced by new ones the portal's key signed
    // (the forgery an insider gets a careless portal to sign).
    let mut forged = portal.export.clone();
    forged.entries[1].0.target = "license-2".into();
    forged.entries[1].1 = forged.entries[1].0.leaf_hash();
    forged.checkpoints.clear();
    sign_into(&portal.key, &mut forged, t(40));
    verify(&forged, &trust, None).expect("sound on its own");
    assert_eq!(
        verify(&forged, &trust, Some(&earlier)),
        Err(LedgerError::Forked { size: 5, signed_at: t(20) })
    );
    // An earlier file with no checkpoint, or one of another vendor's ledger.
    let mut none = earlier.clone();
    none.checkpoints.clear();
    assert_eq!(verify(&portal.export, &trust, Some(&none)), Err(LedgerError::SinceEmpty));
    let stranger = sample();
    assert!(matches!(
        verify(&portal.export, &trust, Some(&stranger.export)),
        Err(LedgerError::Undelegated { .. })
    ));
}

#[test]
fn a_retention_cut_is_recorded_and_verifies_from_its_frontier_alone() {
    let mut portal = sample();
    portal.cut(4, t(30));
    let trust = portal.trust();
    assert_eq!(portal.export.entries.len(), 2, "entry 5 and the cut entry");
    let verified = verify(&portal.export, &trust, None).expect("sound");
    assert_eq!((verified.starts_after, verified.size), (4, 6));
    // Everything cut but the cut entry: the frontier and a checkpoint still vouch for it.
    portal.cut(6, t(40));
    assert_eq!(portal.export.entries.len(), 1);
    let verified = verify(&portal.export, &trust, None).expect("sound");
    assert_eq!((verified.entries, verified.starts_after, verified.size), (1, 6, 7));
    // The oldest entries deleted without a cut entry: with no frontier, and with a
    // correct frontier an insider computed.
    let mut plain = sample();
    let trust = plain.trust();
    plain.export.entries.drain(..2);
    assert_eq!(verify(&plain.export, &trust, None), Err(LedgerError::UnrecordedCut { to: 2 }));
    let mut insider = sample();
    let mut frontier = Frontier::new();
    for (_, leaf) in insider.export.entries.drain(..2) {
        frontier.push(leaf);
    }
    insider.export.frontier = Some(frontier);
    assert_eq!(
        verify(&insider.export, &insider.trust(), None),
        Err(LedgerError::UnrecordedCut { to: 2 })
    );
    // A frontier that is not what was cut: the root disagrees.
    let mut cut = sample();
    cut.cut(4, t(30));
    let mut wrong = cut.export.clone();
    if let Some(f) = &mut wrong.frontier {
        let mut hashes = f.hashes().to_vec();
        hashes[0][0] ^= 1;
        *f = Frontier::from_parts(f.size(), hashes).expect("frontier");
    }
    assert!(matches!(
        verify(&wrong, &cut.trust(), None),
        Err(LedgerError::Rewritten { size: 4, .. })
    ));
    // An earlier checkpoint older than the cut cannot be compared; one after it can.
    let mut portal = sample();
    let mut earlier = portal.export.clone();
    earlier.checkpoints.truncate(1);
    portal.cut(5, t(30));
    assert_eq!(
        verify(&portal.export, &portal.trust(), Some(&earlier)),
        Err(LedgerError::SinceBeforeCut { size: 4, cut: 5 })
    );
    let later = portal.export.clone();
    portal.append("license.revoked");
    portal.sign(t(40));
    let verified = verify(&portal.export, &portal.trust(), Some(&later)).expect("grew");
    assert_eq!(verified.extends, Some(6));
}

#[test]
fn checkpoints_need_a_delegation_valid_when_signed_and_survive_a_key_rotation() {
    let mut portal = sample();
    // The portal's key is rotated: a new key, delegated from t(500).
    portal.key = SigningKey::generate().expect("new key");
    portal.delegate(t(500), t(2000));
    portal.append("license.revoked");
    portal.sign(t(600));
    let trust = portal.trust();
    assert!(verify(&portal.export, &trust, None).is_ok(), "old and new checkpoints check");
    // A checkpoint signed outside its key's delegation is refused.
    let mut late = portal.export.clone();
    late.checkpoints[2].signed_at = t(100);
    assert!(matches!(verify(&late, &trust, None), Err(LedgerError::Undelegated { size: 6, .. })));
    // A receipt delegation of the same key does not let it sign checkpoints.
    let mut receipts_only = portal.export.clone();
    let claims = DelegationClaims {
        portal_key: portal.key.public_key().clone(),
        issued_at: t(0),
        not_before: t(0),
        not_after: t(2000),
    };
    receipts_only.delegations = vec![delegation::sign(&claims, &portal.vendor)];
    assert!(matches!(verify(&receipts_only, &trust, None), Err(LedgerError::Undelegated { .. })));
    // A stranger's vendor key vouches for nothing.
    let stranger = TrustSet::single(SigningKey::generate().expect("k").public_key().clone());
    assert!(matches!(
        verify(&portal.export, &stranger, None),
        Err(LedgerError::Undelegated { .. })
    ));
}

#[test]
fn notes_follow_the_signed_note_form() {
    // golang.org/x/mod/sumdb/note's example: key "PeterNeumann+c74f20a3+ARpc2Qc…".
    let key = base64::engine::general_purpose::STANDARD
        .decode("ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
        .expect("key");
    let key = PublicKey::from_bytes(&key[1..].try_into().expect("32")).expect("key");
    assert_eq!(hex::encode(note_key_id("PeterNeumann", &key)), "c74f20a3");
    let text = "If you think cryptography is the answer to your problem,\n\
                then you don't know what your problem is.\n";
    let signature = base64::engine::general_purpose::STANDARD
        .decode("x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=")
        .expect("signature");
    assert_eq!(signature[..4], note_key_id("PeterNeumann", &key));
    let signature: [u8; 64] = signature[4..].try_into().expect("64");
    assert!(key.verify(text.as_bytes(), &signature).is_ok());

    // Ours: three lines, a blank line, one signature line named for the origin.
    let portal = sample();
    let note = &portal.export.checkpoints[1].note;
    let lines: Vec<&str> = note.split('\n').collect();
    assert_eq!(lines[0], origin_for(&portal.export.delegations[0]));
    assert_eq!(lines[1], "5");
    assert_eq!(STANDARD.decode(lines[2]).expect("root"), portal.tree().root());
    assert_eq!(lines[3], "");
    assert!(lines[4].starts_with(&format!("\u{2014} {} ", lines[0])), "{note}");
    assert_eq!(lines[5], "");
    for broken in [
        note.replace("\n\n", "\n"),
        note.replacen("\n5\n", "\n05\n", 1),
        note.replacen("\u{2014}", "-", 1),
        lines[..4].join("\n"),
    ] {
        assert!(Signed::parse(&broken, t(0)).is_err(), "{broken}");
    }
}

#[test]
fn the_end_line_is_read_last_and_nothing_may_follow_it() {
    let entry = r#"{"kind":"entry","seq":1,"at":5,"actor":"cli","action":"a","target":"t","org":null,"hash":"00000000000000000000000000000000000000000000000000000000000000ff"}"#;
    let end = r#"{"kind":"end","size":1}"#;
    let read = Export::from_lines([entry, end]).expect("an export with its end");
    assert_eq!(read.end, Some(1));
    assert_eq!(Export::from_lines([entry]).expect("no end line").end, None);
    let after = Export::from_lines([entry, end, entry]).expect_err("a line after the end");
    assert_eq!(after.line, 3);
    assert!(after.message.contains("after the end line"), "{after}");
    // A blank line after the end is no line.
    assert_eq!(Export::from_lines([entry, end, ""]).expect("blank").end, Some(1));
    let unknown = Export::from_lines([r#"{"kind":"end","size":1,"more":2}"#]).expect_err("field");
    assert_eq!(unknown.line, 1);
}
