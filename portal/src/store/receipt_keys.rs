//! The vendor delegations of receipt keys the portal has served (see
//! `domain::pings::ReceiptKeys`): recorded at start, read back whole.

use sqlx::Row;

use super::{Store, StoreError};

impl Store {
    /// Keeps the delegation `text` of the receipt key `key_id` (the first one kept for a
    /// key stays).
    pub async fn record_delegation(
        &self,
        key_id: &str,
        text: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO receipt_keys (key_id, delegation, recorded_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key_id) DO NOTHING",
        )
        .bind(key_id)
        .bind(text)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every delegation kept, armored.
    pub async fn delegations(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT delegation FROM receipt_keys ORDER BY recorded_at")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|row| row.try_get(0)).collect::<Result<_, _>>()?)
    }
}
