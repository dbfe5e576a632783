//! `tessera audit verify`: an export of the portal's audit ledger, checked against the
//! vendor's trust set by the core's one ledger rule; `tessera audit proof`: a proof the portal
//! served, checked against an export's checkpoints.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};

use tessera_core::ledger::{
    self, ConsistencyProof, Export, ExportLineError, InclusionProof, LedgerError, ProofTextError,
    Verified,
};
use tessera_core::trust::TrustSet;

use crate::files::FileError;

/// The largest audit export read (a million entries is ~250 MB of JSON lines).
const MAX_AUDIT_EXPORT: usize = 2 * 1024 * 1024 * 1024;

/// Why an export was not found sound.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("{}: larger than an audit export can be", path.display())]
    TooLarge { path: PathBuf },
    #[error("{} {source}", path.display())]
    NotAnExport { path: PathBuf, source: ExportLineError },
    /// The export reads, but the ledger it holds is not sound (alone, or `against` an
    /// earlier export or a witness's checkpoints, when it is sound alone).
    #[error("{}{}: {source}", path.display(), against.as_ref().map(|a| format!(" against {}", a.display())).unwrap_or_default())]
    Unsound { path: PathBuf, against: Option<PathBuf>, source: LedgerError },
    /// A proof that does not read, or does not hold.
    #[error("{}: {source}", path.display())]
    Proof { path: PathBuf, source: ProofTextError },
    /// The proof's checkpoint is not among the export's, so nothing says when it was signed
    /// and which delegation must vouch for its key.
    #[error("{}: the proof's checkpoint of {size} entries is not in the export {}", path.display(), export.display())]
    NotInExport { path: PathBuf, size: u64, export: PathBuf },
    /// The export stops before its end: a download or a copy cut short.
    #[error("{}: the export is cut short ({detail}): fetch it again", path.display())]
    CutShort { path: PathBuf, detail: String },
    /// A consistency proof from a size the earlier file holds no checkpoint of.
    #[error("{}: holds no checkpoint of {old} entries to compare the proof with", path.display())]
    NoEarlier { path: PathBuf, old: u64 },
}

/// What a proof that holds showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProofChecked {
    /// Entry `seq` is in the checkpoint of `size` entries.
    Included { seq: u64, size: u64, signed_at: tessera_core::UnixTime },
    /// The checkpoint of `size` entries extends the earlier one of `old`.
    Consistent { old: u64, size: u64, signed_at: tessera_core::UnixTime },
}

/// One proof or the other.
enum Either {
    Inclusion(InclusionProof),
    Consistency(ConsistencyProof),
}

/// Checks a proof the portal served (`GET /v1/admin/audit/inclusion` or `/consistency`):
/// its checkpoint must be one of `export`'s (which says when it was signed) and be signed by
/// a key the vendor delegated then; an inclusion proof must lead from the entry it carries
/// to the checkpoint's root; a consistency proof from the root of the checkpoint of the same
/// earlier size in `since` (an earlier export, witness file or a hub's heads) to it.
pub fn check_proof(
    file: &Path,
    trust: &TrustSet,
    export: &Path,
    since: Option<&Path>,
) -> Result<ProofChecked, AuditError> {
    let text =
        tessera_core::fsutil::read_capped(file, 64 * 1024).map_err(|e| FileError::new(file, e))?;
    let text = String::from_utf8_lossy(&text);
    let bad = |source: ProofTextError| AuditError::Proof { path: file.to_owned(), source };
    let proof = if text.starts_with(ledger::TLOG_PROOF_V1) {
        Either::Inclusion(InclusionProof::parse(&text).map_err(bad)?)
    } else {
        Either::Consistency(ConsistencyProof::parse(&text).map_err(bad)?)
    };
    let note = match &proof {
        Either::Inclusion(p) => p.note.clone(),
        Either::Consistency(p) => p.note.clone(),
    };
    let held = read_export(export)?;
    let unsound =
        |source: LedgerError| AuditError::Unsound { path: file.to_owned(), against: None, source };
    let signed = held.checkpoints.iter().find(|s| s.note == note).ok_or_else(|| {
        let size = ledger::Checkpoint::parse_note(&note).map_or(0, |(c, _, _)| c.size);
        AuditError::NotInExport { path: file.to_owned(), size, export: export.to_owned() }
    })?;
    ledger::vouched(signed, &held.delegations, trust).map_err(unsound)?;
    let (size, signed_at) = (signed.checkpoint.size, signed.signed_at);
    let proof = match proof {
        Either::Inclusion(proof) => {
            let entry = proof.extra.as_deref().ok_or_else(|| {
                bad(ProofTextError::Form("no extra line: the entry's bytes are needed"))
            })?;
            proof.check(&tessera_core::merkle::leaf_hash(entry)).map_err(bad)?;
            return Ok(ProofChecked::Included { seq: proof.index + 1, size, signed_at });
        }
        Either::Consistency(proof) => proof,
    };
    let old_root = if proof.old == 0 {
        tessera_core::merkle::Tree::new().root_at(0).map_err(|e| bad(e.into()))?
    } else {
        let earlier =
            since.ok_or_else(|| AuditError::NoEarlier { path: file.to_owned(), old: proof.old })?;
        let earlier_export = read_witnessed(earlier)?;
        let found =
            earlier_export.checkpoints.iter().find(|s| s.checkpoint.size == proof.old).ok_or_else(
                || AuditError::NoEarlier { path: earlier.to_owned(), old: proof.old },
            )?;
        found.checkpoint.root
    };
    proof.check(&old_root).map_err(bad)?;
    Ok(ProofChecked::Consistent { old: proof.old, size, signed_at })
}

