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

mod data_rights;
mod invitations;
mod passwords;
mod people;
mod sessions;
mod signin;
mod visible;

pub use data_rights::*;
pub use invitations::*;
pub use passwords::*;
pub use people::*;
pub use sessions::*;
pub use signin::*;
pub use visible::*;

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
use crate::domain::authorization::{self, Caller, Operation, PersonFacts, Resource};
use crate::domain::totp;
pub use crate::store::{InvitationRow, OrganizationRow, UserRow};
use crate::store::{Store, StoreError};

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
    /// A check off the async workers did not finish (it panicked).
    #[error("a check did not finish: {0}")]
    Unfinished(String),
    /// The OS random generator failed.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
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

/// Whether `actor` may manage (change or remove) `target`: a super-admin anyone but
/// themself; an org-admin the other org-admins of their own organization. (One's own role
/// is changed by someone else, so that the last super-admin cannot leave by mistake.)
pub fn may_manage(actor: &UserRow, target: &UserRow) -> bool {
    let Ok(role) = actor.role.parse::<Role>() else { return false };
    let caller = Caller::Person { id: &actor.id, role, org: actor.org_id.as_deref() };
    authorization::may(&caller, Operation::ManagePerson, person_facts(target)).is_ok()
}

/// A person as [`authorization::may`] looks at them.
pub fn person_facts(person: &UserRow) -> Resource<'_> {
    Resource::Person(Some(PersonFacts {
        id: &person.id,
        role: person.role.parse().ok(),
        org: person.org_id.as_deref(),
    }))
}

#[cfg(test)]
mod tests;
