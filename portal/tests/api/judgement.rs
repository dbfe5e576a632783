//! How a ping is judged where clocks disagree and databases come back from backups: the
//! last-ping time never goes back, a reinstalled hub's last ping in flight is no fork, a
//! restored portal with a new receipt key still re-syncs its hubs, and a hub that took a new
//! key after the backup is told to activate again rather than refused.

use std::time::Duration;

use sqlx::Row;
use tessera_core::Status;
use tessera_core::delegation::{self, DelegationClaims};
use tessera_portal::app::Portal;
use tessera_portal::config::Layer;
use tessera_portal::{http, startup};

use crate::helpers::{TestApp, TestHub};
use crate::on_both_stores;

const DAY: Duration = Duration::from_secs(86_400);

/// The license as the admin API shows it.
async fn shown(app: &TestApp, id: &str) -> serde_json::Value {
    app.get(&format!("/v1/admin/licenses/{id}"), Some(&app.admin_key)).await.body
}

/// The binding's columns a backup holds and a restore puts back.
const BINDING: [&str; 9] = [
    "hub_key",
    "chain_confirmed",
    "chain_pending",
    "last_ping_at",
    "last_hub_time_ms",
    "rebinds",
    "rebound_at",
    "previous_hub_key",
    "rebound_hub_time_ms",
];

/// The binding as a backup taken now holds it (every value as text).
async fn back_up(app: &TestApp, id: &str) -> Vec<Option<String>> {
    let columns =
        BINDING.iter().map(|c| format!("CAST({c} AS TEXT)")).collect::<Vec<_>>().join(", ");
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {columns} FROM activations WHERE license_id = $1"
    )))
    .bind(id)
    .fetch_one(app.portal.store.pool())
    .await
    .expect("binding");
    (0..BINDING.len()).map(|i| row.try_get::<Option<String>, _>(i).expect("column")).collect()
}

/// Puts the binding back as `saved` had it: what restoring the database does to it.
async fn restore(app: &TestApp, id: &str, saved: &[Option<String>]) {
    for (column, value) in BINDING.iter().zip(saved) {
        let integer = !matches!(
            *column,
            "hub_key" | "chain_confirmed" | "chain_pending" | "previous_hub_key"
        );
        let sql = format!("UPDATE activations SET {column} = $1 WHERE license_id = $2");
        let query = sqlx::query(sqlx::AssertSqlSafe(sql));
        let query = if integer {
            query.bind(value.as_ref().map(|v| v.parse::<i64>().expect("integer")))
        } else {
            query.bind(value.clone())
        };
        query.bind(id).execute(app.portal.store.pool()).await.expect("restore");
    }
}

on_both_stores!(the_last_ping_time_never_goes_back_with_the_portals_clock, |app| {
    let license = app.registered_license().await;
    let id = license.id.to_string();
    let mut hub = TestHub::new("host-a", &app);
    hub.activate(&app, &license).await;
    app.clock.advance(Duration::from_secs(600));
    let (answer, _) = hub.ping(&app, &license).await;
    assert_eq!(app.verify_receipt(&answer).status, Status::Valid);
    let latest = app.now().as_unix();
    // The portal's clock is stepped back two minutes (or another instance's lags): the
    // ping counts, but the binding keeps the later time a re-sync's proof is compared with.
    app.clock.rewind(Duration::from_secs(120));
    let (answer, _) = hub.ping(&app, &license).await;
    assert_eq!(app.verify_receipt(&answer).status, Status::Valid);
    assert_eq!(shown(&app, &id).await["activation"]["last_ping_at"].as_i64(), Some(latest));
});

on_both_stores!(a_reinstalled_hubs_last_ping_in_flight_is_no_fork_whatever_its_clock, |app| {
    let license = app.registered_license().await;
    let id = license.id.to_string();
    let mut old = TestHub::new("host-a", &app);
    old.activate(&app, &license).await;
    old.ping(&app, &license).await;
    app.clock.advance(DAY);
    // The host's clock runs a minute ahead of the portal's. The old hub signs a ping; before
    // it arrives, the hub is reinstalled on the same host (same clock) with a new key.
    old.time_ms = app.now().as_unix() * 1000 + 60_000;
    let (in_flight, _) = old.ping_body(&app, &license);
    let mut new = TestHub::new("host-a", &app);
    new.time_ms = old.time_ms;
    let (answer, _) = new.activate(&app, &license).await;
    assert_eq!(app.verify_receipt(&answer).status, Status::Valid);
    let answer = app.post_json("/v1/ping", None, &in_flight).await;
    assert_eq!((answer.status, answer.code()), (422, "wrong_hub_key"), "{answer:?}");
    let view = shown(&app, &id).await;
    assert!(view["activation"]["cloned_at"].is_null(), "{view}");
    assert_eq!(view["activation"]["forks"].as_i64(), Some(0));
    // Had the old hub gone on running, its next ping, made after the re-activation, is one.
    old.time_ms = new.time_ms;
    let (answer, _) = old.ping(&app, &license).await;
    assert_eq!(app.verify_receipt(&answer).status, Status::Cloned);
    assert_eq!(shown(&app, &id).await["activation"]["forks"].as_i64(), Some(1));
});

