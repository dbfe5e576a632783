//! Ping counts: per day for a rolling 90 days, then per month; the rollup between them.

use std::collections::BTreeMap;

use sqlx::{AssertSqlSafe, Row};
use tessera_core::UnixTime;

use super::{DAYS_KEPT, MonthlyUsage, RollupReport, Store, StoreError, day_of, month_of_day};

impl Store {
    // --- usage ---------------------------------------------------------------------------

    /// Pings per license and month: rolled-up months plus the days not yet rolled.
    pub async fn monthly_usage(
        &self,
        license_id: Option<&str>,
    ) -> Result<Vec<MonthlyUsage>, StoreError> {
        let filter = if license_id.is_some() { "WHERE l.id = $1" } else { "" };
        let months = sqlx::query(AssertSqlSafe(format!(
            "SELECT l.id, l.org, l.product, m.month, m.pings FROM ping_months m \
             JOIN licenses l ON l.id = m.license_id {filter}"
        )));
        let days = sqlx::query(AssertSqlSafe(format!(
            "SELECT l.id, l.org, l.product, d.day, d.pings FROM ping_days d \
             JOIN licenses l ON l.id = d.license_id {filter}"
        )));
        let (months, days) = match license_id {
            Some(id) => (months.bind(id), days.bind(id)),
            None => (months, days),
        };
        let mut totals: BTreeMap<(String, i64), MonthlyUsage> = BTreeMap::new();
        let mut add = |id: String, org: String, product: String, month: i64, pings: i64| {
            totals
                .entry((id.clone(), month))
                .or_insert(MonthlyUsage { license_id: id, org, product, month, pings: 0 })
                .pings += pings;
        };
        for row in months.fetch_all(&self.pool).await? {
            add(
                row.try_get(0)?,
                row.try_get(1)?,
                row.try_get(2)?,
                row.try_get(3)?,
                row.try_get(4)?,
            );
        }
        for row in days.fetch_all(&self.pool).await? {
            let day: i64 = row.try_get(3)?;
            add(
                row.try_get(0)?,
                row.try_get(1)?,
                row.try_get(2)?,
                month_of_day(day),
                row.try_get(4)?,
            );
        }
        Ok(totals.into_values().collect())
    }

    /// Per-day counts (for tests and the detail view).
    pub async fn daily_pings(&self, license_id: &str) -> Result<Vec<(i64, i64)>, StoreError> {
        let rows =
            sqlx::query("SELECT day, pings FROM ping_days WHERE license_id = $1 ORDER BY day")
                .bind(license_id)
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }

    /// Rolls every day but the last [`DAYS_KEPT`] (today included) into months, in one
    /// transaction: run it twice and the second run finds nothing; totals are conserved.
    pub async fn rollup(&self, now: UnixTime) -> Result<RollupReport, StoreError> {
        let cutoff = day_of(now) - (DAYS_KEPT - 1);
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query("SELECT license_id, day, pings FROM ping_days WHERE day < $1")
            .bind(cutoff)
            .fetch_all(&mut *tx)
            .await?;
        let mut months: BTreeMap<(String, i64), i64> = BTreeMap::new();
        let mut report = RollupReport::default();
        for row in &rows {
            let license_id: String = row.try_get(0)?;
            let day: i64 = row.try_get(1)?;
            let pings: i64 = row.try_get(2)?;
            *months.entry((license_id, month_of_day(day))).or_insert(0) += pings;
            report.days_rolled += 1;
            report.pings_moved += pings;
        }
        for ((license_id, month), pings) in months {
            sqlx::query(
                "INSERT INTO ping_months (license_id, month, pings) VALUES ($1, $2, $3) \
                 ON CONFLICT (license_id, month) DO UPDATE SET pings = ping_months.pings + excluded.pings",
            )
            .bind(license_id)
            .bind(month)
            .bind(pings)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("DELETE FROM ping_days WHERE day < $1").bind(cutoff).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(report)
    }
}
