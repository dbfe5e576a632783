//! An insider who edits the portal's database, and an operator of the portal machine,
//! against the audit ledger, as a fresh-eyed review attacked it: forged frontier rows, a
//! missing witness file, a command signing over a hole, checkpoint rows larger than the tree,
//! bent tags, hand-edited exports. Each test states what must happen.

use std::time::Duration;

use tessera_core::ledger::{CUT_ACTION, Entry, EntryTagKey, Export, LedgerError, cut_target};
use tessera_core::merkle::Frontier;

use crate::helpers::TestApp;
use crate::ledger_insiders::{export, insert};
use crate::on_both_stores;

/// Some entries, all under a checkpoint the portal signed, an even number of them (so that a
/// frontier one entry longer holds the signed tree's root as its own subtrees).
async fn signed_even(app: &TestApp) -> u64 {
    let id = app.registered_license().await.id.to_string();
    for action in ["suspend", "reinstate"] {
        assert_eq!(app.admin(&format!("/v1/admin/licenses/{id}/{action}")).await.status, 200);
    }
    let store = &app.portal.store;
    if store.ledger_size().await.expect("size") % 2 == 1 {
        assert_eq!(app.admin(&format!("/v1/admin/licenses/{id}/suspend")).await.status, 200);
    }
    app.portal.sign_ledger_head().await.expect("signs");
    let size = store.ledger_size().await.expect("size");
    assert_eq!(store.last_checkpoint_size().await.expect("size"), Some(size));
    assert_eq!(size % 2, 0);
    size as u64
}

/// An entry the insider makes up: the portal "revoked" nothing of the kind.
fn forged(app: &TestApp, seq: u64) -> Entry {
    Entry {
        seq,
        at: app.now().as_unix(),
        actor: "portal".into(),
        action: "api_key.revoked".into(),
        target: "made-up-by-the-insider".into(),
        org: None,
    }
}

/// Every stored entry's leaf, oldest first (no retention cut in these tests).
async fn leaves(app: &TestApp) -> Vec<[u8; 32]> {
    let rows = app.portal.store.ledger_after(0, 10_000).await.expect("entries");
    rows.iter().map(|s| s.entry.leaf_hash()).collect()
}

// The insider appends one untagged entry and a `ledger_frontier` row standing for every
// entry up to it (genuine hashes, then the forged leaf), hoping the portal computes its tree
// from the frontier alone and never looks at the forged entry's tag: a frontier standing for
// more than the portal ever signed is refused.
on_both_stores!(a_forged_frontier_row_launders_an_untagged_entry_into_a_signed_checkpoint, |app| {
    let size = signed_even(&app).await;
    let store = &app.portal.store;
    insert(&app, &forged(&app, size + 1), None).await;
    let mut frontier = Frontier::new();
    for leaf in leaves(&app).await {
        frontier.push(leaf);
    }
    assert_eq!(frontier.size(), size + 1);
    let hashes: Vec<String> = frontier.hashes().iter().map(hex::encode).collect();
    sqlx::query("INSERT INTO ledger_frontier (id, size, hashes) VALUES (1, $1, $2)")
        .bind((size + 1) as i64)
        .bind(hashes.join(" "))
        .execute(store.pool())
        .await
        .expect("insider frontier");
    let signed = app.portal.sign_ledger_head().await.expect("no store error");
    sqlx::query("DELETE FROM ledger_frontier").execute(store.pool()).await.expect("delete");
    let verified = tessera_core::ledger::verify(&export(&app).await, &app.trust, None);
    let checkpoint = store.last_checkpoint_size().await.expect("size");
    assert!(
        !signed && app.portal.ledger_refused().is_some(),
        "the portal signed a checkpoint of {checkpoint:?} entries over the insider's untagged \
         entry {}; the export then verifies: {verified:?}",
        size + 1
    );
});