on_both_stores!(a_portal_restored_with_a_new_receipt_key_still_re_syncs_its_hubs, |app| {
    let license = app.registered_license().await;
    let id = license.id.to_string();
    let mut hub = TestHub::new("host-a", &app);
    hub.activate(&app, &license).await;
    hub.ping(&app, &license).await;
    let backup = back_up(&app, &id).await;
    app.clock.advance(Duration::from_secs(3600));
    let (answer, _) = hub.ping(&app, &license).await;
    assert_eq!(app.verify_receipt(&answer).status, Status::Valid);

    // Restored without the old receipt key: a new one, and the vendor's delegation of it.
    restore(&app, &id, &backup).await;
    let data_dir = app.dir.path().join("restored");
    std::fs::create_dir_all(&data_dir).expect("data dir");
    let receipt_key = startup::load_or_create_receipt_key(&data_dir).expect("receipt key");
    assert_ne!(receipt_key.key_id(), app.portal.receipt_key.key_id());
    let claims = DelegationClaims {
        portal_key: receipt_key.public_key().clone(),
        issued_at: app.now(),
        not_before: app.now().saturating_sub(DAY),
        not_after: app.now().saturating_add(365 * DAY),
    };
    let delegation_path = app.dir.path().join("restored-delegation.txt");
    std::fs::write(&delegation_path, delegation::sign(&claims, &app.vendor)).expect("write");
    let layer = Layer {
        data_dir: Some(data_dir),
        database_url: Some(app.portal.settings.database_url.expose().to_owned().into()),
        trust: vec![app.dir.path().join("vendor.pub")],
        delegation: Some(delegation_path),
        ..Layer::default()
    };
    let restored = Portal::start(layer.resolve().expect("settings"), app.clock.clone())
        .await
        .expect("the restored portal starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let mut app = app;
    app.address = format!("http://{}", listener.local_addr().expect("addr"));
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut rounds = restored.job_rounds.subscribe();
    tokio::spawn(http::serve(restored, listener, None, async move {
        let _ = stopped.await;
    }));
    rounds.wait_for(|done| *done >= 1).await.expect("the restored portal's jobs run");

    // The hub shows the receipt the old key signed after the restored binding's last ping.
    app.clock.advance(Duration::from_secs(3600));
    let (answer, _) = hub.ping(&app, &license).await;
    let receipt = app.verify_receipt(&answer);
    assert_eq!(receipt.status, Status::Valid, "{answer:?}");
    let (answer, _) = hub.ping(&app, &license).await;
    assert_eq!(app.verify_receipt(&answer).status, Status::Valid);
});

on_both_stores!(a_hub_re_keyed_after_the_backup_is_told_to_activate_again, |app| {
    let license = app.registered_license().await;
    let id = license.id.to_string();
    let mut first = TestHub::new("host-a", &app);
    first.activate(&app, &license).await;
    first.ping(&app, &license).await;
    let backup = back_up(&app, &id).await;
    // After the backup the hub is reinstalled with a new key, and pings.
    app.clock.advance(DAY);
    let mut second = TestHub::new("host-a", &app);
    second.time_ms = first.time_ms;
    second.activate(&app, &license).await;
    let (answer, _) = second.ping(&app, &license).await;
    assert_eq!(app.verify_receipt(&answer).status, Status::Valid);

    // The portal is restored: it knows only the first key. The second hub's ping proves, by
    // the receipt the portal signed for its key after the binding's last ping, that it was
    // bound since: it is told to activate again (its key is not in a ping), not refused.
    restore(&app, &id, &backup).await;
    app.clock.advance(Duration::from_secs(3600));
    let (answer, _) = second.ping(&app, &license).await;
    assert_eq!((answer.status, answer.code()), (409, "not_activated"), "{answer:?}");
    let (answer, _) = second.activate(&app, &license).await;
    assert_eq!(app.verify_receipt(&answer).status, Status::Valid);
    let (answer, _) = second.ping(&app, &license).await;
    assert_eq!(app.verify_receipt(&answer).status, Status::Valid);

    // A stranger's key with no such receipt is still refused.
    let mut stranger = TestHub::new("host-a", &app);
    stranger.holds = first.holds;
    stranger.held_receipt = first.held_receipt.clone();
    let (answer, _) = stranger.ping(&app, &license).await;
    assert_eq!((answer.status, answer.code()), (422, "wrong_hub_key"));
});
