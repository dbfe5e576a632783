//! Ping counts: per day for a rolling 90 days (kept with each license as a few bytes,
//! [`DayCounts`]), then per month (`ping_months`); the rollup between them.

use std::collections::BTreeMap;

use futures_util::TryStreamExt;
use sqlx::{AssertSqlSafe, Row};
use tessera_core::UnixTime;

use super::day_counts::DayCounts;
use super::filter::{Bind, page_source};
use super::pings::stored_history;
use super::{
    Backend, DAYS_KEPT, LicenseFilter, MonthlyUsage, RollupReport, Store, StoreError, day_of,
    month_of_day,
};

impl Store {
    // --- usage ---------------------------------------------------------------------------

    /// Pings per month of one license: rolled-up months plus the days not yet rolled.
    pub async fn monthly_usage(&self, license_id: &str) -> Result<Vec<MonthlyUsage>, StoreError> {
        let filter =
            LicenseFilter { ids: Some(vec![license_id.to_owned()]), ..LicenseFilter::default() };
        let page = self.usage_page(&filter, None, 1, UnixTime::EPOCH).await?;
        Ok(page
            .rows
            .iter()
            .map(|row| {
                let license = &page.licenses[row.license];
                MonthlyUsage {
                    license_id: license.id.clone(),
                    org: license.org.clone(),
                    product: license.product.clone(),
                    month: row.month,
                    pings: row.pings,
                }
            })
            .collect())
    }

    /// The usage of one page of licenses (license id order, after `after`, at most `limit`
    /// licenses, as [`Store::license_page`] walks them). Exports stream page after page, so
    /// memory never grows with the size of the answer.
    pub async fn usage_page(
        &self,
        filter: &LicenseFilter,
        after: Option<&str>,
        limit: u32,
        now: UnixTime,
    ) -> Result<UsagePage, StoreError> {
        let mut sql = self.filtered(filter, now).await?;
        let source = page_source(&mut sql, after);
        let limit_n = sql.bind(Bind::Int(i64::from(limit)));
        let query = format!(
            "SELECT l.id, l.org, l.product, l.day_counts {source}{} ORDER BY l.id LIMIT ${limit_n}",
            sql.clause()
        );
        let rows = sql.apply(sqlx::query(AssertSqlSafe(query))).fetch_all(&self.pool).await?;
        let mut licenses = Vec::with_capacity(rows.len());
        let mut totals: BTreeMap<(usize, i64), i64> = BTreeMap::new();
        for (index, row) in rows.iter().enumerate() {
            let history = stored_history(row.try_get::<Option<Vec<u8>>, _>(3)?.as_deref())?;
            for (day, pings) in history.days() {
                *totals.entry((index, month_of_day(day))).or_insert(0) +=
                    i64::try_from(pings).unwrap_or(i64::MAX);
            }
            licenses.push(PageLicense {
                id: row.try_get(0)?,
                org: row.try_get(1)?,
                product: row.try_get(2)?,
            });
        }
        let (Some(first), Some(last)) = (licenses.first(), licenses.last()) else {
            return Ok(UsagePage::default());
        };
        let (first, last) = (first.id.clone(), last.id.clone());
        // The months of this page's licenses: a range of the table's primary key. Rows are
        // added up as they arrive, never collected; a license in the range that the page
        // does not hold (filtered out, or registered since) is passed over.
        let query = sqlx::query(
            "SELECT license_id, month, pings FROM ping_months \
             WHERE license_id >= $1 AND license_id <= $2",
        )
        .bind(&first)
        .bind(&last);
        let mut months = query.fetch(&self.pool);
        while let Some(row) = months.try_next().await? {
            let id: &str = row.try_get(0)?;
            let Ok(index) = licenses.binary_search_by(|l| l.id.as_str().cmp(id)) else {
                continue;
            };
            *totals.entry((index, row.try_get(1)?)).or_insert(0) += row.try_get::<i64, _>(2)?;
        }
        drop(months);
        let rows = totals
            .into_iter()
            .map(|((license, month), pings)| UsageRow { license, month, pings })
            .collect();
        let more = licenses.len() == limit as usize;
        Ok(UsagePage { licenses, rows, next: more.then_some(last) })
    }

    /// Per-day counts of one license, oldest first (for tests and the detail view).
    pub async fn daily_pings(&self, license_id: &str) -> Result<Vec<(i64, i64)>, StoreError> {
        let row = sqlx::query("SELECT day_counts FROM licenses WHERE id = $1")
            .bind(license_id)
            .fetch_optional(&self.pool)
            .await?;
        let bytes = match &row {
            Some(row) => row.try_get::<Option<Vec<u8>>, _>(0)?,
            None => None,
        };
        let history = stored_history(bytes.as_deref())?;
        Ok(history
            .days()
            .map(|(day, pings)| (day, i64::try_from(pings).unwrap_or(i64::MAX)))
            .collect())
    }

    /// All pings in the daily counts of every license (not yet rolled into months), read as a
    /// stream: for checks of totals (tests, the ping benchmark).
    pub async fn day_pings_total(&self) -> Result<i64, StoreError> {
        let mut rows = sqlx::query("SELECT day_counts FROM licenses WHERE day_counts IS NOT NULL")
            .fetch(&self.pool);
        let mut total = 0i64;
        while let Some(row) = rows.try_next().await? {
            let history = stored_history(row.try_get::<Option<Vec<u8>>, _>(0)?.as_deref())?;
            total += history.days().map(|(_, n)| i64::try_from(n).unwrap_or(i64::MAX)).sum::<i64>();
        }
        Ok(total)
    }

