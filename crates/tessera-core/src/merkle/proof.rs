//! RFC 9162's proofs (sections 2.1.3 and 2.1.4): an inclusion proof shows that a leaf is in
//! a tree of a given root, a consistency proof that a tree only grew by appending. Both are
//! made from the roots of perfect subtrees ([`Subtrees`], kept by [`super::Tree`]) and
//! checked from the proof alone, by RFC 9162's verification algorithms.

use super::{fold_root, node_hash};

/// Where the roots of a tree's perfect subtrees are kept.
pub trait Subtrees {
    /// The root of the perfect subtree of `2^level` leaves that starts at leaf
    /// `index << level`, when it is known.
    fn subtree(&self, level: u32, index: u64) -> Option<[u8; 32]>;
}

/// Why a proof could not be made or does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The leaf is not in the tree.
    #[error("leaf {index} is not in a tree of {size} leaves")]
    OutOfRange {
        /// The leaf's index.
        index: u64,
        /// The tree's size.
        size: u64,
    },
    /// The older tree is the larger.
    #[error("a tree of {old} leaves cannot be an earlier state of a tree of {new}")]
    Shrunk {
        /// The older tree's size.
        old: u64,
        /// The newer tree's size.
        new: u64,
    },
    /// A hash the proof needs is not kept (a retention cut removed it).
    #[error("the subtree of 2^{level} leaves at {index} is not kept")]
    Missing {
        /// The subtree's level.
        level: u32,
        /// Its index at that level.
        index: u64,
    },
    /// The proof has too few or too many hashes for the sizes.
    #[error("the proof has {found} hashes, not the number these sizes need")]
    Length {
        /// How many it has.
        found: usize,
    },
    /// The proof leads to another root.
    #[error("the proof does not lead to the root")]
    Mismatch,
}

/// The largest power of two below `n` (`n > 1`): where RFC 9162 splits a tree.
fn split(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The root of leaves `start .. start + len`, `start` aligned as RFC 9162's recursion aligns
/// it (a multiple of the smallest power of two not below `len`), from the perfect subtrees
/// that make it up, largest first.
pub(crate) fn range_root<S: Subtrees + ?Sized>(
    source: &S,
    start: u64,
    len: u64,
) -> Result<[u8; 32], ProofError> {
    let mut hashes = Vec::with_capacity(len.count_ones() as usize);
    let mut at = start;
    for level in (0..64u32).rev() {
        if (len >> level) & 1 == 1 {
            let index = at >> level;
            hashes.push(source.subtree(level, index).ok_or(ProofError::Missing { level, index })?);
            at += 1u64 << level;
        }
    }
    Ok(fold_root(hashes.iter()))
}

/// The inclusion proof of leaf `index` in the tree of the first `size` leaves (RFC 9162's
/// PATH), the sibling nearest the leaf first.
pub fn inclusion<S: Subtrees + ?Sized>(
    source: &S,
    index: u64,
    size: u64,
) -> Result<Vec<[u8; 32]>, ProofError> {
    if index >= size {
        return Err(ProofError::OutOfRange { index, size });
    }
    let (mut start, mut n, mut m) = (0u64, size, index);
    let mut path = Vec::new();
    while n > 1 {
        let k = split(n);
        if m < k {
            path.push(range_root(source, start + k, n - k)?);
            n = k;
        } else {
            path.push(range_root(source, start, k)?);
            (start, m, n) = (start + k, m - k, n - k);
        }
    }
    path.reverse();
    Ok(path)
}

/// The consistency proof from the tree of the first `old` leaves to that of the first `new`
/// (RFC 9162's PROOF): empty when `old` is 0 or `new`.
pub fn consistency<S: Subtrees + ?Sized>(
    source: &S,
    old: u64,
    new: u64,
) -> Result<Vec<[u8; 32]>, ProofError> {
    if old > new {
        return Err(ProofError::Shrunk { old, new });
    }
    if old == 0 || old == new {
        return Ok(Vec::new());
    }
    let (mut start, mut n, mut m, mut whole) = (0u64, new, old, true);
    let mut path = Vec::new();
    while m != n {
        let k = split(n);
        if m <= k {
            path.push(range_root(source, start + k, n - k)?);
            n = k;
        } else {
            path.push(range_root(source, start, k)?);
            (start, m, n, whole) = (start + k, m - k, n - k, false);
        }
    }
    // The old tree is a subtree of the new one: its root is known to the verifier.
    if !whole {
        path.push(range_root(source, start, n)?);
    }
    path.reverse();
    Ok(path)
}

/// Checks that `leaf` is leaf `index` of the tree of `size` leaves whose root is `root`
/// (RFC 9162, 2.1.3.2).
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &[u8; 32],
    path: &[[u8; 32]],
    root: &[u8; 32],
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::OutOfRange { index, size });
    }
    let (mut fn_, mut sn, mut r) = (index, size - 1, *leaf);
    for p in path {
        if sn == 0 {
            return Err(ProofError::Length { found: path.len() });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                (fn_, sn) = (fn_ >> 1, sn >> 1);
            }
        } else {
            r = node_hash(&r, p);
        }
        (fn_, sn) = (fn_ >> 1, sn >> 1);
    }
    if sn != 0 {
        return Err(ProofError::Length { found: path.len() });
    }
    if &r == root { Ok(()) } else { Err(ProofError::Mismatch) }
}

