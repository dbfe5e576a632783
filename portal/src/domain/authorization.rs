//! Who may do what to which thing: one function, [`may`], that the admin API and the web
//! pages both ask before they act or show. Its answers are the portal's whole access rule:
//!
//! - The vendor (a super-admin, or an API key of no organization) may act on everything; an
//!   organization (an org-admin, or an organization's API key) sees its own licenses and
//!   people only, and anything of another organization is answered as if it did not exist.
//! - Registering, suspending, reinstating, revoking, naming the hub a reset admits, freeing
//!   countersigned runner places, assigning licenses and managing organizations are the
//!   vendor's alone; an organization
//!   may reset the bindings of its own licenses (how often: [`crate::domain::actions`]).
//! - A person acts through pages that offer only what changes something in the license's
//!   state (nothing once it is revoked); an API call is answered in any state (a revoked
//!   license then refuses a change itself, with a conflict).
//!
//! What an API key was granted (its scopes) is checked before this, where the key is
//! authenticated (`domain::apikeys`).

use crate::domain::accounts::Role;
use crate::domain::actions::Action;
use crate::store::LicenseState;

/// Who asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller<'a> {
    /// A person signed in to the web pages.
    Person {
        /// Their id.
        id: &'a str,
        /// Their role.
        role: Role,
        /// Their organization (an org-admin's).
        org: Option<&'a str>,
    },
    /// An admin API key: the vendor's (no organization) or an organization's.
    Key {
        /// The organization the key is limited to.
        org: Option<&'a str>,
    },
}

impl Caller<'_> {
    /// Whether the caller acts for the vendor (and not for one organization).
    pub fn is_vendor(&self) -> bool {
        match self {
            Caller::Person { role, .. } => *role == Role::SuperAdmin,
            Caller::Key { org } => org.is_none(),
        }
    }

    /// The one organization whose things the caller sees, or `None` for every one. An
    /// org-admin without an organization sees nothing (the empty id is no organization's).
    pub fn sees_only(&self) -> Option<String> {
        match *self {
            Caller::Person { role: Role::SuperAdmin, .. } | Caller::Key { org: None } => None,
            Caller::Person { org, .. } | Caller::Key { org } => {
                Some(org.unwrap_or_default().to_owned())
            }
        }
    }

    /// Whether something of organization `owner` is the caller's to see.
    fn sees(&self, owner: Option<&str>) -> bool {
        match self.sees_only() {
            None => true,
            Some(own) => owner.is_some_and(|owner| !own.is_empty() && owner == own),
        }
    }
}

/// What the caller wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Operation {
    /// See a license: its page, its figures, its usage.
    SeeLicense,
    /// Change a license: suspend, reinstate, revoke, reset its binding.
    Change(Action),
    /// Reset a binding so that only a named hub may bind next.
    ResetBindingFor,
    /// Free the runner places the portal counts for a license (`runner_countersign`), so
    /// that new runners are countersigned before the old places' receipts end.
    FreeRunnerPlaces,
    /// Register licenses.
    RegisterLicenses,
    /// Assign a license to an organization, or take it out of any.
    AssignLicense,
    /// See every organization, create one, erase its people.
    ManageOrganizations,
    /// Export the whole audit ledger.
    ExportLedger,
    /// Manage a person: see their page, remove them.
    ManagePerson,
    /// Change a person's role and organization.
    ChangeRole,
    /// Export everything held about a person.
    ExportPerson,
    /// Export an organization's licenses, bindings and usage.
    ExportOrganization,
    /// See, cancel or re-send a pending invitation.
    ManageInvitation,
    /// See or revoke an admin API key.
    ManageApiKey,
    /// Read an audit ledger entry.
    ReadLedgerEntry,
    /// Invite someone to the portal as this role (asked again when the invitation is
    /// accepted, so an invitation dies with its author's rights).
    Invite(Role),
}

