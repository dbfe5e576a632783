//! Admin API keys: `tsk_<id>_<secret>`. The portal stores the id and the SHA-256 of the
//! secret, never the secret; it compares in constant time; keys have scopes and an optional
//! expiry, and any number can be valid at once, so rotation needs no downtime.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tessera_core::UnixTime;
use tessera_core::keys::{RandomError, fill_random};

use crate::domain::accounts::Role;
use crate::domain::audit::{self, Actor};
use crate::domain::authorization::{self, Caller, Operation, Resource};
pub use crate::store::ApiKeyRow;
use crate::store::{Store, StoreError, UserRow};

/// What an API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// List and show licenses, export usage.
    Read,
    /// Register licenses, suspend, reinstate, reset bindings.
    Write,
    /// Revoke licenses (final).
    Revoke,
}

impl Scope {
    /// The scope's word.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Revoke => "revoke",
        }
    }
}

/// A scope word that is not one of the scopes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope {0:?} (read, write, revoke)")]
pub struct UnknownScope(pub String);

impl FromStr for Scope {
    type Err = UnknownScope;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "read" => Ok(Scope::Read),
            "write" => Ok(Scope::Write),
            "revoke" => Ok(Scope::Revoke),
            other => Err(UnknownScope(other.to_owned())),
        }
    }
}

/// A set of scopes, stored as `read,write`.
pub fn parse_scopes(text: &str) -> Result<BTreeSet<Scope>, UnknownScope> {
    text.split(',').filter(|s| !s.trim().is_empty()).map(str::parse).collect()
}

fn scopes_text(scopes: &BTreeSet<Scope>) -> String {
    scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")
}

/// A freshly made key. Its secret is shown once; `Debug` hides it.
pub struct NewApiKey {
    /// The stored row.
    pub row: ApiKeyRow,
    secret_text: String,
}

impl NewApiKey {
    /// The whole key, to show to the operator once.
    pub fn expose(&self) -> &str {
        &self.secret_text
    }
}

impl fmt::Debug for NewApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NewApiKey({})", self.row.id)
    }
}

fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Whose a new key is.
#[derive(Debug, Clone, Default)]
pub struct Owner {
    /// The person making it on the web pages.
    pub user_id: Option<String>,
    /// The organization it is limited to (an org-admin's keys); none: the vendor's.
    pub org_id: Option<String>,
}

/// Makes and stores a new key (the vendor's, made on the command line).
pub async fn create(
    store: &Store,
    scopes: &BTreeSet<Scope>,
    label: &str,
    expires_at: Option<UnixTime>,
    now: UnixTime,
) -> Result<NewApiKey, CreateError> {
    create_owned(store, scopes, label, expires_at, Owner::default(), now).await
}

/// Makes and stores a new key for `owner`. An organization's key may not have the revoke
/// scope (revoking is the vendor's).
pub async fn create_owned(
    store: &Store,
    scopes: &BTreeSet<Scope>,
    label: &str,
    expires_at: Option<UnixTime>,
    owner: Owner,
    now: UnixTime,
) -> Result<NewApiKey, CreateError> {
    if owner.org_id.is_some() && scopes.contains(&Scope::Revoke) {
        return Err(CreateError::NotForOrganizations);
    }
    if label.chars().count() > 200 || label.chars().any(char::is_control) {
        return Err(CreateError::Label);
    }
    if scopes.is_empty() {
        return Err(CreateError::NoScope);
    }
    let mut random = [0u8; 8 + 32];
    fill_random(&mut random)?;
    let id = hex::encode(&random[..8]);
    let secret = URL_SAFE_NO_PAD.encode(&random[8..]);
    let row = ApiKeyRow {
        id: id.clone(),
        secret_sha256: digest(&secret),
        scopes: scopes_text(scopes),
        label: label.to_owned(),
        created_at: now.as_unix(),
        expires_at: expires_at.map(UnixTime::as_unix),
        revoked_at: None,
        last_used_at: None,
        owner_id: owner.user_id,
        org_id: owner.org_id,
    };
    store.insert_api_key(&row).await?;
    let actor = match &row.owner_id {
        Some(person) => Actor::Person(person.clone()),
        None => Actor::CommandLine,
    };
    audit::record(store, &actor, "api_key.created", &row.id, row.org_id.as_deref(), now).await?;
    Ok(NewApiKey { row, secret_text: format!("tsk_{id}_{secret}") })
}

