//! The runner's client for its hub's runner API (docs/HUB.md, "Serving runners").

use std::time::Duration;

use serde::Deserialize;
use tessera_core::UnixTime;
use tessera_core::activation::Bundle;
use tessera_core::wire::{ErrorBody, describe};

/// Why the hub gave no answer to use.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HubError {
    #[error("hub unreachable: {0}")]
    Unreachable(String),
    #[error("hub refused: {code}: {message}")]
    Refused { http: u16, code: String, message: String },
}

/// A lease as the hub grants it.
#[derive(Debug, Clone, Deserialize)]
pub struct Grant {
    pub runner: String,
    pub expires_at: UnixTime,
    pub lease: String,
}

/// A blocking client (install and refresh only; `check` never touches the network).
pub struct HubClient {
    base: String,
    token: String,
    http: reqwest::blocking::Client,
}

impl HubClient {
    pub fn new(base: &str, token: &str) -> Result<Self, HubError> {
        // rustls is built without a default provider (no C toolchain needed): pick ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| HubError::Unreachable(format!("HTTP client: {e}")))?;
        Ok(HubClient { base: base.trim_end_matches('/').to_owned(), token: token.to_owned(), http })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn bundle(&self) -> Result<Bundle, HubError> {
        let request = self.http.get(format!("{}/v1/bundle", self.base)).bearer_auth(&self.token);
        answer(request.send())
    }

    pub fn lease(&self, runner: &str) -> Result<Grant, HubError> {
        let request = self
            .http
            .post(format!("{}/v1/lease", self.base))
            .bearer_auth(&self.token)
            .json(&serde_json::json!({ "runner": runner }));
        answer(request.send())
    }
}

fn answer<T: serde::de::DeserializeOwned>(
    sent: reqwest::Result<reqwest::blocking::Response>,
) -> Result<T, HubError> {
    let response = sent.map_err(|e| HubError::Unreachable(describe(&e)))?;
    let http = response.status();
    if http.is_success() {
        return response
            .json()
            .map_err(|e| HubError::Unreachable(format!("unreadable answer: {e}")));
    }
    let (code, message) = match response.json::<ErrorBody>() {
        Ok(b) => (b.error.code, b.error.message),
        Err(_) => ("http_error".to_owned(), format!("HTTP {http}")),
    };
    if http.is_server_error() {
        Err(HubError::Unreachable(format!("{code}: {message}")))
    } else {
        Err(HubError::Refused { http: http.as_u16(), code, message })
    }
}
