//! A person's rights over their data: erasure, and the exports of a person and of an
//! organization.

use super::*;

/// Erases a person: their account and everything that names them go, and on SQLite the
/// files are rid of the deleted pages (see [`Store::forget_deleted`]). By someone who
/// [`may_manage`] them, or by themself with their password (not the last super-admin).
pub async fn erase(
    store: &Store,
    actor: &UserRow,
    target: &UserRow,
    password: Option<&Password>,
    now: UnixTime,
) -> Result<(), AccountError> {
    let by_self = actor.id == target.id;
    if by_self {
        let Some(password) = password else {
            return Err(AccountError::Invalid("the password is wrong".to_owned()));
        };
        super::signin::confirm_own_password(store, target, password, "the password is wrong", now)
            .await?;
    } else if !may_manage(actor, target) {
        return Err(AccountError::NoSuchUser);
    }
    if !store.delete_user(&target.id, now.as_unix()).await? {
        return Err(AccountError::Invalid(
            "the portal must keep at least one super-admin".to_owned(),
        ));
    }
    // Their keys were revoked with the account; their pending invitations go too.
    cancel_invitations_beyond_rights(store, &target.id, now).await?;
    store.forget_deleted().await?;
    // The ledger keeps the pseudonymous id alone: nothing that names the person.
    audit::record(
        store,
        &Actor::Person(actor.id.clone()),
        "user.erased",
        &target.id,
        target.org_id.as_deref(),
        now,
    )
    .await?;
    Ok(())
}

/// An organization's licenses, their bindings and monthly validations, for its people to
/// download (the web pages and the API alike).
pub async fn export_organization(
    store: &Store,
    org_id: &str,
    now: UnixTime,
) -> Result<serde_json::Value, AccountError> {
    let scope = crate::store::LicenseFilter {
        organization: Some(org_id.to_owned()),
        ..crate::store::LicenseFilter::default()
    };
    let mut licenses = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.license_page(&scope, after.as_deref(), 1000, now).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.license.id.clone());
        for summary in page {
            let id = summary.license.id.clone();
            let activation = store.activation(&id).await?;
            let usage = store.monthly_usage(&id).await?;
            licenses.push(serde_json::json!({
                "id": id,
                "org": summary.license.org,
                "product": summary.license.product,
                "runners": summary.license.runners,
                "not_before": summary.license.not_before,
                "expires_at": summary.license.expires_at,
                "terminates_at": summary.license.terminates_at,
                "standing": crate::domain::standing::license_status(&summary.license, now).as_str(),
                "activation": activation.map(|a| serde_json::json!({
                    "activated_at": a.activated_at,
                    "last_validation_at": a.last_ping_at,
                    "rebinds": a.rebinds,
                    "repairs": a.repairs,
                })),
                "monthly_validations": usage
                    .iter()
                    .map(|m| serde_json::json!({ "month": m.month, "validations": m.pings }))
                    .collect::<Vec<_>>(),
            }));
        }
    }
    Ok(serde_json::json!({ "organization": org_id, "licenses": licenses }))
}

/// Everything the portal holds about a person, for them to download.
pub async fn export_person(
    store: &Store,
    user: &UserRow,
) -> Result<serde_json::Value, AccountError> {
    let organization = match &user.org_id {
        Some(id) => store.organization(id).await?,
        None => None,
    };
    let (failed_codes, _) = store.code_failures(&user.id).await?.unwrap_or_default();
    let sessions: Vec<serde_json::Value> = store
        .sessions_of(&user.id)
        .await?
        .iter()
        .map(|s| serde_json::json!({ "began_at": s.created_at, "last_used_at": s.last_seen_at }))
        .collect();
    let keys: Vec<serde_json::Value> = store
        .list_api_keys()
        .await?
        .into_iter()
        .filter(|k| k.owner_id.as_deref() == Some(user.id.as_str()))
        .map(|k| {
            serde_json::json!({
                "id": k.id, "label": k.label, "scopes": k.scopes, "created_at": k.created_at,
                "expires_at": k.expires_at, "revoked_at": k.revoked_at,
            })
        })
        .collect();
    // The ledger entries they made, and those about them (a role changed, a sign-in
    // delayed), oldest first.
    let made = ledger_entries(store, Some(&user.id), None).await?;
    let about = ledger_entries(store, None, Some(&user.id)).await?;
    let invitations: Vec<serde_json::Value> = store
        .invitations_by(&user.id)
        .await?
        .iter()
        .map(|i| {
            serde_json::json!({
                "email": i.email, "role": i.role, "organization_id": i.org_id,
                "created_at": i.created_at, "expires_at": i.expires_at,
            })
        })
        .collect();
    let recovery_codes_left = store.recovery_codes_left(&user.id).await?;
    Ok(serde_json::json!({
        "ledger_entries_as_actor": made,
        "ledger_entries_about_them": about,
        "invitations_sent": invitations,
        "profile": {
            "id": user.id,
            "email": user.email,
            "name": user.name,
            "role": user.role,
            "organization": organization.map(|o| serde_json::json!({ "id": o.id, "name": o.name })),
            "created_at": user.created_at,
            "password_changed_at": user.credentials_changed_at,
            "two_step_sign_in": user.totp_secret.is_some(),
            "failed_sign_ins_in_a_row": user.failed_signins,
            "failed_codes_in_a_row": failed_codes,
            "last_signed_in_at": user.last_signin_at,
            "recovery_codes_left": recovery_codes_left,
        },
        "sessions": sessions,
        "api_keys": keys,
        "note": "Passwords, second-factor secrets and recovery codes are kept only as hashes or for checking codes, and are not exported. See docs/PRIVACY.md.",
    }))
}

/// The ledger entries made by `actor` or naming `target`, oldest first, read a thousand at a
/// time.
async fn ledger_entries(
    store: &Store,
    actor: Option<&str>,
    target: Option<&str>,
) -> Result<Vec<tessera_core::ledger::Entry>, AccountError> {
    let mut entries = Vec::new();
    let mut before = None;
    loop {
        let query =
            crate::domain::LedgerQuery { actor, target, before, limit: 1000, ..Default::default() };
        let page = store.ledger_page(&query).await?;
        let Some(last) = page.last() else { break };
        before = Some(last.entry.seq as i64);
        entries.extend(page.into_iter().map(|e| e.entry));
    }
    entries.reverse();
    Ok(entries)
}
