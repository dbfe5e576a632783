//! A Merkle tree that keeps the root of every perfect subtree (about two hashes a leaf), so
//! that an inclusion or consistency proof is a few lookups (Go's `sumdb/tlog` keeps the same
//! "stored hashes"). After a retention cut it starts from the cut's [`Frontier`]: the
//! subtrees before the cut are known only through it and the few nodes that span the cut.

use super::proof::{self, ProofError, Subtrees};
use super::{Frontier, node_hash};

/// A tree that can prove.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    size: u64,
    /// The leaves before it are known only through `sparse`.
    cut: u64,
    /// The cut's frontier and the nodes spanning the cut, by (level, index): a few dozen.
    sparse: Vec<((u32, u64), [u8; 32])>,
    /// `levels[l][j]`: the subtree of level `l` and index `first(l) + j` (those wholly after
    /// the cut).
    levels: Vec<Vec<[u8; 32]>>,
}

impl Tree {
    /// The empty tree.
    pub fn new() -> Tree {
        Tree::default()
    }

    /// The tree that a retention cut left: its frontier, leaves to be pushed after it.
    pub fn after_cut(frontier: &Frontier) -> Tree {
        let mut tree = Tree { size: frontier.size(), cut: frontier.size(), ..Tree::default() };
        let mut at = 0u64;
        let mut hashes = frontier.hashes().iter();
        for level in (0..64u32).rev() {
            if (frontier.size() >> level) & 1 == 1 {
                if let Some(hash) = hashes.next() {
                    tree.sparse.push(((level, at >> level), *hash));
                }
                at += 1u64 << level;
            }
        }
        tree
    }

    /// Its size (leaves, counting those cut).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The index of the first subtree of `level` wholly after the cut.
    fn first(&self, level: u32) -> u64 {
        let width = 1u64 << level;
        self.cut.div_ceil(width)
    }

    fn store(&mut self, level: u32, index: u64, hash: [u8; 32]) {
        if (index << level) < self.cut {
            self.sparse.push(((level, index), hash));
            return;
        }
        let level = level as usize;
        if self.levels.len() <= level {
            self.levels.resize_with(level + 1, Vec::new);
        }
        self.levels[level].push(hash);
    }

    /// Appends a leaf by its hash.
    pub fn push(&mut self, leaf: [u8; 32]) {
        let (mut level, mut index, mut hash) = (0u32, self.size, leaf);
        self.store(level, index, hash);
        // Each odd index completes its parent with the sibling on its left, which is
        // always kept (after the cut, or in the cut's frontier).
        while index & 1 == 1 {
            let left = self.subtree(level, index - 1);
            debug_assert!(left.is_some(), "the left sibling is kept");
            hash = node_hash(&left.unwrap_or_default(), &hash);
            (level, index) = (level + 1, index >> 1);
            self.store(level, index, hash);
        }
        self.size += 1;
    }

    /// The root of the first `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<[u8; 32], ProofError> {
        if size > self.size {
            return Err(ProofError::Shrunk { old: size, new: self.size });
        }
        proof::range_root(self, 0, size)
    }

    /// The inclusion proof of leaf `index` in the tree of `size` leaves.
    pub fn inclusion(&self, index: u64, size: u64) -> Result<Vec<[u8; 32]>, ProofError> {
        if size > self.size {
            return Err(ProofError::OutOfRange { index, size: self.size });
        }
        proof::inclusion(self, index, size)
    }

    /// The consistency proof from the tree of `old` leaves to that of `new`.
    pub fn consistency(&self, old: u64, new: u64) -> Result<Vec<[u8; 32]>, ProofError> {
        if new > self.size {
            return Err(ProofError::Shrunk { old: new, new: self.size });
        }
        proof::consistency(self, old, new)
    }
}

impl Subtrees for Tree {
    fn subtree(&self, level: u32, index: u64) -> Option<[u8; 32]> {
        let start = index.checked_mul(1u64.checked_shl(level)?)?;
        if start < self.cut {
            return self.sparse.iter().find(|(at, _)| *at == (level, index)).map(|(_, h)| *h);
        }
        let j = usize::try_from(index - self.first(level)).ok()?;
        self.levels.get(level as usize)?.get(j).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::super::leaf_hash;
    use super::*;

    #[test]
    fn a_tree_after_a_cut_proves_what_the_whole_tree_proves_after_the_cut() {
        let leaves: Vec<[u8; 32]> = (0u32..50).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut whole = Tree::new();
        leaves.iter().for_each(|l| whole.push(*l));
        for cut in [1usize, 6, 7, 8, 13, 32] {
            let mut frontier = Frontier::new();
            leaves[..cut].iter().for_each(|l| frontier.push(*l));
            let mut after = Tree::after_cut(&frontier);
            leaves[cut..].iter().for_each(|l| after.push(*l));
            for n in cut..=leaves.len() {
                let n = n as u64;
                assert_eq!(after.root_at(n), whole.root_at(n), "root at {n}, cut {cut}");
                for m in cut as u64..n {
                    assert_eq!(after.inclusion(m, n), whole.inclusion(m, n), "{m} in {n}");
                }
                assert_eq!(after.consistency(cut as u64, n), whole.consistency(cut as u64, n));
            }
        }
        assert!(matches!(whole.root_at(51), Err(ProofError::Shrunk { .. })));
        assert_eq!(Tree::new().root_at(0), Ok(super::super::EMPTY_ROOT));
    }
}
