//! Changing many licenses at once from the list: a confirmation page naming how many and
//! which, then the change through the domain's rules, license by license.

use super::*;
use tessera_core::license::Claims;

async fn licenses(app: &TestApp) -> Vec<Claims> {
    let mut all = Vec::new();
    for org in ["Acme Corp", "Acme Corp", "Globex"] {
        let (claims, text) = app.issue(|t| t.org = org.parse().expect("org"));
        assert_eq!(app.register(&text).await.status, 201);
        all.push(claims);
    }
    all
}

async fn state(app: &TestApp, id: &str) -> &'static str {
    app.portal.store.license(id).await.expect("db").expect("row").state.as_str()
}

on_both_stores!(staff_revoke_chosen_licenses_after_a_confirmation_naming_them, |app| {
    let claims = licenses(&app).await;
    let ids: Vec<String> = claims.iter().map(|c| c.id.to_string()).collect();
    person(&app, "dana@vendor.example", Role::SuperAdmin, None).await;
    let mut dana = Browser::new(&app);
    assert_eq!(dana.sign_in("dana@vendor.example", PASSWORD).await.status, 303);
    let list = dana.get("/ui/licenses").await;
    assert!(list.body.contains(&format!(r#"name="ids" value="{}""#, ids[0])), "{}", list.body);
    let csrf = list.csrf();
    let chosen =
        [("csrf", csrf.as_str()), ("action", "revoke"), ("ids", &ids[0]), ("ids", &ids[1])];
    // Without the form's token: refused.
    let forged = dana.post("/ui/licenses/bulk/revoke", &chosen[1..], None).await;
    assert_eq!(forged.status, 403);
    let confirm = dana.post("/ui/licenses/bulk", &chosen, None).await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    assert!(confirm.body.contains("Revoke 2 licenses?"), "{}", confirm.body);
    assert!(confirm.body.contains(&ids[0]) && confirm.body.contains(&ids[1]));
    assert!(!confirm.body.contains(&ids[2]));
    assert_eq!(state(&app, &ids[0]).await, "active", "the confirmation changes nothing");
    let done = dana.post("/ui/licenses/bulk/revoke", &chosen, None).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Revoke: 2 of 2 licenses"), "{}", done.body);
    for id in &ids[..2] {
        assert_eq!(state(&app, id).await, "revoked");
    }
    assert_eq!(state(&app, &ids[2]).await, "active");
    // Each license by the domain's rules: a revoked one stays revoked, and says so.
    let again = [("csrf", csrf.as_str()), ("ids", &ids[0]), ("ids", &ids[2])];
    let suspended = dana.post("/ui/licenses/bulk/suspend", &again[..2], None).await;
    assert!(suspended.body.contains("Suspend: 0 of 1 license"), "{}", suspended.body);
    assert!(suspended.body.contains("a revoked license changes no more"));
    let suspended = dana.post("/ui/licenses/bulk/suspend", &[again[0], again[2]], None).await;
    assert!(suspended.body.contains("Suspend: 1 of 1 license"), "{}", suspended.body);
    assert_eq!(state(&app, &ids[2]).await, "suspended");
    let reinstated = dana.post("/ui/licenses/bulk/reinstate", &again, None).await;
    assert!(reinstated.body.contains("Reinstate: 1 of 2 licenses"), "{}", reinstated.body);
    assert_eq!(state(&app, &ids[0]).await, "revoked");
    assert_eq!(state(&app, &ids[2]).await, "active");
    // Nothing chosen, an unknown change, too many: one sentence each.
    for (form, says) in [
        (vec![("csrf", csrf.as_str()), ("action", "revoke")], "Choose at least one license"),
        (vec![("csrf", csrf.as_str()), ("action", "explode"), ("ids", &ids[2])], "Choose a change"),
    ] {
        let refused = dana.post("/ui/licenses/bulk", &form, None).await;
        assert_eq!(refused.status, 400);
        assert!(refused.body.contains(says), "{}", refused.body);
    }
    let many: Vec<String> = (0..101).map(|n| format!("0190aaaa-0000-7000-8000-{n:012}")).collect();
    let mut form = vec![("csrf", csrf.as_str()), ("action", "suspend")];
    form.extend(many.iter().map(|id| ("ids", id.as_str())));
    let refused = dana.post("/ui/licenses/bulk", &form, None).await;
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("At most 100 licenses"), "{}", refused.body);
});

on_both_stores!(an_org_admin_changes_nothing_in_bulk, |app| {
    let acme = accounts::create_organization(&app.portal.store, "Acme Corp", app.now())
        .await
        .expect("org");
    let claims = licenses(&app).await;
    let ids: Vec<String> = claims.iter().map(|c| c.id.to_string()).collect();
    person(&app, "ops@acme.example", Role::OrgAdmin, Some(&acme.id)).await;
    let mut ops = Browser::new(&app);
    assert_eq!(ops.sign_in("ops@acme.example", PASSWORD).await.status, 303);
    let list = ops.get("/ui/licenses").await;
    assert!(!list.body.contains(r#"name="ids""#), "no bulk change offered to an org-admin");
    let csrf = list.csrf();
    for action in ["suspend", "revoke"] {
        let chosen =
            [("csrf", csrf.as_str()), ("action", action), ("ids", &ids[0]), ("ids", &ids[2])];
        let confirm = ops.post("/ui/licenses/bulk", &chosen, None).await;
        assert_eq!(confirm.status, 400);
        assert!(confirm.body.contains("None of the chosen licenses can be"), "{}", confirm.body);
        assert!(!confirm.body.contains(&ids[2]), "another organization's license named");
        let done = ops.post(&format!("/ui/licenses/bulk/{action}"), &chosen, None).await;
        assert!(done.body.contains(": 0 of 2 licenses"), "{}", done.body);
    }
    for id in &ids {
        assert_eq!(state(&app, id).await, "active");
    }
});
