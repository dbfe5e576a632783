//! Invitations: made by someone who may, sent as a one-time link, accepted once, and
//! cancelled when their author loses the right to make them.

use super::*;
use crate::domain::authorization::{Caller, Operation, Resource, may};

/// How long an invitation link works: 7 days.
pub const INVITATION_SECS: i64 = 7 * 86_400;

/// An invitation's one-time token, as the link holds it (`Debug` hides it).
pub struct InvitationToken(pub(super) String);

impl InvitationToken {
    /// The token's text, for the invitation link.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for InvitationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InvitationToken(…)")
    }
}

/// Invites `email` as `role` (into `org_id` for an org-admin). A super-admin may invite
/// anyone; an org-admin only more org-admins of their own organization. An address that
/// already has an account is invited alike, so that the answer does not tell the inviter
/// whether it has one (an org-admin would learn of accounts beyond their organization); its
/// link cannot make a second account, and the mail sent to it says it has one instead.
pub async fn invite(
    store: &Store,
    inviter: &UserRow,
    email: &str,
    role: Role,
    org_id: Option<&str>,
    now: UnixTime,
) -> Result<(InvitationRow, InvitationToken), AccountError> {
    let email = normalize_email(email)?;
    let org_id = may_invite(inviter, role, org_id)?;
    if let Some(org) = &org_id {
        store.organization(org).await?.ok_or(AccountError::NoSuchOrganization)?;
    }
    let mut random = [0u8; 32];
    fill_random(&mut random)?;
    let token = InvitationToken(URL_SAFE_NO_PAD.encode(random));
    let row = InvitationRow {
        token_sha256: token_digest(token.expose()),
        email,
        role: role.as_str().to_owned(),
        org_id,
        invited_by: inviter.id.clone(),
        created_at: now.as_unix(),
        expires_at: now.as_unix() + INVITATION_SECS,
    };
    store.insert_invitation(&row).await?;
    // The invitation by the first hex digits of its token's hash (never the email).
    let target = format!("invitation:{}", &row.token_sha256[..16]);
    audit::record(
        store,
        &Actor::Person(inviter.id.clone()),
        "user.invited",
        &target,
        row.org_id.as_deref(),
        now,
    )
    .await?;
    Ok((row, token))
}

/// Whether `inviter`, as they are now, may invite someone as `role` into `org_id`: a
/// super-admin anyone; an org-admin only more org-admins of their own organization. Returns
/// the organization the invitation is for. Asked when the invitation is made and again when
/// it is accepted, so an invitation dies with its author's rights.
pub fn may_invite(
    inviter: &UserRow,
    role: Role,
    org_id: Option<&str>,
) -> Result<Option<String>, AccountError> {
    let inviter_role: Role = inviter.role.parse()?;
    if role == Role::OrgAdmin && org_id.is_none() {
        return Err(AccountError::Invalid("choose the organization to invite into".to_owned()));
    }
    let caller =
        Caller::Person { id: &inviter.id, role: inviter_role, org: inviter.org_id.as_deref() };
    may(&caller, Operation::Invite(role), Resource::InvitationInto(org_id)).map_err(|_| {
        AccountError::Invalid(
            "you can invite administrators of your own organization only".to_owned(),
        )
    })?;
    Ok(match role {
        Role::SuperAdmin => None,
        Role::OrgAdmin => org_id.map(str::to_owned),
    })
}

/// Whether an invitation's author may still make it (they exist and [`may_invite`] holds).
async fn author_may_still_invite(
    store: &Store,
    invitation: &InvitationRow,
) -> Result<bool, AccountError> {
    let Some(author) = store.user(&invitation.invited_by).await? else { return Ok(false) };
    let Ok(role) = invitation.role.parse::<Role>() else { return Ok(false) };
    Ok(may_invite(&author, role, invitation.org_id.as_deref())
        .is_ok_and(|org| org == invitation.org_id))
}

