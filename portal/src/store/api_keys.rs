//! Admin API keys as stored: an id and the SHA-256 of the secret.

use sqlx::Row;
use tessera_core::UnixTime;

use super::{ApiKeyRow, Store, StoreError};

impl Store {
    // --- API keys ------------------------------------------------------------------------

    /// Stores a new API key.
    pub async fn insert_api_key(&self, key: &ApiKeyRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_keys (id, secret_sha256, scopes, label, created_at, expires_at, \
             revoked_at, owner_id, org_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&key.id)
        .bind(&key.secret_sha256)
        .bind(&key.scopes)
        .bind(&key.label)
        .bind(key.created_at)
        .bind(key.expires_at)
        .bind(key.revoked_at)
        .bind(&key.owner_id)
        .bind(&key.org_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The API key with this id.
    pub async fn api_key(&self, id: &str) -> Result<Option<ApiKeyRow>, StoreError> {
        Ok(self.api_keys_where(Some(("id", id))).await?.pop())
    }

    /// Every API key.
    pub async fn list_api_keys(&self) -> Result<Vec<ApiKeyRow>, StoreError> {
        self.api_keys_where(None).await
    }

    /// The keys limited to one organization, oldest first.
    pub async fn api_keys_of(&self, org_id: &str) -> Result<Vec<ApiKeyRow>, StoreError> {
        self.api_keys_where(Some(("org_id", org_id))).await
    }

    /// The keys a person made, oldest first.
    pub async fn api_keys_owned_by(&self, owner_id: &str) -> Result<Vec<ApiKeyRow>, StoreError> {
        self.api_keys_where(Some(("owner_id", owner_id))).await
    }

    /// The keys whose `column` is the value given (every key without one), oldest first.
    async fn api_keys_where(
        &self,
        filter: Option<(&'static str, &str)>,
    ) -> Result<Vec<ApiKeyRow>, StoreError> {
        let condition =
            filter.map(|(column, _)| format!(" WHERE {column} = $1")).unwrap_or_default();
        let sql = format!(
            "SELECT id, secret_sha256, scopes, label, created_at, expires_at, revoked_at, \
             owner_id, org_id, last_used_at FROM api_keys{condition} ORDER BY created_at, id"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        if let Some((_, value)) = filter {
            query = query.bind(value);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(api_key_from_row).collect()
    }

    /// Notes that the key was used at `now`.
    pub async fn note_api_key_use(&self, id: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Revokes the key at `now`; false when there was none to revoke.
    pub async fn revoke_api_key(&self, id: &str, now: UnixTime) -> Result<bool, StoreError> {
        let result =
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now.as_unix())
                .bind(id)
                .execute(&self.pool)
                .await?;
        Ok(result.rows_affected() == 1)
    }
}

fn api_key_from_row(row: &sqlx::any::AnyRow) -> Result<ApiKeyRow, StoreError> {
    Ok(ApiKeyRow {
        id: row.try_get("id")?,
        secret_sha256: row.try_get("secret_sha256")?,
        scopes: row.try_get("scopes")?,
        label: row.try_get("label")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
        owner_id: row.try_get("owner_id")?,
        org_id: row.try_get("org_id")?,
        last_used_at: row.try_get("last_used_at")?,
    })
}
