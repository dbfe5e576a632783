//! The audit log as people read it: entries in words with names, links and organization
//! names; what an org-admin may read; filters by actor, action and dates; the CSV export
//! (formula-safe).

use super::people_pages::{named, signed_in};
use super::*;

on_both_stores!(the_audit_log_reads_in_words_and_each_role_reads_its_own, |app| {
    let (acme_license, text) = app.issue(|t| t.org = "Acme Corp".parse().expect("org"));
    let acme = accounts::create_organization(&app.portal.store, "Acme Corp", app.now())
        .await
        .expect("org");
    let globex =
        accounts::create_organization(&app.portal.store, "Globex", app.now()).await.expect("org");
    assert_eq!(app.register(&text).await.status, 201);
    let dana = named(&app, "dana@vendor.example", "Dana Smith", Role::SuperAdmin, None).await;
    let kim = named(&app, "kim@acme.example", "Kim Lee", Role::OrgAdmin, Some(&acme.id)).await;
    named(&app, "zed@globex.example", "Zed Park", Role::OrgAdmin, Some(&globex.id)).await;
    let id = acme_license.id.to_string();
    let mut dana_b = signed_in(&app, "dana@vendor.example").await;
    let csrf = csrf_of(&mut dana_b).await;
    let suspended =
        dana_b.post(&format!("/ui/licenses/{id}/suspend"), &[("csrf", &csrf)], None).await;
    assert_eq!(suspended.status, 303);
    let mut kim_b = signed_in(&app, "kim@acme.example").await;
    let kim_csrf = csrf_of(&mut kim_b).await;
    let key = kim_b
        .post("/ui/api-keys", &[("label", "ci"), ("read", "on"), ("csrf", &kim_csrf)], None)
        .await;
    assert_eq!(key.status, 200);
    let mut zed_b = signed_in(&app, "zed@globex.example").await;
    let zed_csrf = csrf_of(&mut zed_b).await;
    let key = zed_b
        .post("/ui/api-keys", &[("label", "z"), ("read", "on"), ("csrf", &zed_csrf)], None)
        .await;
    assert_eq!(key.status, 200);

    // The vendor's staff: in words, actors and objects as links, organizations by name.
    let log = dana_b.get("/ui/audit").await;
    assert_eq!(log.status, 200);
    let sentence = format!(
        r#"<a href="/ui/profile">Dana Smith</a> suspended license <a href="/ui/licenses/{id}">{}…</a> of <a href="/ui/licenses?org=Acme%20Corp">Acme Corp</a>."#,
        &id[..8]
    );
    assert!(log.body.contains(&sentence), "{sentence} not in:\n{}", log.body);
    let made_by_kim = format!(r#"<a href="/ui/users/{}">Kim Lee</a> made API key"#, kim.id);
    assert!(log.body.contains(&made_by_kim), "{}", log.body);
    assert!(log.body.contains("Zed Park") && log.body.contains("GET /v1/admin/audit"));
    assert!(log.body.contains(r#"href="/ui/audit.csv?"#));

    // An org-admin: their organization's entries only, no people they cannot open as links,
    // and no word of an API they cannot use.
    let theirs = kim_b.get("/ui/audit").await;
    assert_eq!(theirs.status, 200);
    assert!(theirs.body.contains(&format!("{}…", &id[..8])), "their license's suspension");
    assert!(theirs.body.contains("Dana Smith suspended license"), "{}", theirs.body);
    assert!(!theirs.body.contains(&format!("/ui/users/{}", dana.id)));
    assert!(!theirs.body.contains("Zed Park") && !theirs.body.contains("Globex"));
    assert!(!theirs.body.contains("/v1/admin/audit"));
    // Asking for another organization in the URL changes nothing.
    let sneaky = kim_b.get(&format!("/ui/audit?org={}", globex.id)).await;
    assert!(!sneaky.body.contains("Zed Park"));
    let other = zed_b.get("/ui/audit").await;
    assert!(!other.body.contains(&id[..8]) && !other.body.contains("Kim Lee"));

    // Filters in the URL: by action, by actor, by dates.
    let only = dana_b.get("/ui/audit?action=license.suspended").await;
    assert!(only.body.contains("suspended license") && !only.body.contains("made API key"));
    let by_kim = dana_b.get(&format!("/ui/audit?actor={}", kim.id)).await;
    assert!(by_kim.body.contains("made API key") && !by_kim.body.contains("suspended license"));
    let today = &app.now().to_rfc3339()[..10];
    let within = dana_b.get(&format!("/ui/audit?from={today}&to={today}")).await;
    assert!(within.body.contains("suspended license"));
    let before = dana_b.get("/ui/audit?to=2001-01-01").await;
    assert!(
        before.body.contains("No entry matches.") && !before.body.contains("suspended license")
    );
    for address in ["/ui/audit?before=x", "/ui/audit.csv?before=x"] {
        let broken = dana_b.get(address).await;
        assert_eq!(broken.status, 400, "{address}");
        assert!(broken.body.contains("not one the portal makes"), "{}", broken.body);
    }
    let bad = dana_b.get("/ui/audit?from=yesterday").await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("The first date is not a date: write it as 2026-12-31."));
    let reversed = dana_b.get("/ui/audit?from=2026-12-31&to=2026-01-01").await;
    assert_eq!(reversed.status, 400);
    assert!(reversed.body.contains("The first date is after the last one."));
});

on_both_stores!(the_audit_csv_holds_the_filtered_log_and_runs_no_formula, |app| {
    let acme = accounts::create_organization(&app.portal.store, "Acme Corp", app.now())
        .await
        .expect("org");
    let hostile = "=HYPERLINK(\"http://evil.example\",\"x\")";
    accounts::create_organization(&app.portal.store, hostile, app.now()).await.expect("org");
    named(&app, "dana@vendor.example", "@Dana Smith", Role::SuperAdmin, None).await;
    named(&app, "kim@acme.example", "Kim Lee", Role::OrgAdmin, Some(&acme.id)).await;
    let mut dana = signed_in(&app, "dana@vendor.example").await;
    let csrf = csrf_of(&mut dana).await;
    let form = [("email", "sam@vendor.example"), ("role", "super-admin"), ("csrf", &csrf)];
    assert_eq!(dana.post("/ui/users/invite", &form, None).await.status, 200);
    let response = dana.get("/ui/audit.csv").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.headers["content-type"], "text/csv; charset=utf-8");
    let csv = response.body;
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("number,time (UTC),who,who (id),what,action,target,organization")
    );
    // Every cell is quoted; a cell starting as a formula is text.
    assert!(csv.contains("\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\""), "{csv}");
    assert!(csv.contains("\"'@Dana Smith\""), "{csv}");
    assert!(
        !csv.contains(",\"=")
            && !csv.contains(",\"@")
            && !csv.contains(",=")
            && !csv.contains(",@")
    );
    assert!(csv.contains("\"user.invited\""));

    // Filtered as the page is, and an org-admin's holds their organization's entries only.
    let invited = dana.get("/ui/audit.csv?action=user.invited").await.body;
    assert_eq!(invited.lines().count(), 2, "{invited}");
    let mut kim = signed_in(&app, "kim@acme.example").await;
    let theirs = kim.get("/ui/audit.csv").await.body;
    assert!(!theirs.contains("HYPERLINK") && !theirs.contains("user.invited"), "{theirs}");
    assert!(theirs.contains("Acme Corp"));
    let bad = kim.get("/ui/audit.csv?to=soon").await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("The last date is not a date"));
});

on_both_stores!(older_entries_keep_the_filters_of_the_page, |app| {
    named(&app, "dana@vendor.example", "Dana Smith", Role::SuperAdmin, None).await;
    for n in 0..55 {
        accounts::create_organization(&app.portal.store, &format!("Org {n:02}"), app.now())
            .await
            .expect("org");
    }
    let mut dana = signed_in(&app, "dana@vendor.example").await;
    let first = dana.get("/ui/audit?action=organization.created").await;
    assert_eq!(first.body.matches("<code>organization.created</code>").count(), 50);
    let at = first.body.find(r#"rel="next""#).expect("a link to older entries");
    let start = first.body[..at].rfind("href=\"").expect("its address") + "href=\"".len();
    let next = first.body[start..at].trim_end_matches(['"', ' ']).replace("&amp;", "&");
    assert!(next.contains("action=organization.created") && next.contains("before="), "{next}");
    let older = dana.get(&next).await;
    assert_eq!(older.body.matches("<code>organization.created</code>").count(), 5, "{next}");
    assert!(older.body.contains("Org 00") && !older.body.contains("Org 54</a>"));
    assert!(!older.body.contains(r#"rel="next""#));
});
