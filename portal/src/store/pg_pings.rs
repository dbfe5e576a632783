//! The ping path's statements on PostgreSQL, on a connection of its own per ping thread
//! with PostgreSQL's own driver, run on that thread by a small runtime of its own (the
//! threads block on each round anyway). Each statement is one fixed text that takes a
//! round's values as arrays (`= ANY($1)`, `unnest`), so a connection prepares it once and
//! PostgreSQL plans it once, whatever the size of the round. A connection that fails is
//! dropped and opened again for the next round.

use std::collections::HashMap;

use sqlx::postgres::{PgConnectOptions, PgRow};
use sqlx::{ConnectOptions, Connection, Row};

use tessera_core::chain::Chain;

use super::pings::{Binding, Found, PingReader, PingWriter, Replaced, RoundWrites, stored_history};
use super::{StoreError, activation_from_row, license_from_row, stored_nonce};

/// The license, its binding and the key its last re-activation replaced, for each license
/// id of a round.
const LOOKUP: &str = "SELECT l.id, l.key_sha256, l.org, l.product, l.runners, l.not_before, \
     l.expires_at, l.terminates_at, l.grace_period_secs, l.ping_interval_secs, l.status, \
     l.registered_at, l.status_changed_at, a.license_id, a.fingerprint, a.fingerprint_version, \
     a.hub_key, a.activated_at, a.last_ping_at, a.last_hub_time_ms, a.chain_confirmed, \
     a.chain_pending, a.cloned_at, a.rebinds, a.rebound_at, a.repairs, a.repairs_from, \
     a.repaired_at, a.previous_hub_key, a.rebound_hub_time_ms, l.runner_countersign \
     FROM licenses l LEFT JOIN activations a ON a.license_id = l.id WHERE l.id = ANY($1)";

/// The bindings of a round with their day counts, locked for the write transaction in
/// license id order (several portals, and the rollup, lock in the same order: no deadlock).
const BINDINGS: &str = "SELECT a.license_id, a.hub_key, a.last_ping_at, a.last_hub_time_ms, \
     a.chain_confirmed, a.chain_pending, l.day_counts \
     FROM activations a JOIN licenses l ON l.id = a.license_id \
     WHERE a.license_id = ANY($1) ORDER BY a.license_id FOR UPDATE";

/// The counted pings of a round in one statement: each license's last-ping time and chain,
/// and its day counts.
const COUNT: &str = "WITH v AS ( \
       SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[], $4::text[], $5::text[], \
                            $6::bytea[], $7::int8[]) \
         AS v(id, at, hub_time_ms, confirmed, pending, day_counts, days_from) \
     ), touched AS ( \
       UPDATE activations a SET last_ping_at = v.at, last_hub_time_ms = v.hub_time_ms, \
         chain_confirmed = v.confirmed, chain_pending = v.pending \
       FROM v WHERE a.license_id = v.id \
     ) \
     UPDATE licenses l SET day_counts = v.day_counts, days_from = v.days_from \
     FROM v WHERE l.id = v.id";

/// Copies of hubs noticed in a round.
const CLONED: &str = "UPDATE activations SET cloned_at = $1 WHERE license_id = ANY($2)";

/// A fork: the replaced key seen again, counted once per re-activation.
const FORK: &str = "UPDATE activations SET forks = forks + 1 - previous_seen, \
     previous_seen = 1, cloned_at = $3 WHERE license_id = $1 AND previous_hub_key = $2";

/// How long opening a connection may take.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// One ping thread's connection: its runtime, and the connection while it works.
pub struct PgConnection {
    options: PgConnectOptions,
    runtime: tokio::runtime::Runtime,
    connection: Option<sqlx::PgConnection>,
}

impl PgConnection {
    /// Prepares a connection to the database the store has already migrated; it connects
    /// at its first round.
    pub fn open(options: PgConnectOptions) -> Result<PgConnection, StoreError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Task(e.to_string()))?;
        Ok(PgConnection { options, runtime, connection: None })
    }

    /// Runs `work` on the connection (opened if needed); a failed connection is dropped.
    fn run<T>(
        &mut self,
        work: impl AsyncFnOnce(&mut sqlx::PgConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let PgConnection { options, runtime, connection } = self;
        let result = runtime.block_on(async {
            if connection.is_none() {
                // As the pool's acquire timeout: a server that does not answer fails the
                // round rather than holding the ping path.
                let connect = tokio::time::timeout(CONNECT_TIMEOUT, options.connect());
                *connection = Some(connect.await.map_err(|_| sqlx::Error::PoolTimedOut)??);
            }
            match connection.as_mut() {
                Some(connection) => work(connection).await,
                None => Err(StoreError::Task("no connection".to_owned())),
            }
        });
        if matches!(result, Err(StoreError::Sql(_))) {
            self.connection = None;
        }
        result
    }
}

