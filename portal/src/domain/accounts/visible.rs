//! What a caller may see of people, organizations and invitations: the lists and names the
//! pages and the API show, each limited to the caller's organization where they have one.

use super::*;

/// The most people, organizations or invitations a page lists.
const LIST_MOST: i64 = 1000;
const INVITATIONS_MOST: i64 = 200;

/// The organizations `caller` sees: every one for the vendor, else their own.
pub async fn organizations_visible(
    store: &Store,
    caller: &Caller<'_>,
) -> Result<Vec<OrganizationRow>, StoreError> {
    match caller.sees_only() {
        None => store.organizations("", LIST_MOST).await,
        Some(org) => Ok(store.organization(&org).await?.into_iter().collect()),
    }
}

/// Every organization with its number of licenses (for whoever may manage organizations).
pub async fn organizations_counted(
    store: &Store,
) -> Result<Vec<(OrganizationRow, i64)>, StoreError> {
    store.organization_records("", LIST_MOST).await
}

/// Every organization, to choose from (a role change, a license's assignment).
pub async fn organizations_to_choose(store: &Store) -> Result<Vec<OrganizationRow>, StoreError> {
    store.organizations("", LIST_MOST).await
}

/// The people `caller` sees: everyone for the vendor, else their organization's.
pub async fn people_visible(
    store: &Store,
    caller: &Caller<'_>,
) -> Result<Vec<UserRow>, StoreError> {
    store.users(caller.sees_only().as_deref(), "", LIST_MOST).await
}

/// The pending invitations `caller` sees, as [`people_visible`].
pub async fn invitations_visible(
    store: &Store,
    caller: &Caller<'_>,
) -> Result<Vec<InvitationRow>, StoreError> {
    store.invitations(caller.sees_only().as_deref(), INVITATIONS_MOST).await
}

/// A person by id, if `caller` may do `operation` to them (else `None`, as if absent).
pub async fn person_for(
    store: &Store,
    caller: &Caller<'_>,
    operation: Operation,
    id: &str,
) -> Result<Option<UserRow>, StoreError> {
    let person = store.user(id).await?;
    Ok(person.filter(|p| authorization::may(caller, operation, person_facts(p)).is_ok()))
}

/// A person by id, for whoever has checked already that the caller may see them.
pub async fn person(store: &Store, id: &str) -> Result<Option<UserRow>, StoreError> {
    store.user(id).await
}

/// Whether someone has an account under this address.
pub async fn has_account(store: &Store, email: &str) -> Result<bool, StoreError> {
    Ok(store.user_by_email(email).await?.is_some())
}

/// An organization by id.
pub async fn organization(store: &Store, id: &str) -> Result<Option<OrganizationRow>, StoreError> {
    store.organization(id).await
}

/// The people of an organization.
pub async fn people_of(store: &Store, org_id: &str) -> Result<Vec<UserRow>, StoreError> {
    store.users_of(org_id).await
}

/// A pending invitation by the SHA-256 of its token, in hex, if `caller` may manage it
/// (else `None`, as if absent; text that is no such hash is absent too).
pub async fn invitation_for(
    store: &Store,
    caller: &Caller<'_>,
    token_sha256: &str,
) -> Result<Option<InvitationRow>, StoreError> {
    let valid = token_sha256.len() == 64 && token_sha256.bytes().all(|b| b.is_ascii_hexdigit());
    if !valid {
        return Ok(None);
    }
    let invitation = store.invitation(token_sha256).await?;
    Ok(invitation.filter(|i| {
        let owner = Resource::OwnedBy(Some(i.org_id.as_deref()));
        authorization::may(caller, Operation::ManageInvitation, owner).is_ok()
    }))
}

/// How many unused recovery codes a person has left.
pub async fn recovery_codes_left(store: &Store, user: &UserRow) -> Result<i64, StoreError> {
    store.recovery_codes_left(&user.id).await
}

/// A person by email address (normalized first), if someone has an account under it.
pub async fn person_by_email(store: &Store, email: &str) -> Result<Option<UserRow>, AccountError> {
    Ok(store.user_by_email(&normalize_email(email)?).await?)
}
