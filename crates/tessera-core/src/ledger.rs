//! The portal's audit ledger: every change made by a person or an API key, as the leaves of
//! an append-only Merkle tree (RFC 9162 hashing, [`crate::merkle`]) whose roots the portal
//! signs as checkpoints in the C2SP `tlog-checkpoint` signed-note form. One rule here for the
//! portal that appends and signs and for `tessera audit verify`, which checks an export
//! offline.
//!
//! An entry's leaf is SHA-256(0x00 ‖ its canonical bytes, [`Entry::bytes`]). A checkpoint
//! says "the first `size` entries have root `root`", signed by the portal's key; it is checked
//! against the vendor's ledger delegation of that key (`LEDGER DELEGATION`: a receipt
//! delegation does not let a key sign checkpoints) valid when it was signed, so an export
//! stays verifiable after the key is rotated. Any change, removal or reordering of an entry a
//! checkpoint covers changes the root; an earlier checkpoint or export (`since`) shows
//! whether the tree grew only by appending. A retention cut removes the oldest entries, is
//! recorded by an entry of its own ([`CUT_ACTION`]) and leaves the [`Frontier`] of what it
//! removed, from which the tree's root is still computed.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::armor::{Envelope, Kind};
use crate::delegation::{Delegation, DelegationClaims, Purpose};
use crate::keys::{PublicKey, SigningKey};
use crate::merkle::Frontier;
use crate::time::UnixTime;
use crate::trust::TrustSet;

/// The action of the entry that records a retention cut; its target is
/// [`cut_target`]'s text.
pub const CUT_ACTION: &str = "ledger.cut";

/// One ledger entry. The actor is a pseudonymous id (a person's random id, `key:<id>` for an
/// API key, `cli` for the portal's command line), never a name or an email.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    /// The entry's number: 1, 2, … without gaps (its leaf index plus one).
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
    /// The entry's canonical bytes, the input of its leaf hash: each field — seq and at in
    /// decimal, actor, action, target, org (empty when none) — as its length (8 bytes,
    /// big-endian) and its UTF-8 bytes, then one byte saying whether org is present.
    pub fn bytes(&self) -> Vec<u8> {
        let mut bytes =
            Vec::with_capacity(64 + self.actor.len() + self.action.len() + self.target.len());
        // Lengths first: no field can run into the next.
        for field in [
            self.seq.to_string().as_str(),
            self.at.to_string().as_str(),
            &self.actor,
            &self.action,
            &self.target,
            self.org.as_deref().unwrap_or(""),
        ] {
            bytes.extend((field.len() as u64).to_be_bytes());
            bytes.extend(field.as_bytes());
        }
        bytes.push(u8::from(self.org.is_some()));
        bytes
    }

    /// The entry's Merkle leaf hash: SHA-256(0x00 ‖ [`Entry::bytes`]), hashed as it goes
    /// (a million entries are verified without a million allocations).
    pub fn leaf_hash(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update([0u8]);
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

    /// The entries a cut entry says it removed (`from`, `to`), if it is one.
    pub fn cut_range(&self) -> Option<(u64, u64)> {
        if self.action != CUT_ACTION {
            return None;
        }
        let mut words = self.target.split(' ');
        let range = words.next()?.strip_prefix("seq:")?;
        let (from, to) = range.split_once('-')?;
        let (from, to): (u64, u64) = (from.parse().ok()?, to.parse().ok()?);
        let count: u64 = words.next()?.strip_prefix("count:")?.parse().ok()?;
        (from >= 1 && from <= to && count == to - from + 1 && words.next().is_none())
            .then_some((from, to))
    }
}

/// The target of the entry recording a cut of entries `from` to `to`:
/// `seq:<from>-<to> count:<to - from + 1>`.
pub fn cut_target(from: u64, to: u64) -> String {
    format!("seq:{from}-{to} count:{}", to - from + 1)
}

/// A checkpoint's note text: the tree of the first `size` entries has root `root`, in the
/// log named `origin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's name: no spaces, no `+`; also the name of the key that signs.
    pub origin: String,
    /// The tree's size (entries).
    pub size: u64,
    /// Its root.
    pub root: [u8; 32],
}

