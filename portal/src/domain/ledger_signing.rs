//! When the audit ledger's checkpoint is signed, and over what: the entries the portal can
//! vouch for (tags, its witness file, what it wrote itself), the witness file kept apart from
//! the database, and the retention cut at a signed checkpoint. What goes into the ledger is
//! `domain::audit`.

use std::path::Path;

use tessera_core::UnixTime;
use tessera_core::keys::SigningKey;
use tessera_core::ledger::{CUT_ACTION, Checkpoint, Export, Signed, cut_target, origin_named};
use tessera_core::merkle::{Frontier, Tree};

use crate::domain::audit::{Actor, record};
use crate::domain::witnesses::Witnesses;
use crate::store::ledger::StoredCheckpoint;
use crate::store::{Store, StoreError};

/// What signing a checkpoint needs: the portal's key, the vendor's ledger delegation of it,
/// the witness file (the last checkpoint signed, kept apart from the database), and where
/// each checkpoint goes once signed.
pub struct Signer<'a> {
    /// The portal's receipt key.
    pub key: &'a SigningKey,
    /// Its ledger delegation (armored); without one nothing is signed.
    pub delegation: Option<&'a str>,
    /// The portal's name in its ledger's origin (`ledger_name`), if any.
    pub name: Option<&'a str>,
    /// The witness file.
    pub witness: &'a Path,
    /// The checkpoint directory and the tlog witnesses.
    pub witnesses: &'a Witnesses,
    /// Whether to check the stored tree against the witness file even when no entry arrived
    /// (at start and now and then: an insider may rewrite entries that are already signed,
    /// or add a checkpoint row, without adding one).
    pub check_all: bool,
}

/// Whether a ledger delegation's window holds `now`: a checkpoint signed outside it would
/// not verify, so none is signed (the vendor renews the delegation; the portal says so).
fn covers(delegation: &str, now: UnixTime) -> bool {
    use tessera_core::armor::{Envelope, Kind};
    let covered = Envelope::parse(Kind::LedgerDelegation, delegation.as_bytes())
        .ok()
        .and_then(|e| e.open::<tessera_core::delegation::DelegationClaims>().ok())
        .is_some_and(|c| c.not_before <= now && now <= c.not_after);
    if !covered {
        tracing::error!(
            "the ledger delegation does not cover now: ledger checkpoints are not signed until it is renewed (tessera delegate --ledger)"
        );
    }
    covered
}

/// What signing a checkpoint came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signing {
    /// A checkpoint of this many entries was signed.
    Signed(u64),
    /// Nothing to sign: the newest checkpoint covers every entry, or no delegation lets the
    /// key sign now.
    Unchanged,
    /// Nothing to sign, and the stored tree was checked: it is still the one the last
    /// checkpoint the portal signed covers.
    Checked,
    /// The stored ledger does not extend the last checkpoint the portal signed (its witness
    /// file): nothing is signed until someone looks (docs/OPERATIONS.md).
    Refused(String),
}

/// Reads the witness file: the last checkpoint the portal signed, one export line
/// (`None`: none yet).
fn read_witness(path: &Path) -> Result<Option<Signed>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("the witness file {} cannot be read: {e}", path.display())),
    };
    let export = Export::from_lines(text.lines())
        .map_err(|e| format!("the witness file {} is not a checkpoint: {e}", path.display()))?;
    match export.checkpoints.into_iter().max_by_key(|s| s.checkpoint.size) {
        Some(signed) => Ok(Some(signed)),
        None => Err(format!("the witness file {} holds no checkpoint", path.display())),
    }
}

/// Takes the witness file's lock (a `.lock` file beside it), held until the answer is
/// dropped: the portal and a command at its machine sign in turn, so the witness file never
/// goes back to a smaller checkpoint one of them signed before the other's larger one. A lock
/// that cannot be taken is said in the log and signing goes on (the witness file's own rule
/// below still keeps it from going back).
async fn lock_witness(witness: &Path) -> Option<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = witness.with_extension("lock");
    let opened = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path);
    let file = match opened {
        Ok(file) => file,
        Err(e) => {
            tracing::error!(error = %e, path = %path.display(), "the ledger's witness lock could not be opened");
            return None;
        }
    };
    match tokio::task::spawn_blocking(move || file.lock().map(|()| file)).await {
        Ok(Ok(file)) => Some(file),
        Ok(Err(e)) => {
            tracing::error!(error = %e, path = %path.display(), "the ledger's witness lock could not be taken");
            None
        }
        Err(_) => None,
    }
}

