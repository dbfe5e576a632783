//! Why a runner's operation failed.

use std::io;
use std::path::{Path, PathBuf};

use crate::check::BadBundle;
#[cfg(feature = "refresh")]
use crate::hub::HubCallError;
use crate::installation::Misfit;
use crate::keystore::KeystoreError;

/// Why an operation failed (a status, when there is one, comes back as a
/// [`Decision`](crate::check::Decision)).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunnerError {
    /// The keystore failed.
    #[error(transparent)]
    Keystore(#[from] KeystoreError),
    /// A file of the state directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A bundle was refused.
    #[error(transparent)]
    Bundle(#[from] BadBundle),
    /// The hub could not be reached or refused the call.
    #[cfg(feature = "refresh")]
    #[error(transparent)]
    Hub(#[from] HubCallError),
    /// An argument or a file given by the caller is not usable.
    #[error("{0}")]
    Input(String),
    /// The state directory and this call do not fit: another keystore, user or key.
    #[error(transparent)]
    Misfit(#[from] Misfit),
    /// Writes kept moving the cache's generation while it was read.
    #[error("the cache kept changing while it was read ({attempts} attempts): try again")]
    Changing {
        /// How many reads were tried.
        attempts: usize,
    },
}

pub(super) fn io_error(path: &Path, source: io::Error) -> RunnerError {
    RunnerError::Io { path: path.to_owned(), source }
}
