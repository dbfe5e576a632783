//! Licenses: the claims a vendor signs, how they are signed, and how they are verified.
//!
//! - [`Claims`]: every claim as a typed value, checked on the way in and on the way out (the
//!   single values, such as [`ProductId`], are [`crate::claim`]'s).
//! - [`LicenseTerms::issue`]: fresh claims (new id and key) from what the vendor asked for.
//! - [`sign`]: claims → armored license text.
//! - [`verify`] (in `verify.rs`): license text + trust set + time → one [`Status`](crate::status::Status).

mod key;
mod verify;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use key::{LicenseKey, LicenseKeyError};
pub use verify::{Expectations, LicenseFile, Problem, Verdict, verify};

pub use crate::claim::{ClaimError, Feature, LicenseId, Org, PortalUrl, ProductId};

use crate::armor::{Envelope, Kind};
use crate::claim::invalid;
use crate::fingerprint::FingerprintBinding;
use crate::keys::{RandomError, SigningKey};
use crate::time::UnixTime;

/// Grace period when the vendor names none: a week of portal outage.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(7 * 86_400);
/// Ping interval when the vendor names none.
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(3600);
/// Longest grace period a license may grant.
pub const MAX_GRACE: Duration = Duration::from_secs(365 * 86_400);
/// Shortest and longest ping intervals.
pub const MIN_PING_INTERVAL: Duration = Duration::from_secs(60);
/// See [`MIN_PING_INTERVAL`].
pub const MAX_PING_INTERVAL: Duration = Duration::from_secs(7 * 86_400);
/// Largest runner limit.
pub const MAX_RUNNERS: u32 = 1_000_000;
/// Most features a license may carry.
pub const MAX_FEATURES: usize = 64;

/// Every claim of a license. Read from a file only through [`verify`] (verified) or
/// [`LicenseFile::unverified_claims`] (for display, marked unverified).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    /// The license's id.
    pub id: LicenseId,
    /// The license key the customer types.
    pub key: LicenseKey,
    /// The licensed organization.
    pub org: Org,
    /// The licensed product.
    pub product: ProductId,
    /// How many runners may hold a lease at once.
    pub runners: u32,
    /// When the vendor issued it.
    pub issued_at: UnixTime,
    /// It is `not_yet_valid` before then.
    pub not_before: UnixTime,
    /// The license is valid through this second, `expired` after it.
    pub expires_at: UnixTime,
    /// Hard stop: `terminated` after this second. At or after `expires_at`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::present")]
    pub terminates_at: Option<UnixTime>,
    /// The features the license unlocks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<Feature>,
    /// How long the hub keeps working without a fresh receipt.
    pub grace_period_secs: u32,
    /// How often the hub pings the portal.
    pub ping_interval_secs: u32,
    /// The portal the hub activates with and pings.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::present")]
    pub portal_url: Option<PortalUrl>,
    /// Present when the license is bound to one host.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::present")]
    pub fingerprint: Option<FingerprintBinding>,
    /// The portal counts runner keys too: a runner accepts a lease only when the portal's
    /// receipt countersigns its key (docs/FORMAT.md, section 2). Absent: the hub's count
    /// alone holds the limit.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub runner_countersign: bool,
}

impl Claims {
    /// The checks that span several claims; single claims check themselves when parsed.
    pub fn validate(&self) -> Result<(), ClaimError> {
        validate_terms(TermsRef {
            runners: self.runners,
            not_before: self.not_before,
            expires_at: self.expires_at,
            terminates_at: self.terminates_at,
            features: &self.features,
            grace_period: self.grace_period(),
            ping_interval: self.ping_interval(),
        })
    }

    /// The grace period as a duration.
    pub fn grace_period(&self) -> Duration {
        Duration::from_secs(self.grace_period_secs.into())
    }

    /// The ping interval as a duration.
    pub fn ping_interval(&self) -> Duration {
        Duration::from_secs(self.ping_interval_secs.into())
    }

    /// Whether the license unlocks the feature `name`.
    pub fn has_feature(&self, name: &str) -> bool {
        self.features.iter().any(|f| f.as_str() == name)
    }
}

/// The claims that are checked together, borrowed from [`Claims`] or [`LicenseTerms`].
struct TermsRef<'a> {
    runners: u32,
    not_before: UnixTime,
    expires_at: UnixTime,
    terminates_at: Option<UnixTime>,
    features: &'a [Feature],
    grace_period: Duration,
    ping_interval: Duration,
}

