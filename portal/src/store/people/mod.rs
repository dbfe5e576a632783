//! People as stored: organizations, users and their sessions (docs/PORTAL.md). The rows
//! here; the statements by what they are about in the modules below.

mod credentials;
mod invitations;
mod organizations;
mod sessions;
mod users;

pub use invitations::InvitationRow;

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
    /// When they last signed in, if ever.
    pub last_signin_at: Option<i64>,
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
     next_signin_at, created_at, credentials_changed_at, totp_secret, totp_last_step, \
     last_signin_at";

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
        last_signin_at: row.try_get("last_signin_at")?,
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
}
