//! The one check of an export: signatures, delegations, every entry, every root, and what an
//! earlier export or a witness saw.

use super::replay::{Due, replay};
use super::{Checkpoint, Export, Signed};
use crate::armor::{Envelope, Kind};
use crate::delegation::{Delegation, DelegationClaims, Purpose};
use crate::keys::PublicKey;
use crate::time::UnixTime;
use crate::trust::TrustSet;

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
    /// A witness holds a checkpoint the ledger does not reach: entries were removed.
    #[error(
        "a witness holds the checkpoint of {size} entries signed at {signed_at}, the ledger only {held}: entries were removed"
    )]
    WitnessAhead {
        /// The witnessed checkpoint's size.
        size: u64,
        /// When it was signed.
        signed_at: UnixTime,
        /// The ledger's size.
        held: u64,
    },
    /// A witness holds a checkpoint whose root the ledger does not have at its size.
    #[error(
        "a witness holds the checkpoint of {size} entries signed at {signed_at} and the ledger does not extend it: an entry it covered was changed, removed or reordered"
    )]
    WitnessForked {
        /// The witnessed checkpoint's size.
        size: u64,
        /// When it was signed.
        signed_at: UnixTime,
    },
    /// The witnesses' file holds no checkpoint.
    #[error("the witnesses' file holds no signed checkpoint")]
    WitnessEmpty,
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
    /// How many witnessed checkpoints the tree was shown to extend.
    pub witnessed: usize,
    /// Witnessed checkpoints older than the retention cut, which cannot be compared.
    pub witnessed_before_cut: usize,
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
    verify_witnessed(export, trust, since, None)
}

/// Whether a checkpoint is signed by a key that one of `delegations` (armored `LEDGER
/// DELEGATION`s, those of an export) lets sign at its `signed_at`, by a vendor key of `trust`.
pub fn vouched(
    signed: &Signed,
    delegations: &[String],
    trust: &TrustSet,
) -> Result<(), LedgerError> {
    let delegations: Vec<(PublicKey, &String)> = delegations
        .iter()
        .filter_map(|text| {
            let envelope = Envelope::parse(Kind::LedgerDelegation, text.as_bytes()).ok()?;
            let claims: DelegationClaims = envelope.open().ok()?;
            Some((claims.portal_key, text))
        })
        .collect();
    vouched_by(signed, &delegations, trust)
}

fn vouched_by(
    signed: &Signed,
    delegations: &[(PublicKey, &String)],
    trust: &TrustSet,
) -> Result<(), LedgerError> {
    let Checkpoint { size, .. } = signed.checkpoint;
    let undelegated =
        |why: String| LedgerError::Undelegated { size, signed_at: signed.signed_at, why };
    let mut why = "no delegation of the key that signed it in the export".to_owned();
    for (key, text) in delegations {
        if !signed.signed_by(key) {
            continue;
        }
        match Delegation::verify_for(Purpose::Ledger, text.as_bytes(), trust, signed.signed_at) {
            Ok(d) if d.covers(signed.signed_at) => return Ok(()),
            Ok(_) => why = "the delegation's window does not cover it".to_owned(),
            Err(e) => why = e.to_string(),
        }
    }
    Err(undelegated(why))
}

/// [`verify`], and also that the tree extends every checkpoint in `witnessed` (the heads a
/// witness directory, a witness file or a hub collected) that is not older than the
/// retention cut.
pub fn verify_witnessed(
    export: &Export,
    trust: &TrustSet,
    since: Option<&Export>,
    witnessed: Option<&Export>,
) -> Result<Verified, LedgerError> {
    // Each delegated key, with the delegation's text (its vendor signature is checked at the
    // time of each checkpoint it vouches for).
    let delegations: Vec<(PublicKey, &String)> = export
        .delegations
        .iter()
        .chain(since.map(|s| &s.delegations).into_iter().flatten())
        .chain(witnessed.map(|s| &s.delegations).into_iter().flatten())
        .filter_map(|text| {
            let envelope = Envelope::parse(Kind::LedgerDelegation, text.as_bytes()).ok()?;
            let claims: DelegationClaims = envelope.open().ok()?;
            Some((claims.portal_key, text))
        })
        .collect();
    let check = |signed: &Signed| vouched_by(signed, &delegations, trust);
    let mut checkpoints: Vec<&Signed> = export.checkpoints.iter().collect();
    checkpoints.sort_by_key(|s| s.checkpoint.size);
    let newest = *checkpoints.last().ok_or(LedgerError::NoCheckpoint)?;
    let origin = &newest.checkpoint.origin;
    let same_log = |signed: &Signed| {
        check(signed)?;
        if &signed.checkpoint.origin != origin {
            return Err(LedgerError::Foreign {
                size: signed.checkpoint.size,
                origin: signed.checkpoint.origin.clone(),
            });
        }
        Ok(())
    };
    for signed in &checkpoints {
        same_log(signed)?;
    }
    let earlier = match since {
        Some(since) => {
            let earlier = since
                .checkpoints
                .iter()
                .max_by_key(|s| s.checkpoint.size)
                .ok_or(LedgerError::SinceEmpty)?;
            same_log(earlier)?;
            Some(earlier)
        }
        None => None,
    };
    let witnessed: Vec<&Signed> = match witnessed {
        Some(file) if file.checkpoints.is_empty() => return Err(LedgerError::WitnessEmpty),
        Some(file) => file.checkpoints.iter().collect(),
        None => Vec::new(),
    };
    for signed in &witnessed {
        same_log(signed)?;
    }

    // Entries cut at retention: their frontier stands for them, and a held cut entry must
    // say it removed exactly them.
    let tree = export.frontier.clone().unwrap_or_default();
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
    let held = offset + export.entries.len() as u64;
    let (compared, before_cut): (Vec<&Signed>, Vec<&Signed>) =
        witnessed.iter().partition(|s| s.checkpoint.size >= offset);
    if let Some(ahead) = compared.iter().find(|s| s.checkpoint.size > held) {
        return Err(LedgerError::WitnessAhead {
            size: ahead.checkpoint.size,
            signed_at: ahead.signed_at,
            held,
        });
    }
    // Roots to compare, by tree size: every checkpoint not older than the cut, the earlier
    // one, and the witnessed ones.
    let mut due: Vec<Due> = checkpoints
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
    for signed in &compared {
        let size = signed.checkpoint.size;
        let error = LedgerError::WitnessForked { size, signed_at: signed.signed_at };
        due.push((size, signed.checkpoint.root, error));
    }
    let tree = replay(tree, &export.entries, due)?;
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
        witnessed: compared.len(),
        witnessed_before_cut: before_cut.len(),
    })
}
