//! Where each checkpoint the portal signs goes besides its database and its witness file,
//! so that a record of what the ledger was stays out of reach of whoever holds the database:
//! a directory the operator names (a backup or WORM mount: one file per checkpoint, written
//! whole and never replaced), and witnesses that speak C2SP `tlog-witness`, each of which
//! cosigns a checkpoint only when a consistency proof shows it extends the last one it saw.
//!
//! A witness that cannot be reached, or refuses, does not stop the portal: it is said in the
//! log and counted, and the next checkpoint tries again from where the witness stands.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use tessera_core::ledger::Signed;
use tessera_core::ledger::witness::{CosignerKey, add_checkpoint_body};
use tessera_core::merkle::Tree;

/// How long a witness has to answer.
const WITNESS_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest answer read from a witness.
const MAX_ANSWER: usize = 16 * 1024;

/// A witness reached over HTTP: its submission prefix, its key, and the size of the last
/// checkpoint it cosigned (as far as this portal knows).
struct Remote {
    url: String,
    key: CosignerKey,
    known: Mutex<u64>,
    /// Why the last checkpoint was not cosigned, if it was not (`/readyz`).
    failing: Mutex<Option<String>>,
}

/// The checkpoint directory and the tlog witnesses.
#[derive(Default)]
pub struct Witnesses {
    dir: Option<PathBuf>,
    remotes: Vec<Remote>,
    http: Option<reqwest::Client>,
    failures: prometheus_client::metrics::counter::Counter,
}

impl std::fmt::Debug for Witnesses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Witnesses")
            .field("dir", &self.dir)
            .field("remotes", &self.remotes.iter().map(|r| &r.url).collect::<Vec<_>>())
            .finish()
    }
}

/// A witness setting that cannot be used.
#[derive(Debug, Clone, thiserror::Error)]
#[error("ledger witness {url}: {why}")]
pub struct WitnessSettingError {
    /// The witness's URL.
    pub url: String,
    /// What is wrong.
    pub why: String,
}

/// What one checkpoint came to at one witness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cosigned {
    /// The witness cosigned at this time (Unix seconds) with this line (`— <name> …\n`).
    At(u64, String),
    /// What went wrong.
    Failed(String),
}

impl Witnesses {
    /// The directory `dir` (made if missing) and the witnesses given as (URL, key) pairs; a
    /// failed publication is counted in `failures`.
    pub fn new(
        dir: Option<PathBuf>,
        remotes: &[(String, String)],
        failures: prometheus_client::metrics::counter::Counter,
    ) -> Result<Witnesses, WitnessSettingError> {
        let mut parsed = Vec::with_capacity(remotes.len());
        for (url, key) in remotes {
            let bad = |why: String| WitnessSettingError { url: url.clone(), why };
            let checked = reqwest::Url::parse(url).map_err(|e| bad(e.to_string()))?;
            if !matches!(checked.scheme(), "http" | "https") || !checked.username().is_empty() {
                return Err(bad("an http or https URL without credentials".to_owned()));
            }
            let key = key.parse::<CosignerKey>().map_err(|e| bad(e.to_string()))?;
            let url = url.trim_end_matches('/').to_owned();
            parsed.push(Remote { url, key, known: Mutex::new(0), failing: Mutex::new(None) });
        }
        let http = if parsed.is_empty() {
            None
        } else {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let client = reqwest::Client::builder()
                .timeout(WITNESS_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| WitnessSettingError { url: String::new(), why: e.to_string() })?;
            Some(client)
        };
        Ok(Witnesses { dir, remotes: parsed, http, failures })
    }

    /// Writes `signed` to the directory and asks every witness to cosign it, with a
    /// consistency proof from `tree` (the tree it was signed over). Answers each witness's
    /// outcome, in the order configured.
    pub async fn publish(&self, signed: &Signed, tree: &Tree) -> Vec<Cosigned> {
        if let Some(dir) = &self.dir
            && let Err(e) = write_to_dir(dir, signed)
        {
            self.failures.inc();
            tracing::error!(error = %e, dir = %dir.display(), "a ledger checkpoint could not be written to the checkpoint directory");
        }
        let mut outcomes = Vec::with_capacity(self.remotes.len());
        for remote in &self.remotes {
            let outcome = match self.cosign(remote, signed, tree).await {
                Ok((time, line)) => Cosigned::At(time, line),
                Err(why) => {
                    self.failures.inc();
                    tracing::error!(witness = %remote.url, why, size = signed.checkpoint.size, "a ledger witness did not cosign the checkpoint");
                    Cosigned::Failed(why)
                }
            };
            if let Ok(mut failing) = remote.failing.lock() {
                *failing = match &outcome {
                    Cosigned::Failed(why) => Some(why.clone()),
                    Cosigned::At(..) => None,
                };
            }
            outcomes.push(outcome);
        }
        outcomes
    }