/// The C2SP signed-note key id of an Ed25519 key named `name`: the first 4 bytes of
/// SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key).
pub fn note_key_id(name: &str, key: &PublicKey) -> [u8; 4] {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([0x0a, 0x01]);
    hasher.update(key.as_bytes());
    let digest = hasher.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// The origin the portal names its ledger with: `tessera.ledger/` and the id of the vendor
/// key that signed its ledger delegation (stable when the portal's own key is rotated).
pub fn origin_for(ledger_delegation: &str) -> String {
    let vendor = Envelope::parse(Kind::LedgerDelegation, ledger_delegation.as_bytes())
        .map(|e| e.key_id().to_string())
        .unwrap_or_default();
    format!("tessera.ledger/{vendor}")
}

/// A signed note that is not a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a checkpoint: {0}")]
pub struct NoteError(&'static str);

/// A signature line of a note: the key's name, its key id, the signature.
pub type NoteSignature = (String, [u8; 4], [u8; 64]);

impl Checkpoint {
    /// The note text that is signed: `origin\nsize\nbase64(root)\n`.
    pub fn text(&self) -> String {
        format!("{}\n{}\n{}\n", self.origin, self.size, STANDARD.encode(self.root))
    }

    /// The signed note: the text, a blank line, and the line
    /// `— <origin> base64(key id ‖ signature)` of `key`'s Ed25519 signature of the text.
    pub fn sign(&self, key: &SigningKey) -> String {
        let text = self.text();
        let mut signature = note_key_id(&self.origin, key.public_key()).to_vec();
        signature.extend(key.sign(text.as_bytes()));
        format!("{text}\n\u{2014} {} {}\n", self.origin, STANDARD.encode(signature))
    }

    /// Reads a signed note: the checkpoint, its text as signed, and its signature lines
    /// (Ed25519 ones; others are skipped, as signed notes allow).
    pub fn parse_note(note: &str) -> Result<(Checkpoint, String, Vec<NoteSignature>), NoteError> {
        let split = note.find("\n\n").ok_or(NoteError("no blank line before the signatures"))?;
        let (text, signatures) = (&note[..=split], &note[split + 2..]);
        let mut lines = text.lines();
        let origin = lines.next().filter(|o| valid_name(o)).ok_or(NoteError("origin"))?;
        let size = lines
            .next()
            .filter(|s| s == &"0" || (!s.starts_with('0') && s.bytes().all(|b| b.is_ascii_digit())))
            .and_then(|s| s.parse().ok())
            .ok_or(NoteError("tree size"))?;
        let root = lines
            .next()
            .and_then(|r| STANDARD.decode(r).ok())
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or(NoteError("root hash"))?;
        // Extension lines, if any, are signed with the text and otherwise ignored.
        let mut found = Vec::new();
        for line in signatures.lines() {
            let rest = line.strip_prefix("\u{2014} ").ok_or(NoteError("signature line"))?;
            let (name, signature) = rest.split_once(' ').ok_or(NoteError("signature line"))?;
            let bytes = STANDARD.decode(signature).map_err(|_| NoteError("signature"))?;
            if bytes.len() == 68 && valid_name(name) {
                let id = [bytes[0], bytes[1], bytes[2], bytes[3]];
                let signature: [u8; 64] = bytes[4..].try_into().unwrap_or([0; 64]);
                found.push((name.to_owned(), id, signature));
            }
        }
        if found.is_empty() {
            return Err(NoteError("no signature"));
        }
        Ok((Checkpoint { origin: origin.to_owned(), size, root }, text.to_owned(), found))
    }
}

/// A key name or origin of a signed note: not empty, no spaces, no `+`.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

/// A checkpoint as an export holds it: the note, read, and when the portal says it signed
/// it (not signed itself: it only picks the delegation that must vouch for the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// When it was signed.
    pub signed_at: UnixTime,
    /// The note as signed.
    pub note: String,
    text: String,
    signatures: Vec<NoteSignature>,
}

impl Signed {
    /// Reads a signed note given with its signing time.
    pub fn parse(note: &str, signed_at: UnixTime) -> Result<Signed, NoteError> {
        let (checkpoint, text, signatures) = Checkpoint::parse_note(note)?;
        Ok(Signed { checkpoint, signed_at, note: note.to_owned(), text, signatures })
    }

    /// The export line that carries it (`kind` `checkpoint`).
    pub fn to_line(&self) -> String {
        serde_json::json!({
            "kind": "checkpoint", "signed_at": self.signed_at.as_unix(), "note": self.note,
        })
        .to_string()
    }

    /// Whether `key` signed it (a signature line named for the origin, with `key`'s id).
    pub fn signed_by(&self, key: &PublicKey) -> bool {
        let id = note_key_id(&self.checkpoint.origin, key);
        self.signatures.iter().any(|(name, key_id, signature)| {
            name == &self.checkpoint.origin
                && key_id == &id
                && key.verify(self.text.as_bytes(), signature).is_ok()
        })
    }
}

/// What an export holds, as `tessera audit verify` reads it.
#[derive(Debug, Default, Clone)]
pub struct Export {
    /// The delegations of the keys that signed checkpoints (armored text).
    pub delegations: Vec<String>,
    /// What a retention cut removed, standing for the entries before the first held.
    pub frontier: Option<Frontier>,
    /// Entries with the leaf hash the portal stored for each, in the file's order.
    pub entries: Vec<(Entry, [u8; 32])>,
    /// Signed checkpoints.
    pub checkpoints: Vec<Signed>,
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
    /// Reads an export as `GET /v1/admin/audit` writes it: JSON lines, each a `delegation`
    /// (`text`), a `frontier` (`size`, `hashes`), an `entry` (its fields and `hash`) or a
    /// `checkpoint` (`signed_at`, `note`). A file holding only checkpoint lines (the portal's
    /// witness file) reads as an export without entries.
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
                bad(format!(
                    "not a delegation, a frontier, an entry or a checkpoint of an audit export: {e}"
                ))
            })?;
            let hex32 = |text: &str| -> Result<[u8; 32], ExportLineError> {
                hex::decode(text)
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| bad("hash: 64 hex digits".to_owned()))
            };
            match parsed {
                Line::Delegation { text } => export.delegations.push(text),
                Line::Frontier { size, hashes } => {
                    if export.frontier.is_some() || !export.entries.is_empty() {
                        return Err(bad("a frontier comes once, before the entries".into()));
                    }
                    let hashes = hashes.iter().map(|h| hex32(h)).collect::<Result<_, _>>()?;
                    let frontier =
                        Frontier::from_parts(size, hashes).map_err(|e| bad(e.to_string()))?;
                    export.frontier = Some(frontier);
                }
                Line::Entry { seq, at, actor, action, target, org, hash } => {
                    let hash = hex32(&hash)?;
                    export.entries.push((Entry { seq, at, actor, action, target, org }, hash));
                }
                Line::Checkpoint { signed_at, note } => {
                    let signed_at =
                        UnixTime::from_unix(signed_at).map_err(|_| bad("signed_at".into()))?;
                    let signed = Signed::parse(&note, signed_at).map_err(|e| bad(e.to_string()))?;
                    export.checkpoints.push(signed);
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
    Frontier {
        size: u64,
        hashes: Vec<String>,
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
    Checkpoint {
        signed_at: i64,
        note: String,
    },
}

/// The first thing wrong in an export. Each kind has its own exit code in
/// `tessera audit verify` (docs/CLI.md).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// An entry was changed (its stored hash is not its own).
    #[error("entry {seq} was changed (its hash is not that of its fields)")]
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
    /// The tree does not have the root a checkpoint signed: entries were rewritten and
    /// their hashes recomputed.
    #[error(
        "the first {size} entries are not those signed at {signed_at}: an entry among them was changed, removed or inserted and the hashes recomputed"
    )]
    Rewritten {
        /// The checkpoint's size.
        size: u64,
        /// When it was signed.
        signed_at: UnixTime,
    },
    /// No checkpoint at all.
    #[error("the export holds no signed checkpoint: nothing vouches for its entries")]
    NoCheckpoint,
    /// A checkpoint's key has no trusted delegation for its time.
    #[error(
        "the checkpoint of {size} entries has no delegation from a trusted vendor key valid at {signed_at}: {why}"
    )]
    Undelegated {
        /// The checkpoint's size.
        size: u64,
        /// When it was signed.
        signed_at: UnixTime,
        /// Why the delegation does not hold.
        why: String,
    },
    /// A checkpoint of another log.
    #[error("the checkpoint of {size} entries is of another ledger ({origin})")]
    Foreign {
        /// The checkpoint's size.
        size: u64,
        /// Its origin.
        origin: String,
    },
    /// Entries no checkpoint covers: appended after the newest was signed.
    #[error(
        "entries {from} to {to} are covered by no signed checkpoint: appended after the last one was signed"
    )]
    Unsigned {
        /// The first.
        from: u64,
        /// The last.
        to: u64,
    },
    /// A checkpoint covers entries the export does not hold.
    #[error(
        "the checkpoint signed at {signed_at} covers {size} entries, the export holds {held}: the newest were removed"
    )]
    Truncated {
        /// The checkpoint's size.
        size: u64,
        /// When it was signed.
        signed_at: UnixTime,
        /// How many entries the export holds (counting those cut).
        held: u64,
    },
    /// The oldest entries are gone and no cut entry says so.
    #[error("entries 1 to {to} are missing and no retention cut entry records their removal")]
    UnrecordedCut {
        /// The last entry missing.
        to: u64,
    },
    /// The tree does not extend the earlier checkpoint (`since`).
    #[error(
        "the ledger does not extend the earlier checkpoint of {size} entries signed at {signed_at}: an entry it covered was changed, removed or reordered"
    )]
    Forked {
        /// The earlier checkpoint's size.
        size: u64,
        /// When it was signed.
        signed_at: UnixTime,
    },
    /// The tree is smaller than the earlier checkpoint (`since`).
    #[error(
        "the earlier checkpoint covers {size} entries, the ledger only {held}: entries were removed"
    )]
    Shrunk {
        /// The earlier checkpoint's size.
        size: u64,
        /// The ledger's size now.
        held: u64,
    },
    /// The earlier checkpoint is older than the retention cut: the entries that decide are gone.
    #[error(
        "the earlier checkpoint of {size} entries cannot be compared: the export starts after a retention cut at entry {cut}"
    )]
    SinceBeforeCut {
        /// The earlier checkpoint's size.
        size: u64,
        /// The last entry cut.
        cut: u64,
    },
    /// The earlier file (`since`) holds no checkpoint.
    #[error("the earlier file holds no signed checkpoint")]
    SinceEmpty,
}

