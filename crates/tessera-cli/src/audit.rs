//! `tessera audit verify`: an export of the portal's audit ledger, checked against the
//! vendor's trust set by the core's one ledger rule.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};

use tessera_core::ledger::{self, Export, ExportLineError, LedgerError, Verified};
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
    /// The export reads, but the ledger it holds is not sound.
    #[error("{}: {source}", path.display())]
    Unsound { path: PathBuf, source: LedgerError },
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
    let export = read_export(file)?;
    let earlier = since.map(read_export).transpose()?;
    let witnessed = witness.map(read_witnessed).transpose()?;
    ledger::verify_witnessed(&export, trust, earlier.as_ref(), witnessed.as_ref())
        .map_err(|source| AuditError::Unsound { path: file.to_owned(), source })
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

/// Reads an export (or a file of checkpoint lines).
fn read_export(file: &Path) -> Result<Export, AuditError> {
    let opened = std::fs::File::open(file).map_err(|e| FileError::new(file, e))?;
    if opened.metadata().map(|m| m.len()).unwrap_or(0) > MAX_AUDIT_EXPORT as u64 {
        return Err(AuditError::TooLarge { path: file.to_owned() });
    }
    let lines = std::io::BufReader::new(opened)
        .lines()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| FileError::new(file, e))?;
    Export::from_lines(&lines)
        .map_err(|source| AuditError::NotAnExport { path: file.to_owned(), source })
}
