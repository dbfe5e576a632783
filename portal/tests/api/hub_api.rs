use tessera_core::Status;
use tessera_core::receipt::{Answers, fingerprint_digest};

use crate::on_both_stores;

on_both_stores!(activation_binds_and_answers_a_receipt_the_vendor_trust_set_verifies, |app| {
    let license = app.registered_license().await;
    let mut hub = TestHub::new("host-a", &app);
    let (answer, nonce) = hub.activate(&app, &license).await;
    let receipt = app.verify_receipt(&answer);
    assert_eq!(receipt.status, Status::Valid);
    assert_eq!(receipt.answers, Answers::Activate);
    assert_eq!(receipt.nonce, nonce);
    assert_eq!(receipt.license_id, license.id);
    assert_eq!(receipt.portal_time, app.now());
    assert_eq!(receipt.hub_key_id, hub.key.key_id());
    assert_eq!(receipt.fingerprint, fingerprint_digest(&hub.fingerprint));
    assert_eq!(receipt.next_ping_by.as_unix(), app.now().as_unix() + 3600);
    let activation =
        app.portal.store.activation(&license.id.to_string()).await.expect("db").expect("bound");
    assert_eq!(activation.hub_key, hub.key.public_key().to_string());
});

on_both_stores!(pings_are_counted_answered_and_never_replayed, |app| {
    let license = app.registered_license().await;
    let mut hub = TestHub::new("host-a", &app);
    hub.activate(&app, &license).await;
    for _ in 0..3 {
        app.clock.advance(std::time::Duration::from_secs(3600));
        let (answer, nonce) = hub.ping(&app, &license).await;
        let receipt = app.verify_receipt(&answer);
        assert_eq!(
            (receipt.status, receipt.answers, receipt.nonce),
            (Status::Valid, Answers::Ping, nonce)
        );
    }
    let id = license.id.to_string();
    let activation = app.portal.store.activation(&id).await.expect("db").expect("bound");
    assert_eq!(activation.last_ping_at, Some(app.now().as_unix()));
    let days: i64 = app.portal.store.daily_pings(&id).await.expect("db").iter().map(|d| d.1).sum();
    assert_eq!(days, 3);

    // The same signed ping again: refused, not counted.
    let (body, _) = hub.ping_body(&app, &license);
    assert_eq!(app.post_json("/v1/ping", None, &body).await.status, 200);
    let replay = app.post_json("/v1/ping", None, &body).await;
    assert_eq!((replay.status, replay.code()), (409, "stale_call"));
    // An older timestamp: refused too.
    hub.time_ms -= 10_000;
    let (old, _) = hub.ping_body(&app, &license);
    assert_eq!(app.post_json("/v1/ping", None, &old).await.code(), "stale_call");
    let days: i64 = app.portal.store.daily_pings(&id).await.expect("db").iter().map(|d| d.1).sum();
    assert_eq!(days, 4);
});

on_both_stores!(another_host_gets_fingerprint_mismatch_until_the_binding_is_reset, |app| {
    let license = app.registered_license().await;
    let mut first = TestHub::new("host-a", &app);
    first.activate(&app, &license).await;
    let mut second = TestHub::new("host-b", &app);
    let (answer, _) = second.activate(&app, &license).await;
    assert_eq!(app.verify_receipt(&answer).status, Status::FingerprintMismatch);
    // The first host is still the bound one.
    let (answer, _) = first.ping(&app, &license).await;
    assert_eq!(app.verify_receipt(&answer).status, Status::Valid);
    // A ping from the second host's key is not from the bound hub.
    let (answer, _) = second.ping(&app, &license).await;
    assert_eq!((answer.status, answer.code()), (422, "wrong_hub_key"));

    let reset = app.admin(&format!("/v1/admin/licenses/{}/reset-binding", license.id)).await;
    assert_eq!((reset.status, reset.body["reset"].as_bool()), (200, Some(true)));
    let (answer, _) = second.activate(&app, &license).await;
    assert_eq!(app.verify_receipt(&answer).status, Status::Valid);
    let (answer, _) = first.ping(&app, &license).await;
    assert_eq!(answer.code(), "wrong_hub_key");
});

