//! Invitations, stored by their token's hash.

use sqlx::{AssertSqlSafe, Row};

use super::*;
use crate::store::{Store, StoreError};

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