/// A license as authorization needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LicenseFacts<'a> {
    /// The organization it belongs to, if any.
    pub org: Option<&'a str>,
    /// Its state on the portal.
    pub state: LicenseState,
}

/// A person as authorization needs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PersonFacts<'a> {
    /// Their id.
    pub id: &'a str,
    /// Their role (`None`: a stored word that is no role).
    pub role: Option<Role>,
    /// Their organization.
    pub org: Option<&'a str>,
}

/// What the operation is on. `None` inside: no such thing exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource<'a> {
    /// The portal as a whole (registering, organizations, the ledger).
    Portal,
    /// A license.
    License(Option<LicenseFacts<'a>>),
    /// A person.
    Person(Option<PersonFacts<'a>>),
    /// An organization, by id.
    Organization(Option<&'a str>),
    /// The organization a new invitation is for (`None`: none, as for a super-admin).
    InvitationInto(Option<&'a str>),
    /// Something of an organization (or of the vendor's, `Some(None)`) that has no rule of
    /// its own: a pending invitation, an API key, a ledger entry.
    OwnedBy(Option<Option<&'a str>>),
}

/// Why [`may`] said no.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Denied {
    /// No such thing, or not the caller's to see: answered as "not found", so that an
    /// organization learns nothing of another's.
    #[error("no such thing is the caller's to see")]
    Unknown,
    /// The vendor's alone.
    #[error("this is the vendor's to do")]
    VendorOnly,
    /// Not offered to a person in the thing's state (a revoked license changes no more).
    #[error("this is not offered in the present state")]
    NotNow,
}

/// Whether `caller` may do `operation` to `resource`: the one rule of the admin API and the
/// web pages (see the module's description).
pub fn may(
    caller: &Caller<'_>,
    operation: Operation,
    resource: Resource<'_>,
) -> Result<(), Denied> {
    use Operation as Op;
    match (operation, resource) {
        (Op::SeeLicense, Resource::License(license)) => visible(caller, license).map(|_| ()),
        (Op::Change(action), Resource::License(license)) => {
            let license = visible(caller, license)?;
            change(caller, action, license.state)
        }
        (Op::ResetBindingFor, Resource::License(license)) => {
            let license = visible(caller, license)?;
            if !caller.is_vendor() {
                return Err(Denied::VendorOnly);
            }
            change(caller, Action::ResetBinding, license.state)
        }
        // Freeing places trusts the customer that the runners freed run no more: the
        // vendor's call, in any state (it only ever lets fewer places count).
        (Op::FreeRunnerPlaces, Resource::License(license)) => {
            visible(caller, license)?;
            vendor(caller)
        }
        (Op::AssignLicense, Resource::License(license)) => {
            vendor(caller)?;
            visible(caller, license).map(|_| ())
        }
        (Op::RegisterLicenses | Op::ManageOrganizations | Op::ExportLedger, Resource::Portal) => {
            vendor(caller)
        }
        (Op::ManageOrganizations, Resource::Organization(org)) => {
            vendor(caller)?;
            org.map(|_| ()).ok_or(Denied::Unknown)
        }
        (Op::ManagePerson, Resource::Person(target)) => manage(caller, target),
        (Op::ChangeRole, Resource::Person(target)) => {
            vendor(caller).map_err(|_| Denied::Unknown)?;
            manage(caller, target)
        }
        (Op::ExportPerson, Resource::Person(target)) => {
            let target = target.ok_or(Denied::Unknown)?;
            let allowed = match caller {
                Caller::Person { id, .. } => *id == target.id,
                Caller::Key { org: None } => true,
                Caller::Key { org: Some(org) } => target.org == Some(*org),
            };
            allowed.then_some(()).ok_or(Denied::Unknown)
        }
        (Op::ExportOrganization, Resource::Organization(org)) => {
            let org = org.ok_or(Denied::Unknown)?;
            let own = match caller {
                Caller::Person { org: own, .. } => *own == Some(org),
                Caller::Key { .. } => caller.sees(Some(org)),
            };
            own.then_some(()).ok_or(Denied::Unknown)
        }
        // Whoever sees the organization's things manages its invitations and keys and reads
        // its entries; the vendor's own (of no organization) are the vendor's alone.
        (
            Op::ManageInvitation | Op::ManageApiKey | Op::ReadLedgerEntry,
            Resource::OwnedBy(owner),
        ) => {
            let owner = owner.ok_or(Denied::Unknown)?;
            let person = matches!(caller, Caller::Person { .. });
            (person && caller.sees(owner)).then_some(()).ok_or(Denied::Unknown)
        }
        // The vendor's people invite anyone anywhere; an org-admin only more org-admins of
        // their own organization. Only people invite (an API key has no page to do it on).
        (Op::Invite(role), Resource::InvitationInto(org)) => match *caller {
            Caller::Key { .. } => Err(Denied::VendorOnly),
            Caller::Person { role: Role::SuperAdmin, .. } => Ok(()),
            Caller::Person { org: own, .. } => {
                let own_org = own.is_some_and(|own| !own.is_empty() && org == Some(own));
                (role == Role::OrgAdmin && own_org).then_some(()).ok_or(Denied::VendorOnly)
            }
        },
        // An operation asked of a resource it is not about: nothing to see there.
        _ => Err(Denied::Unknown),
    }
}

/// The license, when it exists and the caller may see it.
fn visible<'a>(
    caller: &Caller<'_>,
    license: Option<LicenseFacts<'a>>,
) -> Result<LicenseFacts<'a>, Denied> {
    let license = license.ok_or(Denied::Unknown)?;
    if caller.sees(license.org) { Ok(license) } else { Err(Denied::Unknown) }
}

fn vendor(caller: &Caller<'_>) -> Result<(), Denied> {
    if caller.is_vendor() { Ok(()) } else { Err(Denied::VendorOnly) }
}

/// A change of a license the caller sees, in `state`.
fn change(caller: &Caller<'_>, action: Action, state: LicenseState) -> Result<(), Denied> {
    use LicenseState::{Active, Revoked, Suspended};
    // An organization: its own licenses' bindings only (moving its hub to a new machine).
    if !caller.is_vendor() && action != Action::ResetBinding {
        return Err(Denied::VendorOnly);
    }
    let Caller::Person { .. } = caller else { return Ok(()) };
    // A person is offered what changes something in this state.
    let offered = match (state, action) {
        (Revoked, _) => false,
        (Active, Action::Reinstate) | (Suspended, Action::Suspend) => false,
        (Active | Suspended, _) => true,
    };
    if offered { Ok(()) } else { Err(Denied::NotNow) }
}

/// A person the caller may manage: never themself; the vendor anyone else; an org-admin
/// the other org-admins of their own organization.
fn manage(caller: &Caller<'_>, target: Option<PersonFacts<'_>>) -> Result<(), Denied> {
    let target = target.ok_or(Denied::Unknown)?;
    let Caller::Person { id, role, org } = *caller else { return Err(Denied::Unknown) };
    let allowed = id != target.id
        && match role {
            Role::SuperAdmin => true,
            Role::OrgAdmin => {
                target.role == Some(Role::OrgAdmin) && target.org.is_some() && target.org == org
            }
        };
    if allowed { Ok(()) } else { Err(Denied::Unknown) }
}

/// The changes `caller` may make to a license in `state` of organization `org`, in the
/// order the pages offer them.
pub fn offered(caller: &Caller<'_>, license: LicenseFacts<'_>) -> Vec<Action> {
    [Action::Suspend, Action::Reinstate, Action::Revoke, Action::ResetBinding]
        .into_iter()
        .filter(|a| may(caller, Operation::Change(*a), Resource::License(Some(license))).is_ok())
        .collect()
}

#[cfg(test)]
mod tests;
