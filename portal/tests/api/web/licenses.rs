//! The licenses' pages over real HTTP, as each role sees them: an organization's own only,
//! its actions, finding one, the dashboard, and the API keys of an organization.

use super::*;

on_both_stores!(an_org_admin_sees_and_reaches_only_their_own_organization, |app| {
    let (acme, acme_text) = app.issue(|t| t.org = "Acme Corp".parse().expect("org"));
    let (globex, globex_text) = app.issue(|t| t.org = "Globex".parse().expect("org"));
    assert_eq!(app.register(&acme_text).await.status, 201);
    // The organization made after its license was registered gets it; the one made before
    // gets its license at registration.
    let acme_org = accounts::create_organization(&app.portal.store, "Acme Corp", app.now())
        .await
        .expect("org");
    accounts::create_organization(&app.portal.store, "Globex", app.now()).await.expect("org");
    assert_eq!(app.register(&globex_text).await.status, 201);
    let (acme_id, globex_id) = (acme.id.to_string(), globex.id.to_string());
    assert_eq!(
        app.portal.store.license_organization(&acme_id).await.expect("db"),
        Some(acme_org.id.clone())
    );
    assert!(app.portal.store.license_organization(&globex_id).await.expect("db").is_some());

    person(&app, "ops@acme.example", Role::OrgAdmin, Some(&acme_org.id)).await;
    let mut browser = Browser::new(&app);
    assert_eq!(browser.sign_in("ops@acme.example", PASSWORD).await.status, 303);
    let list = browser.get("/ui/licenses").await;
    assert!(list.body.contains(&acme_id), "{}", list.body);
    assert!(!list.body.contains(&globex_id), "another organization's license is listed");
    // Asking by the other organization's name changes nothing.
    let asked = browser.get("/ui/licenses?org=Globex").await;
    assert!(!asked.body.contains(&globex_id));
    let dashboard = browser.get("/ui").await;
    assert!(dashboard.body.contains("The licenses of Acme Corp."), "{}", dashboard.body);

    for path in [
        format!("/ui/licenses/{globex_id}"),
        format!("/ui/licenses/{globex_id}/confirm/suspend"),
        format!("/ui/licenses/{acme_id}/confirm/revoke"),
        "/ui/organizations".to_owned(),
    ] {
        assert_eq!(browser.get(&path).await.status, 404, "{path}");
    }
    let own = browser.get(&format!("/ui/licenses/{acme_id}")).await;
    assert_eq!(own.status, 200);
    let csrf = own.csrf();
    for (id, action) in [(&globex_id, "suspend"), (&acme_id, "revoke"), (&acme_id, "suspend")] {
        let tried =
            browser.post(&format!("/ui/licenses/{id}/{action}"), &[("csrf", &csrf)], None).await;
        assert_eq!(tried.status, 404, "{action} {id}");
    }
    for id in [&acme_id, &globex_id] {
        let row = app.portal.store.license(id).await.expect("db").expect("row");
        assert_eq!(row.state.as_str(), "active");
    }
});

on_both_stores!(the_license_page_shows_terms_standing_and_a_monthly_chart, |app| {
    person(&app, "dana@vendor.example", Role::SuperAdmin, None).await;
    let claims = app.registered_license().await;
    let mut hub = crate::helpers::TestHub::new("web", &app);
    hub.activate(&app, &claims).await;
    for _ in 0..3 {
        app.clock.advance(Duration::from_secs(3600));
        hub.ping(&app, &claims).await;
    }
    let mut browser = Browser::new(&app);
    assert_eq!(browser.sign_in("dana@vendor.example", PASSWORD).await.status, 303);
    let page = browser.get(&format!("/ui/licenses/{}", claims.id)).await;
    assert_eq!(page.status, 200);
    for text in ["Acme Corp", "acme-hub", "status-valid", "<svg", "3 validations", "Suspend"] {
        assert!(page.body.contains(text), "{text} missing from {}", page.body);
    }
    let missing = browser.get("/ui/licenses/0190aaaa-0000-7000-8000-000000000000").await;
    assert_eq!(missing.status, 404);
});

