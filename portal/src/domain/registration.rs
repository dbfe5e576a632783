//! Registering licenses: each is checked against the vendor's trust set (signatures of a
//! batch in one go, off the async workers), its terms and the SHA-256 of its key are
//! stored, and the new ones are written to the audit ledger. The admin API's single and
//! batch calls and the web pages' upload all come here.

use tessera_core::armor::FormatError;
use tessera_core::license::{Expectations, LicenseFile, Verdict};
use tessera_core::trust::TrustSet;
use tessera_core::{Status, UnixTime};

use crate::domain::audit::{self, Actor};
use crate::store::{LicenseRow, Registered, Store, StoreError};

/// Licenses in one batch, at most.
pub const MAX_BATCH: usize = 1000;

/// The word the ledger records a registration under.
const REGISTERED: &str = "license.registered";

/// Why licenses could not be registered at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistrationError {
    /// The portal has no trust set to check licenses against.
    #[error("no trust set: the portal cannot check licenses")]
    NoTrustSet,
    /// The signature check did not finish (it panicked).
    #[error("license check: {0}")]
    Task(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why one license was refused: a stable code (`malformed`, or the status word of a
/// license that does not verify) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem}")]
pub struct Refused {
    /// The stable code.
    pub code: &'static str,
    /// Why.
    pub problem: String,
}

impl Refused {
    fn malformed(e: FormatError) -> Refused {
        Refused { code: "malformed", problem: format!("malformed license: {e}") }
    }
}

/// What registering one license came to.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The license id, unless refused.
    pub id: Option<String>,
    /// `registered`, `already` or `refused`.
    pub outcome: &'static str,
    /// The license's status word now, or the refusal's code.
    pub status: String,
    /// Why, when the license was refused.
    pub problem: Option<String>,
}

/// Licenses checked against `trust`, their signatures in one batch: for each, in order, its
/// row and its status now, or why not.
pub fn check_many(
    trust: &TrustSet,
    texts: &[String],
    now: UnixTime,
) -> Vec<Result<(LicenseRow, Status), Refused>> {
    let parsed: Vec<_> = texts.iter().map(|text| LicenseFile::parse(text.as_bytes())).collect();
    let files: Vec<LicenseFile> = parsed.iter().filter_map(|p| p.as_ref().ok().cloned()).collect();
    let mut verdicts =
        LicenseFile::verify_many(&files, trust, now, &Expectations::default()).into_iter();
    parsed
        .into_iter()
        .map(|parsed| match parsed {
            Ok(_) => match verdicts.next() {
                Some(verdict) => admitted(&verdict, now),
                None => Err(Refused { code: "internal", problem: "internal error".to_owned() }),
            },
            Err(e) => Err(Refused::malformed(e)),
        })
        .collect()
}

/// The row of a verified license, or why it is refused.
fn admitted(verdict: &Verdict, now: UnixTime) -> Result<(LicenseRow, Status), Refused> {
    let Some(claims) = verdict.claims() else {
        let status = verdict.status();
        let problem = verdict.problem().map(ToString::to_string).unwrap_or_default();
        return Err(Refused { code: status.as_str(), problem });
    };
    Ok((LicenseRow::registered(claims, now), verdict.status()))
}

/// Registers one license (checked here, on the caller's task: one signature): its row,
/// its status now and whether it is new, or why it was refused. Registering the same
/// license again changes nothing.
pub async fn register_one(
    store: &Store,
    trust: Option<&TrustSet>,
    actor: &Actor,
    text: &str,
    now: UnixTime,
) -> Result<Result<(LicenseRow, Status, Registered), Refused>, RegistrationError> {
    let trust = trust.ok_or(RegistrationError::NoTrustSet)?;
    let checked = check_many(trust, &[text.to_owned()], now).into_iter().next();
    let (row, status) = match checked {
        Some(Ok(admitted)) => admitted,
        Some(Err(refused)) => return Ok(Err(refused)),
        None => return Err(RegistrationError::Task("no verdict".to_owned())),
    };
    let registered = store.register_license(&row).await?;
    if registered == Registered::New {
        audit::record(store, actor, REGISTERED, &row.id, None, now).await?;
    }
    Ok(Ok((row, status, registered)))
}

/// Checks and stores licenses in one batch (signatures off the async workers: a full batch
/// is ~20 ms of CPU; rows in one transaction, one ledger entry for the new ones).
pub async fn register_many(
    store: &Store,
    trust: Option<&TrustSet>,
    actor: &Actor,
    texts: Vec<String>,
    now: UnixTime,
) -> Result<Vec<Outcome>, RegistrationError> {
    let trust = trust.ok_or(RegistrationError::NoTrustSet)?.clone();
    let checked = tokio::task::spawn_blocking(move || check_many(&trust, &texts, now))
        .await
        .map_err(|e| RegistrationError::Task(e.to_string()))?;
    let rows: Vec<LicenseRow> =
        checked.iter().filter_map(|c| c.as_ref().ok().map(|(row, _)| row.clone())).collect();
    let stored: Vec<Registered> = store.register_licenses(&rows).await?;
    let new: Vec<&str> = rows
        .iter()
        .zip(&stored)
        .filter(|(_, r)| **r == Registered::New)
        .map(|(row, _)| row.id.as_str())
        .collect();
    if !new.is_empty() {
        audit::record(store, actor, REGISTERED, &new.join(" "), None, now).await?;
    }
    let mut stored = stored.into_iter();
    Ok(checked
        .into_iter()
        .map(|checked| match checked {
            Ok((row, status)) => Outcome {
                id: Some(row.id),
                outcome: match stored.next() {
                    Some(Registered::New) => "registered",
                    _ => "already",
                },
                status: status.as_str().to_owned(),
                problem: None,
            },
            Err(refused) => Outcome {
                id: None,
                outcome: "refused",
                status: refused.code.to_owned(),
                problem: Some(refused.problem),
            },
        })
        .collect())
}
