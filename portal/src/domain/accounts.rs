//! People: roles, passwords, sign-in with growing delays, and sessions. Nothing here knows
//! HTTP (the web pages are in `http::ui`); every SQL statement is in `store::people`.
//!
//! - Passwords are hashed with argon2id ([`PASSWORD_COST`]) and a random salt, stored as a
//!   PHC string; a new password has at least [`MIN_PASSWORD_CHARS`] characters and is not
//!   on a bundled list of common passwords.
//! - A failed sign-in makes the next one wait ([`signin_delay`]): nothing from the 1st to
//!   the 3rd, then 1 s doubling up to 15 minutes. Wrong passwords and wrong second-factor
//!   codes are counted and delayed apart. No lock outlasts that, and a browser that
//!   has signed in as that person before (a device cookie, [`device_token`]) is not held up
//!   by a stranger's failures. No IP address is stored.
//! - Sessions: a random token in an `HttpOnly; SameSite=Strict` cookie; the store keeps its
//!   SHA-256. A session ends when idle or old ([`SessionRules`]), on sign-out, and with all
//!   of its user's sessions on a password or role change.

use std::fmt;
use std::str::FromStr;

use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tessera_core::UnixTime;
use tessera_core::keys::{RandomError, fill_random};

use crate::domain::apikeys;
use crate::domain::audit::{self, Actor};
use crate::domain::totp;
use crate::store::{InvitationRow, OrganizationRow, Store, StoreError, UserRow};

/// A person's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Role {
    /// The vendor's staff: everything.
    #[serde(rename = "super-admin")]
    SuperAdmin,
    /// A customer's administrator: their own organization only.
    #[serde(rename = "org-admin")]
    OrgAdmin,
}

impl Role {
    /// The role's word, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::SuperAdmin => "super-admin",
            Role::OrgAdmin => "org-admin",
        }
    }
}

impl FromStr for Role {
    type Err = AccountError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "super-admin" => Ok(Role::SuperAdmin),
            "org-admin" => Ok(Role::OrgAdmin),
            other => Err(AccountError::Invalid(format!(
                "unknown role {other:?} (super-admin, org-admin)"
            ))),
        }
    }
}

/// Why an account operation was refused. The messages are for the person at the keyboard.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccountError {
    /// A value that is not acceptable (an email, a name, a password).
    #[error("{0}")]
    Invalid(String),
    /// The email is taken.
    #[error("a person with this email already exists")]
    EmailTaken,
    /// The organization name is taken.
    #[error("an organization with this name already exists")]
    OrganizationTaken,
    /// No such organization.
    #[error("no such organization")]
    NoSuchOrganization,
    /// No such person.
    #[error("no such person")]
    NoSuchUser,
    /// The OS random generator failed.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest, so that hashing cannot be made expensive.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// argon2id cost of a password hash: 19 MiB, 2 passes, 1 lane (OWASP's first choice for
/// argon2id). Each stored hash names its own cost, so raising this leaves old hashes valid.
pub const PASSWORD_COST: (u32, u32, u32) = (19 * 1024, 2, 1);

const COMMON: &str = include_str!("common_passwords.txt");

/// A password a person typed: compared and hashed, never shown (`Debug` hides it).
pub struct Password(String);

impl Password {
    /// Wraps a typed password.
    pub fn new(text: impl Into<String>) -> Password {
        Password(text.into())
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(…)")
    }
}

/// The least zxcvbn score (0 to 4) a new password needs: 3 is "safely unguessable: moderate
/// protection from an offline slow-hash attack" (at least 10^8 guesses).
pub const MIN_PASSWORD_SCORE: zxcvbn::Score = zxcvbn::Score::Three;

