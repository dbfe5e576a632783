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
    #[error("portal URL {url}: a user or password in it is not how to sign in (the API key is)")]
    Credentials { url: String },
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

/// Licenses in one batch call: the portal's limit (1,000 licenses). Fewer, larger
/// transactions are what make SQLite fast at this.
pub const BATCH: usize = 1000;

/// Batch calls in flight: one being checked while another is written is what a portal can
/// use (SQLite writes one transaction at a time); more only queue.
pub const CALLS_IN_FLIGHT: usize = 2;

/// Bytes of license text in one call, at most: under the portal's default body limit for a
/// batch (4 MiB) with room for JSON's escapes. Licenses are ~700 bytes but may be up to 64 KiB,
/// so a chunk of large ones goes in several calls.
const BATCH_BYTES: usize = 3 * 1024 * 1024;

/// How long to wait out `429` answers in a row before giving up.
const PATIENCE: Duration = Duration::from_secs(600);

/// A portal's admin API.
pub struct AdminApiClient {
    base: String,
    api_key: String,
    http: reqwest::blocking::Client,
}

impl AdminApiClient {
    /// A client for the portal at `base`: https, or http to this machine only unless
    /// `insecure_http` (the API key travels with every call).
    pub fn new(base: &str, api_key: &str, insecure_http: bool) -> Result<Self, PortalError> {
        let base = base.trim_end_matches('/').to_owned();
        tessera_core::transport::check_portal_url(&base, insecure_http)?;
        // The HTTP client would send them ahead of the API key: refused, and never repeated.
        let shown = without_credentials(&base);
        if shown != base {
            return Err(PortalError::Credentials { url: shown });
        }
        // rustls is built without a default provider (no C toolchain needed): pick ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        // Idle connections are dropped before the portal closes them (its header-read
        // timeout, 10 s by default), so that a call is not sent on one being closed.
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .pool_idle_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| PortalError::Unreachable { url: base.clone(), message: e.to_string() })?;
        Ok(AdminApiClient { base, api_key: api_key.trim().to_owned(), http })
    }

    /// The portal's address (it carries no credentials).
    pub fn url(&self) -> &str {
        &self.base
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
        #[derive(serde::Serialize)]
        struct Body<'a> {
            licenses: &'a [String],
        }
        let body = Body { licenses };
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

/// `base` without the user and password a URL may carry (`https://user:pass@host`), as a
/// message may show it.
fn without_credentials(base: &str) -> String {
    match reqwest::Url::parse(base) {
        Ok(mut url) if !url.username().is_empty() || url.password().is_some() => {
            // Only fails for URLs that cannot have a user (no host): not these.
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.as_str().trim_end_matches('/').to_owned()
        }
        _ => base.to_owned(),
    }
}

/// What a registration run did, counted by outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Tally {
    /// Newly registered.
    pub registered: usize,
    /// The portal had them already.
    pub already: usize,
    pub refused: usize,
}

