//! Making organizations and people, and changing a person's role or email.

use super::*;

/// Makes an organization from the command line (see [`create_organization_by`]).
pub async fn create_organization(
    store: &Store,
    name: &str,
    now: UnixTime,
) -> Result<OrganizationRow, AccountError> {
    create_organization_by(store, &Actor::CommandLine, name, now).await
}

/// Makes an organization; unassigned licenses whose `org` claim is its name become its own.
pub async fn create_organization_by(
    store: &Store,
    actor: &Actor,
    name: &str,
    now: UnixTime,
) -> Result<OrganizationRow, AccountError> {
    let org = OrganizationRow {
        id: random_id()?,
        name: normalize_name("organization name", name)?,
        created_at: now.as_unix(),
    };
    if store.insert_organization(&org).await? {
        audit::record(store, actor, "organization.created", &org.id, Some(&org.id), now).await?;
        Ok(org)
    } else {
        Err(AccountError::OrganizationTaken)
    }
}

/// Who a new person is.
#[derive(Debug)]
pub struct NewUser<'a> {
    /// The person's email.
    pub email: &'a str,
    /// The person's name.
    pub name: &'a str,
    /// The person's role.
    pub role: Role,
    /// The organization's id; required for an org-admin, refused for a super-admin.
    pub org_id: Option<&'a str>,
    /// The person's first password.
    pub password: &'a Password,
}

/// The row of a new account: a fresh pseudonymous id, the password's hash, nothing else yet.
pub(super) fn fresh_user(
    email: String,
    name: String,
    role: &str,
    org_id: Option<String>,
    password: &Password,
    now: UnixTime,
) -> Result<UserRow, AccountError> {
    Ok(UserRow {
        id: random_id()?,
        email,
        name,
        role: role.to_owned(),
        org_id,
        password_hash: hash_password(password)?,
        failed_signins: 0,
        next_signin_at: 0,
        created_at: now.as_unix(),
        credentials_changed_at: now.as_unix(),
        totp_secret: None,
        totp_last_step: None,
        last_signin_at: None,
    })
}

/// Makes a person's account.
pub async fn create_user(
    store: &Store,
    new: &NewUser<'_>,
    now: UnixTime,
) -> Result<UserRow, AccountError> {
    let email = normalize_email(new.email)?;
    let name = normalize_name("name", new.name)?;
    let org_id = match (new.role, new.org_id) {
        (Role::SuperAdmin, None) => None,
        (Role::SuperAdmin, Some(_)) => {
            return Err(AccountError::Invalid(
                "a super-admin belongs to the vendor, not to an organization".to_owned(),
            ));
        }
        (Role::OrgAdmin, None) => {
            return Err(AccountError::Invalid("an org-admin needs an organization".to_owned()));
        }
        (Role::OrgAdmin, Some(id)) => {
            store.organization(id).await?.ok_or(AccountError::NoSuchOrganization)?;
            Some(id.to_owned())
        }
    };
    let org_name = organization_name(store, org_id.as_deref()).await?;
    check_new_password_async(new.password, &email, &[&name, &org_name]).await?;
    let user = fresh_user(email, name, new.role.as_str(), org_id, new.password, now)?;
    if !store.insert_user(&user).await? {
        return Err(AccountError::EmailTaken);
    }
    audit::record(
        store,
        &Actor::CommandLine,
        "user.created",
        &user.id,
        user.org_id.as_deref(),
        now,
    )
    .await?;
    Ok(user)
}

/// The name of a person's organization, for [`check_new_password`] (empty for none).
pub(super) async fn organization_name(
    store: &Store,
    org_id: Option<&str>,
) -> Result<String, AccountError> {
    Ok(match org_id {
        Some(id) => store.organization(id).await?.map(|org| org.name).unwrap_or_default(),
        None => String::new(),
    })
}

