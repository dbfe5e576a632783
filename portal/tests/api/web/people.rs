//! People over real HTTP: invitations, roles, removal, API keys made on the pages (one's
//! rights over one's data: `data_rights`).

use super::*;

on_both_stores!(an_invitation_works_once_within_seven_days_and_only_as_offered, |app| {
    person(&app, "dana@vendor.example", Role::SuperAdmin, None).await;
    let acme = accounts::create_organization(&app.portal.store, "Acme Corp", app.now())
        .await
        .expect("org");
    let globex =
        accounts::create_organization(&app.portal.store, "Globex", app.now()).await.expect("org");
    let mut staff = Browser::new(&app);
    assert_eq!(staff.sign_in("dana@vendor.example", PASSWORD).await.status, 303);
    let people = staff.get("/ui/users").await;
    let csrf = people.csrf();
    let made = staff.invite_org_admin("Kim@Acme.example", &acme.id, &csrf).await;
    assert_eq!(made.status, 200, "{}", made.body);
    let link = invitation_link(&made);
    // Shown once: the users page lists the invitation, never its link again.
    let again = staff.get("/ui/users").await;
    assert!(again.body.contains("kim@acme.example") && !again.body.contains("/ui/invite/"));
    // Only the token's hash is stored.
    let token = link.rsplit('/').next().expect("token").to_owned();
    assert!(app.portal.store.invitation(&token).await.expect("db").is_none());

    let mut kim = Browser::new(&app);
    let form = kim.get(&link).await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains("kim@acme.example"));
    let csrf = form.csrf();
    let weak = kim
        .post(
            &link,
            &[
                ("name", "Kim Lee"),
                ("password", "password1234"),
                ("again", "password1234"),
                ("csrf", &csrf),
            ],
            None,
        )
        .await;
    assert_eq!(weak.status, 400);
    assert!(weak.body.contains("too common"), "{}", weak.body);
    let csrf = weak.csrf();
    let joined = kim
        .post(
            &link,
            &[
                ("name", "Kim Lee"),
                ("password", "quiet harbour lamps"),
                ("again", "quiet harbour lamps"),
                ("csrf", &csrf),
            ],
            None,
        )
        .await;
    assert_eq!((joined.status, joined.location.as_deref()), (303, Some("/ui")), "{}", joined.body);
    let home = kim.get("/ui").await;
    assert!(home.body.contains("The licenses of Acme Corp."), "{}", home.body);
    let kim_row =
        app.portal.store.user_by_email("kim@acme.example").await.expect("db").expect("user");
    assert_eq!(
        (kim_row.role.as_str(), kim_row.org_id.as_deref()),
        ("org-admin", Some(acme.id.as_str()))
    );

    // Used: gone. A second link left 7 days: gone too.
    assert_eq!(Browser::new(&app).get(&link).await.status, 404);
    let csrf = csrf_of(&mut staff).await;
    let made = staff.invite_org_admin("lee@acme.example", &acme.id, &csrf).await;
    let late = invitation_link(&made);
    app.clock.advance(Duration::from_secs(7 * 86_400 + 1));
    assert_eq!(Browser::new(&app).get(&late).await.status, 404);
    assert_eq!(Browser::new(&app).get("/ui/invite/not-a-token").await.status, 404);

    // An org-admin invites only org-admins of their own organization.
    assert_eq!(kim.sign_in("kim@acme.example", "quiet harbour lamps").await.status, 303);
    let csrf = csrf_of(&mut kim).await;
    for (role, org) in [("super-admin", ""), ("org-admin", globex.id.as_str())] {
        let refused = kim
            .post(
                "/ui/users/invite",
                &[("email", "x@acme.example"), ("role", role), ("org", org), ("csrf", &csrf)],
                None,
            )
            .await;
        assert_eq!(refused.status, 400, "{role} {org}: {}", refused.body);
        assert!(!refused.body.contains("/ui/invite/"));
    }
    let people = kim.get("/ui/users").await;
    assert!(!people.body.contains("dana@vendor.example"), "an org-admin sees the vendor's staff");
});