on_both_stores!(a_host_with_one_changed_component_keeps_working_and_may_reinstall, |app| {
    let license = app.registered_license().await;
    let mut hub = TestHub::new("host-a", &app);
    hub.activate(&app, &license).await;
    let mut changed = host("host-a", 5).0;
    let other = host("elsewhere", 5).0;
    let (name, hash) = other.components().iter().next().expect("component");
    changed.insert(name, *hash).expect("insert");
    hub.fingerprint = changed;
    let (answer, _) = hub.ping(&app, &license).await;
    assert_eq!(app.verify_receipt(&answer).status, Status::Valid);
    // A reinstalled hub on the same host (new key) may activate again.
    let mut reinstalled = TestHub::new("host-a", &app);
    reinstalled.time_ms = hub.time_ms;
    let (answer, _) = reinstalled.activate(&app, &license).await;
    assert_eq!(app.verify_receipt(&answer).status, Status::Valid);
    let (answer, _) = reinstalled.ping(&app, &license).await;
    assert_eq!(app.verify_receipt(&answer).status, Status::Valid);
});

on_both_stores!(suspension_revocation_and_dates_reach_the_receipt, |app| {
    let license = app.registered_license().await;
    let id = license.id;
    let mut hub = TestHub::new("host-a", &app);
    hub.activate(&app, &license).await;
    let status = |answer: &Answer| app.verify_receipt(answer).status;

    assert_eq!(app.admin(&format!("/v1/admin/licenses/{id}/suspend")).await.status, 200);
    assert_eq!(status(&hub.ping(&app, &license).await.0), Status::Suspended);
    assert_eq!(app.admin(&format!("/v1/admin/licenses/{id}/reinstate")).await.status, 200);
    assert_eq!(status(&hub.ping(&app, &license).await.0), Status::Valid);

    assert_eq!(app.admin(&format!("/v1/admin/licenses/{id}/revoke")).await.status, 200);
    hub.time_ms += 1000;
    assert_eq!(status(&hub.ping(&app, &license).await.0), Status::Revoked);
    let again = app.admin(&format!("/v1/admin/licenses/{id}/reinstate")).await;
    assert_eq!((again.status, again.code()), (409, "revoked"));
    // A revoked license does not bind a new hub either.
    let mut other = TestHub::new("host-b", &app);
    assert_eq!(status(&other.activate(&app, &license).await.0), Status::Revoked);

    // Dates: a second license, pinged after its expiry.
    let expiring = app.registered_license().await;
    let mut hub = TestHub::new("host-c", &app);
    assert_eq!(status(&hub.activate(&app, &expiring).await.0), Status::Valid);
    app.clock.set("2028-03-02T00:00:00Z".parse().expect("t"));
    assert_eq!(status(&hub.ping(&app, &expiring).await.0), Status::Expired);
});

on_both_stores!(hub_calls_are_checked_before_anything_is_stored, |app| {
    let license = app.registered_license().await;
    let mut hub = TestHub::new("host-a", &app);
    // Pinging before activating.
    let (answer, _) = hub.ping(&app, &license).await;
    assert_eq!((answer.status, answer.code()), (409, "not_activated"));
    // A license the portal does not know.
    let (stranger, _) = app.issue(|_| {});
    let (answer, _) = hub.activate(&app, &stranger).await;
    assert_eq!((answer.status, answer.code()), (404, "unknown_license"));
    // A hub clock an hour off.
    let skewed = hub.activate_body_at(&license, (app.now().as_unix() - 3600) * 1000);
    let answer = app.post_json("/v1/activate", None, &skewed).await;
    assert_eq!((answer.status, answer.code()), (400, "clock_skew"));
    // A signature that does not match the payload.
    let (mut body, _) = hub.activate_body(&app, &license);
    let (other, _) = TestHub::new("host-b", &app).activate_body(&app, &license);
    body["signature"] = other["signature"].clone();
    let answer = app.post_json("/v1/activate", None, &body).await;
    assert_eq!((answer.status, answer.code()), (422, "bad_signature"));
    assert!(app.portal.store.activation(&license.id.to_string()).await.expect("db").is_none());
});

