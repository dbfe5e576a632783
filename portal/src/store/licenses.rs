//! Licenses and their bindings to hubs (activations).

use sqlx::{AssertSqlSafe, Row};
use tessera_core::UnixTime;

use super::{
    ACTIVATION_COLUMNS, Activation, ActivationRow, Bound, LICENSE_COLUMNS, LicenseRow,
    LicenseState, LicenseSummary, Registered, Store, StoreError, activation_from_row,
    license_from_row,
};
use crate::store::filter::{Bind, LicenseFilter, LicenseStanding, Where, page_source};

impl Store {
    // --- licenses ---------------------------------------------------------------------

    /// Stores a license; registering the same license twice is harmless.
    pub async fn register_license(&self, license: &LicenseRow) -> Result<Registered, StoreError> {
        let mut answers = self.register_licenses(std::slice::from_ref(license)).await?;
        Ok(answers.pop().unwrap_or(Registered::AlreadyThere))
    }

    /// Stores many licenses in one transaction (one durable commit), answering for each, in
    /// order, whether it is new or was there already.
    pub async fn register_licenses(
        &self,
        licenses: &[LicenseRow],
    ) -> Result<Vec<Registered>, StoreError> {
        if let Some(file) = self.sqlite_file.clone() {
            let licenses = licenses.to_vec();
            return tokio::task::spawn_blocking(move || {
                super::sqlite_bulk::register_licenses(&file, &licenses)
            })
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?;
        }
        // Multi-row statements that return the ids they inserted: a license not returned was
        // there already. 13 values a row, well under both databases' parameter limits.
        let mut tx = self.begin_write().await?;
        let mut inserted = std::collections::HashSet::new();
        for chunk in licenses.chunks(REGISTER_ROWS) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|k| {
                    let p = 13 * k;
                    let marks: Vec<String> = (1..=13).map(|i| format!("${}", p + i)).collect();
                    format!("({}, {})", marks.join(", "), organization_of(&format!("${}", p + 3)))
                })
                .collect();
            let sql = format!(
                "INSERT INTO licenses ({INSERT_COLUMNS}) VALUES {} ON CONFLICT DO NOTHING \
                 RETURNING id",
                rows.join(", ")
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for license in chunk {
                query = query
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
                    .bind(license.status_changed_at);
            }
            for row in query.fetch_all(&mut *tx).await? {
                inserted.insert(row.try_get::<String, _>(0)?);
            }
        }
        tx.commit().await?;
        // The same id twice in one call: the first is new, the second was there.
        Ok(licenses
            .iter()
            .map(|license| {
                if inserted.remove(&license.id) {
                    Registered::New
                } else {
                    Registered::AlreadyThere
                }
            })
            .collect())
    }

    /// The license with this id.
    pub async fn license(&self, id: &str) -> Result<Option<LicenseRow>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {LICENSE_COLUMNS} FROM licenses WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(license_from_row).transpose()
    }

    /// The license whose key hashes to `digest`.
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

    /// One page of the organizations that hold licenses, in name order, after `after` (a
    /// name, or the start), at most `limit`, each with its number of licenses. Read from the
    /// `(org, id)` index alone.
    pub async fn organization_page(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT org, COUNT(*) FROM licenses WHERE org > $1 GROUP BY org ORDER BY org LIMIT $2",
        )
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| Ok((row.try_get(0)?, row.try_get(1)?))).collect()
    }

    /// One page of licenses in license id order, after `after` (a license id, or the start),
    /// at most `limit`: a keyset walk, so licenses present when a walk starts are never
    /// repeated or skipped, whatever is added meanwhile.
    pub async fn license_page(
        &self,
        filter: &LicenseFilter,
        after: Option<&str>,
        limit: u32,
        now: UnixTime,
    ) -> Result<Vec<LicenseSummary>, StoreError> {
        let mut sql = Where::default();
        filter.conditions(&mut sql, now);
        let source = page_source(&mut sql, after);
        let limit_n = sql.bind(Bind::Int(i64::from(limit)));
        let query = format!(
            "SELECT {LICENSE_COLUMNS}, \
             CAST(CASE WHEN a.license_id IS NULL THEN 0 ELSE 1 END AS BIGINT) AS activated, \
             a.last_ping_at AS last_ping {source}{} ORDER BY l.id LIMIT ${limit_n}",
            sql.clause()
        );
        let rows = sql.apply(sqlx::query(AssertSqlSafe(query))).fetch_all(&self.pool).await?;
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

    /// The dashboard's figures over the licenses `filter` covers: how many in each standing
    /// (in [`LicenseStanding::ALL`]'s order), valid ones ending within `soon` seconds, and bound
    /// hubs silent past their license's grace period. One pass over the table.
    pub async fn license_counts(
        &self,
        filter: &LicenseFilter,
        soon: i64,
        now: UnixTime,
    ) -> Result<LicenseCounts, StoreError> {
        let mut sql = Where::default();
        filter.conditions(&mut sql, now);
        let t = sql.bind(Bind::Int(now.as_unix()));
        let t = format!("${t}");
        let soon_n = sql.bind(Bind::Int(now.as_unix().saturating_add(soon)));
        let mut sums: Vec<String> = LicenseStanding::ALL
            .iter()
            .map(|s| format!("SUM(CASE WHEN {} THEN 1 ELSE 0 END)", s.condition(&t)))
            .collect();
        sums.push(format!(
            "SUM(CASE WHEN {} AND l.expires_at < ${soon_n} THEN 1 ELSE 0 END)",
            LicenseStanding::Valid.condition(&t)
        ));
        sums.push(format!(
            "SUM(CASE WHEN a.license_id IS NOT NULL AND l.status = 'active' AND \
             COALESCE(a.last_ping_at, a.activated_at) < {t} - l.grace_period_secs \
             THEN 1 ELSE 0 END)"
        ));
        let casts: Vec<String> =
            sums.iter().map(|sum| format!("CAST(COALESCE({sum}, 0) AS BIGINT)")).collect();
        let query = format!(
            "SELECT {} FROM licenses l LEFT JOIN activations a ON a.license_id = l.id{}",
            casts.join(", "),
            sql.clause()
        );
        let row = sql.apply(sqlx::query(AssertSqlSafe(query))).fetch_one(&self.pool).await?;
        let mut by_standing = [0i64; 6];
        for (i, slot) in by_standing.iter_mut().enumerate() {
            *slot = row.try_get(i)?;
        }
        Ok(LicenseCounts {
            by_standing,
            ending_soon: row.try_get(6)?,
            silent_past_grace: row.try_get(7)?,
        })
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

    /// A customer's own reset of a binding: forgets the host unless the last such reset of
    /// this license was less than `every_secs` before `now`. `Err(last)` when too soon.
    pub async fn customer_reset_binding(
        &self,
        id: &str,
        every_secs: i64,
        now: UnixTime,
    ) -> Result<Result<bool, i64>, StoreError> {
        let now = now.as_unix();
        let mut tx = self.begin_write().await?;
        let allowed = sqlx::query(
            "UPDATE licenses SET customer_reset_at = $1 WHERE id = $2 \
             AND (customer_reset_at IS NULL OR customer_reset_at <= $3)",
        )
        .bind(now)
        .bind(id)
        .bind(now - every_secs)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !allowed {
            let last = sqlx::query("SELECT customer_reset_at FROM licenses WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .map(|row| row.try_get::<Option<i64>, _>(0))
                .transpose()?
                .flatten()
                .unwrap_or(now);
            return Ok(Err(last));
        }
        let reset = sqlx::query("DELETE FROM activations WHERE license_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        tx.commit().await?;
        Ok(Ok(reset))
    }

    /// Deletes licenses whose contract ended (expiry, or termination when later) before
    /// `ended_before`, with their bindings and counts, a thousand per transaction.
    /// Answers how many went.
    pub async fn delete_ended_licenses(&self, ended_before: i64) -> Result<u64, StoreError> {
        let mut deleted = 0u64;
        loop {
            let mut tx = self.begin_write().await?;
            // `expires_at < t` first (its index): a contract cannot end before it expires.
            let ids: Vec<String> = sqlx::query(
                "SELECT id FROM licenses WHERE expires_at < $1 \
                 AND (terminates_at IS NULL OR terminates_at < $1) LIMIT 1000",
            )
            .bind(ended_before)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|row| row.try_get::<String, _>(0))
            .collect::<Result<_, _>>()?;
            if ids.is_empty() {
                return Ok(deleted);
            }
            let marks: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
            let list = marks.join(", ");
            for table in ["activations", "ping_days", "ping_months"] {
                let sql = format!("DELETE FROM {table} WHERE license_id IN ({list})");
                let mut query = sqlx::query(AssertSqlSafe(sql));
                for id in &ids {
                    query = query.bind(id);
                }
                query.execute(&mut *tx).await?;
            }
            let mut query =
                sqlx::query(AssertSqlSafe(format!("DELETE FROM licenses WHERE id IN ({list})")));
            for id in &ids {
                query = query.bind(id);
            }
            deleted += query.execute(&mut *tx).await?.rows_affected();
            tx.commit().await?;
        }
    }

    /// Forgets the host a license is bound to, so that the next activation binds afresh:
    /// any hub when `admit` is `None`, else only the hub whose key id is `admit`.
    pub async fn reset_binding(&self, id: &str, admit: Option<&str>) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let result = sqlx::query("DELETE FROM activations WHERE license_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE licenses SET admit_hub_key = $1 WHERE id = $2")
            .bind(admit)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(result.rows_affected() == 1)
    }

    /// The number of forks recorded on a binding (the ping path records them).
    pub async fn forks(&self, license_id: &str) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT forks FROM activations WHERE license_id = $1")
            .bind(license_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|row| row.try_get::<i64, _>(0)).transpose()?.unwrap_or(0))
    }

    /// The hub key id a vendor's reset admits alone, while no hub has bound since.
    pub async fn admitted_hub_key(&self, id: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT admit_hub_key FROM licenses WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|row| row.try_get::<Option<String>, _>(0)).transpose()?.flatten())
    }

    // --- activations and pings -------------------------------------------------------------

    /// The license's binding, if it is activated.
    pub async fn activation(&self, license_id: &str) -> Result<Option<ActivationRow>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {ACTIVATION_COLUMNS} FROM activations WHERE license_id = $1"
        )))
        .bind(license_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(activation_from_row).transpose()
    }

    /// Moves a binding to a fingerprint of a newer version (the hub showed its older one,
    /// which matched), while it is still bound to `hub_key`.
    pub async fn move_fingerprint(
        &self,
        license_id: &str,
        hub_key: &str,
        fingerprint_json: &str,
        version: u8,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE activations SET fingerprint = $1, fingerprint_version = $2 \
             WHERE license_id = $3 AND hub_key = $4 AND fingerprint_version < $2",
        )
        .bind(fingerprint_json)
        .bind(i64::from(version))
        .bind(license_id)
        .bind(hub_key)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Binds `license_id` to a host, in one transaction: a first activation binds; the same
    /// host (judged by `same_host` on the stored fingerprint and its version) re-binds with
    /// its new key, at most once per `rebind_every_secs`; another host is refused. The
    /// binding's ping chain starts at `answer`, the nonce the receipt will echo.
    pub async fn activate(&self, call: &Activation<'_>) -> Result<Bound, StoreError> {
        let mut tx = self.begin_write().await?;
        let existing = sqlx::query(AssertSqlSafe(format!(
            "SELECT {ACTIVATION_COLUMNS} FROM activations WHERE license_id = $1"
        )))
        .bind(call.license_id)
        .fetch_optional(&mut *tx)
        .await?;
        let now = call.now.as_unix();
        let bound = match existing.as_ref().map(activation_from_row).transpose()? {
            None => {
                // ON CONFLICT: two hubs racing for a fresh license; the loser sees OtherHost
                // on its retry.
                let inserted = sqlx::query(
                    "INSERT INTO activations (license_id, fingerprint, fingerprint_version, \
                     hub_key, activated_at, last_ping_at, last_hub_time_ms, chain_pending) \
                     VALUES ($1, $2, $3, $4, $5, $5, $6, $7) ON CONFLICT DO NOTHING",
                )
                .bind(call.license_id)
                .bind(call.fingerprint_json)
                .bind(i64::from(call.fingerprint_version))
                .bind(call.hub_key)
                .bind(now)
                .bind(call.hub_time_ms)
                .bind(call.answer.to_string())
                .execute(&mut *tx)
                .await?;
                if inserted.rows_affected() == 1 {
                    // The hub a reset admitted has bound: the admission is spent.
                    sqlx::query("UPDATE licenses SET admit_hub_key = NULL WHERE id = $1")
                        .bind(call.license_id)
                        .execute(&mut *tx)
                        .await?;
                    Bound::New
                } else {
                    Bound::Stale
                }
            }
            Some(activation) => {
                match (call.same_host)(&activation.fingerprint, activation.fingerprint_version) {
                    Err((matched, needed)) => Bound::OtherHost { matched, needed },
                    Ok(()) if call.hub_time_ms <= activation.last_hub_time_ms => Bound::Stale,
                    Ok(()) => match activation.rebound_at {
                        Some(at) if now.saturating_sub(at) < call.rebind_every_secs => {
                            match repair(&activation, now, call.repairs_per_year) {
                                Some(year) => {
                                    rebind(&mut tx, call, now).await?;
                                    sqlx::query(
                                        "UPDATE activations SET repairs = $1, repairs_from = $2, \
                                     repaired_at = $3 WHERE license_id = $4",
                                    )
                                    .bind(year.repairs)
                                    .bind(year.from)
                                    .bind(now)
                                    .bind(call.license_id)
                                    .execute(&mut *tx)
                                    .await?;
                                    Bound::Repaired { repairs: year.repairs }
                                }
                                None => {
                                    sqlx::query(
                                "UPDATE activations SET cloned_at = $1 WHERE license_id = $2",
                            )
                            .bind(now)
                            .bind(call.license_id)
                            .execute(&mut *tx)
                            .await?;
                                    Bound::TooSoon { rebound_at: at }
                                }
                            }
                        }
                        _ => {
                            rebind(&mut tx, call, now).await?;
                            Bound::Again
                        }
                    },
                }
            }
        };
        tx.commit().await?;
        Ok(bound)
    }
}

