//! Where pings are stored: the portal's database, SQLite in one file by default or
//! PostgreSQL for several portal instances. One portable schema (`portal/migrations`), one
//! code path through sqlx's `Any` driver — except the ping path on SQLite, which has its own
//! connections on threads ([`crate::pings`]).
//!
//! Times are Unix seconds (`BIGINT`); hashes are lower-case hex. See docs/OPERATIONS.md
//! ("What the portal stores") for every column and why it is there.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, AssertSqlSafe, Row};
use tessera_core::UnixTime;

/// The embedded migrations, applied on every start (a no-op once applied).
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Rows per multi-row statement (three parameters each: well under both databases' limits).
const PINGS_PER_STATEMENT: usize = 500;

/// Days of per-day ping counts kept before they are rolled into months.
pub const DAYS_KEPT: i64 = 90;

/// A database failure. Never shown to clients beyond "internal error".
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL {0:?}: use sqlite://FILE or postgres://…")]
    UnsupportedUrl(String),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

/// Which database the store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A license's state on the portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LicenseState {
    Active,
    Suspended,
    Revoked,
}

impl LicenseState {
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
    pub id: String,
    pub key_sha256: String,
    pub org: String,
    pub product: String,
    pub runners: i64,
    pub not_before: i64,
    pub expires_at: i64,
    pub terminates_at: Option<i64>,
    pub grace_period_secs: i64,
    pub ping_interval_secs: i64,
    pub state: LicenseState,
    pub registered_at: i64,
    pub status_changed_at: i64,
}

/// The hub a license is bound to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ActivationRow {
    pub license_id: String,
    /// The fingerprint as the hub sent it: JSON of component name → keyed hash.
    pub fingerprint: String,
    pub hub_key: String,
    pub activated_at: i64,
    pub last_ping_at: Option<i64>,
    pub last_hub_time_ms: i64,
}

/// A license as listed: its row plus when it last pinged.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LicenseSummary {
    #[serde(flatten)]
    pub license: LicenseRow,
    pub activated: bool,
    pub last_ping_at: Option<i64>,
}

/// Pings of one license in one month (YYYYMM), days not yet rolled up included.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MonthlyUsage {
    pub license_id: String,
    pub org: String,
    pub product: String,
    pub month: i64,
    pub pings: i64,
}

/// What registering a license did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registered {
    New,
    AlreadyThere,
}

/// What an activation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bound {
    /// First activation (or after a reset): bound to this host and hub key.
    New,
    /// The same host again (a reinstalled hub): the hub key was replaced.
    Again,
    /// Bound to another host.
    OtherHost { matched: usize, needed: usize },
    /// The hub's clock did not move forward since its last call: a replay.
    Stale,
}

/// One authenticated ping to record.
#[derive(Debug, Clone)]
pub struct PingRecord {
    pub license_id: String,
    pub hub_time_ms: i64,
    pub at: UnixTime,
}

/// What recording a ping found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PingOutcome {
    Counted,
    /// Not newer than the last accepted call of that hub: refused, not counted.
    Stale,
    /// No activation (any more): refused, not counted.
    NotActivated,
}

/// An admin API key as stored: an id and the SHA-256 of its secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiKeyRow {
    pub id: String,
    #[serde(skip)]
    pub secret_sha256: String,
    pub scopes: String,
    pub label: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// What a rollup moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RollupReport {
    pub days_rolled: u64,
    pub pings_moved: i64,
}

/// The portal's database.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The database file, for SQLite on a file.
    sqlite_file: Option<PathBuf>,
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

fn license_from_row(row: &sqlx::any::AnyRow) -> Result<LicenseRow, StoreError> {
    Ok(LicenseRow {
        id: row.try_get("id")?,
        key_sha256: row.try_get("key_sha256")?,
        org: row.try_get("org")?,
        product: row.try_get("product")?,
        runners: row.try_get("runners")?,
        not_before: row.try_get("not_before")?,
        expires_at: row.try_get("expires_at")?,
        terminates_at: row.try_get("terminates_at")?,
        grace_period_secs: row.try_get("grace_period_secs")?,
        ping_interval_secs: row.try_get("ping_interval_secs")?,
        state: row.try_get::<String, _>("status")?.parse()?,
        registered_at: row.try_get("registered_at")?,
        status_changed_at: row.try_get("status_changed_at")?,
    })
}

