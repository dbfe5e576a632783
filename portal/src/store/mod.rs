//! The portal's database, and every SQL statement the portal runs: SQLite in one file by
//! default or PostgreSQL for several portal instances. One portable schema
//! (`portal/migrations`), one code path through sqlx's `Any` driver — except the ping path,
//! whose statements run on connections of their own, one implementation per database of
//! the traits in [`pings`] ([`sqlite_pings`], [`pg_pings`]).
//!
//! Times are Unix seconds (`BIGINT`); hashes are lower-case hex. See docs/OPERATIONS.md
//! ("What the portal stores") for every column and why it is there.

mod api_keys;
mod bindings;
mod countersigned;
pub mod day_counts;
mod filter;
pub mod ledger;
mod licenses;
mod list;
mod list_by_last_ping;
mod name_search;
mod open;
mod people;
pub mod pg_pings;
pub mod pings;
mod receipt_keys;
mod rows;
pub mod sqlite_bulk;
pub mod sqlite_pings;
mod usage;

use std::path::PathBuf;

use sqlx::AnyPool;

pub use bindings::BindingChange;
pub use countersigned::{CountersignChange, CountersignedRow};
pub use filter::{LicenseFilter, LicenseStanding};
pub use licenses::LicenseCounts;
pub use list::{LicenseSort, ListCursor, ListOrder};
pub use open::check_sqlite_copy;
pub use people::{InvitationRow, OrganizationRow, SessionRow, UserRow};
pub(crate) use rows::{
    ACTIVATION_COLUMNS, LICENSE_COLUMNS, activation_from_row, license_from_row, stored_nonce,
};
pub use rows::{
    ActivationRow, ApiKeyRow, LicenseRow, LicenseState, LicenseSummary, MonthlyUsage, Registered,
};
use tessera_core::UnixTime;
use tessera_core::receipt::Nonce;
pub use usage::{PageLicense, UsagePage, UsageRow};

/// The embedded migrations, applied on every start (a no-op once applied).
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Days of per-day ping counts kept before they are rolled into months.
pub const DAYS_KEPT: i64 = 90;

/// A database failure. Never shown to clients beyond "internal error".
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A database error (sqlx).
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    /// A database error (the SQLite ping path).
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A migration failed.
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Only the scheme is kept: the rest of a URL may hold a password.
    #[error("unsupported database URL scheme {scheme:?}: use sqlite://FILE or postgres://…")]
    UnsupportedUrl {
        /// The URL's scheme.
        scheme: String,
    },
    /// The database files could not be made private (created, or their mode set).
    #[error("database file {0}")]
    Files(String),
    /// A stored value the portal cannot read back (an unknown state word, a hub key that
    /// does not parse): the database was changed behind the portal's back.
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// A blocking database task that did not finish (it panicked).
    #[error("database task: {0}")]
    Task(String),
    /// The ping path needs its own connections to a database file or server (an
    /// in-memory SQLite database has none).
    #[error(
        "the ping path needs a database file or a PostgreSQL server, not an in-memory database"
    )]
    NoPingPath,
}

impl StoreError {
    /// Whether the database refused a value it cannot hold as text: PostgreSQL stores no NUL
    /// character (SQLSTATE 22021). That is the caller's input, not the portal's fault: the
    /// HTTP layers answer it as a bad request, not a 500.
    pub fn is_unstorable_text(&self) -> bool {
        match self {
            StoreError::Sql(sqlx::Error::Database(e)) => e.code().as_deref() == Some("22021"),
            _ => false,
        }
    }
}

/// Which database the store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// What an activation did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Bound {
    /// First activation (or after a reset): bound to this host and hub key.
    New,
    /// The same host again (a reinstalled or repaired hub): the hub key and fingerprint
    /// were replaced and the ping chain starts over.
    Again,
    /// The same host again, sooner after its last re-activation than allowed, within the
    /// license's repair allowance: re-bound as [`Bound::Again`], and counted as a repair.
    Repaired {
        /// The repairs of the current year, this one included.
        repairs: i64,
    },
    /// The same host again, but sooner after its last re-activation than allowed and past
    /// the repair allowance: refused (re-activating must not alternate two copies of one hub).
    TooSoon {
        /// The last re-activation.
        rebound_at: i64,
    },
    /// Bound to another host.
    OtherHost {
        /// Components that matched.
        matched: usize,
        /// Components needed.
        needed: usize,
    },
    /// The hub's clock did not move forward since its last call: a replay.
    Stale,
}

