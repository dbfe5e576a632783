//! The portal's audit ledger: every change made by a person or an API key, as a hash chain
//! whose heads the portal signs with its receipt key. One rule here for the portal that
//! appends and signs and for `tessera audit verify`, which checks an export offline.
//!
//! Entry `n`'s hash is SHA-256(hash of entry `n-1` ‖ its canonical text), the first entry's
//! predecessor being 32 zero bytes. A head says "entry `seq` has hash `h`" at a time, signed
//! by the portal's key; it is checked against the vendor's ledger delegation of that key
//! (`LEDGER DELEGATION`: a receipt delegation does not let a key sign heads) valid when it was
//! signed, so an export stays verifiable after the key is rotated.

use sha2::{Digest, Sha256};

use crate::armor::{Envelope, Kind};
use crate::delegation::{Delegation, DelegationClaims, Purpose};
use crate::keys::{KeyId, PublicKey, SigningKey};
use crate::time::UnixTime;
use crate::trust::TrustSet;

/// The predecessor of the first entry.
pub const GENESIS: [u8; 32] = [0; 32];

/// One ledger entry. The actor is a pseudonymous id (a person's random id, `key:<id>` for an
/// API key, `cli` for the portal's command line), never a name or an email.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    /// The entry's number: 1, 2, … without gaps.
    pub seq: u64,
    /// When it happened, Unix seconds.
    pub at: i64,
    /// Who did it (pseudonymous).
    pub actor: String,
    /// What was done.
    pub action: String,
    /// What it was done to.
    pub target: String,
    /// The organization concerned, if any.
    pub org: Option<String>,
}

impl Entry {
    /// The entry's hash, following the entry whose hash is `previous`.
    pub fn hash_after(&self, previous: &[u8; 32]) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(previous);
        // Lengths first: no field can run into the next.
        for field in [
            self.seq.to_string().as_str(),
            self.at.to_string().as_str(),
            &self.actor,
            &self.action,
            &self.target,
            self.org.as_deref().unwrap_or(""),
        ] {
            hasher.update((field.len() as u64).to_be_bytes());
            hasher.update(field.as_bytes());
        }
        hasher.update([u8::from(self.org.is_some())]);
        hasher.finalize().into()
    }
}

/// A signed head: entry `seq` has `hash`, as of `signed_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The entry the head covers.
    pub seq: u64,
    /// That entry's hash.
    pub hash: [u8; 32],
    /// When the head was signed.
    pub signed_at: UnixTime,
}

impl Head {
    fn message(&self) -> Vec<u8> {
        let mut message = b"tessera ledger head v1\0".to_vec();
        message.extend(self.seq.to_be_bytes());
        message.extend(self.hash);
        message.extend(self.signed_at.as_unix().to_be_bytes());
        message
    }

    /// Signs the head with the portal's key.
    pub fn sign(&self, key: &SigningKey) -> [u8; 64] {
        key.sign(&self.message())
    }

    /// Whether `signature` is `key`'s signature of this head.
    pub fn verify(&self, key: &PublicKey, signature: &[u8; 64]) -> bool {
        key.verify(&self.message(), signature).is_ok()
    }
}

/// What an export holds, as `tessera audit verify` reads it.
#[derive(Debug, Default)]
pub struct Export {
    /// Entries with the hash the portal stored for each, in the file's order.
    pub entries: Vec<(Entry, [u8; 32])>,
    /// Heads, each with the id of the key that signed it and the signature.
    pub heads: Vec<(Head, KeyId, [u8; 64])>,
    /// The delegations of the keys that signed heads (armored text).
    pub delegations: Vec<String>,
}

/// A line of an export that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ExportLineError {
    /// The line number.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

impl Export {
    /// Reads an export as `GET /v1/admin/audit` writes it: JSON lines, each a
    /// `delegation` (`text`), an `entry` (its fields and `hash`) or a `head` (`seq`, `hash`,
    /// `signed_at`, `key_id`, `signature`).
    pub fn from_lines<I, S>(lines: I) -> Result<Export, ExportLineError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut export = Export::default();
        for (i, line) in lines.into_iter().enumerate() {
            let bad = |message: String| ExportLineError { line: i + 1, message };
            let line = line.as_ref().trim();
            if line.is_empty() {
                continue;
            }
            let parsed: Line = serde_json::from_str(line).map_err(|e| {
                bad(format!("not a delegation, an entry or a head of an audit export: {e}"))
            })?;
            let hex32 = |what: &str, text: &str| -> Result<[u8; 32], ExportLineError> {
                hex::decode(text)
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| bad(format!("{what}: 64 hex digits")))
            };
            match parsed {
                Line::Delegation { text } => export.delegations.push(text),
                Line::Entry { seq, at, actor, action, target, org, hash } => {
                    let hash = hex32("hash", &hash)?;
                    export.entries.push((Entry { seq, at, actor, action, target, org }, hash));
                }
                Line::Head { seq, hash, signed_at, key_id, signature } => {
                    let hash = hex32("hash", &hash)?;
                    let signed_at =
                        UnixTime::from_unix(signed_at).map_err(|_| bad("signed_at".into()))?;
                    let key_id = key_id.parse().map_err(|_| bad("key_id".into()))?;
                    let signature = hex::decode(&signature)
                        .ok()
                        .and_then(|b| b.try_into().ok())
                        .ok_or_else(|| bad("signature: 128 hex digits".into()))?;
                    export.heads.push((Head { seq, hash, signed_at }, key_id, signature));
                }
            }
        }
        Ok(export)
    }
}

