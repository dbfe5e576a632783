//! People as stored: organizations, users and their sessions (docs/PORTAL.md).

use sqlx::{AssertSqlSafe, Row};

use super::{Store, StoreError};

/// A customer organization.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OrganizationRow {
    /// The organization's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// When it was made.
    pub created_at: i64,
}

/// A person as stored. `Debug` leaves out the password hash.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRow {
    /// The person's id.
    pub id: String,
    /// Their email.
    pub email: String,
    /// Their name.
    pub name: String,
    /// Their role's word.
    pub role: String,
    /// Their organization, for an org-admin.
    pub org_id: Option<String>,
    /// Their password's hash.
    pub password_hash: String,
    /// Failed sign-ins in a row.
    pub failed_signins: i64,
    /// The earliest next sign-in (the growing delay).
    pub next_signin_at: i64,
    /// When they were added.
    pub created_at: i64,
    /// When their password or second factor last changed (older sessions end).
    pub credentials_changed_at: i64,
    /// The TOTP secret (base32) when the person turned the second factor on.
    pub totp_secret: Option<String>,
    /// The last TOTP time step a code was accepted for.
    pub totp_last_step: Option<i64>,
}

impl std::fmt::Debug for UserRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRow")
            .field("id", &self.id)
            .field("role", &self.role)
            .field("org_id", &self.org_id)
            .finish_non_exhaustive()
    }
}

/// A signed-in session as stored (the token's hash, never the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// Whose session.
    pub user_id: String,
    /// When it began.
    pub created_at: i64,
    /// When it was last used.
    pub last_seen_at: i64,
}

/// The columns a new user is inserted with (10).
const USER_COLUMNS: &str = "id, email, name, role, org_id, password_hash, failed_signins, \
     next_signin_at, created_at, credentials_changed_at";
/// The columns a user is read with.
const USER_READ_COLUMNS: &str = "id, email, name, role, org_id, password_hash, failed_signins, \
     next_signin_at, created_at, credentials_changed_at, totp_secret, totp_last_step";

fn user_from_row(row: &sqlx::any::AnyRow) -> Result<UserRow, StoreError> {
    Ok(UserRow {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        role: row.try_get("role")?,
        org_id: row.try_get("org_id")?,
        password_hash: row.try_get("password_hash")?,
        failed_signins: row.try_get("failed_signins")?,
        next_signin_at: row.try_get("next_signin_at")?,
        created_at: row.try_get("created_at")?,
        credentials_changed_at: row.try_get("credentials_changed_at")?,
        totp_secret: row.try_get("totp_secret")?,
        totp_last_step: row.try_get("totp_last_step")?,
    })
}

/// The statement that stores a new user (nothing when the email is taken).
fn insert_user(user: &UserRow) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT DO NOTHING"
    )))
    .bind(user.id.clone())
    .bind(user.email.clone())
    .bind(user.name.clone())
    .bind(user.role.clone())
    .bind(user.org_id.clone())
    .bind(user.password_hash.clone())
    .bind(user.failed_signins)
    .bind(user.next_signin_at)
    .bind(user.created_at)
    .bind(user.credentials_changed_at)
}

fn session_from_row(row: &sqlx::any::AnyRow) -> Result<SessionRow, StoreError> {
    Ok(SessionRow {
        user_id: row.try_get("user_id")?,
        created_at: row.try_get("created_at")?,
        last_seen_at: row.try_get("last_seen_at")?,
    })
}