// A stranger replaying a genuine ping (captured on the wire, or from a log) is refused as
// stale before it counts against the license's rate limit: it cannot get the genuine hub
// refused as rate_limited.
on_both_stores!(
    replayed_pings_do_not_spend_the_genuine_hubs_allowance,
    tune = |mut layer| {
        layer.pings_per_minute = Some(3);
        layer.refused_pings_per_second = Some(1000);
        layer
    },
    |app| {
        let license = app.registered_license().await;
        let mut hub = TestHub::new("host-a", &app);
        hub.activate(&app, &license).await;
        let (body, _) = hub.ping_body(&app, &license);
        assert_eq!(app.post_json("/v1/ping", None, &body).await.status, 200);
        for _ in 0..10 {
            let replay = app.post_json("/v1/ping", None, &body).await;
            assert_eq!((replay.status, replay.code()), (409, "stale_call"));
        }
        // The genuine hub's next pings are answered: the replays spent nothing.
        for _ in 0..2 {
            app.clock.advance(std::time::Duration::from_secs(60));
            let (answer, _) = hub.ping(&app, &license).await;
            assert_eq!(answer.status, 200, "{}", answer.code());
            assert_eq!(app.verify_receipt(&answer).status, Status::Valid);
        }
    }
);

// A vendor's reset may name the hub it admits (the key id the customer read from the hub):
// a stranger holding the license file is then refused before it spends the license's
// activation allowance, and the named hub binds; a reset naming none admits the first.
on_both_stores!(
    a_reset_that_names_a_hub_admits_only_that_hub,
    tune = |mut layer| {
        // Five in all: the test's own; five more would have been the stranger's.
        layer.activations_per_minute = Some(5);
        layer
    },
    |app| {
        let license = app.registered_license().await;
        let id = license.id.to_string();
        let mut old = TestHub::new("host-a", &app);
        old.activate(&app, &license).await;
        let mut moved = TestHub::new("host-b", &app);
        let mut stranger = TestHub::new("host-c", &app);
        let path = format!("/v1/admin/licenses/{id}/reset-binding");
        let key = moved.key.key_id().to_string();

        // A malformed key id is one clear 400; nothing is reset.
        let bad = serde_json::json!({ "hub_key_id": "not-a-key" });
        let answer = app.post_json(&path, Some(&app.admin_key), &bad).await;
        assert_eq!((answer.status, answer.code()), (400, "bad_hub_key_id"));
        assert!(app.portal.store.activation(&id).await.expect("db").is_some());

        let named = serde_json::json!({ "hub_key_id": key });
        let reset = app.post_json(&path, Some(&app.admin_key), &named).await;
        assert_eq!(reset.status, 200);
        assert_eq!(reset.body["reset"].as_bool(), Some(true));
        assert_eq!(reset.body["admits_hub_key_id"].as_str(), Some(key.as_str()));
        let query = tessera_portal::domain::LedgerQuery {
            target: Some(&id),
            limit: 5,
            ..Default::default()
        };
        let entries = app.portal.store.ledger_page(&query).await;
        let entry = entries.expect("db").into_iter().next().expect("an entry");
        assert_eq!(entry.entry.action, "license.binding_reset");
        assert_eq!(entry.entry.target, format!("{id} hub_key:{key}"));

        // The stranger, as often as the allowance: refused, naming its key.
        for _ in 0..5 {
            let (answer, _) = stranger.activate(&app, &license).await;
            assert_eq!((answer.status, answer.code()), (403, "not_admitted"));
            let message = answer.body["error"]["message"].as_str().unwrap_or_default().to_owned();
            assert!(message.contains(&stranger.key.key_id().to_string()), "{message}");
        }
        assert!(app.portal.store.activation(&id).await.expect("db").is_none());
        // The named hub binds: the stranger spent nothing of the allowance.
        let (answer, _) = moved.activate(&app, &license).await;
        assert_eq!(answer.status, 200, "{}", answer.code());
        assert_eq!(app.verify_receipt(&answer).status, Status::Valid);
        let bound = app.portal.store.activation(&id).await.expect("db").expect("bound");
        assert_eq!(bound.hub_key, moved.key.public_key().to_string());
        // The admission is spent: the stranger is now simply another host.
        assert_eq!(app.portal.store.admitted_hub_key(&id).await.expect("db"), None);
        let (answer, _) = stranger.activate(&app, &license).await;
        assert_eq!(app.verify_receipt(&answer).status, Status::FingerprintMismatch);

        // A reset naming none admits the first to come, as before.
        app.clock.advance(std::time::Duration::from_secs(60));
        let reset = app.admin(&path).await;
        assert_eq!(reset.status, 200);
        assert!(reset.body["admits_hub_key_id"].is_null());
        let (answer, _) = stranger.activate(&app, &license).await;
        assert_eq!(app.verify_receipt(&answer).status, Status::Valid);
        let (answer, _) = moved.activate(&app, &license).await;
        assert_eq!(app.verify_receipt(&answer).status, Status::FingerprintMismatch);
    }
);

