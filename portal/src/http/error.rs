//! Every HTTP error the portal answers, in one place: a status code, a stable `code` that
//! clients can match on, and a message. Internal errors are logged and answered with a
//! generic 500 that reveals nothing.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tessera_core::wire::ErrorBody;

use crate::app::NotReady;
use crate::domain::StoreError;
use crate::domain::clock::ClockSkew;
use crate::domain::pings::PingPathError;
use crate::limits::Limited;

/// A failed request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The client sent something wrong: 400.
    #[error("{message}")]
    BadRequest {
        /// The stable error code.
        code: &'static str,
        /// What is wrong.
        message: String,
    },
    /// No usable API key: 401.
    #[error("{message}")]
    Unauthorized {
        /// The stable error code.
        code: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The API key lacks the scope: 403.
    #[error("this API key lacks the {needed} scope")]
    Forbidden {
        /// The scope needed.
        needed: &'static str,
    },
    /// The caller is known and may not do this (a hub a reset does not admit): 403.
    #[error("{message}")]
    Refused {
        /// The stable error code.
        code: &'static str,
        /// Why.
        message: String,
    },
    /// An organization's key on a call that is the vendor's: 403.
    #[error("this call is the vendor's: an organization's API key cannot make it")]
    VendorOnly,
    /// 404.
    #[error("{message}")]
    NotFound {
        /// The stable error code.
        code: &'static str,
        /// What was not found.
        message: String,
    },
    /// The request conflicts with the state: 409.
    #[error("{message}")]
    Conflict {
        /// The stable error code.
        code: &'static str,
        /// What conflicts.
        message: String,
    },
    /// 413.
    #[error("request body is too large")]
    TooLarge,
    /// 415.
    #[error("send JSON with Content-Type: application/json")]
    UnsupportedMediaType,
    /// A signed object that does not verify, or a license the trust set does not accept: 422.
    #[error("{message}")]
    Unprocessable {
        /// The stable error code.
        code: &'static str,
        /// What does not verify.
        message: String,
    },
    /// 429, with Retry-After.
    #[error("too many requests; retry in {retry_after_secs} s")]
    TooManyRequests {
        /// When to try again.
        retry_after_secs: u64,
    },
    /// The portal lacks configuration to serve hubs: 503.
    #[error("the portal is not ready: {missing}")]
    NotReady {
        /// What is missing.
        missing: String,
    },
    /// The portal is stopping: 503.
    #[error("the portal is shutting down; try again shortly")]
    ShuttingDown,
    /// A bug or an outage: 500. The cause is logged, never sent.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// A 400 with `code` and `message`.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest { code, message: message.into() }
    }

    /// A 404 with `code` and `message`.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::NotFound { code, message: message.into() }
    }

    /// A 409 with `code` and `message`.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Conflict { code, message: message.into() }
    }

    /// A 401 with `code` and `message`.
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Unauthorized { code, message: message.into() }
    }

    /// A 403 with `code` and `message`.
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Refused { code, message: message.into() }
    }

    /// A 422 with `code` and `message`.
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Unprocessable { code, message: message.into() }
    }

    /// The HTTP status of the answer.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } | ApiError::Refused { .. } | ApiError::VendorOnly => {
                StatusCode::FORBIDDEN
            }
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NotReady { .. } | ApiError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. }
            | ApiError::Unauthorized { code, .. }
            | ApiError::NotFound { code, .. }
            | ApiError::Conflict { code, .. }
            | ApiError::Refused { code, .. }
            | ApiError::Unprocessable { code, .. } => code,
            ApiError::Forbidden { .. } => "insufficient_scope",
            ApiError::VendorOnly => "vendor_only",
            ApiError::TooLarge => "body_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::TooManyRequests { .. } => "rate_limited",
            ApiError::NotReady { .. } => "not_ready",
            ApiError::ShuttingDown => "shutting_down",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if e.is_unstorable_text() {
            return ApiError::bad_request("invalid_text", NUL_IN_TEXT);
        }
        ApiError::Internal(e.to_string())
    }
}

/// The answer to a value holding a NUL character (which no text field may hold).
pub(crate) const NUL_IN_TEXT: &str =
    "a value in this request holds a NUL character (0x00), which no field may hold";

impl From<PingPathError> for ApiError {
    fn from(e: PingPathError) -> Self {
        match e {
            PingPathError::ShuttingDown => ApiError::ShuttingDown,
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<Limited> for ApiError {
    fn from(e: Limited) -> Self {
        ApiError::TooManyRequests { retry_after_secs: e.retry_after_secs }
    }
}

impl From<NotReady> for ApiError {
    fn from(e: NotReady) -> Self {
        ApiError::NotReady { missing: e.missing }
    }
}

impl From<ClockSkew> for ApiError {
    fn from(e: ClockSkew) -> Self {
        ApiError::bad_request("clock_skew", e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            tracing::error!(%cause, "internal error");
        }
        let status = self.status();
        let body = ErrorBody::new(self.code(), self.to_string());
        let mut response = (status, Json(body)).into_response();
        if let ApiError::TooManyRequests { retry_after_secs } = self
            && let Ok(value) = HeaderValue::from_str(&retry_after_secs.max(1).to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}