on_both_stores!(a_customer_resets_a_binding_once_a_month_and_downloads_only_their_usage, |app| {
    let (acme, acme_text) = app.issue(|t| t.org = "Acme Corp".parse().expect("org"));
    let (globex, globex_text) = app.issue(|t| t.org = "Globex".parse().expect("org"));
    let acme_org = accounts::create_organization(&app.portal.store, "Acme Corp", app.now())
        .await
        .expect("org");
    assert_eq!(app.register(&acme_text).await.status, 201);
    assert_eq!(app.register(&globex_text).await.status, 201);
    let mut hub = crate::helpers::TestHub::new("acme-hub-1", &app);
    hub.activate(&app, &acme).await;
    hub.ping(&app, &acme).await;
    let mut other = crate::helpers::TestHub::new("globex-hub", &app);
    other.activate(&app, &globex).await;
    other.ping(&app, &globex).await;
    person(&app, "ops@acme.example", Role::OrgAdmin, Some(&acme_org.id)).await;
    let mut kim = Browser::new(&app);
    assert_eq!(kim.sign_in("ops@acme.example", PASSWORD).await.status, 303);

    let usage = kim.get("/ui/usage.csv").await;
    assert_eq!(usage.status, 200);
    assert!(usage.headers["content-disposition"].to_str().expect("ascii").contains("usage.csv"));
    assert!(usage.body.contains(&acme.id.to_string()), "{}", usage.body);
    assert!(!usage.body.contains(&globex.id.to_string()), "another organization's usage");

    let id = acme.id.to_string();
    let confirm = kim.get(&format!("/ui/licenses/{id}/confirm/reset-binding")).await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.body.contains("once every 30 days"), "{}", confirm.body);
    let csrf = confirm.csrf();
    let reset =
        kim.post(&format!("/ui/licenses/{id}/reset-binding"), &[("csrf", &csrf)], None).await;
    assert_eq!(
        reset.location.as_deref(),
        Some(format!("/ui/licenses/{id}?done=reset-binding").as_str())
    );
    assert!(app.portal.store.activation(&id).await.expect("db").is_none(), "the binding is gone");
    // The hub moves to a new machine; a second reset within 30 days is refused.
    let mut moved = crate::helpers::TestHub::new("acme-hub-2", &app);
    moved.activate(&app, &acme).await;
    app.clock.advance(Duration::from_secs(29 * 86_400));
    // (The session ended meanwhile: a new day, a new sign-in.)
    assert_eq!(kim.sign_in("ops@acme.example", PASSWORD).await.status, 303);
    let csrf = csrf_of(&mut kim).await;
    let refused =
        kim.post(&format!("/ui/licenses/{id}/reset-binding"), &[("csrf", &csrf)], None).await;
    assert_eq!(refused.status, 409);
    assert!(refused.body.contains("the next reset is possible from"), "{}", refused.body);
    assert!(app.portal.store.activation(&id).await.expect("db").is_some(), "nothing changed");
    app.clock.advance(Duration::from_secs(86_400 + 1));
    assert_eq!(kim.sign_in("ops@acme.example", PASSWORD).await.status, 303);
    let csrf = csrf_of(&mut kim).await;
    let later =
        kim.post(&format!("/ui/licenses/{id}/reset-binding"), &[("csrf", &csrf)], None).await;
    let done = format!("/ui/licenses/{id}?done=reset-binding");
    assert_eq!(later.location.as_deref(), Some(done.as_str()), "{}", later.body);
    // Nor can the customer suspend, or reach another organization's binding.
    for (lid, action) in [(id.clone(), "suspend"), (globex.id.to_string(), "reset-binding")] {
        let tried =
            kim.post(&format!("/ui/licenses/{lid}/{action}"), &[("csrf", &csrf)], None).await;
        assert_eq!(tried.status, 404, "{action} {lid}");
    }
    assert!(app.portal.store.activation(&globex.id.to_string()).await.expect("db").is_some());
});

