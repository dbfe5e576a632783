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
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| PortalError::Unreachable { url: base.clone(), message: e.to_string() })?;
        Ok(PortalClient { base, api_key: api_key.trim().to_owned(), http })
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
        let (code, message) = match response.json::<ErrorBody>() {
            Ok(body) => (body.error.code, body.error.message),
            Err(_) => ("unknown".to_owned(), "the portal's answer was not understood".to_owned()),
        };
        Err(PortalError::Refused { status: status.as_u16(), code, message })
    }
}
