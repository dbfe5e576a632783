//! When the audit ledger is signed and where its checkpoints go: retention that may not sign
//! adds nothing, changes made at the command line are signed when made, and each checkpoint
//! reaches the checkpoint directory and a C2SP tlog witness that cosigns only an extension.

use tessera_core::ledger::{CUT_ACTION, Export, LedgerError};
use tessera_core::time::{Clock, SystemClock};
use tessera_portal::config::{Layer, LedgerWitness};
use tessera_testkit::TestWitness;

use crate::helpers::{Db, TestApp, spawn_app_with};
use crate::on_both_stores;

/// The export over HTTP (the portal signs a checkpoint before it answers).
pub(crate) async fn export(app: &TestApp) -> (String, Export) {
    let text = app
        .http
        .get(format!("{}/v1/admin/audit", app.address))
        .bearer_auth(&app.admin_key)
        .send()
        .await
        .expect("audit")
        .text()
        .await
        .expect("body");
    let export = Export::from_lines(text.lines()).expect("export");
    (text, export)
}

/// Waits until the checkpoint the portal signs as it starts is signed and in the witness file
/// (its periodic job), so that what a test signs next is its own.
async fn started(app: &TestApp) {
    let store = &app.portal.store;
    for _ in 0..100 {
        let size = store.ledger_size().await.expect("size");
        let witnessed = std::fs::read_to_string(app.portal.ledger_witness())
            .ok()
            .and_then(|text| Export::from_lines(text.lines()).ok())
            .and_then(|e| e.checkpoints.first().map(|c| c.checkpoint.size as i64));
        if store.last_checkpoint_size().await.expect("size") == Some(size)
            && witnessed == Some(size)
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the portal signed no checkpoint at start");
}

async fn cut_entries(app: &TestApp) -> usize {
    let entries = app.portal.store.ledger_after(0, 10_000).await.expect("entries");
    entries.iter().filter(|e| e.entry.action == CUT_ACTION).count()
}

on_both_stores!(ledger_retention_that_may_not_sign_adds_no_cut_entry_run_after_run, |app| {
    let claims = app.registered_license().await;
    let id = claims.id.to_string();
    assert_eq!(app.admin(&format!("/v1/admin/licenses/{id}/suspend")).await.status, 200);
    assert!(app.portal.sign_ledger_head().await.expect("signs"));
    app.clock.advance(std::time::Duration::from_secs((7 * 365 + 9) * 86_400));
    // The witness file is corrupt: checkpoints are refused, so nothing may be cut.
    let witness = app.portal.ledger_witness();
    let kept = std::fs::read_to_string(&witness).expect("witness");
    std::fs::write(&witness, "not a checkpoint\n").expect("write");
    for _ in 0..3 {
        assert_eq!(app.portal.cut_ledger().await.expect("no store error"), 0);
    }
    assert_eq!(cut_entries(&app).await, 0, "no cut entry for a cut that did not happen");
    // The ledger delegation (ten years) has ended: nothing is signed, nothing is cut.
    std::fs::write(&witness, kept).expect("write");
    app.clock.advance(std::time::Duration::from_secs(4 * 365 * 86_400));
    for _ in 0..3 {
        assert_eq!(app.portal.cut_ledger().await.expect("no store error"), 0);
    }
    assert_eq!(cut_entries(&app).await, 0);
});

/// `tessera-portal` run on the test portal's data directory, with the trust set and a
/// ledger delegation valid at the machine's real time (the command line reads the real
/// clock).
fn cli(app: &TestApp, args: &[&str]) -> (i32, String, String) {
    use tessera_core::delegation::{self, DelegationClaims};
    let now = SystemClock.now();
    let claims = DelegationClaims {
        portal_key: app.portal.receipt_key.public_key().clone(),
        issued_at: now,
        not_before: now.saturating_sub(std::time::Duration::from_secs(86_400)),
        not_after: now.saturating_add(std::time::Duration::from_secs(365 * 86_400)),
    };
    let path = app.dir.path().join("ledger-delegation-now.txt");
    let text = delegation::sign_for(delegation::Purpose::Ledger, &claims, &app.vendor);
    std::fs::write(&path, text).expect("delegation");
    let trust = app.dir.path().join("vendor.pub");
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--trust", trust.to_str().expect("path")]);
    all.extend(["--ledger-delegation", path.to_str().expect("path")]);
    crate::processes::portal_command(&app.dir.path().join("data"), &all, "")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_changes_made_at_the_command_line_are_signed_when_made_unless_the_witness_disagrees()
{
    let app = spawn_app_with(Db::Sqlite, |layer| layer).await.expect("app");
    let store = &app.portal.store;
    started(&app).await;
    let (code, _, err) = cli(&app, &["org", "create", "--name", "Acme"]);
    assert_eq!(code, 0, "{err}");
    let size = store.ledger_size().await.expect("size");
    assert_eq!(store.last_checkpoint_size().await.expect("size"), Some(size), "signed when made");
    let witness = std::fs::read_to_string(app.portal.ledger_witness()).expect("witness");
    let witnessed = Export::from_lines(witness.lines()).expect("witness line");
    assert_eq!(witnessed.checkpoints[0].checkpoint.size, size as u64, "the witness file moved on");
    // An insider rewrites an entry (its hash recomputed) and deletes the checkpoints: the
    // command line, like the portal, refuses to sign what does not extend the witness file.
    let rows = store.ledger_after(0, 10).await.expect("entries");
    let mut forged = rows[0].entry.clone();
    forged.target = "someone-else".into();
    sqlx::query("UPDATE ledger SET target = $1, hash = $2 WHERE seq = 1")
        .bind(&forged.target)
        .bind(hex::encode(forged.leaf_hash()))
        .execute(store.pool())
        .await
        .expect("edit");
    sqlx::query("DELETE FROM ledger_checkpoints").execute(store.pool()).await.expect("edit");
    let (code, _, err) = cli(&app, &["org", "create", "--name", "Globex"]);
    assert_eq!(code, 0, "the change itself is made: {err}");
    assert!(err.contains("NOT signed") && err.contains("does not extend"), "{err}");
    assert_eq!(store.last_checkpoint_size().await.expect("size"), None, "nothing signed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_that_cannot_read_the_receipt_key_changes_nothing_once_the_ledger_is_signed() {
    let app = spawn_app_with(Db::Sqlite, |layer| layer).await.expect("app");
    let store = &app.portal.store;
    started(&app).await;
    let size = store.ledger_size().await.expect("size");
    // The key is not readable here (another user, or a systemd credential of the service):
    // an entry written now would carry no tag and stop the portal signing; so the change is
    // refused before it is made, saying what to do.
    let key = app.dir.path().join("data").join(tessera_portal::startup::RECEIPT_KEY_FILE);
    let aside = app.dir.path().join("receipt.key.aside");
    std::fs::rename(&key, &aside).expect("key aside");
    let (code, _, err) = cli(&app, &["org", "create", "--name", "Initech"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("receipt key is not readable here"), "{err}");
    assert_eq!(store.ledger_size().await.expect("size"), size, "no entry written");
    // With the key: the change is made, tagged, and signed when made; the running portal
    // signs on from there.
    std::fs::rename(&aside, &key).expect("key back");
    let (code, _, err) = cli(&app, &["org", "create", "--name", "Initech"]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("NOT signed"), "{err}");
    assert_eq!(store.ledger_size().await.expect("size"), size + 1);
    let id = app.registered_license().await.id.to_string();
    assert_eq!(app.admin(&format!("/v1/admin/licenses/{id}/suspend")).await.status, 200);
    assert!(app.portal.sign_ledger_head().await.expect("signs"));
    assert_eq!(app.portal.ledger_refused(), None);
}

/// The portal with a checkpoint directory and a tlog witness.
async fn witnessed(db: Db) {
    use tessera_portal::domain::witnesses::{Cosigned, Witnesses};
    let witness = TestWitness::start("witness.example/w1");
    let dir = tempfile::tempdir().expect("dir");
    let checkpoints = dir.path().join("checkpoints");
    let tune = {
        let (checkpoints, url, key) =
            (checkpoints.clone(), witness.url.clone(), witness.verifier_key());
        move |layer: Layer| Layer {
            ledger_checkpoint_dir: Some(checkpoints),
            ledger_witnesses: vec![LedgerWitness { url, key }],
            ..layer
        }
    };
    let Some(app) = spawn_app_with(db, tune).await else { return };
    let delegation =
        std::fs::read_to_string(app.dir.path().join("ledger-delegation.txt")).expect("text");
    let origin = tessera_core::ledger::origin_for(&delegation);
    witness.trust_log(&origin, app.portal.receipt_key.public_key());
    let store = &app.portal.store;
    started(&app).await;
    // What the checkpoint signed at start came to (the witness may have learnt the log's key
    // only after it): counted from here, once the witness has answered it.
    for _ in 0..100 {
        if !witness.answers().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let before = witness.answers().len();
    assert_eq!(before, 1, "the checkpoint signed at start was sent to the witness");
    let failed = app.portal.metrics.ledger_witness_failures.get();

    // Each checkpoint: a file in the directory, and cosigned from the witness's last size.
    let claims = app.registered_license().await;
    let id = claims.id.to_string();
    assert!(app.portal.sign_ledger_head().await.expect("signs"));
    let first = store.ledger_size().await.expect("size") as u64;
    assert_eq!(witness.latest(&origin).map(|(size, _)| size), Some(first));
    assert_eq!(app.admin(&format!("/v1/admin/licenses/{id}/suspend")).await.status, 200);
    let (_, sound) = export(&app).await;
    let second = store.ledger_size().await.expect("size") as u64;
    assert!(second > first);
    let newest = sound.checkpoints.last().expect("a checkpoint").clone();
    assert_eq!(witness.latest(&origin), Some((second, newest.checkpoint.root)));
    assert_eq!(witness.answers()[before..], [200, 200], "the second came with a consistency proof");
    let names: Vec<String> = std::fs::read_dir(&checkpoints)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    let cosigned = names.iter().filter(|n| n.ends_with("-cosigned.jsonl")).count();
    assert_eq!(names.len() - cosigned, before + 2, "one file per checkpoint: {names:?}");
    // The checkpoint signed at start is cosigned only if the witness had learnt the log's key
    // by then (a race with this test): one cosigned file for each checkpoint it accepted.
    let accepted = witness.answers().iter().filter(|code| **code == 200).count();
    assert!(accepted >= 2);
    assert_eq!(cosigned, accepted, "and one with each cosignature: {names:?}");
    // The cosignature is kept with the checkpoint: the export's note carries it.
    let cosigner: tessera_core::ledger::witness::CosignerKey =
        witness.verifier_key().parse().expect("key");
    let lines = newest.note.split_once("\n\n").expect("signatures").1;
    cosigner.verify(&newest.checkpoint.text(), lines).expect("the witness's cosignature");
    assert_eq!(app.portal.metrics.ledger_witness_failures.get(), failed);
    // The export verifies against the directory: it extends every checkpoint there.
    let file = dir.path().join("export.jsonl");
    std::fs::write(&file, sound_text(&sound)).expect("write");
    let verified = tessera_cli::audit::verify_export(&file, &app.trust, None, Some(&checkpoints))
        .expect("the sound export extends every witnessed checkpoint");
    assert_eq!(verified.witnessed, before + 2 + accepted, "each checkpoint, plain and cosigned");

    // A portal that does not know the witness's size learns it from its 409.
    let mut tree = tessera_core::merkle::Tree::new();
    sound.entries.iter().for_each(|(_, leaf)| tree.push(*leaf));
    let remotes = [(witness.url.clone(), witness.verifier_key())];
    let fresh = Witnesses::new(None, &remotes, Default::default()).expect("witnesses");
    let outcome = fresh.publish(&newest, &tree).await;
    assert!(matches!(outcome[..], [Cosigned::At(..)]), "{outcome:?}");
    assert_eq!(witness.answers()[before..], [200, 200, 409, 200]);

    // An insider rewrites an entry, deletes the checkpoints and the portal's witness file:
    // the portal signs the forgery, but the witness refuses it and the portal says so.
    let rows = store.ledger_after(0, 10).await.expect("entries");
    let mut forged = rows[0].entry.clone();
    forged.target = "someone-else".into();
    sqlx::query("UPDATE ledger SET target = $1, hash = $2 WHERE seq = 1")
        .bind(&forged.target)
        .bind(hex::encode(forged.leaf_hash()))
        .execute(store.pool())
        .await
        .expect("edit");
    sqlx::query("DELETE FROM ledger_checkpoints").execute(store.pool()).await.expect("edit");
    std::fs::remove_file(app.portal.ledger_witness()).expect("remove");
    assert_eq!(app.admin(&format!("/v1/admin/licenses/{id}/reinstate")).await.status, 200);
    let (text, forged_export) = export(&app).await;
    assert_eq!(witness.answers().last(), Some(&422), "{:?}", witness.answers());
    assert_eq!(app.portal.metrics.ledger_witness_failures.get(), failed + 1);
    assert_eq!(witness.latest(&origin), Some((second, newest.checkpoint.root)), "unmoved");
    // Said in /readyz, which stays ready: pings are still served.
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_eq!(ready.body["ledger_witnesses"][0]["cosigning"], false, "{}", ready.body);
    assert!(ready.body["ledger_witnesses"][0]["failure"].is_string(), "{}", ready.body);
    // The forged export is sound on its own; against the checkpoint directory it is not.
    tessera_core::ledger::verify(&forged_export, &app.trust, None).expect("sound alone");
    std::fs::write(&file, text).expect("write");
    let caught = tessera_cli::audit::verify_export(&file, &app.trust, None, Some(&checkpoints))
        .expect_err("the forgery is caught");
    assert!(
        matches!(
            caught,
            tessera_cli::audit::AuditError::Unsound {
                source: LedgerError::WitnessForked { .. },
                ..
            }
        ),
        "{caught}"
    );
}

/// An export written back as JSON lines.
fn sound_text(export: &Export) -> String {
    let mut text = String::new();
    for delegation in &export.delegations {
        text += &serde_json::json!({ "kind": "delegation", "text": delegation }).to_string();
        text.push('\n');
    }
    for (entry, hash) in &export.entries {
        let mut line = serde_json::to_value(entry).expect("entry");
        line["kind"] = "entry".into();
        line["hash"] = hex::encode(hash).into();
        text += &line.to_string();
        text.push('\n');
    }
    for signed in &export.checkpoints {
        text += &signed.to_line();
        text.push('\n');
    }
    if let Some(size) = export.end {
        text += &serde_json::json!({ "kind": "end", "size": size }).to_string();
        text.push('\n');
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_checkpoints_reach_the_directory_and_a_tlog_witness_that_refuses_a_forgery_sqlite() {
    witnessed(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_checkpoints_reach_the_directory_and_a_tlog_witness_that_refuses_a_forgery_postgres()
{
    witnessed(Db::Postgres).await;
}

on_both_stores!(a_ping_receipt_names_the_ledgers_latest_signed_checkpoint, |app| {
    started(&app).await;
    let license = app.registered_license().await;
    let mut hub = TestHub::new("host-a", &app);
    hub.activate(&app, &license).await;
    // The registration is not signed yet: the receipt names the checkpoint signed at start.
    let (answer, _) = hub.ping(&app, &license).await;
    let at_start = app.verify_receipt(&answer).ledger_head.expect("a head").read().expect("reads");
    let registered = app.portal.store.ledger_size().await.expect("size") as u64;
    assert!(at_start.checkpoint.size < registered, "{at_start:?}");

    // Signed now (the export signs first): the next receipt names that checkpoint, signed by
    // the key that signs receipts.
    let (_, sound) = export(&app).await;
    let newest = sound.checkpoints.iter().max_by_key(|s| s.checkpoint.size).expect("one");
    assert_eq!(newest.checkpoint.size, registered);
    app.clock.advance(std::time::Duration::from_secs(3600));
    let (answer, _) = hub.ping(&app, &license).await;
    let head = app.verify_receipt(&answer).ledger_head.expect("a head");
    assert_eq!((head.signed_at, &head.note), (newest.signed_at, &newest.note));
    let named = head.read().expect("reads");
    assert_eq!(
        (named.checkpoint.size, named.checkpoint.root),
        (registered, newest.checkpoint.root)
    );
    assert!(named.signed_by(app.portal.receipt_key.public_key()));
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_the_command_line_signed_reaches_receipts_when_signing_runs_next() {
    let app = spawn_app_with(Db::Sqlite, |layer| layer).await.expect("app");
    started(&app).await;
    let license = app.registered_license().await;
    let mut hub = crate::helpers::TestHub::new("host-a", &app);
    hub.activate(&app, &license).await;
    let (code, _, err) = cli(&app, &["org", "create", "--name", "Acme"]);
    assert_eq!(code, 0, "{err}");
    let size = app.portal.store.ledger_size().await.expect("size") as u64;
    // Nothing is left to sign, but the head is read back from the witness file.
    assert!(!app.portal.sign_ledger_head().await.expect("nothing new to sign"));
    app.clock.advance(std::time::Duration::from_secs(3600));
    let (answer, _) = hub.ping(&app, &license).await;
    let head = app.verify_receipt(&answer).ledger_head.expect("a head").read().expect("reads");
    assert_eq!(head.checkpoint.size, size);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn signers_at_once_leave_the_witness_file_at_the_largest_checkpoint() {
    // The portal's minute, an export and commands at its machine may sign at the same moment:
    // they take turns, and the witness file never goes back to a smaller checkpoint.
    let app = std::sync::Arc::new(spawn_app_with(Db::Sqlite, |layer| layer).await.expect("app"));
    started(&app).await;
    let mut tasks = Vec::new();
    for n in 0..16 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let actor = tessera_portal::domain::audit::Actor::CommandLine;
            let target = format!("u{n}");
            let store = &app.portal.store;
            tessera_portal::domain::audit::record(
                store,
                &actor,
                "user.unlocked",
                &target,
                None,
                app.now(),
            )
            .await
            .expect("record");
            app.portal.sign_ledger_head().await.expect("sign");
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    app.portal.sign_ledger_head().await.expect("sign");
    assert_eq!(app.portal.ledger_refused(), None);
    let size = app.portal.store.ledger_size().await.expect("size") as u64;
    let witness = std::fs::read_to_string(app.portal.ledger_witness()).expect("witness");
    let witnessed = Export::from_lines(witness.lines()).expect("witness line");
    assert_eq!(
        witnessed.checkpoints[0].checkpoint.size, size,
        "the witness file holds the largest"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_portal_keeps_its_own_origin_and_never_signs_under_another() {
    // A vendor with two portals names each ledger, so one witness can keep both logs.
    let named = |layer: Layer| Layer { ledger_name: Some("staging".into()), ..layer };
    let app = spawn_app_with(Db::Sqlite, named).await.expect("app");
    started(&app).await;
    let id = app.registered_license().await.id.to_string();
    assert_eq!(app.admin(&format!("/v1/admin/licenses/{id}/suspend")).await.status, 200);
    assert!(app.portal.sign_ledger_head().await.expect("signs"));
    let (_, sound) = export(&app).await;
    let newest = sound.checkpoints.iter().max_by_key(|s| s.checkpoint.size).expect("one");
    assert!(newest.checkpoint.origin.ends_with("/staging"), "{}", newest.checkpoint.origin);
    assert!(newest.checkpoint.origin.starts_with("tessera.ledger/"));
    tessera_core::ledger::verify(&sound, &app.trust, None).expect("verifies");
    // The name changed under a ledger with checkpoints: nothing is signed under the new
    // origin (an export mixing the two would not verify), and the refusal says why.
    let config = app.dir.path().join("renamed.toml");
    std::fs::write(&config, "ledger_name = \"production\"\n").expect("config");
    let (code, _, err) =
        cli(&app, &["org", "create", "--name", "Acme", "--config", config.to_str().expect("path")]);
    assert_eq!(code, 0, "the change itself is made: {err}");
    assert!(err.contains("NOT signed") && err.contains("origin would change"), "{err}");
    // A name that is not one: a configuration error naming the setting.
    std::fs::write(&config, "ledger_name = \"Prod Portal\"\n").expect("config");
    let (code, _, err) = cli(
        &app,
        &["org", "create", "--name", "Globex", "--config", config.to_str().expect("path")],
    );
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("ledger_name"), "{err}");
}
