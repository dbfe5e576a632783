//! The ping path's statements over the pool (PostgreSQL, in-memory SQLite): one lookup
//! query per round and one transaction that records a round.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use sqlx::{AssertSqlSafe, Row};
use tessera_core::chain::{Chain, Link};

use super::day_counts::DayCounts;

use super::{
    ACTIVATION_COLUMNS, ActivationRow, Backend, LicenseRow, PingOutcome, PingRecord, Store,
    StoreError, activation_from_row, day_of, license_from_row, stored_nonce,
};

/// Rows per multi-row statement (four parameters each: well under both databases' limits).
const PINGS_PER_STATEMENT: usize = 500;

impl Store {
    /// Looks up many licenses with their activations in one query (the ping path's read).
    pub async fn licenses_with_activations(
        &self,
        ids: &[&str],
    ) -> Result<Vec<(LicenseRow, Option<ActivationRow>)>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders = (1..=ids.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(",");
        let activation_columns = ACTIVATION_COLUMNS
            .split(',')
            .map(|c| format!("a.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT l.id, l.key_sha256, l.org, l.product, l.runners, l.not_before, l.expires_at, \
             l.terminates_at, l.grace_period_secs, l.ping_interval_secs, l.status, l.registered_at, \
             l.status_changed_at, {activation_columns} \
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
    /// all), returning what happened to each, in order, by the rule of `judge_write`.
    /// The whole batch takes a few statements, not a few per ping: one read of the
    /// bindings (locked for the transaction on PostgreSQL, where several portals may
    /// write), one `UPDATE … FROM (VALUES …)` of last-ping times and chains, one of copies
    /// noticed, and one multi-row upsert of the day counts. A license twice in one batch is
    /// judged in order against the binding as the first ping left it.
    pub async fn record_pings(&self, pings: &[PingRecord]) -> Result<Vec<PingOutcome>, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut ids: Vec<&str> = pings.iter().map(|p| p.license_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        let lock = if self.backend == Backend::Postgres { " FOR UPDATE" } else { "" };
        let mut bindings: HashMap<String, Binding> = HashMap::new();
        for chunk in ids.chunks(PINGS_PER_STATEMENT) {
            let placeholders =
                (1..=chunk.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(",");
            // In license id order, so that concurrent writers (another portal, the rollup)
            // lock rows in one order and never deadlock.
            let sql = format!(
                "SELECT a.license_id, a.hub_key, a.last_hub_time_ms, a.chain_confirmed, \
                 a.chain_pending, l.day_counts FROM activations a \
                 JOIN licenses l ON l.id = a.license_id \
                 WHERE a.license_id IN ({placeholders}) ORDER BY a.license_id{lock}"
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&mut *tx).await? {
                let binding = Binding {
                    hub_key: row.try_get(1)?,
                    last_hub_time_ms: row.try_get(2)?,
                    chain: Chain {
                        confirmed: stored_nonce(row.try_get(3)?)?,
                        pending: stored_nonce(row.try_get(4)?)?,
                    },
                    history: stored_history(row.try_get::<Option<Vec<u8>>, _>(5)?.as_deref())?,
                };
                bindings.insert(row.try_get(0)?, binding);
            }
        }
        let mut outcomes = Vec::with_capacity(pings.len());
        let mut touched: BTreeMap<&str, i64> = BTreeMap::new();
        let mut cloned: BTreeSet<&str> = BTreeSet::new();
        let mut counted: BTreeSet<&str> = BTreeSet::new();
        for ping in pings {
            let binding = bindings.get_mut(&ping.license_id);
            outcomes.push(match judge_write(binding.as_deref(), ping) {
                Write::Count(chain) => {
                    if let Some(binding) = binding {
                        binding.last_hub_time_ms = ping.hub_time_ms;
                        binding.chain = chain;
                        binding.history.add(day_of(ping.at), 1);
                    }
                    touched.insert(&ping.license_id, ping.at.as_unix());
                    counted.insert(&ping.license_id);
                    PingOutcome::Counted
                }
                Write::Cloned => {
                    cloned.insert(&ping.license_id);
                    PingOutcome::Cloned
                }
                Write::Refuse(outcome) => outcome,
            });
        }
        let touched: Vec<(&str, i64)> = touched.into_iter().collect();
        for chunk in touched.chunks(PINGS_PER_STATEMENT) {
            let values = (0..chunk.len())
                .map(|k| {
                    let p = 5 * k;
                    format!("(${}, ${}, ${}, ${}, ${})", p + 1, p + 2, p + 3, p + 4, p + 5)
                })
                .collect::<Vec<_>>()
                .join(",");
            let sql = format!(
                "UPDATE activations SET last_ping_at = v.column2, last_hub_time_ms = v.column3, \
                 chain_confirmed = v.column4, chain_pending = v.column5 \
                 FROM (VALUES {values}) AS v WHERE activations.license_id = v.column1"
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for (id, at) in chunk {
                let binding = &bindings[*id];
                query = query
                    .bind(*id)
                    .bind(*at)
                    .bind(binding.last_hub_time_ms)
                    .bind(binding.chain.confirmed.map(|n| n.to_string()))
                    .bind(binding.chain.pending.map(|n| n.to_string()));
            }
            query.execute(&mut *tx).await?;
        }
        let cloned: Vec<&str> = cloned.into_iter().collect();
        for chunk in cloned.chunks(PINGS_PER_STATEMENT) {
            let placeholders =
                (2..=chunk.len() + 1).map(|i| format!("${i}")).collect::<Vec<_>>().join(",");
            let sql = format!(
                "UPDATE activations SET cloned_at = $1 WHERE license_id IN ({placeholders})"
            );
            let at = pings.first().map_or(0, |p| p.at.as_unix());
            let mut query = sqlx::query(AssertSqlSafe(sql)).bind(at);
            for id in chunk {
                query = query.bind(*id);
            }
            query.execute(&mut *tx).await?;
        }
        // The day counts: one row per license, as the activations above.
        let counted: Vec<&str> = counted.into_iter().collect();
        for chunk in counted.chunks(PINGS_PER_STATEMENT) {
            let values = (0..chunk.len())
                .map(|k| format!("(${}, ${}, ${})", 3 * k + 1, 3 * k + 2, 3 * k + 3))
                .collect::<Vec<_>>()
                .join(",");
            let sql = format!(
                "UPDATE licenses SET day_counts = v.column2, days_from = v.column3 \
                 FROM (VALUES {values}) AS v WHERE licenses.id = v.column1"
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for id in chunk {
                let history = &bindings[*id].history;
                query = query.bind(*id).bind(history.encode()).bind(history.first_day());
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(outcomes)
    }
}

/// A binding as a ping's write sees it, with its license's day counts.
pub(super) struct Binding {
    pub hub_key: String,
    pub last_hub_time_ms: i64,
    pub chain: Chain,
    pub history: DayCounts,
}

/// Day counts as stored; damaged bytes are a corrupt row.
pub(super) fn stored_history(bytes: Option<&[u8]>) -> Result<DayCounts, StoreError> {
    DayCounts::decode(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// What the write does with one authentic ping.
pub(super) enum Write {
    /// Count it; the binding's chain becomes this.
    Count(Chain),
    /// A copy of the hub: mark the binding, answer `cloned`.
    Cloned,
    Refuse(PingOutcome),
}

/// The one rule both ping paths' writes follow, against the binding as it is inside the
/// write transaction: still bound (not reset), to the key that signed (not replaced), a
/// newer call than the last (not a replay), holding the latest receipt (not a copy left
/// behind, [`tessera_core::chain`]).
pub(super) fn judge_write(binding: Option<&Binding>, ping: &PingRecord) -> Write {
    let Some(binding) = binding else { return Write::Refuse(PingOutcome::NotActivated) };
    if binding.hub_key != ping.hub_key {
        return Write::Refuse(PingOutcome::WrongKey);
    }
    if ping.hub_time_ms <= binding.last_hub_time_ms {
        return Write::Refuse(PingOutcome::Stale);
    }
    match binding.chain.judge(ping.holds) {
        Link::Forked => Write::Cloned,
        link => Write::Count(binding.chain.advanced(link, ping.answer)),
    }
}