// A frontier row with no `ledger.cut` entry recording it is itself an insider's edit: the
// portal refuses it, whatever it stands for.
on_both_stores!(a_frontier_row_without_a_cut_entry_is_refused, |app| {
    let size = signed_even(&app).await;
    let store = &app.portal.store;
    let mut frontier = Frontier::new();
    for leaf in leaves(&app).await.into_iter().take(size as usize) {
        frontier.push(leaf);
    }
    let hashes: Vec<String> = frontier.hashes().iter().map(hex::encode).collect();
    // Delete the signed entries and leave a frontier in their place: a "retention cut" with
    // no `ledger.cut` entry, no checkpoint of it, made by nobody.
    sqlx::query("DELETE FROM ledger").execute(store.pool()).await.expect("delete");
    sqlx::query("INSERT INTO ledger_frontier (id, size, hashes) VALUES (1, $1, $2)")
        .bind(size as i64)
        .bind(hashes.join(" "))
        .execute(store.pool())
        .await
        .expect("insider frontier");
    app.clock.advance(Duration::from_secs(3600));
    app.portal.sign_ledger_head().await.expect("no store error");
    let verified = tessera_core::ledger::verify(&export(&app).await, &app.trust, None);
    assert!(verified.is_err(), "verify names the cut no entry records: {verified:?}");
    assert!(
        app.portal.ledger_refused().is_some(),
        "the portal checked the whole ledger and saw nothing wrong with {size} signed entries \
         deleted behind a frontier no cut entry records (verify: {verified:?})"
    );
});

// The witness file is gone (lost with the disk, a restore into a new data directory before
// it is copied back, or moved aside): the checkpoints this very key signed, still in the
// database, vouch for the entries up to them and no further, so untagged entries past them
// are refused.
on_both_stores!(
    without_the_witness_file_untagged_entries_past_the_portals_own_checkpoints_are_signed,
    |app| {
        let size = signed_even(&app).await;
        insert(&app, &forged(&app, size + 1), None).await;
        assert!(!app.portal.sign_ledger_head().await.expect("no store error"));
        assert!(app.portal.ledger_refused().is_some(), "refused while the witness file is there");
        std::fs::remove_file(app.portal.ledger_witness()).expect("witness gone");
        app.clock.advance(Duration::from_secs(3600));
        let signed = app.portal.sign_ledger_head().await.expect("no store error");
        assert!(
            !signed,
            "with no witness file the portal signed the insider's untagged entry {} (refused: {:?})",
            size + 1,
            app.portal.ledger_refused()
        );
    }
);

// Without the witness file, a tree that does not extend the checkpoints the portal's own key
// signed (stored in the same database) is a fork of its own history: refused.
on_both_stores!(without_the_witness_file_the_portal_signs_a_fork_of_its_own_checkpoints, |app| {
    let size = signed_even(&app).await;
    let store = &app.portal.store;
    let rows = store.ledger_after(0, 1).await.expect("entries");
    let mut rewritten = rows[0].entry.clone();
    rewritten.target = "someone-else".into();
    sqlx::query("UPDATE ledger SET target = $1, hash = $2 WHERE seq = 1")
        .bind(&rewritten.target)
        .bind(hex::encode(rewritten.leaf_hash()))
        .execute(store.pool())
        .await
        .expect("edit");
    std::fs::remove_file(app.portal.ledger_witness()).expect("witness gone");
    let id = app.registered_license().await.id.to_string();
    assert_eq!(app.admin(&format!("/v1/admin/licenses/{id}/suspend")).await.status, 200);
    let signed = app.portal.sign_ledger_head().await.expect("no store error");
    let verified = tessera_core::ledger::verify(&export(&app).await, &app.trust, None);
    assert!(matches!(verified, Err(LedgerError::Rewritten { .. })), "{verified:?}");
    assert!(
        !signed,
        "the portal signed a tree that does not extend its own stored checkpoint of {size} \
         entries (refused: {:?})",
        app.portal.ledger_refused()
    );
});

// An empty tag is no tag; neither is a tag of the right length that is wrong by one
// bit, nor upper-case hex of a genuine tag on another entry.
on_both_stores!(an_empty_or_bent_tag_is_no_tag, |app| {
    let size = signed_even(&app).await;
    let store = &app.portal.store;
    let entry = forged(&app, size + 1);
    let key = EntryTagKey::derive(&app.portal.receipt_key);
    let mut bent = key.tag(&entry.leaf_hash()).to_vec();
    bent[0] ^= 1;
    for tag in [String::new(), hex::encode(&bent), " ".into()] {
        insert(&app, &entry, Some(tag.clone())).await;
        app.clock.advance(Duration::from_secs(3600));
        assert!(!app.portal.sign_ledger_head().await.expect("no store error"), "{tag:?}");
        assert!(app.portal.ledger_refused().is_some(), "{tag:?}");
        sqlx::query("DELETE FROM ledger WHERE seq = $1")
            .bind((size + 1) as i64)
            .execute(store.pool())
            .await
            .expect("delete");
    }
    // The genuine tag, upper-case: the same bytes, so it passes (hex case is not a forgery).
    let genuine = hex::encode(key.tag(&entry.leaf_hash())).to_uppercase();
    insert(&app, &entry, Some(genuine)).await;
    app.clock.advance(Duration::from_secs(3600));
    assert!(
        app.portal.sign_ledger_head().await.expect("signs"),
        "{:?}",
        app.portal.ledger_refused()
    );
});