/// Changes `target`'s role (and organization, for an org-admin); only a super-admin may.
/// Every session of theirs ends.
pub async fn change_role(
    store: &Store,
    actor: &UserRow,
    target: &UserRow,
    role: Role,
    org_id: Option<&str>,
    now: UnixTime,
) -> Result<(), AccountError> {
    let Ok(actor_role) = actor.role.parse::<Role>() else {
        return Err(AccountError::NoSuchUser);
    };
    let caller = Caller::Person { id: &actor.id, role: actor_role, org: actor.org_id.as_deref() };
    if authorization::may(&caller, Operation::ChangeRole, person_facts(target)).is_err() {
        return Err(AccountError::NoSuchUser);
    }
    let org_id = match (role, org_id) {
        (Role::SuperAdmin, _) => None,
        (Role::OrgAdmin, None) => {
            return Err(AccountError::Invalid("an org-admin needs an organization".to_owned()));
        }
        (Role::OrgAdmin, Some(id)) => {
            store.organization(id).await?.ok_or(AccountError::NoSuchOrganization)?;
            Some(id)
        }
    };
    if store.set_role(&target.id, role.as_str(), org_id).await? {
        let what = format!("{} {}", target.id, role.as_str());
        let org = org_id.or(target.org_id.as_deref());
        audit::record(
            store,
            &Actor::Person(actor.id.clone()),
            "user.role_changed",
            &what,
            org,
            now,
        )
        .await?;
        // What they made under their old rights does not outlive them.
        if let Some(changed) = store.user(&target.id).await? {
            apikeys::revoke_beyond_rights(store, &changed, now).await?;
        }
        cancel_invitations_beyond_rights(store, &target.id, now).await?;
        Ok(())
    } else {
        Err(AccountError::Invalid("the portal must keep at least one super-admin".to_owned()))
    }
}

/// How long an email-change link works: a day.
pub const EMAIL_CHANGE_SECS: i64 = 86_400;

/// Starts changing a person's email: the new address is taken only once the link sent to it
/// is opened (answered here, to email or show).
pub async fn request_email_change(
    store: &Store,
    user: &UserRow,
    new_email: &str,
    now: UnixTime,
) -> Result<(String, EmailChangeAsked), AccountError> {
    let email = normalize_email(new_email)?;
    if email == user.email {
        return Err(AccountError::Invalid("that is your email already".to_owned()));
    }
    // The answer is the same for an address that has an account: a person learns nothing
    // of accounts beyond their own. The link's token is made either way; only a free
    // address's is stored.
    let mut random = [0u8; 32];
    fill_random(&mut random)?;
    let token = InvitationToken(URL_SAFE_NO_PAD.encode(random));
    if store.user_by_email(&email).await?.is_some() {
        return Ok((email, EmailChangeAsked::Taken(token)));
    }
    let expires = now.as_unix() + EMAIL_CHANGE_SECS;
    store.insert_email_change(&token_digest(token.expose()), &user.id, &email, expires).await?;
    Ok((email, EmailChangeAsked::Link(token)))
}

/// What an email change asked for: a link to confirm the new address, or (answered alike)
/// nothing, the address having an account already.
#[derive(Debug)]
pub enum EmailChangeAsked {
    /// The confirmation link's token, to send to the new address.
    Link(InvitationToken),
    /// The address has an account: its owner is told, no link works (the token is not
    /// stored; it stands in for one where the page shows the link).
    Taken(InvitationToken),
}

/// Confirms an email change by its link's token: the person's new email.
pub async fn confirm_email_change(
    store: &Store,
    token: &str,
    now: UnixTime,
) -> Result<String, AccountError> {
    let gone = || AccountError::Invalid("this link has expired or was used".to_owned());
    if token.len() != 43 {
        return Err(gone());
    }
    let (user_id, email, expires) =
        store.take_email_change(&token_digest(token)).await?.ok_or_else(gone)?;
    if now.as_unix() > expires {
        return Err(gone());
    }
    if !store.set_email(&user_id, &email).await? {
        return Err(AccountError::EmailTaken);
    }
    audit::record(
        store,
        &Actor::Person(user_id.clone()),
        "user.email_changed",
        &user_id,
        None,
        now,
    )
    .await?;
    Ok(email)
}

/// Renames a person (their own change, recorded in the ledger).
pub async fn change_name(
    store: &Store,
    user: &UserRow,
    name: &str,
    now: UnixTime,
) -> Result<(), AccountError> {
    let name = normalize_name("name", name)?;
    store.set_name(&user.id, &name).await?;
    let actor = Actor::Person(user.id.clone());
    audit::record(store, &actor, "user.name_changed", &user.id, user.org_id.as_deref(), now)
        .await?;
    Ok(())
}
