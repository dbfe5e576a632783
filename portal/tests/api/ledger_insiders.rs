//! An insider with write access to the database against the audit ledger, where the portal
//! itself must notice: an entry dated in the past appended to steer retention, entries
//! rewritten under checkpoints already signed, a checkpoint row the portal never signed,
//! entries appended with valid hashes (a forged retention cut among them), entries the
//! portal wrote removed or replaced before they were signed.

use std::time::Duration;

use tessera_core::ledger::{CUT_ACTION, Entry, EntryTagKey, Export, LedgerError, cut_target};

use crate::helpers::TestApp;
use crate::on_both_stores;

/// The export over HTTP, read.
pub(crate) async fn export(app: &TestApp) -> Export {
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

/// Writes an entry into the database as an insider would, with a valid hash.
pub(crate) async fn insert(app: &TestApp, entry: &Entry, tag: Option<String>) {
    sqlx::query(
        "INSERT INTO ledger (seq, at, actor, action, target, org_id, hash, tag) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(entry.seq as i64)
    .bind(entry.at)
    .bind(&entry.actor)
    .bind(&entry.action)
    .bind(&entry.target)
    .bind(&entry.org)
    .bind(hex::encode(entry.leaf_hash()))
    .bind(tag)
    .execute(app.portal.store.pool())
    .await
    .expect("insider insert");
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
    // Tagged as the portal would (as if the insider held its key too), so that what stops
    // the cut here is the retention rule itself.
    let tag = EntryTagKey::derive(&app.portal.receipt_key).tag(&forged.leaf_hash());
    insert(&app, &forged, Some(hex::encode(tag))).await;
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

on_both_stores!(entries_an_insider_appends_with_valid_hashes_are_refused_not_signed, |app| {
    signed_entries(&app).await;
    let store = &app.portal.store;
    let size = store.ledger_size().await.expect("size") as u64;
    // A forged retention cut, then an entry carrying a genuine entry's tag.
    let cut = Entry {
        seq: size + 1,
        at: app.now().as_unix(),
        actor: "portal".into(),
        action: CUT_ACTION.into(),
        target: cut_target(1, size),
        org: None,
    };
    insert(&app, &cut, None).await;
    assert!(!app.portal.sign_ledger_head().await.expect("no store error"));
    let why = app.portal.ledger_refused().expect("refused, and says why");
    assert!(why.contains(&format!("entry {} was not written by this portal", size + 1)), "{why}");
    assert_eq!(store.last_checkpoint_size().await.expect("size"), Some(size as i64));
    assert!(readyz(&app).await.contains("refused"));
    // The export says the entry is covered by no checkpoint: nothing vouches for it.
    let verified = tessera_core::ledger::verify(&export(&app).await, &app.trust, None);
    assert!(matches!(verified, Err(LedgerError::Unsigned { .. })), "{verified:?}");

    // A tag lifted from a genuine entry does not fit another.
    sqlx::query("DELETE FROM ledger WHERE seq = $1")
        .bind((size + 1) as i64)
        .execute(store.pool())
        .await
        .expect("delete");
    let genuine = store.ledger_after(0, 1).await.expect("entries").remove(0);
    let mut copied = genuine.entry.clone();
    copied.seq = size + 1;
    insert(&app, &copied, genuine.tag.clone()).await;
    app.clock.advance(Duration::from_secs(3600));
    assert!(!app.portal.sign_ledger_head().await.expect("no store error"));
    let why = app.portal.ledger_refused().expect("refused");
    assert!(why.contains("not written by this portal"), "{why}");
});

on_both_stores!(unsigned_entries_the_portal_wrote_removed_or_replaced_are_noticed, |app| {
    signed_entries(&app).await;
    let store = &app.portal.store;
    let id = app.registered_license().await.id.to_string();
    assert_eq!(app.admin(&format!("/v1/admin/licenses/{id}/suspend")).await.status, 200);
    let size = store.ledger_size().await.expect("size");
    // The newest entry, not signed yet, removed: nothing else changes.
    sqlx::query("DELETE FROM ledger WHERE seq = $1")
        .bind(size)
        .execute(store.pool())
        .await
        .expect("delete");
    assert!(!app.portal.sign_ledger_head().await.expect("no store error"));
    let why = app.portal.ledger_refused().expect("refused");
    assert!(why.contains(&format!("entry {size}, written by this portal")), "{why}");
    // The portal writes again into the hole: the entry in that place is not the one it wrote.
    assert_eq!(app.admin(&format!("/v1/admin/licenses/{id}/reinstate")).await.status, 200);
    assert_eq!(store.ledger_size().await.expect("size"), size);
    assert!(!app.portal.sign_ledger_head().await.expect("no store error"));
    let why = app.portal.ledger_refused().expect("refused");
    assert!(why.contains(&format!("entry {size}")) && why.contains("used again"), "{why}");
});

on_both_stores!(entries_another_process_of_this_portal_wrote_are_signed, |app| {
    // The wrong "no": a command at the portal's machine, or this portal before a crash,
    // wrote entries with the same receipt key; the running portal signs them.
    signed_entries(&app).await;
    let url = match app.portal.store.backend() {
        tessera_portal::store::Backend::Sqlite => format!(
            "sqlite://{}",
            app.portal.store.sqlite_file().expect("a database file").display()
        ),
        tessera_portal::store::Backend::Postgres => app.database_url().expect("url"),
    };
    let other = tessera_portal::store::Store::open(&url)
        .await
        .expect("second handle")
        .with_entry_tags(EntryTagKey::derive(&app.portal.receipt_key));
    let actor = tessera_portal::domain::audit::Actor::CommandLine;
    tessera_portal::domain::audit::record(&other, &actor, "user.unlocked", "u1", None, app.now())
        .await
        .expect("record");
    assert!(
        app.portal.sign_ledger_head().await.expect("signs"),
        "{:?}",
        app.portal.ledger_refused()
    );
    assert_eq!(app.portal.ledger_refused(), None);
    let verified = tessera_core::ledger::verify(&export(&app).await, &app.trust, None);
    assert!(verified.is_ok(), "{verified:?}");
});
