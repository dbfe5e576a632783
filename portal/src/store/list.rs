//! The license list people page through: sorted by a column, either way, a page before or
//! after a license (a keyset walk: the cursor is a license id, its sort value read from
//! the row, so no offset is counted through), and the number of licenses that match.

use sqlx::{AssertSqlSafe, Row};
use tessera_core::UnixTime;

use super::filter::{Bind, LicenseFilter, Where, page_source};
use super::list_by_last_ping::summary_from_row;
use super::{LICENSE_COLUMNS, LicenseSummary, Store, StoreError};

/// The column a list is sorted by; the license id breaks ties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LicenseSort {
    /// Issue order (ids are time-ordered).
    #[default]
    Issued,
    /// The organization's name (the `org` claim).
    Customer,
    /// The end date.
    Ends,
    /// The last counted ping; never pinged (or not bound) first.
    LastPing,
    /// The state (active, revoked, suspended).
    State,
}

impl LicenseSort {
    /// Whether an index gives this order (the id's, `licenses (org, id)`,
    /// `licenses (expires_at, id)`, the last ping's in two parts: list_by_last_ping.rs), so
    /// that a page can walk it.
    fn indexed(self) -> bool {
        !matches!(self, LicenseSort::State)
    }

    /// The sort value of a license in `licenses {l}` joined with `activations {a}`.
    fn key(self, l: &str, a: &str) -> Option<String> {
        match self {
            LicenseSort::Issued => None,
            LicenseSort::Customer => Some(format!("{l}.org")),
            LicenseSort::Ends => Some(format!("{l}.expires_at")),
            // The same order on both databases (they place NULL at opposite ends); a page
            // is read in two parts instead (list_by_last_ping.rs).
            LicenseSort::LastPing => Some(format!("COALESCE({a}.last_ping_at, -1)")),
            LicenseSort::State => Some(format!("{l}.status")),
        }
    }
}

/// A sort column and its direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ListOrder {
    /// The column.
    pub sort: LicenseSort,
    /// Largest first.
    pub descending: bool,
}

/// Where a page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListCursor<'a> {
    /// The first page.
    Start,
    /// The licenses after this one, in the list's order.
    After(&'a str),
    /// The licenses before this one (the previous page).
    Before(&'a str),
}

impl Store {
    /// A page of at most `limit` licenses of `filter` in `order` from `cursor`, in the
    /// list's order (a page before the cursor too), each with its binding's last ping.
    pub async fn license_list(
        &self,
        filter: &LicenseFilter,
        order: ListOrder,
        cursor: ListCursor<'_>,
        limit: u32,
        now: UnixTime,
    ) -> Result<Vec<LicenseSummary>, StoreError> {
        let (_, sql) = self.filtered_twice(filter, now, order.sort.indexed()).await?;
        self.page_where(sql, filter, order, cursor, limit).await
    }

    /// The page [`Store::license_list`] answers, and how many licenses `filter` covers,
    /// counted up to `cap` + 1 (a count past the cap answers `cap + 1`: a page's count then
    /// reads at most that many index entries, whatever the size of the table). A name
    /// searched for is looked up once for both.
    pub async fn license_list_counted(
        &self,
        filter: &LicenseFilter,
        order: ListOrder,
        cursor: ListCursor<'_>,
        limit: u32,
        cap: u32,
        now: UnixTime,
    ) -> Result<(Vec<LicenseSummary>, i64), StoreError> {
        let (counted, paged) = self.filtered_twice(filter, now, order.sort.indexed()).await?;
        let count = self.count_where(counted, cap).await?;
        let page = self.page_where(paged, filter, order, cursor, limit).await?;
        Ok((page, count))
    }

    /// A page of the licenses `sql` holds (the conditions of `filter`), as
    /// [`Store::license_list`] reads it.
    async fn page_where(
        &self,
        mut sql: Where,
        filter: &LicenseFilter,
        order: ListOrder,
        cursor: ListCursor<'_>,
        limit: u32,
    ) -> Result<Vec<LicenseSummary>, StoreError> {
        // Walking backwards: the opposite order, turned round below.
        let backwards = matches!(cursor, ListCursor::Before(_));
        let descending = order.descending != backwards;
        if order.sort == LicenseSort::LastPing {
            let from = match cursor {
                ListCursor::Start => None,
                ListCursor::After(id) | ListCursor::Before(id) => Some(id),
            };
            let mut page = self.page_by_last_ping(sql, filter, descending, from, limit).await?;
            if backwards {
                page.reverse();
            }
            return Ok(page);
        }
        let (cmp, dir) = if descending { ("<", "DESC") } else { (">", "ASC") };
        let key = order.sort.key("l", "a");
        let source = match (cursor, &key) {
            (ListCursor::Start, _) => page_source(&mut sql, None),
            (ListCursor::After(id), None) if !descending => page_source(&mut sql, Some(id)),
            (ListCursor::After(id) | ListCursor::Before(id), None) => {
                let n = sql.bind(Bind::Text(id.to_owned()));
                sql.push(format!("l.id {cmp} ${n}"));
                page_source(&mut sql, None)
            }
            (ListCursor::After(id) | ListCursor::Before(id), Some(key)) => {
                let n = sql.bind(Bind::Text(id.to_owned()));
                let of_cursor = order.sort.key("cl", "ca").unwrap_or_default();
                // The cursor's own sort value only from a license of the caller's scope: else
                // an org-admin's page would place another organization's license among theirs.
                let scope = match &filter.organization {
                    Some(organization) => {
                        let m = sql.bind(Bind::Text(organization.clone()));
                        format!(" AND cl.org_id = ${m}")
                    }
                    None => String::new(),
                };
                sql.push(format!(
                    "({key}, l.id) {cmp} ((SELECT {of_cursor} FROM licenses cl \
                     LEFT JOIN activations ca ON ca.license_id = cl.id \
                     WHERE cl.id = ${n}{scope}), ${n})"
                ));
                page_source(&mut sql, None)
            }
        };
        let order_by = match &key {
            Some(key) => format!("{key} {dir}, l.id {dir}"),
            None => format!("l.id {dir}"),
        };
        let limit_n = sql.bind(Bind::Int(i64::from(limit)));
        let query = format!(
            "SELECT {LICENSE_COLUMNS}, \
             CAST(CASE WHEN a.license_id IS NULL THEN 0 ELSE 1 END AS BIGINT) AS activated, \
             a.last_ping_at AS last_ping {source}{} ORDER BY {order_by} LIMIT ${limit_n}",
            sql.clause()
        );
        let rows = sql.apply(sqlx::query(AssertSqlSafe(query))).fetch_all(&self.pool).await?;
        let mut page = rows.iter().map(summary_from_row).collect::<Result<Vec<_>, StoreError>>()?;
        if backwards {
            page.reverse();
        }
        Ok(page)
    }

    /// How many licenses `sql` holds, counted up to `cap` + 1.
    async fn count_where(&self, mut sql: Where, cap: u32) -> Result<i64, StoreError> {
        let limit_n = sql.bind(Bind::Int(i64::from(cap) + 1));
        let query = format!(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM (SELECT 1 AS one FROM licenses l \
             LEFT JOIN activations a ON a.license_id = l.id{} LIMIT ${limit_n}) AS counted",
            sql.clause()
        );
        let row = sql.apply(sqlx::query(AssertSqlSafe(query))).fetch_one(&self.pool).await?;
        Ok(row.try_get(0)?)
    }
}