fn validate_terms(t: TermsRef<'_>) -> Result<(), ClaimError> {
    if t.runners > MAX_RUNNERS {
        return Err(invalid("runners", format!("at most {MAX_RUNNERS}")));
    }
    if t.not_before > t.expires_at {
        return Err(invalid("not_before", "is after the expiry"));
    }
    if t.terminates_at.is_some_and(|end| end < t.expires_at) {
        return Err(invalid("terminates_at", "is before the expiry"));
    }
    if t.features.len() > MAX_FEATURES {
        return Err(invalid("features", format!("at most {MAX_FEATURES}")));
    }
    let mut seen = std::collections::BTreeSet::new();
    if let Some(dup) = t.features.iter().find(|f| !seen.insert(*f)) {
        return Err(invalid("features", format!("{dup} is listed twice")));
    }
    if t.grace_period > MAX_GRACE {
        return Err(invalid("grace_period", "longer than 365 days"));
    }
    if !(MIN_PING_INTERVAL..=MAX_PING_INTERVAL).contains(&t.ping_interval) {
        return Err(invalid("ping_interval", "must be between 1 minute and 7 days"));
    }
    Ok(())
}

/// What a vendor asks for when issuing a license; [`LicenseTerms::issue`] adds the id, the
/// key and the issue time.
#[derive(Debug, Clone)]
pub struct LicenseTerms {
    /// The licensed organization.
    pub org: Org,
    /// The licensed product.
    pub product: ProductId,
    /// How many runners may hold a lease at once.
    pub runners: u32,
    /// Defaults to the issue time.
    pub not_before: Option<UnixTime>,
    /// Valid through this second.
    pub expires_at: UnixTime,
    /// A hard stop after the expiry, if any.
    pub terminates_at: Option<UnixTime>,
    /// The features unlocked.
    pub features: Vec<Feature>,
    /// How long a hub keeps working without a fresh receipt.
    pub grace_period: Duration,
    /// How often the hub pings the portal.
    pub ping_interval: Duration,
    /// The portal the hub activates with.
    pub portal_url: Option<PortalUrl>,
    /// The host the license is bound to, if any.
    pub fingerprint: Option<FingerprintBinding>,
    /// Whether the portal countersigns runner keys (at most `runners` of them).
    pub runner_countersign: bool,
}

impl LicenseTerms {
    /// Terms with the default grace period and ping interval and no options.
    pub fn new(org: Org, product: ProductId, runners: u32, expires_at: UnixTime) -> Self {
        LicenseTerms {
            org,
            product,
            runners,
            not_before: None,
            expires_at,
            terminates_at: None,
            features: Vec::new(),
            grace_period: DEFAULT_GRACE,
            ping_interval: DEFAULT_PING_INTERVAL,
            portal_url: None,
            fingerprint: None,
            runner_countersign: false,
        }
    }

    /// Checks the terms as if issued at `now`, without issuing: lets a batch find every bad
    /// row before it writes anything.
    pub fn check(&self, now: UnixTime) -> Result<(), ClaimError> {
        validate_terms(TermsRef {
            runners: self.runners,
            not_before: self.not_before.unwrap_or(now),
            expires_at: self.expires_at,
            terminates_at: self.terminates_at,
            features: &self.features,
            grace_period: self.grace_period,
            ping_interval: self.ping_interval,
        })
    }

    /// Fresh, validated claims: a new random id and license key, issued at `now`.
    pub fn issue(self, now: UnixTime) -> Result<Claims, IssueError> {
        Ok(self.issue_as(now, LicenseId::generate(now)?, LicenseKey::generate()?)?)
    }

    /// Validated claims with the given id and key (fresh ones, from [`LicenseId::generate`]
    /// and [`LicenseKey::generate`] or their bulk-entropy twins), issued at `now`.
    pub fn issue_as(
        self,
        now: UnixTime,
        id: LicenseId,
        key: LicenseKey,
    ) -> Result<Claims, ClaimError> {
        self.check(now)?;
        // In range: check() bounds both durations far below u32::MAX seconds.
        let secs = |d: Duration| u32::try_from(d.as_secs()).unwrap_or(u32::MAX);
        let mut features = self.features;
        features.sort();
        let claims = Claims {
            id,
            key,
            org: self.org,
            product: self.product,
            runners: self.runners,
            issued_at: now,
            not_before: self.not_before.unwrap_or(now),
            expires_at: self.expires_at,
            terminates_at: self.terminates_at,
            features,
            grace_period_secs: secs(self.grace_period),
            ping_interval_secs: secs(self.ping_interval),
            portal_url: self.portal_url,
            fingerprint: self.fingerprint,
            runner_countersign: self.runner_countersign,
        };
        Ok(claims)
    }
}

/// Issuing failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    /// A claim is out of range.
    #[error(transparent)]
    Claim(#[from] ClaimError),
    /// The OS random generator failed.
    #[error(transparent)]
    Random(#[from] RandomError),
}

/// Signs `claims` with `key` and returns the armored license text.
pub fn sign(claims: &Claims, key: &SigningKey) -> Result<String, ClaimError> {
    claims.validate()?;
    Ok(Envelope::seal(Kind::License, key, claims))
}