/// Cancels the pending invitations `author` (as they are now) may no longer make, after a
/// change of their role or organization or their erasure; each is in the audit ledger.
pub async fn cancel_invitations_beyond_rights(
    store: &Store,
    author_id: &str,
    now: UnixTime,
) -> Result<usize, AccountError> {
    let mut cancelled = 0;
    for invitation in store.invitations_by(author_id).await? {
        if !author_may_still_invite(store, &invitation).await?
            && store.delete_invitation(&invitation.token_sha256).await?
        {
            let target = format!("invitation:{}", &invitation.token_sha256[..16]);
            let org = invitation.org_id.as_deref();
            audit::record(store, &Actor::Portal, "invitation.cancelled", &target, org, now).await?;
            cancelled += 1;
        }
    }
    Ok(cancelled)
}

/// The ledger's name of an invitation: the first hex digits of its token's hash (never the
/// email).
fn ledger_name(invitation: &InvitationRow) -> String {
    format!("invitation:{}", &invitation.token_sha256[..16])
}

/// Cancels a pending invitation by hand (`by`'s doing, in the ledger; whether they may is
/// asked of `authorization::may` before). False: it was used or cancelled already.
pub async fn cancel_invitation(
    store: &Store,
    by: &UserRow,
    invitation: &InvitationRow,
    now: UnixTime,
) -> Result<bool, AccountError> {
    if !store.delete_invitation(&invitation.token_sha256).await? {
        return Ok(false);
    }
    let (target, org) = (ledger_name(invitation), invitation.org_id.as_deref());
    let actor = Actor::Person(by.id.clone());
    audit::record(store, &actor, "invitation.cancelled", &target, org, now).await?;
    Ok(true)
}

/// Re-sends an invitation: a new link for the same address, role and organization, made by
/// `by` as they are now ([`may_invite`]); the old link dies once the new one is made.
pub async fn resend_invitation(
    store: &Store,
    by: &UserRow,
    invitation: &InvitationRow,
    now: UnixTime,
) -> Result<(InvitationRow, InvitationToken), AccountError> {
    let role: Role = invitation.role.parse()?;
    let made =
        invite(store, by, &invitation.email, role, invitation.org_id.as_deref(), now).await?;
    cancel_invitation(store, by, invitation, now).await?;
    Ok(made)
}

/// The live invitation of a link's token, if any: unknown, used and expired ones alike are
/// none.
pub async fn invitation(
    store: &Store,
    token: &str,
    now: UnixTime,
) -> Result<Option<InvitationRow>, AccountError> {
    if token.len() != 43 {
        return Ok(None);
    }
    let row = store.invitation(&token_digest(token)).await?;
    Ok(row.filter(|r| now.as_unix() <= r.expires_at))
}

/// Accepts an invitation: makes the account with the name and password given. Used once.
pub async fn accept_invitation(
    store: &Store,
    token: &str,
    name: &str,
    password: &Password,
    now: UnixTime,
) -> Result<UserRow, AccountError> {
    let invitation = invitation(store, token, now).await?.ok_or_else(|| {
        AccountError::Invalid("this invitation has expired or was used".to_owned())
    })?;
    if !author_may_still_invite(store, &invitation).await? {
        cancel_invitations_beyond_rights(store, &invitation.invited_by, now).await?;
        return Err(AccountError::Invalid(
            "this invitation was withdrawn: whoever sent it can no longer invite you".to_owned(),
        ));
    }
    let name = normalize_name("name", name)?;
    let org_name = organization_name(store, invitation.org_id.as_deref()).await?;
    check_new_password_async(password, &invitation.email, &[&name, &org_name]).await?;
    let user = fresh_user(
        invitation.email.clone(),
        name,
        &invitation.role,
        invitation.org_id.clone(),
        password,
        now,
    )?;
    if store.accept_invitation(&invitation.token_sha256, &user).await? {
        let target = format!("{} invitation:{}", user.id, &invitation.token_sha256[..16]);
        audit::record(
            store,
            &Actor::Person(user.id.clone()),
            "user.joined",
            &target,
            user.org_id.as_deref(),
            now,
        )
        .await?;
        Ok(user)
    } else {
        Err(AccountError::Invalid("this invitation has expired or was used".to_owned()))
    }
}
