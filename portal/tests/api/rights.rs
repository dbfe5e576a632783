//! What people made under their rights does not outlive those rights: an API key acts only
//! within its owner's current role and organization, and an invitation only while its
//! author may still make it. After a role change, a move, an erasure, and after an edit of
//! the database that went round the portal's rules.

use tessera_portal::domain::accounts::{self, Password, Role};
use tessera_portal::store::UserRow;

use crate::helpers::TestApp;
use crate::on_both_stores;
use crate::people::{PASSWORD, key_of, person};

async fn fresh(app: &TestApp, who: &UserRow) -> UserRow {
    app.portal.store.user(&who.id).await.expect("db").expect("user")
}

async fn works(app: &TestApp, key: &str) -> bool {
    let answer = app.get("/v1/admin/licenses", Some(key)).await;
    match answer.status {
        200 => true,
        401 => false,
        other => panic!("the key got {other}: {:?}", answer.body),
    }
}

/// Accepting an invitation: Ok when an account was made.
async fn accept(app: &TestApp, token: &str) -> Result<UserRow, String> {
    let password = Password::new(PASSWORD);
    accounts::accept_invitation(&app.portal.store, token, "New Person", &password, app.now())
        .await
        .map_err(|e| e.to_string())
}

on_both_stores!(a_key_acts_only_within_its_owners_current_rights, |app| {
    let store = app.portal.store.clone();
    let acme = accounts::create_organization(&store, "Acme Corp", app.now()).await.expect("org");
    let globex = accounts::create_organization(&store, "Globex", app.now()).await.expect("org");
    let dana = person(&app, "dana@vendor.example", Role::SuperAdmin, None).await;
    let sam = person(&app, "sam@vendor.example", Role::SuperAdmin, None).await;
    let kim = person(&app, "kim@acme.example", Role::OrgAdmin, Some(&acme.id)).await;
    let sams = key_of(&app, &sam, None).await;
    let kims = key_of(&app, &kim, Some(&acme.id)).await;
    assert!(works(&app, &sams).await && works(&app, &kims).await);

    // A super-admin demoted to org-admin: the vendor-wide key stops, revoked and recorded.
    accounts::change_role(&store, &dana, &sam, Role::OrgAdmin, Some(&acme.id), app.now())
        .await
        .expect("demote");
    assert!(!works(&app, &sams).await, "a demoted super-admin's vendor-wide key");
    let row = store.api_key(&sams[4..20]).await.expect("db").expect("row");
    assert!(row.revoked_at.is_some(), "revoked, so the owner sees it on their page");
    // An org-admin moved to another organization: the old organization's key stops.
    accounts::change_role(&store, &dana, &kim, Role::OrgAdmin, Some(&globex.id), app.now())
        .await
        .expect("move");
    assert!(!works(&app, &kims).await, "a moved org-admin's key for the old organization");
    let revoked = app.get("/v1/admin/licenses", Some(&kims)).await;
    assert_eq!(revoked.code(), "invalid_api_key");

    // A key made after the move, in the new organization, works; a promotion keeps it.
    let kims_new = key_of(&app, &fresh(&app, &kim).await, Some(&globex.id)).await;
    assert!(works(&app, &kims_new).await);
    accounts::change_role(&store, &dana, &kim, Role::SuperAdmin, None, app.now())
        .await
        .expect("promote");
    assert!(works(&app, &kims_new).await, "more rights never take a key away");

    // The database edited round the portal's rules (a restore, an insider): the key still
    // acts only within what its owner may do now.
    let lee = person(&app, "lee@acme.example", Role::OrgAdmin, Some(&acme.id)).await;
    let lees = key_of(&app, &lee, Some(&acme.id)).await;
    assert!(works(&app, &lees).await);
    assert!(store.set_role(&lee.id, "org-admin", Some(&globex.id)).await.expect("edit"));
    let refused = app.get("/v1/admin/licenses", Some(&lees)).await;
    assert_eq!(refused.status, 401);
    assert!(
        refused.body.to_string().contains("no longer has the rights"),
        "the reason: {:?}",
        refused.body
    );
});

