//! An insider with write access to the database against the audit ledger, where the portal
//! itself must notice: an entry dated in the past appended to steer retention, entries
//! rewritten under checkpoints already signed, a checkpoint row the portal never signed.

use std::time::Duration;

use tessera_core::ledger::{Entry, Export, LedgerError};

use crate::helpers::TestApp;
use crate::on_both_stores;

/// The export over HTTP, read.
async fn export(app: &TestApp) -> Export {
    crate::ledger_signing::export(app).await.1
}

/// Some entries, all under a checkpoint the portal signed.
async fn signed_entries(app: &TestApp) {
    let id = app.registered_license().await.id.to_string();
    for action in ["suspend", "reinstate"] {
        assert_eq!(app.admin(&format!("/v1/admin/licenses/{id}/{action}")).await.status, 200);
    }
    app.portal.sign_ledger_head().await.expect("signs");
    let store = &app.portal.store;
    let size = store.ledger_size().await.expect("size");
    assert_eq!(store.last_checkpoint_size().await.expect("size"), Some(size));
}

async fn readyz(app: &TestApp) -> String {
    let ready = app.http.get(format!("{}/readyz", app.address)).send().await.expect("readyz");
    ready.text().await.expect("body")
}

on_both_stores!(an_entry_dated_long_ago_appended_at_the_end_makes_retention_cut_nothing, |app| {
    signed_entries(&app).await;
    let store = &app.portal.store;
    let size = store.ledger_size().await.expect("size") as u64;
    let forged = Entry {
        seq: size + 1,
        at: 1,
        actor: "portal".into(),
        action: "license.created".into(),
        target: String::new(),
        org: None,
    };
    sqlx::query(
        "INSERT INTO ledger (seq, at, actor, action, target, org_id, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(forged.seq as i64)
    .bind(forged.at)
    .bind(&forged.actor)
    .bind(&forged.action)
    .bind(&forged.target)
    .bind(&forged.org)
    .bind(hex::encode(forged.leaf_hash()))
    .execute(store.pool())
    .await
    .expect("insider insert");
    // Before the fix, everything up to the 1970 entry was "older than seven years".
    assert_eq!(app.portal.cut_ledger().await.expect("cut"), 0);
    assert_eq!(store.ledger_size().await.expect("size") as u64, size + 1);
    assert!(store.ledger_frontier().await.expect("frontier").is_none(), "nothing was cut");
});

on_both_stores!(entries_rewritten_under_signed_checkpoints_are_noticed_within_the_hour, |app| {
    signed_entries(&app).await;
    let store = &app.portal.store;
    let rows = store.ledger_after(0, 10).await.expect("entries");
    let mut forged = rows[0].entry.clone();
    forged.target = "someone-else".into();
    sqlx::query("UPDATE ledger SET target = $1, hash = $2 WHERE seq = 1")
        .bind(&forged.target)
        .bind(hex::encode(forged.leaf_hash()))
        .execute(store.pool())
        .await
        .expect("edit");
    // No entry arrives; within the hour the whole stored tree is checked again.
    app.clock.advance(Duration::from_secs(3600));
    assert!(!app.portal.sign_ledger_head().await.expect("no store error"));
    let why = app.portal.ledger_refused().expect("the portal refuses to sign and says why");
    assert!(why.contains("does not extend"), "{why}");
    assert_eq!(app.portal.metrics.ledger_signing_refused.get(), 1);
    assert!(readyz(&app).await.contains("refused"));
    let verified = tessera_core::ledger::verify(&export(&app).await, &app.trust, None);
    assert!(matches!(verified, Err(LedgerError::Rewritten { .. })), "{verified:?}");
});

on_both_stores!(a_checkpoint_row_the_portal_never_signed_is_refused_not_kept_silent, |app| {
    signed_entries(&app).await;
    let store = &app.portal.store;
    let id = app.registered_license().await.id.to_string();
    assert_eq!(app.admin(&format!("/v1/admin/licenses/{id}/suspend")).await.status, 200);
    let grown = store.ledger_size().await.expect("size");
    // An earlier genuine note stored as if it covered the newest entries.
    let newest = store.ledger_checkpoint(None).await.expect("query").expect("one");
    sqlx::query(
        "INSERT INTO ledger_checkpoints (size, signed_at, key_id, note) VALUES ($1, $2, $3, $4)",
    )
    .bind(grown)
    .bind(newest.signed_at)
    .bind(&newest.key_id)
    .bind(&newest.note)
    .execute(store.pool())
    .await
    .expect("insert");
    app.clock.advance(Duration::from_secs(3600));
    assert!(!app.portal.sign_ledger_head().await.expect("no store error"));
    let why = app.portal.ledger_refused().expect("refused");
    assert!(why.contains("not one this portal signed"), "{why}");
});

on_both_stores!(a_sound_ledger_checked_whole_stays_signable, |app| {
    signed_entries(&app).await;
    app.clock.advance(Duration::from_secs(3600));
    assert!(!app.portal.sign_ledger_head().await.expect("checked"), "nothing new to sign");
    assert_eq!(app.portal.ledger_refused(), None);
    let id = app.registered_license().await.id.to_string();
    assert_eq!(app.admin(&format!("/v1/admin/licenses/{id}/suspend")).await.status, 200);
    assert!(app.portal.sign_ledger_head().await.expect("signs"));
    let verified = tessera_core::ledger::verify(&export(&app).await, &app.trust, None);
    assert!(verified.is_ok(), "{verified:?}");
});
