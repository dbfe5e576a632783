//! The hub's client for the portal's hub API (docs/PROTOCOL.md): one POST per call, the
//! answer's receipt returned unverified (the agent verifies it).

use std::time::Duration;

use serde::Deserialize;
use tessera_core::Status;
use tessera_core::armor::Compact;
use tessera_core::wire::{ErrorBody, describe};

use crate::state::bounded;

/// The largest answer read from a portal (or whatever answers in its place): a receipt and
/// a delegation are a few KiB. A longer body is an unreachable portal, not a bigger buffer.
pub const MAX_ANSWER_LEN: usize = 256 * 1024;

/// A portal's answer to an activation or a ping.
#[derive(Debug, Clone, Deserialize)]
pub struct ReceiptResponse {
    /// The license's status at the portal.
    #[serde(deserialize_with = "tessera_core::status::tolerant")]
    pub status: Status,
    /// The portal's signed receipt.
    pub receipt: String,
    /// The vendor's delegation of the portal's receipt key.
    pub delegation: String,
}

/// Why a call got no receipt.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// Network trouble, a 5xx or a 429: try again later; grace covers the gap.
    #[error("portal unreachable: {0}")]
    Unreachable(String),
    /// The portal understood and said no (4xx): retrying the same call will not help.
    #[error("portal refused the call: {code}: {message}")]
    Refused {
        /// The HTTP status.
        http: u16,
        /// The portal's stable error code.
        code: String,
        /// The portal's message.
        message: String,
    },
}

/// An HTTP client of one portal's hub API (activate, ping).
#[derive(Debug, Clone)]
pub struct HubApiClient {
    base: String,
    http: reqwest::Client,
}

impl HubApiClient {
    /// A client for the portal at `base` (e.g. `https://portal.example.com`).
    pub fn new(base: &str) -> Result<Self, CallError> {
        install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("tessera-hub/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CallError::Unreachable(format!("HTTP client: {e}")))?;
        Ok(HubApiClient { base: base.trim_end_matches('/').to_owned(), http })
    }

    /// The portal's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends an activation call (`POST /v1/activate`).
    pub async fn activate(&self, call: &Compact) -> Result<ReceiptResponse, CallError> {
        self.post("/v1/activate", call).await
    }

    /// Sends a ping (`POST /v1/ping`).
    pub async fn ping(&self, call: &Compact) -> Result<ReceiptResponse, CallError> {
        self.post("/v1/ping", call).await
    }

    async fn post(&self, path: &str, call: &Compact) -> Result<ReceiptResponse, CallError> {
        let url = format!("{}{path}", self.base);
        let unreachable = |what: String| CallError::Unreachable(bounded(&what));
        let mut response =
            self.http.post(&url).json(call).send().await.map_err(|e| unreachable(describe(&e)))?;
        let http = response.status();
        let body = read_capped(&mut response)
            .await
            .map_err(|e| unreachable(format!("answer from {url}: {e}")))?;
        if http.is_success() {
            return serde_json::from_slice(&body)
                .map_err(|e| unreachable(format!("unreadable answer from {url}: {e}")));
        }
        let (code, message) = match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(b) => (bounded(&b.error.code), bounded(&b.error.message)),
            Err(_) => ("http_error".to_owned(), bounded(&format!("HTTP {http} from {url}"))),
        };
        if http.is_server_error() || http.as_u16() == 429 {
            Err(unreachable(format!("{code}: {message}")))
        } else {
            Err(CallError::Refused { http: http.as_u16(), code, message })
        }
    }
}

/// The body of `response`, at most [`MAX_ANSWER_LEN`] bytes: a longer one is an error,
/// read no further.
async fn read_capped(response: &mut reqwest::Response) -> Result<Vec<u8>, String> {
    if response.content_length().is_some_and(|n| n > MAX_ANSWER_LEN as u64) {
        return Err(format!("longer than {MAX_ANSWER_LEN} bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
        if body.len() + chunk.len() > MAX_ANSWER_LEN {
            return Err(format!("longer than {MAX_ANSWER_LEN} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// rustls is built without a default provider (no C toolchain needed): pick ring, once.
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
