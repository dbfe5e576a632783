//! Licenses and their bindings to hubs (activations).

use sqlx::{AssertSqlSafe, Row};
use tessera_core::UnixTime;

use super::{
    ACTIVATION_COLUMNS, ActivationRow, LICENSE_COLUMNS, LicenseRow, LicenseState, LicenseSummary,
    Registered, Store, StoreError, activation_from_row, license_from_row,
};
use crate::store::filter::{Bind, LicenseFilter, LicenseStanding, page_source, past_grace};

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
        // there already. 14 values a row, well under both databases' parameter limits.
        let mut tx = self.begin_write().await?;
        let mut inserted = std::collections::HashSet::new();
        for chunk in licenses.chunks(REGISTER_ROWS) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|k| {
                    let p = 14 * k;
                    let marks: Vec<String> = (1..=14).map(|i| format!("${}", p + i)).collect();
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
                    .bind(license.status_changed_at)
                    .bind(i64::from(license.runner_countersign));
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
        let mut sql = self.filtered(filter, now).await?;
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
        let mut sql = self.filtered(filter, now).await?;
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
        sums.push(format!("SUM(CASE WHEN {} THEN 1 ELSE 0 END)", past_grace(&t)));
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

    /// A customer's own reset of a binding at `now`: forgets the host, and notes the reset,
    /// unless the license's last such reset was after `last_by` (then `Err(last)`). One
    /// transaction, so that two resets at once cannot both pass.
    pub async fn customer_reset_binding(
        &self,
        id: &str,
        last_by: i64,
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
        .bind(last_by)
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
            for table in ["activations", "ping_days", "ping_months", "countersigned_runners"] {
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
}

/// The columns a registration writes, in the order both writers bind them (13), then the
/// organization, found by [`organization_of`] the `org` claim (the third value).
pub(super) const INSERT_COLUMNS: &str = "id, key_sha256, org, product, runners, not_before, \
     expires_at, terminates_at, grace_period_secs, ping_interval_secs, status, registered_at, \
     status_changed_at, runner_countersign, org_id";

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
