//! `tessera activate-offline`: where the vendor answers an air-gapped hub. The request is
//! checked (signed by the hub key it carries) and answered with an activation signed by a
//! vendor key.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tessera_core::activation::{self, ActivationClaims, ActivationError, RequestClaims};
use tessera_core::armor::MAX_ARMORED_LEN;
use tessera_core::fsutil::{WriteOptions, read_capped, write_atomic};
use tessera_core::keys::KeyId;
use tessera_core::time::UnixTime;

use crate::files::FileError;
use crate::secrets::{KeyLoadError, load_signing_key};

/// What to answer, and where.
#[derive(Debug, Clone)]
pub struct AnswerOrder<'a> {
    pub request: &'a Path,
    /// The vendor's secret key file.
    pub key: &'a Path,
    pub out: &'a Path,
    pub valid_days: u32,
    /// Replace `out` if it exists.
    pub force: bool,
}

/// An answer written to its file.
#[derive(Debug)]
pub struct Answered {
    pub request: RequestClaims,
    pub claims: ActivationClaims,
    pub signed_by: KeyId,
}

/// Why no answer was written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnswerError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("activation request {}: {source}", path.display())]
    Request { path: PathBuf, source: ActivationError },
    #[error("--valid-days must be at least 1")]
    NoDays,
    #[error(transparent)]
    Key(#[from] KeyLoadError),
}

/// Checks the request, signs the answer valid for `valid_days` from `now`, writes it.
pub fn answer_request(order: &AnswerOrder<'_>, now: UnixTime) -> Result<Answered, AnswerError> {
    let text = read_capped(order.request, MAX_ARMORED_LEN)
        .map_err(|e| FileError::new(order.request, e))?;
    let request = activation::open_request(&text)
        .map_err(|source| AnswerError::Request { path: order.request.to_owned(), source })?;
    if order.valid_days == 0 {
        return Err(AnswerError::NoDays);
    }
    FileError::refuse_existing(order.out, order.force)?;
    let key = load_signing_key(order.key)?;
    let valid_for = Duration::from_secs(u64::from(order.valid_days) * 86_400);
    let claims = ActivationClaims::answer(&request, now, valid_for);
    let answer = activation::sign_activation(&claims, &key);
    let options = WriteOptions { overwrite: order.force, ..WriteOptions::PUBLIC_NEW };
    write_atomic(order.out, answer.as_bytes(), options)
        .map_err(|e| FileError::new(order.out, e))?;
    Ok(Answered { request, claims, signed_by: key.key_id() })
}