impl PingReader for PgConnection {
    fn lookup(&mut self, ids: &[&str]) -> Result<Vec<Option<Found>>, StoreError> {
        let rows = self.run(async |c| Ok(sqlx::query(LOOKUP).bind(ids).fetch_all(c).await?))?;
        let mut found: HashMap<String, Found> = HashMap::with_capacity(rows.len());
        for row in &rows {
            let found_row = found_row(row)?;
            found.insert(found_row.license.id.clone(), found_row);
        }
        // Each ping gets its own copy: a license may ping twice in one round (rare: only a
        // license's last ping in the round takes the row without copying it).
        let mut left: HashMap<&str, usize> = HashMap::with_capacity(ids.len());
        for id in ids {
            *left.entry(id).or_default() += 1;
        }
        Ok(ids
            .iter()
            .map(|id| {
                let left = left.get_mut(id)?;
                *left -= 1;
                if *left == 0 { found.remove(*id) } else { found.get(*id).cloned() }
            })
            .collect())
    }
}

impl PingWriter for PgConnection {
    fn begin(&mut self, ids: &[&str]) -> Result<HashMap<String, Binding>, StoreError> {
        let rows = self.run(async |c| {
            sqlx::query("BEGIN").execute(&mut *c).await?;
            Ok(sqlx::query(BINDINGS).bind(ids).fetch_all(&mut *c).await?)
        })?;
        let mut bindings = HashMap::with_capacity(rows.len());
        for row in &rows {
            let binding = Binding {
                hub_key: row.try_get("hub_key")?,
                last_ping_at: row.try_get("last_ping_at")?,
                last_hub_time_ms: row.try_get("last_hub_time_ms")?,
                chain: Chain {
                    confirmed: stored_nonce(row.try_get("chain_confirmed")?)?,
                    pending: stored_nonce(row.try_get("chain_pending")?)?,
                },
                history: stored_history(
                    row.try_get::<Option<Vec<u8>>, _>("day_counts")?.as_deref(),
                )?,
            };
            bindings.insert(row.try_get("license_id")?, binding);
        }
        Ok(bindings)
    }

    fn finish(&mut self, writes: &RoundWrites<'_>) -> Result<Vec<bool>, StoreError> {
        let n = writes.counted.len();
        let (mut ids, mut at, mut hub_time_ms) =
            (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        let (mut confirmed, mut pending) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let (mut day_counts, mut days_from) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for (id, binding) in &writes.counted {
            ids.push(*id);
            at.push(binding.last_ping_at);
            hub_time_ms.push(binding.last_hub_time_ms);
            confirmed.push(binding.chain.confirmed.map(|n| n.to_string()));
            pending.push(binding.chain.pending.map(|n| n.to_string()));
            day_counts.push(binding.history.encode());
            days_from.push(binding.history.first_day());
        }
        self.run(async |c| {
            if !ids.is_empty() {
                sqlx::query(COUNT)
                    .bind(&ids)
                    .bind(&at)
                    .bind(&hub_time_ms)
                    .bind(&confirmed)
                    .bind(&pending)
                    .bind(&day_counts)
                    .bind(&days_from)
                    .execute(&mut *c)
                    .await?;
            }
            if !writes.cloned.is_empty() {
                sqlx::query(CLONED)
                    .bind(writes.cloned_at)
                    .bind(&writes.cloned)
                    .execute(&mut *c)
                    .await?;
            }
            let mut forks = Vec::with_capacity(writes.forks.len());
            for (id, key) in &writes.forks {
                let done = sqlx::query(FORK)
                    .bind(*id)
                    .bind(*key)
                    .bind(writes.cloned_at)
                    .execute(&mut *c)
                    .await?;
                forks.push(done.rows_affected() == 1);
            }
            sqlx::query("COMMIT").execute(&mut *c).await?;
            Ok(forks)
        })
    }

    fn abandon(&mut self) {
        // A connection in an unknown state is not reused: dropping it ends its transaction.
        if let Some(connection) = self.connection.take() {
            let _ = self.runtime.block_on(connection.close());
        }
    }
}

/// A row of [`LOOKUP`].
fn found_row(row: &PgRow) -> Result<Found, StoreError> {
    let license = license_from_row(row)?;
    if row.try_get::<Option<String>, _>("license_id")?.is_none() {
        return Ok(Found { license, activation: None, replaced: None });
    }
    let activation = activation_from_row(row)?;
    let replaced =
        match (row.try_get::<Option<String>, _>("previous_hub_key")?, activation.rebound_at) {
            (Some(hub_key), Some(rebound_at)) => Some(Replaced {
                hub_key,
                rebound_at,
                rebound_hub_time_ms: row.try_get("rebound_hub_time_ms")?,
            }),
            _ => None,
        };
    Ok(Found { license, activation: Some(activation), replaced })
}
