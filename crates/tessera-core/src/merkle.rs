//! The Merkle tree hashing of RFC 9162 (Certificate Transparency 2.0, section 2.1), as the
//! audit ledger uses it: a leaf is SHA-256(0x00 ‖ its bytes), an inner node
//! SHA-256(0x01 ‖ left ‖ right), a tree of `n > 1` leaves splits at the largest power of two
//! below `n`, and the empty tree's root is SHA-256 of nothing.
//!
//! [`Frontier`] is the tree's compact form: the roots of the perfect subtrees that make up
//! its first `size` leaves (one per bit set in `size`, largest first). It extends leaf by leaf
//! and answers the root at any size, so a verifier needs neither the whole tree in memory nor
//! the leaves a retention cut removed (their frontier stands for them).

use sha2::{Digest, Sha256};

/// The root of the empty tree: SHA-256 of no bytes.
pub const EMPTY_ROOT: [u8; 32] = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// A leaf's hash: SHA-256(0x00 ‖ `data`).
pub fn leaf_hash(data: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update([0u8]);
    hasher.update(data);
    hasher.finalize().into()
}

/// An inner node's hash: SHA-256(0x01 ‖ `left` ‖ `right`).
pub fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update([1u8]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The first `size` leaves of a tree, as the roots of its perfect subtrees, largest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    hashes: Vec<[u8; 32]>,
}

/// Frontier hashes whose count does not fit the size.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a frontier of {size} leaves has {expected} hashes, not {found}")]
pub struct FrontierError {
    /// The size given.
    pub size: u64,
    /// How many hashes that size needs (its bits set).
    pub expected: u32,
    /// How many were given.
    pub found: usize,
}

impl Frontier {
    /// The empty tree.
    pub fn new() -> Frontier {
        Frontier::default()
    }

    /// A frontier from its parts, as [`Frontier::size`] and [`Frontier::hashes`] give them.
    pub fn from_parts(size: u64, hashes: Vec<[u8; 32]>) -> Result<Frontier, FrontierError> {
        if hashes.len() != size.count_ones() as usize {
            return Err(FrontierError { size, expected: size.count_ones(), found: hashes.len() });
        }
        Ok(Frontier { size, hashes })
    }

    /// How many leaves it holds.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The perfect subtrees' roots, largest first.
    pub fn hashes(&self) -> &[[u8; 32]] {
        &self.hashes
    }

    /// Appends a leaf by its hash ([`leaf_hash`]).
    pub fn push(&mut self, leaf: [u8; 32]) {
        let mut hash = leaf;
        let mut size = self.size;
        // Each trailing one bit is a perfect subtree of the new leaf's size: merge them.
        while size & 1 == 1 {
            let left = self.hashes.pop().unwrap_or_default();
            hash = node_hash(&left, &hash);
            size >>= 1;
        }
        self.hashes.push(hash);
        self.size += 1;
    }

    /// The tree's root (RFC 9162's MTH of its leaves).
    pub fn root(&self) -> [u8; 32] {
        let mut subtrees = self.hashes.iter().rev();
        let Some(last) = subtrees.next() else { return EMPTY_ROOT };
        subtrees.fold(*last, |right, left| node_hash(left, &right))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The leaves of RFC 9162's reference test vectors (those of Certificate Transparency's
    /// reference implementation).
    fn vector_leaves() -> Vec<Vec<u8>> {
        vec![
            vec![],
            vec![0x00],
            vec![0x10],
            vec![0x20, 0x21],
            vec![0x30, 0x31],
            vec![0x40, 0x41, 0x42, 0x43],
            (0x50..0x58).collect(),
            (0x60..0x70).collect(),
        ]
    }

    const ROOTS: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    #[test]
    fn roots_match_the_reference_vectors_at_every_size() {
        let mut frontier = Frontier::new();
        assert_eq!(frontier.root(), EMPTY_ROOT);
        assert_eq!(EMPTY_ROOT, <[u8; 32]>::from(Sha256::digest(b"")));
        for (leaf, root) in vector_leaves().iter().zip(ROOTS) {
            frontier.push(leaf_hash(leaf));
            assert_eq!(hex::encode(frontier.root()), root, "size {}", frontier.size());
        }
    }

    /// RFC 9162's definition, written as the recursion it states.
    fn mth(leaves: &[[u8; 32]]) -> [u8; 32] {
        match leaves.len() {
            0 => EMPTY_ROOT,
            1 => leaves[0],
            n => {
                let mut k = 1;
                while k * 2 < n {
                    k *= 2;
                }
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    #[test]
    fn the_frontier_agrees_with_the_recursive_definition_and_round_trips() {
        let leaves: Vec<[u8; 32]> = (0u32..70).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut frontier = Frontier::new();
        for (i, leaf) in leaves.iter().enumerate() {
            frontier.push(*leaf);
            assert_eq!(frontier.root(), mth(&leaves[..=i]), "size {}", i + 1);
            assert_eq!(frontier.hashes().len(), (i + 1).count_ones() as usize);
            let copy = Frontier::from_parts(frontier.size(), frontier.hashes().to_vec());
            assert_eq!(copy.as_ref(), Ok(&frontier));
        }
        assert!(Frontier::from_parts(3, vec![[0; 32]]).is_err());
    }
}
