//! The web pages over real HTTP, by what they are about: signing in (`signin`), licenses
//! (`licenses`), people (`people`), passwords (`passwords`); here the helpers they share and
//! the audit ledger's tests. (Browser tests in a real Chromium are a separate suite.)

use std::time::Duration;

use tessera_portal::domain::accounts::{self, NewUser, Password, Role};

use crate::helpers::TestApp;
use crate::mail::{Relay, aiosmtpd};
use crate::on_both_stores;
use crate::people::{Browser, PASSWORD, Page, key_of, person};

mod audit_log;
mod bulk;
mod data_rights;
mod finding;
mod license_page;
mod licenses;
mod links;
#[path = "passwords.rs"]
mod passwords;
mod people;
mod people_pages;
mod signin;

/// The invitation link on a users page, after "Invite".
fn invitation_link(page: &Page) -> String {
    let at = page.body.find("/ui/invite/").expect("an invitation link on the page");
    let rest = &page.body[at..];
    rest[..rest.find('<').expect("end of the link")].to_owned()
}

/// A form token of the signed-in browser (from the profile page).
async fn csrf_of(browser: &mut Browser<'_>) -> String {
    browser.get("/ui/profile").await.csrf()
}

/// The text of the first `<code>` element after `after` on a page.
fn code_after(page: &Page, after: &str) -> String {
    let at = page.body.find(after).expect("marker");
    let rest = &page.body[at..];
    let start = rest.find("<code>").expect("code") + "<code>".len();
    rest[start..start + rest[start..].find('<').expect("end")].to_owned()
}

fn totp_code(secret: &str, at: tessera_core::UnixTime) -> String {
    use tessera_portal::domain::totp;
    format!("{:06}", totp::code_at(secret, totp::step_of(at)).expect("code"))
}

/// Every byte of the portal's SQLite files (database and write-ahead log).
fn database_bytes(app: &TestApp) -> Vec<u8> {
    let mut all = Vec::new();
    for name in ["portal.db", "portal.db-wal"] {
        if let Ok(bytes) = std::fs::read(app.dir.path().join("data").join(name)) {
            all.extend(bytes);
        }
    }
    all
}

fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The audit export over HTTP, read into what `tessera audit verify` checks.
async fn audit_export(app: &TestApp) -> tessera_core::ledger::Export {
    let response = app
        .http
        .get(format!("{}/v1/admin/audit", app.address))
        .bearer_auth(&app.admin_key)
        .send()
        .await
        .expect("audit");
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("body");
    tessera_core::ledger::Export::from_lines(text.lines()).expect("an export")
}

