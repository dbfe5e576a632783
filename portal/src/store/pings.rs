//! The ping path's questions and writes: one pair of traits, [`PingReader`] and
//! [`PingWriter`], with one implementation per database, each on a connection of its own
//! that the ping path's threads hold: SQLite ([`sqlite_pings`], rusqlite with cached
//! statements) and PostgreSQL ([`pg_pings`], its own driver, one fixed statement per
//! question over arrays). The store answers and writes rows; which ping counts is decided
//! by the domain (`domain::pings`) between a writer's [`PingWriter::begin`] and
//! [`PingWriter::finish`].
//!
//! [`sqlite_pings`]: super::sqlite_pings
//! [`pg_pings`]: super::pg_pings

use std::collections::HashMap;
use std::path::PathBuf;

use tessera_core::chain::Chain;

use super::day_counts::DayCounts;
use super::{ActivationRow, LicenseRow, StoreError};

/// What the lookup found for one license id: the license, its binding and the hub key the
/// binding's last re-activation replaced.
#[derive(Debug, Clone)]
pub struct Found {
    /// The license.
    pub license: LicenseRow,
    /// Its binding, if it is activated.
    pub activation: Option<ActivationRow>,
    /// The key the binding's last re-activation replaced, if any.
    pub replaced: Option<Replaced>,
}

/// The hub key a re-activation replaced, and what the portal recorded of that re-activation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaced {
    /// The replaced key, as stored.
    pub hub_key: String,
    /// The re-activation's portal time.
    pub rebound_at: i64,
    /// The hub time of the re-activation call (on the re-activating hub's clock); none for
    /// a binding re-activated before it was recorded.
    pub rebound_hub_time_ms: Option<i64>,
}

/// A connection that looks up the licenses of a ping round.
pub trait PingReader: Send {
    /// Looks up each license id, in order, in one read snapshot.
    fn lookup(&mut self, ids: &[&str]) -> Result<Vec<Option<Found>>, StoreError>;
}

/// A connection that records ping rounds: [`PingWriter::begin`] opens the write transaction
/// and reads (on PostgreSQL: locks) the bindings; [`PingWriter::finish`] writes what the
/// domain decided and commits; [`PingWriter::abandon`] rolls back after an error.
pub trait PingWriter: Send {
    /// Opens the write transaction and reads the bindings of `ids` (distinct, in id order:
    /// concurrent writers lock rows in one order and never deadlock), with their licenses'
    /// day counts.
    fn begin(&mut self, ids: &[&str]) -> Result<HashMap<String, Binding>, StoreError>;
    /// Writes `writes` and commits; answers, for each fork in `writes.forks`, whether it
    /// was recorded (false: the binding moved on meanwhile).
    fn finish(&mut self, writes: &RoundWrites<'_>) -> Result<Vec<bool>, StoreError>;
    /// Rolls back an open transaction (after an error); never fails.
    fn abandon(&mut self);
}

/// A binding as a ping's write sees it, with its license's day counts.
#[derive(Debug, Clone)]
pub struct Binding {
    /// The bound hub key, as stored.
    pub hub_key: String,
    /// The last counted ping (portal time).
    pub last_ping_at: Option<i64>,
    /// The hub time of the last accepted call.
    pub last_hub_time_ms: i64,
    /// The chain of the hub's pings.
    pub chain: Chain,
    /// The license's day counts.
    pub history: DayCounts,
}

/// What a round writes, in license id order.
#[derive(Debug, Default)]
pub struct RoundWrites<'a> {
    /// The licenses with counted pings: each one's binding as the round leaves it.
    pub counted: Vec<(&'a str, &'a Binding)>,
    /// The licenses a copy of whose hub was noticed.
    pub cloned: Vec<&'a str>,
    /// The forks seen: the license and the replaced key that pinged.
    pub forks: Vec<(&'a str, &'a str)>,
    /// The time a noticed copy or fork is marked with.
    pub cloned_at: i64,
}

/// Where the ping path's connections are opened: each thread opens its own.
#[derive(Clone)]
pub enum PingSource {
    /// The SQLite file.
    Sqlite(PathBuf),
    /// The PostgreSQL server (the URL's password stays out of `Debug`).
    Postgres(Box<sqlx::postgres::PgConnectOptions>),
    /// An in-memory SQLite database: no ping path (the ping connections need a file).
    None,
}

impl std::fmt::Debug for PingSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PingSource::Sqlite(file) => write!(f, "Sqlite({})", file.display()),
            PingSource::Postgres(_) => f.write_str("Postgres(…)"),
            PingSource::None => f.write_str("None"),
        }
    }
}

impl PingSource {
    /// Opens a reader; on PostgreSQL, call it on the thread that will use it.
    pub fn reader(&self) -> Result<Box<dyn PingReader>, StoreError> {
        match self {
            PingSource::Sqlite(file) => {
                Ok(Box::new(super::sqlite_pings::SqliteReader::open(file)?))
            }
            PingSource::Postgres(options) => {
                Ok(Box::new(super::pg_pings::PgConnection::open((**options).clone())?))
            }
            PingSource::None => Err(StoreError::NoPingPath),
        }
    }

    /// Opens a writer; on PostgreSQL, call it on the thread that will use it.
    pub fn writer(&self) -> Result<Box<dyn PingWriter>, StoreError> {
        match self {
            PingSource::Sqlite(file) => {
                Ok(Box::new(super::sqlite_pings::SqliteWriter::open(file)?))
            }
            PingSource::Postgres(options) => {
                Ok(Box::new(super::pg_pings::PgConnection::open((**options).clone())?))
            }
            PingSource::None => Err(StoreError::NoPingPath),
        }
    }
}

/// Day counts as stored; damaged bytes are a corrupt row.
pub(super) fn stored_history(bytes: Option<&[u8]>) -> Result<DayCounts, StoreError> {
    DayCounts::decode(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}
