//! The license list sorted by last validation, walked in two parts, each in an index's
//! order: the licenses whose hub has pinged, by `activations (last_ping_at, license_id)`,
//! and those never pinged (not bound, or bound and silent since), by the license id. The
//! never pinged sort as if their last ping were before every other (first when ascending,
//! last when descending), so a page reads the part its cursor is in and, when that part
//! ends within the page, the start of the other. No page sorts the whole table.

use sqlx::{AssertSqlSafe, Row};

use super::filter::{Bind, LicenseFilter, Where, page_source};
use super::{LICENSE_COLUMNS, LicenseSummary, Store, StoreError, license_from_row};

/// A part of the list by last validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// Bound, and pinged at least once: by the last ping, then the id.
    Pinged,
    /// Not bound, or bound and never pinged: by the id.
    NeverPinged,
}

/// Where a page starts inside one part: after (in the walk's direction) this license,
/// whose last ping this is.
#[derive(Debug, Clone)]
struct PartCursor {
    id: String,
    last_ping_at: Option<i64>,
}

impl Store {
    /// A page of the licenses `sql` holds (the conditions of `filter`), sorted by last
    /// validation (`descending`: latest first) and read in the walk's direction from the
    /// license `from` (the first page when none); the caller turns a backward page round.
    pub(super) async fn page_by_last_ping(
        &self,
        sql: Where,
        filter: &LicenseFilter,
        descending: bool,
        from: Option<&str>,
        limit: u32,
    ) -> Result<Vec<LicenseSummary>, StoreError> {
        let parts = if descending {
            [Part::Pinged, Part::NeverPinged]
        } else {
            [Part::NeverPinged, Part::Pinged]
        };
        // The part the cursor is in, from the cursor's own row (of the caller's scope: an
        // org-admin's cursor cannot be another organization's license); a cursor not found
        // answers an empty page, as the other orders do.
        let (skip, mut cursor) = match from {
            None => (0, None),
            Some(id) => match self.last_ping_of(id, filter.organization.as_deref()).await? {
                None => return Ok(Vec::new()),
                Some(last_ping_at) => {
                    let part =
                        if last_ping_at.is_some() { Part::Pinged } else { Part::NeverPinged };
                    let skip = usize::from(parts[0] != part);
                    (skip, Some(PartCursor { id: id.to_owned(), last_ping_at }))
                }
            },
        };
        let mut page = Vec::new();
        for part in &parts[skip..] {
            let left = limit.saturating_sub(u32::try_from(page.len()).unwrap_or(u32::MAX));
            if left == 0 {
                break;
            }
            let rows = self.part_page(sql.clone(), *part, descending, cursor.take(), left).await?;
            page.extend(rows);
        }
        Ok(page)
    }

    /// The last ping of license `id` (`None` inside when never pinged or not bound), or
    /// `None` when there is no such license in `organization` (any, without one).
    async fn last_ping_of(
        &self,
        id: &str,
        organization: Option<&str>,
    ) -> Result<Option<Option<i64>>, StoreError> {
        let scope = if organization.is_some() { " AND l.org_id = $2" } else { "" };
        let query = format!(
            "SELECT a.last_ping_at FROM licenses l LEFT JOIN activations a \
             ON a.license_id = l.id WHERE l.id = $1{scope}"
        );
        let mut query = sqlx::query(AssertSqlSafe(query)).bind(id.to_owned());
        if let Some(organization) = organization {
            query = query.bind(organization.to_owned());
        }
        let row = query.fetch_optional(&self.pool).await?;
        row.map(|row| row.try_get::<Option<i64>, _>(0)).transpose().map_err(StoreError::from)
    }

    /// Up to `limit` licenses of one part, in the walk's direction from `cursor` (a
    /// license of this part) or from the part's start.
    async fn part_page(
        &self,
        mut sql: Where,
        part: Part,
        descending: bool,
        cursor: Option<PartCursor>,
        limit: u32,
    ) -> Result<Vec<LicenseSummary>, StoreError> {
        let (cmp, dir) = if descending { ("<", "DESC") } else { (">", "ASC") };
        let (source, order_by) = match part {
            Part::Pinged => {
                sql.push("a.last_ping_at IS NOT NULL".to_owned());
                if let Some(PartCursor { id, last_ping_at: Some(at) }) = cursor {
                    let t = sql.bind(Bind::Int(at));
                    let n = sql.bind(Bind::Text(id));
                    sql.push(format!("(a.last_ping_at, a.license_id) {cmp} (${t}, ${n})"));
                }
                (
                    "FROM activations a JOIN licenses l ON l.id = a.license_id".to_owned(),
                    format!("a.last_ping_at {dir}, a.license_id {dir}"),
                )
            }
            Part::NeverPinged => {
                let (source, bound) = match cursor {
                    Some(PartCursor { id, .. }) if !descending => {
                        let source = page_source(&mut sql, Some(&id));
                        let n = sql.bind(Bind::Text(id));
                        (source, format!(" AND p.license_id > ${n}"))
                    }
                    Some(PartCursor { id, .. }) => {
                        let n = sql.bind(Bind::Text(id));
                        sql.push(format!("l.id < ${n}"));
                        (page_source(&mut sql, None), format!(" AND p.license_id < ${n}"))
                    }
                    None => (page_source(&mut sql, None), String::new()),
                };
                // Not `a.last_ping_at IS NULL`: PostgreSQL would estimate that from the
                // bindings alone (few with no ping) and hash-join every license instead of
                // walking the id's index. The cursor repeated inside lets a merge start there.
                sql.push(format!(
                    "NOT EXISTS (SELECT 1 FROM activations p WHERE p.license_id = l.id \
                     AND p.last_ping_at IS NOT NULL{bound})"
                ));
                (source, format!("l.id {dir}"))
            }
        };
        // The limit written in (a number, not a value from outside): bound, PostgreSQL's
        // generic plan would guess a tenth of the table and plan parallel workers for a page.
        let query = format!(
            "SELECT {LICENSE_COLUMNS}, \
             CAST(CASE WHEN a.license_id IS NULL THEN 0 ELSE 1 END AS BIGINT) AS activated, \
             a.last_ping_at AS last_ping {source}{} ORDER BY {order_by} LIMIT {limit}",
            sql.clause()
        );
        let rows = sql.apply(sqlx::query(AssertSqlSafe(query))).fetch_all(&self.pool).await?;
        rows.iter().map(summary_from_row).collect()
    }
}

/// A row of a list page: the license's columns, `activated` and `last_ping`.
pub(super) fn summary_from_row(row: &sqlx::any::AnyRow) -> Result<LicenseSummary, StoreError> {
    Ok(LicenseSummary {
        license: license_from_row(row)?,
        activated: row.try_get::<i64, _>("activated")? > 0,
        last_ping_at: row.try_get("last_ping")?,
    })
}
