//! The vendor frees a license's countersigned runner places (a site at its limit replacing a
//! broken runner machine): on the admin API and on the license page, the vendor's alone,
//! recorded in the ledger; the limit still holds afterwards.

use tessera_portal::domain::LedgerQuery;
use tessera_portal::domain::accounts::{self, Role};
use tessera_portal::domain::apikeys::{self, Owner, Scope};

use crate::countersign::{ask, countersign_hub, runner};
use crate::helpers::TestApp;
use crate::on_both_stores;
use crate::people::{Browser, PASSWORD, person};

/// The ledger's newest entry about license `id`: its action and target.
async fn last_entry(app: &TestApp, id: &str) -> (String, String) {
    let query = LedgerQuery { target: Some(id), limit: 1, ..Default::default() };
    let entry = app.portal.store.ledger_page(&query).await.expect("db").into_iter().next();
    let entry = entry.expect("an entry").entry;
    (entry.action, entry.target)
}

on_both_stores!(the_vendor_frees_a_full_sites_places_and_the_next_ping_countersigns, |app| {
    let (license, mut hub) = countersign_hub(&app).await;
    let id = license.id.to_string();
    let places = format!("/v1/admin/licenses/{id}/runner-places");
    let free = format!("/v1/admin/licenses/{id}/runner-places/free");
    ask(&app, &mut hub, &license, &[runner(1), runner(2)]).await;
    // Runner 2's machine broke; runner 3 replaces it: the portal refuses it, since 2's place
    // counts until the grace of the receipt that named it ends.
    let refused = ask(&app, &mut hub, &license, &[runner(1), runner(3)]).await;
    assert_eq!((refused.keys, refused.refused), (vec![runner(1)], vec![runner(3)]));
    let held = app.get(&places, Some(&app.admin_key)).await;
    assert_eq!(held.status, 200, "{:?}", held.body);
    assert_eq!((held.body["limit"].as_u64(), held.body["held"].as_u64()), (Some(2), Some(2)));

    // An organization's key, even of the license's own organization, may not free them.
    let acme = accounts::create_organization(&app.portal.store, "Acme Corp", app.now())
        .await
        .expect("org");
    let owner = Owner { user_id: None, org_id: Some(acme.id.clone()) };
    let scopes = [Scope::Read, Scope::Write].into();
    let org_key = apikeys::create_owned(&app.portal.store, &scopes, "ci", None, owner, app.now())
        .await
        .expect("key");
    let org_key = org_key.expose().to_owned();
    let tried = app.post_json(&free, Some(&org_key), &serde_json::json!({})).await;
    assert_eq!((tried.status, tried.code()), (403, "vendor_only"));
    assert_eq!(app.get(&places, Some(&org_key)).await.body["held"].as_u64(), Some(2));
    // Bad input: one clear error each, nothing freed.
    let bad =
        app.post_json(&free, Some(&app.admin_key), &serde_json::json!({ "place": "x" })).await;
    assert_eq!((bad.status, bad.code()), (400, "bad_place"));
    let null =
        app.post_json(&free, Some(&app.admin_key), &serde_json::json!({ "place": null })).await;
    assert_eq!(null.status, 400);
    let unknown = "/v1/admin/licenses/0190aaaa-0000-7000-8000-000000000000/runner-places/free";
    let nothing = app.admin(unknown).await;
    assert_eq!((nothing.status, nothing.code()), (404, "unknown_license"));
    let still = ask(&app, &mut hub, &license, &[runner(1), runner(3)]).await;
    assert_eq!(still.refused, [runner(3)]);

    // The vendor frees runner 2's place: the next ping countersigns runner 3.
    let body = serde_json::json!({ "place": runner(2).to_string() });
    let freed = app.post_json(&free, Some(&app.admin_key), &body).await;
    assert_eq!(freed.status, 200, "{:?}", freed.body);
    assert_eq!(freed.body["freed"].as_u64(), Some(1));
    assert_eq!(
        last_entry(&app, &id).await,
        ("license.runner_places_freed".to_owned(), format!("{id} place:{} count:1", runner(2)))
    );
    let now = ask(&app, &mut hub, &license, &[runner(1), runner(3)]).await;
    assert_eq!((now.keys, now.refused), (vec![runner(1), runner(3)], vec![]));
    // The limit still holds: a fourth runner is refused.
    let past = ask(&app, &mut hub, &license, &[runner(1), runner(3), runner(4)]).await;
    assert_eq!((past.keys, past.refused), (vec![runner(1), runner(3)], vec![runner(4)]));

    // Freeing all: every place goes, recorded without a place.
    let all = app.admin(&free).await;
    assert_eq!(all.body["freed"].as_u64(), Some(2));
    let entry = last_entry(&app, &id).await;
    assert_eq!(entry, ("license.runner_places_freed".to_owned(), format!("{id} count:2")));
    assert_eq!(app.get(&places, Some(&app.admin_key)).await.body["held"].as_u64(), Some(0));
    let rest = ask(&app, &mut hub, &license, &[runner(4), runner(5)]).await;
    assert_eq!((rest.keys, rest.refused), (vec![runner(4), runner(5)], vec![]));
    // Places whose receipts' grace (a day, and the check's hour) has ended are not shown.
    let held = app.get(&places, Some(&app.admin_key)).await;
    let mut shown: Vec<String> = held.body["places"]
        .as_array()
        .expect("places")
        .iter()
        .map(|p| p["place"].as_str().expect("a place").to_owned())
        .collect();
    shown.sort();
    let mut expected = vec![runner(4).to_string(), runner(5).to_string()];
    expected.sort();
    assert_eq!(shown, expected);
    app.clock.advance(std::time::Duration::from_secs(86_400 + 2 * 3600));
    assert_eq!(app.get(&places, Some(&app.admin_key)).await.body["held"].as_u64(), Some(0));
});