/// Checks a new password against the rules; the error says, in one sentence, which one it
/// breaks. `email` and `personal` (the person's name, their organization's name) are the
/// person's own details: a password built on them is refused, as is one that the zxcvbn
/// strength estimator finds easy to guess (a word and a year, a keyboard row, a date).
pub fn check_new_password(
    password: &Password,
    email: &str,
    personal: &[&str],
) -> Result<(), AccountError> {
    let text = password.0.as_str();
    if text.len() > MAX_PASSWORD_BYTES {
        return Err(AccountError::Invalid(format!(
            "the password is longer than {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    if text.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AccountError::Invalid(format!(
            "the password needs at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    let lower = text.to_lowercase();
    let email = email.to_lowercase();
    let local = email.split('@').next().unwrap_or_default();
    let first = lower.chars().next().unwrap_or(' ');
    let common = COMMON.lines().any(|line| !line.starts_with('#') && line == lower)
        || lower.chars().all(|c| c == first);
    if common {
        return Err(AccountError::Invalid(
            "this password is too common (it is on a list of common passwords); choose another"
                .to_owned(),
        ));
    }
    // The person's details, whole, word by word and run together ("dana.smith", "dana",
    // "smith", "danasmith").
    let mut inputs: Vec<String> = vec![email.clone()];
    for detail in personal.iter().copied().chain([local]) {
        let detail = detail.trim().to_lowercase();
        inputs.extend(
            detail
                .split(|c: char| !c.is_alphanumeric())
                .filter(|word| word.chars().count() >= 3)
                .map(str::to_owned),
        );
        inputs.push(detail.chars().filter(|c| c.is_alphanumeric()).collect());
        inputs.push(detail);
    }
    inputs.retain(|input| input.chars().count() >= 3);
    inputs.sort();
    inputs.dedup();
    // The longest first, so that "dana.smith" goes whole before "dana" breaks it up.
    inputs.sort_by_key(|input| std::cmp::Reverse(input.len()));
    let personal_refusal = || {
        AccountError::Invalid(
            "this password is built on your email, name or organization's name; choose another"
                .to_owned(),
        )
    };
    // What is left once the person's details are taken out must be strong on its own: the
    // address and a year leaves a year.
    let mut left = lower.clone();
    for input in &inputs {
        left = left.replace(input.as_str(), "");
    }
    if left != lower && zxcvbn::zxcvbn(&left, &[]).score() < MIN_PASSWORD_SCORE {
        return Err(personal_refusal());
    }
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let estimate = zxcvbn::zxcvbn(text, &inputs);
    if estimate.score() >= MIN_PASSWORD_SCORE {
        return Ok(());
    }
    // Weak only because of the person's details: say so (zxcvbn itself has no words for it).
    if zxcvbn::zxcvbn(text, &[]).score() >= MIN_PASSWORD_SCORE {
        return Err(personal_refusal());
    }
    let why = estimate.feedback().and_then(|feedback| {
        feedback
            .warning()
            .map(|warning| warning.to_string())
            .or_else(|| feedback.suggestions().first().map(ToString::to_string))
    });
    let why = why.map(|why| why.trim_end_matches('.').to_lowercase());
    Err(AccountError::Invalid(match why {
        Some(why) => format!(
            "this password is too easy to guess ({why}); a few unrelated words make a strong one"
        ),
        None => {
            "this password is too easy to guess; a few unrelated words make a strong one".to_owned()
        }
    }))
}

/// The argon2id PHC string of a password under a fresh salt.
pub fn hash_password(password: &Password) -> Result<String, AccountError> {
    let mut salt = [0u8; 16];
    fill_random(&mut salt)?;
    let (m, t, p) = PASSWORD_COST;
    let hash = argon2id(password.0.as_bytes(), &salt, m, t, p)
        .ok_or_else(|| AccountError::Invalid("password hashing failed".to_owned()))?;
    Ok(format!(
        "$argon2id$v=19$m={m},t={t},p={p}${}${}",
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(hash)
    ))
}

fn argon2id(password: &[u8], salt: &[u8], m: u32, t: u32, p: u32) -> Option<[u8; 32]> {
    let params = Params::new(m, t, p, Some(32)).ok()?;
    let mut out = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(password, salt, &mut out)
        .ok()?;
    Some(out)
}

/// Whether `password` matches a stored PHC string (compared in constant time). A stored
/// string that does not parse, or asks for an unreasonable cost, matches nothing.
pub fn verify_password(password: &Password, stored: &str) -> bool {
    let parts: Vec<&str> = stored.split('$').collect();
    let ["", "argon2id", "v=19", params, salt, hash] = parts.as_slice() else { return false };
    let mut cost = [0u32; 3];
    for (slot, (field, name)) in cost.iter_mut().zip(params.split(',').zip(["m=", "t=", "p="])) {
        match field.strip_prefix(name).and_then(|v| v.parse().ok()) {
            Some(v) => *slot = v,
            None => return false,
        }
    }
    let [m, t, p] = cost;
    if m > 1024 * 1024 || t > 16 || p > 16 || password.0.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    let (Ok(salt), Ok(expected)) = (STANDARD_NO_PAD.decode(salt), STANDARD_NO_PAD.decode(hash))
    else {
        return false;
    };
    argon2id(password.0.as_bytes(), &salt, m, t, p)
        .is_some_and(|got| bool::from(got.as_slice().ct_eq(&expected)))
}

/// Password checks running at once, at most: each takes 19 MiB and tens of milliseconds, so
/// a flood of sign-ins (any emails) waits in line instead of taking the machine's memory.
const CHECKS_AT_ONCE: usize = 4;

/// [`verify_password`] off the async workers, a few at a time.
async fn password_matches(password: &Password, stored: &str) -> bool {
    static LINE: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(CHECKS_AT_ONCE);
    let Ok(_turn) = LINE.acquire().await else { return false };
    let (typed, stored) = (Password::new(password.0.clone()), stored.to_owned());
    tokio::task::spawn_blocking(move || verify_password(&typed, &stored)).await.unwrap_or(false)
}

/// A stored hash to check a password against when no one has the email: a sign-in for an
/// unknown email costs the same time as one for a known email.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        hash_password(&Password::new("decoy password, never anyone's")).unwrap_or_default()
    })
}

/// An email as stored: trimmed and lower-cased; refused unless it looks like one.
pub fn normalize_email(text: &str) -> Result<String, AccountError> {
    let email = text.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split('@').count() == 2
        && email.split('@').all(|part| !part.is_empty())
        && email.rsplit('@').next().is_some_and(|domain| domain.contains('.'))
        && !email.chars().any(|c| c.is_whitespace() || c.is_control() || "<>\"'".contains(c));
    if valid {
        Ok(email)
    } else {
        Err(AccountError::Invalid(format!("{:?} is not an email address", text.trim())))
    }
}

/// A person's or organization's name: trimmed, 1 to 200 characters, no control characters.
pub fn normalize_name(what: &str, text: &str) -> Result<String, AccountError> {
    let name = text.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(AccountError::Invalid(format!(
            "the {what} needs 1 to 200 characters, without control characters"
        )));
    }
    Ok(name.to_owned())
}

