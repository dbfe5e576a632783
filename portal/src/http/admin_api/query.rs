//! The query strings of the admin API's lists and exports: filters, times, page sizes.

use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use serde::Deserialize;
use tessera_core::UnixTime;

use crate::domain::licenses::{LicenseFilter, LicenseStanding};
use crate::http::error::ApiError;

/// Page sizes of the license list and the usage export's internal pages.
pub const DEFAULT_PAGE: u32 = 100;
/// See [`DEFAULT_PAGE`].
pub const MAX_PAGE: u32 = 1000;

/// The filters of `GET /v1/admin/licenses` and `GET /v1/admin/usage`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub(super) org: Option<String>,
    pub(super) product: Option<String>,
    pub(super) standing: Option<LicenseStanding>,
    /// A time: Unix seconds, an RFC 3339 time or a date.
    pub(super) expiring_before: Option<String>,
    pub(super) activated: Option<bool>,
    /// A time, as `expiring_before`.
    pub(super) silent_since: Option<String>,
    /// Licenses per page (list only): default 100, at most 1000.
    pub(super) limit: Option<u32>,
    /// The `next` cursor of the previous page (list only).
    pub(super) after: Option<String>,
    /// `json` (default), `jsonl` or `csv` (usage only).
    pub(super) format: Option<String>,
}

/// A time given in a query: Unix seconds, or what [`UnixTime`]'s parser reads.
fn query_time(name: &str, value: Option<&str>) -> Result<Option<i64>, ApiError> {
    let Some(text) = value else { return Ok(None) };
    let parsed = match text.parse::<i64>() {
        Ok(seconds) => UnixTime::from_unix(seconds).ok(),
        Err(_) => text.parse::<UnixTime>().ok(),
    };
    parsed.map(|t| Some(t.as_unix())).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_query",
            format!("{name} {text:?}: give Unix seconds, an RFC 3339 time or a date (YYYY-MM-DD)"),
        )
    })
}

impl ListQuery {
    pub(super) fn parse(
        query: Result<Query<ListQuery>, QueryRejection>,
    ) -> Result<ListQuery, ApiError> {
        let Query(query) =
            query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
        Ok(query)
    }

    pub(super) fn filter(&self) -> Result<LicenseFilter, ApiError> {
        // No name or product id holds a control character (and PostgreSQL refuses NUL in
        // text): such a filter is a mistake, not an empty answer or a 500.
        for (name, value) in [("org", &self.org), ("product", &self.product)] {
            if value.as_ref().is_some_and(|v| v.chars().any(char::is_control)) {
                return Err(ApiError::bad_request(
                    "invalid_query",
                    format!("{name}: control characters are in no {name}"),
                ));
            }
        }
        Ok(LicenseFilter {
            organization: None,
            org: self.org.clone(),
            product: self.product.clone(),
            standing: self.standing,
            expiring_before: query_time("expiring_before", self.expiring_before.as_deref())?,
            activated: self.activated,
            silent_since: query_time("silent_since", self.silent_since.as_deref())?,
            ..LicenseFilter::default()
        })
    }
}
/// A page size asked for: the default, or 1 to the maximum.
pub(super) fn page_size(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit {
        None => Ok(DEFAULT_PAGE),
        Some(n @ 1..=MAX_PAGE) => Ok(n),
        Some(n) => {
            Err(ApiError::bad_request("invalid_query", format!("limit {n}: give 1 to {MAX_PAGE}")))
        }
    }
}