on_both_stores!(a_super_admin_frees_places_from_the_license_page_and_an_org_admin_cannot, |app| {
    let (license, mut hub) = countersign_hub(&app).await;
    let id = license.id.to_string();
    ask(&app, &mut hub, &license, &[runner(1), runner(2)]).await;
    let acme = accounts::create_organization(&app.portal.store, "Acme Corp", app.now())
        .await
        .expect("org");
    person(&app, "ops@acme.example", Role::OrgAdmin, Some(&acme.id)).await;
    person(&app, "dana@vendor.example", Role::SuperAdmin, None).await;

    // The customer's org-admin sees the places held, and no way to free them.
    let mut kim = Browser::new(&app);
    assert_eq!(kim.sign_in("ops@acme.example", PASSWORD).await.status, 303);
    let page = kim.get(&format!("/ui/licenses/{id}")).await;
    assert!(page.body.contains("2 of 2 runner places held"), "{}", page.body);
    assert!(!page.body.contains("Free runner places"), "{}", page.body);
    assert_eq!(kim.get(&format!("/ui/licenses/{id}/runner-places")).await.status, 404);
    let csrf = page.csrf();
    let path = format!("/ui/licenses/{id}/runner-places/free");
    assert_eq!(kim.post(&path, &[("csrf", &csrf), ("place", "all")], None).await.status, 404);
    assert_eq!(
        app.get(&format!("/v1/admin/licenses/{id}/runner-places"), Some(&app.admin_key)).await.body
            ["held"]
            .as_u64(),
        Some(2)
    );

    // The vendor's super-admin: the page offers it, the confirmation names each place, and a
    // post without the form's token is refused.
    let mut dana = Browser::new(&app);
    assert_eq!(dana.sign_in("dana@vendor.example", PASSWORD).await.status, 303);
    let page = dana.get(&format!("/ui/licenses/{id}")).await;
    assert!(page.body.contains("2 of 2 runner places held"), "{}", page.body);
    assert!(page.body.contains("Free runner places"), "{}", page.body);
    let confirm = dana.get(&format!("/ui/licenses/{id}/runner-places")).await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.body.contains(&runner(2).to_string()), "{}", confirm.body);
    assert_eq!(dana.post(&path, &[("place", "")], None).await.status, 403);
    let csrf = confirm.csrf();
    let unchosen = dana.post(&path, &[("csrf", &csrf), ("place", "")], None).await;
    assert_eq!(unchosen.status, 400, "no default: {}", unchosen.body);
    let freed = dana.post(&path, &[("csrf", &csrf), ("place", "all")], None).await;
    let done = format!("/ui/licenses/{id}?done=runner-places-freed");
    assert_eq!(freed.location.as_deref(), Some(done.as_str()), "{}", freed.body);
    assert_eq!(last_entry(&app, &id).await.0, "license.runner_places_freed");
    let fresh = ask(&app, &mut hub, &license, &[runner(3)]).await;
    assert_eq!(fresh.keys, [runner(3)]);
    let audit = dana.get("/ui/audit").await;
    assert!(audit.body.contains("freed the runner places of"), "{}", audit.body);
});

on_both_stores!(a_license_that_counts_its_runners_shows_its_places_before_any_is_held, |app| {
    let (license, _hub) = countersign_hub(&app).await;
    let id = license.id.to_string();
    let (plain, plain_text) = app.issue(|terms| terms.runners = 2);
    assert_eq!(app.register(&plain_text).await.status, 201);
    let plain = plain.id.to_string();

    // The API: the claim as registered, on the license and with its places.
    let places = |id: &str| format!("/v1/admin/licenses/{id}/runner-places");
    let counted = app.get(&places(&id), Some(&app.admin_key)).await;
    assert_eq!(counted.status, 200, "{:?}", counted.body);
    assert_eq!(counted.body["runner_countersign"], serde_json::json!(true));
    assert_eq!((counted.body["limit"].as_u64(), counted.body["held"].as_u64()), (Some(2), Some(0)));
    let not = app.get(&places(&plain), Some(&app.admin_key)).await;
    assert_eq!(not.body["runner_countersign"], serde_json::json!(false));
    let shown = app.get(&format!("/v1/admin/licenses/{id}"), Some(&app.admin_key)).await;
    assert_eq!(
        shown.body["license"]["runner_countersign"],
        serde_json::json!(true),
        "{:?}",
        shown.body
    );
    let shown = app.get(&format!("/v1/admin/licenses/{plain}"), Some(&app.admin_key)).await;
    assert_eq!(
        shown.body["license"]["runner_countersign"],
        serde_json::json!(false),
        "{:?}",
        shown.body
    );

    // The page: the places section before any is held, with nothing to free; none on a
    // license whose runners the hub alone counts.
    person(&app, "dana@vendor.example", Role::SuperAdmin, None).await;
    let mut dana = Browser::new(&app);
    assert_eq!(dana.sign_in("dana@vendor.example", PASSWORD).await.status, 303);
    let page = dana.get(&format!("/ui/licenses/{id}")).await;
    assert!(page.body.contains("0 of 2 runner places held"), "{}", page.body);
    assert!(page.body.contains("No runner holds a place now"), "{}", page.body);
    assert!(!page.body.contains("Free runner places"), "{}", page.body);
    assert!(page.body.contains("counted here: runner places"), "{}", page.body);
    let page = dana.get(&format!("/ui/licenses/{plain}")).await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("Runner places"), "{}", page.body);
    assert!(page.body.contains("the hub counts slots in use"), "{}", page.body);
});