/// Replaces the witness file with `signed`, the portal's newest checkpoint, unless it already
/// holds a larger one.
fn write_witness(witness: &Path, signed: &Signed) {
    if last_signed(witness).is_some_and(|held| held.checkpoint.size > signed.checkpoint.size) {
        return;
    }
    let line = signed.to_line() + "\n";
    if let Err(e) = tessera_core::fsutil::write_atomic(
        witness,
        line.as_bytes(),
        tessera_core::fsutil::WriteOptions::SECRET_REPLACE,
    ) {
        tracing::error!(error = %e, path = %witness.display(), "the ledger's witness file could not be written");
    }
}

/// The last checkpoint the portal signed, from its witness file (`None`: none yet, or a
/// file that does not read, which signing reports): what receipts carry as the ledger's head.
pub fn last_signed(witness: &Path) -> Option<Signed> {
    read_witness(witness).ok().flatten()
}

/// The stored tree, recomputed from the entries' fields (the stored hashes are checked, not
/// believed), or what is wrong with it. Past `vouched` (the size of the last checkpoint the
/// portal signed: its witness file, or its own newest stored checkpoint) every entry must
/// carry its tag under the store handle's tag key, and every entry this process remembers
/// writing must still be in place: no checkpoint is signed over entries someone else wrote
/// into the database, or with entries the portal wrote removed. A retention cut's frontier
/// stands for entries only when a checkpoint the portal signed covered them and a stored
/// `ledger.cut` entry records their removal. With no checkpoint signed yet, the first is
/// signed over what is there (commands run before the portal ever started hold no key to tag
/// with).
async fn stored_tree(
    store: &Store,
    vouched: Option<u64>,
) -> Result<Result<Tree, String>, StoreError> {
    let tags = store.entry_tags();
    let (mut tree, cut) = match store.ledger_frontier().await? {
        Some((size, hashes)) => match Frontier::from_parts(size as u64, hashes) {
            Ok(frontier) => (Tree::after_cut(&frontier), Some(frontier.size())),
            Err(e) => return Ok(Err(format!("the stored frontier is damaged: {e}"))),
        },
        None => (Tree::new(), None),
    };
    if let Some(cut) = cut
        && vouched.is_none_or(|vouched| cut > vouched)
    {
        return Ok(Err(format!(
            "the stored frontier stands for {cut} entries, more than any checkpoint this portal signed covers: it was not left by a retention cut"
        )));
    }
    let mut cut_recorded = cut.is_none();
    if let Some(seq) = store.written().reused() {
        return Ok(Err(format!(
            "entry {seq}, written by this portal, was removed from the database and its number used again"
        )));
    }
    let mut written = store.written().after(tree.size()).into_iter().peekable();
    loop {
        let page = store.ledger_after(tree.size() as i64, 10_000).await?;
        if page.is_empty() {
            break;
        }
        for stored in page {
            let expected = tree.size() + 1;
            if stored.entry.seq != expected {
                return Ok(Err(format!("entry {expected} is missing from the database")));
            }
            let leaf = stored.entry.leaf_hash();
            if hex::encode(leaf) != stored.hash {
                return Ok(Err(format!("entry {expected} was changed in the database")));
            }
            if vouched.is_some_and(|size| expected > size) {
                let tag = stored.tag.as_deref().and_then(|t| hex::decode(t).ok());
                if !tag.zip(tags).is_some_and(|(tag, tags)| tags.holds(&leaf, &tag)) {
                    return Ok(Err(format!(
                        "entry {expected} was not written by this portal (its tag is missing or wrong): it was added to the database by someone else"
                    )));
                }
            }
            if stored.entry.cut_range().map(|(_, to)| to) == cut {
                cut_recorded = true;
            }
            if let Some((seq, _)) = written.next_if(|(seq, _)| *seq < expected) {
                return Ok(Err(format!("entry {seq}, written by this portal, is gone")));
            }
            if let Some((_, mine)) = written.next_if(|(seq, _)| *seq == expected)
                && mine != leaf
            {
                return Ok(Err(format!(
                    "entry {expected}, written by this portal, was replaced in the database before it was signed"
                )));
            }
            tree.push(leaf);
        }
    }
    if let Some((seq, _)) = written.next() {
        return Ok(Err(format!(
            "entry {seq}, written by this portal, was removed from the database before it was signed"
        )));
    }
    if !cut_recorded {
        return Ok(Err(format!(
            "entries 1 to {} are gone and no ledger.cut entry records their removal",
            cut.unwrap_or(0)
        )));
    }
    Ok(Ok(tree))
}

/// The newest checkpoint stored in the database that `key` signed (none: none, or none that
/// reads): with the witness file, what the portal vouches for (an insider who can edit the
/// database cannot make one; one who deletes the witness file is then held to these).
async fn newest_own(store: &Store, key: &SigningKey) -> Result<Option<Signed>, StoreError> {
    let (checkpoints, _) = store.ledger_checkpoints().await?;
    Ok(checkpoints
        .iter()
        .rev()
        .filter_map(|stored| {
            let at = UnixTime::from_unix(stored.signed_at).ok()?;
            Signed::parse(&stored.note, at).ok()
        })
        .filter(|signed| signed.signed_by(key.public_key()))
        .max_by_key(|signed| signed.checkpoint.size))
}