    /// Rolls every day but the last [`DAYS_KEPT`] (today included) into months, a few
    /// thousand licenses to a transaction with a pause between: each transaction moves its days and adds them to
    /// their months at once, so totals are conserved at every moment; run it twice and the
    /// second run finds nothing.
    pub async fn rollup(&self, now: UnixTime) -> Result<RollupReport, StoreError> {
        let cutoff = day_of(now) - (DAYS_KEPT - 1);
        let mut report = RollupReport::default();
        let lock = if self.backend == Backend::Postgres { " FOR UPDATE" } else { "" };
        // A walk in id order from where the last chunk ended: starting from the first id
        // each time re-read every license already rolled (quadratic: at a million licenses,
        // PostgreSQL did a tenth in eight minutes).
        let mut after = String::new();
        loop {
            let mut tx = self.begin_write().await?;
            // In id order, as the ping writers lock: no deadlock between them.
            let rows = sqlx::query(AssertSqlSafe(format!(
                "SELECT id, day_counts FROM licenses WHERE days_from < $1 AND id > $2 \
                 ORDER BY id LIMIT {ROLLUP_CHUNK}{lock}"
            )))
            .bind(cutoff)
            .bind(&after)
            .fetch_all(&mut *tx)
            .await?;
            let Some(last) = rows.last() else {
                break;
            };
            after = last.try_get(0)?;
            let mut months: BTreeMap<(String, i64), i64> = BTreeMap::new();
            let mut kept: Vec<(String, DayCounts)> = Vec::with_capacity(rows.len());
            for row in &rows {
                let id: String = row.try_get(0)?;
                let mut history = stored_history(row.try_get::<Option<Vec<u8>>, _>(1)?.as_deref())?;
                for (day, pings) in history.take_before(cutoff) {
                    let pings = i64::try_from(pings).unwrap_or(i64::MAX);
                    *months.entry((id.clone(), month_of_day(day))).or_insert(0) += pings;
                    report.days_rolled += 1;
                    report.pings_moved += pings;
                }
                kept.push((id, history));
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
            for (id, history) in &kept {
                let bytes = (!history.is_empty()).then(|| history.encode());
                sqlx::query("UPDATE licenses SET day_counts = $1, days_from = $2 WHERE id = $3")
                    .bind(bytes)
                    .bind(history.first_day())
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            // Let the other writers in (pings, registrations): SQLite's waiting writers poll
            // for the lock, and a loop that takes it again at once would starve them.
            tokio::time::sleep(ROLLUP_PAUSE).await;
        }
        Ok(report)
    }

    /// Moves the day rows an earlier version kept in `ping_days` into the licenses' day
    /// counts, in one transaction, and empties the table; every count is kept. Run at every
    /// start: after the first, it finds nothing.
    pub(super) async fn move_day_rows(&self) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let rows =
            sqlx::query("SELECT license_id, day, pings FROM ping_days ORDER BY license_id, day")
                .fetch_all(&mut *tx)
                .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let mut moved: BTreeMap<String, Vec<(i64, i64)>> = BTreeMap::new();
        for row in &rows {
            moved.entry(row.try_get(0)?).or_default().push((row.try_get(1)?, row.try_get(2)?));
        }
        for (id, days) in moved {
            let current = sqlx::query("SELECT day_counts FROM licenses WHERE id = $1")
                .bind(&id)
                .fetch_one(&mut *tx)
                .await?;
            let mut history = stored_history(current.try_get::<Option<Vec<u8>>, _>(0)?.as_deref())?;
            for (day, pings) in days {
                history.add(day, u64::try_from(pings).unwrap_or(0));
            }
            sqlx::query("UPDATE licenses SET day_counts = $1, days_from = $2 WHERE id = $3")
                .bind(history.encode())
                .bind(history.first_day())
                .bind(&id)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM ping_days").execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(rows.len() as u64)
    }
}

/// A page of a usage export: its licenses in id order, and their pings per month.
#[derive(Debug, Default)]
pub struct UsagePage {
    /// The page's licenses, in id order.
    pub licenses: Vec<PageLicense>,
    /// In license order, then month order.
    pub rows: Vec<UsageRow>,
    /// The last license id of the page, when another page may follow.
    pub next: Option<String>,
}

/// A license of a usage page.
#[derive(Debug)]
pub struct PageLicense {
    /// The license's id.
    pub id: String,
    /// Its organization.
    pub org: String,
    /// Its product.
    pub product: String,
}

/// Pings of the page's license number `license` in `month` (YYYYMM).
#[derive(Debug, Clone, Copy)]
pub struct UsageRow {
    /// The license's index in the page's licenses.
    pub license: usize,
    /// The month, YYYYMM.
    pub month: i64,
    /// Pings counted that month.
    pub pings: i64,
}

/// Licenses per rollup transaction: short enough that a ping waits at most a few tens of
/// milliseconds for the write lock.
const ROLLUP_CHUNK: usize = 100;

/// The pause between two rollup transactions.
const ROLLUP_PAUSE: std::time::Duration = std::time::Duration::from_millis(10);
