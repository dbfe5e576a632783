//! Organizations, and which licenses belong to them.

use sqlx::Row;

use super::*;
use crate::store::{Store, StoreError};

impl Store {
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
}
