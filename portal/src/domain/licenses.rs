//! Licenses as the portal holds them: their rows, the filters of their lists, their
//! bindings and usage, as the layers above the store name them. The rules about them are in
//! the modules beside this one: registering ([`super::registration`]), standing
//! ([`super::standing`]), changes ([`super::actions`]), binding and rebinding
//! ([`super::binding`], [`super::rebinding`]), who may ([`super::authorization`]).

pub use crate::store::{
    ActivationRow, LicenseCounts, LicenseFilter, LicenseRow, LicenseSort, LicenseStanding,
    LicenseState, LicenseSummary, ListCursor, ListOrder, MonthlyUsage, OrganizationRow, Registered,
    UsagePage,
};

use tessera_core::UnixTime;
use tessera_core::license::LicenseKey;

use crate::domain::audit::{self, Actor};
use crate::domain::authorization::{self, Caller, Denied, LicenseFacts, Operation, Resource};
use crate::store::{Store, StoreError};

/// Why a license was not assigned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AssignError {
    /// The caller may not (or there is no such license).
    #[error(transparent)]
    Denied(Denied),
    /// No organization has the id given.
    #[error("no such organization")]
    NoSuchOrganization,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The fewest characters of a name a search looks for: the name index holds trigrams, and
/// a shorter part would read every license.
pub const NAME_SEARCH_MIN: usize = 3;

/// The most licenses a list counts exactly; past it, it says "more than".
pub const LIST_COUNT_CAP: u32 = 10_000;

/// The part of a customer's name to search for, trimmed: `Ok(None)` for none, `Err` with
/// a sentence for one shorter than [`NAME_SEARCH_MIN`] characters.
pub fn name_search(part: &str) -> Result<Option<String>, String> {
    let part = part.trim();
    match part.chars().count() {
        0 => Ok(None),
        n if n < NAME_SEARCH_MIN => Err(format!(
            "Type at least {NAME_SEARCH_MIN} characters of the customer's name to search by it; \
             the list below is not filtered by name."
        )),
        _ => Ok(Some(part.to_owned())),
    }
}

/// How long a bound hub has been silent at `now` when that is overdue: no validation for
/// more than two ping intervals since its last one (or since it was bound).
pub fn overdue(license: &LicenseRow, activation: &ActivationRow, now: i64) -> Option<i64> {
    let since = activation.last_ping_at.unwrap_or(activation.activated_at);
    let silent = now - since;
    (silent > 2 * license.ping_interval_secs.max(1)).then_some(silent)
}

/// A license and the organization it belongs to, if it is registered.
pub async fn find(
    store: &Store,
    id: &str,
) -> Result<Option<(LicenseRow, Option<String>)>, StoreError> {
    let Some(license) = store.license(id).await? else { return Ok(None) };
    let org = store.license_organization(id).await?;
    Ok(Some((license, org)))
}

/// A license (as [`find`] answers) as [`crate::domain::authorization::may`] looks at it.
pub fn facts(found: Option<&(LicenseRow, Option<String>)>) -> Resource<'_> {
    Resource::License(
        found.map(|(license, org)| LicenseFacts { org: org.as_deref(), state: license.state }),
    )
}

