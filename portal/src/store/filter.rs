//! Which licenses a list or an export covers: the admin API's filters as SQL conditions on
//! `licenses l LEFT JOIN activations a`, with their values bound (never spliced in).

use sqlx::Any;
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use tessera_core::{Status, UnixTime};

use super::name_search::NameMatches;
use super::{Backend, Store, StoreError};

/// What a license's standing can be filtered on: the words
/// [`crate::domain::standing::license_status`] answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LicenseStanding {
    /// Valid now.
    Valid,
    /// Not valid yet.
    NotYetValid,
    /// Expired.
    Expired,
    /// Terminated.
    Terminated,
    /// Suspended by the vendor.
    Suspended,
    /// Revoked by the vendor.
    Revoked,
}

impl LicenseStanding {
    /// Every standing, in the order a dashboard shows them.
    pub const ALL: [LicenseStanding; 6] = [
        LicenseStanding::Valid,
        LicenseStanding::NotYetValid,
        LicenseStanding::Expired,
        LicenseStanding::Terminated,
        LicenseStanding::Suspended,
        LicenseStanding::Revoked,
    ];

    /// The status word this standing shows as.
    pub fn status(self) -> Status {
        match self {
            LicenseStanding::Valid => Status::Valid,
            LicenseStanding::NotYetValid => Status::NotYetValid,
            LicenseStanding::Expired => Status::Expired,
            LicenseStanding::Terminated => Status::Terminated,
            LicenseStanding::Suspended => Status::Suspended,
            LicenseStanding::Revoked => Status::Revoked,
        }
    }

    /// The same rule as `license_status`, in SQL with the time bound as `$t`; a test holds
    /// the two to each other.
    pub(crate) fn condition(self, t: &str) -> String {
        let active = "l.status = 'active'";
        let started = format!("{t} >= l.not_before");
        let terminated = format!("(l.terminates_at IS NOT NULL AND {t} > l.terminates_at)");
        match self {
            LicenseStanding::Revoked => "l.status = 'revoked'".to_owned(),
            LicenseStanding::Suspended => "l.status = 'suspended'".to_owned(),
            LicenseStanding::NotYetValid => format!("{active} AND {t} < l.not_before"),
            LicenseStanding::Terminated => format!("{active} AND {started} AND {terminated}"),
            LicenseStanding::Expired => {
                format!("{active} AND {started} AND NOT {terminated} AND {t} > l.expires_at")
            }
            LicenseStanding::Valid => {
                format!("{active} AND {started} AND NOT {terminated} AND {t} <= l.expires_at")
            }
        }
    }
}

/// Filters on licenses; every one given must hold.
#[derive(Debug, Clone, Default)]
pub struct LicenseFilter {
    /// Assigned to this organization record (by id): what an org-admin is limited to.
    pub organization: Option<String>,
    /// The `org` claim, exactly.
    pub org: Option<String>,
    /// The product, exactly.
    pub product: Option<String>,
    /// What a ping would answer now.
    pub standing: Option<LicenseStanding>,
    /// Ends (`expires_at`) before this time.
    pub expiring_before: Option<i64>,
    /// Ends (`expires_at`) at or after this time.
    pub ending_from: Option<i64>,
    /// The licensed organization's name (the `org` claim) contains this, whatever the
    /// case: three characters or more (shorter ones match through no index; the domain
    /// refuses them).
    pub name: Option<String>,
    /// Active and bound, and its hub silent past the license's grace period (what the
    /// dashboard counts).
    pub past_grace: Option<i64>,
    /// Bound to a hub, or not.
    pub activated: Option<bool>,
    /// Bound, and no ping since this time (a silent hub).
    pub silent_since: Option<i64>,
    /// Exactly these licenses.
    pub ids: Option<Vec<String>>,
}

impl LicenseFilter {
    /// The filters as conditions on `sql`; `names` are those [`Store::name_lookup`] found
    /// containing [`LicenseFilter::name`].
    pub(crate) fn conditions(&self, sql: &mut Where, now: UnixTime, names: Option<&NameMatches>) {
        if let Some(organization) = &self.organization {
            let n = sql.bind(Bind::Text(organization.clone()));
            sql.push(format!("l.org_id = ${n}"));
        }
        if let Some(org) = &self.org {
            let n = sql.bind(Bind::Text(org.clone()));
            sql.push(format!("l.org = ${n}"));
        }
        if let Some(product) = &self.product {
            let n = sql.bind(Bind::Text(product.clone()));
            sql.push(format!("l.product = ${n}"));
        }
        if let Some(standing) = self.standing {
            let n = sql.bind(Bind::Int(now.as_unix()));
            sql.push(standing.condition(&format!("${n}")));
        }
        if let Some(before) = self.expiring_before {
            let n = sql.bind(Bind::Int(before));
            sql.push(format!("l.expires_at < ${n}"));
        }
        if let Some(from) = self.ending_from {
            let n = sql.bind(Bind::Int(from));
            sql.push(format!("l.expires_at >= ${n}"));
        }
        if let (Some(part), Some(names)) = (&self.name, names) {
            super::name_search::push_condition(sql, part, names);
        }
        if let Some(t) = self.past_grace {
            let n = sql.bind(Bind::Int(t));
            sql.push(past_grace(&format!("${n}")));
        }
        match self.activated {
            Some(true) => sql.push("a.license_id IS NOT NULL".to_owned()),
            Some(false) => sql.push("a.license_id IS NULL".to_owned()),
            None => {}
        }
        if let Some(ids) = &self.ids {
            let placeholders: Vec<String> =
                ids.iter().map(|id| format!("${}", sql.bind(Bind::Text(id.clone())))).collect();
            if placeholders.is_empty() {
                sql.push("1 = 0".to_owned());
            } else {
                sql.push(format!("l.id IN ({})", placeholders.join(", ")));
            }
        }
        if let Some(since) = self.silent_since {
            let n = sql.bind(Bind::Int(since));
            sql.push(format!(
                "a.license_id IS NOT NULL AND (a.last_ping_at IS NULL OR a.last_ping_at < ${n})"
            ));
        }
    }
}