// A change at the command line while the running portal holds an unsigned entry the insider
// deleted: the command's fresh store handle does not know what the portal wrote, writes into
// the hole with a valid tag and signs. The running portal, which remembers what it wrote
// until it signs itself, refuses at its next signing.
on_both_stores!(a_command_line_change_signs_over_a_hole_the_running_portal_would_refuse, |app| {
    signed_even(&app).await;
    let store = &app.portal.store;
    let id = app.registered_license().await.id.to_string();
    assert_eq!(app.admin(&format!("/v1/admin/licenses/{id}/suspend")).await.status, 200);
    let grown = store.ledger_size().await.expect("size");
    sqlx::query("DELETE FROM ledger WHERE seq = $1")
        .bind(grown)
        .execute(store.pool())
        .await
        .expect("delete");
    let url = match store.backend() {
        tessera_portal::store::Backend::Sqlite => {
            format!("sqlite://{}", store.sqlite_file().expect("a database file").display())
        }
        tessera_portal::store::Backend::Postgres => app.database_url().expect("url"),
    };
    let settings = &app.portal.settings;
    let cli_store = tessera_portal::cli_signing::store_for_changes(
        settings,
        tessera_portal::store::Store::open(&url).await.expect("second handle"),
    )
    .expect("has the key");
    let actor = tessera_portal::domain::audit::Actor::CommandLine;
    tessera_portal::domain::audit::record(
        &cli_store,
        &actor,
        "user.unlocked",
        "u1",
        None,
        app.now(),
    )
    .await
    .expect("record");
    let signing = tessera_portal::cli_signing::sign_after_change(settings, &cli_store, app.now())
        .await
        .expect("signing runs");
    assert!(
        matches!(signing, Some(tessera_portal::domain::ledger_signing::Signing::Signed(_))),
        "{signing:?}"
    );
    // The running portal still remembers the entry it wrote there: it refuses, though the
    // witness file now vouches past the hole.
    app.portal.sign_ledger_head().await.expect("no store error");
    app.clock.advance(Duration::from_secs(3600));
    app.portal.sign_ledger_head().await.expect("no store error");
    assert!(
        app.portal.ledger_refused().is_some(),
        "the command signed a checkpoint of {grown} entries over the entry the running portal \
         wrote and the insider deleted, and the running portal never notices"
    );
});

/// Puts a `ledger_frontier` row standing for every stored entry, has the portal sign, and
/// removes the row: the insider's entries past the witness are signed without their tags.
async fn launder(app: &TestApp) -> bool {
    let store = &app.portal.store;
    let mut frontier = Frontier::new();
    for leaf in leaves(app).await {
        frontier.push(leaf);
    }
    let hashes: Vec<String> = frontier.hashes().iter().map(hex::encode).collect();
    sqlx::query("INSERT INTO ledger_frontier (id, size, hashes) VALUES (1, $1, $2)")
        .bind(frontier.size() as i64)
        .bind(hashes.join(" "))
        .execute(store.pool())
        .await
        .expect("insider frontier");
    let signed = app.portal.sign_ledger_head().await.expect("no store error");
    sqlx::query("DELETE FROM ledger_frontier").execute(store.pool()).await.expect("delete");
    signed
}

