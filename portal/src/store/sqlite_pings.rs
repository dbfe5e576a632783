//! The ping path's statements on SQLite, on connections of their own (rusqlite, cached
//! statements) that the ping path's threads hold, without an async driver's hand-off per
//! statement and per row, which cost more than the SQL itself. [`SqliteReader`] looks up a
//! round in one read snapshot; [`SqliteWriter`] records rounds in one write transaction with
//! one commit (one fsync).

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use tessera_core::chain::Chain;
use tessera_core::receipt::Nonce;

use super::pings::{Binding, Found, PingReader, PingWriter, Replaced, RoundWrites, stored_history};
use super::{ActivationRow, LicenseRow, StoreError, stored_nonce};

/// The license, its binding and the key its last re-activation replaced, by license id.
const LOOKUP: &str = "SELECT l.id, l.key_sha256, l.org, l.product, l.runners, l.not_before, \
     l.expires_at, l.terminates_at, l.grace_period_secs, l.ping_interval_secs, l.status, \
     l.registered_at, l.status_changed_at, a.fingerprint, a.hub_key, a.activated_at, \
     a.last_ping_at, a.last_hub_time_ms, a.license_id IS NOT NULL, a.fingerprint_version, \
     a.chain_confirmed, a.chain_pending, a.cloned_at, a.rebinds, a.rebound_at, a.repairs, \
     a.repairs_from, a.repaired_at, a.previous_hub_key, a.rebound_hub_time_ms, \
     l.runner_countersign \
     FROM licenses l LEFT JOIN activations a ON a.license_id = l.id WHERE l.id = ?1";

/// The binding as the write sees it, inside the write transaction, with the day counts.
const BINDING: &str = "SELECT a.hub_key, a.last_hub_time_ms, a.chain_confirmed, \
     a.chain_pending, l.day_counts, a.last_ping_at FROM activations a \
     JOIN licenses l ON l.id = a.license_id WHERE a.license_id = ?1";

/// A counted ping: its time and the chain's next link.
const TOUCH: &str = "UPDATE activations SET last_ping_at = ?2, last_hub_time_ms = ?3, \
     chain_confirmed = ?4, chain_pending = ?5 WHERE license_id = ?1";

/// The day counts with the round's pings.
const COUNT: &str = "UPDATE licenses SET day_counts = ?2, days_from = ?3 WHERE id = ?1";

/// A copy of the hub noticed.
const CLONED: &str = "UPDATE activations SET cloned_at = ?2 WHERE license_id = ?1";

/// A fork: the replaced key seen again, counted once per re-activation.
const FORK: &str = "UPDATE activations SET forks = forks + 1 - previous_seen, \
     previous_seen = 1, cloned_at = ?3 WHERE license_id = ?1 AND previous_hub_key = ?2";

/// A connection that looks up ping rounds.
pub struct SqliteReader(Connection);

/// A connection that records ping rounds.
pub struct SqliteWriter(Connection);

impl SqliteReader {
    /// Opens a reader on `file` (already created and migrated by the store).
    pub fn open(file: &Path) -> Result<SqliteReader, StoreError> {
        Ok(SqliteReader(connect(file)?))
    }
}

impl SqliteWriter {
    /// Opens a writer on `file` (already created and migrated by the store).
    pub fn open(file: &Path) -> Result<SqliteWriter, StoreError> {
        Ok(SqliteWriter(connect(file)?))
    }
}