fn organization_from_row(row: &sqlx::any::AnyRow) -> Result<OrganizationRow, StoreError> {
    Ok(OrganizationRow {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    /// The portal secret `name`: `fresh` is stored unless one is there already (another
    /// instance may have made it first); the stored one is answered.
    pub async fn portal_secret(&self, name: &str, fresh: &str) -> Result<String, StoreError> {
        sqlx::query(
            "INSERT INTO portal_secrets (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(name)
        .bind(fresh)
        .execute(&self.pool)
        .await?;
        let row = sqlx::query("SELECT value FROM portal_secrets WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get(0)?)
    }

    // --- organizations -------------------------------------------------------------------

    /// Stores an organization and assigns it every unassigned license whose `org` claim is
    /// exactly its name. False when the name is taken.
    pub async fn insert_organization(&self, org: &OrganizationRow) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&org.id)
        .bind(&org.name)
        .bind(org.created_at)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if inserted {
            sqlx::query("UPDATE licenses SET org_id = $1 WHERE org = $2 AND org_id IS NULL")
                .bind(&org.id)
                .bind(&org.name)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(inserted)
    }

    /// The organization with this id.
    pub async fn organization(&self, id: &str) -> Result<Option<OrganizationRow>, StoreError> {
        let row = sqlx::query("SELECT id, name, created_at FROM organizations WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(organization_from_row).transpose()
    }

    /// The organization with this name.
    pub async fn organization_named(
        &self,
        name: &str,
    ) -> Result<Option<OrganizationRow>, StoreError> {
        let row = sqlx::query("SELECT id, name, created_at FROM organizations WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(organization_from_row).transpose()
    }

    /// Organizations by name, after `after`, at most `limit` (no counts: cheap at any size).
    pub async fn organizations(
        &self,
        after: &str,
        limit: i64,
    ) -> Result<Vec<OrganizationRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, created_at FROM organizations WHERE name > $1 ORDER BY name LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(organization_from_row).collect()
    }

    /// One organization with its license count.
    pub async fn organization_counted(
        &self,
        id: &str,
    ) -> Result<Option<(OrganizationRow, i64)>, StoreError> {
        let Some(org) = self.organization(id).await? else { return Ok(None) };
        let row = sqlx::query("SELECT COUNT(*) FROM licenses WHERE org_id = $1")
            .bind(id)
            .fetch_one(&self.pool)
            .await?;
        Ok(Some((org, row.try_get(0)?)))
    }

    /// Organizations by name, after `after`, at most `limit`, with their license counts.
    pub async fn organization_records(
        &self,
        after: &str,
        limit: i64,
    ) -> Result<Vec<(OrganizationRow, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT o.id, o.name, o.created_at, \
             (SELECT COUNT(*) FROM licenses l WHERE l.org_id = o.id) AS licenses \
             FROM organizations o WHERE o.name > $1 ORDER BY o.name LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((organization_from_row(r)?, r.try_get::<i64, _>("licenses")?)))
            .collect()
    }

    /// The organization a license is assigned to, if any (None also when no such license).
    pub async fn license_organization(
        &self,
        license_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT org_id FROM licenses WHERE id = $1")
            .bind(license_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(row) => row.try_get::<Option<String>, _>(0)?,
            None => None,
        })
    }

    /// Assigns a license to an organization (or none). False when there is no such license.
    pub async fn assign_license(
        &self,
        license_id: &str,
        org_id: Option<&str>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE licenses SET org_id = $1 WHERE id = $2")
            .bind(org_id)
            .bind(license_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    // --- users ---------------------------------------------------------------------------

    /// Stores a user. False when the email is taken.
    pub async fn insert_user(&self, user: &UserRow) -> Result<bool, StoreError> {
        let done = insert_user(user).execute(&self.pool).await?;
        Ok(done.rows_affected() == 1)
    }

    /// The person with this id.
    pub async fn user(&self, id: &str) -> Result<Option<UserRow>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_READ_COLUMNS} FROM users WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// The user with this (lower-cased) email.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRow>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_READ_COLUMNS} FROM users WHERE email = $1"
        )))
        .bind(email)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from_row).transpose()
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
        let done = sqlx::query(
            "UPDATE users SET password_hash = $1, credentials_changed_at = $2, \
             failed_signins = 0, next_signin_at = 0 WHERE id = $3",
        )
        .bind(password_hash)
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        // A new password ends every session, and every reset link still pending.
        for sql in [
            "DELETE FROM sessions WHERE user_id = $1",
            "DELETE FROM password_resets WHERE user_id = $1",
        ] {
            sqlx::query(sql).bind(user_id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
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
        let left: i64 = sqlx::query("SELECT COUNT(*) FROM users WHERE role = 'super-admin'")
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if left == 0 {
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
        let left: i64 = sqlx::query("SELECT COUNT(*) FROM users WHERE role = 'super-admin'")
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if left == 0 {
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
        if self.backend == super::Backend::Sqlite {
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
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_READ_COLUMNS} FROM users WHERE org_id = $1 ORDER BY email"
        )))
        .bind(org_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(user_from_row).collect()
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

    // --- password resets -------------------------------------------------------------------

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
        let done = sqlx::query(
            "UPDATE users SET password_hash = $1, credentials_changed_at = $2, \
             failed_signins = 0, next_signin_at = 0 WHERE id = $3",
        )
        .bind(password_hash)
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        for sql in [
            "DELETE FROM sessions WHERE user_id = $1",
            "DELETE FROM password_resets WHERE user_id = $1",
        ] {
            sqlx::query(sql).bind(user_id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes password resets that expired before `now`.
    pub async fn delete_expired_password_resets(&self, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM password_resets WHERE expires_at < $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    // --- sessions ------------------------------------------------------------------------

    /// Stores a new session.
    pub async fn insert_session(
        &self,
        token_sha256: &str,
        user_id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (token_sha256, user_id, created_at, last_seen_at) \
             VALUES ($1, $2, $3, $3)",
        )
        .bind(token_sha256)
        .bind(user_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The session whose token hashes to `token_sha256`.
    pub async fn session(&self, token_sha256: &str) -> Result<Option<SessionRow>, StoreError> {
        let row = sqlx::query(
            "SELECT user_id, created_at, last_seen_at FROM sessions WHERE token_sha256 = $1",
        )
        .bind(token_sha256)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(session_from_row).transpose()
    }

    /// Notes a session's use (for idle expiry).
    pub async fn touch_session(&self, token_sha256: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE token_sha256 = $2")
            .bind(now)
            .bind(token_sha256)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Ends a session.
    pub async fn delete_session(&self, token_sha256: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE token_sha256 = $1")
            .bind(token_sha256)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Ends every session of a user ("sign out everywhere").
    pub async fn delete_sessions_of(&self, user_id: &str) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Deletes sessions idle since `idle_before` or begun before `begun_before`.
    pub async fn delete_expired_sessions(
        &self,
        idle_before: i64,
        begun_before: i64,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE last_seen_at < $1 OR created_at < $2")
            .bind(idle_before)
            .bind(begun_before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

/// An invitation as stored (the token's hash, never the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationRow {
    /// The SHA-256 of the invitation token, hex.
    pub token_sha256: String,
    /// Who is invited.
    pub email: String,
    /// The role offered.
    pub role: String,
    /// The organization, for an org-admin.
    pub org_id: Option<String>,
    /// Who invited them.
    pub invited_by: String,
    /// When.
    pub created_at: i64,
    /// When the invitation ends.
    pub expires_at: i64,
}

fn invitation_from_row(row: &sqlx::any::AnyRow) -> Result<InvitationRow, StoreError> {
    Ok(InvitationRow {
        token_sha256: row.try_get("token_sha256")?,
        email: row.try_get("email")?,
        role: row.try_get("role")?,
        org_id: row.try_get("org_id")?,
        invited_by: row.try_get("invited_by")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

const INVITATION_COLUMNS: &str =
    "token_sha256, email, role, org_id, invited_by, created_at, expires_at";

impl Store {
    /// Stores an invitation.
    pub async fn insert_invitation(&self, invitation: &InvitationRow) -> Result<(), StoreError> {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO invitations ({INVITATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        )))
        .bind(&invitation.token_sha256)
        .bind(&invitation.email)
        .bind(&invitation.role)
        .bind(&invitation.org_id)
        .bind(&invitation.invited_by)
        .bind(invitation.created_at)
        .bind(invitation.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The invitation whose token hashes to `token_sha256`.
    pub async fn invitation(
        &self,
        token_sha256: &str,
    ) -> Result<Option<InvitationRow>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations WHERE token_sha256 = $1"
        )))
        .bind(token_sha256)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(invitation_from_row).transpose()
    }

    /// Pending invitations, newest first; of one organization when given.
    pub async fn invitations(
        &self,
        org_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<InvitationRow>, StoreError> {
        let rows =
            match org_id {
                Some(org) => {
                    sqlx::query(AssertSqlSafe(format!(
                        "SELECT {INVITATION_COLUMNS} FROM invitations WHERE org_id = $1 \
                     ORDER BY created_at DESC LIMIT $2"
                    )))
                    .bind(org)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
                }
                None => sqlx::query(AssertSqlSafe(format!(
                    "SELECT {INVITATION_COLUMNS} FROM invitations ORDER BY created_at DESC LIMIT $1"
                )))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?,
            };
        rows.iter().map(invitation_from_row).collect()
    }

    /// Uses an invitation: stores the new user and deletes the invitation in one
    /// transaction. False when the invitation was already used (or the email is taken).
    pub async fn accept_invitation(
        &self,
        token_sha256: &str,
        user: &UserRow,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let taken = sqlx::query("DELETE FROM invitations WHERE token_sha256 = $1")
            .bind(token_sha256)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        if !taken {
            return Ok(false);
        }
        let inserted = insert_user(user).execute(&mut *tx).await?.rows_affected() == 1;
        if inserted {
            tx.commit().await?;
        }
        Ok(inserted)
    }

    /// The pending invitations one person made.
    pub async fn invitations_by(&self, invited_by: &str) -> Result<Vec<InvitationRow>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations WHERE invited_by = $1 \
             ORDER BY created_at"
        )))
        .bind(invited_by)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(invitation_from_row).collect()
    }

    /// Removes an invitation; false when there was none.
    pub async fn delete_invitation(&self, token_sha256: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM invitations WHERE token_sha256 = $1")
            .bind(token_sha256)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes invitations that expired before `now`.
    pub async fn delete_expired_invitations(&self, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM invitations WHERE expires_at < $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
