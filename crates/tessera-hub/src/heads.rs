//! The portal's audit ledger heads this hub received: each receipt names the ledger's latest
//! signed checkpoint (`ledger_head`), and the hub keeps a few of them, so that its customer
//! holds evidence of what the ledger was. `tessera-hub audit-heads` exports them as a witness
//! file that `tessera audit verify --witness` reads (docs/FORMAT.md, section 12.6).
//!
//! Kept: the first and the largest head of each UTC day, for [`KEEP_DAYS`] days back from the
//! newest head (at most twice that many lines, a few hundred bytes each). A checkpoint is
//! believed only when the portal key that signed the receipt signed it too; an export is
//! checked, as ever, against the vendor's ledger delegations by `tessera audit verify`. A
//! head's signing time is not signed: it is taken as no later than the receipt's own (signed)
//! time, so a head dated in the future cannot push the year's heads out.

use std::path::Path;

use tessera_core::UnixTime;
use tessera_core::fsutil::{WriteOptions, read_capped, write_atomic};
use tessera_core::keys::PublicKey;
use tessera_core::ledger::{Export, LedgerHead, Signed};

use crate::state::StateError;

/// How many days of heads are kept, two a day.
pub const KEEP_DAYS: i64 = 366;

/// The largest heads file read (a year of heads is about 100 KB).
const MAX_FILE: usize = 1024 * 1024;

const DAY: i64 = 86_400;

/// What keeping a received head came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// The head is new and is kept.
    New,
    /// The hub holds it already.
    Known,
    /// It is smaller than a head the hub holds (an instance of the portal that lags, or a
    /// portal rolled back): kept if it is the largest of its day.
    Older,
    /// The hub holds another root at the same size: the portal showed two histories (kept
    /// as evidence if it is the first of its day; the caller warns).
    Conflicting,
}

/// The heads the file at `path` holds, oldest first (none when it does not exist).
pub fn read(path: &Path) -> Result<Vec<Signed>, StateError> {
    let bytes = match read_capped(path, MAX_FILE) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(StateError::Io { path: path.to_owned(), source }),
    };
    let damaged = |reason: String| StateError::Damaged { path: path.to_owned(), reason };
    let text = String::from_utf8(bytes).map_err(|_| damaged("not UTF-8".to_owned()))?;
    let mut heads =
        Export::from_lines(text.lines()).map_err(|e| damaged(e.to_string()))?.checkpoints;
    heads.sort_by_key(|s| s.signed_at);
    Ok(heads)
}

/// Keeps `head`, received in a receipt signed by `portal_key` at `received_at` (the
/// receipt's portal time), in the file at `path`: a head that does not read or that
/// `portal_key` did not sign is an error, and the file keeps only what [`retained`] keeps.
pub fn keep(
    path: &Path,
    head: &LedgerHead,
    portal_key: &PublicKey,
    received_at: UnixTime,
) -> Result<Kept, StateError> {
    let damaged = |reason: String| StateError::Damaged { path: path.to_owned(), reason };
    let mut signed = head.read().map_err(|e| damaged(format!("the receipt's ledger head: {e}")))?;
    signed.signed_at = signed.signed_at.min(received_at);
    if !signed.signed_by(portal_key) {
        return Err(damaged("the receipt's ledger head is not signed by its portal key".into()));
    }
    let mut heads = read(path)?;
    let same = |s: &Signed| s.checkpoint == signed.checkpoint;
    if heads.iter().any(same) {
        return Ok(Kept::Known);
    }
    let of_log = |s: &&Signed| s.checkpoint.origin == signed.checkpoint.origin;
    let answer = if heads.iter().filter(of_log).any(|s| s.checkpoint.size == signed.checkpoint.size)
    {
        Kept::Conflicting
    } else if heads.iter().filter(of_log).any(|s| s.checkpoint.size > signed.checkpoint.size) {
        Kept::Older
    } else {
        Kept::New
    };
    heads.push(signed);
    let heads = retained(heads);
    let text: String = heads.iter().map(|s| s.to_line() + "\n").collect();
    write_atomic(path, text.as_bytes(), WriteOptions::SECRET_REPLACE)
        .map_err(|source| StateError::Io { path: path.to_owned(), source })?;
    Ok(answer)
}

