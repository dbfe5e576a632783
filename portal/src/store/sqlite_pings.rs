//! The ping path's statements on SQLite, on connections of their own (rusqlite, cached
//! statements) so that the ping rounds can run them on their own threads without the async
//! driver's hand-off per statement and per row, which cost more than the SQL itself.
//! [`PingReader`] looks up a round in one read snapshot; [`PingWriter`] records checked
//! pings in one write transaction with one commit (one fsync).

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};

use tessera_core::chain::Chain;
use tessera_core::receipt::Nonce;

use super::pings::{Binding, Write, judge_write, stored_history};
use super::{ActivationRow, LicenseRow, PingOutcome, PingRecord, StoreError, day_of, stored_nonce};

/// The license and its binding, by license id.
const LOOKUP: &str = "SELECT l.id, l.key_sha256, l.org, l.product, l.runners, l.not_before, \
     l.expires_at, l.terminates_at, l.grace_period_secs, l.ping_interval_secs, l.status, \
     l.registered_at, l.status_changed_at, a.fingerprint, a.hub_key, a.activated_at, \
     a.last_ping_at, a.last_hub_time_ms, a.license_id IS NOT NULL, a.fingerprint_version, \
     a.chain_confirmed, a.chain_pending, a.cloned_at, a.rebinds, a.rebound_at, a.repairs, \
     a.repairs_from, a.repaired_at \
     FROM licenses l LEFT JOIN activations a ON a.license_id = l.id WHERE l.id = ?1";

/// The binding as the write sees it, inside the write transaction, with the day counts.
const BINDING: &str = "SELECT a.hub_key, a.last_hub_time_ms, a.chain_confirmed, \
     a.chain_pending, l.day_counts, a.last_ping_at FROM activations a JOIN licenses l ON l.id = a.license_id \
     WHERE a.license_id = ?1";

/// A counted ping: its time and the chain's next link.
const TOUCH: &str = "UPDATE activations SET last_ping_at = ?2, last_hub_time_ms = ?3, \
     chain_confirmed = ?4, chain_pending = ?5 WHERE license_id = ?1";

/// A copy of the hub noticed.
const CLONED: &str = "UPDATE activations SET cloned_at = ?2 WHERE license_id = ?1";

/// The day counts with one more ping.
const COUNT: &str = "UPDATE licenses SET day_counts = ?2, days_from = ?3 WHERE id = ?1";

/// What the lookup found for one license id: nothing, or the license and its binding.
pub type Found = Option<(LicenseRow, Option<ActivationRow>)>;

/// A connection that looks up the licenses of a ping round.
pub struct PingReader(Connection);

/// A connection that records checked pings.
pub struct PingWriter(Connection);

/// Opens the reader and the writer on `file` (already created and migrated by the store).
pub fn open(file: &Path) -> Result<(PingReader, PingWriter), StoreError> {
    Ok((PingReader(connect(file)?), PingWriter(connect(file)?)))
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

impl PingReader {
    /// Looks up each license id, in order, in one read snapshot.
    pub fn lookup<'a>(
        &mut self,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<Vec<Found>, StoreError> {
        let snapshot = self.0.transaction()?;
        let mut lookup = snapshot.prepare_cached(LOOKUP)?;
        let mut found = Vec::new();
        for id in ids {
            found.push(lookup.query_row(params![id], row_pair).optional()?);
        }
        Ok(found)
    }
}

impl PingWriter {
    /// Records `pings` in one write transaction, in order, by the rule of
    /// `judge_write`: a license's second ping in a batch sees the first one's update.
    pub fn record(&mut self, pings: &[PingRecord]) -> Result<Vec<PingOutcome>, StoreError> {
        let tx = self.0.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut outcomes = Vec::with_capacity(pings.len());
        {
            let mut binding = tx.prepare_cached(BINDING)?;
            let mut touch = tx.prepare_cached(TOUCH)?;
            let mut count = tx.prepare_cached(COUNT)?;
            let mut cloned = tx.prepare_cached(CLONED)?;
            for ping in pings {
                let id = &ping.license_id;
                let bound = binding
                    .query_row(params![id], |row| {
                        Ok((
                            row.get::<_, String>(0)?,
                            row.get(1)?,
                            row.get(2)?,
                            row.get(3)?,
                            row.get::<_, Option<Vec<u8>>>(4)?,
                            row.get::<_, Option<i64>>(5)?,
                        ))
                    })
                    .optional()?
                    .map(
                        |(hub_key, last_hub_time_ms, confirmed, pending, history, last_ping_at)| {
                            Ok::<_, StoreError>(Binding {
                                hub_key,
                                last_ping_at,
                                last_hub_time_ms,
                                chain: Chain {
                                    confirmed: stored_nonce(confirmed)?,
                                    pending: stored_nonce(pending)?,
                                },
                                history: stored_history(history.as_deref())?,
                            })
                        },
                    )
                    .transpose()?;
                outcomes.push(match judge_write(bound.as_ref(), ping) {
                    Write::Count(chain, outcome) => {
                        let text = |n: Option<Nonce>| n.map(|n| n.to_string());
                        touch.execute(params![
                            id,
                            ping.at.as_unix(),
                            ping.hub_time_ms,
                            text(chain.confirmed),
                            text(chain.pending)
                        ])?;
                        // A license's second ping in this round reads what the first wrote.
                        let mut history = bound.map(|b| b.history).unwrap_or_default();
                        history.add(day_of(ping.at), 1);
                        count.execute(params![id, history.encode(), history.first_day()])?;
                        outcome
                    }
                    Write::Cloned => {
                        cloned.execute(params![id, ping.at.as_unix()])?;
                        PingOutcome::Cloned
                    }
                    Write::Refuse(outcome) => outcome,
                });
            }
        }
        tx.commit()?;
        Ok(outcomes)
    }
}

/// A row of [`LOOKUP`]; an unreadable stored value is an error of the round, not of the ping.
fn row_pair(row: &rusqlite::Row<'_>) -> rusqlite::Result<(LicenseRow, Option<ActivationRow>)> {
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
        state: row.get::<_, String>(10)?.parse().map_err(|e: StoreError| {
            rusqlite::Error::FromSqlConversionFailure(10, rusqlite::types::Type::Text, e.into())
        })?,
        registered_at: row.get(11)?,
        status_changed_at: row.get(12)?,
    };
    let nonce = |i: usize| -> rusqlite::Result<Option<Nonce>> {
        row.get::<_, Option<String>>(i)?
            .map(|text| {
                text.parse().map_err(|_| {
                    rusqlite::Error::FromSqlConversionFailure(
                        i,
                        rusqlite::types::Type::Text,
                        format!("stored nonce {text:?}").into(),
                    )
                })
            })
            .transpose()
    };
    let activation = if row.get::<_, bool>(18)? {
        Some(ActivationRow {
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
        })
    } else {
        None
    };
    Ok((license, activation))
}
