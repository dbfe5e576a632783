//! Proofs as text, the way the portal serves them and `tessera audit proof` reads them: an
//! inclusion proof in C2SP `tlog-proof` form (its `extra` line carries the entry's canonical
//! bytes, so the proof stands alone), and a consistency proof in the form of `tlog-witness`'s
//! `add-checkpoint` body (`old <size>`, the hashes, the checkpoint).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::{Checkpoint, NoteError};
use crate::merkle::proof::{ProofError, verify_consistency, verify_inclusion};

/// The first line of a C2SP `tlog-proof`.
pub const TLOG_PROOF_V1: &str = "c2sp.org/tlog-proof@v1";

/// The most hashes a proof of a tree of up to 2^63 leaves needs (inclusion: 63, consistency:
/// 63 plus one).
const MAX_HASHES: usize = 64;

/// Text that is not a proof.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofTextError {
    /// Not the expected form.
    #[error("not a proof: {0}")]
    Form(&'static str),
    /// The checkpoint inside does not read.
    #[error(transparent)]
    Note(#[from] NoteError),
    /// The proof does not lead from the entry (or the earlier root) to the checkpoint's root.
    #[error("the proof does not hold: {0}")]
    Fails(#[from] ProofError),
}

/// An inclusion proof: leaf `index` (zero-based: an entry's `seq` minus one) of the tree
/// the checkpoint `note` signed, with `extra` (for the ledger, the entry's canonical bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    /// Opaque extra data (not signed).
    pub extra: Option<Vec<u8>>,
    /// The leaf's index.
    pub index: u64,
    /// The proof's hashes, the leaf's sibling first.
    pub path: Vec<[u8; 32]>,
    /// The checkpoint's signed note.
    pub note: String,
}

fn decimal(text: &str) -> Option<u64> {
    (text == "0" || (!text.starts_with('0') && text.bytes().all(|b| b.is_ascii_digit())))
        .then(|| text.parse().ok())
        .flatten()
}

fn hash(line: &str) -> Option<[u8; 32]> {
    STANDARD.decode(line).ok().and_then(|b| <[u8; 32]>::try_from(b).ok())
}

impl InclusionProof {
    /// The C2SP `tlog-proof` text.
    pub fn to_text(&self) -> String {
        let mut text = format!("{TLOG_PROOF_V1}\n");
        if let Some(extra) = &self.extra {
            text.push_str(&format!("extra {}\n", STANDARD.encode(extra)));
        }
        text.push_str(&format!("index {}\n", self.index));
        for hash in &self.path {
            text.push_str(&STANDARD.encode(hash));
            text.push('\n');
        }
        text.push('\n');
        text.push_str(&self.note);
        text
    }

    /// Reads a C2SP `tlog-proof` strictly.
    pub fn parse(text: &str) -> Result<InclusionProof, ProofTextError> {
        let (head, note) = text.split_once("\n\n").ok_or(ProofTextError::Form("no empty line"))?;
        let mut lines = head.split('\n').peekable();
        if lines.next() != Some(TLOG_PROOF_V1) {
            return Err(ProofTextError::Form("the first line is not c2sp.org/tlog-proof@v1"));
        }
        let extra = match lines.peek().and_then(|l| l.strip_prefix("extra ")) {
            Some(data) => {
                let bytes = STANDARD.decode(data).map_err(|_| ProofTextError::Form("extra"))?;
                lines.next();
                Some(bytes)
            }
            None => None,
        };
        let index = lines
            .next()
            .and_then(|l| l.strip_prefix("index "))
            .and_then(decimal)
            .ok_or(ProofTextError::Form("the index line"))?;
        let path = lines
            .map(|l| hash(l).ok_or(ProofTextError::Form("a proof line")))
            .collect::<Result<Vec<_>, _>>()?;
        if path.len() > MAX_HASHES {
            return Err(ProofTextError::Form("too many proof lines"));
        }
        Checkpoint::parse_note(note)?;
        Ok(InclusionProof { extra, index, path, note: note.to_owned() })
    }

    /// Checks that `leaf` is leaf `index` of the checkpoint's tree.
    pub fn check(&self, leaf: &[u8; 32]) -> Result<Checkpoint, ProofTextError> {
        let (checkpoint, _, _) = Checkpoint::parse_note(&self.note)?;
        verify_inclusion(self.index, checkpoint.size, leaf, &self.path, &checkpoint.root)?;
        Ok(checkpoint)
    }
}

/// A consistency proof from the tree of `old` leaves to the one the checkpoint `note` signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyProof {
    /// The earlier tree's size.
    pub old: u64,
    /// The proof's hashes.
    pub path: Vec<[u8; 32]>,
    /// The later checkpoint's signed note.
    pub note: String,
}

impl ConsistencyProof {
    /// The text: `old <size>`, the hashes one a line, an empty line, the note.
    pub fn to_text(&self) -> String {
        super::witness::add_checkpoint_body(self.old, &self.path, &self.note)
    }

    /// Reads the text strictly.
    pub fn parse(text: &str) -> Result<ConsistencyProof, ProofTextError> {
        let (old, path, note) = super::witness::parse_add_checkpoint(text)
            .map_err(|_| ProofTextError::Form("not old <size>, hashes, an empty line, a note"))?;
        Checkpoint::parse_note(note)?;
        Ok(ConsistencyProof { old, path, note: note.to_owned() })
    }

    /// Checks that the checkpoint's tree extends the tree of `old` leaves whose root is
    /// `old_root`.
    pub fn check(&self, old_root: &[u8; 32]) -> Result<Checkpoint, ProofTextError> {
        let (checkpoint, _, _) = Checkpoint::parse_note(&self.note)?;
        verify_consistency(self.old, checkpoint.size, old_root, &checkpoint.root, &self.path)?;
        Ok(checkpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SigningKey;
    use crate::merkle::Tree;

    #[test]
    fn proofs_round_trip_as_text_and_hold_only_for_their_leaf_and_root() {
        let key = SigningKey::from_seed(&[4; 32]);
        let mut tree = Tree::new();
        let leaves: Vec<[u8; 32]> = (0u8..13).map(|i| [i; 32]).collect();
        leaves.iter().for_each(|l| tree.push(*l));
        let checkpoint = Checkpoint {
            origin: "tessera.ledger/0011223344556677".into(),
            size: 13,
            root: tree.root_at(13).expect("root"),
        };
        let note = checkpoint.sign(&key);
        let proof = InclusionProof {
            extra: Some(b"entry".to_vec()),
            index: 5,
            path: tree.inclusion(5, 13).expect("proof"),
            note: note.clone(),
        };
        let text = proof.to_text();
        assert!(text.starts_with("c2sp.org/tlog-proof@v1\nextra ZW50cnk=\nindex 5\n"), "{text}");
        let read = InclusionProof::parse(&text).expect("reads");
        assert_eq!(read, proof);
        assert_eq!(read.check(&leaves[5]).expect("holds").size, 13);
        assert!(read.check(&leaves[6]).is_err());
        assert!(InclusionProof::parse(&text.replace("index 5", "index 05")).is_err());
        assert!(InclusionProof::parse(&text.replace("c2sp.org", "c2sp.net")).is_err());

        let consistency =
            ConsistencyProof { old: 6, path: tree.consistency(6, 13).expect("proof"), note };
        let read = ConsistencyProof::parse(&consistency.to_text()).expect("reads");
        assert_eq!(read, consistency);
        assert!(read.check(&tree.root_at(6).expect("root")).is_ok());
        assert!(read.check(&tree.root_at(7).expect("root")).is_err());
    }
}
