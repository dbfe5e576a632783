//! Every caller × operation × resource state, as a table: one row per caller and
//! operation, one letter per resource: `+` allowed, `u` unknown (404), `v` the vendor's
//! alone (403 `vendor_only` on the API), `n` not offered in this state.

use super::*;

const SUPER: Caller<'static> = Caller::Person { id: "sa", role: Role::SuperAdmin, org: None };
const ADMIN_A: Caller<'static> = Caller::Person { id: "oa", role: Role::OrgAdmin, org: Some("A") };
const ADMIN_B: Caller<'static> = Caller::Person { id: "ob", role: Role::OrgAdmin, org: Some("B") };
const ADMIN_NONE: Caller<'static> = Caller::Person { id: "on", role: Role::OrgAdmin, org: None };
const VENDOR_KEY: Caller<'static> = Caller::Key { org: None };
const KEY_A: Caller<'static> = Caller::Key { org: Some("A") };
const KEY_B: Caller<'static> = Caller::Key { org: Some("B") };

fn letter(answer: Result<(), Denied>) -> char {
    match answer {
        Ok(()) => '+',
        Err(Denied::Unknown) => 'u',
        Err(Denied::VendorOnly) => 'v',
        Err(Denied::NotNow) => 'n',
    }
}

fn check(caller: &Caller<'_>, op: Operation, resources: &[Resource<'_>], expected: &str) {
    let got: String = resources.iter().map(|r| letter(may(caller, op, *r))).collect();
    assert_eq!(got, expected, "{caller:?} {op:?}");
}

/// Licenses: of organization A active, suspended, revoked; of no organization (active);
/// none at all.
fn licenses() -> [Resource<'static>; 5] {
    let of = |org, state| Resource::License(Some(LicenseFacts { org, state }));
    [
        of(Some("A"), LicenseState::Active),
        of(Some("A"), LicenseState::Suspended),
        of(Some("A"), LicenseState::Revoked),
        of(None, LicenseState::Active),
        Resource::License(None),
    ]
}

