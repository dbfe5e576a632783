//! Encrypted backups of a SQLite portal: a consistent snapshot taken while the portal serves
//! (`VACUUM INTO`, which reads in one transaction), encrypted to an age recipient, and its
//! restore into an empty data directory.
//!
//! The plaintext snapshot exists only as `backup-*.partial` inside the 0700 data directory
//! while a backup runs; it is removed when the backup ends, fails, or — after a crash — at the
//! next start of the portal or of a backup. A backup holds the database only: not the receipt
//! key (`receipt.key`) nor the delegation, which are restored as files (docs/OPERATIONS.md).
//! PostgreSQL is backed up with `pg_dump` piped through `age` instead.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::store::{self, Store, StoreError};

/// Why a backup or a restore failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// The portal runs on PostgreSQL.
    #[error(
        "backup works on a SQLite portal; for PostgreSQL use pg_dump piped through age (docs/OPERATIONS.md)"
    )]
    NotSqlite,
    /// Not an age public key.
    #[error("{0:?} is not an age public key (age1…)")]
    Recipient(String),
    /// The identity file holds no age identity.
    #[error("{path}: no age identity (AGE-SECRET-KEY-1…) in the file")]
    Identity {
        /// The file.
        path: PathBuf,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// age could not encrypt.
    #[error("encrypting: {0}")]
    Encrypt(String),
    /// The backup does not open with this identity.
    #[error("{path}: not a backup this identity can open ({reason})")]
    Decrypt {
        /// The backup.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The data directory already holds a database.
    #[error("{0} already holds a portal database: restore into an empty data directory")]
    NotEmpty(PathBuf),
    /// The restored file fails the database's checks.
    #[error("the restored file is not a sound portal database: {0}")]
    Unsound(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> BackupError + '_ {
    move |source| BackupError::Io { path: path.to_owned(), source }
}

/// Removes what a backup or restore that crashed left in the data directory.
pub fn remove_leftovers(data_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(data_dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if (name.starts_with("backup-") || name.starts_with("restore-"))
            && name.ends_with(".partial")
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// A file removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn scratch(data_dir: &Path, kind: &str) -> Result<Scratch, BackupError> {
    let mut random = [0u8; 8];
    tessera_core::keys::fill_random(&mut random)
        .map_err(|e| BackupError::Encrypt(e.to_string()))?;
    Ok(Scratch(data_dir.join(format!("{kind}-{}.partial", hex::encode(random)))))
}

fn private_file(path: &Path) -> Result<File, BackupError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map_err(io_at(path))
}

/// What a backup wrote.
#[derive(Debug, Clone, Copy)]
pub struct BackupReport {
    /// Bytes of the snapshot before encryption.
    pub snapshot_bytes: u64,
}

/// Takes a snapshot of `store` (SQLite) and writes it to `out`, encrypted to `recipient`.
pub async fn backup(
    store: &Store,
    data_dir: &Path,
    out: &Path,
    recipient: &str,
) -> Result<BackupReport, BackupError> {
    let recipient: age::x25519::Recipient =
        recipient.trim().parse().map_err(|_| BackupError::Recipient(recipient.to_owned()))?;
    if store.sqlite_file().is_none() {
        return Err(BackupError::NotSqlite);
    }
    remove_leftovers(data_dir);
    let snapshot = scratch(data_dir, "backup")?;
    store.snapshot_into(&snapshot.0).await?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&snapshot.0, std::fs::Permissions::from_mode(0o600))
            .map_err(io_at(&snapshot.0))?;
    }
    let snapshot_bytes = std::fs::metadata(&snapshot.0).map_err(io_at(&snapshot.0))?.len();
    // Written beside the target, then renamed: a backup file is whole or absent.
    let partial = PathBuf::from(format!("{}.partial", out.display()));
    let written = (|| {
        let mut input = File::open(&snapshot.0).map_err(io_at(&snapshot.0))?;
        let output = private_file(&partial)?;
        let encryptor =
            age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
                .map_err(|e| BackupError::Encrypt(e.to_string()))?;
        let mut writer = encryptor.wrap_output(output).map_err(io_at(&partial))?;
        io::copy(&mut input, &mut writer).map_err(io_at(&partial))?;
        let file = writer.finish().map_err(io_at(&partial))?;
        file.sync_all().map_err(io_at(&partial))?;
        std::fs::rename(&partial, out).map_err(io_at(out))
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written?;
    Ok(BackupReport { snapshot_bytes })
}

/// The first age identity in a file (comments and blank lines skipped).
fn read_identity(path: &Path) -> Result<age::x25519::Identity, BackupError> {
    let text = std::fs::read_to_string(path).map_err(io_at(path))?;
    text.lines()
        .map(str::trim)
        .find(|line| line.starts_with("AGE-SECRET-KEY-1"))
        .and_then(|line| line.parse().ok())
        .ok_or_else(|| BackupError::Identity { path: path.to_owned() })
}

/// Restores a backup into `data_dir` (which must hold no portal database) as `portal.db`.
pub fn restore(file: &Path, identity: &Path, data_dir: &Path) -> Result<u64, BackupError> {
    let identity = read_identity(identity)?;
    let target = data_dir.join("portal.db");
    if target.exists() {
        return Err(BackupError::NotEmpty(data_dir.to_owned()));
    }
    remove_leftovers(data_dir);
    let plain = scratch(data_dir, "restore")?;
    let input = File::open(file).map_err(io_at(file))?;
    let decrypt = |reason: String| BackupError::Decrypt { path: file.to_owned(), reason };
    let decryptor =
        age::Decryptor::new(io::BufReader::new(input)).map_err(|e| decrypt(e.to_string()))?;
    let mut reader = decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .map_err(|e| decrypt(e.to_string()))?;
    let mut output = private_file(&plain.0)?;
    let mut buffer = vec![0u8; 64 * 1024];
    let mut bytes = 0u64;
    loop {
        let n = reader.read(&mut buffer).map_err(|e| decrypt(e.to_string()))?;
        if n == 0 {
            break;
        }
        output.write_all(&buffer[..n]).map_err(io_at(&plain.0))?;
        bytes += n as u64;
    }
    output.sync_all().map_err(io_at(&plain.0))?;
    drop(output);
    check_sound(&plain.0)?;
    std::fs::rename(&plain.0, &target).map_err(io_at(&target))?;
    tessera_core::fsutil::sync_dir(data_dir).map_err(io_at(data_dir))?;
    Ok(bytes)
}

/// Whether a file is a SQLite database that passes its integrity check and has the
/// portal's tables.
fn check_sound(path: &Path) -> Result<(), BackupError> {
    store::check_sqlite_copy(path).map_err(BackupError::Unsound)
}
