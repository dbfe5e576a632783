//! What a person signs in with: counted attempts, passwords, the second factor, and
//! password-reset links.

use sqlx::Row;

use crate::store::{Store, StoreError};

impl Store {
    /// Sets the failed sign-in count and when the next attempt is allowed, if the count is
    /// still `seen_failed` (compare-and-set); false when another attempt changed it first.
    pub async fn claim_signin_attempt(
        &self,
        user_id: &str,
        seen_failed: i64,
        failed: i64,
        next_signin_at: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE users SET failed_signins = $1, next_signin_at = $2 \
             WHERE id = $3 AND failed_signins = $4",
        )
        .bind(failed)
        .bind(next_signin_at)
        .bind(user_id)
        .bind(seen_failed)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A user's failed second-factor codes in a row, and until when the next code waits.
    pub async fn code_failures(&self, user_id: &str) -> Result<Option<(i64, i64)>, StoreError> {
        let row = sqlx::query("SELECT failed_codes, next_code_at FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
    }

    /// Counts a second-factor code attempt, as [`Store::claim_signin_attempt`] does a
    /// password's: a compare-and-set on the count. False when another attempt came first.
    pub async fn claim_code_attempt(
        &self,
        user_id: &str,
        seen_failed: i64,
        failed: i64,
        next_code_at: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE users SET failed_codes = $1, next_code_at = $2 \
             WHERE id = $3 AND failed_codes = $4",
        )
        .bind(failed)
        .bind(next_code_at)
        .bind(user_id)
        .bind(seen_failed)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Clears a user's failed codes (a right code, or `user unlock`).
    pub async fn clear_code_failures(&self, user_id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE users SET failed_codes = 0, next_code_at = 0 WHERE id = $1")
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Clears the failed sign-ins of a user (a good sign-in, or `user unlock`).
    pub async fn clear_failed_signins(&self, user_id: &str) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE users SET failed_signins = 0, next_signin_at = 0 WHERE id = $1")
                .bind(user_id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Replaces a user's password hash and ends all of their sessions, in one transaction.
    pub async fn set_password(
        &self,
        user_id: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = replace_password(&mut tx, user_id, password_hash, now).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// Turns a person's second factor on (a secret and the hashes of fresh recovery codes)
    /// or off (`None`, no codes), replacing any codes they had, and ends their sessions.
    pub async fn set_second_factor(
        &self,
        user_id: &str,
        secret: Option<&str>,
        recovery_sha256: &[String],
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let done =
            sqlx::query("UPDATE users SET totp_secret = $1, totp_last_step = NULL WHERE id = $2")
                .bind(secret)
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        for code in recovery_sha256 {
            sqlx::query("INSERT INTO recovery_codes (user_id, code_sha256) VALUES ($1, $2)")
                .bind(user_id)
                .bind(code)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(done)
    }

    /// Accepts a TOTP time step for a person once: false when this step (or a later one)
    /// was already used.
    pub async fn use_totp_step(&self, user_id: &str, step: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE users SET totp_last_step = $1 WHERE id = $2 \
             AND (totp_last_step IS NULL OR totp_last_step < $1)",
        )
        .bind(step)
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Uses up a recovery code: false when the person has no such (unused) code.
    pub async fn use_recovery_code(
        &self,
        user_id: &str,
        code_sha256: &str,
    ) -> Result<bool, StoreError> {
        let done =
            sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1 AND code_sha256 = $2")
                .bind(user_id)
                .bind(code_sha256)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Recovery codes a person has left.
    pub async fn recovery_codes_left(&self, user_id: &str) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Stores a person's password-reset link (its token's hash), replacing any they had: only
    /// the newest link works.
    pub async fn insert_password_reset(
        &self,
        token_sha256: &str,
        user_id: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM password_resets WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO password_resets (token_sha256, user_id, expires_at) VALUES ($1, $2, $3)",
        )
        .bind(token_sha256)
        .bind(user_id)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A pending password reset by its token's hash: whose, and until when.
    pub async fn password_reset(
        &self,
        token_sha256: &str,
    ) -> Result<Option<(String, i64)>, StoreError> {
        let row =
            sqlx::query("SELECT user_id, expires_at FROM password_resets WHERE token_sha256 = $1")
                .bind(token_sha256)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
    }

    /// Uses a password reset: its row is deleted and the person's password set, sessions
    /// ended and failed sign-ins cleared, in one transaction. False when the link was used
    /// meanwhile (a link works once, even when two requests race).
    pub async fn use_password_reset(
        &self,
        token_sha256: &str,
        user_id: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let taken =
            sqlx::query("DELETE FROM password_resets WHERE token_sha256 = $1 AND user_id = $2")
                .bind(token_sha256)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        if taken.rows_affected() != 1 {
            return Ok(false);
        }
        let done = replace_password(&mut tx, user_id, password_hash, now).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// The failed sign-ins of an address no one has (by its tag: [`Store::claim_signin_attempt`]'s
    /// count for an account), and until when the next attempt waits; none before its first.
    pub async fn unknown_address_signins(
        &self,
        address_tag: &str,
    ) -> Result<Option<(i64, i64)>, StoreError> {
        let row = sqlx::query(
            "SELECT failed_signins, next_signin_at FROM unknown_address_signins \
             WHERE address_tag = $1",
        )
        .bind(address_tag)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(row) => Some((row.try_get(0)?, row.try_get(1)?)),
            None => None,
        })
    }

    /// Counts a sign-in attempt of an address no one has, as [`Store::claim_signin_attempt`]
    /// does an account's: a compare-and-set on the count (`seen_failed` 0: none counted yet,
    /// the row made). False when another attempt changed it first.
    pub async fn claim_unknown_address_attempt(
        &self,
        address_tag: &str,
        seen_failed: i64,
        failed: i64,
        next_signin_at: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO unknown_address_signins (address_tag, failed_signins, next_signin_at) \
             VALUES ($1, $2, $3) ON CONFLICT (address_tag) DO UPDATE \
             SET failed_signins = $2, next_signin_at = $3 \
             WHERE unknown_address_signins.failed_signins = $4",
        )
        .bind(address_tag)
        .bind(failed)
        .bind(next_signin_at)
        .bind(seen_failed)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes the counts of unknown addresses last tried (or held until) before `before`.
    pub async fn delete_old_unknown_address_signins(&self, before: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM unknown_address_signins WHERE next_signin_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Deletes password resets that expired before `now`.
    pub async fn delete_expired_password_resets(&self, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM password_resets WHERE expires_at < $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

/// Sets a person's password hash within `tx`, clearing their failed sign-ins: a new
/// password ends every session, and every reset link still pending. False when there is no
/// such person.
async fn replace_password(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    user_id: &str,
    password_hash: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE users SET password_hash = $1, credentials_changed_at = $2, \
         failed_signins = 0, next_signin_at = 0 WHERE id = $3",
    )
    .bind(password_hash)
    .bind(now)
    .bind(user_id)
    .execute(&mut **tx)
    .await?;
    for sql in [
        "DELETE FROM sessions WHERE user_id = $1",
        "DELETE FROM password_resets WHERE user_id = $1",
    ] {
        sqlx::query(sql).bind(user_id).execute(&mut **tx).await?;
    }
    Ok(done.rows_affected() == 1)
}
