//! The hub API against a hostile customer: a copied hub (a cloned VM, a backup restored on
//! a second machine), re-activations used to alternate copies, and a vendor who reads the
//! stored fingerprints with a dictionary.

use tessera_core::Status;
use tessera_core::fingerprint::{ComponentHash, Fingerprint};
use tessera_core::license::ProductId;

use crate::helpers::{TestApp, TestHub};
use crate::on_both_stores;

/// A copy of `hub`: the same key and time and held receipt (its whole state copied).
fn copy(hub: &TestHub) -> TestHub {
    TestHub {
        key: tessera_core::keys::SigningKey::from_secret_text(&hub.key.to_secret_text())
            .expect("key"),
        fingerprint: hub.fingerprint.clone(),
        legacy: hub.legacy.clone(),
        time_ms: hub.time_ms,
        holds: hub.holds,
        held_receipt: hub.held_receipt.clone(),
        old: hub.old,
        runners: hub.runners.clone(),
    }
}

/// A binding's chain and times as a backup holds them.
type Saved = (Option<String>, Option<String>, Option<i64>, i64);

async fn saved_binding(app: &TestApp, id: &str) -> Saved {
    use sqlx::Row;
    let row = sqlx::query(
        "SELECT chain_confirmed, chain_pending, last_ping_at, last_hub_time_ms \
         FROM activations WHERE license_id = $1",
    )
    .bind(id)
    .fetch_one(app.portal.store.pool())
    .await
    .expect("binding");
    (
        row.try_get(0).expect("confirmed"),
        row.try_get(1).expect("pending"),
        row.try_get(2).expect("last ping"),
        row.try_get(3).expect("hub time"),
    )
}

/// Puts a binding back as `saved` had it: what restoring the database from a backup does
/// to it.
async fn restore_binding(app: &TestApp, id: &str, saved: &Saved) {
    sqlx::query(
        "UPDATE activations SET chain_confirmed = $1, chain_pending = $2, last_ping_at = $3, \
         last_hub_time_ms = $4 WHERE license_id = $5",
    )
    .bind(saved.0.clone())
    .bind(saved.1.clone())
    .bind(saved.2)
    .bind(saved.3)
    .bind(id)
    .execute(app.portal.store.pool())
    .await
    .expect("restore");
}

/// The license as the admin API shows it.
async fn shown(app: &TestApp, id: &str) -> serde_json::Value {
    app.get(&format!("/v1/admin/licenses/{id}"), Some(&app.admin_key)).await.body
}

async fn cloned_at(app: &TestApp, id: &str) -> Option<i64> {
    let shown = app.get(&format!("/v1/admin/licenses/{id}"), Some(&app.admin_key)).await;
    shown.body["activation"]["cloned_at"].as_i64()
}

on_both_stores!(a_copied_hub_is_refused_with_a_signed_cloned_receipt, |app| {
    let license = app.registered_license().await;
    let mut original = TestHub::new("host-a", &app);
    original.activate(&app, &license).await;
    let (answer, _) = original.ping(&app, &license).await;
    assert_eq!(app.verify_receipt(&answer).status, Status::Valid);

    // The state is copied to a second machine; both go on pinging (on the same clock).
    let mut twin = copy(&original);
    let (answer, _) = original.ping(&app, &license).await;
    assert_eq!(app.verify_receipt(&answer).status, Status::Valid);
    // The copy's first ping holds the receipt before the latest: it cannot be told from a
    // hub that lost its latest receipt in a crash, and is answered.
    twin.time_ms = original.time_ms + 1;
    let (answer, _) = twin.ping(&app, &license).await;
    assert_eq!(app.verify_receipt(&answer).status, Status::Valid);
    assert_eq!(cloned_at(&app, &license.id.to_string()).await, None);
    // From then on the two fork: the one whose receipt the chain moved past is refused,
    // with a receipt the vendor signed, so its own state records it.
    original.time_ms = twin.time_ms + 1;
    let (answer, _) = original.ping(&app, &license).await;
    assert_eq!(app.verify_receipt(&answer).status, Status::Cloned, "{answer:?}");
    assert!(cloned_at(&app, &license.id.to_string()).await.is_some(), "shown to the vendor");
    for _ in 0..2 {
        original.time_ms = original.time_ms.max(twin.time_ms) + 10;
        let (answer, _) = original.ping(&app, &license).await;
        assert_eq!(app.verify_receipt(&answer).status, Status::Cloned, "it stays refused");
        twin.time_ms = original.time_ms + 10;
        let (answer, _) = twin.ping(&app, &license).await;
        assert_eq!(app.verify_receipt(&answer).status, Status::Valid, "the other goes on");
    }
});