impl Tally {
    pub fn of<'a>(results: impl IntoIterator<Item = &'a BatchResult>) -> Tally {
        let mut tally = Tally::default();
        for result in results {
            match result.outcome.as_str() {
                "registered" => tally.registered += 1,
                "already" => tally.already += 1,
                _ => tally.refused += 1,
            }
        }
        tally
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

/// A license to register: its file, and its text when it is already in memory (just
/// issued); otherwise the file is read as its batch is sent.
#[derive(Debug, Clone)]
pub struct ToRegister {
    pub file: std::path::PathBuf,
    pub text: Option<String>,
}

impl ToRegister {
    /// A license file to read when its batch is sent.
    pub fn file(file: std::path::PathBuf) -> ToRegister {
        ToRegister { file, text: None }
    }
}

/// Registers license files in batches of [`BATCH`], `workers` calls in flight, answering for
/// each file in the order given. Files are read as their batch is sent, so a run over a
/// hundred thousand licenses holds a few batches in memory, not all of them. The portal makes
/// a repeat harmless (`already`), so a run cut short is simply run again.
pub fn register_files(
    client: &AdminApiClient,
    files: &[std::path::PathBuf],
    workers: usize,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Vec<BatchResult>, RegisterError> {
    let (send, receive) = std::sync::mpsc::channel();
    for chunk in files.chunks(BATCH) {
        let _ = send.send(chunk.iter().cloned().map(ToRegister::file).collect());
    }
    drop(send);
    let answered = register_stream(client, receive, workers, progress)?;
    Ok(answered.into_iter().map(|(_, result)| result).collect())
}

/// A chunk's place in the run, its files and their answers.
type Answered = (usize, Vec<std::path::PathBuf>, Vec<BatchResult>);

/// Registers the licenses that arrive on `chunks` (each at most [`BATCH`]) until the
/// sender is dropped, `workers` calls in flight; answers for each file in arrival order.
/// The first failure stops the run.
pub fn register_stream(
    client: &AdminApiClient,
    chunks: std::sync::mpsc::Receiver<Vec<ToRegister>>,
    workers: usize,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Vec<(std::path::PathBuf, BatchResult)>, RegisterError> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};
    let queue = Mutex::new((0usize, chunks));
    let failed = AtomicBool::new(false);
    let answers: Mutex<Vec<Answered>> = Mutex::new(Vec::new());
    let first_error: Mutex<Option<RegisterError>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..workers.clamp(1, 16) {
            scope.spawn(|| {
                loop {
                    if failed.load(Ordering::Relaxed) {
                        return;
                    }
                    // One worker waits on the channel at a time; the others wait their turn.
                    let next = match queue.lock() {
                        Ok(mut queue) => {
                            let index = queue.0;
                            queue.0 += 1;
                            queue.1.recv().ok().map(|chunk| (index, chunk))
                        }
                        Err(_) => None,
                    };
                    let Some((index, licenses)) = next else { return };
                    let (files, texts): (Vec<_>, Vec<_>) =
                        licenses.into_iter().map(|l| (l.file, l.text)).unzip();
                    match send_chunk(client, &files, texts, progress) {
                        Ok(results) => {
                            progress(Progress::Done(results.len() as u64));
                            if let Ok(mut answers) = answers.lock() {
                                answers.push((index, files, results));
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
    let mut answers = answers.into_inner().unwrap_or_default();
    answers.sort_by_key(|(index, _, _)| *index);
    Ok(answers.into_iter().flat_map(|(_, files, results)| files.into_iter().zip(results)).collect())
}

/// Sends one chunk: each license's text as given, or read from its file.
fn send_chunk(
    client: &AdminApiClient,
    files: &[std::path::PathBuf],
    texts: Vec<Option<String>>,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Vec<BatchResult>, RegisterError> {
    let texts = files
        .iter()
        .zip(texts)
        .map(|(path, text)| match text {
            Some(text) => Ok(text),
            None => read_license(path)
                .map_err(|source| RegisterError::Read { path: path.clone(), source }),
        })
        .collect::<Result<Vec<String>, RegisterError>>()?;
    let mut results = Vec::with_capacity(texts.len());
    for part in by_size(&texts, BATCH_BYTES) {
        results.extend(client.register_batch(part, &|pause| progress(Progress::Waiting(pause)))?);
    }
    Ok(results)
}

/// `texts` in consecutive parts of at most `budget` bytes each (a text larger than the
/// budget alone in its part).
fn by_size(texts: &[String], budget: usize) -> Vec<&[String]> {
    let mut parts = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, text) in texts.iter().enumerate() {
        if i > start && bytes + text.len() > budget {
            parts.push(&texts[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += text.len();
    }
    if start < texts.len() {
        parts.push(&texts[start..]);
    }
    parts
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

#[cfg(test)]
mod tests {
    use super::{by_size, without_credentials};

    #[test]
    fn a_portal_url_is_shown_without_credentials() {
        assert_eq!(
            without_credentials("https://vendor:hunter2@portal.example.com/"),
            "https://portal.example.com"
        );
        assert_eq!(
            without_credentials("https://vendor@portal.example.com"),
            "https://portal.example.com"
        );
        assert_eq!(without_credentials("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
    }

    #[test]
    fn batches_are_split_by_size_keeping_order() {
        let texts: Vec<String> = [3, 4, 2, 9, 1].iter().map(|n| "x".repeat(*n)).collect();
        let parts: Vec<Vec<usize>> =
            by_size(&texts, 7).iter().map(|p| p.iter().map(String::len).collect()).collect();
        assert_eq!(parts, vec![vec![3, 4], vec![2], vec![9], vec![1]]);
        assert!(by_size(&[], 7).is_empty());
    }
}