#[test]
fn licenses_by_every_caller_in_every_state() {
    use Action::*;
    use Operation::*;
    let table: &[(Caller<'_>, Operation, &str)] = &[
        (SUPER, SeeLicense, "++++u"),
        (SUPER, Change(Suspend), "+nn+u"),
        (SUPER, Change(Reinstate), "n+nnu"),
        (SUPER, Change(Revoke), "++n+u"),
        (SUPER, Change(ResetBinding), "++n+u"),
        (SUPER, ResetBindingFor, "++n+u"),
        (SUPER, FreeRunnerPlaces, "++++u"),
        (SUPER, AssignLicense, "++++u"),
        (ADMIN_A, SeeLicense, "+++uu"),
        (ADMIN_A, Change(Suspend), "vvvuu"),
        (ADMIN_A, Change(Reinstate), "vvvuu"),
        (ADMIN_A, Change(Revoke), "vvvuu"),
        (ADMIN_A, Change(ResetBinding), "++nuu"),
        (ADMIN_A, ResetBindingFor, "vvvuu"),
        (ADMIN_A, FreeRunnerPlaces, "vvvuu"),
        (ADMIN_A, AssignLicense, "vvvvv"),
        (ADMIN_B, SeeLicense, "uuuuu"),
        (ADMIN_B, Change(Suspend), "uuuuu"),
        (ADMIN_B, Change(ResetBinding), "uuuuu"),
        (ADMIN_B, ResetBindingFor, "uuuuu"),
        (ADMIN_B, FreeRunnerPlaces, "uuuuu"),
        (ADMIN_B, AssignLicense, "vvvvv"),
        (ADMIN_NONE, SeeLicense, "uuuuu"),
        (ADMIN_NONE, Change(ResetBinding), "uuuuu"),
        (ADMIN_NONE, FreeRunnerPlaces, "uuuuu"),
        (VENDOR_KEY, SeeLicense, "++++u"),
        (VENDOR_KEY, Change(Suspend), "++++u"),
        (VENDOR_KEY, Change(Reinstate), "++++u"),
        (VENDOR_KEY, Change(Revoke), "++++u"),
        (VENDOR_KEY, Change(ResetBinding), "++++u"),
        (VENDOR_KEY, ResetBindingFor, "++++u"),
        (VENDOR_KEY, FreeRunnerPlaces, "++++u"),
        (KEY_A, SeeLicense, "+++uu"),
        (KEY_A, Change(Suspend), "vvvuu"),
        (KEY_A, Change(Reinstate), "vvvuu"),
        (KEY_A, Change(Revoke), "vvvuu"),
        (KEY_A, Change(ResetBinding), "+++uu"),
        (KEY_A, ResetBindingFor, "vvvuu"),
        (KEY_A, FreeRunnerPlaces, "vvvuu"),
        (KEY_B, SeeLicense, "uuuuu"),
        (KEY_B, Change(Suspend), "uuuuu"),
        (KEY_B, Change(ResetBinding), "uuuuu"),
        (KEY_B, ResetBindingFor, "uuuuu"),
        (KEY_B, FreeRunnerPlaces, "uuuuu"),
    ];
    for (caller, op, expected) in table {
        check(caller, *op, &licenses(), expected);
    }
}

#[test]
fn the_vendors_own_operations() {
    use Operation::*;
    // Resources: the portal; organization A; no such organization.
    let resources =
        [Resource::Portal, Resource::Organization(Some("A")), Resource::Organization(None)];
    let table: &[(Caller<'_>, Operation, &str)] = &[
        (SUPER, RegisterLicenses, "+uu"),
        (SUPER, ManageOrganizations, "++u"),
        (SUPER, ExportLedger, "+uu"),
        (SUPER, ExportOrganization, "uuu"),
        (ADMIN_A, RegisterLicenses, "vuu"),
        (ADMIN_A, ManageOrganizations, "vvv"),
        (ADMIN_A, ExportLedger, "vuu"),
        (ADMIN_A, ExportOrganization, "u+u"),
        (ADMIN_B, ExportOrganization, "uuu"),
        (ADMIN_NONE, ExportOrganization, "uuu"),
        (VENDOR_KEY, RegisterLicenses, "+uu"),
        (VENDOR_KEY, ExportLedger, "+uu"),
        (VENDOR_KEY, ExportOrganization, "u+u"),
        (KEY_A, RegisterLicenses, "vuu"),
        (KEY_A, ExportLedger, "vuu"),
        (KEY_A, ExportOrganization, "u+u"),
        (KEY_B, RegisterLicenses, "vuu"),
        (KEY_B, ExportOrganization, "uuu"),
    ];
    for (caller, op, expected) in table {
        check(caller, *op, &resources, expected);
    }
}

#[test]
fn people_by_every_caller() {
    use Operation::*;
    let person = |id, role, org| Resource::Person(Some(PersonFacts { id, role, org }));
    // Resources: the super-admin "sa"; another super-admin; org-admin "oa" of A; another
    // org-admin of A; an org-admin of B; an org-admin of none; a person of an unknown
    // role in A; nobody.
    let people = [
        person("sa", Some(Role::SuperAdmin), None),
        person("s2", Some(Role::SuperAdmin), None),
        person("oa", Some(Role::OrgAdmin), Some("A")),
        person("a2", Some(Role::OrgAdmin), Some("A")),
        person("ob", Some(Role::OrgAdmin), Some("B")),
        person("n2", Some(Role::OrgAdmin), None),
        person("x", None, Some("A")),
        Resource::Person(None),
    ];
    let table: &[(Caller<'_>, Operation, &str)] = &[
        (SUPER, ManagePerson, "u++++++u"),
        (SUPER, ChangeRole, "u++++++u"),
        (SUPER, ExportPerson, "+uuuuuuu"),
        (ADMIN_A, ManagePerson, "uuu+uuuu"),
        (ADMIN_A, ChangeRole, "uuuuuuuu"),
        (ADMIN_A, ExportPerson, "uu+uuuuu"),
        (ADMIN_NONE, ManagePerson, "uuuuuuuu"),
        (VENDOR_KEY, ManagePerson, "uuuuuuuu"),
        (VENDOR_KEY, ExportPerson, "+++++++u"),
        (KEY_A, ExportPerson, "uu++uu+u"),
        (KEY_B, ExportPerson, "uuuu+uuu"),
    ];
    for (caller, op, expected) in table {
        check(caller, *op, &people, expected);
    }
}

#[test]
fn an_organization_sees_its_own_licenses_only() {
    assert_eq!(SUPER.sees_only(), None);
    assert_eq!(VENDOR_KEY.sees_only(), None);
    assert_eq!(ADMIN_A.sees_only().as_deref(), Some("A"));
    assert_eq!(KEY_B.sees_only().as_deref(), Some("B"));
    // No organization: the empty id, which is no organization's.
    assert_eq!(ADMIN_NONE.sees_only().as_deref(), Some(""));
}

#[test]
fn the_pages_offer_what_changes_something() {
    let facts = |state| LicenseFacts { org: Some("A"), state };
    use Action::*;
    assert_eq!(offered(&SUPER, facts(LicenseState::Active)), [Suspend, Revoke, ResetBinding]);
    assert_eq!(offered(&SUPER, facts(LicenseState::Suspended)), [Reinstate, Revoke, ResetBinding]);
    assert_eq!(offered(&SUPER, facts(LicenseState::Revoked)), Vec::<Action>::new());
    assert_eq!(offered(&ADMIN_A, facts(LicenseState::Active)), [ResetBinding]);
    assert_eq!(offered(&ADMIN_A, facts(LicenseState::Revoked)), Vec::<Action>::new());
    assert_eq!(offered(&ADMIN_B, facts(LicenseState::Active)), Vec::<Action>::new());
}

/// Invitations, API keys and ledger entries: of organization A, of B, the vendor's (of no
/// organization), none at all. People only: an API key manages none of them.
#[test]
fn what_an_organization_owns_by_every_caller() {
    use Operation::*;
    let things = [
        Resource::OwnedBy(Some(Some("A"))),
        Resource::OwnedBy(Some(Some("B"))),
        Resource::OwnedBy(Some(None)),
        Resource::OwnedBy(None),
    ];
    for op in [ManageInvitation, ManageApiKey, ReadLedgerEntry] {
        for (caller, expected) in [
            (SUPER, "+++u"),
            (ADMIN_A, "+uuu"),
            (ADMIN_B, "u+uu"),
            (ADMIN_NONE, "uuuu"),
            (VENDOR_KEY, "uuuu"),
            (KEY_A, "uuuu"),
        ] {
            check(&caller, op, &things, expected);
        }
        check(&SUPER, op, &[Resource::Portal, Resource::Organization(Some("A"))], "uu");
    }
}

#[test]
fn who_may_invite_whom_where() {
    use Operation::Invite;
    // Resources: into organization A; into B; into none.
    let resources = [
        Resource::InvitationInto(Some("A")),
        Resource::InvitationInto(Some("B")),
        Resource::InvitationInto(None),
    ];
    let table: &[(Caller<'_>, Operation, &str)] = &[
        (SUPER, Invite(Role::SuperAdmin), "+++"),
        (SUPER, Invite(Role::OrgAdmin), "+++"),
        (ADMIN_A, Invite(Role::SuperAdmin), "vvv"),
        (ADMIN_A, Invite(Role::OrgAdmin), "+vv"),
        (ADMIN_B, Invite(Role::OrgAdmin), "v+v"),
        (ADMIN_NONE, Invite(Role::OrgAdmin), "vvv"),
        (VENDOR_KEY, Invite(Role::OrgAdmin), "vvv"),
        (KEY_A, Invite(Role::OrgAdmin), "vvv"),
    ];
    for (caller, op, expected) in table {
        check(caller, *op, &resources, expected);
    }
}
