//! The writes of an activation: one transaction that reads a license's binding and then
//! binds, re-binds, counts a repair or marks a refused copy, as the domain decided
//! (`domain::rebinding`). Nothing here decides.

use super::{
    ACTIVATION_COLUMNS, Activation, ActivationRow, Store, StoreError, activation_from_row,
};
use sqlx::AssertSqlSafe;

/// An activation's transaction, opened by [`Store::begin_binding`]; nothing is written
/// unless it is committed.
pub struct BindingChange {
    tx: sqlx::Transaction<'static, sqlx::Any>,
}

impl Store {
    /// Opens the write transaction of an activation of `license_id`, with its binding as it
    /// is now (none: not bound).
    pub async fn begin_binding(
        &self,
        license_id: &str,
    ) -> Result<(BindingChange, Option<ActivationRow>), StoreError> {
        let mut tx = self.begin_write().await?;
        let existing = sqlx::query(AssertSqlSafe(format!(
            "SELECT {ACTIVATION_COLUMNS} FROM activations WHERE license_id = $1"
        )))
        .bind(license_id)
        .fetch_optional(&mut *tx)
        .await?;
        let existing = existing.as_ref().map(activation_from_row).transpose()?;
        Ok((BindingChange { tx }, existing))
    }
}

impl BindingChange {
    /// Binds a license that had no binding (to the host and hub key of `call`), and spends the admission of a vendor's reset.
    /// False when another hub bound it meanwhile (two hubs racing for a fresh license: the
    /// loser sees the other host on its retry).
    pub async fn bind_first(&mut self, call: &Activation<'_>) -> Result<bool, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO activations (license_id, fingerprint, fingerprint_version, \
             hub_key, activated_at, last_ping_at, last_hub_time_ms, chain_pending) \
             VALUES ($1, $2, $3, $4, $5, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(call.license_id)
        .bind(call.fingerprint_json)
        .bind(i64::from(call.fingerprint_version))
        .bind(call.hub_key)
        .bind(call.now.as_unix())
        .bind(call.hub_time_ms)
        .bind(call.answer.to_string())
        .execute(&mut *self.tx)
        .await?;
        if inserted.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query("UPDATE licenses SET admit_hub_key = NULL WHERE id = $1")
            .bind(call.license_id)
            .execute(&mut *self.tx)
            .await?;
        Ok(true)
    }

    /// Re-binds the same host with the call's key and fingerprint: the chain starts over at
    /// the call's answer; counted in `rebinds`. The key replaced is kept: a ping signed by
    /// it later is the old hub still running.
    pub async fn rebind(&mut self, call: &Activation<'_>) -> Result<(), StoreError> {
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
        .bind(call.now.as_unix())
        .bind(call.hub_time_ms)
        .bind(call.answer.to_string())
        .bind(call.license_id)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Records a repair of `license_id` at `now`: `repairs` in the year that began at `from`.
    pub async fn count_repair(
        &mut self,
        license_id: &str,
        (repairs, from): (i64, i64),
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE activations SET repairs = $1, repairs_from = $2, repaired_at = $3 \
             WHERE license_id = $4",
        )
        .bind(repairs)
        .bind(from)
        .bind(now)
        .bind(license_id)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Records that a copy of the bound hub was refused at `now`.
    pub async fn mark_cloned(&mut self, license_id: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE activations SET cloned_at = $1 WHERE license_id = $2")
            .bind(now)
            .bind(license_id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Writes what was done.
    pub async fn commit(self) -> Result<(), StoreError> {
        Ok(self.tx.commit().await?)
    }
}