// Two hubs on one host (or sharing its host secret) taking turns to re-activate: once the
// second has re-activated, a ping from the first is a fork the portal records (`cloned_at`,
// `forks`) and answers with a signed `cloned` for the first hub's key, never an unsigned
// refusal it could ride its grace on. A hub replaced by a reinstall that never pings again
// leaves the license clean.
on_both_stores!(a_hub_replaced_by_a_re_activation_that_pings_again_is_a_recorded_fork, |app| {
    let license = app.registered_license().await;
    let id = license.id.to_string();
    let mut first = TestHub::new("host-a", &app);
    first.activate(&app, &license).await;
    let (answer, _) = first.ping(&app, &license).await;
    assert_eq!(app.verify_receipt(&answer).status, Status::Valid);

    // A second hub on the same host re-activates (a day later: the rebind limit allows it).
    app.clock.advance(std::time::Duration::from_secs(86_400));
    let mut second = TestHub::new("host-a", &app);
    second.time_ms = first.time_ms;
    let (answer, _) = second.activate(&app, &license).await;
    assert_eq!(app.verify_receipt(&answer).status, Status::Valid);
    let view = app.get(&format!("/v1/admin/licenses/{id}"), Some(&app.admin_key)).await;
    assert!(view.body["activation"]["cloned_at"].is_null(), "{view:?}");

    // The first pings on: a signed `cloned` for its own key, and the vendor sees the fork.
    app.clock.advance(std::time::Duration::from_secs(60));
    first.time_ms = app.now().as_unix() * 1000;
    let (answer, nonce) = first.ping(&app, &license).await;
    let receipt = app.verify_receipt(&answer);
    assert_eq!(
        (receipt.status, receipt.answers, receipt.nonce, receipt.hub_key_id),
        (Status::Cloned, Answers::Ping, nonce, first.key.key_id())
    );
    let view = app.get(&format!("/v1/admin/licenses/{id}"), Some(&app.admin_key)).await;
    assert_eq!(view.body["activation"]["cloned_at"].as_i64(), Some(app.now().as_unix()));
    assert_eq!(view.body["activation"]["forks"].as_i64(), Some(1));
    // Again: still `cloned`, still one fork (one re-activation replaced it).
    app.clock.advance(std::time::Duration::from_secs(60));
    let (answer, _) = first.ping(&app, &license).await;
    assert_eq!(app.verify_receipt(&answer).status, Status::Cloned);
    let view = app.get(&format!("/v1/admin/licenses/{id}"), Some(&app.admin_key)).await;
    assert_eq!(view.body["activation"]["forks"].as_i64(), Some(1));
    // The bound hub is not touched.
    let (answer, _) = second.ping(&app, &license).await;
    assert_eq!(app.verify_receipt(&answer).status, Status::Valid);
    // A key the binding never had is still an unsigned wrong_hub_key.
    let mut stranger = TestHub::new("host-a", &app);
    let (answer, _) = stranger.ping(&app, &license).await;
    assert_eq!((answer.status, answer.code()), (422, "wrong_hub_key"));

    // An honest reinstall: the replaced hub never pings again; nothing is recorded.
    let honest = app.registered_license().await;
    let hid = honest.id.to_string();
    let mut old = TestHub::new("host-b", &app);
    old.activate(&app, &honest).await;
    app.clock.advance(std::time::Duration::from_secs(86_400));
    let mut new = TestHub::new("host-b", &app);
    new.time_ms = app.now().as_unix() * 1000;
    let (answer, _) = new.activate(&app, &honest).await;
    assert_eq!(app.verify_receipt(&answer).status, Status::Valid);
    let (answer, _) = new.ping(&app, &honest).await;
    assert_eq!(app.verify_receipt(&answer).status, Status::Valid);
    let view = app.get(&format!("/v1/admin/licenses/{hid}"), Some(&app.admin_key)).await;
    assert!(view.body["activation"]["cloned_at"].is_null(), "{view:?}");
    assert_eq!(view.body["activation"]["forks"].as_i64(), Some(0));
});