/// Whether a checkpoint may be signed now, and of what: the delegation covers `now`, the
/// witness file reads, and the stored tree extends the checkpoint it holds and the newest
/// one stored that this key signed. `Ok(None)`: the delegation does not cover now (said in
/// the log).
async fn signable(
    store: &Store,
    signer: &Signer<'_>,
    delegation: &str,
    now: UnixTime,
) -> Result<Result<Option<Tree>, String>, StoreError> {
    if !covers(delegation, now) {
        return Ok(Ok(None));
    }
    let last = match read_witness(signer.witness) {
        Ok(last) => last,
        Err(why) => return Ok(Err(why)),
    };
    let origin = origin_named(delegation, signer.name);
    if let Some(last) = &last
        && last.checkpoint.origin != origin
    {
        return Ok(Err(format!(
            "the ledger's origin would change from {} to {origin} (ledger_name, or the vendor key of the ledger delegation, changed): put the setting back, or start a new history (docs/OPERATIONS.md)",
            last.checkpoint.origin
        )));
    }
    let own = newest_own(store, signer.key).await?;
    let vouched = last.iter().chain(own.iter()).map(|s| s.checkpoint.size).max();
    let tree = match stored_tree(store, vouched).await? {
        Ok(tree) => tree,
        Err(why) => return Ok(Err(why)),
    };
    for signed in last.iter().chain(own.iter()) {
        if tree.root_at(signed.checkpoint.size).ok() != Some(signed.checkpoint.root) {
            return Ok(Err(format!(
                "the stored ledger ({} entries) does not extend the checkpoint of {} entries signed at {}: entries it covered were changed, removed or reordered",
                tree.size(),
                signed.checkpoint.size,
                signed.signed_at
            )));
        }
    }
    if let Some(stored) = store.last_checkpoint_size().await?
        && stored as u64 > tree.size()
    {
        return Ok(Err(format!(
            "a stored checkpoint row says it covers {stored} entries, only {} are stored",
            tree.size()
        )));
    }
    Ok(Ok(Some(tree)))
}

/// Signs a checkpoint of the whole tree with the portal's key when entries arrived since the
/// last one (or none was ever signed), after checking that the stored tree extends the last
/// checkpoint the portal signed, kept in the witness file (apart from the database, so an
/// edit of the database alone cannot make the portal sign a forgery). Needs the delegation
/// of that key (the export carries it); without one, nothing is signed. Once signed, the
/// checkpoint goes to the witness file, the checkpoint directory and the tlog witnesses.
pub async fn sign_checkpoint(
    store: &Store,
    signer: &Signer<'_>,
    now: UnixTime,
) -> Result<Signing, StoreError> {
    let Some(delegation) = signer.delegation else { return Ok(Signing::Unchanged) };
    let _turn = lock_witness(signer.witness).await;
    let size = store.ledger_size().await?;
    // Entries this process wrote past the stored size were removed: that is looked into too.
    let removed =
        !store.written().after(size.max(0) as u64).is_empty() || store.written().reused().is_some();
    if !signer.check_all && !removed && store.last_checkpoint_size().await? == Some(size) {
        return Ok(Signing::Unchanged);
    }
    let tree = match signable(store, signer, delegation, now).await? {
        Ok(Some(tree)) => tree,
        Ok(None) => return Ok(Signing::Unchanged),
        Err(why) => return Ok(Signing::Refused(why)),
    };
    // A checkpoint of the whole tree is already stored: it must be one this portal signed of
    // this very tree (a crash after storing it and before the witness file is such a one);
    // a row an insider added would otherwise stop signing without a word.
    if let Some(stored) = store.ledger_checkpoint(None).await?
        && stored.size as u64 == tree.size()
    {
        let root = tree.root_at(tree.size()).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let at = UnixTime::from_unix(stored.signed_at).unwrap_or(UnixTime::EPOCH);
        return Ok(match Signed::parse(&stored.note, at) {
            Ok(signed)
                if signed.checkpoint.root == root && signed.signed_by(signer.key.public_key()) =>
            {
                if last_signed(signer.witness).map(|w| w.checkpoint.size) != Some(tree.size()) {
                    write_witness(signer.witness, &signed);
                }
                store.written().forget_through(tree.size());
                Signing::Checked
            }
            _ => Signing::Refused(format!(
                "the stored checkpoint of {} entries is not one this portal signed of the stored entries",
                tree.size()
            )),
        });
    }
    let root = tree.root_at(tree.size()).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let checkpoint =
        Checkpoint { origin: origin_named(delegation, signer.name), size: tree.size(), root };
    let note = checkpoint.sign(signer.key);
    let stored = StoredCheckpoint {
        size: tree.size() as i64,
        signed_at: now.as_unix(),
        key_id: signer.key.key_id().to_string(),
        note: note.clone(),
    };
    store.insert_checkpoint(&stored, delegation).await?;
    // Then the witness file: a crash between the two leaves it at the previous checkpoint,
    // which the stored tree still extends.
    match Signed::parse(&note, now) {
        Ok(signed) => {
            write_witness(signer.witness, &signed);
            store.written().forget_through(tree.size());
            let outcomes = signer.witnesses.publish(&signed, &tree).await;
            keep_cosignatures(store, signer.witnesses, &stored, &outcomes, now).await;
        }
        Err(e) => tracing::error!(error = %e, "a checkpoint just signed does not read back"),
    }
    Ok(Signing::Signed(tree.size()))
}

