//! `tessera delegate`: the vendor's key signs a portal's key over for receipts (or for the
//! audit ledger's heads), for a window of days.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tessera_core::delegation::{self, DelegationClaims, Purpose};
use tessera_core::fsutil::{WriteOptions, read_capped, write_atomic};
use tessera_core::keys::KeyId;
use tessera_core::time::{TimeError, UnixTime};
use tessera_core::trust::{MAX_TRUST_FILE_LEN, TrustSet};

use crate::files::FileError;
use crate::secrets::{KeyLoadError, load_signing_key};

/// What to delegate, and where.
#[derive(Debug, Clone)]
pub struct DelegateOrder<'a> {
    /// The vendor's secret key file.
    pub key: &'a Path,
    /// The portal's public key file (one key).
    pub portal_key: &'a Path,
    pub out: &'a Path,
    pub valid_days: u32,
    /// The first day, as typed (`--not-before`); today when absent.
    pub not_before: Option<&'a str>,
    pub purpose: Purpose,
    /// Replace `out` if it exists.
    pub force: bool,
}

/// A delegation written to its file.
#[derive(Debug)]
pub struct Delegated {
    pub claims: DelegationClaims,
    pub signed_by: KeyId,
}

/// Why no delegation was written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DelegateError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("portal key {}: {message}", path.display())]
    PortalKey { path: PathBuf, message: String },
    #[error("--not-before: {0}")]
    NotBefore(TimeError),
    #[error("--valid-days must be at least 1")]
    NoDays,
    #[error(transparent)]
    Key(#[from] KeyLoadError),
}

/// Signs the delegation of the portal's key at `now` and writes it.
pub fn delegate(order: &DelegateOrder<'_>, now: UnixTime) -> Result<Delegated, DelegateError> {
    let portal_key_error =
        |message: String| DelegateError::PortalKey { path: order.portal_key.to_owned(), message };
    let portal_text = read_capped(order.portal_key, MAX_TRUST_FILE_LEN)
        .map_err(|e| FileError::new(order.portal_key, e))?;
    let portal_set = TrustSet::parse(&portal_text).map_err(|e| portal_key_error(e.to_string()))?;
    let [portal_key] = portal_set.keys() else {
        return Err(portal_key_error("expected exactly one public key".to_owned()));
    };
    let not_before = match order.not_before {
        Some(text) => UnixTime::parse_start(text).map_err(DelegateError::NotBefore)?,
        None => now,
    };
    if order.valid_days == 0 {
        return Err(DelegateError::NoDays);
    }
    FileError::refuse_existing(order.out, order.force)?;
    let key = load_signing_key(order.key)?;
    let claims = DelegationClaims {
        portal_key: portal_key.key.clone(),
        issued_at: now,
        not_before,
        not_after: not_before
            .saturating_add(Duration::from_secs(u64::from(order.valid_days) * 86_400)),
    };
    let text = delegation::sign_for(order.purpose, &claims, &key);
    let options = WriteOptions { overwrite: order.force, ..WriteOptions::PUBLIC_NEW };
    write_atomic(order.out, text.as_bytes(), options).map_err(|e| FileError::new(order.out, e))?;
    Ok(Delegated { claims, signed_by: key.key_id() })
}
