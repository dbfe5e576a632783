//! What a person is shown in lists, asked of the domain as the pages ask it: the vendor's
//! staff see every organization's people, invitations, API keys and ledger entries; an
//! org-admin sees their own organization's and nothing of another's (not even that it is
//! there). Each list is checked both ways: nothing of one's own missing, nothing of
//! another's shown.

use tessera_portal::domain::LedgerQuery;
use tessera_portal::domain::accounts::{self, Role, UserRow};
use tessera_portal::domain::apikeys;
use tessera_portal::domain::authorization::{Caller, Operation};
use tessera_portal::domain::ledger_reading;

use crate::on_both_stores;
use crate::people::{key_of, person};

fn caller(user: &UserRow, role: Role) -> Caller<'_> {
    Caller::Person { id: &user.id, role, org: user.org_id.as_deref() }
}

fn ids<T>(rows: &[T], id: impl Fn(&T) -> &str) -> Vec<String> {
    let mut ids: Vec<String> = rows.iter().map(|r| id(r).to_owned()).collect();
    ids.sort();
    ids
}

on_both_stores!(each_list_shows_the_vendor_everything_and_an_org_admin_their_own, |app| {
    let store = app.portal.records();
    let now = app.now();
    let acme = accounts::create_organization(store, "Acme Corp", now).await.expect("org");
    let globex = accounts::create_organization(store, "Globex", now).await.expect("org");
    let dana = person(&app, "dana@vendor.example", Role::SuperAdmin, None).await;
    let kim = person(&app, "kim@acme.example", Role::OrgAdmin, Some(&acme.id)).await;
    let lee = person(&app, "lee@globex.example", Role::OrgAdmin, Some(&globex.id)).await;
    let (to_acme, _) =
        accounts::invite(store, &kim, "new@acme.example", Role::OrgAdmin, Some(&acme.id), now)
            .await
            .expect("invitation");
    let (to_globex, _) =
        accounts::invite(store, &lee, "new@globex.example", Role::OrgAdmin, Some(&globex.id), now)
            .await
            .expect("invitation");
    key_of(&app, &kim, Some(&acme.id)).await;
    key_of(&app, &lee, Some(&globex.id)).await;
    let (vendor, acme_admin) = (caller(&dana, Role::SuperAdmin), caller(&kim, Role::OrgAdmin));

    // Organizations.
    let seen = accounts::organizations_visible(store, &vendor).await.expect("db");
    assert_eq!(ids(&seen, |o| &o.id), ids(&[acme.clone(), globex.clone()], |o| &o.id));
    let seen = accounts::organizations_visible(store, &acme_admin).await.expect("db");
    assert_eq!(ids(&seen, |o| &o.id), vec![acme.id.clone()]);

    // People.
    let seen = accounts::people_visible(store, &vendor).await.expect("db");
    assert_eq!(ids(&seen, |u| &u.id), ids(&[dana.clone(), kim.clone(), lee.clone()], |u| &u.id));
    let seen = accounts::people_visible(store, &acme_admin).await.expect("db");
    assert_eq!(ids(&seen, |u| &u.id), vec![kim.id.clone()]);

    // A person to manage: one's own organization's, never another's.
    let found = accounts::person_for(store, &acme_admin, Operation::ManagePerson, &lee.id);
    assert!(found.await.expect("db").is_none(), "an org-admin manages another's person");
    let found = accounts::person_for(store, &vendor, Operation::ManagePerson, &lee.id);
    assert_eq!(found.await.expect("db").map(|u| u.id), Some(lee.id.clone()));

    // Invitations, listed and one by one.
    let seen = accounts::invitations_visible(store, &vendor).await.expect("db");
    assert_eq!(seen.len(), 2, "the vendor sees every pending invitation");
    let seen = accounts::invitations_visible(store, &acme_admin).await.expect("db");
    assert_eq!(ids(&seen, |i| &i.token_sha256), vec![to_acme.token_sha256.clone()]);
    let other = accounts::invitation_for(store, &acme_admin, &to_globex.token_sha256);
    assert!(other.await.expect("db").is_none(), "an org-admin manages another's invitation");
    let own = accounts::invitation_for(store, &acme_admin, &to_acme.token_sha256);
    assert!(own.await.expect("db").is_some(), "an org-admin cannot manage their own invitation");
    let not_a_hash = accounts::invitation_for(store, &vendor, "../x");
    assert!(not_a_hash.await.expect("db").is_none());

    // API keys, listed and one by one.
    let all = apikeys::visible(store, &vendor).await.expect("db");
    let owners: Vec<Option<&str>> = all.iter().map(|k| k.org_id.as_deref()).collect();
    for org in [&acme.id, &globex.id] {
        assert!(owners.contains(&Some(org.as_str())), "the vendor misses a key of {org}");
    }
    let own = apikeys::visible(store, &acme_admin).await.expect("db");
    assert_eq!(own.iter().map(|k| k.org_id.as_deref()).collect::<Vec<_>>(), [Some(&*acme.id)]);
    let globex_key = all.iter().find(|k| k.org_id.as_deref() == Some(&*globex.id)).expect("key");
    let other = apikeys::visible_key(store, &acme_admin, &globex_key.id);
    assert!(other.await.expect("db").is_none(), "an org-admin sees another's key");
    let own_key = apikeys::visible_key(store, &acme_admin, &own[0].id);
    assert!(own_key.await.expect("db").is_some(), "an org-admin cannot see their own key");

    // Ledger entries: the page as stored, then what each may read of it.
    let query = LedgerQuery {
        org_id: None,
        actor: None,
        target: None,
        action: None,
        from: None,
        to: None,
        before: None,
        limit: 1000,
    };
    let page = ledger_reading::page(store, &query).await.expect("db");
    let orgs = |entries: &[tessera_portal::domain::StoredEntry]| {
        let mut orgs: Vec<Option<String>> = entries.iter().map(|e| e.entry.org.clone()).collect();
        orgs.sort();
        orgs.dedup();
        orgs
    };
    assert!(orgs(&page).contains(&Some(globex.id.clone())), "the ledger holds Globex's entries");
    let read = ledger_reading::readable(&vendor, page.clone());
    assert_eq!(read.len(), page.len(), "the vendor reads every entry");
    let read = ledger_reading::readable(&acme_admin, page);
    assert!(!read.is_empty(), "an org-admin reads none of their organization's entries");
    assert_eq!(orgs(&read), vec![Some(acme.id.clone())]);
});