/// Reads the export at `file` and checks it against `trust`, and — given `since`, an
/// earlier export or the portal's witness file — that it extends that file's newest
/// checkpoint, and — given `witness`, a checkpoint directory or a file of checkpoints —
/// that it extends every witnessed checkpoint not older than its retention cut.
pub fn verify_export(
    file: &Path,
    trust: &TrustSet,
    since: Option<&Path>,
    witness: Option<&Path>,
) -> Result<Verified, AuditError> {
    let export = read_whole_export(file)?;
    let earlier = since.map(read_export).transpose()?;
    let witnessed = witness.map(read_witnessed).transpose()?;
    // Alone first, then against each file given, so that the message names the file that
    // disagrees (a foreign or damaged witness is not the export's fault).
    let unsound = |against: Option<&Path>| {
        let against = against.map(Path::to_owned);
        move |source| AuditError::Unsound { path: file.to_owned(), against, source }
    };
    let alone = ledger::verify(&export, trust, None).map_err(unsound(None))?;
    let held = export
        .entries
        .last()
        .map(|(entry, _)| entry.seq)
        .or(export.frontier.as_ref().map(|f| f.size()))
        .unwrap_or(0);
    if export.end != Some(held) {
        let detail = format!(
            "its end line says {} entries, it holds {held}: lines were removed",
            export.end.unwrap_or(0)
        );
        return Err(AuditError::CutShort { path: file.to_owned(), detail });
    }
    if earlier.is_none() && witnessed.is_none() {
        return Ok(alone);
    }
    if let Some(earlier) = &earlier {
        ledger::verify(&export, trust, Some(earlier)).map_err(unsound(since))?;
    }
    ledger::verify_witnessed(&export, trust, earlier.as_ref(), witnessed.as_ref())
        .map_err(unsound(witness.or(since)))
}

/// A witness's checkpoints: a file (export or checkpoint lines), or a directory whose every
/// `*.jsonl` file is one (the portal's checkpoint directory).
fn read_witnessed(path: &Path) -> Result<Export, AuditError> {
    if !path.is_dir() {
        return read_export(path);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| FileError::new(path, e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    let mut all = Export::default();
    for file in files {
        let one = read_export(&file)?;
        all.delegations.extend(one.delegations);
        all.checkpoints.extend(one.checkpoints);
    }
    Ok(all)
}

/// Reads an export the portal wrote whole: its last line is the `end` line. No end line, or
/// a last line cut in the middle after lines that read, is a file cut short (exit 41), not a
/// file of another kind.
fn read_whole_export(file: &Path) -> Result<Export, AuditError> {
    let cut = |detail: String| AuditError::CutShort { path: file.to_owned(), detail };
    let (lines, ends_with_newline) = read_lines(file)?;
    match Export::from_lines(&lines) {
        Err(source) if source.line == lines.len() && source.line > 1 && !ends_with_newline => {
            Err(cut(format!("its last line, {}, stops in the middle", source.line)))
        }
        Err(source) => Err(AuditError::NotAnExport { path: file.to_owned(), source }),
        Ok(export) if export.end.is_none() => Err(cut("it has no end line".to_owned())),
        Ok(export) => Ok(export),
    }
}

/// Reads an export (or a file of checkpoint lines).
fn read_export(file: &Path) -> Result<Export, AuditError> {
    let (lines, _) = read_lines(file)?;
    Export::from_lines(&lines)
        .map_err(|source| AuditError::NotAnExport { path: file.to_owned(), source })
}

/// A file's lines, and whether its last one ends with a newline.
fn read_lines(file: &Path) -> Result<(Vec<String>, bool), AuditError> {
    let opened = std::fs::File::open(file).map_err(|e| FileError::new(file, e))?;
    if opened.metadata().map(|m| m.len()).unwrap_or(0) > MAX_AUDIT_EXPORT as u64 {
        return Err(AuditError::TooLarge { path: file.to_owned() });
    }
    let mut reader = std::io::BufReader::new(opened);
    let mut lines = Vec::new();
    let mut ends_with_newline = true;
    loop {
        let mut line = String::new();
        let read = reader.read_line(&mut line).map_err(|e| FileError::new(file, e))?;
        if read == 0 {
            break;
        }
        ends_with_newline = line.ends_with('\n');
        let trimmed = line.trim_end_matches(['\n', '\r']).len();
        line.truncate(trimmed);
        lines.push(line);
    }
    Ok((lines, ends_with_newline))
}