/// An activation call to bind or re-bind, as `domain::rebinding` judges it. (Named from
/// here by the hub API; the rule that reads it is the domain's.)
pub struct Activation<'a> {
    /// The license.
    pub license_id: &'a str,
    /// The host's fingerprint, JSON.
    pub fingerprint_json: &'a str,
    /// Its version.
    pub fingerprint_version: u8,
    /// The hub's key.
    pub hub_key: &'a str,
    /// The hub's time in the call, milliseconds.
    pub hub_time_ms: i64,
    /// The portal's time.
    pub now: UnixTime,
    /// The nonce the receipt will echo: the first link of the binding's ping chain.
    pub answer: Nonce,
    /// The least time between two re-activations of one binding.
    pub rebind_every_secs: i64,
    /// Re-activations sooner than that allowed per license and year (self-service repairs).
    pub repairs_per_year: i64,
    /// The binding rule: whether the stored fingerprint (JSON, version) is this host's.
    #[allow(clippy::type_complexity)]
    pub same_host: &'a (dyn Fn(&str, i64) -> Result<(), (usize, usize)> + Sync),
}

/// One authenticated ping to record: both ping paths take this.
#[derive(Debug, Clone)]
pub struct PingRecord {
    /// The license.
    pub license_id: String,
    /// The hub key (as stored in the activation) whose signature was checked: the ping
    /// counts only while the license is still bound to it.
    pub hub_key: String,
    /// The hub's time in the call, milliseconds.
    pub hub_time_ms: i64,
    /// The portal's time.
    pub at: UnixTime,
    /// The nonce of the receipt the hub says it holds (its chain).
    pub holds: Option<Nonce>,
    /// The nonce of this call, which its receipt will echo: the chain's next link.
    pub answer: Nonce,
    /// The portal time of the receipt the hub holds, when the domain checked it as proof of
    /// the hub's place in the chain (only for a ping the chain looked like refusing): a
    /// receipt signed after the binding's last ping re-syncs a chain the portal forgot.
    pub held_at: Option<i64>,
}

/// What recording a ping found: both ping paths answer this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PingOutcome {
    /// Counted.
    Counted,
    /// Counted, though the chain had moved elsewhere: the hub proved it holds a receipt
    /// signed after the binding's last ping (the portal was restored from a backup). The
    /// chain goes on from the hub's receipt.
    Resynced,
    /// Not newer than the last accepted call of that hub: refused, not counted.
    Stale,
    /// No activation (any more): refused, not counted.
    NotActivated,
    /// The license was bound to another hub key between the signature check and the write
    /// (a re-activation raced the ping): refused, not counted.
    WrongKey,
    /// Authentic, but the hub holds a receipt the chain has moved past: another copy of
    /// it pings too. Refused (with a signed `cloned` receipt), marked, not counted.
    Cloned,
}

/// What a rollup moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RollupReport {
    /// Days rolled into months.
    pub days_rolled: u64,
    /// Ping rows moved.
    pub pings_moved: i64,
}

/// The portal's database.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The database file, for SQLite on a file.
    sqlite_file: Option<PathBuf>,
    /// Where the ping path opens its own connections.
    ping_source: pings::PingSource,
    /// The key that tags the ledger entries this handle appends (none: a command that holds
    /// no receipt key, before the ledger's first checkpoint).
    entry_tags: Option<std::sync::Arc<tessera_core::ledger::EntryTagKey>>,
    /// The ledger entries this handle appended that no checkpoint covers yet.
    written: std::sync::Arc<ledger::Written>,
}

/// Days since 1970-01-01 of a time.
pub fn day_of(t: UnixTime) -> i64 {
    t.as_unix().div_euclid(86_400)
}

/// YYYYMM of a day number.
pub fn month_of_day(day: i64) -> i64 {
    let date = UnixTime::from_unix(day * 86_400).map(|t| t.date());
    date.map_or(0, |d| i64::from(d.year()) * 100 + i64::from(u8::from(d.month())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_map_to_their_months() {
        let t: UnixTime = "2026-11-23T12:00:00Z".parse().expect("time");
        assert_eq!(month_of_day(day_of(t)), 202611);
        let t: UnixTime = "2026-12-31T23:59:59Z".parse().expect("time");
        assert_eq!(month_of_day(day_of(t)), 202612);
        assert_eq!(month_of_day(day_of(t) + 1), 202701);
    }
}