/// Checks that the tree of `new` leaves with root `new_root` extends the tree of `old`
/// leaves with root `old_root` (RFC 9162, 2.1.4.2).
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &[u8; 32],
    new_root: &[u8; 32],
    proof: &[[u8; 32]],
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::Shrunk { old, new });
    }
    if old == 0 || old == new {
        if !proof.is_empty() {
            return Err(ProofError::Length { found: proof.len() });
        }
        return if old == 0 || old_root == new_root { Ok(()) } else { Err(ProofError::Mismatch) };
    }
    let length = ProofError::Length { found: proof.len() };
    // When the old tree is a perfect subtree its root is the proof's first hash.
    let mut path: Vec<&[u8; 32]> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(old_root);
    }
    path.extend(proof);
    let Some((first, rest)) = path.split_first() else { return Err(length) };
    let (mut fn_, mut sn) = (old - 1, new - 1);
    while fn_ & 1 == 1 {
        (fn_, sn) = (fn_ >> 1, sn >> 1);
    }
    let (mut fr, mut sr) = (**first, **first);
    for c in rest {
        if sn == 0 {
            return Err(length);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                (fn_, sn) = (fn_ >> 1, sn >> 1);
            }
        } else {
            sr = node_hash(&sr, c);
        }
        (fn_, sn) = (fn_ >> 1, sn >> 1);
    }
    if sn != 0 {
        return Err(length);
    }
    if &fr == old_root && &sr == new_root { Ok(()) } else { Err(ProofError::Mismatch) }
}

#[cfg(test)]
mod tests {
    use super::super::{Tree, leaf_hash};
    use super::*;

    /// RFC 9162's MTH, PATH and SUBPROOF written as the recursions it states.
    fn mth(leaves: &[[u8; 32]]) -> [u8; 32] {
        match leaves.len() {
            0 => super::super::EMPTY_ROOT,
            1 => leaves[0],
            n => {
                let k = split(n as u64) as usize;
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    fn path(m: usize, leaves: &[[u8; 32]]) -> Vec<[u8; 32]> {
        let n = leaves.len();
        if n == 1 {
            return Vec::new();
        }
        let k = split(n as u64) as usize;
        let (mut p, sibling) = if m < k {
            (path(m, &leaves[..k]), mth(&leaves[k..]))
        } else {
            (path(m - k, &leaves[k..]), mth(&leaves[..k]))
        };
        p.push(sibling);
        p
    }

    fn subproof(m: usize, leaves: &[[u8; 32]], whole: bool) -> Vec<[u8; 32]> {
        let n = leaves.len();
        if m == n {
            return if whole { Vec::new() } else { vec![mth(leaves)] };
        }
        let k = split(n as u64) as usize;
        let (mut p, sibling) = if m <= k {
            (subproof(m, &leaves[..k], whole), mth(&leaves[k..]))
        } else {
            (subproof(m - k, &leaves[k..], false), mth(&leaves[..k]))
        };
        p.push(sibling);
        p
    }

    #[test]
    fn proofs_are_rfc_9162s_and_verify_and_a_changed_hash_is_caught() {
        let leaves: Vec<[u8; 32]> = (0u32..40).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut tree = Tree::new();
        for leaf in &leaves {
            tree.push(*leaf);
        }
        for n in 1..=leaves.len() {
            let root = mth(&leaves[..n]);
            for m in 0..n {
                let proof = inclusion(&tree, m as u64, n as u64).expect("inclusion");
                assert_eq!(proof, path(m, &leaves[..n]), "PATH({m}, {n})");
                verify_inclusion(m as u64, n as u64, &leaves[m], &proof, &root).expect("holds");
                let other = leaves[(m + 1) % n];
                if other != leaves[m] {
                    assert!(verify_inclusion(m as u64, n as u64, &other, &proof, &root).is_err());
                }
                if m > 0 {
                    let proof = consistency(&tree, m as u64, n as u64).expect("consistency");
                    let expected =
                        if m == n { Vec::new() } else { subproof(m, &leaves[..n], true) };
                    assert_eq!(proof, expected, "PROOF({m}, {n})");
                    let old = mth(&leaves[..m]);
                    verify_consistency(m as u64, n as u64, &old, &root, &proof).expect("holds");
                    let mut forged = leaves[..n].to_vec();
                    forged[m - 1][0] ^= 1;
                    assert!(
                        verify_consistency(m as u64, n as u64, &mth(&forged[..m]), &root, &proof)
                            .is_err()
                    );
                    if let Some(first) = proof.first() {
                        let mut bent = proof.clone();
                        bent[0][0] ^= first[0] | 1;
                        assert!(
                            verify_consistency(m as u64, n as u64, &old, &root, &bent).is_err()
                        );
                    }
                }
            }
        }
        assert_eq!(inclusion(&tree, 5, 5), Err(ProofError::OutOfRange { index: 5, size: 5 }));
        assert_eq!(consistency(&tree, 6, 5), Err(ProofError::Shrunk { old: 6, new: 5 }));
        assert_eq!(
            verify_consistency(3, 5, &[0; 32], &[0; 32], &[]),
            Err(ProofError::Length { found: 0 })
        );
    }
}
