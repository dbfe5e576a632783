//! Licenses as the portal holds them: their rows, the filters of their lists, their
//! bindings and usage, as the layers above the store name them. The rules about them are in
//! the modules beside this one: registering ([`super::registration`]), standing
//! ([`super::standing`]), changes ([`super::actions`]), binding and rebinding
//! ([`super::binding`], [`super::rebinding`]), who may ([`super::authorization`]).

pub use crate::store::{
    ActivationRow, LicenseCounts, LicenseFilter, LicenseRow, LicenseStanding, LicenseState,
    LicenseSummary, MonthlyUsage, OrganizationRow, Registered, UsagePage,
};

use crate::domain::authorization::{LicenseFacts, Resource};
use crate::store::{Store, StoreError};

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
