//! A form a signed-in person posts: [`Posted`] finds the person, reads the form and checks
//! its origin and token before a handler sees the fields, so that no handler can forget to.

use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use super::*;

/// The fields of a form a signed-in person posted, its origin and token checked.
pub(super) struct Posted<F> {
    /// Who posted it.
    pub(super) viewer: Viewer,
    /// Its fields (the token apart).
    pub(super) form: F,
}

/// A form whose only field is its token (a button).
#[derive(Default, serde::Deserialize)]
pub(super) struct Button {}

/// A form as posted: the token beside the fields.
#[derive(serde::Deserialize)]
struct WithToken<F> {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    fields: F,
}

impl<F: DeserializeOwned + Send> FromRequest<Arc<Portal>> for Posted<F> {
    type Rejection = Response;

    async fn from_request(request: Request, portal: &Arc<Portal>) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let viewer = Viewer::from_request_parts(&mut parts, portal)
            .await
            .map_err(IntoResponse::into_response)?;
        let headers = parts.headers.clone();
        let axum::Form(posted) =
            axum::Form::<WithToken<F>>::from_request(Request::from_parts(parts, body), portal)
                .await
                .map_err(IntoResponse::into_response)?;
        viewer.check(&headers, &posted.csrf).map_err(IntoResponse::into_response)?;
        Ok(Posted { viewer, form: posted.fields })
    }
}