/// A repair year after one more repair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RepairYear {
    /// Repairs in the year, the new one included.
    repairs: i64,
    /// When the year began.
    from: i64,
}

/// Seconds in a repair year.
const YEAR_SECS: i64 = 365 * 86_400;

/// Whether one more repair fits `per_year` at `now`: a year begins with its first repair
/// and lasts 365 days; the next repair after it begins a new one.
fn repair(activation: &ActivationRow, now: i64, per_year: i64) -> Option<RepairYear> {
    let year = match activation.repairs_from {
        Some(from) if now.saturating_sub(from) < YEAR_SECS => {
            RepairYear { repairs: activation.repairs + 1, from }
        }
        _ => RepairYear { repairs: 1, from: now },
    };
    (year.repairs <= per_year).then_some(year)
}

/// Re-binds the same host with the call's key and fingerprint: the chain starts over at
/// the call's answer; counted in `rebinds`.
async fn rebind(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    call: &Activation<'_>,
    now: i64,
) -> Result<(), StoreError> {
    // The key replaced is kept: a ping signed by it later is the old hub still running.
    sqlx::query(
        "UPDATE activations SET \
         previous_seen = CASE WHEN hub_key = $1 THEN previous_seen ELSE 0 END, \
         previous_hub_key = CASE WHEN hub_key = $1 THEN previous_hub_key ELSE hub_key END, \
         hub_key = $1, fingerprint = $2, \
         fingerprint_version = $3, last_ping_at = $4, \
         last_hub_time_ms = $5, chain_confirmed = NULL, chain_pending = $6, \
         rebinds = rebinds + 1, rebound_at = $4, rebound_hub_time_ms = $5 \
         WHERE license_id = $7 AND last_hub_time_ms < $5",
    )
    .bind(call.hub_key)
    .bind(call.fingerprint_json)
    .bind(i64::from(call.fingerprint_version))
    .bind(now)
    .bind(call.hub_time_ms)
    .bind(call.answer.to_string())
    .bind(call.license_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The columns a registration writes, in the order both writers bind them (13), then the
/// organization, found by [`organization_of`] the `org` claim (the third value).
pub(super) const INSERT_COLUMNS: &str = "id, key_sha256, org, product, runners, not_before, \
     expires_at, terminates_at, grace_period_secs, ping_interval_secs, status, registered_at, \
     status_changed_at, org_id";

/// The organization a license belongs to: the one named exactly as its `org` claim (the
/// placeholder `org`), or none. One rule for both writers.
pub(super) fn organization_of(org: &str) -> String {
    format!("(SELECT id FROM organizations WHERE name = {org})")
}

/// License rows per INSERT statement.
const REGISTER_ROWS: usize = 100;

/// The dashboard's figures ([`Store::license_counts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LicenseCounts {
    /// In [`LicenseStanding::ALL`]'s order.
    pub by_standing: [i64; 6],
    /// Valid licenses ending within 30 days.
    pub ending_soon: i64,
    /// Active, activated licenses whose hub has been silent past its grace period.
    pub silent_past_grace: i64,
}

#[cfg(test)]
mod repair_tests {
    use super::*;

    fn bound(repairs: i64, repairs_from: Option<i64>) -> ActivationRow {
        ActivationRow {
            license_id: "l".into(),
            fingerprint: "{}".into(),
            fingerprint_version: 2,
            hub_key: "key".into(),
            activated_at: 0,
            last_ping_at: None,
            last_hub_time_ms: 0,
            chain: tessera_core::chain::Chain::default(),
            cloned_at: None,
            rebinds: 1,
            rebound_at: Some(0),
            repairs,
            repairs_from,
            repaired_at: repairs_from,
        }
    }

    #[test]
    fn repairs_are_counted_per_year_up_to_the_allowance() {
        let day = 86_400;
        // The first repair begins a year.
        assert_eq!(repair(&bound(0, None), day, 4), Some(RepairYear { repairs: 1, from: day }));
        // Within it, each one counts, up to the allowance.
        let year = Some(day);
        assert_eq!(repair(&bound(3, year), 2 * day, 4), Some(RepairYear { repairs: 4, from: day }));
        assert_eq!(repair(&bound(4, year), 2 * day, 4), None);
        assert_eq!(repair(&bound(4, year), day + YEAR_SECS - 1, 4), None);
        // A year after its first repair, a new year begins.
        assert_eq!(
            repair(&bound(4, year), day + YEAR_SECS, 4),
            Some(RepairYear { repairs: 1, from: day + YEAR_SECS })
        );
        // No allowance: no repair.
        assert_eq!(repair(&bound(0, None), day, 0), None);
    }
}
