//! `tessera issue`: one license, or a batch, each registered at the portal when asked (a
//! batch registering while its next chunks are issued).

use std::path::{Path, PathBuf};
use std::time::Duration;

use tessera_core::fsutil::{WriteOptions, write_atomic};
use tessera_core::keys::{KeyId, SigningKey};
use tessera_core::license::{ClaimError, Claims, IssueError, LicenseTerms, sign};
use tessera_core::time::UnixTime;

use crate::batch::{self, BatchError, BatchSummary, ManifestEntry, Order};
use crate::files::FileError;
use crate::portal::{
    AdminApiClient, BATCH, BatchResult, CALLS_IN_FLIGHT, PortalError, Progress, RegisterError,
    Registration, Tally, ToRegister, register_stream,
};
use crate::secrets::{ApiKeyError, KeyLoadError, api_key, load_signing_key};

/// Where `--register` registers: the portal's URL, the API key's file (else the
/// environment), and whether plain http to another machine is allowed.
#[derive(Debug, Clone, Copy)]
pub struct RegisterAt<'a> {
    pub portal: &'a str,
    pub api_key_file: Option<&'a Path>,
    pub insecure_http: bool,
}

/// Why the portal's client could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    #[error(transparent)]
    ApiKey(#[from] ApiKeyError),
    #[error(transparent)]
    Portal(#[from] PortalError),
}

/// The client of the portal `--register` names, if it names one; its URL and the API key
/// are checked here, before any key is unlocked.
pub fn admin_client(at: Option<RegisterAt<'_>>) -> Result<Option<AdminApiClient>, ClientError> {
    let Some(at) = at else { return Ok(None) };
    let key = api_key(at.api_key_file)?;
    Ok(Some(AdminApiClient::new(at.portal, &key, at.insecure_http)?))
}

/// Where one license was registered and what the portal said.
#[derive(Debug, serde::Serialize)]
pub struct Registered {
    pub portal: String,
    #[serde(flatten)]
    pub answer: Registration,
}

/// One license written to its file, and registered when asked.
#[derive(Debug)]
pub struct IssuedOne {
    pub claims: Claims,
    pub signed_by: KeyId,
    pub registration: Option<Registered>,
}

/// Why one license was not issued (or, written, not registered).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IssueOneError {
    #[error(transparent)]
    Claim(#[from] ClaimError),
    #[error(transparent)]
    File(#[from] FileError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Key(#[from] KeyLoadError),
    #[error(transparent)]
    Issue(#[from] IssueError),
    /// The license file is written; the portal did not take it.
    #[error("{} was written but not registered: {source}", path.display())]
    NotRegistered { path: PathBuf, source: PortalError },
}

/// Issues one license on `terms` at `now`, signed with the key at `key`, into `out` (replaced
/// only when `force`), then registers it at `register`. Everything that can be checked is
/// checked before the key is unlocked.
pub fn issue_one(
    terms: LicenseTerms,
    key: &Path,
    out: &Path,
    force: bool,
    register: Option<RegisterAt<'_>>,
    now: UnixTime,
) -> Result<IssuedOne, IssueOneError> {
    terms.check(now)?;
    FileError::refuse_existing(out, force)?;
    let client = admin_client(register)?;
    let key = load_signing_key(key)?;
    let claims = terms.issue(now)?;
    let text = sign(&claims, &key)?;
    // The license file holds the license key: only its owner reads it.
    let options = WriteOptions { overwrite: force, ..WriteOptions::SECRET_NEW };
    write_atomic(out, text.as_bytes(), options).map_err(|e| FileError::new(out, e))?;
    let registration = match &client {
        Some(client) => {
            let answer = client
                .register(&text)
                .map_err(|source| IssueOneError::NotRegistered { path: out.to_owned(), source })?;
            Some(Registered { portal: client.url().to_owned(), answer })
        }
        None => None,
    };
    Ok(IssuedOne { claims, signed_by: key.key_id(), registration })
}

/// What a batch run that registered did.
#[derive(Debug)]
pub struct IssuedAndRegistered {
    pub summary: BatchSummary,
    /// The portal's answers, counted.
    pub tally: Tally,
    /// The licenses the portal refused, each with its answer, in the order sent.
    pub refused: Vec<(PathBuf, BatchResult)>,
    /// How many licenses were sent (those of earlier runs included).
    pub sent: usize,
}

/// Why a batch run that registers stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IssueAndRegisterError {
    /// The manifest of an earlier run could not be opened.
    #[error("{}: {source}", path.display())]
    ManifestOpen { path: PathBuf, source: csv::Error },
    /// An entry of the manifest of an earlier run does not read.
    #[error("{}: {source}", path.display())]
    ManifestEntry { path: PathBuf, source: csv::Error },
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// Registering stopped; what was issued is on disk and in the manifest.
    #[error("{0} (rerun to continue)")]
    Register(RegisterError),
}

/// Issues a batch and registers it at once: what the manifest already holds (a run before
/// this one) is sent first, then each chunk as soon as it is durable and in the manifest,
/// while the next chunks are issued. The portal makes repeats harmless, so a run cut short
/// is simply run again. `issued` is told how many rows were done; `waiting`, when the portal
/// asks to slow down, how long the pause is.
pub fn issue_and_register(
    client: &AdminApiClient,
    orders: &[Order],
    key: &SigningKey,
    out_dir: &Path,
    now: UnixTime,
    issued: &(dyn Fn(u64) + Sync),
    waiting: &(dyn Fn(Duration) + Sync),
) -> Result<IssuedAndRegistered, IssueAndRegisterError> {
    let earlier = earlier_files(out_dir)?;
    // A few chunks queue at most: issuing waits for the portal rather than holding the
    // texts of licenses not yet sent.
    let (send, receive) = std::sync::mpsc::sync_channel::<Vec<ToRegister>>(4);
    let (summary, results) = std::thread::scope(|scope| {
        let registering = scope.spawn(|| {
            register_stream(client, receive, CALLS_IN_FLIGHT, &|step| {
                if let Progress::Waiting(pause) = step {
                    waiting(pause);
                }
            })
        });
        let earlier_send = send.clone();
        scope.spawn(move || {
            for chunk in earlier.chunks(BATCH) {
                let _ = earlier_send.send(chunk.iter().cloned().map(ToRegister::file).collect());
            }
        });
        let summary = batch::issue_batch_then(orders, key, out_dir, now, issued, &|recorded| {
            let mut chunk = recorded
                .into_iter()
                .map(|i| ToRegister { file: out_dir.join(&i.entry.file), text: Some(i.text) })
                .peekable();
            while chunk.peek().is_some() {
                let _ = send.send(chunk.by_ref().take(BATCH).collect());
            }
        });
        drop(send);
        let results = registering.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        (summary, results)
    });
    let summary = summary?;
    let results = results.map_err(IssueAndRegisterError::Register)?;
    let tally = Tally::of(results.iter().map(|(_, result)| result));
    let sent = results.len();
    let refused = results.into_iter().filter(|(_, result)| result.outcome == "refused").collect();
    Ok(IssuedAndRegistered { summary, tally, refused, sent })
}

/// The license files an earlier run of this batch recorded in its manifest.
fn earlier_files(out_dir: &Path) -> Result<Vec<PathBuf>, IssueAndRegisterError> {
    let path = out_dir.join(batch::MANIFEST_NAME);
    let mut earlier = Vec::new();
    if path.exists() {
        let mut reader = csv::Reader::from_path(&path)
            .map_err(|source| IssueAndRegisterError::ManifestOpen { path: path.clone(), source })?;
        for entry in reader.deserialize::<ManifestEntry>() {
            let entry = entry.map_err(|source| IssueAndRegisterError::ManifestEntry {
                path: path.clone(),
                source,
            })?;
            earlier.push(out_dir.join(&entry.file));
        }
    }
    Ok(earlier)
}