// The whole chain with the database alone: the insider tries to launder a forged retention
// cut entry (`ledger.cut` of every signed entry) through a frontier row, then deletes every
// signed entry behind the genuine frontier, as a real cut would. The laundering is refused,
// so the forged cut is never signed, and the deletion is refused too.
on_both_stores!(the_insider_erases_the_signed_history_behind_a_laundered_cut_entry, |app| {
    let size = signed_even(&app).await;
    let store = &app.portal.store;
    let cut = Entry {
        seq: size + 1,
        at: app.now().as_unix(),
        actor: "portal".into(),
        action: CUT_ACTION.into(),
        target: cut_target(1, size),
        org: None,
    };
    insert(&app, &cut, None).await;
    let laundered = launder(&app).await;
    let mut frontier = Frontier::new();
    for leaf in leaves(&app).await.into_iter().take(size as usize) {
        frontier.push(leaf);
    }
    let hashes: Vec<String> = frontier.hashes().iter().map(hex::encode).collect();
    sqlx::query("DELETE FROM ledger WHERE seq <= $1")
        .bind(size as i64)
        .execute(store.pool())
        .await
        .expect("delete");
    sqlx::query("DELETE FROM ledger_checkpoints WHERE size < $1")
        .bind(size as i64)
        .execute(store.pool())
        .await
        .expect("delete");
    sqlx::query("INSERT INTO ledger_frontier (id, size, hashes) VALUES (1, $1, $2)")
        .bind(size as i64)
        .bind(hashes.join(" "))
        .execute(store.pool())
        .await
        .expect("insider frontier");
    app.clock.advance(Duration::from_secs(3600));
    app.portal.sign_ledger_head().await.expect("no store error");
    let verified = tessera_core::ledger::verify(&export(&app).await, &app.trust, None);
    assert!(
        !laundered && app.portal.ledger_refused().is_some(),
        "{size} signed entries erased by the insider: portal signed the forged cut: \
         {laundered}, refuses now: {:?}, the export verifies: {verified:?}",
        app.portal.ledger_refused()
    );
});

// A checkpoint row larger than the stored tree (a genuine note under a made-up size) would
// stay "the newest checkpoint" for ever (no entry written after it gets an inclusion proof):
// refused, and said.
on_both_stores!(a_checkpoint_row_larger_than_the_tree_is_refused, |app| {
    let size = signed_even(&app).await;
    let store = &app.portal.store;
    let newest = store.ledger_checkpoint(None).await.expect("query").expect("one");
    sqlx::query(
        "INSERT INTO ledger_checkpoints (size, signed_at, key_id, note) VALUES ($1, $2, $3, $4)",
    )
    .bind(size as i64 + 1000)
    .bind(newest.signed_at)
    .bind(&newest.key_id)
    .bind(&newest.note)
    .execute(store.pool())
    .await
    .expect("insert");
    let id = app.registered_license().await.id.to_string();
    assert_eq!(app.admin(&format!("/v1/admin/licenses/{id}/suspend")).await.status, 200);
    app.clock.advance(Duration::from_secs(3600));
    app.portal.sign_ledger_head().await.expect("no store error");
    let grown = store.ledger_size().await.expect("size");
    let proof =
        app.get(&format!("/v1/admin/audit/inclusion?seq={grown}"), Some(&app.admin_key)).await;
    assert!(
        app.portal.ledger_refused().is_some() || proof.status == 200,
        "no refusal, and the newest entry {grown} has no inclusion proof: {} {:?}",
        proof.status,
        proof.body
    );
});

// Exports edited by hand, checked as `tessera audit verify` reads them.
on_both_stores!(hand_edited_exports, |app| {
    signed_even(&app).await;
    let (text, _) = crate::ledger_signing::export(&app).await;
    let lines: Vec<&str> = text.lines().collect();
    let verify = |text: &str| {
        Export::from_lines(text.lines()).map_err(|e| e.to_string()).and_then(|e| {
            tessera_core::ledger::verify(&e, &app.trust, None).map_err(|e| e.to_string())
        })
    };
    assert!(verify(&text).is_ok());
    // CRLF line ends read as the same export.
    assert!(verify(&text.replace('\n', "\r\n")).is_ok());
    let entry = lines.iter().position(|l| l.contains("\"kind\":\"entry\"")).expect("an entry");
    // an entry line twice is refused.
    let mut twice = lines.clone();
    twice.insert(entry, lines[entry]);
    assert!(verify(&twice.join("\n")).is_err(), "a duplicated entry line");
    // two entries swapped.
    let mut swapped = lines.clone();
    swapped.swap(entry, entry + 1);
    assert!(verify(&swapped.join("\n")).is_err(), "swapped entries");
    // an end line in the middle.
    let end = lines.iter().position(|l| l.contains("\"kind\":\"end\"")).expect("an end line");
    let mut middle = lines.clone();
    let end_line = middle.remove(end);
    middle.insert(entry, end_line);
    assert!(verify(&middle.join("\n")).is_err(), "an end line in the middle");
    // A byte-order mark, as a Windows editor saves it, is skipped.
    let bom = format!("\u{feff}{text}");
    let read = verify(&bom);
    assert!(read.is_ok(), "an export saved with a BOM: {read:?}");
});