/// What a sound export showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// How many entries the export holds.
    pub entries: u64,
    /// How many signed checkpoints.
    pub checkpoints: usize,
    /// The size of the newest checkpoint (every entry is under it).
    pub size: u64,
    /// The entries before the first held were cut at retention (0: none); an auditor
    /// checks they were old enough.
    pub starts_after: u64,
    /// The size of the earlier checkpoint the tree was shown to extend, when one was given.
    pub extends: Option<u64>,
}

/// Checks an export: every checkpoint's signature by a key the vendor delegated (in `trust`)
/// when it was signed, every entry's hash, every checkpoint's root against the tree of the
/// entries (with the frontier of a retention cut standing for those removed), that every
/// entry is under the newest checkpoint, and — given an earlier export or witness file
/// (`since`) — that the tree extends its newest checkpoint.
pub fn verify(
    export: &Export,
    trust: &TrustSet,
    since: Option<&Export>,
) -> Result<Verified, LedgerError> {
    // Each delegated key, with the delegation's text (its vendor signature is checked at the
    // time of each checkpoint it vouches for).
    let delegations: Vec<(PublicKey, &String)> = export
        .delegations
        .iter()
        .chain(since.map(|s| &s.delegations).into_iter().flatten())
        .filter_map(|text| {
            let envelope = Envelope::parse(Kind::LedgerDelegation, text.as_bytes()).ok()?;
            let claims: DelegationClaims = envelope.open().ok()?;
            Some((claims.portal_key, text))
        })
        .collect();
    let check = |signed: &Signed| {
        let Checkpoint { size, .. } = signed.checkpoint;
        let undelegated =
            |why: String| LedgerError::Undelegated { size, signed_at: signed.signed_at, why };
        let mut why = "no delegation of the key that signed it in the export".to_owned();
        for (key, text) in &delegations {
            if !signed.signed_by(key) {
                continue;
            }
            match Delegation::verify_for(Purpose::Ledger, text.as_bytes(), trust, signed.signed_at)
            {
                Ok(d) if d.covers(signed.signed_at) => return Ok(()),
                Ok(_) => why = "the delegation's window does not cover it".to_owned(),
                Err(e) => why = e.to_string(),
            }
        }
        Err(undelegated(why))
    };
    let mut checkpoints: Vec<&Signed> = export.checkpoints.iter().collect();
    checkpoints.sort_by_key(|s| s.checkpoint.size);
    let newest = *checkpoints.last().ok_or(LedgerError::NoCheckpoint)?;
    let origin = &newest.checkpoint.origin;
    for signed in &checkpoints {
        check(signed)?;
        if &signed.checkpoint.origin != origin {
            return Err(LedgerError::Foreign {
                size: signed.checkpoint.size,
                origin: signed.checkpoint.origin.clone(),
            });
        }
    }
    let earlier = match since {
        Some(since) => {
            let earlier = since
                .checkpoints
                .iter()
                .max_by_key(|s| s.checkpoint.size)
                .ok_or(LedgerError::SinceEmpty)?;
            check(earlier)?;
            if &earlier.checkpoint.origin != origin {
                return Err(LedgerError::Foreign {
                    size: earlier.checkpoint.size,
                    origin: earlier.checkpoint.origin.clone(),
                });
            }
            Some(earlier)
        }
        None => None,
    };

    // Entries cut at retention: their frontier stands for them, and a held cut entry must
    // say it removed exactly them.
    let mut tree = export.frontier.clone().unwrap_or_default();
    let offset = tree.size();
    let first = export.entries.first().map_or(offset + 1, |(e, _)| e.seq);
    if offset == 0 && first > 1 {
        return Err(LedgerError::UnrecordedCut { to: first - 1 });
    }
    if offset > 0
        && !export.entries.iter().any(|(e, _)| e.cut_range().is_some_and(|(_, to)| to == offset))
    {
        return Err(LedgerError::UnrecordedCut { to: offset });
    }
    if let Some(earlier) = earlier
        && earlier.checkpoint.size < offset
    {
        return Err(LedgerError::SinceBeforeCut { size: earlier.checkpoint.size, cut: offset });
    }
    // Roots to compare, by tree size: every checkpoint not older than the cut, and the
    // earlier one.
    let mut due: Vec<(u64, [u8; 32], LedgerError)> = checkpoints
        .iter()
        .filter(|s| s.checkpoint.size >= offset)
        .map(|s| {
            let size = s.checkpoint.size;
            (size, s.checkpoint.root, LedgerError::Rewritten { size, signed_at: s.signed_at })
        })
        .collect();
    if let Some(earlier) = earlier {
        let size = earlier.checkpoint.size;
        due.push((
            size,
            earlier.checkpoint.root,
            LedgerError::Forked { size, signed_at: earlier.signed_at },
        ));
    }
    due.sort_by_key(|(size, _, _)| std::cmp::Reverse(*size));
    let settle = |tree: &Frontier, due: &mut Vec<(u64, [u8; 32], LedgerError)>| {
        while due.last().is_some_and(|(size, _, _)| *size == tree.size()) {
            let (_, root, error) = due.pop().expect("checked");
            if tree.root() != root {
                return Err(error);
            }
        }
        Ok(())
    };
    settle(&tree, &mut due)?;
    for (entry, stored) in &export.entries {
        let expected = tree.size() + 1;
        if entry.seq > expected {
            return Err(LedgerError::Removed { seq: expected });
        }
        if entry.seq < expected {
            return Err(LedgerError::Inserted { seq: entry.seq });
        }
        let leaf = entry.leaf_hash();
        if &leaf != stored {
            return Err(LedgerError::Changed { seq: entry.seq });
        }
        tree.push(leaf);
        settle(&tree, &mut due)?;
    }
    let held = tree.size();
    if let Some(earlier) = earlier
        && earlier.checkpoint.size > held
    {
        return Err(LedgerError::Shrunk { size: earlier.checkpoint.size, held });
    }
    if newest.checkpoint.size > held {
        return Err(LedgerError::Truncated {
            size: newest.checkpoint.size,
            signed_at: newest.signed_at,
            held,
        });
    }
    if held > newest.checkpoint.size {
        return Err(LedgerError::Unsigned { from: newest.checkpoint.size + 1, to: held });
    }
    Ok(Verified {
        entries: export.entries.len() as u64,
        checkpoints: export.checkpoints.len(),
        size: held,
        starts_after: offset,
        extends: earlier.map(|s| s.checkpoint.size),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delegation::{self, DelegationClaims};
    use crate::merkle::leaf_hash;

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
            self.export.frontier.as_ref().map_or(0, Frontier::size)
                + self.export.entries.len() as u64
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
            Verified { entries: 5, checkpoints: 2, size: 5, starts_after: 0, extends: None }
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
        assert!(matches!(
            verify(&late, &trust, None),
            Err(LedgerError::Undelegated { size: 6, .. })
        ));
        // A receipt delegation of the same key does not let it sign checkpoints.
        let mut receipts_only = portal.export.clone();
        let claims = DelegationClaims {
            portal_key: portal.key.public_key().clone(),
            issued_at: t(0),
            not_before: t(0),
            not_after: t(2000),
        };
        receipts_only.delegations = vec![delegation::sign(&claims, &portal.vendor)];
        assert!(matches!(
            verify(&receipts_only, &trust, None),
            Err(LedgerError::Undelegated { .. })
        ));
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
}
