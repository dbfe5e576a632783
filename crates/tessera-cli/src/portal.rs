//! Talking to a portal's admin API from the vendor's laptop.

use std::time::Duration;

use serde::Deserialize;
use tessera_core::wire::ErrorBody;

/// Why a portal call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PortalError {
    #[error(transparent)]
    BadUrl(#[from] tessera_core::transport::UrlError),
    #[error("cannot reach the portal at {url}: {message}")]
    Unreachable { url: String, message: String },
    #[error("the portal refused ({status} {code}): {message}")]
    Refused { status: u16, code: String, message: String },
}

/// What registering one license did.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct Registration {
    pub id: String,
    /// False when the portal already had it.
    pub registered: bool,
    pub status: String,
}

/// What a batch registration said of one license.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct BatchResult {
    #[serde(default)]
    pub id: Option<String>,
    /// `registered`, `already` or `refused`.
    pub outcome: String,
    /// The license's status word, or why it was refused.
    pub status: String,
    #[serde(default)]
    pub problem: Option<String>,
}

#[derive(Deserialize)]
struct BatchAnswer {
    results: Vec<BatchResult>,
}

/// Licenses in one batch call: well under the portal's batch limit (1,000 licenses, 4 MiB).
pub const BATCH: usize = 500;

/// How long to wait out `429` answers in a row before giving up.
const PATIENCE: Duration = Duration::from_secs(600);

/// A portal's admin API.
pub struct PortalClient {
    base: String,
    api_key: String,
    http: reqwest::blocking::Client,
}

impl PortalClient {
    /// A client for the portal at `base`: https, or http to this machine only unless
    /// `insecure_http` (the API key travels with every call).
    pub fn new(base: &str, api_key: &str, insecure_http: bool) -> Result<Self, PortalError> {
        let base = base.trim_end_matches('/').to_owned();
        tessera_core::transport::check_portal_url(&base, insecure_http)?;
        // rustls is built without a default provider (no C toolchain needed): pick ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        // Idle connections are dropped before the portal closes them (its header-read
        // timeout, 10 s by default), so that a call is not sent on one being closed.
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .pool_idle_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| PortalError::Unreachable { url: base.clone(), message: e.to_string() })?;
        Ok(PortalClient { base, api_key: api_key.trim().to_owned(), http })
    }

    /// Registers up to [`BATCH`] armored licenses in one call, answering for each in order.
    /// A `429` is waited out (its `Retry-After`, `waiting` told how long) and the call sent
    /// again, for up to ten minutes.
    pub fn register_batch(
        &self,
        licenses: &[String],
        waiting: &dyn Fn(Duration),
    ) -> Result<Vec<BatchResult>, PortalError> {
        let url = format!("{}/v1/admin/licenses/batch", self.base);
        let body = serde_json::json!({ "licenses": licenses });
        let mut waited = Duration::ZERO;
        let mut failures = 0;
        loop {
            let sent = self.http.post(&url).bearer_auth(&self.api_key).json(&body).send();
            let response = match sent {
                Ok(response) => response,
                // Registering is idempotent, so a call lost with its connection is sent again.
                // A portal that slows a client down may answer 429 before it has read a large
                // body and close the connection under the upload: that is waited out like a
                // 429. A portal that cannot be reached at all is an error after two retries.
                Err(e) if !e.is_timeout() && (!e.is_connect() || failures < 2) => {
                    failures += 1;
                    if waited >= PATIENCE {
                        return Err(PortalError::Unreachable {
                            url: self.base.clone(),
                            message: e.to_string(),
                        });
                    }
                    let pause = Duration::from_secs(1);
                    waiting(pause);
                    std::thread::sleep(pause);
                    waited += pause;
                    continue;
                }
                Err(e) => {
                    return Err(PortalError::Unreachable {
                        url: self.base.clone(),
                        message: e.to_string(),
                    });
                }
            };
            let status = response.status();
            if status.as_u16() == 429 && waited < PATIENCE {
                let pause = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map_or(Duration::from_secs(1), Duration::from_secs)
                    .clamp(Duration::from_millis(100), Duration::from_secs(60));
                waiting(pause);
                std::thread::sleep(pause);
                waited += pause;
                continue;
            }
            if !status.is_success() {
                return Err(refusal(status.as_u16(), response));
            }
            let answer: BatchAnswer = response.json().map_err(|e| PortalError::Refused {
                status: status.as_u16(),
                code: "bad_answer".into(),
                message: e.to_string(),
            })?;
            if answer.results.len() != licenses.len() {
                return Err(PortalError::Refused {
                    status: status.as_u16(),
                    code: "bad_answer".into(),
                    message: format!(
                        "{} answers for {} licenses",
                        answer.results.len(),
                        licenses.len()
                    ),
                });
            }
            return Ok(answer.results);
        }
    }

    /// Registers one armored license.
    pub fn register(&self, license_text: &str) -> Result<Registration, PortalError> {
        let url = format!("{}/v1/admin/licenses", self.base);
        let response = self
            .http
            .post(&url)
            .bearer_auth(&self.api_key)
            .json(&serde_json::json!({ "license": license_text }))
            .send()
            .map_err(|e| PortalError::Unreachable {
                url: self.base.clone(),
                message: e.to_string(),
            })?;
        let status = response.status();
        if status.is_success() {
            return response.json().map_err(|e| PortalError::Refused {
                status: status.as_u16(),
                code: "bad_answer".into(),
                message: e.to_string(),
            });
        }
        Err(refusal(status.as_u16(), response))
    }
}