on_both_stores!(
    an_organizations_api_key_reaches_only_its_own_licenses_on_every_admin_route,
    |app| {
        use tessera_portal::domain::apikeys::{self, Owner, Scope};
        let (acme, acme_text) = app.issue(|t| t.org = "Acme Corp".parse().expect("org"));
        let (globex, globex_text) = app.issue(|t| t.org = "Globex".parse().expect("org"));
        let acme_org = accounts::create_organization(&app.portal.store, "Acme Corp", app.now())
            .await
            .expect("org");
        accounts::create_organization(&app.portal.store, "Globex", app.now()).await.expect("org");
        assert_eq!(app.register(&acme_text).await.status, 201);
        assert_eq!(app.register(&globex_text).await.status, 201);
        let mut hub = crate::helpers::TestHub::new("globex", &app);
        hub.activate(&app, &globex).await;
        hub.ping(&app, &globex).await;
        let owner = Owner { user_id: None, org_id: Some(acme_org.id.clone()) };
        let scopes = [Scope::Read, Scope::Write].into();
        let key = apikeys::create_owned(
            &app.portal.store,
            &scopes,
            "acme ci",
            None,
            owner.clone(),
            app.now(),
        )
        .await
        .expect("key");
        let key = key.expose().to_owned();
        let all = [Scope::Read, Scope::Write, Scope::Revoke].into();
        assert!(
            apikeys::create_owned(&app.portal.store, &all, "x", None, owner, app.now())
                .await
                .is_err()
        );
        let (mine, theirs) = (acme.id.to_string(), globex.id.to_string());

        // Reading: only its own, and nothing of the other organization shows anywhere.
        let list = app.get("/v1/admin/licenses", Some(&key)).await;
        assert_eq!(list.status, 200);
        let ids: Vec<&str> = list.body["licenses"]
            .as_array()
            .expect("list")
            .iter()
            .map(|l| l["id"].as_str().expect("id"))
            .collect();
        assert_eq!(ids, vec![mine.as_str()]);
        let filtered = app.get("/v1/admin/licenses?org=Globex", Some(&key)).await;
        assert_eq!(filtered.body["licenses"].as_array().map(Vec::len), Some(0));
        let orgs = app.get("/v1/admin/organizations", Some(&key)).await;
        assert_eq!(
            orgs.body["organizations"],
            serde_json::json!([{ "org": "Acme Corp", "licenses": 1 }])
        );
        let usage = app
            .http
            .get(format!("{}/v1/admin/usage?format=csv", app.address))
            .bearer_auth(&key)
            .send()
            .await
            .expect("usage");
        let usage = usage.text().await.expect("csv");
        assert!(!usage.contains(&theirs), "{usage}");
        assert_eq!(app.get(&format!("/v1/admin/licenses/{theirs}"), Some(&key)).await.status, 404);
        assert_eq!(app.get(&format!("/v1/admin/licenses/{mine}"), Some(&key)).await.status, 200);
        let by_id = app
            .post_json(
                "/v1/admin/licenses/lookup",
                Some(&key),
                &serde_json::json!({ "id": theirs }),
            )
            .await;
        assert_eq!((by_id.status, by_id.code()), (404, "unknown_license"));
        let by_key = app
            .post_json(
                "/v1/admin/licenses/lookup",
                Some(&key),
                &serde_json::json!({ "license_key": globex.key.expose() }),
            )
            .await;
        assert_eq!((by_key.status, by_key.code()), (404, "unknown_license"));

        // Changing: never the other organization's (as if it did not exist), never the vendor's calls.
        for action in ["suspend", "reinstate", "reset-binding"] {
            let path = format!("/v1/admin/licenses/{theirs}/{action}");
            let tried = app.post_json(&path, Some(&key), &serde_json::json!({})).await;
            assert_eq!((tried.status, tried.code()), (404, "unknown_license"), "{action}");
        }
        // (Revoking needs a scope an organization's key never has: refused before the license.)
        let path = format!("/v1/admin/licenses/{theirs}/revoke");
        let tried = app.post_json(&path, Some(&key), &serde_json::json!({})).await;
        assert_eq!((tried.status, tried.code()), (403, "insufficient_scope"));
        for action in ["suspend", "reinstate", "revoke"] {
            let tried = app
                .post_json(
                    &format!("/v1/admin/licenses/{mine}/{action}"),
                    Some(&key),
                    &serde_json::json!({}),
                )
                .await;
            assert_eq!(tried.status, 403, "{action}: {:?}", tried.body);
        }
        let (_, another) = app.issue(|t| t.org = "Acme Corp".parse().expect("org"));
        let register = app
            .post_json("/v1/admin/licenses", Some(&key), &serde_json::json!({ "license": another }))
            .await;
        assert_eq!((register.status, register.code()), (403, "vendor_only"));
        let batch = app
            .post_json(
                "/v1/admin/licenses/batch",
                Some(&key),
                &serde_json::json!({ "licenses": [another] }),
            )
            .await;
        assert_eq!((batch.status, batch.code()), (403, "vendor_only"));
        let reset = app
            .post_json(
                &format!("/v1/admin/licenses/{mine}/reset-binding"),
                Some(&key),
                &serde_json::json!({}),
            )
            .await;
        assert_eq!(reset.status, 200, "{:?}", reset.body);
        let again = app
            .post_json(
                &format!("/v1/admin/licenses/{mine}/reset-binding"),
                Some(&key),
                &serde_json::json!({}),
            )
            .await;
        assert_eq!((again.status, again.code()), (409, "too_soon"));
        let globex_row = app.portal.store.license(&theirs).await.expect("db").expect("row");
        assert_eq!(globex_row.state.as_str(), "active");
        assert!(app.portal.store.activation(&theirs).await.expect("db").is_some());
    }
);

