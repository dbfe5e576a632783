//! The Merkle tree hashing of RFC 9162 (Certificate Transparency 2.0, section 2.1), as the
//! audit ledger uses it: a leaf is SHA-256(0x00 ‖ its bytes), an inner node
//! SHA-256(0x01 ‖ left ‖ right), a tree of `n > 1` leaves splits at the largest power of two
//! below `n`, and the empty tree's root is SHA-256 of nothing.
//!
//! [`Frontier`] is the tree's compact form: the roots of the perfect subtrees that make up
//! its first `size` leaves (one per bit set in `size`, largest first). It extends leaf by leaf
//! and answers the root at any size, so a verifier needs neither the whole tree in memory nor
//! the leaves a retention cut removed (their frontier stands for them).

//!
//! [`proof`] makes and checks RFC 9162's inclusion and consistency proofs; [`Tree`] keeps
//! every perfect subtree's hash so that a proof costs a few lookups, not a pass over the
//! leaves.
//!
//! The hashes go straight to SHA-256's compression function with the padding laid out here
//! (a node is always two blocks): with the CPU's SHA instructions the compression is so
//! cheap that a hasher's buffering cost as much again, and verifying an export is nothing
//! but these hashes (BENCHMARKS.md).

use sha2::block_api::compress256;

pub mod proof;
mod tree;

pub use tree::Tree;

/// SHA-256's initial state (FIPS 180-4, 5.3.3).
const IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

fn digest_of(state: [u32; 8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

/// SHA-256 of the message in `buffer`, which is padded in place (FIPS 180-4, 5.1.1: a 1 bit,
/// zeros, the length in bits as 8 bytes) and compressed in one call. The buffer is the
/// caller's, to reuse.
pub(crate) fn sha256_padding_in_place(buffer: &mut Vec<u8>) -> [u8; 32] {
    let bits = (buffer.len() as u64).wrapping_mul(8);
    buffer.push(0x80);
    let zeros = (64 + 56 - buffer.len() % 64) % 64;
    buffer.resize(buffer.len() + zeros, 0);
    buffer.extend_from_slice(&bits.to_be_bytes());
    let (blocks, rest) = buffer.as_chunks::<64>();
    debug_assert!(rest.is_empty());
    let mut state = IV;
    compress256(&mut state, blocks);
    digest_of(state)
}

/// The root of the empty tree: SHA-256 of no bytes.
pub const EMPTY_ROOT: [u8; 32] = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// A leaf's hash: SHA-256(0x00 ‖ `data`).
pub fn leaf_hash(data: &[u8]) -> [u8; 32] {
    let mut buffer = Vec::with_capacity(data.len() + 73);
    buffer.push(0);
    buffer.extend_from_slice(data);
    sha256_padding_in_place(&mut buffer)
}

/// An inner node's hash: SHA-256(0x01 ‖ `left` ‖ `right`), 65 bytes, so always the same
/// two blocks.
pub fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut blocks = [[0u8; 64]; 2];
    blocks[0][0] = 1;
    blocks[0][1..33].copy_from_slice(left);
    blocks[0][33..].copy_from_slice(&right[..31]);
    blocks[1][0] = right[31];
    blocks[1][1] = 0x80;
    blocks[1][56..].copy_from_slice(&(65u64 * 8).to_be_bytes());
    let mut state = IV;
    compress256(&mut state, &blocks);
    digest_of(state)
}

/// Hashes perfect subtrees' roots, largest first, right to left into one root (the empty
/// tree's when there are none).
pub(crate) fn fold_root<'a>(hashes: impl DoubleEndedIterator<Item = &'a [u8; 32]>) -> [u8; 32] {
    let mut subtrees = hashes.rev();
    let Some(last) = subtrees.next() else { return EMPTY_ROOT };
    subtrees.fold(*last, |right, left| node_hash(left, &right))
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

    /// Appends a perfect subtree of `2^level` leaves by its root. The tree's size must be a
    /// multiple of `2^level` (the subtree starts where a subtree of its size can start).
    pub(crate) fn push_subtree(&mut self, root: [u8; 32], level: u32) {
        debug_assert_eq!(self.size % (1u64 << level), 0, "an aligned subtree");
        let mut hash = root;
        let mut size = self.size >> level;
        while size & 1 == 1 {
            let left = self.hashes.pop().unwrap_or_default();
            hash = node_hash(&left, &hash);
            size >>= 1;
        }
        self.hashes.push(hash);
        self.size += 1u64 << level;
    }

    /// The tree's root (RFC 9162's MTH of its leaves).
    pub fn root(&self) -> [u8; 32] {
        fold_root(self.hashes.iter())
    }

    /// The root of this tree followed by a tree of fewer leaves than this one's smallest
    /// subtree, given by its frontier's hashes (`tail`): the root at the size of both.
    pub(crate) fn root_with(&self, tail: &[[u8; 32]]) -> [u8; 32] {
        fold_root(self.hashes.iter().chain(tail))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn the_padding_is_sha256s_at_every_length_around_the_block_boundaries() {
        for len in 0..300usize {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
            let mut buffer = data.clone();
            assert_eq!(
                sha256_padding_in_place(&mut buffer),
                <[u8; 32]>::from(Sha256::digest(&data))
            );
            let mut prefixed = vec![0u8];
            prefixed.extend(&data);
            assert_eq!(leaf_hash(&data), <[u8; 32]>::from(Sha256::digest(&prefixed)), "{len}");
        }
        let (left, right) = ([0x5a; 32], [0xc3; 32]);
        let mut joined = vec![1u8];
        joined.extend(left);
        joined.extend(right);
        assert_eq!(node_hash(&left, &right), <[u8; 32]>::from(Sha256::digest(&joined)));
    }

    #[test]
    fn a_subtree_pushed_whole_is_its_leaves_pushed_one_by_one() {
        let leaves: Vec<[u8; 32]> = (0u32..64).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut one_by_one = Frontier::new();
        for leaf in &leaves {
            one_by_one.push(*leaf);
        }
        let mut whole = Frontier::new();
        for chunk in leaves.chunks(8) {
            let mut sub = Frontier::new();
            chunk.iter().for_each(|l| sub.push(*l));
            assert_eq!(sub.hashes().len(), 1);
            let at = whole.clone();
            whole.push_subtree(sub.hashes()[0], 3);
            // A size inside the subtree: the frontier before it and the subtree's own.
            let mut part = Frontier::new();
            chunk[..5].iter().for_each(|l| part.push(*l));
            let mut expected = at.clone();
            chunk[..5].iter().for_each(|l| expected.push(*l));
            assert_eq!(at.root_with(part.hashes()), expected.root());
        }
        assert_eq!(whole, one_by_one);
    }

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