on_both_stores!(a_hub_re_syncs_a_restored_portal_and_a_copy_cannot, |app| {
    let hour = std::time::Duration::from_secs(3600);
    let license = app.registered_license().await;
    let id = license.id.to_string();
    let mut hub = TestHub::new("host-a", &app);
    hub.activate(&app, &license).await;
    let (answer, _) = hub.ping(&app, &license).await;
    assert_eq!(app.verify_receipt(&answer).status, Status::Valid);
    // The backup, and a copy of the hub's state of that moment.
    let backup = saved_binding(&app, &id).await;
    let mut twin = copy(&hub);
    for _ in 0..2 {
        app.clock.advance(hour);
        let (answer, _) = hub.ping(&app, &license).await;
        assert_eq!(app.verify_receipt(&answer).status, Status::Valid);
    }
    restore_binding(&app, &id, &backup).await;

    // A proof that is not one: the hub's receipt sent for another nonce than it holds.
    app.clock.advance(hour);
    let mut liar = copy(&hub);
    liar.holds = Some(tessera_core::receipt::Nonce::from_bytes([7; 16]));
    let (answer, _) = liar.ping(&app, &license).await;
    assert_eq!(app.verify_receipt(&answer).status, Status::Cloned, "{answer:?}");
    hub.time_ms = liar.time_ms + 1;

    // The hub holds a receipt signed after the restored binding's last ping: it re-syncs.
    let (answer, _) = hub.ping(&app, &license).await;
    assert_eq!(app.verify_receipt(&answer).status, Status::Valid, "{answer:?}");
    app.clock.advance(hour);
    let (answer, _) = hub.ping(&app, &license).await;
    assert_eq!(app.verify_receipt(&answer).status, Status::Valid);

    // The copy of the backup's moment holds the receipt the re-sync moved past: refused,
    // and the `cloned` receipt it then holds, though newer than any ping, proves nothing.
    twin.time_ms = hub.time_ms + 1;
    let (answer, _) = twin.ping(&app, &license).await;
    assert_eq!(app.verify_receipt(&answer).status, Status::Cloned, "{answer:?}");
    app.clock.advance(hour);
    let (answer, _) = twin.ping(&app, &license).await;
    assert_eq!(app.verify_receipt(&answer).status, Status::Cloned, "{answer:?}");
    hub.time_ms = twin.time_ms + 1;
    let (answer, _) = hub.ping(&app, &license).await;
    assert_eq!(app.verify_receipt(&answer).status, Status::Valid);
});

on_both_stores!(a_copy_is_refused_whatever_the_clock_says_between_pings, |app| {
    // As the copied hub above, with time passing between the pings: the copy left behind
    // holds a receipt older than the ping that moved the chain past it.
    let license = app.registered_license().await;
    let mut original = TestHub::new("host-a", &app);
    original.activate(&app, &license).await;
    original.ping(&app, &license).await;
    let mut twin = copy(&original);
    for hub in [&mut original, &mut twin] {
        app.clock.advance(std::time::Duration::from_secs(60));
        let (answer, _) = hub.ping(&app, &license).await;
        assert_eq!(app.verify_receipt(&answer).status, Status::Valid);
    }
    app.clock.advance(std::time::Duration::from_secs(60));
    original.time_ms = twin.time_ms + 1;
    let (answer, _) = original.ping(&app, &license).await;
    assert_eq!(app.verify_receipt(&answer).status, Status::Cloned, "{answer:?}");
});

on_both_stores!(a_hub_that_lost_one_receipt_is_not_taken_for_a_copy, |app| {
    let license = app.registered_license().await;
    let mut hub = TestHub::new("host-a", &app);
    hub.activate(&app, &license).await;
    hub.ping(&app, &license).await;
    // The portal commits a ping, but the hub dies before it keeps the receipt.
    let held = hub.holds;
    let (answer, _) = hub.ping(&app, &license).await;
    assert_eq!(answer.status, 200);
    hub.holds = held;
    let (answer, _) = hub.ping(&app, &license).await;
    assert_eq!(app.verify_receipt(&answer).status, Status::Valid);
    let (answer, _) = hub.ping(&app, &license).await;
    assert_eq!(app.verify_receipt(&answer).status, Status::Valid);
});

