//! Licenses as the portal holds them: their rows, the filters of their lists, their
//! bindings and usage, as the layers above the store name them. The rules about them are in
//! the modules beside this one: registering ([`super::registration`]), standing
//! ([`super::standing`]), changes ([`super::actions`]), binding and rebinding
//! ([`super::binding`], [`super::rebinding`]), who may ([`super::authorization`]).

pub use crate::store::{
    ActivationRow, LicenseCounts, LicenseFilter, LicenseRow, LicenseStanding, LicenseState,
    LicenseSummary, MonthlyUsage, OrganizationRow, Registered, UsagePage,
};

use tessera_core::UnixTime;

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