impl Store {
    /// A WHERE clause holding `filter` at `now` (a name searched for looked up first:
    /// [`Store::name_lookup`]).
    pub(crate) async fn filtered(
        &self,
        filter: &LicenseFilter,
        now: UnixTime,
    ) -> Result<Where, StoreError> {
        Ok(self.filtered_twice(filter, now, false).await?.0)
    }

    /// [`Store::filtered`] for counting, and for a page read in an order an index gives
    /// when `walks` ([`Where::walks_common_names`]), from one lookup of the name.
    pub(crate) async fn filtered_twice(
        &self,
        filter: &LicenseFilter,
        now: UnixTime,
        walks: bool,
    ) -> Result<(Where, Where), StoreError> {
        let names = match &filter.name {
            Some(part) => Some(self.name_lookup(part).await?),
            None => None,
        };
        let mut counted = Where::new(self.backend);
        filter.conditions(&mut counted, now, names.as_ref());
        let mut paged = Where::new(self.backend);
        paged.walks_common_names = walks;
        filter.conditions(&mut paged, now, names.as_ref());
        Ok((counted, paged))
    }
}

/// A value bound to a placeholder.
#[derive(Debug, Clone)]
pub(crate) enum Bind {
    Text(String),
    Int(i64),
}

/// Bound, active, and its hub silent past the license's grace period at `t` (a
/// placeholder): one text for the dashboard's count and the list it links to.
pub(crate) fn past_grace(t: &str) -> String {
    format!(
        "a.license_id IS NOT NULL AND l.status = 'active' AND \
         COALESCE(a.last_ping_at, a.activated_at) < {t} - l.grace_period_secs"
    )
}

/// A WHERE clause under construction for one database: conditions joined by AND, values
/// numbered `$1`, `$2`…
#[derive(Debug, Clone)]
pub(crate) struct Where {
    pub(crate) backend: Backend,
    /// A page read in an order an index gives: a name search common enough is walked in
    /// that order, not fetched by name (name_search.rs, `COMMON_SHARE`).
    pub(crate) walks_common_names: bool,
    conditions: Vec<String>,
    binds: Vec<Bind>,
}

impl Where {
    pub(crate) fn new(backend: Backend) -> Where {
        Where { backend, walks_common_names: false, conditions: Vec::new(), binds: Vec::new() }
    }

    /// Adds a value; returns its placeholder number.
    pub(crate) fn bind(&mut self, value: Bind) -> usize {
        self.binds.push(value);
        self.binds.len()
    }

    pub(crate) fn push(&mut self, condition: String) {
        self.conditions.push(format!("({condition})"));
    }

    /// ` WHERE …`, or nothing.
    pub(crate) fn clause(&self) -> String {
        if self.conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.conditions.join(" AND "))
        }
    }

    pub(crate) fn apply<'q>(
        &self,
        mut query: Query<'q, Any, AnyArguments>,
    ) -> Query<'q, Any, AnyArguments> {
        for value in &self.binds {
            query = match value {
                Bind::Text(text) => query.bind(text.clone()),
                Bind::Int(int) => query.bind(*int),
            };
        }
        query
    }
}

/// The `FROM` of a page: licenses and their bindings, those after the cursor `after` (bound
/// and required in `sql`). The cursor is repeated on the bindings' side, which changes no
/// answer (a binding joins its license by id) but lets PostgreSQL's merge join start there
/// instead of at the first binding: 70 ms a page at a million licenses, 0.2 ms with it.
pub(crate) fn page_source(sql: &mut Where, after: Option<&str>) -> String {
    match after {
        Some(after) => {
            let n = sql.bind(Bind::Text(after.to_owned()));
            sql.push(format!("l.id > ${n}"));
            format!(
                "FROM licenses l LEFT JOIN activations a ON a.license_id = l.id \
                 AND a.license_id > ${n}"
            )
        }
        None => "FROM licenses l LEFT JOIN activations a ON a.license_id = l.id".to_owned(),
    }
}
