//! The runner's client for its hub's runner API (docs/HUB.md, "Serving runners"): every
//! call is a runner call signed with the runner's key; answers are read with a cap.

use std::io::Read;
use std::time::Duration;

use serde::Deserialize;
use tessera_core::activation::Bundle;
use tessera_core::wire::{ErrorBody, describe};

/// The largest answer read from a hub: a bundle is a few KiB.
pub const MAX_ANSWER_LEN: usize = 256 * 1024;

/// The longest error text kept from a hub's answer.
const MAX_MESSAGE_LEN: usize = 300;

/// Why the hub gave no answer to use.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HubCallError {
    /// Network trouble, a timeout, an oversized answer or a 5xx: try again later.
    #[error("hub unreachable: {0}")]
    Unreachable(String),
    /// The hub answered with a client error (4xx).
    #[error("hub refused: {code}: {message}")]
    Refused {
        /// The HTTP status.
        http: u16,
        /// The hub's stable error code.
        code: String,
        /// The hub's message.
        message: String,
    },
}

/// The hub's answer to a lease call: its bundle, and a lease when one is granted.
#[derive(Debug, Clone, Deserialize)]
pub struct LeaseAnswer {
    /// The hub's bundle: its license, receipt or activation, and status.
    pub bundle: Bundle,
    /// The signed lease, when a slot is granted.
    #[serde(default)]
    pub lease: Option<String>,
}

/// A blocking client (install, refresh, release only; `check` never touches the network).
pub struct HubClient {
    base: String,
    http: reqwest::blocking::Client,
}

fn bounded(text: &str) -> String {
    let mut out: String =
        text.chars().map(|c| if c.is_control() { ' ' } else { c }).take(MAX_MESSAGE_LEN).collect();
    if text.chars().count() > MAX_MESSAGE_LEN {
        out.push('…');
    }
    out
}

impl HubClient {
    /// A client of the hub at `base` (its runner API URL).
    pub fn new(base: &str) -> Result<Self, HubCallError> {
        // rustls is built without a default provider (no C toolchain needed): pick ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| HubCallError::Unreachable(format!("HTTP client: {e}")))?;
        Ok(HubClient { base: base.trim_end_matches('/').to_owned(), http })
    }

    /// The hub's URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Asks for a lease (renewing the one held) and the hub's bundle. `token` enrolls the
    /// runner's key the first time.
    pub fn lease(&self, call: &str, token: Option<&str>) -> Result<LeaseAnswer, HubCallError> {
        let mut request = self
            .http
            .post(format!("{}/v1/lease", self.base))
            .json(&serde_json::json!({ "call": call }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let body = answer(request.send())?;
        serde_json::from_slice(&body)
            .map_err(|e| HubCallError::Unreachable(bounded(&format!("unreadable answer: {e}"))))
    }

    /// Gives the slot back.
    pub fn release(&self, call: &str) -> Result<(), HubCallError> {
        let request = self
            .http
            .post(format!("{}/v1/release", self.base))
            .json(&serde_json::json!({ "call": call }));
        answer(request.send()).map(|_| ())
    }
}

/// The body of a successful answer, or the hub's error; at most [`MAX_ANSWER_LEN`] bytes
/// are read either way.
fn answer(sent: reqwest::Result<reqwest::blocking::Response>) -> Result<Vec<u8>, HubCallError> {
    let response = sent.map_err(|e| HubCallError::Unreachable(bounded(&describe(&e))))?;
    let http = response.status();
    let mut body = Vec::new();
    let read = response
        .take(MAX_ANSWER_LEN as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|e| HubCallError::Unreachable(bounded(&format!("reading the answer: {e}"))))?;
    if read > MAX_ANSWER_LEN {
        return Err(HubCallError::Unreachable(format!(
            "the answer is longer than {MAX_ANSWER_LEN} bytes"
        )));
    }
    if http.is_success() {
        return Ok(body);
    }
    let (code, message) = match serde_json::from_slice::<ErrorBody>(&body) {
        Ok(b) => (bounded(&b.error.code), bounded(&b.error.message)),
        Err(_) => ("http_error".to_owned(), format!("HTTP {http}")),
    };
    if http.is_server_error() {
        Err(HubCallError::Unreachable(format!("{code}: {message}")))
    } else {
        Err(HubCallError::Refused { http: http.as_u16(), code, message })
    }
}
