//! The ping path's statements over the pool (PostgreSQL, in-memory SQLite): one lookup
//! query per round and one transaction that records a round.

use std::collections::{BTreeMap, HashMap, HashSet};

use sqlx::{AssertSqlSafe, Row};

use super::{
    ActivationRow, LicenseRow, PingOutcome, PingRecord, Store, StoreError, activation_from_row,
    day_of, license_from_row,
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
    /// is newer than the last accepted one of that hub, so a replay is never counted, and
    /// only while the license is still bound to the hub key that signed it.
    ///
    /// The whole batch takes a few statements, not a few per ping: one conditional
    /// `UPDATE … FROM (VALUES …) RETURNING` for the replay check, the hub key and last-ping
    /// times, and one multi-row upsert of the day counts. A license twice in one batch
    /// (rare: hubs ping hourly) goes into a second round, so that its two pings are judged
    /// in order.
    pub async fn record_pings(&self, pings: &[PingRecord]) -> Result<Vec<PingOutcome>, StoreError> {
        let mut outcomes = vec![PingOutcome::NotActivated; pings.len()];
        let mut tx = self.begin_write().await?;
        let mut days: BTreeMap<(&str, i64), i64> = BTreeMap::new();
        let mut pending: Vec<usize> = (0..pings.len()).collect();
        while !pending.is_empty() {
            // This round: the first remaining ping of each license.
            let mut seen = HashSet::new();
            let (round, later): (Vec<usize>, Vec<usize>) =
                pending.iter().partition(|&&i| seen.insert(pings[i].license_id.as_str()));
            for chunk in round.chunks(PINGS_PER_STATEMENT) {
                let values = (0..chunk.len())
                    .map(|k| {
                        let p = 4 * k;
                        format!("(${}, ${}, ${}, ${})", p + 1, p + 2, p + 3, p + 4)
                    })
                    .collect::<Vec<_>>()
                    .join(",");
                let sql = format!(
                    "UPDATE activations SET last_ping_at = v.column2, last_hub_time_ms = v.column3 \
                     FROM (VALUES {values}) AS v \
                     WHERE activations.license_id = v.column1 AND activations.last_hub_time_ms < v.column3 \
                     AND activations.hub_key = v.column4 \
                     RETURNING activations.license_id"
                );
                let mut query = sqlx::query(AssertSqlSafe(sql));
                for &i in chunk {
                    query = query
                        .bind(&pings[i].license_id)
                        .bind(pings[i].at.as_unix())
                        .bind(pings[i].hub_time_ms)
                        .bind(&pings[i].hub_key);
                }
                let counted: HashSet<String> = query
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
                let bound = self.bound_keys(&mut tx, &refused).await?;
                for &i in chunk {
                    let ping = &pings[i];
                    outcomes[i] = if counted.contains(&ping.license_id) {
                        *days.entry((ping.license_id.as_str(), day_of(ping.at))).or_insert(0) += 1;
                        PingOutcome::Counted
                    } else {
                        refusal(bound.get(ping.license_id.as_str()).map(String::as_str), ping)
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

    /// The hub keys that `ids` are bound to now (to tell a replay from a reset or replaced
    /// binding).
    async fn bound_keys(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        ids: &[&str],
    ) -> Result<HashMap<String, String>, StoreError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let placeholders = (1..=ids.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(",");
        let sql = format!(
            "SELECT license_id, hub_key FROM activations WHERE license_id IN ({placeholders})"
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for id in ids {
            query = query.bind(*id);
        }
        query
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?)))
            .collect()
    }
}

/// Why a ping the conditional update did not count was refused, from the hub key the
/// license is bound to now: the one rule both ping paths use.
pub(super) fn refusal(bound_key: Option<&str>, ping: &PingRecord) -> PingOutcome {
    match bound_key {
        None => PingOutcome::NotActivated,
        Some(key) if key != ping.hub_key => PingOutcome::WrongKey,
        Some(_) => PingOutcome::Stale,
    }
}
