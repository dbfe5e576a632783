//! Ping counts: per day for a rolling 90 days, then per month; the rollup between them.

use std::collections::BTreeMap;

use futures_util::TryStreamExt;
use sqlx::{AssertSqlSafe, Row};
use tessera_core::UnixTime;

use super::filter::{Bind, Where};
use super::{
    DAYS_KEPT, LicenseFilter, MonthlyUsage, RollupReport, Store, StoreError, day_of, month_of_day,
};

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

    /// The usage of one page of licenses (license id order, after `after`, at most `limit`
    /// licenses, as [`Store::license_page`] walks them), and the last license id of the page
    /// (None at the end). Exports stream page after page, so memory never grows with the
    /// size of the answer.
    pub async fn usage_page(
        &self,
        filter: &LicenseFilter,
        after: Option<&str>,
        limit: u32,
        now: UnixTime,
    ) -> Result<(Vec<MonthlyUsage>, Option<String>), StoreError> {
        let mut sql = Where::default();
        filter.conditions(&mut sql, now);
        if let Some(after) = after {
            let n = sql.bind(Bind::Text(after.to_owned()));
            sql.push(format!("l.id > ${n}"));
        }
        let limit_n = sql.bind(Bind::Int(i64::from(limit)));
        let query = format!(
            "SELECT l.id, l.org, l.product FROM licenses l \
             LEFT JOIN activations a ON a.license_id = l.id{} ORDER BY l.id LIMIT ${limit_n}",
            sql.clause()
        );
        let rows = sql.apply(sqlx::query(AssertSqlSafe(query))).fetch_all(&self.pool).await?;
        let mut page: BTreeMap<String, (String, String)> = BTreeMap::new();
        for row in &rows {
            page.insert(row.try_get(0)?, (row.try_get(1)?, row.try_get(2)?));
        }
        let (Some(first), Some(last)) = (page.keys().next(), page.keys().next_back()) else {
            return Ok((Vec::new(), None));
        };
        let (first, last) = (first.clone(), last.clone());
        let mut totals: BTreeMap<(String, i64), i64> = BTreeMap::new();
        // Months, then days, of this page's licenses only: the filter again, within the
        // page's id range. Rows are added up as they arrive, never collected.
        for (table, column) in [("ping_months", "month"), ("ping_days", "day")] {
            let mut sql = Where::default();
            filter.conditions(&mut sql, now);
            let (a, b) = (sql.bind(Bind::Text(first.clone())), sql.bind(Bind::Text(last.clone())));
            sql.push(format!("u.license_id >= ${a} AND u.license_id <= ${b}"));
            let query = format!(
                "SELECT u.license_id, u.{column}, u.pings FROM {table} u \
                 JOIN licenses l ON l.id = u.license_id \
                 LEFT JOIN activations a ON a.license_id = l.id{}",
                sql.clause()
            );
            let query = sql.apply(sqlx::query(AssertSqlSafe(query)));
            let mut rows = query.fetch(&self.pool);
            while let Some(row) = rows.try_next().await? {
                let id: String = row.try_get(0)?;
                // A license registered since the page was read waits for the next export.
                if !page.contains_key(&id) {
                    continue;
                }
                let at: i64 = row.try_get(1)?;
                let month = if table == "ping_days" { month_of_day(at) } else { at };
                *totals.entry((id, month)).or_insert(0) += row.try_get::<i64, _>(2)?;
            }
        }
        let usage = totals
            .into_iter()
            .map(|((license_id, month), pings)| {
                let (org, product) = page.get(&license_id).cloned().unwrap_or_default();
                MonthlyUsage { license_id, org, product, month, pings }
            })
            .collect();
        let more = rows.len() == limit as usize;
        Ok((usage, more.then_some(last)))
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