/// One line of an export, as written.
#[derive(serde::Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
enum Line {
    Delegation {
        text: String,
    },
    Entry {
        seq: u64,
        at: i64,
        actor: String,
        action: String,
        target: String,
        org: Option<String>,
        hash: String,
    },
    Head {
        seq: u64,
        hash: String,
        signed_at: i64,
        key_id: String,
        signature: String,
    },
}

/// The first thing wrong in an export.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// An entry was changed.
    #[error("entry {seq} was changed (its hash does not follow from the entries before it)")]
    Changed {
        /// The entry.
        seq: u64,
    },
    /// An entry is missing.
    #[error("entry {seq} is missing: removed, or the export was cut")]
    Removed {
        /// The entry.
        seq: u64,
    },
    /// An entry was inserted or moved.
    #[error("entry {seq} is out of place: inserted or reordered")]
    Inserted {
        /// The entry.
        seq: u64,
    },
    /// The chain was recomputed after a change: a signed head no longer matches.
    #[error(
        "the entries up to {seq} are not those signed at {signed_at}: an entry from {from} to {seq} was changed, removed or inserted, and the hashes after it recomputed"
    )]
    Rewritten {
        /// The entry the head covers.
        seq: u64,
        /// The first entry that may have changed.
        from: u64,
        /// When the head was signed.
        signed_at: UnixTime,
    },
    /// A head's key has no trusted delegation for its time.
    #[error(
        "the head of entry {seq} has no delegation from a trusted vendor key valid at {signed_at}: {why}"
    )]
    Undelegated {
        /// The entry the head covers.
        seq: u64,
        /// When the head was signed.
        signed_at: UnixTime,
        /// Why the delegation does not hold.
        why: String,
    },
    /// A head's signature does not verify.
    #[error("the head of entry {seq} has a bad signature")]
    BadHead {
        /// The entry the head covers.
        seq: u64,
    },
    /// A head names an entry past the export.
    #[error("the head of entry {seq} names an entry the export does not hold")]
    HeadBeyond {
        /// The entry it names.
        seq: u64,
    },
    /// The export holds no entry.
    #[error("the export holds no entry")]
    Empty,
}

/// What a sound export showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// How many entries.
    pub entries: u64,
    /// How many signed heads.
    pub heads: usize,
    /// Entries after the last signed head (signed at the portal's next signing).
    pub unsigned_tail: u64,
    /// The entry of the checkpoint the held chain starts after (0: from the first entry);
    /// older entries were cut at retention. An auditor checks it is old enough.
    pub starts_after: u64,
}