/// Of `heads`, the first and the largest of each UTC day (by `signed_at`; of two the same
/// size, the one signed first), for [`KEEP_DAYS`] days back from the newest, oldest first. A
/// portal's honest trees only grow, so the largest of a day is its newest, and a smaller or
/// rewritten tree shown later that day does not push it out; the first of the day stays
/// beside a larger one, so a larger rewritten history shown later that day leaves the head
/// it contradicts.
pub fn retained(heads: Vec<Signed>) -> Vec<Signed> {
    let Some(newest) = heads.iter().map(|s| s.signed_at.as_unix()).max() else { return heads };
    let oldest_day = newest.div_euclid(DAY) - (KEEP_DAYS - 1);
    let mut by_day: std::collections::BTreeMap<i64, (Signed, Signed)> =
        std::collections::BTreeMap::new();
    for head in heads {
        let day = head.signed_at.as_unix().div_euclid(DAY);
        if day < oldest_day {
            continue;
        }
        let Some((first, largest)) = by_day.get_mut(&day) else {
            by_day.insert(day, (head.clone(), head));
            continue;
        };
        if head.signed_at < first.signed_at {
            *first = head.clone();
        }
        if (head.checkpoint.size, std::cmp::Reverse(head.signed_at))
            > (largest.checkpoint.size, std::cmp::Reverse(largest.signed_at))
        {
            *largest = head;
        }
    }
    let mut kept = Vec::new();
    for (first, largest) in by_day.into_values() {
        let same = first.checkpoint == largest.checkpoint && first.signed_at == largest.signed_at;
        kept.push(first);
        if !same {
            kept.push(largest);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use tessera_core::UnixTime;
    use tessera_core::keys::SigningKey;
    use tessera_core::ledger::Checkpoint;

    use super::*;

    /// The time of the receipts these heads come in (after all of their signing times).
    fn now() -> UnixTime {
        UnixTime::from_unix(1_800_001_000).expect("time")
    }

    fn head(key: &SigningKey, size: u64, at: i64) -> LedgerHead {
        let checkpoint = Checkpoint {
            origin: "tessera.ledger/0011223344556677".into(),
            size,
            root: [size as u8; 32],
        };
        LedgerHead { signed_at: UnixTime::from_unix(at).expect("time"), note: checkpoint.sign(key) }
    }

    #[test]
    fn the_first_and_the_largest_head_of_each_day_are_kept_for_a_year() {
        let key = SigningKey::from_seed(&[4; 32]);
        let start = 1_800_000_000 - 1_800_000_000 % DAY;
        // Three heads a day for 400 days.
        let heads: Vec<Signed> = (0..400 * 3)
            .map(|i| head(&key, i as u64 + 1, start + i * DAY / 3).read().expect("reads"))
            .collect();
        let kept = retained(heads);
        assert_eq!(kept.len(), 2 * KEEP_DAYS as usize);
        // The newest of all, and of each day the first and the last (the third).
        assert_eq!(kept.last().map(|s| s.checkpoint.size), Some(1200));
        assert!(kept.iter().all(|s| s.checkpoint.size % 3 != 2), "the first and largest of a day");
        assert_eq!(kept.first().map(|s| s.checkpoint.size), Some(3 * (400 - 366) + 1));
    }

    #[test]
    fn a_head_dated_in_the_future_keeps_the_years_heads() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("ledger-heads.jsonl");
        let key = SigningKey::from_seed(&[4; 32]);
        let at = |t: i64| UnixTime::from_unix(t).expect("time");
        for day in 0..10 {
            let t = 1_800_000_000 + day * DAY;
            assert_eq!(
                keep(&path, &head(&key, day as u64 + 1, t), key.public_key(), at(t)).expect("kept"),
                Kept::New
            );
        }
        // Dated fifty years ahead, received in a receipt of today: counted as of today.
        let today = 1_800_000_000 + 10 * DAY;
        let future = head(&key, 11, today + 50 * 365 * DAY);
        assert_eq!(keep(&path, &future, key.public_key(), at(today)).expect("kept"), Kept::New);
        let t = today + 60;
        assert_eq!(
            keep(&path, &head(&key, 12, t), key.public_key(), at(t)).expect("kept"),
            Kept::New
        );
        let held: Vec<u64> = read(&path).expect("read").iter().map(|s| s.checkpoint.size).collect();
        assert_eq!(held, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    }

    #[test]
    fn a_larger_head_later_the_same_day_leaves_the_first_in_place() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("ledger-heads.jsonl");
        let key = SigningKey::from_seed(&[4; 32]);
        let at = |t: i64| UnixTime::from_unix(t).expect("time");
        let genuine = head(&key, 100, 1_800_000_000);
        keep(&path, &genuine, key.public_key(), at(1_800_000_000)).expect("kept");
        // A rewritten history of 150 entries, signed with the portal's key the same day.
        let mut forged = head(&key, 150, 1_800_000_600);
        forged.note = Checkpoint {
            origin: "tessera.ledger/0011223344556677".into(),
            size: 150,
            root: [9; 32],
        }
        .sign(&key);
        keep(&path, &forged, key.public_key(), at(1_800_000_600)).expect("kept");
        let held: Vec<u64> = read(&path).expect("read").iter().map(|s| s.checkpoint.size).collect();
        assert_eq!(held, [100, 150], "the genuine head stays beside the larger one");
    }

    #[test]
    fn a_head_is_kept_once_and_only_when_its_portal_key_signed_it() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("ledger-heads.jsonl");
        let key = SigningKey::from_seed(&[4; 32]);
        let other = SigningKey::from_seed(&[5; 32]);
        let first = head(&key, 3, 1_800_000_000);
        assert_eq!(keep(&path, &first, key.public_key(), now()).expect("kept"), Kept::New);
        assert_eq!(keep(&path, &first, key.public_key(), now()).expect("kept"), Kept::Known);
        assert!(matches!(
            keep(&path, &head(&other, 4, 1_800_000_100), key.public_key(), now()),
            Err(StateError::Damaged { .. })
        ));
        let later = head(&key, 5, 1_800_000_200);
        assert_eq!(keep(&path, &later, key.public_key(), now()).expect("kept"), Kept::New);
        // Same day: the first and the larger stay; a smaller tree or another root at its
        // size shown later that day does not push them out.
        assert_eq!(read(&path).expect("read").len(), 2);
        let smaller = head(&key, 4, 1_800_000_300);
        assert_eq!(keep(&path, &smaller, key.public_key(), now()).expect("kept"), Kept::Older);
        let mut forked = head(&key, 5, 1_800_000_400);
        forked.note =
            Checkpoint { origin: "tessera.ledger/0011223344556677".into(), size: 5, root: [9; 32] }
                .sign(&key);
        assert_eq!(keep(&path, &forked, key.public_key(), now()).expect("kept"), Kept::Conflicting);
        let held: Vec<u64> = read(&path).expect("read").iter().map(|s| s.checkpoint.size).collect();
        assert_eq!(held, [3, 5]);
        // The file is a witness file: checkpoint lines.
        let text = std::fs::read_to_string(&path).expect("text");
        assert!(text.starts_with("{\"kind\":\"checkpoint\""), "{text}");
        std::fs::write(&path, "not json\n").expect("damage");
        assert!(matches!(read(&path), Err(StateError::Damaged { .. })));
    }
}