/// Assigns license `id` to organization `org` (a license whose claim names none of them,
/// say), or takes it out of any (`None`), if `caller` may; `actor` in the ledger. Answers
/// the organization it now belongs to.
pub async fn assign(
    store: &Store,
    (caller, actor): (&Caller<'_>, &Actor),
    id: &str,
    org: Option<&str>,
    now: UnixTime,
) -> Result<Option<String>, AssignError> {
    let found = find(store, id).await?;
    authorization::may(caller, Operation::AssignLicense, facts(found.as_ref()))
        .map_err(AssignError::Denied)?;
    let org = match org {
        None => None,
        Some(given) => {
            Some(store.organization(given).await?.ok_or(AssignError::NoSuchOrganization)?.id)
        }
    };
    store.assign_license(id, org.as_deref()).await?;
    let target = format!("{id} {}", org.as_deref().unwrap_or("-"));
    audit::record(store, actor, "license.assigned", &target, org.as_deref(), now).await?;
    Ok(org)
}

/// How far ahead the dashboard counts licenses that end "soon".
const ENDING_SOON_SECS: i64 = 30 * 86_400;

/// The dashboard's figures over the licenses `scope` covers (the caller's scope in it).
pub async fn counts(
    store: &Store,
    scope: &LicenseFilter,
    now: UnixTime,
) -> Result<LicenseCounts, StoreError> {
    store.license_counts(scope, ENDING_SOON_SECS, now).await
}

/// A registered license by its license key (looked up by the key's hash), if any.
pub async fn by_key(store: &Store, key: &LicenseKey) -> Result<Option<LicenseRow>, StoreError> {
    store.license_by_key_digest(&hex::encode(key.digest())).await
}

/// A registered license by its id, if any (who may see it is [`facts`]' question).
pub async fn by_id(store: &Store, id: &str) -> Result<Option<LicenseRow>, StoreError> {
    store.license(id).await
}

/// What a license's page shows besides the license: its binding and its monthly pings.
pub struct LicenseActivity {
    /// The hub it is bound to, if any.
    pub activation: Option<ActivationRow>,
    /// Pings by month.
    pub usage: Vec<MonthlyUsage>,
}

/// A license's binding and monthly pings.
pub async fn activity(store: &Store, id: &str) -> Result<LicenseActivity, StoreError> {
    Ok(LicenseActivity {
        activation: store.activation(id).await?,
        usage: store.monthly_usage(id).await?,
    })
}

/// How many of a license's re-activations were forks: the replaced hub seen pinging again.
pub async fn forks(store: &Store, id: &str) -> Result<i64, StoreError> {
    store.forks(id).await
}

/// The hub a license is bound to, if any.
pub async fn activation(store: &Store, id: &str) -> Result<Option<ActivationRow>, StoreError> {
    store.activation(id).await
}

/// A page of the licenses `filter` covers (the caller's scope in it), in id order after
/// `after`.
pub async fn page(
    store: &Store,
    filter: &LicenseFilter,
    after: Option<&str>,
    limit: u32,
    now: UnixTime,
) -> Result<Vec<LicenseSummary>, StoreError> {
    store.license_page(filter, after, limit, now).await
}

/// A page of the licenses `filter` covers, in `order` from `cursor`: the web list's page
/// (`limit` includes the one extra read that says whether another page follows).
pub async fn list(
    store: &Store,
    filter: &LicenseFilter,
    order: crate::store::ListOrder,
    cursor: crate::store::ListCursor<'_>,
    limit: u32,
    now: UnixTime,
) -> Result<Vec<LicenseSummary>, StoreError> {
    store.license_list(filter, order, cursor, limit, now).await
}

/// A page of the licenses `filter` covers, as [`list`] reads it, and how many there are,
/// counted up to `cap` (past it: `cap + 1`).
pub async fn list_counted(
    store: &Store,
    filter: &LicenseFilter,
    order: crate::store::ListOrder,
    cursor: crate::store::ListCursor<'_>,
    limit: u32,
    cap: u32,
    now: UnixTime,
) -> Result<(Vec<LicenseSummary>, i64), StoreError> {
    store.license_list_counted(filter, order, cursor, limit, cap, now).await
}

/// The monthly usage of a page of the licenses `filter` covers, as [`page`] walks them.
pub async fn usage_page(
    store: &Store,
    filter: &LicenseFilter,
    after: Option<&str>,
    limit: u32,
    now: UnixTime,
) -> Result<UsagePage, StoreError> {
    store.usage_page(filter, after, limit, now).await
}

/// The organizations that hold licenses as `caller` sees them, in name order after `after`,
/// each with its number of licenses, and the cursor of the next page: every one for the
/// vendor (pages of `limit`), else their own organization alone.
pub async fn organizations_page(
    store: &Store,
    caller: &Caller<'_>,
    after: Option<&str>,
    limit: u32,
) -> Result<(Vec<(String, i64)>, Option<String>), StoreError> {
    if let Some(org) = caller.sees_only() {
        let counted = store.organization_counted(&org).await?;
        let own = counted
            .into_iter()
            .filter(|(o, _)| after.is_none_or(|after| o.name.as_str() > after))
            .map(|(o, licenses)| (o.name, licenses))
            .collect();
        return Ok((own, None));
    }
    let mut page = store.organization_page(after, limit + 1).await?;
    let more = page.len() > limit as usize;
    page.truncate(limit as usize);
    let next = if more { page.last().map(|(org, _)| org.clone()) } else { None };
    Ok((page, next))
}
