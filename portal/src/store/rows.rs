//! The rows the store answers with (licenses, bindings, usage, API keys), and how they are
//! read from either database's rows.

use std::str::FromStr;

use sqlx::Row;
use tessera_core::UnixTime;
use tessera_core::chain::Chain;
use tessera_core::receipt::Nonce;

use super::StoreError;

/// A license's state on the portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LicenseState {
    /// Neither suspended nor revoked.
    Active,
    /// Suspended by the vendor.
    Suspended,
    /// Revoked by the vendor.
    Revoked,
}

impl LicenseState {
    /// The state's word, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            LicenseState::Active => "active",
            LicenseState::Suspended => "suspended",
            LicenseState::Revoked => "revoked",
        }
    }
}

impl FromStr for LicenseState {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "active" => Ok(LicenseState::Active),
            "suspended" => Ok(LicenseState::Suspended),
            "revoked" => Ok(LicenseState::Revoked),
            other => Err(StoreError::Corrupt(format!("unknown license state {other:?}"))),
        }
    }
}

/// A registered license: its terms and state, never its key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LicenseRow {
    /// The license's id.
    pub id: String,
    /// The SHA-256 of its license key, hex: the key itself is not stored.
    pub key_sha256: String,
    /// The licensed organization.
    pub org: String,
    /// The licensed product.
    pub product: String,
    /// How many runners may hold a lease at once.
    pub runners: i64,
    /// Whether the portal counts its runners (the `runner_countersign` claim): a runner runs
    /// only on a receipt that countersigns its place.
    pub runner_countersign: bool,
    /// Unix seconds.
    pub not_before: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// Unix seconds.
    pub terminates_at: Option<i64>,
    /// The license's grace period.
    pub grace_period_secs: i64,
    /// The license's ping interval.
    pub ping_interval_secs: i64,
    /// Active, suspended or revoked.
    pub state: LicenseState,
    /// When it was registered.
    pub registered_at: i64,
    /// When its state last changed.
    pub status_changed_at: i64,
}

impl LicenseRow {
    /// The row of a license registered at `now`: its terms, the SHA-256 of its key.
    pub fn registered(claims: &tessera_core::license::Claims, now: UnixTime) -> LicenseRow {
        LicenseRow {
            id: claims.id.to_string(),
            key_sha256: hex::encode(claims.key.digest()),
            org: claims.org.to_string(),
            product: claims.product.to_string(),
            runners: i64::from(claims.runners),
            runner_countersign: claims.runner_countersign,
            not_before: claims.not_before.as_unix(),
            expires_at: claims.expires_at.as_unix(),
            terminates_at: claims.terminates_at.map(|t| t.as_unix()),
            grace_period_secs: i64::from(claims.grace_period_secs),
            ping_interval_secs: i64::from(claims.ping_interval_secs),
            state: LicenseState::Active,
            registered_at: now.as_unix(),
            status_changed_at: now.as_unix(),
        }
    }
}

/// The hub a license is bound to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ActivationRow {
    /// The license.
    pub license_id: String,
    /// The fingerprint as the hub sent it: JSON of component name → keyed hash.
    pub fingerprint: String,
    /// 1 (keyed by the product id) or 2 (keyed by the host's own secret).
    pub fingerprint_version: i64,
    /// The bound hub key.
    pub hub_key: String,
    /// When the binding was made.
    pub activated_at: i64,
    /// The last counted ping, if any.
    pub last_ping_at: Option<i64>,
    /// The hub time of its last accepted call.
    pub last_hub_time_ms: i64,
    /// The chain of the hub's pings (the receipts it holds).
    pub chain: Chain,
    /// When a copy of the hub was last refused.
    pub cloned_at: Option<i64>,
    /// Re-activations of this binding, and the last one's time.
    pub rebinds: i64,
    /// When it was last re-activated.
    pub rebound_at: Option<i64>,
    /// Self-service repairs (re-activations sooner than the rebind limit) in the year that
    /// began at `repairs_from`.
    pub repairs: i64,
    /// When the current repair year began (its first repair), if any repair was made.
    pub repairs_from: Option<i64>,
    /// The last repair.
    pub repaired_at: Option<i64>,
}

/// The columns of [`ActivationRow`], in the order [`activation_from_row`] reads them.
pub(crate) const ACTIVATION_COLUMNS: &str = "license_id, fingerprint, fingerprint_version, \
     hub_key, activated_at, last_ping_at, last_hub_time_ms, chain_confirmed, chain_pending, \
     cloned_at, rebinds, rebound_at, repairs, repairs_from, repaired_at";

/// A nonce as stored (base64url text); an unreadable one is a corrupt row.
pub(crate) fn stored_nonce(text: Option<String>) -> Result<Option<Nonce>, StoreError> {
    text.map(|t| t.parse().map_err(|_| StoreError::Corrupt(format!("stored nonce {t:?}"))))
        .transpose()
}