on_both_stores!(
    re_activating_cannot_alternate_two_copies,
    tune = |mut layer| {
        layer.repairs_per_year = Some(2);
        layer
    },
    |app| {
        let license = app.registered_license().await;
        let id = license.id.to_string();
        let mut first = TestHub::new("host-a", &app);
        first.activate(&app, &license).await;
        // A copy refused at a ping re-activates (same host, its own new key): allowed once
        // a day...
        let mut second = TestHub::new("host-a", &app);
        second.time_ms = first.time_ms + 1;
        let (answer, _) = second.activate(&app, &license).await;
        assert_eq!(app.verify_receipt(&answer).status, Status::Valid);
        // ...and sooner only within the repair allowance (two a year here): the copies
        // take turns twice more, each turn counted and shown...
        for hub in [&mut first, &mut second] {
            app.clock.advance(std::time::Duration::from_secs(60));
            hub.time_ms = app.now().as_unix() * 1000;
            let (answer, _) = hub.activate(&app, &license).await;
            assert_eq!(app.verify_receipt(&answer).status, Status::Valid, "{answer:?}");
        }
        let body = shown(&app, &id).await;
        assert_eq!(body["activation"]["repairs"], 2, "{body}");
        assert!(body["activation"]["repaired_at"].is_i64(), "{body}");
        assert!(body["activation"]["cloned_at"].is_null(), "{body}");
        // ...and then the first cannot take the binding back the same day.
        app.clock.advance(std::time::Duration::from_secs(60));
        first.time_ms = app.now().as_unix() * 1000;
        let (answer, _) = first.activate(&app, &license).await;
        assert_eq!(app.verify_receipt(&answer).status, Status::Cloned, "{answer:?}");
        let body = shown(&app, &id).await;
        assert_eq!(body["activation"]["rebinds"], 3);
        assert_eq!(body["activation"]["repairs"], 2);
        assert!(body["activation"]["cloned_at"].is_i64());
        // A day after the last re-activation it may re-activate again (no repair)...
        app.clock.advance(std::time::Duration::from_secs(86_400));
        first.time_ms = app.now().as_unix() * 1000;
        let (answer, _) = first.activate(&app, &license).await;
        assert_eq!(app.verify_receipt(&answer).status, Status::Valid);
        // ...and within the year, no repair is left.
        app.clock.advance(std::time::Duration::from_secs(60));
        second.time_ms = app.now().as_unix() * 1000;
        let (answer, _) = second.activate(&app, &license).await;
        assert_eq!(app.verify_receipt(&answer).status, Status::Cloned);
        // After a vendor's reset the next activation binds afresh (the documented way back).
        let reset = app.admin(&format!("/v1/admin/licenses/{}/reset-binding", license.id)).await;
        assert_eq!(reset.status, 200);
        second.time_ms = app.now().as_unix() * 1000 + 1;
        let (answer, _) = second.activate(&app, &license).await;
        assert_eq!(app.verify_receipt(&answer).status, Status::Valid);
    }
);

on_both_stores!(a_version_1_binding_moves_to_version_2_without_a_refusal, |app| {
    let license = app.registered_license().await;
    let mut hub = TestHub::new("host-a", &app);
    hub.old = true; // bound by a hub from before version 2
    hub.activate(&app, &license).await;
    let shown = app.get(&format!("/v1/admin/licenses/{}", license.id), Some(&app.admin_key)).await;
    assert_eq!(shown.body["activation"]["fingerprint_version"], 1);
    // The upgraded hub: version 2, showing its version 1 fingerprint once.
    hub.old = false;
    let (body, nonce) = hub.ping_body_with(&app, &license, true);
    let answer = app.post_json("/v1/ping", None, &body).await;
    assert_eq!(app.verify_receipt(&answer).status, Status::Valid, "{answer:?}");
    hub.holds = Some(nonce);
    let shown = app.get(&format!("/v1/admin/licenses/{}", license.id), Some(&app.admin_key)).await;
    assert_eq!(shown.body["activation"]["fingerprint_version"], 2);
    let (answer, _) = hub.ping(&app, &license).await;
    assert_eq!(app.verify_receipt(&answer).status, Status::Valid);
    // Another machine cannot use the move to get in: its version 1 does not match.
    let mut stranger = TestHub::new("elsewhere", &app);
    stranger.key = tessera_core::keys::SigningKey::from_secret_text(&hub.key.to_secret_text())
        .expect("the hub's key, stolen");
    stranger.time_ms = hub.time_ms + 1;
    stranger.holds = hub.holds;
    let (body, _) = stranger.ping_body_with(&app, &license, true);
    let answer = app.post_json("/v1/ping", None, &body).await;
    assert_eq!(app.verify_receipt(&answer).status, Status::FingerprintMismatch);
});

/// Every component of `stored` that a guess from `dictionary` reproduces, trying the
/// product-keyed hash (version 1) and the version 2 hash under an all-zero secret.
fn guessed(stored: &Fingerprint, dictionary: &[String]) -> Vec<String> {
    let product: ProductId = "acme-hub".parse().expect("product");
    let zero = tessera_core::fingerprint::HostSecret::from_bytes([0; 32]);
    let mut found = Vec::new();
    for (name, hash) in stored.components() {
        for guess in dictionary {
            if *hash == ComponentHash::of(&product, name, guess.as_bytes())
                || *hash == ComponentHash::keyed(&zero, &product, name, guess.as_bytes())
            {
                found.push(format!("{name}={guess}"));
            }
        }
    }
    found
}

on_both_stores!(the_vendor_cannot_read_a_hosts_components_from_the_database, |app| {
    let license = app.registered_license().await;
    let mut hub = TestHub::new("host-a", &app);
    hub.activate(&app, &license).await;
    let stored_json = app
        .portal
        .store
        .activation(&license.id.to_string())
        .await
        .expect("activation")
        .expect("bound")
        .fingerprint;
    let stored: Fingerprint = serde_json::from_str(&stored_json).expect("fingerprint");
    // A dictionary that holds every true raw value of this host.
    let mut dictionary: Vec<String> = (0..5).map(|i| format!("host-a-{i}")).collect();
    dictionary.extend(["localhost", "build-01", "Intel Xeon"].map(String::from));
    assert_eq!(guessed(&stored, &dictionary), Vec::<String>::new());
    // The same dictionary on a version 1 fingerprint finds every component: the check can
    // fail, and version 1 is what it was.
    assert_eq!(guessed(&hub.legacy, &dictionary).len(), 5);
});
