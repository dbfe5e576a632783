//! Rebuilding the tree of an export's entries, checking each entry and each root a
//! checkpoint (or an earlier export, or a witness) signed on the way, on every core.
//!
//! A Merkle tree, unlike a hash chain, splits: the entries are cut into chunks of
//! [`CHUNK`] leaves aligned in the tree (each chunk is one perfect subtree), each chunk is
//! hashed on its own thread into its frontier, and the chunks' subtrees are joined in order.
//! A root at a size inside a chunk is the tree before the chunk followed by the chunk's
//! frontier at that size, which the chunk keeps for every size due. The first fault is the
//! one a replay entry by entry would meet first.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::Entry;
use super::verify::LedgerError;
use crate::merkle::Frontier;

/// A root to compare: the tree's size, the root signed for it, the fault if it differs.
pub(crate) type Due = (u64, [u8; 32], LedgerError);

/// Leaves per chunk: a power of two; small enough to share the work evenly, large enough
/// that joining is nothing beside hashing.
const CHUNK: u64 = 1 << 14;

/// What a chunk of entries came to.
struct Chunk {
    /// The chunk's first leaf in the tree (a multiple of [`CHUNK`]).
    start: u64,
    /// The frontier of its leaves up to its first fault (or all of them).
    frontier: Frontier,
    /// The chunk's frontier's hashes at each size due inside it.
    snapshots: Vec<(u64, Vec<[u8; 32]>)>,
    /// The first faulty entry: its position in the chunk, and the fault.
    fault: Option<(u64, LedgerError)>,
}

/// Checks entry `index` (its place in the tree) against its number and stored hash.
fn check(
    entry: &Entry,
    stored: &[u8; 32],
    index: u64,
    buffer: &mut Vec<u8>,
) -> Result<[u8; 32], LedgerError> {
    let expected = index + 1;
    if entry.seq > expected {
        return Err(LedgerError::Removed { seq: expected });
    }
    if entry.seq < expected {
        return Err(LedgerError::Inserted { seq: entry.seq });
    }
    let leaf = entry.leaf_hash_in(buffer);
    if &leaf != stored {
        return Err(LedgerError::Changed { seq: entry.seq });
    }
    Ok(leaf)
}

/// Hashes one chunk: `entries` are leaves `start ..` of the tree.
fn hash_chunk(start: u64, entries: &[(Entry, [u8; 32])], due_sizes: &[u64]) -> Chunk {
    let mut chunk = Chunk { start, frontier: Frontier::new(), snapshots: Vec::new(), fault: None };
    let mut buffer = Vec::with_capacity(256);
    let first_due = due_sizes.partition_point(|size| *size <= start);
    let mut due = due_sizes[first_due..].iter().peekable();
    for (i, (entry, stored)) in entries.iter().enumerate() {
        match check(entry, stored, start + i as u64, &mut buffer) {
            Ok(leaf) => chunk.frontier.push(leaf),
            Err(fault) => {
                chunk.fault = Some((i as u64, fault));
                break;
            }
        }
        let size = start + chunk.frontier.size();
        if due.next_if(|s| **s == size).is_some() {
            while due.next_if(|s| **s == size).is_some() {}
            chunk.snapshots.push((size, chunk.frontier.hashes().to_vec()));
        }
    }
    chunk
}

/// Pops and compares the roots due at sizes up to `through`, the tree at each given by
/// `root_at`.
fn settle(
    due: &mut Vec<Due>,
    through: u64,
    root_at: impl Fn(u64) -> Option<[u8; 32]>,
) -> Result<(), LedgerError> {
    while due.last().is_some_and(|(size, _, _)| *size <= through) {
        let Some((size, root, fault)) = due.pop() else { break };
        if root_at(size) != Some(root) {
            return Err(fault);
        }
    }
    Ok(())
}

/// Appends `entries` to `tree` (the frontier of the entries cut before them, or empty),
/// checking every entry and every root `due`; answers the whole tree. Roots due beyond the
/// tree's size are left for the caller to judge.
pub(crate) fn replay(
    mut tree: Frontier,
    entries: &[(Entry, [u8; 32])],
    mut due: Vec<Due>,
) -> Result<Frontier, LedgerError> {
    // Smallest last: popped first.
    due.sort_by_key(|(size, _, _)| std::cmp::Reverse(*size));
    let mut due_sizes: Vec<u64> = due.iter().map(|(size, _, _)| *size).collect();
    due_sizes.reverse();
    // The root is computed only when one is due at this size.
    let current = |tree: &Frontier, at: u64| (at == tree.size()).then(|| tree.root());
    settle(&mut due, tree.size(), |at| current(&tree, at))?;

    // The head: entries up to the first leaf index that is a multiple of CHUNK, one by one.
    let head = (tree.size().next_multiple_of(CHUNK) - tree.size()).min(entries.len() as u64);
    let (head, rest) = entries.split_at(head as usize);
    let start = tree.size() + head.len() as u64;
    let chunks: Vec<&[(Entry, [u8; 32])]> = rest.chunks(CHUNK as usize).collect();
    let results = hash_chunks(start, &chunks, &due_sizes, || {
        let mut buffer = Vec::with_capacity(256);
        for (entry, stored) in head {
            let leaf = check(entry, stored, tree.size(), &mut buffer)?;
            tree.push(leaf);
            settle(&mut due, tree.size(), |at| current(&tree, at))?;
        }
        Ok(())
    })?;

    for chunk in results {
        let end = chunk.start + chunk.frontier.size();
        let before = &tree;
        settle(&mut due, end, |size| {
            if size == before.size() {
                return Some(before.root());
            }
            let hashes = &chunk.snapshots.iter().find(|(at, _)| *at == size)?.1;
            Some(before.root_with(hashes))
        })?;
        if let Some((_, fault)) = chunk.fault {
            return Err(fault);
        }
        // The chunk's subtrees, largest first, each aligned where it lands.
        let size = chunk.frontier.size();
        let levels = (0..64u32).rev().filter(|level| (size >> level) & 1 == 1);
        for (hash, level) in chunk.frontier.hashes().iter().zip(levels) {
            tree.push_subtree(*hash, level);
        }
    }
    settle(&mut due, tree.size(), |at| current(&tree, at))?;
    Ok(tree)
}

