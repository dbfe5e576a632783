//! Request extractors whose failures are [`ApiError`]s: JSON problems become stable codes,
//! never axum's plain-text rejections.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// `Json<T>` with the portal's error format.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(match rejection {
                JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
                JsonRejection::JsonSyntaxError(e) => ApiError::bad_request(
                    "malformed_json",
                    format!("body is not valid JSON: {}", e.body_text()),
                ),
                JsonRejection::JsonDataError(e) => {
                    ApiError::bad_request("invalid_fields", e.body_text())
                }
                JsonRejection::BytesRejection(e)
                    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE =>
                {
                    ApiError::TooLarge
                }
                other => ApiError::bad_request("unreadable_body", other.body_text()),
            }),
        }
    }
}