/// Checks an export: the chain entry by entry, then every head against the chain and a
/// delegation from `trust` valid when the head was signed.
pub fn verify(export: &Export, trust: &TrustSet) -> Result<Verified, LedgerError> {
    let first = export.entries.first().ok_or(LedgerError::Empty)?.0.seq;
    // Each delegation by the key it delegates (its vendor signature is checked at the time
    // of each head it vouches for).
    let delegations: Vec<(KeyId, &String)> = export
        .delegations
        .iter()
        .filter_map(|text| {
            let envelope = Envelope::parse(Kind::LedgerDelegation, text.as_bytes()).ok()?;
            let claims: DelegationClaims = envelope.open().ok()?;
            Some((claims.portal_key.key_id(), text))
        })
        .collect();
    // A head's signature, by a key the vendor delegated for ledger heads at its time.
    let check_head = |(head, key_id, signature): &(Head, KeyId, [u8; 64])| {
        let undelegated = |why: String| LedgerError::Undelegated {
            seq: head.seq,
            signed_at: head.signed_at,
            why,
        };
        let text =
            delegations.iter().find(|(id, _)| id == key_id).map(|(_, text)| *text).ok_or_else(
                || undelegated(format!("no delegation of key {key_id} in the export")),
            )?;
        let delegation =
            Delegation::verify_for(Purpose::Ledger, text.as_bytes(), trust, head.signed_at)
                .map_err(|e| undelegated(e.to_string()))?;
        if !delegation.covers(head.signed_at) {
            return Err(undelegated("the delegation's window does not cover it".to_owned()));
        }
        if !head.verify(&delegation.claims.portal_key, signature) {
            return Err(LedgerError::BadHead { seq: head.seq });
        }
        Ok(())
    };
    // Entries older than the retention period are cut: the chain then starts after a signed
    // head (the checkpoint) whose hash is its first entry's predecessor.
    let offset = first - 1;
    let mut previous = GENESIS;
    if offset > 0 {
        let checkpoint = export
            .heads
            .iter()
            .find(|(head, _, _)| head.seq == offset)
            .ok_or(LedgerError::Removed { seq: offset })?;
        check_head(checkpoint)?;
        previous = checkpoint.0.hash;
    }
    // The hash after each entry, by sequence number (index seq - first).
    let mut chain: Vec<[u8; 32]> = Vec::with_capacity(export.entries.len());
    for (entry, stored) in &export.entries {
        let expected = first + chain.len() as u64;
        if entry.seq > expected {
            return Err(LedgerError::Removed { seq: expected });
        }
        if entry.seq < expected {
            return Err(LedgerError::Inserted { seq: entry.seq });
        }
        let hash = entry.hash_after(&previous);
        if &hash != stored {
            return Err(LedgerError::Changed { seq: entry.seq });
        }
        chain.push(hash);
        previous = hash;
    }
    let mut heads: Vec<&(Head, KeyId, [u8; 64])> = export.heads.iter().collect();
    heads.sort_by_key(|(head, _, _)| head.seq);
    let mut last_good = offset;
    // Heads at or before the cut vouch for entries no longer held (the checkpoint is checked).
    for signed in heads.into_iter().filter(|(head, _, _)| head.seq > offset) {
        let head = &signed.0;
        let Some(chained) = (head.seq - first).try_into().ok().and_then(|i: usize| chain.get(i))
        else {
            return Err(LedgerError::HeadBeyond { seq: head.seq });
        };
        check_head(signed)?;
        if chained != &head.hash {
            return Err(LedgerError::Rewritten {
                seq: head.seq,
                from: last_good + 1,
                signed_at: head.signed_at,
            });
        }
        last_good = head.seq;
    }
    Ok(Verified {
        entries: chain.len() as u64,
        heads: export.heads.len(),
        unsigned_tail: offset + chain.len() as u64 - last_good,
        starts_after: offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delegation::{self, DelegationClaims};

    fn t(s: i64) -> UnixTime {
        UnixTime::from_unix(1_800_000_000 + s).expect("t")
    }

    struct Portal {
        vendor: SigningKey,
        key: SigningKey,
        export: Export,
        previous: [u8; 32],
    }

    impl Portal {
        fn new() -> Portal {
            let vendor = SigningKey::generate().expect("vendor");
            let mut portal = Portal {
                vendor,
                key: SigningKey::generate().expect("portal"),
                export: Export::default(),
                previous: GENESIS,
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

        fn append(&mut self, action: &str) {
            let entry = Entry {
                seq: self.export.entries.len() as u64 + 1,
                at: 1_800_000_000,
                actor: "0123abcd".into(),
                action: action.into(),
                target: "license-1".into(),
                org: None,
            };
            let hash = entry.hash_after(&self.previous);
            self.previous = hash;
            self.export.entries.push((entry, hash));
        }

        fn sign(&mut self, at: UnixTime) {
            let head =
                Head { seq: self.export.entries.len() as u64, hash: self.previous, signed_at: at };
            let signature = head.sign(&self.key);
            self.export.heads.push((head, self.key.key_id(), signature));
        }

        fn trust(&self) -> TrustSet {
            TrustSet::single(self.vendor.public_key().clone())
        }
    }

    fn sample() -> Portal {
        let mut portal = Portal::new();
        for action in ["license.registered", "license.suspended", "user.invited", "user.joined"] {
            portal.append(action);
        }
        portal.sign(t(10));
        portal.append("license.reinstated");
        portal
    }

    #[test]
    fn a_sound_export_verifies_with_its_unsigned_tail_counted() {
        let portal = sample();
        let verified = verify(&portal.export, &portal.trust()).expect("sound");
        assert_eq!(verified, Verified { entries: 5, heads: 1, unsigned_tail: 1, starts_after: 0 });
    }

    #[test]
    fn every_kind_of_edit_is_named() {
        let portal = sample();
        let trust = portal.trust();
        let mut changed = sample_like(&portal);
        changed.entries[1].0.action = "license.reinstated".into();
        assert_eq!(verify(&changed, &trust), Err(LedgerError::Changed { seq: 2 }));
        let mut removed = sample_like(&portal);
        removed.entries.remove(2);
        assert_eq!(verify(&removed, &trust), Err(LedgerError::Removed { seq: 3 }));
        let mut reordered = sample_like(&portal);
        reordered.entries.swap(1, 2);
        assert_eq!(verify(&reordered, &trust), Err(LedgerError::Removed { seq: 2 }));
        let mut inserted = sample_like(&portal);
        let copy = inserted.entries[0].clone();
        inserted.entries.insert(2, copy);
        assert_eq!(verify(&inserted, &trust), Err(LedgerError::Inserted { seq: 1 }));
        // A forger who recomputes every hash after the edit is caught by the signed head.
        let mut rewritten = sample_like(&portal);
        rewritten.entries[1].0.target = "license-2".into();
        let mut previous = GENESIS;
        for (entry, hash) in &mut rewritten.entries {
            *hash = entry.hash_after(&previous);
            previous = *hash;
        }
        assert!(matches!(
            verify(&rewritten, &trust),
            Err(LedgerError::Rewritten { seq: 4, from: 1, .. })
        ));
    }

    #[test]
    fn a_chain_cut_at_a_signed_checkpoint_still_verifies_and_one_cut_elsewhere_does_not() {
        let mut portal = sample();
        portal.sign(t(20)); // a head at entry 5
        portal.append("license.revoked");
        portal.sign(t(30)); // and at 6
        let trust = portal.trust();
        // Entries 1 to 4 are past retention: cut at the head of entry 4 (the checkpoint).
        let mut cut = sample_like(&portal);
        cut.entries.drain(..4);
        assert_eq!(
            verify(&cut, &trust),
            Ok(Verified { entries: 2, heads: 3, unsigned_tail: 0, starts_after: 4 })
        );
        // Cut where no signed head is: the missing entries are named.
        let mut uncovered = sample_like(&portal);
        uncovered.entries.drain(..3);
        assert_eq!(verify(&uncovered, &trust), Err(LedgerError::Removed { seq: 3 }));
        // A forged checkpoint (its hash changed) does not verify.
        let mut forged = sample_like(&portal);
        forged.entries.drain(..4);
        forged.heads[0].0.hash[0] ^= 1;
        assert_eq!(verify(&forged, &trust), Err(LedgerError::BadHead { seq: 4 }));
    }

    fn sample_like(portal: &Portal) -> Export {
        Export {
            entries: portal.export.entries.clone(),
            heads: portal.export.heads.clone(),
            delegations: portal.export.delegations.clone(),
        }
    }

    #[test]
    fn heads_need_a_delegation_valid_when_signed_and_survive_a_key_rotation() {
        let mut portal = sample();
        // The portal's key is rotated: a new key, delegated from t(500).
        portal.key = SigningKey::generate().expect("new key");
        portal.delegate(t(500), t(2000));
        portal.sign(t(600));
        let trust = portal.trust();
        assert!(verify(&portal.export, &trust).is_ok(), "old and new heads both check");
        // A head signed outside its key's delegation is refused.
        let mut late = sample_like(&portal);
        let (head, key_id, _) = late.heads[1].clone();
        let head = Head { signed_at: t(100), ..head };
        let signature = head.sign(&portal.key);
        late.heads[1] = (head, key_id, signature);
        assert!(matches!(verify(&late, &trust), Err(LedgerError::Undelegated { seq: 5, .. })));
        // A receipt delegation of the same key does not let it sign heads.
        let mut receipts_only = sample_like(&portal);
        let claims = DelegationClaims {
            portal_key: portal.key.public_key().clone(),
            issued_at: t(0),
            not_before: t(0),
            not_after: t(2000),
        };
        receipts_only.delegations = vec![delegation::sign(&claims, &portal.vendor)];
        assert!(matches!(verify(&receipts_only, &trust), Err(LedgerError::Undelegated { .. })));
        // A stranger's vendor key vouches for nothing.
        let stranger = TrustSet::single(SigningKey::generate().expect("k").public_key().clone());
        assert!(matches!(verify(&portal.export, &stranger), Err(LedgerError::Undelegated { .. })));
        // A forged signature.
        let mut forged = sample_like(&portal);
        forged.heads[0].2[0] ^= 1;
        assert_eq!(verify(&forged, &trust), Err(LedgerError::BadHead { seq: 4 }));
    }
}
