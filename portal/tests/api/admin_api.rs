use std::collections::BTreeSet;

use tessera_portal::domain::apikeys::{self, Scope};

use crate::on_both_stores;

on_both_stores!(registration_verifies_against_the_trust_set_and_stores_only_a_key_hash, |app| {
    let (claims, text) = app.issue(|_| {});
    let first = app.register(&text).await;
    assert_eq!((first.status, first.body["registered"].as_bool()), (201, Some(true)));
    let again = app.register(&text).await;
    assert_eq!((again.status, again.body["registered"].as_bool()), (200, Some(false)));
    let row = app.portal.store.license(&claims.id.to_string()).await.expect("db").expect("row");
    assert_eq!(row.key_sha256, hex::encode(claims.key.digest()));
    assert_ne!(row.key_sha256, claims.key.expose());

    let stranger = tessera_core::keys::SigningKey::generate().expect("key");
    let foreign = tessera_core::license::sign(&claims, &stranger).expect("sign");
    let refused = app.register(&foreign).await;
    assert_eq!((refused.status, refused.code()), (422, "unknown_key"));
    let mut tampered = text.clone().into_bytes();
    let at = text.find("\n\n").expect("blank") + 20;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let refused = app.register(&String::from_utf8(tampered).expect("text")).await;
    assert_eq!((refused.status, refused.code()), (422, "bad_signature"));
    let refused = app.register("not a license").await;
    assert_eq!((refused.status, refused.code()), (422, "malformed"));
});

on_both_stores!(licenses_can_be_listed_shown_and_exported, |app| {
    let license = app.registered_license().await;
    let mut hub = TestHub::new("host-a", &app);
    hub.activate(&app, &license).await;
    hub.ping(&app, &license).await;
    hub.ping(&app, &license).await;
    let key = Some(app.admin_key.as_str());
    let list = app.get("/v1/admin/licenses", key).await;
    assert_eq!(list.status, 200);
    let listed = &list.body["licenses"][0];
    assert_eq!(listed["id"].as_str(), Some(license.id.to_string().as_str()));
    assert_eq!(listed["activated"].as_bool(), Some(true));
    assert_eq!(listed["last_ping_at"].as_i64(), Some(app.now().as_unix()));
    assert_eq!(listed["status"].as_str(), Some("valid"));

    let shown = app.get(&format!("/v1/admin/licenses/{}", license.id), key).await;
    assert_eq!(
        shown.body["activation"]["hub_key_id"].as_str(),
        Some(hub.key.key_id().to_string().as_str())
    );
    assert_eq!(shown.body["monthly_pings"][0]["pings"].as_i64(), Some(2));
    assert_eq!(shown.body["monthly_pings"][0]["month"].as_i64(), Some(202703));
    let missing = app.get("/v1/admin/licenses/nope", key).await;
    assert_eq!((missing.status, missing.code()), (404, "unknown_license"));

    let json = app.get("/v1/admin/usage", key).await;
    assert_eq!(json.body["usage"][0]["pings"].as_i64(), Some(2));
    let csv = app
        .http
        .get(format!("{}/v1/admin/usage?format=csv", app.address))
        .bearer_auth(&app.admin_key)
        .send()
        .await
        .expect("csv");
    assert!(csv.headers()["content-type"].to_str().expect("ct").starts_with("text/csv"));
    let text = csv.text().await.expect("text");
    assert_eq!(text.lines().next(), Some("license_id,org,product,month,pings"));
    assert!(text.contains(&format!("{},Acme Corp,acme-hub,202703,2", license.id)), "{text}");
    let bad = app.get("/v1/admin/usage?format=xml", key).await;
    assert_eq!((bad.status, bad.code()), (400, "invalid_query"));
});

on_both_stores!(api_keys_have_scopes_expiry_revocation_and_rotate_without_downtime, |app| {
    let store = &app.portal.store;
    let now = app.now();
    let read: BTreeSet<Scope> = [Scope::Read].into();
    let old = apikeys::create(store, &read, "old", None, now).await.expect("key");
    let new = apikeys::create(store, &read, "new", None, now).await.expect("key");
    for key in [old.expose(), new.expose()] {
        assert_eq!(app.get("/v1/admin/licenses", Some(key)).await.status, 200, "both work at once");
    }
    assert!(store.revoke_api_key(&old.row.id, now).await.expect("db"));
    let revoked = app.get("/v1/admin/licenses", Some(old.expose())).await;
    assert_eq!((revoked.status, revoked.code()), (401, "invalid_api_key"));
    assert_eq!(app.get("/v1/admin/licenses", Some(new.expose())).await.status, 200);

    let denied = app
        .post_json("/v1/admin/licenses/x/suspend", Some(new.expose()), &serde_json::json!({}))
        .await;
    assert_eq!((denied.status, denied.code()), (403, "insufficient_scope"));
    let write: BTreeSet<Scope> = [Scope::Write].into();
    let writer = apikeys::create(store, &write, "writer", None, now).await.expect("key");
    let license = app.registered_license().await;
    let no_revoke = app
        .post_json(
            &format!("/v1/admin/licenses/{}/revoke", license.id),
            Some(writer.expose()),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(no_revoke.status, 403);

    let soon = now.saturating_add(std::time::Duration::from_secs(60));
    let expiring = apikeys::create(store, &read, "temp", Some(soon), now).await.expect("key");
    assert_eq!(app.get("/v1/admin/licenses", Some(expiring.expose())).await.status, 200);
    app.clock.advance(std::time::Duration::from_secs(120));
    assert_eq!(
        app.get("/v1/admin/licenses", Some(expiring.expose())).await.code(),
        "invalid_api_key"
    );

    let missing = app.get("/v1/admin/licenses", None).await;
    assert_eq!((missing.status, missing.code()), (401, "missing_api_key"));
    let stored = store.list_api_keys().await.expect("db");
    assert!(stored.iter().all(|k| !new.expose().contains(&k.secret_sha256)));
});

on_both_stores!(the_vendor_cli_registers_licenses_through_the_admin_api, |app| {
    use tessera_cli::portal::{AdminApiClient, PortalError};
    let (claims, text) = app.issue(|_| {});
    let (address, key) = (app.address.clone(), app.admin_key.clone());
    let outcome = tokio::task::spawn_blocking(move || {
        let client = AdminApiClient::new(&address, &key, false).expect("client");
        let first = client.register(&text).expect("register");
        let again = client.register(&text).expect("register again");
        let wrong = AdminApiClient::new(
            &address,
            "tsk_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            false,
        )
        .expect("client")
        .register(&text);
        let garbage = client.register("garbage");
        (first, again, wrong, garbage)
    })
    .await
    .expect("blocking task");
    let (first, again, wrong, garbage) = outcome;
    assert_eq!((first.id.as_str(), first.registered), (claims.id.to_string().as_str(), true));
    assert!(!again.registered);
    assert!(
        matches!(wrong, Err(PortalError::Refused { status: 401, ref code, .. }) if code == "invalid_api_key")
    );
    assert!(
        matches!(garbage, Err(PortalError::Refused { status: 422, ref code, .. }) if code == "malformed")
    );
    let unreachable = tokio::task::spawn_blocking(|| {
        AdminApiClient::new("http://127.0.0.1:9", "k", false).expect("client").register("x")
    })
    .await
    .expect("task");
    assert!(matches!(unreachable, Err(PortalError::Unreachable { .. })));
});