/// Hashes `chunks` (the first starting at leaf `start`) on every core while this thread runs
/// `head`; answers the chunks in order, stopping after the first with a fault.
fn hash_chunks(
    start: u64,
    chunks: &[&[(Entry, [u8; 32])]],
    due_sizes: &[u64],
    head: impl FnOnce() -> Result<(), LedgerError>,
) -> Result<Vec<Chunk>, LedgerError> {
    let start_of = |i: usize| start + i as u64 * CHUNK;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(chunks.len());
    if threads <= 1 {
        head()?;
        let mut results = Vec::with_capacity(chunks.len());
        for (i, entries) in chunks.iter().enumerate() {
            let chunk = hash_chunk(start_of(i), entries, due_sizes);
            let faulty = chunk.fault.is_some();
            results.push(chunk);
            if faulty {
                break;
            }
        }
        return Ok(results);
    }
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<(usize, Chunk)>> = Mutex::new(Vec::with_capacity(chunks.len()));
    let worker = || {
        let mut mine = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(entries) = chunks.get(i) else { break };
            mine.push((i, hash_chunk(start_of(i), entries, due_sizes)));
        }
        if let Ok(mut done) = done.lock() {
            done.extend(mine);
        }
    };
    let headed = std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(worker);
        }
        head()
    });
    headed?;
    // (A worker's panic would have been raised by the scope.)
    let mut results = done.into_inner().unwrap_or_default();
    results.sort_by_key(|(i, _)| *i);
    let mut ordered = Vec::with_capacity(results.len());
    for (_, chunk) in results {
        let faulty = chunk.fault.is_some();
        ordered.push(chunk);
        if faulty {
            break;
        }
    }
    Ok(ordered)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(n: u64) -> Vec<(Entry, [u8; 32])> {
        (1..=n)
            .map(|seq| {
                let entry = Entry {
                    seq,
                    at: seq as i64,
                    actor: "a".into(),
                    action: "x".into(),
                    target: seq.to_string(),
                    org: None,
                };
                let leaf = entry.leaf_hash();
                (entry, leaf)
            })
            .collect()
    }

    #[test]
    fn chunks_on_every_core_give_the_tree_and_the_first_fault_of_a_replay_one_by_one() {
        let all = entries(3 * CHUNK + 123);
        let mut one_by_one = Frontier::new();
        let mut roots = Vec::new();
        for (_, leaf) in &all {
            one_by_one.push(*leaf);
            roots.push(one_by_one.root());
        }
        // Roots due at the chunks' edges, inside them, and past the end.
        let sizes = [1, 5, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 77, 3 * CHUNK + 123];
        let due = |sizes: &[u64]| -> Vec<Due> {
            sizes
                .iter()
                .map(|s| {
                    (
                        *s,
                        roots[*s as usize - 1],
                        LedgerError::Truncated {
                            size: *s,
                            signed_at: crate::time::UnixTime::EPOCH,
                            held: 0,
                        },
                    )
                })
                .collect()
        };
        let tree = replay(Frontier::new(), &all, due(&sizes)).expect("sound");
        assert_eq!(tree, one_by_one);
        // After a cut of 1000 leaves (the head is not aligned).
        let mut cut = Frontier::new();
        all[..1000].iter().for_each(|(_, l)| cut.push(*l));
        let tree = replay(cut, &all[1000..], due(&[1000, 1001, 2 * CHUNK])).expect("sound");
        assert_eq!(tree, one_by_one);
        // A wrong root inside a chunk, and an entry changed after it: the root is met first.
        let mut wrong = due(&[CHUNK + 10]);
        wrong[0].1[0] ^= 1;
        let mut changed = all.clone();
        changed[2 * CHUNK as usize].0.target = "changed".into();
        assert!(
            matches!(replay(Frontier::new(), &changed, wrong), Err(LedgerError::Truncated { size, .. }) if size == CHUNK + 10)
        );
        assert_eq!(
            replay(Frontier::new(), &changed, due(&[CHUNK + 10])),
            Err(LedgerError::Changed { seq: 2 * CHUNK + 1 })
        );
        // An entry missing in the last chunk.
        let mut missing = all.clone();
        missing.remove(3 * CHUNK as usize + 5);
        assert_eq!(
            replay(Frontier::new(), &missing, Vec::new()),
            Err(LedgerError::Removed { seq: 3 * CHUNK + 6 })
        );
    }
}