/// Keeps the witnesses' cosignatures with the checkpoint: its note in the database gets their
/// lines (exports show them; readers skip signatures of other keys), and the checkpoint
/// directory a `-cosigned` file beside the checkpoint's own.
async fn keep_cosignatures(
    store: &Store,
    witnesses: &Witnesses,
    stored: &StoredCheckpoint,
    outcomes: &[crate::domain::witnesses::Cosigned],
    now: UnixTime,
) {
    use crate::domain::witnesses::Cosigned;
    let lines: String = outcomes
        .iter()
        .filter_map(|o| match o {
            Cosigned::At(_, line) => Some(line.as_str()),
            Cosigned::Failed(_) => None,
        })
        .collect();
    if lines.is_empty() {
        return;
    }
    let note = format!("{}{lines}", stored.note);
    let Ok(cosigned) = Signed::parse(&note, now) else {
        tracing::error!("a cosigned checkpoint does not read back");
        return;
    };
    if let Err(e) = store.cosign_checkpoint(stored.size, &stored.key_id, &note).await {
        tracing::error!(error = %e, "the witnesses' cosignatures could not be stored");
    }
    witnesses.keep_cosigned(&cosigned);
}

/// Cuts the entries made before `before` (retention), keeping the ledger verifiable: an entry
/// records the cut (`ledger.cut`, naming the range and count removed), a checkpoint covering
/// it is signed, then the entries go and the frontier of the tree they made stays. Nothing is
/// cut unless that checkpoint can be signed, and that is checked before the cut entry is
/// written, so a portal that may not sign adds no cut entry run after run. Answers the
/// entries cut.
pub async fn cut(
    store: &Store,
    signer: &Signer<'_>,
    before: UnixTime,
    now: UnixTime,
) -> Result<u64, StoreError> {
    let Some(to) = store.ledger_last_before(before.as_unix()).await? else { return Ok(0) };
    let from = store.ledger_frontier().await?.map_or(0, |(size, _)| size) + 1;
    if to < from {
        return Ok(0);
    }
    let Some(delegation) = signer.delegation else {
        tracing::warn!(
            "ledger entries past retention kept: no ledger delegation to sign the checkpoint"
        );
        return Ok(0);
    };
    match signable(store, signer, delegation, now).await? {
        Ok(Some(_)) => {}
        Ok(None) => {
            tracing::warn!(
                "ledger entries past retention kept: the ledger delegation does not cover now"
            );
            return Ok(0);
        }
        Err(why) => {
            tracing::error!(why, "ledger entries past retention kept: checkpoints are refused");
            return Ok(0);
        }
    }
    record(store, &Actor::Portal, CUT_ACTION, &cut_target(from as u64, to as u64), None, now)
        .await?;
    match sign_checkpoint(store, signer, now).await? {
        Signing::Signed(_) | Signing::Checked => {}
        Signing::Unchanged => return Ok(0),
        Signing::Refused(why) => {
            tracing::error!(why, "ledger entries past retention kept: the checkpoint was refused");
            return Ok(0);
        }
    }
    // The frontier of the first `to` entries (the checkpoint just signed vouches for them).
    let mut frontier = match store.ledger_frontier().await? {
        Some((size, hashes)) => Frontier::from_parts(size as u64, hashes)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        None => Frontier::new(),
    };
    while frontier.size() < to as u64 {
        let page = store.ledger_after(frontier.size() as i64, 10_000).await?;
        if page.is_empty() {
            break;
        }
        for stored in page.iter().take_while(|s| s.entry.seq <= to as u64) {
            frontier.push(stored.entry.leaf_hash());
        }
    }
    store.cut_ledger(to, frontier.hashes()).await
}