on_both_stores!(
    an_unmatched_license_is_assigned_by_a_super_admin_and_then_seen_by_that_organization,
    |app| {
        let (claims, text) = app.issue(|t| t.org = "ACME Corporation Ltd".parse().expect("org"));
        assert_eq!(app.register(&text).await.status, 201);
        let id = claims.id.to_string();
        let acme = accounts::create_organization(&app.portal.store, "Acme Corp", app.now())
            .await
            .expect("org");
        assert_eq!(
            app.portal.store.license_organization(&id).await.expect("db"),
            None,
            "no exact match"
        );
        person(&app, "dana@vendor.example", Role::SuperAdmin, None).await;
        person(&app, "ops@acme.example", Role::OrgAdmin, Some(&acme.id)).await;
        let mut kim = Browser::new(&app);
        assert_eq!(kim.sign_in("ops@acme.example", PASSWORD).await.status, 303);
        assert_eq!(kim.get(&format!("/ui/licenses/{id}")).await.status, 404);
        let csrf = csrf_of(&mut kim).await;
        let tried = kim
            .post(&format!("/ui/licenses/{id}/assign"), &[("org", &acme.id), ("csrf", &csrf)], None)
            .await;
        assert_eq!(tried.status, 404, "an org-admin cannot take a license");

        let mut dana = Browser::new(&app);
        assert_eq!(dana.sign_in("dana@vendor.example", PASSWORD).await.status, 303);
        let page = dana.get(&format!("/ui/licenses/{id}")).await;
        let csrf = page.csrf();
        let assigned = dana
            .post(&format!("/ui/licenses/{id}/assign"), &[("org", &acme.id), ("csrf", &csrf)], None)
            .await;
        assert_eq!(assigned.location, Some(format!("/ui/licenses/{id}?done=assigned")));
        assert_eq!(kim.get(&format!("/ui/licenses/{id}")).await.status, 200);
        let unknown = dana
            .post(&format!("/ui/licenses/{id}/assign"), &[("org", "nope"), ("csrf", &csrf)], None)
            .await;
        assert_eq!(unknown.status, 404);
    }
);

on_both_stores!(every_page_and_form_refuses_the_wrong_organizations_admin, |app| {
    use tessera_portal::domain::apikeys::{self, Owner, Scope};
    let (globex, text) = app.issue(|t| t.org = "Globex".parse().expect("org"));
    let acme = accounts::create_organization(&app.portal.store, "Acme Corp", app.now())
        .await
        .expect("org");
    let globex_org =
        accounts::create_organization(&app.portal.store, "Globex", app.now()).await.expect("org");
    assert_eq!(app.register(&text).await.status, 201);
    person(&app, "ops@acme.example", Role::OrgAdmin, Some(&acme.id)).await;
    person(&app, "boss@globex.example", Role::OrgAdmin, Some(&globex_org.id)).await;
    let boss =
        app.portal.store.user_by_email("boss@globex.example").await.expect("db").expect("user");
    let owner = Owner { user_id: Some(boss.id.clone()), org_id: Some(globex_org.id.clone()) };
    let key = apikeys::create_owned(
        &app.portal.store,
        &[Scope::Read].into(),
        "globex",
        None,
        owner,
        app.now(),
    )
    .await
    .expect("key");
    let (lid, kid, uid) = (globex.id.to_string(), key.row.id.clone(), boss.id.clone());
    let mut kim = Browser::new(&app);
    assert_eq!(kim.sign_in("ops@acme.example", PASSWORD).await.status, 303);
    let csrf = csrf_of(&mut kim).await;
    for path in [
        format!("/ui/licenses/{lid}"),
        format!("/ui/licenses/{lid}/confirm/reset-binding"),
        format!("/ui/users/{uid}"),
        format!("/ui/users/{uid}/remove"),
        "/ui/organizations".to_owned(),
        "/ui/register".to_owned(),
    ] {
        assert_eq!(kim.get(&path).await.status, 404, "GET {path}");
    }
    for (path, form) in [
        (format!("/ui/licenses/{lid}/reset-binding"), vec![]),
        (format!("/ui/licenses/{lid}/suspend"), vec![]),
        (format!("/ui/licenses/{lid}/assign"), vec![("org", acme.id.as_str())]),
        (format!("/ui/users/{uid}/role"), vec![("role", "org-admin"), ("org", acme.id.as_str())]),
        (format!("/ui/users/{uid}/remove"), vec![]),
        (format!("/ui/api-keys/{kid}/revoke"), vec![]),
        ("/ui/organizations".to_owned(), vec![("name", "Initech")]),
    ] {
        let mut fields = form.clone();
        fields.push(("csrf", csrf.as_str()));
        assert_eq!(kim.post(&path, &fields, None).await.status, 404, "POST {path}");
    }
    let invite = kim.invite_org_admin("x@globex.example", &globex_org.id, &csrf).await;
    assert_eq!(invite.status, 400);
    for page in ["/ui/licenses", "/ui/users", "/ui/api-keys", "/ui/usage.csv", "/ui"] {
        let body = kim.get(page).await.body;
        for secret in [&lid, &kid, &uid, &"Globex".to_owned(), &"boss@globex.example".to_owned()] {
            assert!(!body.contains(secret.as_str()), "{page} shows {secret}");
        }
    }
    // Nothing of Globex changed.
    assert_eq!(
        app.portal.store.license(&lid).await.expect("db").expect("row").state.as_str(),
        "active"
    );
    assert!(app.portal.store.user(&uid).await.expect("db").is_some());
    assert!(app.portal.store.api_key(&kid).await.expect("db").expect("key").revoked_at.is_none());
    assert!(app.portal.store.organization_named("Initech").await.expect("db").is_none());
});