    /// Each witness's URL and why it did not cosign the last checkpoint, if it did not
    /// (`/readyz`: said, not a reason to stop serving).
    pub fn failing(&self) -> Vec<(String, Option<String>)> {
        self.remotes
            .iter()
            .map(|r| (r.url.clone(), r.failing.lock().map(|f| f.clone()).unwrap_or_default()))
            .collect()
    }

    /// Keeps `cosigned` (the note with the witnesses' cosignature lines) in the checkpoint
    /// directory, beside the checkpoint's own file, when there is one.
    pub fn keep_cosigned(&self, cosigned: &Signed) {
        if let Some(dir) = &self.dir
            && let Err(e) = write_named(dir, cosigned, "-cosigned")
        {
            self.failures.inc();
            tracing::error!(error = %e, dir = %dir.display(), "a cosigned ledger checkpoint could not be written to the checkpoint directory");
        }
    }

    /// `add-checkpoint` at one witness: from the size it last cosigned (learnt from its
    /// `409` when this portal does not know it).
    async fn cosign(
        &self,
        remote: &Remote,
        signed: &Signed,
        tree: &Tree,
    ) -> Result<(u64, String), String> {
        let Some(http) = &self.http else { return Err("no HTTP client".to_owned()) };
        let size = signed.checkpoint.size;
        let mut old = remote.known.lock().map(|k| *k).unwrap_or(0);
        for _ in 0..2 {
            if old > size {
                return Err(format!(
                    "the witness has cosigned a ledger of {old} entries, more than the {size} signed now: entries were removed (docs/OPERATIONS.md)"
                ));
            }
            let proof = tree.consistency(old, size).map_err(|e| {
                format!("no consistency proof from the witness's {old} entries: {e}")
            })?;
            let body = add_checkpoint_body(old, &proof, &signed.note);
            let mut response = http
                .post(format!("{}/add-checkpoint", remote.url))
                .body(body)
                .send()
                .await
                .map_err(|e| format!("unreachable: {e}"))?;
            let status = response.status().as_u16();
            let sizes = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes().starts_with(b"text/x.tlog.size"));
            let answer = read_capped(&mut response).await?;
            match status {
                200 => {
                    let time = remote
                        .key
                        .verify(&signed.checkpoint.text(), &answer)
                        .map_err(|e| e.to_string())?;
                    if let Ok(mut known) = remote.known.lock() {
                        *known = size;
                    }
                    // The verified line: the one of the witness's name (others are ignored).
                    let prefix = format!("\u{2014} {} ", remote.key.name());
                    let line = answer
                        .lines()
                        .find(|l| l.starts_with(&prefix))
                        .map(|l| format!("{l}\n"))
                        .unwrap_or_default();
                    return Ok((time, line));
                }
                409 if sizes => {
                    let theirs: u64 = answer
                        .trim_end()
                        .parse()
                        .map_err(|_| format!("a 409 without a size: {answer:?}"))?;
                    if theirs == old {
                        return Err(format!(
                            "the witness holds another checkpoint of {old} entries: the ledger it saw was different (docs/OPERATIONS.md)"
                        ));
                    }
                    old = theirs;
                }
                _ => {
                    return Err(format!("answered {status}: {}", answer.trim()));
                }
            }
        }
        Err("the witness moved on while it was asked".to_owned())
    }
}

/// Reads at most [`MAX_ANSWER`] bytes of an answer as text.
async fn read_capped(response: &mut reqwest::Response) -> Result<String, String> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if bytes.len() + chunk.len() > MAX_ANSWER {
            return Err("the answer is too large".to_owned());
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| "the answer is not text".to_owned())
}

/// The checkpoint's file in the directory: its size (zero-padded, so names sort as the
/// ledger grew) and when it was signed. Written whole under a temporary name, then linked
/// into place; an existing file is never replaced (the same checkpoint twice is no error).
pub fn write_to_dir(dir: &std::path::Path, signed: &Signed) -> std::io::Result<PathBuf> {
    write_named(dir, signed, "")
}

/// [`write_to_dir`], the name ending in `suffix` before `.jsonl`.
fn write_named(dir: &std::path::Path, signed: &Signed, suffix: &str) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let name = format!(
        "checkpoint-{:020}-{}{suffix}.jsonl",
        signed.checkpoint.size,
        signed.signed_at.as_unix()
    );
    let path = dir.join(name);
    let line = signed.to_line() + "\n";
    match tessera_core::fsutil::write_atomic(
        &path,
        line.as_bytes(),
        tessera_core::fsutil::WriteOptions::PUBLIC_NEW,
    ) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(path),
        other => other.map(|()| path),
    }
}
