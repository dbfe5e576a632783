//! Bulk registration on SQLite: one prepared INSERT run per license on a connection of its
//! own (rusqlite), three times the rows per second of the async driver's multi-row
//! statements, where every value is handed across threads and converted twice.

use std::path::Path;

use rusqlite::{TransactionBehavior, params};

use super::{LicenseRow, Registered, StoreError};

/// The page cache of a SQLite connection that registers licenses in bulk: 16 MiB
/// (the default is 2 MiB). A bulk write touches a page of each random-keyed index per row;
/// with room for them, a page touched by many rows is read and written once.
const SQLITE_CACHE: &str = "PRAGMA cache_size = -16384";

/// Stores `licenses` in one write transaction (one durable commit), answering for each, in
/// order, whether it is new or was there already. Blocking: run it off the async workers.
pub fn register_licenses(
    file: &Path,
    licenses: &[LicenseRow],
) -> Result<Vec<Registered>, StoreError> {
    let mut connection = super::sqlite_pings::connect(file)?;
    // Its own cache, gone with the connection: the pool's stay at SQLite's default. (A
    // longer checkpoint interval here, ~15 % faster, left a WAL large enough that a
    // following export grew the portal's memory by as much again: not worth it.)
    connection.execute_batch(SQLITE_CACHE)?;
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut answers = Vec::with_capacity(licenses.len());
    {
        let mut insert = tx.prepare(&format!(
            "INSERT INTO licenses ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, \
             ?12, ?13, ?14, {}) ON CONFLICT DO NOTHING",
            super::licenses::INSERT_COLUMNS,
            super::licenses::organization_of("?3")
        ))?;
        for license in licenses {
            let inserted = insert.execute(params![
                license.id,
                license.key_sha256,
                license.org,
                license.product,
                license.runners,
                license.not_before,
                license.expires_at,
                license.terminates_at,
                license.grace_period_secs,
                license.ping_interval_secs,
                license.state.as_str(),
                license.registered_at,
                license.status_changed_at,
                i64::from(license.runner_countersign),
            ])?;
            answers.push(if inserted == 1 { Registered::New } else { Registered::AlreadyThere });
        }
    }
    tx.commit()?;
    Ok(answers)
}