on_both_stores!(one_license_is_found_by_its_id_or_key_posted_and_only_among_ones_own, |app| {
    let (acme, acme_text) = app.issue(|t| t.org = "Acme Corp".parse().expect("org"));
    let (globex, globex_text) = app.issue(|t| t.org = "Globex".parse().expect("org"));
    let org = accounts::create_organization(&app.portal.store, "Acme Corp", app.now())
        .await
        .expect("org");
    assert_eq!(app.register(&acme_text).await.status, 201);
    assert_eq!(app.register(&globex_text).await.status, 201);
    person(&app, "dana@vendor.example", Role::SuperAdmin, None).await;
    person(&app, "ops@acme.example", Role::OrgAdmin, Some(&org.id)).await;
    let mut dana = Browser::new(&app);
    assert_eq!(dana.sign_in("dana@vendor.example", PASSWORD).await.status, 303);
    let csrf = csrf_of(&mut dana).await;
    let by_key =
        dana.post("/ui/licenses/find", &[("q", &acme.key.expose()), ("csrf", &csrf)], None).await;
    assert_eq!(by_key.location, Some(format!("/ui/licenses/{}", acme.id)));
    let upper = acme.id.to_string().to_uppercase();
    let by_id = dana.post("/ui/licenses/find", &[("q", &upper), ("csrf", &csrf)], None).await;
    assert_eq!(by_id.location, Some(format!("/ui/licenses/{}", acme.id)));
    let none = dana
        .post("/ui/licenses/find", &[("q", "nothing like either"), ("csrf", &csrf)], None)
        .await;
    assert_eq!(none.status, 404);
    assert!(none.body.contains("No license of yours has that id or license key."), "{}", none.body);
    let forged = dana.post("/ui/licenses/find", &[("q", &acme.key.expose())], None).await;
    assert_eq!(forged.status, 403);

    let mut kim = Browser::new(&app);
    assert_eq!(kim.sign_in("ops@acme.example", PASSWORD).await.status, 303);
    let csrf = csrf_of(&mut kim).await;
    for q in [globex.key.expose(), globex.id.to_string()] {
        let other = kim.post("/ui/licenses/find", &[("q", &q), ("csrf", &csrf)], None).await;
        assert_eq!(other.status, 404, "another organization's license is not found");
        assert!(!other.body.contains(&globex.id.to_string()));
    }
});

on_both_stores!(the_staff_dashboard_counts_once_a_minute_and_says_when, |app| {
    person(&app, "dana@vendor.example", Role::SuperAdmin, None).await;
    let mut dana = Browser::new(&app);
    assert_eq!(dana.sign_in("dana@vendor.example", PASSWORD).await.status, 303);
    let valid_count = |page: &Page| {
        let at = page.body.find("standing=valid\"").expect("valid card");
        let rest = &page.body[at..];
        let start = rest.find("class=\"n\">").expect("figure") + "class=\"n\">".len();
        rest[start..start + rest[start..].find('<').expect("end")].to_owned()
    };
    let first = dana.get("/ui").await;
    assert!(first.body.contains("Counted at"), "{}", first.body);
    assert_eq!(valid_count(&first), "0");
    app.registered_license().await;
    assert_eq!(valid_count(&dana.get("/ui").await), "0", "the same minute: the same figures");
    app.clock.advance(Duration::from_secs(61));
    assert_eq!(valid_count(&dana.get("/ui").await), "1", "a minute later: counted again");
});