fn activation_from_row(row: &sqlx::any::AnyRow) -> Result<ActivationRow, StoreError> {
    Ok(ActivationRow {
        license_id: row.try_get("license_id")?,
        fingerprint: row.try_get("fingerprint")?,
        hub_key: row.try_get("hub_key")?,
        activated_at: row.try_get("activated_at")?,
        last_ping_at: row.try_get("last_ping_at")?,
        last_hub_time_ms: row.try_get("last_hub_time_ms")?,
    })
}

const LICENSE_COLUMNS: &str = "id, key_sha256, org, product, runners, not_before, expires_at, \
     terminates_at, grace_period_secs, ping_interval_secs, status, registered_at, status_changed_at";

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
            return Err(StoreError::UnsupportedUrl(url.chars().take(40).collect()));
        };
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
        let sqlite_file = match backend {
            Backend::Sqlite => sqlite_file(url),
            Backend::Postgres => None,
        };
        Ok(Store { pool, backend, sqlite_file })
    }

    /// Opens the SQLite file at `path`.
    pub async fn open_sqlite(path: &Path) -> Result<Store, StoreError> {
        Store::open(&format!("sqlite://{}", path.display())).await
    }

    /// A transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads first and writes later can fail
    /// with "database is locked" when another writer got in between, without waiting.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The SQLite database file, unless the store is PostgreSQL or in memory.
    pub fn sqlite_file(&self) -> Option<&Path> {
        self.sqlite_file.as_deref()
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Whether the database answers.
    pub async fn ping_database(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    // --- licenses ---------------------------------------------------------------------

    /// Stores a license; registering the same license twice is harmless.
    pub async fn register_license(&self, license: &LicenseRow) -> Result<Registered, StoreError> {
        let result = sqlx::query(
            "INSERT INTO licenses (id, key_sha256, org, product, runners, not_before, expires_at, \
             terminates_at, grace_period_secs, ping_interval_secs, status, registered_at, \
             status_changed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&license.id)
        .bind(&license.key_sha256)
        .bind(&license.org)
        .bind(&license.product)
        .bind(license.runners)
        .bind(license.not_before)
        .bind(license.expires_at)
        .bind(license.terminates_at)
        .bind(license.grace_period_secs)
        .bind(license.ping_interval_secs)
        .bind(license.state.as_str())
        .bind(license.registered_at)
        .bind(license.status_changed_at)
        .execute(&self.pool)
        .await?;
        Ok(if result.rows_affected() == 1 { Registered::New } else { Registered::AlreadyThere })
    }

    pub async fn license(&self, id: &str) -> Result<Option<LicenseRow>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {LICENSE_COLUMNS} FROM licenses WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(license_from_row).transpose()
    }

    pub async fn license_by_key_digest(
        &self,
        digest: &str,
    ) -> Result<Option<LicenseRow>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {LICENSE_COLUMNS} FROM licenses WHERE key_sha256 = $1"
        )))
        .bind(digest)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(license_from_row).transpose()
    }

    pub async fn list_licenses(&self) -> Result<Vec<LicenseSummary>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {LICENSE_COLUMNS}, \
             (SELECT COUNT(*) FROM activations a WHERE a.license_id = licenses.id) AS activated, \
             (SELECT a.last_ping_at FROM activations a WHERE a.license_id = licenses.id) AS last_ping \
             FROM licenses ORDER BY registered_at, id"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(LicenseSummary {
                    license: license_from_row(row)?,
                    activated: row.try_get::<i64, _>("activated")? > 0,
                    last_ping_at: row.try_get("last_ping")?,
                })
            })
            .collect()
    }

    /// Changes a license's state; false if there is no such license.
    pub async fn set_state(
        &self,
        id: &str,
        state: LicenseState,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let result =
            sqlx::query("UPDATE licenses SET status = $1, status_changed_at = $2 WHERE id = $3")
                .bind(state.as_str())
                .bind(now.as_unix())
                .bind(id)
                .execute(&self.pool)
                .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Forgets the host a license is bound to, so that the next activation binds afresh.
    pub async fn reset_binding(&self, id: &str) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM activations WHERE license_id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() == 1)
    }

    // --- activations and pings -------------------------------------------------------------

    pub async fn activation(&self, license_id: &str) -> Result<Option<ActivationRow>, StoreError> {
        let row = sqlx::query(
            "SELECT license_id, fingerprint, hub_key, activated_at, last_ping_at, last_hub_time_ms \
             FROM activations WHERE license_id = $1",
        )
        .bind(license_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(activation_from_row).transpose()
    }

    /// Binds `license_id` to a host, in one transaction: a first activation binds; the same
    /// host (judged by `same_host` on the stored fingerprint) re-binds with its new key;
    /// another host is refused.
    pub async fn activate(
        &self,
        license_id: &str,
        fingerprint_json: &str,
        hub_key: &str,
        hub_time_ms: i64,
        now: UnixTime,
        same_host: impl FnOnce(&str) -> Result<(), (usize, usize)>,
    ) -> Result<Bound, StoreError> {
        let mut tx = self.begin_write().await?;
        let existing = sqlx::query(
            "SELECT license_id, fingerprint, hub_key, activated_at, last_ping_at, last_hub_time_ms \
             FROM activations WHERE license_id = $1",
        )
        .bind(license_id)
        .fetch_optional(&mut *tx)
        .await?;
        let bound = match existing.as_ref().map(activation_from_row).transpose()? {
            None => {
                // ON CONFLICT: two hubs racing for a fresh license; the loser sees OtherHost
                // on its retry.
                let inserted = sqlx::query(
                    "INSERT INTO activations (license_id, fingerprint, hub_key, activated_at, \
                     last_ping_at, last_hub_time_ms) VALUES ($1, $2, $3, $4, $4, $5) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(license_id)
                .bind(fingerprint_json)
                .bind(hub_key)
                .bind(now.as_unix())
                .bind(hub_time_ms)
                .execute(&mut *tx)
                .await?;
                if inserted.rows_affected() == 1 { Bound::New } else { Bound::Stale }
            }
            Some(activation) => match same_host(&activation.fingerprint) {
                Err((matched, needed)) => Bound::OtherHost { matched, needed },
                Ok(()) if hub_time_ms <= activation.last_hub_time_ms => Bound::Stale,
                Ok(()) => {
                    sqlx::query(
                        "UPDATE activations SET hub_key = $1, fingerprint = $2, last_ping_at = $3, \
                         last_hub_time_ms = $4 WHERE license_id = $5 AND last_hub_time_ms < $4",
                    )
                    .bind(hub_key)
                    .bind(fingerprint_json)
                    .bind(now.as_unix())
                    .bind(hub_time_ms)
                    .bind(license_id)
                    .execute(&mut *tx)
                    .await?;
                    Bound::Again
                }
            },
        };
        tx.commit().await?;
        Ok(bound)
    }

    /// Looks up many licenses with their activations in one query (the ping path's read).
    pub async fn licenses_with_activations(
        &self,
        ids: &[&str],
    ) -> Result<Vec<(LicenseRow, Option<ActivationRow>)>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders = (1..=ids.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(",");
        let sql = format!(
            "SELECT l.id, l.key_sha256, l.org, l.product, l.runners, l.not_before, l.expires_at, \
             l.terminates_at, l.grace_period_secs, l.ping_interval_secs, l.status, l.registered_at, \
             l.status_changed_at, a.license_id, a.fingerprint, a.hub_key, a.activated_at, \
             a.last_ping_at, a.last_hub_time_ms \
             FROM licenses l LEFT JOIN activations a ON a.license_id = l.id WHERE l.id IN ({placeholders})"
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for id in ids {
            query = query.bind(*id);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                let license = license_from_row(row)?;
                // A left join: no activation row reads as a NULL license_id.
                let activation = match row.try_get::<Option<String>, _>("license_id")? {
                    None => None,
                    Some(_) => Some(activation_from_row(row)?),
                };
                Ok((license, activation))
            })
            .collect()
    }

    /// Records a batch of authenticated pings in one transaction (one durable commit for
    /// all), returning what happened to each, in order. A ping counts only if its hub time
    /// is newer than the last accepted one of that hub, so a replay is never counted.
    ///
    /// The whole batch takes a few statements, not a few per ping: one conditional
    /// `UPDATE … FROM (VALUES …) RETURNING` for the replay check and last-ping times, and
    /// one multi-row upsert of the day counts. A license twice in one batch (rare: hubs ping
    /// hourly) goes into a second round, so that its two pings are judged in order.
    pub async fn record_pings(&self, pings: &[PingRecord]) -> Result<Vec<PingOutcome>, StoreError> {
        let mut outcomes = vec![PingOutcome::NotActivated; pings.len()];
        let mut tx = self.begin_write().await?;
        let mut days: BTreeMap<(&str, i64), i64> = BTreeMap::new();
        let mut pending: Vec<usize> = (0..pings.len()).collect();
        while !pending.is_empty() {
            // This round: the first remaining ping of each license.
            let mut seen = std::collections::HashSet::new();
            let (round, later): (Vec<usize>, Vec<usize>) =
                pending.iter().partition(|&&i| seen.insert(pings[i].license_id.as_str()));
            for chunk in round.chunks(PINGS_PER_STATEMENT) {
                let values = (0..chunk.len())
                    .map(|k| format!("(${}, ${}, ${})", 3 * k + 1, 3 * k + 2, 3 * k + 3))
                    .collect::<Vec<_>>()
                    .join(",");
                let sql = format!(
                    "UPDATE activations SET last_ping_at = v.column2, last_hub_time_ms = v.column3 \
                     FROM (VALUES {values}) AS v \
                     WHERE activations.license_id = v.column1 AND activations.last_hub_time_ms < v.column3 \
                     RETURNING activations.license_id"
                );
                let mut query = sqlx::query(AssertSqlSafe(sql));
                for &i in chunk {
                    query = query
                        .bind(&pings[i].license_id)
                        .bind(pings[i].at.as_unix())
                        .bind(pings[i].hub_time_ms);
                }
                let counted: std::collections::HashSet<String> = query
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(|row| row.try_get::<String, _>(0))
                    .collect::<Result<_, _>>()?;
                let refused: Vec<&str> = chunk
                    .iter()
                    .map(|&i| pings[i].license_id.as_str())
                    .filter(|id| !counted.contains(*id))
                    .collect();
                let activated = self.activated_among(&mut tx, &refused).await?;
                for &i in chunk {
                    let ping = &pings[i];
                    outcomes[i] = if counted.contains(&ping.license_id) {
                        *days.entry((ping.license_id.as_str(), day_of(ping.at))).or_insert(0) += 1;
                        PingOutcome::Counted
                    } else if activated.contains(ping.license_id.as_str()) {
                        PingOutcome::Stale
                    } else {
                        PingOutcome::NotActivated
                    };
                }
            }
            pending = later;
        }
        let days: Vec<((&str, i64), i64)> = days.into_iter().collect();
        for chunk in days.chunks(PINGS_PER_STATEMENT) {
            let values = (0..chunk.len())
                .map(|k| format!("(${}, ${}, ${})", 3 * k + 1, 3 * k + 2, 3 * k + 3))
                .collect::<Vec<_>>()
                .join(",");
            let sql = format!(
                "INSERT INTO ping_days (license_id, day, pings) VALUES {values} \
                 ON CONFLICT (license_id, day) DO UPDATE SET pings = ping_days.pings + excluded.pings"
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for ((license_id, day), count) in chunk {
                query = query.bind(*license_id).bind(*day).bind(*count);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(outcomes)
    }

    /// Which of `ids` have an activation (to tell a replay from a reset binding).
    async fn activated_among(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        ids: &[&str],
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        if ids.is_empty() {
            return Ok(std::collections::HashSet::new());
        }
        let placeholders = (1..=ids.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(",");
        let sql =
            format!("SELECT license_id FROM activations WHERE license_id IN ({placeholders})");
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for id in ids {
            query = query.bind(*id);
        }
        query.fetch_all(&mut **tx).await?.iter().map(|r| Ok(r.try_get::<String, _>(0)?)).collect()
    }

    // --- usage ---------------------------------------------------------------------------

    /// Pings per license and month: rolled-up months plus the days not yet rolled.
    pub async fn monthly_usage(
        &self,
        license_id: Option<&str>,
    ) -> Result<Vec<MonthlyUsage>, StoreError> {
        let filter = if license_id.is_some() { "WHERE l.id = $1" } else { "" };
        let months = sqlx::query(AssertSqlSafe(format!(
            "SELECT l.id, l.org, l.product, m.month, m.pings FROM ping_months m \
             JOIN licenses l ON l.id = m.license_id {filter}"
        )));
        let days = sqlx::query(AssertSqlSafe(format!(
            "SELECT l.id, l.org, l.product, d.day, d.pings FROM ping_days d \
             JOIN licenses l ON l.id = d.license_id {filter}"
        )));
        let (months, days) = match license_id {
            Some(id) => (months.bind(id), days.bind(id)),
            None => (months, days),
        };
        let mut totals: BTreeMap<(String, i64), MonthlyUsage> = BTreeMap::new();
        let mut add = |id: String, org: String, product: String, month: i64, pings: i64| {
            totals
                .entry((id.clone(), month))
                .or_insert(MonthlyUsage { license_id: id, org, product, month, pings: 0 })
                .pings += pings;
        };
        for row in months.fetch_all(&self.pool).await? {
            add(
                row.try_get(0)?,
                row.try_get(1)?,
                row.try_get(2)?,
                row.try_get(3)?,
                row.try_get(4)?,
            );
        }
        for row in days.fetch_all(&self.pool).await? {
            let day: i64 = row.try_get(3)?;
            add(
                row.try_get(0)?,
                row.try_get(1)?,
                row.try_get(2)?,
                month_of_day(day),
                row.try_get(4)?,
            );
        }
        Ok(totals.into_values().collect())
    }

    /// Per-day counts (for tests and the detail view).
    pub async fn daily_pings(&self, license_id: &str) -> Result<Vec<(i64, i64)>, StoreError> {
        let rows =
            sqlx::query("SELECT day, pings FROM ping_days WHERE license_id = $1 ORDER BY day")
                .bind(license_id)
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }

    /// Rolls every day but the last [`DAYS_KEPT`] (today included) into months, in one
    /// transaction: run it twice and the second run finds nothing; totals are conserved.
    pub async fn rollup(&self, now: UnixTime) -> Result<RollupReport, StoreError> {
        let cutoff = day_of(now) - (DAYS_KEPT - 1);
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query("SELECT license_id, day, pings FROM ping_days WHERE day < $1")
            .bind(cutoff)
            .fetch_all(&mut *tx)
            .await?;
        let mut months: BTreeMap<(String, i64), i64> = BTreeMap::new();
        let mut report = RollupReport::default();
        for row in &rows {
            let license_id: String = row.try_get(0)?;
            let day: i64 = row.try_get(1)?;
            let pings: i64 = row.try_get(2)?;
            *months.entry((license_id, month_of_day(day))).or_insert(0) += pings;
            report.days_rolled += 1;
            report.pings_moved += pings;
        }
        for ((license_id, month), pings) in months {
            sqlx::query(
                "INSERT INTO ping_months (license_id, month, pings) VALUES ($1, $2, $3) \
                 ON CONFLICT (license_id, month) DO UPDATE SET pings = ping_months.pings + excluded.pings",
            )
            .bind(license_id)
            .bind(month)
            .bind(pings)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("DELETE FROM ping_days WHERE day < $1").bind(cutoff).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(report)
    }

    // --- API keys ------------------------------------------------------------------------

    pub async fn insert_api_key(&self, key: &ApiKeyRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_keys (id, secret_sha256, scopes, label, created_at, expires_at, revoked_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&key.id)
        .bind(&key.secret_sha256)
        .bind(&key.scopes)
        .bind(&key.label)
        .bind(key.created_at)
        .bind(key.expires_at)
        .bind(key.revoked_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn api_key(&self, id: &str) -> Result<Option<ApiKeyRow>, StoreError> {
        let row = sqlx::query(
            "SELECT id, secret_sha256, scopes, label, created_at, expires_at, revoked_at \
             FROM api_keys WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| api_key_from_row(&r)).transpose()
    }

    pub async fn list_api_keys(&self) -> Result<Vec<ApiKeyRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, secret_sha256, scopes, label, created_at, expires_at, revoked_at \
             FROM api_keys ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(api_key_from_row).collect()
    }

    pub async fn revoke_api_key(&self, id: &str, now: UnixTime) -> Result<bool, StoreError> {
        let result =
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now.as_unix())
                .bind(id)
                .execute(&self.pool)
                .await?;
        Ok(result.rows_affected() == 1)
    }
}

fn api_key_from_row(row: &sqlx::any::AnyRow) -> Result<ApiKeyRow, StoreError> {
    Ok(ApiKeyRow {
        id: row.try_get("id")?,
        secret_sha256: row.try_get("secret_sha256")?,
        scopes: row.try_get("scopes")?,
        label: row.try_get("label")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
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