/// A random id: 16 bytes as 32 hex digits. A user's id is a pseudonym: nothing in it comes
/// from the person.
pub fn random_id() -> Result<String, RandomError> {
    let mut bytes = [0u8; 16];
    fill_random(&mut bytes)?;
    Ok(hex::encode(bytes))
}

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
fn fresh_user(
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
    check_new_password(new.password, &email, &[&name, &org_name])?;
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
async fn organization_name(store: &Store, org_id: Option<&str>) -> Result<String, AccountError> {
    Ok(match org_id {
        Some(id) => store.organization(id).await?.map(|org| org.name).unwrap_or_default(),
        None => String::new(),
    })
}

/// How long an invitation link works: 7 days.
pub const INVITATION_SECS: i64 = 7 * 86_400;

/// An invitation's one-time token, as the link holds it (`Debug` hides it).
pub struct InvitationToken(String);

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
    match (inviter_role, role, org_id) {
        (Role::SuperAdmin, Role::SuperAdmin, _) => Ok(None),
        (Role::SuperAdmin, Role::OrgAdmin, Some(org)) => Ok(Some(org.to_owned())),
        (_, Role::OrgAdmin, None) => {
            Err(AccountError::Invalid("choose the organization to invite into".to_owned()))
        }
        (Role::OrgAdmin, Role::OrgAdmin, Some(org)) if inviter.org_id.as_deref() == Some(org) => {
            Ok(Some(org.to_owned()))
        }
        (Role::OrgAdmin, _, _) => Err(AccountError::Invalid(
            "you can invite administrators of your own organization only".to_owned(),
        )),
    }
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
    check_new_password(password, &invitation.email, &[&name, &org_name])?;
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

/// Changes a person's password after checking the current one; ends all their sessions.
pub async fn change_password(
    store: &Store,
    user: &UserRow,
    current: &Password,
    new: &Password,
    now: UnixTime,
) -> Result<(), AccountError> {
    let good = password_matches(current, &user.password_hash).await;
    if !good {
        return Err(AccountError::Invalid("the current password is wrong".to_owned()));
    }
    let org_name = organization_name(store, user.org_id.as_deref()).await?;
    check_new_password(new, &user.email, &[&user.name, &org_name])?;
    store.set_password(&user.id, &hash_password(new)?, now.as_unix()).await?;
    let actor = Actor::Person(user.id.clone());
    audit::record(store, &actor, "user.password_changed", &user.id, user.org_id.as_deref(), now)
        .await?;
    Ok(())
}

/// How long a password-reset link works: 30 minutes.
pub const PASSWORD_RESET_SECS: i64 = 30 * 60;

/// Starts resetting a forgotten password: a one-time token whose SHA-256 alone is stored,
/// replacing any earlier link of the person. Answers the person and the token for the link,
/// or None when no one has the address (or it is not one). The caller answers the same for
/// both, and runs this off the request's path, so that neither the answer nor its time
/// tells whether an address has an account.
pub async fn request_password_reset(
    store: &Store,
    email: &str,
    now: UnixTime,
) -> Result<Option<(UserRow, InvitationToken)>, AccountError> {
    let mut random = [0u8; 32];
    fill_random(&mut random)?;
    let token = InvitationToken(URL_SAFE_NO_PAD.encode(random));
    let user = match normalize_email(email) {
        Ok(email) => store.user_by_email(&email).await?,
        Err(_) => None,
    };
    let Some(user) = user else { return Ok(None) };
    let expires = now.as_unix() + PASSWORD_RESET_SECS;
    store.insert_password_reset(&token_digest(token.expose()), &user.id, expires).await?;
    let org = user.org_id.as_deref();
    audit::record(store, &Actor::Portal, "user.password_reset_sent", &user.id, org, now).await?;
    Ok(Some((user, token)))
}

/// The person a password-reset link's token is for, while it works (unknown, used and
/// expired tokens alike are none). The token is looked up by its SHA-256: how long the
/// look-up takes tells nothing about the token's own characters.
pub async fn password_reset_user(
    store: &Store,
    token: &str,
    now: UnixTime,
) -> Result<Option<UserRow>, AccountError> {
    if token.len() != 43 {
        return Ok(None);
    }
    let Some((user_id, expires)) = store.password_reset(&token_digest(token)).await? else {
        return Ok(None);
    };
    if now.as_unix() > expires {
        return Ok(None);
    }
    Ok(store.user(&user_id).await?)
}

/// Sets a new password by a reset link's token (used once): the password rules of
/// [`check_new_password`] hold, every session of the person ends, their failed sign-ins are
/// cleared, and the ledger records it. A second factor stays on: the next sign-in asks it.
pub async fn reset_password(
    store: &Store,
    token: &str,
    new: &Password,
    now: UnixTime,
) -> Result<UserRow, AccountError> {
    let gone =
        || AccountError::Invalid("this link has expired or was used; ask for a new one".to_owned());
    let user = password_reset_user(store, token, now).await?.ok_or_else(gone)?;
    let org_name = organization_name(store, user.org_id.as_deref()).await?;
    check_new_password(new, &user.email, &[&user.name, &org_name])?;
    let hash = hash_password(new)?;
    if !store.use_password_reset(&token_digest(token), &user.id, &hash, now.as_unix()).await? {
        return Err(gone());
    }
    let actor = Actor::Person(user.id.clone());
    audit::record(store, &actor, "user.password_reset", &user.id, user.org_id.as_deref(), now)
        .await?;
    Ok(user)
}

/// Whether `actor` may manage (change or remove) `target`: a super-admin anyone but
/// themself; an org-admin the other org-admins of their own organization. (One's own role
/// is changed by someone else, so that the last super-admin cannot leave by mistake.)
pub fn may_manage(actor: &UserRow, target: &UserRow) -> bool {
    if actor.id == target.id {
        return false;
    }
    match actor.role.parse::<Role>() {
        Ok(Role::SuperAdmin) => true,
        Ok(Role::OrgAdmin) => {
            target.role == Role::OrgAdmin.as_str()
                && target.org_id.is_some()
                && target.org_id == actor.org_id
        }
        Err(_) => false,
    }
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
    if actor.role != Role::SuperAdmin.as_str() || !may_manage(actor, target) {
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
) -> Result<(String, InvitationToken), AccountError> {
    let email = normalize_email(new_email)?;
    if email == user.email {
        return Err(AccountError::Invalid("that is your email already".to_owned()));
    }
    if store.user_by_email(&email).await?.is_some() {
        return Err(AccountError::EmailTaken);
    }
    let mut random = [0u8; 32];
    fill_random(&mut random)?;
    let token = InvitationToken(URL_SAFE_NO_PAD.encode(random));
    let expires = now.as_unix() + EMAIL_CHANGE_SECS;
    store.insert_email_change(&token_digest(token.expose()), &user.id, &email, expires).await?;
    Ok((email, token))
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
        let good = match password {
            Some(password) => password_matches(password, &target.password_hash).await,
            None => false,
        };
        if !good {
            return Err(AccountError::Invalid("the password is wrong".to_owned()));
        }
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
    // The ledger entries they made, oldest first.
    let mut made = Vec::new();
    let mut before = None;
    loop {
        let page = store.ledger_page(None, Some(&user.id), None, before, 1000).await?;
        let Some(last) = page.last() else { break };
        before = Some(last.entry.seq as i64);
        made.extend(page.into_iter().map(|e| e.entry));
    }
    made.reverse();
    Ok(serde_json::json!({
        "ledger_entries_as_actor": made,
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
        },
        "sessions": sessions,
        "api_keys": keys,
        "note": "Passwords, second-factor secrets and recovery codes are kept only as hashes or for checking codes, and are not exported. See docs/PRIVACY.md.",
    }))
}

/// How long the next sign-in waits after `failed` failures in a row: none up to 3, then
/// 1 s, 2 s, 4 s … at most 15 minutes.
pub fn signin_delay(failed: i64) -> i64 {
    if failed < 4 { 0 } else { (1i64 << (failed - 4).min(10)).min(900) }
}

/// What a sign-in attempt came to.
#[derive(Debug)]
pub enum SignIn {
    /// Signed in: the person.
    Welcome(Box<UserRow>),
    /// Wrong email or password (the same answer for both).
    Refused,
    /// Too soon after failed attempts: try again in this many seconds (the second step's
    /// answer; the first step answers [`SignIn::Refused`], so as not to tell that an address
    /// has an account).
    Wait(i64),
}

/// Checks an email and password at `now`. `trusted_device`: the browser holds a device
/// cookie of this person (it signed in as them before): other people's failures do not
/// delay it.
pub async fn sign_in(
    store: &Store,
    email: &str,
    password: &Password,
    trusted_device: &(dyn Fn(&UserRow) -> bool + Sync),
    now: UnixTime,
) -> Result<SignIn, AccountError> {
    let user = match normalize_email(email) {
        Ok(email) => store.user_by_email(&email).await?,
        Err(_) => None,
    };
    let Some(user) = user else {
        let _ = password_matches(password, decoy_hash()).await;
        return Ok(SignIn::Refused);
    };
    let failed =
        match claim_attempt(store, Factor::Password, &user.id, trusted_device(&user), now).await? {
            Claim::Go { failed } => failed,
            // A held account answers as a wrong password does, after the same work: whether an
            // address has an account is not told by a different answer or time.
            Claim::Wait(_) => {
                let _ = password_matches(password, decoy_hash()).await;
                return Ok(SignIn::Refused);
            }
        };
    let now = now.as_unix();
    let good = password_matches(password, &user.password_hash).await;
    if good {
        // Codes are counted apart: a right password clears the password count only, so it
        // buys no undelayed guesses at the code.
        store.clear_failed_signins(&user.id).await?;
        return Ok(SignIn::Welcome(Box::new(user)));
    }
    if failed == 4 {
        tracing::warn!(user = %user.id, "repeated failed sign-ins: delays begin");
        let org = user.org_id.as_deref();
        audit::record(
            store,
            &Actor::Portal,
            "user.sign_in_delayed",
            &user.id,
            org,
            UnixTime::from_unix(now).unwrap_or(UnixTime::EPOCH),
        )
        .await?;
    }
    Ok(SignIn::Refused)
}

/// Turns on a person's second factor: `secret` (made by [`totp::new_secret`] and shown to
/// them) is stored once they typed a code of it. Answers the recovery codes, to show once.
pub async fn enable_second_factor(
    store: &Store,
    user: &UserRow,
    secret: &str,
    typed: &str,
    now: UnixTime,
) -> Result<Vec<String>, AccountError> {
    let step = totp::matching_step(secret, typed, now).ok_or_else(|| {
        AccountError::Invalid(
            "that code does not match; check the device's clock and try the next one".to_owned(),
        )
    })?;
    let codes = totp::recovery_codes()?;
    let hashes: Vec<String> = codes.iter().map(|c| totp::recovery_digest(c)).collect();
    store.set_second_factor(&user.id, Some(secret), &hashes).await?;
    store.use_totp_step(&user.id, step).await?;
    let actor = Actor::Person(user.id.clone());
    audit::record(store, &actor, "user.second_factor_on", &user.id, user.org_id.as_deref(), now)
        .await?;
    Ok(codes)
}

/// Turns a person's second factor off (their password is asked again first).
pub async fn disable_second_factor(
    store: &Store,
    user: &UserRow,
    password: &Password,
    now: UnixTime,
) -> Result<(), AccountError> {
    let good = password_matches(password, &user.password_hash).await;
    if !good {
        return Err(AccountError::Invalid("the password is wrong".to_owned()));
    }
    store.set_second_factor(&user.id, None, &[]).await?;
    let actor = Actor::Person(user.id.clone());
    audit::record(store, &actor, "user.second_factor_off", &user.id, user.org_id.as_deref(), now)
        .await?;
    Ok(())
}

/// The second step of signing in, for a person with a second factor who gave their
/// password: a code of their authenticator, or one of their recovery codes (used up). Wrong
/// codes are counted apart from wrong passwords, with the same growing delays: a right
/// password does not clear them, and they do not hold up the password step.
pub async fn second_step(
    store: &Store,
    user: &UserRow,
    typed: &str,
    trusted_device: bool,
    now: UnixTime,
) -> Result<SignIn, AccountError> {
    let Some(secret) = &user.totp_secret else {
        return Ok(SignIn::Welcome(Box::new(user.clone())));
    };
    let failed = match claim_attempt(store, Factor::Code, &user.id, trusted_device, now).await? {
        Claim::Go { failed } => failed,
        Claim::Wait(secs) => return Ok(SignIn::Wait(secs)),
    };
    let good = match totp::matching_step(secret, typed, now) {
        Some(step) => store.use_totp_step(&user.id, step).await?,
        None => {
            let cleaned = typed.trim();
            cleaned.len() >= 10
                && store.use_recovery_code(&user.id, &totp::recovery_digest(cleaned)).await?
        }
    };
    if good {
        store.clear_code_failures(&user.id).await?;
        store.clear_failed_signins(&user.id).await?;
        return Ok(SignIn::Welcome(Box::new(user.clone())));
    }
    if failed == 4 {
        tracing::warn!(user = %user.id, "repeated wrong second-factor codes: delays begin");
        let org = user.org_id.as_deref();
        audit::record(store, &Actor::Portal, "user.code_delayed", &user.id, org, now).await?;
    }
    Ok(SignIn::Refused)
}

/// Which secret an attempt offers: each is counted and delayed on its own.
#[derive(Debug, Clone, Copy)]
enum Factor {
    /// The password (the first step).
    Password,
    /// A second-factor code or a recovery code (the second step).
    Code,
}

/// Whether an attempt may be checked now.
enum Claim {
    /// Checked; counted as the `failed`-th failure until it proves good.
    Go { failed: i64 },
    /// Held: the account waits this many more seconds.
    Wait(i64),
}

/// Claims one sign-in attempt (a password or a code, each on its own count) for an
/// account: it is counted as
/// failed, and the delay the next attempt waits is set, BEFORE the secret is checked, with
/// a compare-and-set on the count. So attempts sent in parallel are each counted, and once
/// the delays begin they wait their turn instead of all being checked. A good attempt clears
/// the count afterwards. `trusted`: the browser signed in as this person before (its own
/// attempts are counted but not held by others' failures).
async fn claim_attempt(
    store: &Store,
    factor: Factor,
    user_id: &str,
    trusted: bool,
    now: UnixTime,
) -> Result<Claim, AccountError> {
    let now = now.as_unix();
    // Each lost race means another attempt was counted: a few rounds always settle.
    for _ in 0..16 {
        let (seen, next_at) = match factor {
            Factor::Password => {
                let user = store.user(user_id).await?.ok_or(AccountError::NoSuchUser)?;
                (user.failed_signins, user.next_signin_at)
            }
            Factor::Code => store.code_failures(user_id).await?.ok_or(AccountError::NoSuchUser)?,
        };
        if now < next_at && !trusted {
            return Ok(Claim::Wait(next_at - now));
        }
        let failed = seen.saturating_add(1);
        let until = now + signin_delay(failed);
        let claimed = match factor {
            Factor::Password => store.claim_signin_attempt(user_id, seen, failed, until).await?,
            Factor::Code => store.claim_code_attempt(user_id, seen, failed, until).await?,
        };
        if claimed {
            return Ok(Claim::Go { failed });
        }
    }
    Ok(Claim::Wait(1))
}

/// The cookie that carries a sign-in between the password and the second factor: the
/// person's id and an expiry (5 minutes), tagged under the portal's secret.
pub fn pending_sign_in(secret: &[u8], user: &UserRow, now: UnixTime) -> String {
    let expires = (now.as_unix() + 300).to_string();
    let changed = user.credentials_changed_at.to_string();
    let tag = tag(secret, &["second step", &user.id, &expires, &changed]);
    format!("{}.{expires}.{tag}", user.id)
}

/// The person of a pending sign-in cookie, if it is genuine and not expired.
pub async fn pending_user(
    store: &Store,
    secret: &[u8],
    cookie: &str,
    now: UnixTime,
) -> Result<Option<UserRow>, AccountError> {
    let mut parts = cookie.splitn(3, '.');
    let (Some(id), Some(expires), Some(given)) = (parts.next(), parts.next(), parts.next()) else {
        return Ok(None);
    };
    let Ok(expiry) = expires.parse::<i64>() else { return Ok(None) };
    if now.as_unix() > expiry || id.len() != 32 {
        return Ok(None);
    }
    let Some(user) = store.user(id).await? else { return Ok(None) };
    let changed = user.credentials_changed_at.to_string();
    let expected = tag(secret, &["second step", &user.id, expires, &changed]);
    Ok(same_tag(given, &expected).then_some(user))
}

/// A TOTP secret offered for enrolment, tagged so the form cannot swap it for another.
pub fn enrolment_tag(secret: &[u8], user: &UserRow, totp_secret: &str) -> String {
    tag(secret, &["enrol", &user.id, totp_secret])
}

/// How long sessions last.
#[derive(Debug, Clone, Copy)]
pub struct SessionRules {
    /// A session unused this long ends.
    pub idle_secs: i64,
    /// A session ends this long after sign-in, used or not.
    pub max_secs: i64,
}

/// A session token as the cookie holds it (`Debug` hides it).
pub struct SessionToken(String);

impl SessionToken {
    /// The token's text, for the session cookie.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The SHA-256 the store keeps.
    pub fn digest(&self) -> String {
        token_digest(&self.0)
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(…)")
    }
}

fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Starts a session for a person who just signed in.
pub async fn start_session(
    store: &Store,
    user: &UserRow,
    now: UnixTime,
) -> Result<SessionToken, AccountError> {
    let mut random = [0u8; 32];
    fill_random(&mut random)?;
    let token = SessionToken(URL_SAFE_NO_PAD.encode(random));
    store.insert_session(&token.digest(), &user.id, now.as_unix()).await?;
    Ok(token)
}

/// The person of a session cookie, if the session is live at `now`; notes its use.
pub async fn session_user(
    store: &Store,
    token: &str,
    rules: SessionRules,
    now: UnixTime,
) -> Result<Option<UserRow>, AccountError> {
    if token.len() != 43 {
        return Ok(None);
    }
    let digest = token_digest(token);
    let Some(session) = store.session(&digest).await? else { return Ok(None) };
    let now = now.as_unix();
    if now - session.last_seen_at > rules.idle_secs || now - session.created_at > rules.max_secs {
        store.delete_session(&digest).await?;
        return Ok(None);
    }
    // At most a write a minute per session, not one per page.
    if now - session.last_seen_at >= 60 {
        store.touch_session(&digest, now).await?;
    }
    Ok(store.user(&session.user_id).await?)
}

/// Ends one session (sign-out).
pub async fn end_session(store: &Store, token: &str) -> Result<(), AccountError> {
    Ok(store.delete_session(&token_digest(token)).await?)
}

/// A keyed tag, for device cookies and form tokens: HMAC-SHA-256 under the portal's
/// secret, base64url.
pub fn tag(secret: &[u8], parts: &[&str]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes any key");
    for part in parts {
        mac.update(part.as_bytes());
        mac.update(b"\0");
    }
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Compares two tags in constant time.
pub fn same_tag(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// The device cookie of a person on a browser they signed in on: tied to their password
/// (a new password retires every device cookie).
pub fn device_token(secret: &[u8], user: &UserRow) -> String {
    tag(secret, &["device", &user.id, &user.credentials_changed_at.to_string()])
}

/// The form token of a session: every state-changing form carries it.
pub fn csrf_token(secret: &[u8], session_token: &str) -> String {
    tag(secret, &["csrf", session_token])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_hash_verifies_only_its_password() {
        let hash = hash_password(&Password::new("correct horse battery")).expect("hash");
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(verify_password(&Password::new("correct horse battery"), &hash));
        assert!(!verify_password(&Password::new("correct horse batterz"), &hash));
        assert!(!verify_password(&Password::new("correct horse battery"), "$argon2id$junk"));
        let costly = hash.replace("m=19456", "m=99999999");
        assert!(!verify_password(&Password::new("correct horse battery"), &costly));
    }

    #[test]
    fn short_common_weak_and_personal_passwords_are_refused() {
        let email = "dana.smith@example.com";
        let personal = ["Dana Smith", "Acme Corp"];
        let refused = |bad: &str| match check_new_password(&Password::new(bad), email, &personal) {
            Err(AccountError::Invalid(why)) => why,
            other => panic!("{bad}: {other:?}"),
        };
        for bad in ["short", "Password1234", "aaaaaaaaaaaaaaaa", "qwertyuiopasdf"] {
            refused(bad);
        }
        // The address and a year; the name and a year; the organization and a year.
        for bad in [
            "dana.smith2024!!",
            "danasmith@2024",
            "Smith.Dana.2024",
            "AcmeCorp2024!",
            "acme-corp-1999",
        ] {
            assert!(refused(bad).contains("email, name or organization"), "{bad}");
        }
        // A word and a year: zxcvbn's own reason, in one sentence.
        let why = refused("Sunshine2024!");
        assert!(why.starts_with("this password is too easy to guess ("), "{why}");
        for good in ["tram lantern quietly", "correct horse battery staple", "v8#Kq2!zLp0@Wd"] {
            assert!(check_new_password(&Password::new(good), email, &personal).is_ok(), "{good}");
        }
    }

    #[test]
    fn delays_grow_and_stop_at_fifteen_minutes() {
        let delays: Vec<i64> = (0..20).map(signin_delay).collect();
        assert_eq!(&delays[..8], &[0, 0, 0, 0, 1, 2, 4, 8]);
        assert_eq!(delays[19], 900);
        assert!(delays.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn emails_are_lower_cased_and_checked() {
        assert_eq!(normalize_email("  Dana@Example.COM ").expect("email"), "dana@example.com");
        for bad in
            ["dana", "dana@", "@example.com", "a@b@c.com", "da na@example.com", "x@localhost"]
        {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        assert_eq!(format!("{:?}", Password::new("hunter2hunter2")), "Password(…)");
        assert_eq!(format!("{:?}", SessionToken("abc".into())), "SessionToken(…)");
    }
}
