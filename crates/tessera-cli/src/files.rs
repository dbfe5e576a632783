//! The files the commands read and write: what goes wrong with one, trust sets, and files a
//! parser caps itself.

use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use tessera_core::fsutil::read_capped;
use tessera_core::trust::{MAX_TRUST_FILE_LEN, TrustError, TrustSet};

/// A file that could not be read or written; one that exists already is refused unless
/// `--force`.
#[derive(Debug, thiserror::Error)]
pub struct FileError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

impl FileError {
    pub fn new(path: &Path, source: std::io::Error) -> Self {
        FileError { path: path.to_owned(), source }
    }

    /// Refuses to replace `path` unless `force`.
    pub fn refuse_existing(path: &Path, force: bool) -> Result<(), FileError> {
        if path.exists() && !force {
            return Err(FileError::new(path, std::io::ErrorKind::AlreadyExists.into()));
        }
        Ok(())
    }

    /// Whether the file was refused for being there already.
    pub fn exists(&self) -> bool {
        self.source.kind() == std::io::ErrorKind::AlreadyExists
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.exists() {
            write!(f, "{} already exists; use --force to replace it", self.path.display())
        } else {
            write!(f, "{}: {}", self.path.display(), self.source)
        }
    }
}

/// Why the trust files could not be read into one trust set.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustFileError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("trust file {}: {source}", path.display())]
    Invalid { path: PathBuf, source: TrustError },
}

/// The trust set the files at `paths` make together.
pub fn load_trust(paths: &[PathBuf]) -> Result<TrustSet, TrustFileError> {
    let invalid = |path: &Path| {
        let path = path.to_owned();
        move |source| TrustFileError::Invalid { path, source }
    };
    let mut trust = TrustSet::new();
    for path in paths {
        let bytes = read_capped(path, MAX_TRUST_FILE_LEN).map_err(|e| FileError::new(path, e))?;
        let set = TrustSet::parse(&bytes).map_err(invalid(path))?;
        trust.extend(set).map_err(invalid(path))?;
    }
    Ok(trust)
}

/// Reads a file that the parser caps itself: one byte past the cap is enough for it to say
/// "too large" without reading a huge file whole.
pub fn read_for_parser(path: &Path, cap: usize) -> Result<Vec<u8>, FileError> {
    let file = std::fs::File::open(path).map_err(|e| FileError::new(path, e))?;
    let mut bytes = Vec::new();
    file.take(cap as u64 + 1).read_to_end(&mut bytes).map_err(|e| FileError::new(path, e))?;
    Ok(bytes)
}
