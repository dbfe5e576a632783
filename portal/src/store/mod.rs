//! The portal's database, and every SQL statement the portal runs: SQLite in one file by
//! default or PostgreSQL for several portal instances. One portable schema
//! (`portal/migrations`), one code path through sqlx's `Any` driver — except the ping path,
//! whose statements run on connections of their own, one implementation per database of
//! the traits in [`pings`] ([`sqlite_pings`], [`pg_pings`]).
//!
//! Times are Unix seconds (`BIGINT`); hashes are lower-case hex. See docs/OPERATIONS.md
//! ("What the portal stores") for every column and why it is there.

mod api_keys;
pub mod day_counts;
mod filter;
pub mod ledger;
mod licenses;
mod people;
pub mod pg_pings;
pub mod pings;
mod receipt_keys;
pub mod sqlite_bulk;
pub mod sqlite_pings;
mod usage;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Row};

pub use filter::{LicenseFilter, LicenseStanding};
pub use licenses::LicenseCounts;
pub use people::{InvitationRow, OrganizationRow, SessionRow, UserRow};
use tessera_core::UnixTime;
use tessera_core::chain::Chain;
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

/// Which database the store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

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

/// An activation call to bind or re-bind, as the store needs it.
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
    /// The person who made it on the web pages; none when made on the command line.
    pub owner_id: Option<String>,
    /// The organization it is limited to; none for the vendor's keys, which see everything.
    pub org_id: Option<String>,
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
     terminates_at, grace_period_secs, ping_interval_secs, status, registered_at, status_changed_at";

/// Makes the SQLite file (and its WAL and shared-memory files, which SQLite creates with the
/// database file's mode) readable by the portal's user only: it holds the API key table
/// and the license table. Creates an empty file with mode 0600 if there is none yet.
fn private_database_files(file: &Path) -> Result<(), StoreError> {
    let io = |e: std::io::Error| StoreError::Files(format!("{}: {e}", file.display()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(file).map_err(io)?;
    #[cfg(unix)]
    for suffix in ["", "-wal", "-shm"] {
        use std::os::unix::fs::PermissionsExt;
        let path = PathBuf::from(format!("{}{suffix}", file.display()));
        match std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
    }
    Ok(())
}

/// The file a `sqlite:` URL names, as sqlx reads it; none for an in-memory database.
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let options: sqlx::sqlite::SqliteConnectOptions = url.parse().ok()?;
    let file = options.get_filename();
    let memory = url.contains(":memory:") || url.contains("mode=memory");
    (!memory && !file.as_os_str().is_empty()).then(|| file.to_path_buf())
}

impl Store {
    /// Opens (creating and migrating if needed) the database at `url`: `sqlite://PATH` or
    /// `postgres://…`.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
            return Err(StoreError::UnsupportedUrl { scheme: scheme.chars().take(20).collect() });
        };
        let sqlite_file = match backend {
            Backend::Sqlite => sqlite_file(url),
            Backend::Postgres => None,
        };
        if let Some(file) = &sqlite_file {
            private_database_files(file)?;
        }
        let pool = match backend {
            Backend::Sqlite => {
                let url =
                    if url.contains('?') { url.to_owned() } else { format!("{url}?mode=rwc") };
                AnyPoolOptions::new()
                    .max_connections(8)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            // WAL lets readers run beside the writer; FULL makes every commit
                            // durable before the receipt goes out.
                            sqlx::query("PRAGMA journal_mode = WAL").execute(&mut *conn).await?;
                            sqlx::query("PRAGMA synchronous = FULL").execute(&mut *conn).await?;
                            sqlx::query("PRAGMA busy_timeout = 10000").execute(&mut *conn).await?;
                            sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *conn).await?;
                            // What is deleted is overwritten, not left in free pages: an
                            // erased person's name and email must not stay in the file.
                            sqlx::query("PRAGMA secure_delete = ON").execute(&mut *conn).await?;
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await?
            }
            Backend::Postgres => {
                AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(url)
                    .await?
            }
        };
        MIGRATOR.run(&pool).await?;
        let ping_source = match (&sqlite_file, backend) {
            (_, Backend::Postgres) => pings::PingSource::Postgres(Box::new(url.parse()?)),
            (Some(file), Backend::Sqlite) => pings::PingSource::Sqlite(file.clone()),
            (None, Backend::Sqlite) => pings::PingSource::None,
        };
        let store = Store { pool, backend, sqlite_file, ping_source };
        if backend == Backend::Postgres {
            store.leave_room_for_ping_updates().await?;
        }
        let moved = store.move_day_rows().await?;
        if moved > 0 {
            tracing::info!(rows = moved, "day counts moved from ping_days into the licenses");
        }
        Ok(store)
    }

    /// PostgreSQL only: each counted ping rewrites its license's row (the day counts). Pages
    /// of `licenses` filled only to 70 % leave room for the new version of a row on its own
    /// page, where PostgreSQL can make the update without new index entries (a HOT update),
    /// instead of one new entry in every index of the table per ping. Applies to pages
    /// written from now on (`VACUUM FULL licenses` repacks older ones; docs/OPERATIONS.md).
    /// Not a migration: the migrations are one text for both stores.
    async fn leave_room_for_ping_updates(&self) -> Result<(), StoreError> {
        let options: Option<String> = sqlx::query_scalar(
            "SELECT array_to_string(reloptions, ',') FROM pg_class \
             WHERE oid = 'licenses'::regclass",
        )
        .fetch_one(&self.pool)
        .await?;
        if !options.unwrap_or_default().split(',').any(|o| o == "fillfactor=70") {
            sqlx::query("ALTER TABLE licenses SET (fillfactor = 70)").execute(&self.pool).await?;
        }
        Ok(())
    }

    /// Opens the SQLite file at `path`.
    pub async fn open_sqlite(path: &Path) -> Result<Store, StoreError> {
        Store::open(&format!("sqlite://{}", path.display())).await
    }

    /// A transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads first and writes later can fail
    /// with "database is locked" when another writer got in between, without waiting.
    pub(crate) async fn begin_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Writes a consistent copy of the SQLite database to `path` (a new file) while others
    /// read and write: `VACUUM INTO` reads in one transaction.
    pub async fn snapshot_into(&self, path: &Path) -> Result<(), StoreError> {
        let text = path
            .to_str()
            .ok_or_else(|| StoreError::Files(format!("{}: not a UTF-8 path", path.display())))?;
        // A string literal in SQL: quotes doubled (VACUUM INTO takes no bound value).
        let literal = format!("'{}'", text.replace('\'', "''"));
        sqlx::query(sqlx::AssertSqlSafe(format!("VACUUM INTO {literal}")))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// SQLite or PostgreSQL.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The SQLite database file, unless the store is PostgreSQL or in memory.
    pub fn sqlite_file(&self) -> Option<&Path> {
        self.sqlite_file.as_deref()
    }

    /// Where the ping path opens its own connections.
    pub fn ping_source(&self) -> &pings::PingSource {
        &self.ping_source
    }

    /// The connection pool.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Whether the database answers.
    pub async fn ping_database(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
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
