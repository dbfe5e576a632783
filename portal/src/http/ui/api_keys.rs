//! API keys: the ones a person may see, making one, revoking one.

use super::*;

// --- API keys -------------------------------------------------------------------------------

/// The keys `viewer` may see and revoke: a super-admin all, an org-admin their organization's.
pub(super) async fn visible_keys(
    portal: &Portal,
    viewer: &Viewer,
) -> Result<Vec<crate::domain::apikeys::ApiKeyRow>, UiError> {
    Ok(match viewer.caller().sees_only() {
        None => portal.store.list_api_keys().await?,
        Some(org) => portal.store.api_keys_of(&org).await?,
    })
}

pub(super) async fn api_keys_page(
    portal: &Portal,
    viewer: &Viewer,
    status: StatusCode,
    error: Option<&str>,
    secret: Option<&str>,
) -> Result<Response, UiError> {
    let keys = visible_keys(portal, viewer).await?;
    let now = portal.now().as_unix();
    Ok(html(status, pages::api_keys(&viewer.chrome(), &keys, now, error, secret)))
}

pub(super) async fn api_keys(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
) -> Result<Response, UiError> {
    api_keys_page(&portal, &viewer, StatusCode::OK, None, None).await
}

#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct KeyForm {
    pub(super) label: String,
    pub(super) read: Option<String>,
    pub(super) write: Option<String>,
    pub(super) revoke: Option<String>,
    pub(super) csrf: String,
}

pub(super) async fn create_api_key(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<KeyForm>,
) -> Result<Response, UiError> {
    use crate::domain::apikeys::{self, CreateError, Owner, Scope};
    viewer.check(&headers, &form.csrf)?;
    let scopes: std::collections::BTreeSet<Scope> = [
        (form.read.is_some(), Scope::Read),
        (form.write.is_some(), Scope::Write),
        (form.revoke.is_some(), Scope::Revoke),
    ]
    .into_iter()
    .filter_map(|(on, scope)| on.then_some(scope))
    .collect();
    let owner = Owner {
        user_id: Some(viewer.user.id.clone()),
        // An organization's person makes keys of their organization (none: no keys).
        org_id: match viewer.caller().sees_only() {
            None => None,
            Some(org) if !org.is_empty() => Some(org),
            Some(_) => return Err(UiError::NotFound),
        },
    };
    match apikeys::create_owned(
        &portal.store,
        &scopes,
        form.label.trim(),
        None,
        owner,
        portal.now(),
    )
    .await
    {
        Ok(key) => {
            tracing::info!(key = %key.row.id, by = %viewer.user.id, scopes = %key.row.scopes, "API key made");
            api_keys_page(&portal, &viewer, StatusCode::OK, None, Some(key.expose())).await
        }
        Err(e @ (CreateError::NoScope | CreateError::NotForOrganizations | CreateError::Label)) => {
            api_keys_page(
                &portal,
                &viewer,
                StatusCode::BAD_REQUEST,
                Some(&capitalized(&e.to_string())),
                None,
            )
            .await
        }
        Err(e) => {
            tracing::error!(error = %e, "making an API key");
            Err(UiError::Internal)
        }
    }
}

pub(super) async fn revoke_api_key(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<TokenForm>,
) -> Result<Response, UiError> {
    viewer.check(&headers, &form.csrf)?;
    if !visible_keys(&portal, &viewer).await?.iter().any(|k| k.id == id) {
        return Err(UiError::NotFound);
    }
    if crate::domain::apikeys::revoke(&portal.store, &viewer.actor(), &id, portal.now()).await? {
        tracing::info!(key = %id, by = %viewer.user.id, "API key revoked");
    }
    Ok(Redirect::to("/ui/api-keys").into_response())
}