on_both_stores!(
    every_change_lands_in_a_signed_ledger_and_every_edit_of_the_database_is_found,
    |app| {
        use tessera_core::ledger::{LedgerError, verify};
        let acme = accounts::create_organization(&app.portal.store, "Acme Corp", app.now())
            .await
            .expect("org");
        let claims = app.registered_license().await;
        let id = claims.id.to_string();
        person(&app, "dana@vendor.example", Role::SuperAdmin, None).await;
        let mut dana = Browser::new(&app);
        assert_eq!(dana.sign_in("dana@vendor.example", PASSWORD).await.status, 303);
        let csrf = csrf_of(&mut dana).await;
        assert_eq!(
            dana.post(&format!("/ui/licenses/{id}/suspend"), &[("csrf", &csrf)], None).await.status,
            303
        );
        assert_eq!(app.admin(&format!("/v1/admin/licenses/{id}/reinstate")).await.status, 200);
        dana.invite_org_admin("kim@acme.example", &acme.id, &csrf).await;
        let dana_id = app
            .portal
            .store
            .user_by_email("dana@vendor.example")
            .await
            .expect("db")
            .expect("user")
            .id;

        let export = audit_export(&app).await;
        let trust = app.trust.clone();
        let verified = verify(&export, &trust, None).expect("a sound ledger");
        assert_eq!(verified.size, verified.entries, "the export signs its checkpoint first");
        let actions: Vec<(&str, &str)> =
            export.entries.iter().map(|(e, _)| (e.action.as_str(), e.actor.as_str())).collect();
        let key_actor = format!("key:{}", &app.admin_key[4..20]);
        for expected in [
            ("organization.created", "cli"),
            ("license.registered", key_actor.as_str()),
            ("user.created", "cli"),
            ("license.suspended", dana_id.as_str()),
            ("license.reinstated", key_actor.as_str()),
            ("user.invited", dana_id.as_str()),
        ] {
            assert!(actions.contains(&expected), "{expected:?} not in {actions:?}");
        }
        // No entry names a person: no email, no name.
        for (entry, _) in &export.entries {
            let text = format!("{entry:?}");
            assert!(!text.contains('@') && !text.contains("Dana"), "{text}");
        }

        // Whoever edits the database directly is found, whatever the edit.
        let suspended = export
            .entries
            .iter()
            .find(|(e, _)| e.action == "license.suspended")
            .map(|(e, _)| e.seq)
            .expect("the suspension's entry");
        let pool = app.portal.store.pool();
        let edit = |sql: String| async move {
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await.expect("edit");
        };
        edit(format!("UPDATE ledger SET action = 'license.reinstated' WHERE seq = {suspended}"))
            .await;
        assert_eq!(
            verify(&audit_export(&app).await, &trust, None),
            Err(LedgerError::Changed { seq: suspended })
        );
        edit(format!("UPDATE ledger SET action = 'license.suspended' WHERE seq = {suspended}"))
            .await;
        verify(&audit_export(&app).await, &trust, None).expect("sound again once undone");
        let kept = audit_export(&app).await;
        // An entry rewritten with its hash recomputed: the signed checkpoint disagrees.
        let rows = app.portal.store.ledger_after(0, 1000).await.expect("entries");
        let mut second = rows[1].entry.clone();
        second.target = "someone-else".into();
        sqlx::query("UPDATE ledger SET target = 'someone-else', hash = $1 WHERE seq = 2")
            .bind(hex::encode(second.leaf_hash()))
            .execute(pool)
            .await
            .expect("rewrite");
        let found = verify(&audit_export(&app).await, &trust, None);
        assert!(matches!(found, Err(LedgerError::Rewritten { .. })), "{found:?}");
        // ...and the checkpoints deleted: the portal does not sign the forgery (its witness
        // file says what it signed last), says so in /readyz and the metrics, and keeps
        // serving hubs.
        edit("DELETE FROM ledger_checkpoints".to_owned()).await;
        let forged = audit_export(&app).await;
        assert_eq!(verify(&forged, &trust, None), Err(LedgerError::NoCheckpoint));
        let ready = app.get("/readyz", None).await;
        assert_eq!(ready.status, 200, "hubs are still served: {}", ready.body);
        assert_eq!(ready.body["ledger"]["signing"], false, "{}", ready.body);
        let why = ready.body["ledger"]["refused"].as_str().unwrap_or_default();
        assert!(why.contains("does not extend the checkpoint"), "{}", ready.body);
        let metrics = app
            .http
            .get(format!("{}/metrics", app.address))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        assert!(metrics.contains("tessera_portal_ledger_signing_refused 1"), "{metrics}");
        // Whoever kept an earlier export (or the witness file) sees the rewrite even if a
        // forger signed it with the portal's key.
        let witness = std::fs::read_to_string(app.portal.ledger_witness()).expect("witness");
        let witnessed = tessera_core::ledger::Export::from_lines(witness.lines()).expect("lines");
        assert_eq!(witnessed.checkpoints.len(), 1);
        assert!(verify(&kept, &trust, Some(&witnessed)).is_ok());
        // Undone, the portal signs again.
        sqlx::query("UPDATE ledger SET target = $1, hash = $2 WHERE seq = 2")
            .bind(&rows[1].entry.target)
            .bind(&rows[1].hash)
            .execute(pool)
            .await
            .expect("undo");
        let again = audit_export(&app).await;
        let verified = verify(&again, &trust, Some(&kept)).expect("sound and extending");
        assert_eq!(verified.extends, Some(kept.checkpoints.last().expect("one").checkpoint.size));
        assert_eq!(app.get("/readyz", None).await.body["ledger"]["signing"], true);
        // The pages: staff read the ledger, filtered by license.
        let page = dana.get(&format!("/ui/audit?license={id}")).await;
        assert_eq!(page.status, 200);
        assert!(
            page.body.contains("<code>license.reinstated</code>")
                && !page.body.contains("<code>user.invited</code>"),
            "{}",
            page.body
        );
        // The newest entries deleted: the portal refuses, and the earlier export shows it.
        let newest = app.portal.store.ledger_size().await.expect("size");
        edit(format!("DELETE FROM ledger WHERE seq >= {}", newest - 1)).await;
        edit("DELETE FROM ledger_checkpoints".to_owned()).await;
        let shrunk = audit_export(&app).await;
        assert_eq!(verify(&shrunk, &trust, Some(&kept)), Err(LedgerError::NoCheckpoint));
        assert_eq!(app.get("/readyz", None).await.body["ledger"]["signing"], false);
    }
);

on_both_stores!(an_org_admin_reads_only_the_ledger_entries_about_their_organization, |app| {
    let acme = accounts::create_organization(&app.portal.store, "Acme Corp", app.now())
        .await
        .expect("org");
    accounts::create_organization(&app.portal.store, "Globex", app.now()).await.expect("org");
    person(&app, "ops@acme.example", Role::OrgAdmin, Some(&acme.id)).await;
    let mut kim = Browser::new(&app);
    assert_eq!(kim.sign_in("ops@acme.example", PASSWORD).await.status, 303);
    let page = kim.get("/ui/audit").await;
    assert_eq!(page.status, 200);
    let entries = page.body.matches("<code>organization.created</code>").count();
    assert_eq!(entries, 1, "only Acme's creation, not Globex's: {}", page.body);
    let forced = kim.get("/ui/audit?org=").await;
    assert_eq!(forced.body.matches("<code>organization.created</code>").count(), 1);
});