/// Revokes a key; false when there is no such key or it was revoked already.
pub async fn revoke(
    store: &Store,
    actor: &Actor,
    id: &str,
    now: UnixTime,
) -> Result<bool, StoreError> {
    let org = store.api_key(id).await?.and_then(|k| k.org_id);
    let revoked = store.revoke_api_key(id, now).await?;
    if revoked {
        audit::record(store, actor, "api_key.revoked", id, org.as_deref(), now).await?;
    }
    Ok(revoked)
}

/// Why a key could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CreateError {
    /// No scope given.
    #[error("give at least one scope (read, write, revoke)")]
    NoScope,
    /// The revoke scope asked for an organization's key.
    #[error("an organization's key cannot have the revoke scope")]
    NotForOrganizations,
    /// The label is too long or has control characters.
    #[error("the label has at most 200 characters, without control characters")]
    Label,
    /// The OS random generator failed.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A presented key, split; the secret is only hashed.
pub struct Presented<'a> {
    /// The key's id.
    pub id: &'a str,
    secret: &'a str,
}

/// Splits `tsk_<16 hex>_<43 base64url>`; None when it is not that shape.
pub fn split(text: &str) -> Option<Presented<'_>> {
    let rest = text.strip_prefix("tsk_")?;
    let (id, secret) = rest.split_once('_')?;
    let id_ok =
        id.len() == 16 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let secret_ok = secret.len() == 43
        && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (id_ok && secret_ok).then_some(Presented { id, secret })
}

/// Why a presented key is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// No key with this id, or the secret does not match.
    Unknown,
    /// The key was revoked.
    Revoked,
    /// The key has expired.
    Expired,
    /// Its owner no longer holds the rights it was made with (erased, demoted, moved).
    OwnerLostRights,
}

/// Whether a key is within its owner's rights today: a key acts for its owner, so it may
/// never do more than they now may. A super-admin's keys stay; an org-admin's only for
/// their own organization; a key whose owner is gone fits nobody. Keys made on the command
/// line (no owner) are the vendor's.
pub fn within_owner_rights(key: &ApiKeyRow, owner: Option<&UserRow>) -> bool {
    if key.owner_id.is_none() {
        return true;
    }
    let Some(owner) = owner.filter(|o| Some(&o.id) == key.owner_id.as_ref()) else {
        return false;
    };
    match owner.role.parse::<Role>() {
        Ok(Role::SuperAdmin) => true,
        Ok(Role::OrgAdmin) => key.org_id.is_some() && key.org_id == owner.org_id,
        Err(_) => false,
    }
}

/// Revokes the keys of `owner` (as they are now) that are beyond their rights, after a
/// change of role or organization; each revocation is in the audit ledger, where the owner
/// and the vendor see it. Returns how many.
pub async fn revoke_beyond_rights(
    store: &Store,
    owner: &UserRow,
    now: UnixTime,
) -> Result<usize, StoreError> {
    let mut revoked = 0;
    for key in store.api_keys_owned_by(&owner.id).await? {
        let beyond = key.revoked_at.is_none() && !within_owner_rights(&key, Some(owner));
        if beyond && store.revoke_api_key(&key.id, now).await? {
            let what = format!("{} owner-rights-changed", key.id);
            let org = key.org_id.as_deref();
            audit::record(store, &Actor::Portal, "api_key.revoked", &what, org, now).await?;
            revoked += 1;
        }
    }
    Ok(revoked)
}

/// A key that was accepted: what it may do, and the organization it is limited to.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// What the key may do.
    pub scopes: BTreeSet<Scope>,
    /// The organization the key is limited to, if any.
    pub org_id: Option<String>,
}

/// How often a key's last use is written: at most once a minute.
pub const KEY_USE_SECS: i64 = 60;

/// Checks a presented key against the store at `now` (and notes its use).
pub async fn authenticate(
    store: &Store,
    presented: &Presented<'_>,
    now: UnixTime,
) -> Result<Result<Accepted, Refusal>, StoreError> {
    let Some(row) = store.api_key(presented.id).await? else {
        return Ok(Err(Refusal::Unknown));
    };
    let matches: bool =
        digest(presented.secret).as_bytes().ct_eq(row.secret_sha256.as_bytes()).into();
    if !matches {
        return Ok(Err(Refusal::Unknown));
    }
    if row.revoked_at.is_some() {
        return Ok(Err(Refusal::Revoked));
    }
    if row.expires_at.is_some_and(|t| now.as_unix() > t) {
        return Ok(Err(Refusal::Expired));
    }
    // Checked at each use as well as revoked at a role change: a change made any other way
    // (a restore, an edit of the database) still cannot lend a key rights its owner lost.
    if let Some(owner_id) = &row.owner_id {
        let owner = store.user(owner_id).await?;
        if !within_owner_rights(&row, owner.as_ref()) {
            return Ok(Err(Refusal::OwnerLostRights));
        }
    }
    // At most one write a minute per key, not one per call (the hub's pings use no API key).
    if row.last_used_at.is_none_or(|t| now.as_unix() - t >= KEY_USE_SECS) {
        store.note_api_key_use(&row.id, now.as_unix()).await?;
    }
    Ok(parse_scopes(&row.scopes)
        .map(|scopes| Accepted { scopes, org_id: row.org_id })
        .map_err(|_| Refusal::Unknown))
}

