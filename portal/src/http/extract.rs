//! Request extractors whose failures are [`ApiError`]s: JSON problems become stable codes,
//! never axum's plain-text rejections; an admin call's API key is authenticated here.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequest, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::app::Portal;
use crate::domain::apikeys::{self, Refusal, Scope};
use crate::domain::authorization::{self, Caller, Denied, Operation, Resource};
use crate::domain::licenses::LicenseFilter;

/// `Json<T>` with the portal's error format.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match <axum::Json<T> as FromRequest<S>>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(rejected(rejection)),
        }
    }
}

/// A body that may be left out: no body (or white space alone) is `None`; any other must
/// be JSON, sent as JSON, as for [`ApiJson`].
impl<S: Send + Sync, T: DeserializeOwned> OptionalFromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                let essence = v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
                essence == "application/json"
                    || essence.starts_with("application/") && essence.ends_with("+json")
            });
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| rejected(JsonRejection::BytesRejection(e)))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        if !json {
            return Err(ApiError::UnsupportedMediaType);
        }
        axum::Json::<T>::from_bytes(&bytes).map(|axum::Json(v)| Some(ApiJson(v))).map_err(rejected)
    }
}

/// A JSON body's problem as the portal answers it: stable codes, never axum's plain text.
fn rejected(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
        JsonRejection::JsonSyntaxError(e) => ApiError::bad_request(
            "malformed_json",
            format!("body is not valid JSON: {}", e.body_text()),
        ),
        JsonRejection::JsonDataError(e) => ApiError::bad_request("invalid_fields", e.body_text()),
        JsonRejection::BytesRejection(e)
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE =>
        {
            ApiError::TooLarge
        }
        other => ApiError::bad_request("unreadable_body", other.body_text()),
    }
}

/// An authenticated admin caller: the vendor's key (every license) or an organization's
/// (its own licenses only, as if no other existed).
pub struct AdminKey {
    /// The key's id.
    pub id: String,
    scopes: BTreeSet<Scope>,
    /// The organization the key is limited to.
    pub organization: Option<String>,
}

impl AdminKey {
    /// A 403 unless the key has `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(ApiError::Forbidden { needed: scope.as_str() })
        }
    }

    /// The key as [`authorization::may`] knows it.
    pub fn caller(&self) -> Caller<'_> {
        Caller::Key { org: self.organization.as_deref() }
    }

    /// Asks [`authorization::may`]; `unknown` answers for a thing the key may not see.
    pub fn may(
        &self,
        operation: Operation,
        resource: Resource<'_>,
        unknown: impl FnOnce() -> ApiError,
    ) -> Result<(), ApiError> {
        authorization::may(&self.caller(), operation, resource).map_err(|denied| match denied {
            Denied::Unknown => unknown(),
            _ => ApiError::VendorOnly,
        })
    }

    /// Refuses any key but the vendor's for the audit ledger's export.
    pub fn require_vendor(&self) -> Result<(), ApiError> {
        let unknown = || ApiError::not_found("no_such_route", "no such endpoint");
        self.may(Operation::ExportLedger, Resource::Portal, unknown)
    }

    /// The key as the audit ledger names it.
    pub fn actor(&self) -> crate::domain::audit::Actor {
        crate::domain::audit::Actor::Key(self.id.clone())
    }

    /// Limits a filter to what the key may see.
    pub fn limit(&self, filter: &mut LicenseFilter) {
        if let Some(org) = self.caller().sees_only() {
            filter.organization = Some(org);
        }
    }
}

impl FromRequestParts<Arc<Portal>> for AdminKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, portal: &Arc<Portal>) -> Result<Self, ApiError> {
        let header = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
            ApiError::unauthorized("missing_api_key", "send Authorization: Bearer <API key>")
        })?;
        let text = header.to_str().ok().and_then(|h| h.strip_prefix("Bearer ")).unwrap_or_default();
        let Some(presented) = apikeys::split(text.trim()) else {
            portal.limits.auth_failure()?;
            return Err(ApiError::unauthorized("invalid_api_key", "the API key is not valid"));
        };
        let verdict = apikeys::authenticate(portal.records(), &presented, portal.now()).await?;
        match verdict {
            Ok(accepted) => {
                portal.limits.admin(presented.id)?;
                Ok(AdminKey {
                    id: presented.id.to_owned(),
                    scopes: accepted.scopes,
                    organization: accepted.org_id,
                })
            }
            Err(refusal) => {
                portal.limits.auth_failure()?;
                let message = match refusal {
                    Refusal::Unknown => "the API key is not valid",
                    Refusal::Revoked => "the API key was revoked",
                    Refusal::Expired => "the API key has expired",
                    Refusal::OwnerLostRights => {
                        "the API key's owner no longer has the rights it was made with"
                    }
                };
                Err(ApiError::unauthorized("invalid_api_key", message))
            }
        }
    }
}
