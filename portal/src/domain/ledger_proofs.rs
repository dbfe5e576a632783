//! Proofs of the audit ledger for auditors: that an entry is in a signed checkpoint's tree
//! (inclusion), and that a signed checkpoint's tree extends an earlier size (consistency),
//! in the text forms of `tessera_core::ledger` (docs/FORMAT.md, section 12.2).
//!
//! The tree's subtree hashes stay in memory (about 64 bytes an entry), built from the stored
//! hashes at the first proof asked and extended as checkpoints grow, so a proof is a few
//! lookups plus two small queries. Before a proof is served the tree's root at the
//! checkpoint's size is compared with the signed one: a database whose entries were changed
//! under a checkpoint gets no proof.

use tessera_core::UnixTime;
use tessera_core::ledger::{ConsistencyProof, InclusionProof, Signed};
use tessera_core::merkle::{Frontier, Tree};

use crate::store::{Store, StoreError};

/// The tree proofs are made from, and the retention cut it was built after.
#[derive(Default)]
pub struct ProofTree {
    tree: tokio::sync::Mutex<Option<(u64, Tree)>>,
}

/// Why no proof is served.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProofRefusal {
    /// No checkpoint of that size (or none at all).
    #[error("no signed checkpoint of {0}")]
    NoCheckpoint(String),
    /// The entry is not under the checkpoint, or was cut at retention.
    #[error("entry {seq} is not in the checkpoint of {size} entries (or was cut at retention)")]
    NoEntry {
        /// The entry.
        seq: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// The earlier size is larger than the checkpoint's, or older than the retention cut.
    #[error("no consistency proof from {old} entries to {size}: {why}")]
    BadRange {
        /// The earlier size.
        old: u64,
        /// The checkpoint's size.
        size: u64,
        /// Why.
        why: &'static str,
    },
    /// The stored entries do not have the root the checkpoint signed.
    #[error("the stored ledger does not extend the checkpoint of {0} entries")]
    Forged(u64),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn corrupt(e: impl std::fmt::Display) -> ProofRefusal {
    ProofRefusal::Store(StoreError::Corrupt(e.to_string()))
}

/// The checkpoint of `size` entries (the newest when `None`), read.
async fn checkpoint(store: &Store, size: Option<u64>) -> Result<Signed, ProofRefusal> {
    let wanted = size.map(|s| i64::try_from(s).unwrap_or(i64::MAX));
    let stored = store.ledger_checkpoint(wanted).await?.ok_or_else(|| {
        ProofRefusal::NoCheckpoint(size.map_or("any size".into(), |s| format!("{s} entries")))
    })?;
    let at = UnixTime::from_unix(stored.signed_at).map_err(corrupt)?;
    Signed::parse(&stored.note, at).map_err(corrupt)
}

impl ProofTree {
    /// Runs `prove` on the tree grown to `signed`'s size and checked against its root.
    async fn with_tree<T>(
        &self,
        store: &Store,
        signed: &Signed,
        prove: impl FnOnce(&Tree, u64) -> Result<T, ProofRefusal>,
    ) -> Result<T, ProofRefusal> {
        let size = signed.checkpoint.size;
        let cut = store.ledger_frontier().await?;
        let cut_size = cut.as_ref().map_or(0, |(s, _)| *s as u64);
        let mut slot = self.tree.lock().await;
        // A retention cut since the tree was built: start again after it.
        if slot.as_ref().is_none_or(|(built_after, _)| *built_after != cut_size) {
            let tree = match cut {
                Some((at, hashes)) => {
                    Tree::after_cut(&Frontier::from_parts(at as u64, hashes).map_err(corrupt)?)
                }
                None => Tree::new(),
            };
            *slot = Some((cut_size, tree));
        }
        let Some((_, tree)) = slot.as_mut() else { return Err(corrupt("no tree")) };
        while tree.size() < size {
            let page = store.ledger_after(tree.size() as i64, 10_000).await?;
            if page.is_empty() {
                break;
            }
            for stored in page.iter().take_while(|s| s.entry.seq <= size) {
                let leaf = hex::decode(&stored.hash)
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .ok_or_else(|| corrupt(format!("entry {}'s hash", stored.entry.seq)))?;
                if stored.entry.seq != tree.size() + 1 {
                    *slot = None;
                    return Err(ProofRefusal::Forged(size));
                }
                tree.push(leaf);
            }
        }
        if tree.root_at(size).ok() != Some(signed.checkpoint.root) {
            // Built again at the next proof: a database put back from a backup may be right.
            *slot = None;
            return Err(ProofRefusal::Forged(size));
        }
        prove(tree, cut_size)
    }
}

/// The inclusion proof of entry `seq` in the checkpoint of `size` entries (the newest when
/// `None`), with the entry's canonical bytes as its `extra`.
pub async fn inclusion(
    store: &Store,
    proofs: &ProofTree,
    seq: u64,
    size: Option<u64>,
) -> Result<InclusionProof, ProofRefusal> {
    let signed = checkpoint(store, size).await?;
    let size = signed.checkpoint.size;
    let no_entry = || ProofRefusal::NoEntry { seq, size };
    if seq == 0 || seq > size {
        return Err(no_entry());
    }
    let entry = store
        .ledger_after(seq as i64 - 1, 1)
        .await?
        .into_iter()
        .next()
        .filter(|s| s.entry.seq == seq)
        .ok_or_else(no_entry)?;
    let path = proofs
        .with_tree(store, &signed, |tree, cut| {
            if seq <= cut {
                return Err(no_entry());
            }
            tree.inclusion(seq - 1, size).map_err(corrupt)
        })
        .await?;
    Ok(InclusionProof { extra: Some(entry.entry.bytes()), index: seq - 1, path, note: signed.note })
}

/// The consistency proof from the tree of `old` entries to the checkpoint of `size` entries
/// (the newest when `None`).
pub async fn consistency(
    store: &Store,
    proofs: &ProofTree,
    old: u64,
    size: Option<u64>,
) -> Result<ConsistencyProof, ProofRefusal> {
    let signed = checkpoint(store, size).await?;
    let size = signed.checkpoint.size;
    if old > size {
        return Err(ProofRefusal::BadRange { old, size, why: "the earlier size is the larger" });
    }
    let path = proofs
        .with_tree(store, &signed, |tree, _| {
            tree.consistency(old, size).map_err(|_| ProofRefusal::BadRange {
                old,
                size,
                why: "the earlier tree is older than the retention cut",
            })
        })
        .await?;
    Ok(ConsistencyProof { old, path, note: signed.note })
}
