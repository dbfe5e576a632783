//! `tessera activate-offline`: where the vendor answers an air-gapped hub. The request is
//! checked (signed by the hub key it carries) and answered with an activation signed by a
//! vendor key.
//!
//! An air-gapped hub has no portal: its runners' leases stand alone, bounded by the
//! activation's window, and the portal counts none of them. On a license with
//! `runner_countersign` that gives up what the vendor sold it for, so the vendor says so
//! explicitly (`--uncounted-runners`). The request does not carry the license's claims (and
//! a hub could leave them out), so the vendor shows the license it answers (`--license`),
//! or accepts uncounted runners without looking.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tessera_core::activation::{self, ActivationClaims, ActivationError, RequestClaims};
use tessera_core::armor::MAX_ARMORED_LEN;
use tessera_core::fsutil::{WriteOptions, read_capped, write_atomic};
use tessera_core::keys::KeyId;
use tessera_core::license::{LicenseFile, LicenseId};
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
    /// The license file the request is for (the vendor's own copy), read for its claims.
    pub license: Option<&'a Path>,
    /// The vendor accepts that the air-gapped hub's runners are not counted by the portal.
    pub uncounted_runners: bool,
}

/// An answer written to its file.
#[derive(Debug)]
pub struct Answered {
    pub request: RequestClaims,
    pub claims: ActivationClaims,
    pub signed_by: KeyId,
    /// The license's runners are counted at the portal (`runner_countersign`), or it was
    /// not shown (`None`): either way, the answer's runners are not.
    pub countersign: Option<bool>,
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
    #[error("license {}: {source}", path.display())]
    License { path: PathBuf, source: tessera_core::armor::FormatError },
    #[error("the license file is license {license}, the request is for license {request}")]
    OtherLicense { license: LicenseId, request: LicenseId },
    #[error(
        "license {}: its signature does not verify under the answering key {key}, so what it \
         says of its runners cannot be trusted: answer with the key that signed it",
        path.display()
    )]
    LicenseNotSigned { path: PathBuf, key: KeyId },
    #[error(
        "license {0} has runner_countersign: the portal counts its runners, but an air-gapped \
         hub's leases are not counted by the portal (they stand alone, bounded by the \
         activation's window); answer with --uncounted-runners to accept that"
    )]
    CountedRunners(LicenseId),
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
    let key = load_signing_key(order.key)?;
    let countersign = match order.license {
        Some(path) => Some(countersigns(path, &request, &key, now)?),
        None => None,
    };
    if countersign == Some(true) && !order.uncounted_runners {
        return Err(AnswerError::CountedRunners(request.license_id));
    }
    FileError::refuse_existing(order.out, order.force)?;
    let valid_for = Duration::from_secs(u64::from(order.valid_days) * 86_400);
    let claims = ActivationClaims::answer(&request, now, valid_for);
    let answer = activation::sign_activation(&claims, &key);
    let options = WriteOptions { overwrite: order.force, ..WriteOptions::PUBLIC_NEW };
    write_atomic(order.out, answer.as_bytes(), options)
        .map_err(|e| FileError::new(order.out, e))?;
    Ok(Answered { request, claims, signed_by: key.key_id(), countersign })
}

/// Whether the license at `path`, the one `request` is for, has `runner_countersign`. Its
/// signature must verify under the answering key (expired or not): a copy the customer sent
/// back with the claim edited must not pass for what the vendor sold.
fn countersigns(
    path: &Path,
    request: &RequestClaims,
    key: &tessera_core::keys::SigningKey,
    now: UnixTime,
) -> Result<bool, AnswerError> {
    let text = read_capped(path, MAX_ARMORED_LEN).map_err(|e| FileError::new(path, e))?;
    let file = LicenseFile::parse(&text)
        .map_err(|source| AnswerError::License { path: path.to_owned(), source })?;
    let trust = tessera_core::trust::TrustSet::single(key.public_key().clone());
    let verdict = file.verify(&trust, now, &tessera_core::license::Expectations::default());
    let Some(claims) = verdict.into_claims() else {
        return Err(AnswerError::LicenseNotSigned { path: path.to_owned(), key: key.key_id() });
    };
    if claims.id != request.license_id {
        return Err(AnswerError::OtherLicense { license: claims.id, request: request.license_id });
    }
    Ok(claims.runner_countersign)
}
