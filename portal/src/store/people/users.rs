//! Users: their accounts, roles, names, emails and erasure.

use sqlx::{AssertSqlSafe, Row};

use super::*;
use crate::store::{Store, StoreError};

impl Store {
    /// Stores a user. False when the email is taken.
    pub async fn insert_user(&self, user: &UserRow) -> Result<bool, StoreError> {
        let done = insert_user(user).execute(&self.pool).await?;
        Ok(done.rows_affected() == 1)
    }

    /// The person with this id.
    pub async fn user(&self, id: &str) -> Result<Option<UserRow>, StoreError> {
        self.user_where("id", id).await
    }

    /// The user with this (lower-cased) email.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRow>, StoreError> {
        self.user_where("email", email).await
    }

    /// The person whose `column` (one that is unique) is `value`.
    async fn user_where(
        &self,
        column: &'static str,
        value: &str,
    ) -> Result<Option<UserRow>, StoreError> {
        Ok(self.users_where(column, value).await?.pop())
    }

    /// The people whose `column` is `value`, by email.
    async fn users_where(
        &self,
        column: &'static str,
        value: &str,
    ) -> Result<Vec<UserRow>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_READ_COLUMNS} FROM users WHERE {column} = $1 ORDER BY email"
        )))
        .bind(value)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(user_from_row).collect()
    }

    /// Users by email, after `after`, at most `limit`; of one organization when given.
    pub async fn users(
        &self,
        org_id: Option<&str>,
        after: &str,
        limit: i64,
    ) -> Result<Vec<UserRow>, StoreError> {
        let rows =
            match org_id {
                Some(org) => {
                    sqlx::query(AssertSqlSafe(format!(
                        "SELECT {USER_READ_COLUMNS} FROM users WHERE org_id = $1 AND email > $2 \
                     ORDER BY email LIMIT $3"
                    )))
                    .bind(org)
                    .bind(after)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
                }
                None => sqlx::query(AssertSqlSafe(format!(
                    "SELECT {USER_READ_COLUMNS} FROM users WHERE email > $1 ORDER BY email LIMIT $2"
                )))
                .bind(after)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?,
            };
        rows.iter().map(user_from_row).collect()
    }

    /// Counts super-admins (the last one cannot be removed or demoted).
    pub async fn count_super_admins(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) FROM users WHERE role = 'super-admin'")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Changes a person's role and organization and ends all their sessions, in one
    /// transaction. Refused (false) when it would leave no super-admin.
    pub async fn set_role(
        &self,
        user_id: &str,
        role: &str,
        org_id: Option<&str>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE users SET role = $1, org_id = $2 WHERE id = $3")
            .bind(role)
            .bind(org_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        if !super_admin_left(&mut tx).await? {
            return Ok(false);
        }
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Removes a person: their sessions and recovery codes go, the API keys they made are
    /// revoked, and their row is deleted, in one transaction. Refused (false) when it would
    /// leave no super-admin.
    pub async fn delete_user(&self, user_id: &str, now: i64) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        for sql in [
            "DELETE FROM sessions WHERE user_id = $1",
            "DELETE FROM recovery_codes WHERE user_id = $1",
            "DELETE FROM email_changes WHERE user_id = $1",
            "DELETE FROM password_resets WHERE user_id = $1",
        ] {
            sqlx::query(sql).bind(user_id).execute(&mut *tx).await?;
        }
        sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 WHERE owner_id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        // Invitations to the same address go too: they hold the email.
        sqlx::query(
            "DELETE FROM invitations WHERE email = (SELECT email FROM users WHERE id = $1)",
        )
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM users WHERE id = $1").bind(user_id).execute(&mut *tx).await?;
        if !super_admin_left(&mut tx).await? {
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    /// After an erasure: on SQLite, moves every page of the write-ahead log into the database
    /// (where secure delete has zeroed what was deleted) and truncates the log, so the old
    /// page images that held the erased data are gone from both files. PostgreSQL: nothing
    /// (its vacuum reclaims dead rows; see docs/PRIVACY.md).
    pub async fn forget_deleted(&self) -> Result<(), StoreError> {
        if self.backend == crate::store::Backend::Sqlite {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&self.pool).await?;
        }
        Ok(())
    }

    /// Changes a person's name.
    pub async fn set_name(&self, user_id: &str, name: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET name = $1 WHERE id = $2")
            .bind(name)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Changes a person's email. False when another person has it.
    pub async fn set_email(&self, user_id: &str, email: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE users SET email = $1 WHERE id = $2 \
             AND NOT EXISTS (SELECT 1 FROM users WHERE email = $1)",
        )
        .bind(email)
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The sessions of a person: when each began and was last used.
    pub async fn sessions_of(&self, user_id: &str) -> Result<Vec<SessionRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT user_id, created_at, last_seen_at FROM sessions WHERE user_id = $1 \
             ORDER BY created_at",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(session_from_row).collect()
    }

    /// The people of an organization (for erasing them all).
    pub async fn users_of(&self, org_id: &str) -> Result<Vec<UserRow>, StoreError> {
        self.users_where("org_id", org_id).await
    }

    /// Stores an email change waiting for its link.
    pub async fn insert_email_change(
        &self,
        token_sha256: &str,
        user_id: &str,
        new_email: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO email_changes (token_sha256, user_id, new_email, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(token_sha256)
        .bind(user_id)
        .bind(new_email)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Takes an email change by its token's hash (deleting it): whose, the new address and
    /// its expiry.
    pub async fn take_email_change(
        &self,
        token_sha256: &str,
    ) -> Result<Option<(String, String, i64)>, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "SELECT user_id, new_email, expires_at FROM email_changes WHERE token_sha256 = $1",
        )
        .bind(token_sha256)
        .fetch_optional(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM email_changes WHERE token_sha256 = $1")
            .bind(token_sha256)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))).transpose()
    }

    /// Deletes email changes that expired before `now`.
    pub async fn delete_expired_email_changes(&self, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM email_changes WHERE expires_at < $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

/// Whether a super-admin is left after a change in `tx` (one that leaves none is dropped,
/// rolled back, by its caller).
async fn super_admin_left(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
) -> Result<bool, StoreError> {
    let left: i64 = sqlx::query("SELECT COUNT(*) FROM users WHERE role = 'super-admin'")
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)?;
    Ok(left > 0)
}
