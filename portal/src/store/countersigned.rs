//! The runner keys countersigned per license: one transaction that reads a license's rows
//! and writes what the domain decided (`domain::pings::countersign`; the vendor's freeing,
//! `domain::runner_places`). Nothing here decides.

use sqlx::Row;

use super::{Backend, Store, StoreError};

/// A countersigning's transaction, opened by [`Store::begin_countersign`]; nothing is
/// written unless it is committed.
pub struct CountersignChange {
    tx: sqlx::Transaction<'static, sqlx::Any>,
}

/// A runner key id countersigned for a license, and until when it counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountersignedRow {
    /// The runner key's id, as the hub sent it.
    pub runner_place: String,
    /// Unix seconds: the grace's end of the last receipt that named it.
    pub until: i64,
}

impl Store {
    /// Opens the write transaction of a countersigning for `license_id`, with the keys
    /// countersigned so far (expired ones included). Two countersignings of one license
    /// wait for each other: SQLite's write lock; on PostgreSQL, the binding's row lock.
    pub async fn begin_countersign(
        &self,
        license_id: &str,
    ) -> Result<(CountersignChange, Vec<CountersignedRow>), StoreError> {
        let mut tx = self.begin_write().await?;
        if self.backend() == Backend::Postgres {
            sqlx::query("SELECT license_id FROM activations WHERE license_id = $1 FOR UPDATE")
                .bind(license_id)
                .fetch_optional(&mut *tx)
                .await?;
        }
        let rows = sqlx::query(
            "SELECT runner_place, until FROM countersigned_runners WHERE license_id = $1 \
             ORDER BY runner_place",
        )
        .bind(license_id)
        .fetch_all(&mut *tx)
        .await?;
        let rows = rows
            .iter()
            .map(|row| {
                Ok(CountersignedRow {
                    runner_place: row.try_get("runner_place")?,
                    until: row.try_get("until")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok((CountersignChange { tx }, rows))
    }

    /// The keys of `license_id` that count after `now` (the license page, the admin API):
    /// one read, no transaction.
    pub async fn countersigned_places(
        &self,
        license_id: &str,
        now: i64,
    ) -> Result<Vec<CountersignedRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT runner_place, until FROM countersigned_runners \
             WHERE license_id = $1 AND until > $2 ORDER BY runner_place",
        )
        .bind(license_id)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(CountersignedRow {
                    runner_place: row.try_get("runner_place")?,
                    until: row.try_get("until")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// The keys countersigned for `license_id`, expired ones included (tests).
    pub async fn countersigned_runners(
        &self,
        license_id: &str,
    ) -> Result<Vec<CountersignedRow>, StoreError> {
        let (change, rows) = self.begin_countersign(license_id).await?;
        change.tx.rollback().await?;
        Ok(rows)
    }
}

impl CountersignChange {
    /// Sets each key's `until` (a new key, or a renewed one).
    pub async fn keep(
        &mut self,
        license_id: &str,
        rows: &[CountersignedRow],
    ) -> Result<(), StoreError> {
        for row in rows {
            sqlx::query(
                "INSERT INTO countersigned_runners (license_id, runner_place, until) \
                 VALUES ($1, $2, $3) ON CONFLICT (license_id, runner_place) \
                 DO UPDATE SET until = excluded.until",
            )
            .bind(license_id)
            .bind(&row.runner_place)
            .bind(row.until)
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(())
    }

    /// Removes the keys of `license_id` that count no longer (`until` at or before `now`).
    pub async fn drop_ended(&mut self, license_id: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM countersigned_runners WHERE license_id = $1 AND until <= $2")
            .bind(license_id)
            .bind(now)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Removes the rows of `license_id`: every one, or the one of `place`. Answers how many
    /// went.
    pub async fn free(&mut self, license_id: &str, place: Option<&str>) -> Result<u64, StoreError> {
        let done =
            match place {
                Some(place) => sqlx::query(
                    "DELETE FROM countersigned_runners WHERE license_id = $1 AND runner_place = $2",
                )
                .bind(license_id)
                .bind(place)
                .execute(&mut *self.tx)
                .await?,
                None => {
                    sqlx::query("DELETE FROM countersigned_runners WHERE license_id = $1")
                        .bind(license_id)
                        .execute(&mut *self.tx)
                        .await?
                }
            };
        Ok(done.rows_affected())
    }

    /// Writes what was done.
    pub async fn commit(self) -> Result<(), StoreError> {
        Ok(self.tx.commit().await?)
    }
}