pub(super) fn connect(file: &Path) -> rusqlite::Result<Connection> {
    let connection = Connection::open_with_flags(
        file,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // As the pool's connections: WAL, and FULL so that a commit is durable before any
    // receipt goes out.
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    connection.busy_timeout(Duration::from_secs(10))?;
    connection.set_prepared_statement_cache_capacity(8);
    Ok(connection)
}

impl PingReader for SqliteReader {
    fn lookup(&mut self, ids: &[&str]) -> Result<Vec<Option<Found>>, StoreError> {
        let snapshot = self.0.transaction()?;
        let mut found = Vec::with_capacity(ids.len());
        {
            let mut lookup = snapshot.prepare_cached(LOOKUP)?;
            for id in ids {
                found.push(lookup.query_row(params![id], found_row).optional()?);
            }
        }
        snapshot.commit()?;
        Ok(found)
    }
}

impl PingWriter for SqliteWriter {
    fn begin(&mut self, ids: &[&str]) -> Result<HashMap<String, Binding>, StoreError> {
        self.0.execute_batch("BEGIN IMMEDIATE")?;
        let mut bindings = HashMap::with_capacity(ids.len());
        let mut read = self.0.prepare_cached(BINDING)?;
        for id in ids {
            let row = read
                .query_row(params![id], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, i64>(1)?,
                        row.get::<_, Option<String>>(2)?,
                        row.get::<_, Option<String>>(3)?,
                        row.get::<_, Option<Vec<u8>>>(4)?,
                        row.get::<_, Option<i64>>(5)?,
                    ))
                })
                .optional()?;
            if let Some((hub_key, last_hub_time_ms, confirmed, pending, history, last_ping_at)) =
                row
            {
                let binding = Binding {
                    hub_key,
                    last_ping_at,
                    last_hub_time_ms,
                    chain: Chain {
                        confirmed: stored_nonce(confirmed)?,
                        pending: stored_nonce(pending)?,
                    },
                    history: stored_history(history.as_deref())?,
                };
                bindings.insert((*id).to_owned(), binding);
            }
        }
        Ok(bindings)
    }

    fn finish(&mut self, writes: &RoundWrites<'_>) -> Result<Vec<bool>, StoreError> {
        let text = |n: Option<Nonce>| n.map(|n| n.to_string());
        let mut forks = Vec::with_capacity(writes.forks.len());
        {
            let mut touch = self.0.prepare_cached(TOUCH)?;
            let mut count = self.0.prepare_cached(COUNT)?;
            for (id, binding) in &writes.counted {
                touch.execute(params![
                    id,
                    binding.last_ping_at,
                    binding.last_hub_time_ms,
                    text(binding.chain.confirmed),
                    text(binding.chain.pending)
                ])?;
                count.execute(params![
                    id,
                    binding.history.encode(),
                    binding.history.first_day()
                ])?;
            }
            if !writes.cloned.is_empty() {
                let mut cloned = self.0.prepare_cached(CLONED)?;
                for id in &writes.cloned {
                    cloned.execute(params![id, writes.cloned_at])?;
                }
            }
            if !writes.forks.is_empty() {
                let mut fork = self.0.prepare_cached(FORK)?;
                for (id, key) in &writes.forks {
                    forks.push(fork.execute(params![id, key, writes.cloned_at])? == 1);
                }
            }
        }
        self.0.execute_batch("COMMIT")?;
        Ok(forks)
    }

    fn abandon(&mut self) {
        if !self.0.is_autocommit() {
            let _ = self.0.execute_batch("ROLLBACK");
        }
    }
}

/// A rusqlite conversion error for column `i`.
fn unreadable(i: usize, what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, what.into())
}

/// A row of [`LOOKUP`]; an unreadable stored value is an error of the round, not of the ping.
fn found_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Found> {
    let license = LicenseRow {
        id: row.get(0)?,
        key_sha256: row.get(1)?,
        org: row.get(2)?,
        product: row.get(3)?,
        runners: row.get(4)?,
        not_before: row.get(5)?,
        expires_at: row.get(6)?,
        terminates_at: row.get(7)?,
        grace_period_secs: row.get(8)?,
        ping_interval_secs: row.get(9)?,
        state: row
            .get::<_, String>(10)?
            .parse()
            .map_err(|e: StoreError| unreadable(10, e.to_string()))?,
        registered_at: row.get(11)?,
        status_changed_at: row.get(12)?,
        runner_countersign: row.get::<_, i64>(30)? != 0,
    };
    let nonce = |i: usize| -> rusqlite::Result<Option<Nonce>> {
        row.get::<_, Option<String>>(i)?
            .map(|text| text.parse().map_err(|_| unreadable(i, format!("stored nonce {text:?}"))))
            .transpose()
    };
    if !row.get::<_, bool>(18)? {
        return Ok(Found { license, activation: None, replaced: None });
    }
    let activation = ActivationRow {
        license_id: license.id.clone(),
        fingerprint: row.get(13)?,
        fingerprint_version: row.get(19)?,
        hub_key: row.get(14)?,
        activated_at: row.get(15)?,
        last_ping_at: row.get(16)?,
        last_hub_time_ms: row.get(17)?,
        chain: Chain { confirmed: nonce(20)?, pending: nonce(21)? },
        cloned_at: row.get(22)?,
        rebinds: row.get(23)?,
        rebound_at: row.get(24)?,
        repairs: row.get(25)?,
        repairs_from: row.get(26)?,
        repaired_at: row.get(27)?,
    };
    let replaced = match (row.get::<_, Option<String>>(28)?, activation.rebound_at) {
        (Some(hub_key), Some(rebound_at)) => {
            Some(Replaced { hub_key, rebound_at, rebound_hub_time_ms: row.get(29)? })
        }
        _ => None,
    };
    Ok(Found { license, activation: Some(activation), replaced })
}
