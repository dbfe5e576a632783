//! Proofs of the audit ledger over HTTP: an entry's inclusion and a checkpoint's consistency
//! with an earlier size, checked here as an auditor would (from the export's delegations and
//! the text alone), and no proof at all from a database whose entries were changed.

use std::collections::BTreeSet;

use tessera_core::ledger::{ConsistencyProof, Export, InclusionProof, vouched};
use tessera_core::merkle::{Tree, leaf_hash};
use tessera_portal::domain::apikeys::{self, Scope};

use crate::helpers::{Db, TestApp, spawn_app_with};
use crate::on_both_stores;

/// A GET with the admin key: the status and the body as text.
async fn get_text(app: &TestApp, path: &str, key: &str) -> (u16, String) {
    let response =
        app.http.get(format!("{}{path}", app.address)).bearer_auth(key).send().await.expect("GET");
    (response.status().as_u16(), response.text().await.expect("body"))
}

on_both_stores!(an_entrys_inclusion_and_a_checkpoints_consistency_are_served_and_hold, |app| {
    let claims = app.registered_license().await;
    let id = claims.id.to_string();
    for action in ["suspend", "reinstate", "suspend"] {
        assert_eq!(app.admin(&format!("/v1/admin/licenses/{id}/{action}")).await.status, 200);
    }
    let (status, text) = get_text(&app, "/v1/admin/audit", &app.admin_key).await;
    assert_eq!(status, 200);
    let export = Export::from_lines(text.lines()).expect("export");
    let newest = export.checkpoints.iter().max_by_key(|s| s.checkpoint.size).expect("one");
    let size = newest.checkpoint.size;
    assert!(size >= 4, "{size}");
    let mut tree = Tree::new();
    export.entries.iter().for_each(|(_, leaf)| tree.push(*leaf));

    // Every entry's proof holds, from the entry bytes it carries, in the newest checkpoint,
    // which the export's delegation vouches for.
    for (entry, _) in &export.entries {
        let path = format!("/v1/admin/audit/inclusion?seq={}", entry.seq);
        let (status, body) = get_text(&app, &path, &app.admin_key).await;
        assert_eq!(status, 200, "{body}");
        let proof = InclusionProof::parse(&body).expect("a tlog-proof");
        assert_eq!(proof.index, entry.seq - 1);
        let extra = proof.extra.as_deref().expect("the entry's bytes");
        assert_eq!(extra, entry.bytes(), "the entry as exported");
        let checkpoint = proof.check(&leaf_hash(extra)).expect("the proof holds");
        assert_eq!(checkpoint, newest.checkpoint);
        assert_eq!(proof.note, newest.note);
        let other = export.entries.iter().find(|(e, _)| e.seq != entry.seq).expect("another");
        assert!(proof.check(&other.1).is_err(), "another entry's leaf does not fit");
    }
    let signed = tessera_core::ledger::Signed::parse(&newest.note, newest.signed_at).expect("n");
    vouched(&signed, &export.delegations, &app.trust).expect("a delegated key signed it");

    // Consistency from every earlier size to the newest, and to an earlier checkpoint.
    for old in 0..=size {
        let (status, body) =
            get_text(&app, &format!("/v1/admin/audit/consistency?old={old}"), &app.admin_key).await;
        assert_eq!(status, 200, "{body}");
        let proof = ConsistencyProof::parse(&body).expect("a consistency proof");
        assert_eq!(proof.old, old);
        proof.check(&tree.root_at(old).expect("root")).expect("the newest extends it");
        if old > 0 && old < size {
            assert!(proof.check(&[0; 32]).is_err(), "another root does not fit");
        }
    }
    let oldest = export.checkpoints.iter().min_by_key(|s| s.checkpoint.size).expect("one");
    let earlier = oldest.checkpoint.size;
    let path = format!("/v1/admin/audit/consistency?old=0&size={earlier}");
    let (status, body) = get_text(&app, &path, &app.admin_key).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ConsistencyProof::parse(&body).expect("proof").note, oldest.note);

    // What has no proof, each with its code.
    for (path, want, code) in [
        (format!("/v1/admin/audit/inclusion?seq={}", size + 1), 404, "no_such_entry"),
        ("/v1/admin/audit/inclusion?seq=1&size=999999".to_owned(), 404, "no_checkpoint"),
        (format!("/v1/admin/audit/consistency?old={}", size + 1), 400, "invalid_query"),
        ("/v1/admin/audit/inclusion?seq=-1".to_owned(), 400, "invalid_query"),
        ("/v1/admin/audit/inclusion?seq=1&also=2".to_owned(), 400, "invalid_query"),
        ("/v1/admin/audit/consistency".to_owned(), 400, "invalid_query"),
    ] {
        let answer = app.get(&path, Some(&app.admin_key)).await;
        assert_eq!((answer.status, answer.code()), (want, code), "{path}");
    }
    let write: BTreeSet<Scope> = [Scope::Write].into();
    let writer =
        apikeys::create(&app.portal.store, &write, "w", None, app.now()).await.expect("key");
    let denied = app.get("/v1/admin/audit/inclusion?seq=1", Some(writer.expose())).await;
    assert_eq!((denied.status, denied.code()), (403, "insufficient_scope"));
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_changed_under_a_checkpoint_gets_no_proof() {
    let app = spawn_app_with(Db::Sqlite, |layer| layer).await.expect("app");
    app.registered_license().await;
    assert!(app.portal.sign_ledger_head().await.expect("signs"));
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
    for path in ["/v1/admin/audit/inclusion?seq=1", "/v1/admin/audit/consistency?old=1"] {
        let answer = app.get(path, Some(&app.admin_key)).await;
        assert_eq!((answer.status, answer.code()), (409, "ledger_not_extended"), "{path}");
    }
}
