//! Licenses and their bindings to hubs (activations).

use sqlx::{AssertSqlSafe, Row};
use tessera_core::UnixTime;

use super::{
    ActivationRow, Bound, LICENSE_COLUMNS, LicenseRow, LicenseState, LicenseSummary, Registered,
    Store, StoreError, activation_from_row, license_from_row,
};

impl Store {
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
}
