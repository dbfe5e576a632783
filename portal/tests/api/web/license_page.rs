//! One license's page answers support's questions: its terms, its hub (bound since, key
//! id, last validation, overdue), a cloned hub's warning with what to do, and twelve months
//! of validations with the empty ones shown.

use super::*;

on_both_stores!(the_license_page_says_how_its_hub_is_doing_and_what_to_do, |app| {
    person(&app, "dana@vendor.example", Role::SuperAdmin, None).await;
    let claims = app.registered_license().await;
    let id = claims.id.to_string();
    let mut hub = crate::helpers::TestHub::new("support", &app);
    hub.activate(&app, &claims).await;
    hub.ping(&app, &claims).await;
    let mut dana = Browser::new(&app);
    assert_eq!(dana.sign_in("dana@vendor.example", PASSWORD).await.status, 303);
    let page = dana.get(&format!("/ui/licenses/{id}")).await;
    assert_eq!(page.status, 200);
    let activation = app.portal.store.activation(&id).await.expect("db").expect("bound");
    let key: tessera_core::keys::PublicKey = activation.hub_key.parse().expect("hub key");
    for text in [
        "Runner limit",
        "Ping interval",
        "every 60 minutes",
        "Bound since",
        "Hub key id",
        &key.key_id().to_string(),
    ] {
        assert!(page.body.contains(text), "{text} missing from {}", page.body);
    }
    assert!(!page.body.contains("Overdue"), "a hub that just validated is not overdue");
    assert!(!page.body.contains("A copy of this hub was refused"));
    // Twelve months ending with this one (March 2027), those without validations too, on a
    // labelled scale.
    for month in ["2026-04", "2026-12", "2027-01", "2027-03"] {
        assert!(page.body.contains(&format!(">{month}<")), "{month} not on the chart");
    }
    assert!(page.body.contains(">Validations<") && page.body.contains(">Month<"));

    // Silent for three ping intervals: overdue, said in words.
    app.clock.advance(Duration::from_secs(3 * 3600));
    let mut dana = Browser::new(&app);
    assert_eq!(dana.sign_in("dana@vendor.example", PASSWORD).await.status, 303);
    let late = dana.get(&format!("/ui/licenses/{id}")).await;
    assert!(late.body.contains("Overdue: no validation for 3 hours"), "{}", late.body);
    // A refused copy of the hub, as the ping path records it: the warning and what to do.
    let at = app.now().as_unix();
    sqlx::query("UPDATE activations SET cloned_at = $1 WHERE license_id = $2")
        .bind(at)
        .bind(&id)
        .execute(app.portal.store.pool())
        .await
        .expect("record a copy");
    let cloned = dana.get(&format!("/ui/licenses/{id}")).await;
    assert!(cloned.body.contains("A copy of this hub was refused"), "{}", cloned.body);
    assert!(cloned.body.contains("What to do:"), "{}", cloned.body);
});

on_both_stores!(the_extend_page_says_how_to_issue_and_register_the_renewal, |app| {
    // A name a shell would break on: the command quotes it.
    let acme = accounts::create_organization(&app.portal.store, "O'Brien & Co", app.now())
        .await
        .expect("org");
    let (claims, text) = app.issue(|t| {
        t.org = "O'Brien & Co".parse().expect("org");
        t.runners = 7;
    });
    assert_eq!(app.register(&text).await.status, 201);
    let (_, other) = app.issue(|_| {});
    assert_eq!(app.register(&other).await.status, 201);
    let id = claims.id.to_string();
    person(&app, "dana@vendor.example", Role::SuperAdmin, None).await;
    let mut dana = Browser::new(&app);
    assert_eq!(dana.sign_in("dana@vendor.example", PASSWORD).await.status, 303);
    let page = dana.get(&format!("/ui/licenses/{id}")).await;
    let link = format!(r#"href="/ui/licenses/{id}/extend""#);
    assert!(page.body.contains(&link), "{}", page.body);

    let extend = dana.get(&format!("/ui/licenses/{id}/extend")).await;
    assert_eq!(extend.status, 200, "{}", extend.body);
    let ends = tessera_core::UnixTime::from_unix(claims.expires_at.as_unix() + 365 * 86_400)
        .expect("t")
        .date()
        .to_string();
    for said in [
        "The portal cannot extend a license",
        "does not replace a registered license",
        "tessera issue --key signing.key",
        r#"--org 'O'\''Brien &amp; Co' \"#,
        "--product acme-hub \\",
        "--runners 7 \\",
        &format!("--expires {ends} \\"),
        "--grace-days 7 \\",
        "--ping-interval 1h \\",
        "--out o-brien-co-renewed.license",
        "--register",
        "tessera-hub activate --license o-brien-co-renewed.license",
    ] {
        assert!(extend.body.contains(said), "{said:?} missing from {}", extend.body);
    }

    // An org-admin does not issue licenses: no link, and the page is not theirs.
    person(&app, "ops@obrien.example", Role::OrgAdmin, Some(&acme.id)).await;
    let mut ops = Browser::new(&app);
    assert_eq!(ops.sign_in("ops@obrien.example", PASSWORD).await.status, 303);
    let theirs = ops.get(&format!("/ui/licenses/{id}")).await;
    assert_eq!(theirs.status, 200, "{}", theirs.body);
    assert!(!theirs.body.contains(&link), "{}", theirs.body);
    let refused = ops.get(&format!("/ui/licenses/{id}/extend")).await;
    assert!(matches!(refused.status, 403 | 404), "{}: {}", refused.status, refused.body);
    assert!(!refused.body.contains("tessera issue"));

    // A revoked license is not extended: no link.
    let revoked = app
        .post_json(
            &format!("/v1/admin/licenses/{id}/revoke"),
            Some(&app.admin_key),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(revoked.status, 200, "{revoked:?}");
    let after = dana.get(&format!("/ui/licenses/{id}")).await;
    assert!(!after.body.contains(&link), "{}", after.body);
});

on_both_stores!(a_change_the_license_no_longer_offers_is_a_conflict_said_in_one_sentence, |app| {
    person(&app, "dana@vendor.example", Role::SuperAdmin, None).await;
    let id = app.registered_license().await.id.to_string();
    let mut dana = Browser::new(&app);
    assert_eq!(dana.sign_in("dana@vendor.example", PASSWORD).await.status, 303);
    // Two tabs on the revoke confirmation: the first revokes, the second comes too late.
    let csrf = dana.get(&format!("/ui/licenses/{id}/confirm/revoke")).await.csrf();
    let first = dana.post(&format!("/ui/licenses/{id}/revoke"), &[("csrf", &csrf)], None).await;
    assert_eq!(first.status, 303, "{}", first.body);
    let second = dana.post(&format!("/ui/licenses/{id}/revoke"), &[("csrf", &csrf)], None).await;
    assert_eq!(second.status, 409, "{}", second.body);
    assert!(!second.body.contains("Not done: "), "said once: {}", second.body);
    let stale = dana.get(&format!("/ui/licenses/{id}/confirm/reinstate")).await;
    assert_eq!(stale.status, 409, "{}", stale.body);
    assert!(stale.body.contains("no longer in a state where that is offered"), "{}", stale.body);
    // A license that is not there stays "not found".
    let made_up =
        dana.get("/ui/licenses/00000000-0000-7000-8000-000000000000/confirm/revoke").await;
    assert_eq!(made_up.status, 404);
});
