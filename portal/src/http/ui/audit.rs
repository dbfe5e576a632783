//! The audit ledger's page.

use super::*;

// --- the audit ledger -------------------------------------------------------------------------

#[derive(Debug, Default, serde::Deserialize)]
pub struct AuditForm {
    #[serde(default)]
    pub license: String,
    #[serde(default)]
    pub org: String,
    #[serde(default)]
    pub actor: String,
    #[serde(default)]
    pub before: Option<i64>,
}

/// Ledger entries newest first: a super-admin's all (filtered by license, organization,
/// actor), an org-admin's those about their organization.
pub(super) async fn audit(
    viewer: Viewer,
    State(portal): State<Arc<Portal>>,
    query: Result<Query<AuditForm>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, UiError> {
    let Query(form) = query.map_err(|_| UiError::NotFound)?;
    let given = |v: &str| {
        let v = v.trim();
        (!v.is_empty() && v.len() <= 100 && !v.chars().any(char::is_control)).then(|| v.to_owned())
    };
    let org = match viewer.role {
        Role::SuperAdmin => given(&form.org),
        Role::OrgAdmin => Some(viewer.user.org_id.clone().unwrap_or_default()),
    };
    let (license, actor) = (given(&form.license), given(&form.actor));
    let page = portal
        .store
        .ledger_page(org.as_deref(), actor.as_deref(), license.as_deref(), form.before, 51)
        .await?;
    let more = page.len() > 50;
    let entries: Vec<_> = page.into_iter().take(50).collect();
    let next = if more { entries.last().map(|e| e.entry.seq as i64) } else { None };
    let organizations = match viewer.role {
        Role::SuperAdmin => portal.store.organizations("", 1000).await?,
        Role::OrgAdmin => Vec::new(),
    };
    // People are shown by name while they have an account; the ledger itself keeps ids.
    let mut names = std::collections::BTreeMap::new();
    for entry in &entries {
        if !names.contains_key(&entry.entry.actor)
            && let Some(user) = portal.store.user(&entry.entry.actor).await?
        {
            names.insert(entry.entry.actor.clone(), user.name);
        }
    }
    let view = pages::AuditPage {
        entries: &entries,
        names: &names,
        organizations: &organizations,
        form: &form,
        next,
    };
    Ok(html(StatusCode::OK, pages::audit(&viewer.chrome(), &view)))
}