/// The keys `caller` may see and revoke: the vendor every one, an organization's person
/// their organization's.
pub async fn visible(store: &Store, caller: &Caller<'_>) -> Result<Vec<ApiKeyRow>, StoreError> {
    let keys = match caller.sees_only() {
        None => store.list_api_keys().await?,
        Some(org) => store.api_keys_of(&org).await?,
    };
    Ok(keys.into_iter().filter(|k| may_manage(caller, k)).collect())
}

/// A key by id, if `caller` may see and revoke it (else `None`, as if absent).
pub async fn visible_key(
    store: &Store,
    caller: &Caller<'_>,
    id: &str,
) -> Result<Option<ApiKeyRow>, StoreError> {
    Ok(store.api_key(id).await?.filter(|k| may_manage(caller, k)))
}

fn may_manage(caller: &Caller<'_>, key: &ApiKeyRow) -> bool {
    authorization::may(
        caller,
        Operation::ManageApiKey,
        Resource::OwnedBy(Some(key.org_id.as_deref())),
    )
    .is_ok()
}

/// Every key, revoked and expired ones too (the operator's list).
pub async fn all(store: &Store) -> Result<Vec<ApiKeyRow>, StoreError> {
    store.list_api_keys().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_shaped_keys_split() {
        let good = format!("tsk_0123456789abcdef_{}", "A".repeat(43));
        assert_eq!(split(&good).map(|p| p.id), Some("0123456789abcdef"));
        assert!(split("tsk_0123_abc").is_none());
        assert!(split(&good.replace("tsk_", "tpk_")).is_none());
        assert!(split(&format!("{good}x")).is_none());
    }

    fn key(owner: Option<&str>, org: Option<&str>) -> ApiKeyRow {
        ApiKeyRow {
            id: "k".into(),
            secret_sha256: String::new(),
            scopes: "read".into(),
            label: String::new(),
            created_at: 0,
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
            owner_id: owner.map(str::to_owned),
            org_id: org.map(str::to_owned),
        }
    }

    fn person(id: &str, role: Role, org: Option<&str>) -> UserRow {
        UserRow {
            id: id.into(),
            email: String::new(),
            name: String::new(),
            role: role.as_str().into(),
            org_id: org.map(str::to_owned),
            password_hash: String::new(),
            failed_signins: 0,
            next_signin_at: 0,
            created_at: 0,
            credentials_changed_at: 0,
            totp_secret: None,
            totp_last_step: None,
            last_signin_at: None,
        }
    }

    #[test]
    fn a_key_never_outlives_its_owners_rights() {
        use Role::{OrgAdmin, SuperAdmin};
        let cases = [
            // (key's owner, key's org, owner now, fits)
            (None, None, None, true), // the vendor's
            (Some("u"), None, Some(person("u", SuperAdmin, None)), true),
            (Some("u"), None, Some(person("u", OrgAdmin, Some("a"))), false), // demoted
            (Some("u"), Some("a"), Some(person("u", OrgAdmin, Some("a"))), true),
            (Some("u"), Some("a"), Some(person("u", OrgAdmin, Some("b"))), false), // moved
            (Some("u"), Some("a"), Some(person("u", SuperAdmin, None)), true),     // promoted
            (Some("u"), Some("a"), None, false),                                   // erased
            (Some("u"), Some("a"), Some(person("v", OrgAdmin, Some("a"))), false), // not theirs
        ];
        for (owner, org, now, fits) in cases {
            assert_eq!(
                within_owner_rights(&key(owner, org), now.as_ref()),
                fits,
                "{owner:?} {org:?} {now:?}"
            );
        }
        let mut strange = person("u", SuperAdmin, None);
        strange.role = "auditor".into();
        assert!(!within_owner_rights(&key(Some("u"), None), Some(&strange)));
    }

    #[test]
    fn scopes_parse_and_print() {
        let scopes = parse_scopes("write,read").expect("scopes");
        assert_eq!(scopes_text(&scopes), "read,write");
        assert!(parse_scopes("read,admin").is_err());
    }
}