on_both_stores!(people_make_and_revoke_api_keys_on_the_web_pages_within_their_reach, |app| {
    let acme = accounts::create_organization(&app.portal.store, "Acme Corp", app.now())
        .await
        .expect("org");
    person(&app, "dana@vendor.example", Role::SuperAdmin, None).await;
    person(&app, "ops@acme.example", Role::OrgAdmin, Some(&acme.id)).await;
    let mut kim = Browser::new(&app);
    assert_eq!(kim.sign_in("ops@acme.example", PASSWORD).await.status, 303);
    let page = kim.get("/ui/api-keys").await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("name=\"revoke\""), "an org-admin is not offered the revoke scope");
    let csrf = page.csrf();
    let refused = kim
        .post(
            "/ui/api-keys",
            &[("label", "ci"), ("read", "on"), ("revoke", "on"), ("csrf", &csrf)],
            None,
        )
        .await;
    assert_eq!(refused.status, 400);
    let made =
        kim.post("/ui/api-keys", &[("label", "ci"), ("read", "on"), ("csrf", &csrf)], None).await;
    assert_eq!(made.status, 200);
    let secret = code_after(&made, "shown only now");
    assert!(secret.starts_with("tsk_"), "{secret}");
    let listed = app.get("/v1/admin/licenses", Some(&secret)).await;
    assert_eq!(listed.status, 200, "the key works");
    let id = secret[4..20].to_owned();
    let row = app.portal.store.api_key(&id).await.expect("db").expect("row");
    assert_eq!(row.org_id.as_deref(), Some(acme.id.as_str()));
    assert!(row.owner_id.is_some());

    // The vendor's keys are not the org-admin's to see or revoke.
    let vendor_key = app.admin_key[4..20].to_owned();
    assert!(!kim.get("/ui/api-keys").await.body.contains(&vendor_key));
    let tried =
        kim.post(&format!("/ui/api-keys/{vendor_key}/revoke"), &[("csrf", &csrf)], None).await;
    assert_eq!(tried.status, 404);
    assert!(
        app.portal.store.api_key(&vendor_key).await.expect("db").expect("row").revoked_at.is_none()
    );

    // The vendor's staff see every key, and revoke the organization's.
    let mut dana = Browser::new(&app);
    assert_eq!(dana.sign_in("dana@vendor.example", PASSWORD).await.status, 303);
    let all = dana.get("/ui/api-keys").await;
    assert!(all.body.contains(&vendor_key) && all.body.contains(&id));
    let csrf = all.csrf();
    let revoked = dana.post(&format!("/ui/api-keys/{id}/revoke"), &[("csrf", &csrf)], None).await;
    assert_eq!(revoked.status, 303);
    assert_eq!(app.get("/v1/admin/licenses", Some(&secret)).await.status, 401);
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_is_emailed_through_the_smtp_relay_and_a_dead_relay_is_said() {
    let Some(python) = aiosmtpd() else { return };
    let relay = Relay::start(&python);
    let app = crate::mail::app_with(&relay).await;
    let acme = accounts::create_organization(&app.portal.store, "Acme Corp", app.now())
        .await
        .expect("org");
    person(&app, "dana@vendor.example", Role::SuperAdmin, None).await;
    let mut dana = Browser::new(&app);
    assert_eq!(dana.sign_in("dana@vendor.example", PASSWORD).await.status, 303);
    let csrf = csrf_of(&mut dana).await;
    let made = dana.invite_org_admin("kim@acme.example", &acme.id, &csrf).await;
    assert_eq!(made.status, 200, "{}", made.body);
    assert!(made.body.contains("emailed to kim@acme.example"), "{}", made.body);
    assert!(!made.body.contains("/ui/invite/"), "an emailed link is not shown: {}", made.body);
    // (The relay joins the body's quoted-printable soft line breaks.)
    let printed = relay.wait_for("END MESSAGE");
    drop(relay);
    let link = crate::mail::emailed_invitation_link(&printed, "https://portal.vendor.example");
    // The relay is gone: the invitation is still made, and the page says the email was not sent.
    assert!(printed.contains("To: kim@acme.example"), "{printed}");
    assert!(
        printed.contains("From: \"Tessera portal\" <portal@vendor.example>")
            || printed.contains("From: Tessera portal <portal@vendor.example>"),
        "{printed}"
    );
    assert!(printed.contains(&link), "the link is in the email: {printed}");
    assert!(
        printed.contains("Dana Smith invites you") && printed.contains("for Acme Corp"),
        "{printed}"
    );
    let again = dana.invite_org_admin("lee@acme.example", &acme.id, &csrf).await;
    assert_eq!(again.status, 200);
    assert!(again.body.contains("could not be sent"), "{}", again.body);
    assert!(again.body.contains("/ui/invite/"));
}

on_both_stores!(
    super_admins_change_roles_and_remove_people_but_never_the_last_super_admin,
    |app| {
        let acme = accounts::create_organization(&app.portal.store, "Acme Corp", app.now())
            .await
            .expect("org");
        person(&app, "dana@vendor.example", Role::SuperAdmin, None).await;
        person(&app, "ops@acme.example", Role::OrgAdmin, Some(&acme.id)).await;
        person(&app, "lee@acme.example", Role::OrgAdmin, Some(&acme.id)).await;
        let user = |email: &'static str| {
            let store = app.portal.store.clone();
            async move { store.user_by_email(email).await.expect("db").expect("user") }
        };
        let (dana, kim, lee) = (
            user("dana@vendor.example").await,
            user("ops@acme.example").await,
            user("lee@acme.example").await,
        );
        let mut dana_b = Browser::new(&app);
        let mut kim_b = Browser::new(&app);
        assert_eq!(dana_b.sign_in("dana@vendor.example", PASSWORD).await.status, 303);
        assert_eq!(kim_b.sign_in("ops@acme.example", PASSWORD).await.status, 303);

        // Nobody manages themself; an org-admin cannot change roles.
        assert_eq!(dana_b.get(&format!("/ui/users/{}", dana.id)).await.status, 404);
        let csrf = csrf_of(&mut kim_b).await;
        let tried = kim_b
            .post(
                &format!("/ui/users/{}/role", lee.id),
                &[("role", "super-admin"), ("csrf", &csrf)],
                None,
            )
            .await;
        assert_eq!(tried.status, 404);
        assert_eq!(user("lee@acme.example").await.role, "org-admin");

        // Kim becomes a super-admin: her sessions end.
        let csrf = csrf_of(&mut dana_b).await;
        let page = dana_b.get(&format!("/ui/users/{}", kim.id)).await;
        assert_eq!(page.status, 200);
        let changed = dana_b
            .post(
                &format!("/ui/users/{}/role", kim.id),
                &[("role", "super-admin"), ("org", ""), ("csrf", &csrf)],
                None,
            )
            .await;
        assert_eq!(changed.location.as_deref(), Some("/ui/users?done=role"), "{}", changed.body);
        assert_eq!(kim_b.get("/ui").await.status, 303, "a role change ends the sessions");
        let kim_now = user("ops@acme.example").await;
        assert_eq!((kim_now.role.as_str(), kim_now.org_id.as_deref()), ("super-admin", None));
        let bad = dana_b
            .post(
                &format!("/ui/users/{}/role", lee.id),
                &[("role", "org-admin"), ("org", ""), ("csrf", &csrf)],
                None,
            )
            .await;
        assert_eq!(bad.status, 400);

        // Lee made a key; removing Lee revokes it and ends everything of Lee's.
        let key = key_of(&app, &lee, Some(&acme.id)).await;
        let confirm = dana_b.get(&format!("/ui/users/{}/remove", lee.id)).await;
        assert_eq!(confirm.status, 200);
        let removed =
            dana_b.post(&format!("/ui/users/{}/remove", lee.id), &[("csrf", &csrf)], None).await;
        assert_eq!(removed.location.as_deref(), Some("/ui/users?done=removed"));
        assert!(app.portal.store.user_by_email("lee@acme.example").await.expect("db").is_none());
        assert_eq!(app.get("/v1/admin/licenses", Some(&key)).await.status, 401);
        assert_eq!(Browser::new(&app).sign_in("lee@acme.example", PASSWORD).await.status, 401);

        // Kim (now a super-admin) removes Dana; then Kim is the last one and cannot be demoted
        // by anyone, nor removed.
        let mut kim_b = Browser::new(&app);
        assert_eq!(kim_b.sign_in("ops@acme.example", PASSWORD).await.status, 303);
        let csrf = csrf_of(&mut kim_b).await;
        let gone =
            kim_b.post(&format!("/ui/users/{}/remove", dana.id), &[("csrf", &csrf)], None).await;
        assert_eq!(gone.status, 303);
        let kim = user("ops@acme.example").await;
        let store = &app.portal.store;
        assert!(!store.set_role(&kim.id, "org-admin", Some(&acme.id)).await.expect("db"));
        assert!(!store.delete_user(&kim.id, app.now().as_unix()).await.expect("db"));
        assert_eq!(user("ops@acme.example").await.role, "super-admin");
    }
);
