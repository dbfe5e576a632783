//! The single values a license claims (its id, product, features, organization, portal URL),
//! each checked when parsed, and the error a bad claim is. Apart from the license module so
//! that what names a product can be used by the fingerprint, which a license in turn holds.

use std::fmt;
use std::str::FromStr;

use crate::keys::{RandomError, fill_random};
use crate::time::UnixTime;

/// A claim that is not acceptable, at issuance or when read from a signed file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClaimError {
    /// A claim is out of its range.
    #[error("{field}: {reason}")]
    Invalid {
        /// The claim.
        field: &'static str,
        /// Why.
        reason: String,
    },
}

pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> ClaimError {
    ClaimError::Invalid { field, reason: reason.into() }
}

/// A license's unique id: a version-7 UUID (the second it was issued, then 74 random bits),
/// e.g. `019ac9a1-…`. Time-ordered so that licenses issued together sit together in the
/// portal's indexes: registering a batch appends instead of touching a page per license.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LicenseId(uuid::Uuid);

impl LicenseId {
    /// A fresh id for a license issued at `now`.
    pub fn generate(now: UnixTime) -> Result<Self, RandomError> {
        let mut random = [0u8; 10];
        fill_random(&mut random)?;
        Ok(Self::new(now, random))
    }

    /// The id of a license issued at `issued_at`, from caller-supplied random bytes (e.g.
    /// one bulk read of the OS generator for a whole batch).
    pub fn new(issued_at: UnixTime, random: [u8; 10]) -> Self {
        // Before 1970 cannot be issued (claims check `now`); clamp rather than wrap.
        let millis = u64::try_from(issued_at.as_unix()).unwrap_or(0).saturating_mul(1000);
        LicenseId(uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid())
    }

    /// The UUID.
    pub fn as_uuid(&self) -> uuid::Uuid {
        self.0
    }
}

impl fmt::Display for LicenseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl fmt::Debug for LicenseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LicenseId({self})")
    }
}

impl FromStr for LicenseId {
    type Err = ClaimError;

    /// Only the canonical lower-case hyphenated form.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let id = uuid::Uuid::try_parse(s).map_err(|_| invalid("id", "not a UUID"))?;
        if id.hyphenated().to_string() != s {
            return Err(invalid("id", "not a lower-case hyphenated UUID"));
        }
        Ok(LicenseId(id))
    }
}

serde_via_str!(LicenseId);

/// Text newtypes that are checked when made and serialized as plain strings.
macro_rules! checked_string {
    ($(#[$doc:meta])* $name:ident, $field:literal, $check:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
        pub struct $name(String);

        impl $name {
            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = ClaimError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let check: fn(&str) -> Result<(), String> = $check;
                check(s).map_err(|reason| invalid($field, reason))?;
                Ok($name(s.to_owned()))
            }
        }

        serde_via_str!($name);
    };
}

fn slug(s: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&s.len())
        && s.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{:?} must be 1-64 characters of a-z, 0-9, '-', '_' and '.', starting with a letter or digit",
            s.chars().take(70).collect::<String>()
        ))
    }
}

checked_string!(
    /// A product identifier, e.g. `acme-hub`: 1-64 of `a-z 0-9 - _ .`.
    ProductId,
    "product",
    slug
);

checked_string!(
    /// A feature (entitlement) name, same alphabet as a product id.
    Feature,
    "features",
    slug
);

checked_string!(
    /// The customer organization's name: 1-200 printable characters, no surrounding spaces.
    Org,
    "org",
    |s| {
        let count = s.chars().count();
        if count == 0 || count > 200 {
            Err(format!("must be 1-200 characters, got {count}"))
        } else if s.chars().any(char::is_control) {
            Err("must not contain control characters".to_owned())
        } else if s.trim() != s {
            Err("must not start or end with spaces".to_owned())
        } else {
            Ok(())
        }
    }
);

checked_string!(
    /// The vendor portal's base URL: http or https, no credentials, at most 2048 bytes.
    PortalUrl,
    "portal_url",
    |s| {
        if s.len() > 2048 {
            return Err("longer than 2048 bytes".to_owned());
        }
        let url = url::Url::parse(s).map_err(|e| format!("{s:?} is not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("{s:?} must be an http or https URL"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not contain credentials".to_owned());
        }
        if url.host_str().is_none() {
            return Err(format!("{s:?} has no host"));
        }
        Ok(())
    }
);
