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
//! recorded by an entry of its own ([`CUT_ACTION`]) and leaves the [`Frontier`](crate::merkle::Frontier) of what it
//! removed, from which the tree's root is still computed.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::armor::{Envelope, Kind};
use crate::keys::{PublicKey, SigningKey};
use crate::time::UnixTime;

mod entry_tag;
mod export;
mod proof_text;
mod replay;
#[cfg(test)]
mod tests;
mod verify;
pub mod witness;

pub use entry_tag::EntryTagKey;
pub use export::{Export, ExportLineError};
pub use proof_text::{ConsistencyProof, InclusionProof, ProofTextError, TLOG_PROOF_V1};
pub use verify::{LedgerError, Verified, verify, verify_witnessed, vouched};

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
    /// The entry's canonical bytes, the input of its leaf hash: seq and at as 8 bytes
    /// big-endian (at in two's complement), then actor, action, target and org (empty when
    /// none), each as its length (8 bytes, big-endian) and its UTF-8 bytes, then one byte
    /// saying whether org is present.
    pub fn bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(self.capacity());
        self.write_bytes(&mut bytes);
        bytes
    }

    fn capacity(&self) -> usize {
        // Six lengths, two numbers, the flag, and room for SHA-256's padding.
        48 + 40
            + 1
            + 73
            + self.actor.len()
            + self.action.len()
            + self.target.len()
            + self.org.as_ref().map_or(0, String::len)
    }

    fn write_bytes(&self, out: &mut Vec<u8>) {
        // The numbers fixed-width, the texts length first: no field can run into the next.
        // (A typical entry is then 3 SHA-256 blocks, not 4: a fifth less work to verify.)
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.at.to_be_bytes());
        write_field(out, self.actor.as_bytes());
        write_field(out, self.action.as_bytes());
        write_field(out, self.target.as_bytes());
        write_field(out, self.org.as_deref().unwrap_or("").as_bytes());
        out.push(u8::from(self.org.is_some()));
    }

    /// The entry's Merkle leaf hash: SHA-256(0x00 ‖ [`Entry::bytes`]).
    pub fn leaf_hash(&self) -> [u8; 32] {
        let mut buffer = Vec::with_capacity(self.capacity());
        self.leaf_hash_in(&mut buffer)
    }

    /// [`Entry::leaf_hash`] in a buffer the caller reuses from entry to entry.
    pub(crate) fn leaf_hash_in(&self, buffer: &mut Vec<u8>) -> [u8; 32] {
        buffer.clear();
        buffer.push(0);
        self.write_bytes(buffer);
        crate::merkle::sha256_padding_in_place(buffer)
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

fn write_field(out: &mut Vec<u8>, field: &[u8]) {
    out.extend_from_slice(&(field.len() as u64).to_be_bytes());
    out.extend_from_slice(field);
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

/// The verifier key of the portal's checkpoints, as a witness or a signed-note tool is
/// configured with it: `<origin>+<note key id, hex>+<base64(0x01 ‖ key)>`.
pub fn note_verifier_key(origin: &str, key: &PublicKey) -> String {
    let mut typed = vec![0x01];
    typed.extend(key.as_bytes());
    format!("{origin}+{}+{}", hex::encode(note_key_id(origin, key)), STANDARD.encode(typed))
}

/// The origin the portal names its ledger with: `tessera.ledger/` and the id of the vendor
/// key that signed its ledger delegation (stable when the portal's own key is rotated).
pub fn origin_for(ledger_delegation: &str) -> String {
    let vendor = Envelope::parse(Kind::LedgerDelegation, ledger_delegation.as_bytes())
        .map(|e| e.key_id().to_string())
        .unwrap_or_default();
    format!("tessera.ledger/{vendor}")
}

/// Whether `name` may name a portal's ledger within its vendor's origin
/// ([`origin_named`]): 1 to 63 lower-case letters, digits, `-` or `.`.
pub fn is_ledger_name(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
}

/// The origin of a named ledger: [`origin_for`] followed by `/` and `name`, so that each of a
/// vendor's portals keeps its own log at the same witnesses. No name: [`origin_for`].
pub fn origin_named(ledger_delegation: &str, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("{}/{name}", origin_for(ledger_delegation)),
        None => origin_for(ledger_delegation),
    }
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

/// The latest checkpoint the portal signed, as a receipt carries it (`ledger_head`): the
/// signed note and when the portal says it signed it. A hub keeps these, so that its
/// customer holds evidence of what the ledger was ([`Signed::to_line`] writes one as a
/// witness line `tessera audit verify --witness` reads).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerHead {
    /// When the portal signed it.
    pub signed_at: UnixTime,
    /// The checkpoint's signed note (section 12.4 of docs/FORMAT.md).
    pub note: String,
}

impl LedgerHead {
    /// Reads the note: a checkpoint with at least one signature line.
    pub fn read(&self) -> Result<Signed, NoteError> {
        Signed::parse(&self.note, self.signed_at)
    }
}

impl From<&Signed> for LedgerHead {
    fn from(signed: &Signed) -> LedgerHead {
        LedgerHead { signed_at: signed.signed_at, note: signed.note.clone() }
    }
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