on_both_stores!(an_invitation_dies_with_its_authors_rights, |app| {
    let store = app.portal.store.clone();
    let acme = accounts::create_organization(&store, "Acme Corp", app.now()).await.expect("org");
    let globex = accounts::create_organization(&store, "Globex", app.now()).await.expect("org");
    let dana = person(&app, "dana@vendor.example", Role::SuperAdmin, None).await;
    let sam = person(&app, "sam@vendor.example", Role::SuperAdmin, None).await;
    let kim = person(&app, "kim@acme.example", Role::OrgAdmin, Some(&acme.id)).await;
    let lee = person(&app, "lee@acme.example", Role::OrgAdmin, Some(&acme.id)).await;
    let invite = |who: UserRow, email: &'static str, role: Role, org: Option<String>| {
        let store = store.clone();
        let now = app.now();
        async move {
            let (_, token) = accounts::invite(&store, &who, email, role, org.as_deref(), now)
                .await
                .expect("invite");
            token.expose().to_owned()
        }
    };
    let sam_super = invite(sam.clone(), "a@vendor.example", Role::SuperAdmin, None).await;
    let sam_globex =
        invite(sam.clone(), "b@globex.example", Role::OrgAdmin, Some(globex.id.clone())).await;
    let sam_acme =
        invite(sam.clone(), "c@acme.example", Role::OrgAdmin, Some(acme.id.clone())).await;
    let kim_acme =
        invite(kim.clone(), "d@acme.example", Role::OrgAdmin, Some(acme.id.clone())).await;
    let lee_acme =
        invite(lee.clone(), "e@acme.example", Role::OrgAdmin, Some(acme.id.clone())).await;
    let kim_acme_2 =
        invite(kim.clone(), "f@acme.example", Role::OrgAdmin, Some(acme.id.clone())).await;

    // Sam demoted to org-admin of Acme: what Sam may no longer offer is cancelled; the
    // invitation into Acme stays (Sam may still make it).
    accounts::change_role(&store, &dana, &sam, Role::OrgAdmin, Some(&acme.id), app.now())
        .await
        .expect("demote");
    for (what, token) in [("a super-admin", &sam_super), ("another organization", &sam_globex)] {
        let tried = accept(&app, token).await;
        assert!(tried.is_err(), "{what}: an invitation beyond its author's rights was accepted");
    }
    let joined = accept(&app, &sam_acme).await.expect("within Sam's rights still");
    assert_eq!((joined.role.as_str(), joined.org_id.as_deref()), ("org-admin", Some(&*acme.id)));

    // Lee erased: Lee's invitation goes with Lee.
    accounts::erase(&store, &dana, &lee, None, app.now()).await.expect("erase");
    assert!(accept(&app, &lee_acme).await.is_err(), "an erased author's invitation");

    // Kim moved to Globex: the invitation into Acme dies.
    accounts::change_role(&store, &dana, &kim, Role::OrgAdmin, Some(&globex.id), app.now())
        .await
        .expect("move");
    assert!(accept(&app, &kim_acme).await.is_err(), "a moved author's invitation");

    // And round the portal's rules: Kim put back into Acme then out again by an edit of
    // the database; the check at acceptance refuses, saying why.
    let kim_acme_3 = {
        assert!(store.set_role(&kim.id, "org-admin", Some(&acme.id)).await.expect("edit"));
        invite(fresh(&app, &kim).await, "g@acme.example", Role::OrgAdmin, Some(acme.id.clone()))
            .await
    };
    assert!(store.set_role(&kim.id, "org-admin", Some(&globex.id)).await.expect("edit"));
    let refused = accept(&app, &kim_acme_3).await.expect_err("refused");
    assert!(refused.contains("withdrawn"), "{refused}");
    assert!(accept(&app, &kim_acme_2).await.is_err());
    assert!(store.user_by_email("g@acme.example").await.expect("db").is_none());
});