/// A license as listed: its row plus when it last pinged.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LicenseSummary {
    /// The license.
    #[serde(flatten)]
    pub license: LicenseRow,
    /// Whether it is bound to a host.
    pub activated: bool,
    /// The last counted ping, if any.
    pub last_ping_at: Option<i64>,
}

/// Pings of one license in one month (YYYYMM), days not yet rolled up included.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MonthlyUsage {
    /// The license.
    pub license_id: String,
    /// Its organization.
    pub org: String,
    /// Its product.
    pub product: String,
    /// The month, YYYYMM.
    pub month: i64,
    /// Pings counted that month.
    pub pings: i64,
}

/// What registering a license did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Registered {
    /// Registered now.
    New,
    /// Already registered.
    AlreadyThere,
}

/// An admin API key as stored: an id and the SHA-256 of its secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiKeyRow {
    /// The key's id.
    pub id: String,
    /// The SHA-256 of its secret, hex.
    #[serde(skip)]
    pub secret_sha256: String,
    /// Its scopes.
    pub scopes: String,
    /// Its label, for people.
    pub label: String,
    /// When it was made.
    pub created_at: i64,
    /// When it expires, if ever.
    pub expires_at: Option<i64>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
    /// When it was last used (noted at most once a minute), if ever.
    #[serde(skip)]
    pub last_used_at: Option<i64>,
    /// The person who made it on the web pages; none when made on the command line.
    pub owner_id: Option<String>,
    /// The organization it is limited to; none for the vendor's keys, which see everything.
    pub org_id: Option<String>,
}

/// A row the store reads its column types from by name: the `Any` driver's rows, and
/// PostgreSQL's own on the ping path.
pub(crate) trait ReadRow {
    fn text(&self, column: &str) -> Result<String, sqlx::Error>;
    fn opt_text(&self, column: &str) -> Result<Option<String>, sqlx::Error>;
    fn int(&self, column: &str) -> Result<i64, sqlx::Error>;
    fn opt_int(&self, column: &str) -> Result<Option<i64>, sqlx::Error>;
}

macro_rules! read_row {
    ($row:ty) => {
        impl ReadRow for $row {
            fn text(&self, column: &str) -> Result<String, sqlx::Error> {
                self.try_get(column)
            }
            fn opt_text(&self, column: &str) -> Result<Option<String>, sqlx::Error> {
                self.try_get(column)
            }
            fn int(&self, column: &str) -> Result<i64, sqlx::Error> {
                self.try_get(column)
            }
            fn opt_int(&self, column: &str) -> Result<Option<i64>, sqlx::Error> {
                self.try_get(column)
            }
        }
    };
}
read_row!(sqlx::any::AnyRow);
read_row!(sqlx::postgres::PgRow);

pub(crate) fn license_from_row(row: &impl ReadRow) -> Result<LicenseRow, StoreError> {
    Ok(LicenseRow {
        id: row.text("id")?,
        key_sha256: row.text("key_sha256")?,
        org: row.text("org")?,
        product: row.text("product")?,
        runners: row.int("runners")?,
        runner_countersign: row.int("runner_countersign")? != 0,
        not_before: row.int("not_before")?,
        expires_at: row.int("expires_at")?,
        terminates_at: row.opt_int("terminates_at")?,
        grace_period_secs: row.int("grace_period_secs")?,
        ping_interval_secs: row.int("ping_interval_secs")?,
        state: row.text("status")?.parse()?,
        registered_at: row.int("registered_at")?,
        status_changed_at: row.int("status_changed_at")?,
    })
}

pub(crate) fn activation_from_row(row: &impl ReadRow) -> Result<ActivationRow, StoreError> {
    Ok(ActivationRow {
        license_id: row.text("license_id")?,
        fingerprint: row.text("fingerprint")?,
        fingerprint_version: row.int("fingerprint_version")?,
        hub_key: row.text("hub_key")?,
        activated_at: row.int("activated_at")?,
        last_ping_at: row.opt_int("last_ping_at")?,
        last_hub_time_ms: row.int("last_hub_time_ms")?,
        chain: Chain {
            confirmed: stored_nonce(row.opt_text("chain_confirmed")?)?,
            pending: stored_nonce(row.opt_text("chain_pending")?)?,
        },
        cloned_at: row.opt_int("cloned_at")?,
        rebinds: row.int("rebinds")?,
        repairs: row.int("repairs")?,
        repairs_from: row.opt_int("repairs_from")?,
        repaired_at: row.opt_int("repaired_at")?,
        rebound_at: row.opt_int("rebound_at")?,
    })
}

pub(crate) const LICENSE_COLUMNS: &str = "id, key_sha256, org, product, runners, not_before, expires_at, \
     terminates_at, grace_period_secs, ping_interval_secs, status, registered_at, status_changed_at, \
     runner_countersign";