/// The portal's error answer as a [`PortalError`].
fn refusal(status: u16, response: reqwest::blocking::Response) -> PortalError {
    let (code, message) = match response.json::<ErrorBody>() {
        Ok(body) => (body.error.code, body.error.message),
        Err(_) => ("unknown".to_owned(), "the portal's answer was not understood".to_owned()),
    };
    PortalError::Refused { status, code, message }
}

/// How a registration run is going, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub enum Progress {
    /// This many more licenses have an answer.
    Done(u64),
    /// The portal said to slow down: waiting this long before sending again.
    Waiting(Duration),
}

/// Why a registration run stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegisterError {
    #[error("{path}: {source}")]
    Read { path: std::path::PathBuf, source: std::io::Error },
    #[error(transparent)]
    Portal(#[from] PortalError),
}

/// Registers license files in batches of [`BATCH`], `workers` calls in flight, answering for
/// each file in the order given. Files are read as their batch is sent, so a run over a
/// hundred thousand licenses holds a few batches in memory, not all of them. The portal makes
/// a repeat harmless (`already`), so a run cut short is simply run again.
pub fn register_files(
    client: &PortalClient,
    files: &[std::path::PathBuf],
    workers: usize,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Vec<BatchResult>, RegisterError> {
    let chunks: Vec<&[std::path::PathBuf]> = files.chunks(BATCH).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failed = std::sync::atomic::AtomicBool::new(false);
    let answers: std::sync::Mutex<Vec<Option<Vec<BatchResult>>>> =
        std::sync::Mutex::new(vec![None; chunks.len()]);
    let first_error: std::sync::Mutex<Option<RegisterError>> = std::sync::Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..workers.clamp(1, 16) {
            scope.spawn(|| {
                use std::sync::atomic::Ordering;
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= chunks.len() || failed.load(Ordering::Relaxed) {
                        return;
                    }
                    let outcome = send_chunk(client, chunks[index], progress);
                    match outcome {
                        Ok(results) => {
                            progress(Progress::Done(results.len() as u64));
                            if let Ok(mut answers) = answers.lock() {
                                answers[index] = Some(results);
                            }
                        }
                        Err(e) => {
                            failed.store(true, Ordering::Relaxed);
                            if let Ok(mut slot) = first_error.lock() {
                                slot.get_or_insert(e);
                            }
                            return;
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().ok().flatten() {
        return Err(e);
    }
    let answers = answers.into_inner().unwrap_or_default();
    Ok(answers.into_iter().flatten().flatten().collect())
}

fn send_chunk(
    client: &PortalClient,
    files: &[std::path::PathBuf],
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Vec<BatchResult>, RegisterError> {
    let mut texts = Vec::with_capacity(files.len());
    for path in files {
        let text = read_license(path)
            .map_err(|source| RegisterError::Read { path: path.clone(), source })?;
        texts.push(text);
    }
    Ok(client.register_batch(&texts, &|pause| progress(Progress::Waiting(pause)))?)
}

/// A license file's text, read up to the armor's cap (one byte more tells the portal it is
/// too large).
fn read_license(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(tessera_core::armor::MAX_ARMORED_LEN as u64 + 1)
        .read_to_string(&mut text)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => {
                std::io::Error::new(e.kind(), "not a license file (not text)")
            }
            _ => e,
        })?;
    Ok(text)
}
