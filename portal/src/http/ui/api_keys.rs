//! API keys: the ones a person may see, making one, revoking one (after asking).

use super::*;
use crate::domain::apikeys::{self, ApiKeyRow};

// --- API keys -------------------------------------------------------------------------------

/// The keys `viewer` may see and revoke: a super-admin all, an org-admin their organization's.
pub(super) async fn visible_keys(
    portal: &Portal,
    viewer: &Viewer,
) -> Result<Vec<ApiKeyRow>, UiError> {
    Ok(apikeys::visible(portal.records(), &viewer.caller()).await?)
}

/// A key `viewer` may see and revoke, or "not found".
async fn visible_key(portal: &Portal, viewer: &Viewer, id: &str) -> Result<ApiKeyRow, UiError> {
    let found = apikeys::visible_key(portal.records(), &viewer.caller(), id).await?;
    found.ok_or(UiError::NotFound)
}

/// The name of a key's owner while they have an account.
async fn owner_name(portal: &Portal, key: &ApiKeyRow) -> Result<Option<String>, UiError> {
    Ok(match &key.owner_id {
        Some(id) => accounts::person(portal.records(), id).await?.map(|u| u.name),
        None => None,
    })
}

pub(super) async fn api_keys_page(
    portal: &Portal,
    viewer: &Viewer,
    status: StatusCode,
    error: Option<&str>,
    secret: Option<&str>,
    done: Option<&str>,
) -> Result<Response, UiError> {
    let keys = visible_keys(portal, viewer).await?;
    let mut owners = std::collections::BTreeMap::new();
    for key in &keys {
        if let Some(id) = &key.owner_id
            && !owners.contains_key(id)
            && let Some(name) = owner_name(portal, key).await?
        {
            owners.insert(id.clone(), name);
        }
    }
    let organizations = accounts::organizations_visible(portal.records(), &viewer.caller()).await?;
    let organizations = organizations.into_iter().map(|o| (o.id, o.name)).collect();
    let names = pages::KeyNames { owners: &owners, organizations: &organizations };
    let now = portal.now().as_unix();
    Ok(html(status, pages::api_keys(&viewer.chrome(), &keys, &names, now, error, secret, done)))
}

#[derive(serde::Deserialize)]
pub(super) struct KeysQuery {
    done: Option<String>,
}

pub(super) async fn api_keys(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    Query(query): Query<KeysQuery>,
) -> Result<Response, UiError> {
    let done = query.done.is_some().then_some("The key is revoked; whatever used it is refused.");
    api_keys_page(&portal, &viewer, StatusCode::OK, None, None, done).await
}

#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct KeyForm {
    pub(super) label: String,
    pub(super) read: Option<String>,
    pub(super) write: Option<String>,
    pub(super) revoke: Option<String>,
}

pub(super) async fn create_api_key(
    State(portal): State<Arc<Portal>>,
    Posted { viewer, form }: Posted<KeyForm>,
) -> Result<Response, UiError> {
    use crate::domain::apikeys::{CreateError, Owner, Scope};
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
        portal.records(),
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
            api_keys_page(&portal, &viewer, StatusCode::OK, None, Some(key.expose()), None).await
        }
        Err(e @ (CreateError::NoScope | CreateError::NotForOrganizations | CreateError::Label)) => {
            let error = capitalized(&e.to_string());
            api_keys_page(&portal, &viewer, StatusCode::BAD_REQUEST, Some(&error), None, None).await
        }
        Err(e) => {
            tracing::error!(error = %e, "making an API key");
            Err(UiError::Internal)
        }
    }
}

/// Asks before a key is revoked.
pub(super) async fn confirm_revoke_api_key(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let key = visible_key(&portal, &viewer, &id).await?;
    if key.revoked_at.is_some() {
        return Err(UiError::Conflict("This key is revoked already.".to_owned()));
    }
    let owner = owner_name(&portal, &key).await?;
    Ok(html(StatusCode::OK, pages::confirm_revoke_key(&viewer.chrome(), &key, owner.as_deref())))
}

pub(super) async fn revoke_api_key(
    State(portal): State<Arc<Portal>>,
    Path(id): Path<String>,
    Posted { viewer, .. }: Posted<Button>,
) -> Result<Response, UiError> {
    visible_key(&portal, &viewer, &id).await?;
    if apikeys::revoke(portal.records(), &viewer.actor(), &id, portal.now()).await? {
        tracing::info!(key = %id, by = %viewer.user.id, "API key revoked");
    }
    Ok(Redirect::to("/ui/api-keys?done=revoked").into_response())
}
