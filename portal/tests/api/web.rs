//! The web pages over real HTTP: sign-in, sessions, form tokens, headers, and what each role
//! sees. (Browser tests in a real Chromium are a separate suite.)

use std::time::Duration;

use tessera_portal::domain::accounts::{self, NewUser, Password, Role};

use crate::helpers::TestApp;
use crate::mail::{Relay, aiosmtpd};
use crate::on_both_stores;
use crate::people::{Browser, PASSWORD, Page, key_of, person};

#[path = "passwords.rs"]
mod passwords;

on_both_stores!(signing_in_gives_a_strict_session_and_every_page_its_security_headers, |app| {
    person(&app, "dana@vendor.example", Role::SuperAdmin, None).await;
    let mut browser = Browser::new(&app);
    let away = browser.get("/ui").await;
    assert_eq!((away.status, away.location.as_deref()), (303, Some("/ui/signin")));

    let form = browser.get("/ui/signin").await;
    assert_eq!(form.status, 200);
    for (name, value) in [
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
    ] {
        assert_eq!(form.headers.get(name).and_then(|v| v.to_str().ok()), Some(value), "{name}");
    }
    let csp = form.headers["content-security-policy"].to_str().expect("csp");
    assert!(csp.contains("default-src 'none'") && !csp.contains("unsafe"), "{csp}");
    assert!(form.headers.get("strict-transport-security").is_none(), "no HSTS on plain HTTP");
    // The API answers carry them too.
    let api = app.http.get(format!("{}/healthz", app.address)).send().await.expect("healthz");
    assert_eq!(api.headers()["x-content-type-options"], "nosniff");

    let wrong = browser.sign_in("dana@vendor.example", "not the password at all").await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("Wrong email or password."), "{}", wrong.body);
    let unknown = browser.sign_in("nobody@vendor.example", PASSWORD).await;
    assert_eq!(unknown.status, 401);
    assert!(unknown.body.contains("Wrong email or password."));

    let welcome = browser.sign_in("Dana@Vendor.example", PASSWORD).await;
    assert_eq!((welcome.status, welcome.location.as_deref()), (303, Some("/ui")));
    let session = welcome
        .set_cookies
        .iter()
        .find(|c| c.starts_with("tessera_session="))
        .expect("a session cookie");
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Strict"), "{session}");
    assert!(!session.contains("Secure"), "plain HTTP without an https public_url: {session}");
    // Only the token's hash is stored.
    let token = browser.cookies["tessera_session"].clone();
    assert!(app.portal.store.session(&token).await.expect("db").is_none());

    let dashboard = browser.get("/ui").await;
    assert_eq!(dashboard.status, 200, "{}", dashboard.body);
    assert!(dashboard.body.contains("<h1>Dashboard</h1>"));
    assert_eq!(dashboard.headers["cache-control"], "no-store");

    let csrf = dashboard.csrf();
    let out = browser.post("/ui/signout", &[("csrf", &csrf)], None).await;
    assert_eq!((out.status, out.location.as_deref()), (303, Some("/ui/signin")));
    // The old cookie is worth nothing now, even if kept.
    browser.cookies.insert("tessera_session".into(), token);
    assert_eq!(browser.get("/ui").await.status, 303);
});

on_both_stores!(
    cookies_are_secure_and_hsts_is_sent_when_people_reach_the_portal_over_https,
    tune = |layer| tessera_portal::config::Layer {
        public_url: Some("https://portal.vendor.example".into()),
        ..layer
    },
    |app| {
        person(&app, "dana@vendor.example", Role::SuperAdmin, None).await;
        let mut browser = Browser::new(&app);
        let welcome = browser.sign_in("dana@vendor.example", PASSWORD).await;
        assert_eq!(welcome.status, 303);
        assert!(
            welcome.set_cookies.iter().all(|c| c.contains("; Secure")),
            "{:?}",
            welcome.set_cookies
        );
        assert!(welcome.headers.get("strict-transport-security").is_some());
    }
);

on_both_stores!(forms_without_their_token_or_from_another_site_change_nothing, |app| {
    person(&app, "dana@vendor.example", Role::SuperAdmin, None).await;
    let claims = app.registered_license().await;
    let id = claims.id.to_string();
    let mut browser = Browser::new(&app);
    assert_eq!(browser.sign_in("dana@vendor.example", PASSWORD).await.status, 303);
    let confirm = browser.get(&format!("/ui/licenses/{id}/confirm/suspend")).await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    let csrf = confirm.csrf();
    let path = format!("/ui/licenses/{id}/suspend");

    let missing = browser.post(&path, &[], None).await;
    assert_eq!(missing.status, 403, "{}", missing.body);
    let wrong = browser.post(&path, &[("csrf", "forged")], None).await;
    assert_eq!(wrong.status, 403);
    let elsewhere = browser.post(&path, &[("csrf", &csrf)], Some("https://evil.example")).await;
    assert_eq!(elsewhere.status, 403);
    let row = app.portal.store.license(&id).await.expect("db").expect("row");
    assert_eq!(row.state.as_str(), "active", "nothing changed");

    // The sign-in form too: without its cookie's token it signs no one in.
    let mut stranger = Browser::new(&app);
    let forged = stranger
        .post(
            "/ui/signin",
            &[("email", "dana@vendor.example"), ("password", PASSWORD), ("csrf", "x")],
            None,
        )
        .await;
    assert_eq!(forged.status, 403);

    let done = browser.post(&path, &[("csrf", &csrf)], None).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let row = app.portal.store.license(&id).await.expect("db").expect("row");
    assert_eq!(row.state.as_str(), "suspended");
    let shown = browser.get(done.location.as_deref().expect("back to the license")).await;
    assert!(shown.body.contains("The license is suspended."), "{}", shown.body);
});

on_both_stores!(an_org_admin_sees_and_reaches_only_their_own_organization, |app| {
    let (acme, acme_text) = app.issue(|t| t.org = "Acme Corp".parse().expect("org"));
    let (globex, globex_text) = app.issue(|t| t.org = "Globex".parse().expect("org"));
    assert_eq!(app.register(&acme_text).await.status, 201);
    // The organization made after its license was registered gets it; the one made before
    // gets its license at registration.
    let acme_org = accounts::create_organization(&app.portal.store, "Acme Corp", app.now())
        .await
        .expect("org");
    accounts::create_organization(&app.portal.store, "Globex", app.now()).await.expect("org");
    assert_eq!(app.register(&globex_text).await.status, 201);
    let (acme_id, globex_id) = (acme.id.to_string(), globex.id.to_string());
    assert_eq!(
        app.portal.store.license_organization(&acme_id).await.expect("db"),
        Some(acme_org.id.clone())
    );
    assert!(app.portal.store.license_organization(&globex_id).await.expect("db").is_some());

    person(&app, "ops@acme.example", Role::OrgAdmin, Some(&acme_org.id)).await;
    let mut browser = Browser::new(&app);
    assert_eq!(browser.sign_in("ops@acme.example", PASSWORD).await.status, 303);
    let list = browser.get("/ui/licenses").await;
    assert!(list.body.contains(&acme_id), "{}", list.body);
    assert!(!list.body.contains(&globex_id), "another organization's license is listed");
    // Asking by the other organization's name changes nothing.
    let asked = browser.get("/ui/licenses?org=Globex").await;
    assert!(!asked.body.contains(&globex_id));
    let dashboard = browser.get("/ui").await;
    assert!(dashboard.body.contains("The licenses of Acme Corp."), "{}", dashboard.body);

    for path in [
        format!("/ui/licenses/{globex_id}"),
        format!("/ui/licenses/{globex_id}/confirm/suspend"),
        format!("/ui/licenses/{acme_id}/confirm/revoke"),
        "/ui/organizations".to_owned(),
    ] {
        assert_eq!(browser.get(&path).await.status, 404, "{path}");
    }
    let own = browser.get(&format!("/ui/licenses/{acme_id}")).await;
    assert_eq!(own.status, 200);
    let csrf = own.csrf();
    for (id, action) in [(&globex_id, "suspend"), (&acme_id, "revoke"), (&acme_id, "suspend")] {
        let tried =
            browser.post(&format!("/ui/licenses/{id}/{action}"), &[("csrf", &csrf)], None).await;
        assert_eq!(tried.status, 404, "{action} {id}");
    }
    for id in [&acme_id, &globex_id] {
        let row = app.portal.store.license(id).await.expect("db").expect("row");
        assert_eq!(row.state.as_str(), "active");
    }
});

on_both_stores!(failed_sign_ins_slow_the_next_but_never_hold_a_known_browser, |app| {
    person(&app, "dana@vendor.example", Role::SuperAdmin, None).await;
    // Dana's own browser signed in once: it holds her device cookie.
    let mut own = Browser::new(&app);
    assert_eq!(own.sign_in("dana@vendor.example", PASSWORD).await.status, 303);

    let mut stranger = Browser::new(&app);
    for _ in 0..5 {
        let tried = stranger.sign_in("dana@vendor.example", "guessing guessing").await;
        assert_eq!(tried.status, 401);
    }
    // Even the right password waits, and is answered as a wrong one is (no telling that
    // the address has an account).
    let held = stranger.sign_in("dana@vendor.example", PASSWORD).await;
    assert_eq!(held.status, 401, "even the right password waits");
    assert!(held.body.contains("Wrong email or password"), "{}", held.body);
    assert!(stranger.get("/ui").await.status == 303, "not signed in");

    // Her own browser is not held up by the stranger.
    let mut again = Browser::new(&app);
    again.cookies.insert("tessera_device".into(), own.cookies["tessera_device"].clone());
    assert_eq!(again.sign_in("dana@vendor.example", PASSWORD).await.status, 303);

    // Her good sign-in cleared the count. Four failures again: the next attempt waits 1 s
    // (the delays double up to 15 minutes, a unit test shows), then runs out on its own.
    for _ in 0..4 {
        stranger.sign_in("dana@vendor.example", "guessing guessing").await;
    }
    assert_eq!(stranger.sign_in("dana@vendor.example", PASSWORD).await.status, 401);
    app.clock.advance(Duration::from_secs(2));
    assert_eq!(stranger.sign_in("dana@vendor.example", PASSWORD).await.status, 303);
});

on_both_stores!(sessions_end_when_idle_too_long_and_when_the_password_changes, |app| {
    person(&app, "dana@vendor.example", Role::SuperAdmin, None).await;
    let mut browser = Browser::new(&app);
    assert_eq!(browser.sign_in("dana@vendor.example", PASSWORD).await.status, 303);
    app.clock.advance(Duration::from_secs(3600));
    assert_eq!(browser.get("/ui").await.status, 200, "an hour idle is within the default");
    app.clock.advance(Duration::from_secs(2 * 3600 + 1));
    assert_eq!(browser.get("/ui").await.status, 303, "two hours idle ends it");

    assert_eq!(browser.sign_in("dana@vendor.example", PASSWORD).await.status, 303);
    let user =
        app.portal.store.user_by_email("dana@vendor.example").await.expect("db").expect("user");
    let hash = accounts::hash_password(&Password::new("a brand new passphrase")).expect("hash");
    app.portal.store.set_password(&user.id, &hash, app.now().as_unix()).await.expect("set");
    assert_eq!(browser.get("/ui").await.status, 303, "a new password ends every session");
});

on_both_stores!(the_license_page_shows_terms_standing_and_a_monthly_chart, |app| {
    person(&app, "dana@vendor.example", Role::SuperAdmin, None).await;
    let claims = app.registered_license().await;
    let mut hub = crate::helpers::TestHub::new("web", &app);
    hub.activate(&app, &claims).await;
    for _ in 0..3 {
        app.clock.advance(Duration::from_secs(3600));
        hub.ping(&app, &claims).await;
    }
    let mut browser = Browser::new(&app);
    assert_eq!(browser.sign_in("dana@vendor.example", PASSWORD).await.status, 303);
    let page = browser.get(&format!("/ui/licenses/{}", claims.id)).await;
    assert_eq!(page.status, 200);
    for text in ["Acme Corp", "acme-hub", "status-valid", "<svg", "3 validations", "Suspend"] {
        assert!(page.body.contains(text), "{text} missing from {}", page.body);
    }
    let missing = browser.get("/ui/licenses/0190aaaa-0000-7000-8000-000000000000").await;
    assert_eq!(missing.status, 404);
});

/// The invitation link on a users page, after "Invite".
fn invitation_link(page: &Page) -> String {
    let at = page.body.find("/ui/invite/").expect("an invitation link on the page");
    let rest = &page.body[at..];
    rest[..rest.find('<').expect("end of the link")].to_owned()
}

on_both_stores!(an_invitation_works_once_within_seven_days_and_only_as_offered, |app| {
    person(&app, "dana@vendor.example", Role::SuperAdmin, None).await;
    let acme = accounts::create_organization(&app.portal.store, "Acme Corp", app.now())
        .await
        .expect("org");
    let globex =
        accounts::create_organization(&app.portal.store, "Globex", app.now()).await.expect("org");
    let mut staff = Browser::new(&app);
    assert_eq!(staff.sign_in("dana@vendor.example", PASSWORD).await.status, 303);
    let people = staff.get("/ui/users").await;
    let csrf = people.csrf();
    let made = staff
        .post(
            "/ui/users/invite",
            &[
                ("email", "Kim@Acme.example"),
                ("role", "org-admin"),
                ("org", &acme.id),
                ("csrf", &csrf),
            ],
            None,
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.body);
    let link = invitation_link(&made);
    // Shown once: the users page lists the invitation, never its link again.
    let again = staff.get("/ui/users").await;
    assert!(again.body.contains("kim@acme.example") && !again.body.contains("/ui/invite/"));
    // Only the token's hash is stored.
    let token = link.rsplit('/').next().expect("token").to_owned();
    assert!(app.portal.store.invitation(&token).await.expect("db").is_none());

    let mut kim = Browser::new(&app);
    let form = kim.get(&link).await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains("kim@acme.example"));
    let csrf = form.csrf();
    let weak = kim
        .post(
            &link,
            &[
                ("name", "Kim Lee"),
                ("password", "password1234"),
                ("again", "password1234"),
                ("csrf", &csrf),
            ],
            None,
        )
        .await;
    assert_eq!(weak.status, 400);
    assert!(weak.body.contains("too common"), "{}", weak.body);
    let csrf = weak.csrf();
    let joined = kim
        .post(
            &link,
            &[
                ("name", "Kim Lee"),
                ("password", "quiet harbour lamps"),
                ("again", "quiet harbour lamps"),
                ("csrf", &csrf),
            ],
            None,
        )
        .await;
    assert_eq!((joined.status, joined.location.as_deref()), (303, Some("/ui")), "{}", joined.body);
    let home = kim.get("/ui").await;
    assert!(home.body.contains("The licenses of Acme Corp."), "{}", home.body);
    let kim_row =
        app.portal.store.user_by_email("kim@acme.example").await.expect("db").expect("user");
    assert_eq!(
        (kim_row.role.as_str(), kim_row.org_id.as_deref()),
        ("org-admin", Some(acme.id.as_str()))
    );

    // Used: gone. A second link left 7 days: gone too.
    assert_eq!(Browser::new(&app).get(&link).await.status, 404);
    let csrf = csrf_of(&mut staff).await;
    let made = staff
        .post(
            "/ui/users/invite",
            &[
                ("email", "lee@acme.example"),
                ("role", "org-admin"),
                ("org", &acme.id),
                ("csrf", &csrf),
            ],
            None,
        )
        .await;
    let late = invitation_link(&made);
    app.clock.advance(Duration::from_secs(7 * 86_400 + 1));
    assert_eq!(Browser::new(&app).get(&late).await.status, 404);
    assert_eq!(Browser::new(&app).get("/ui/invite/not-a-token").await.status, 404);

    // An org-admin invites only org-admins of their own organization.
    assert_eq!(kim.sign_in("kim@acme.example", "quiet harbour lamps").await.status, 303);
    let csrf = csrf_of(&mut kim).await;
    for (role, org) in [("super-admin", ""), ("org-admin", globex.id.as_str())] {
        let refused = kim
            .post(
                "/ui/users/invite",
                &[("email", "x@acme.example"), ("role", role), ("org", org), ("csrf", &csrf)],
                None,
            )
            .await;
        assert_eq!(refused.status, 400, "{role} {org}: {}", refused.body);
        assert!(!refused.body.contains("/ui/invite/"));
    }
    let people = kim.get("/ui/users").await;
    assert!(!people.body.contains("dana@vendor.example"), "an org-admin sees the vendor's staff");
});

/// A form token of the signed-in browser (from the profile page).
async fn csrf_of(browser: &mut Browser<'_>) -> String {
    browser.get("/ui/profile").await.csrf()
}

on_both_stores!(a_password_change_signs_out_every_other_browser, |app| {
    person(&app, "dana@vendor.example", Role::SuperAdmin, None).await;
    let mut laptop = Browser::new(&app);
    let mut phone = Browser::new(&app);
    assert_eq!(laptop.sign_in("dana@vendor.example", PASSWORD).await.status, 303);
    assert_eq!(phone.sign_in("dana@vendor.example", PASSWORD).await.status, 303);
    let csrf = csrf_of(&mut laptop).await;
    let wrong = laptop
        .post(
            "/ui/profile/password",
            &[
                ("current", "not it at all"),
                ("new", "fresh kettle morning"),
                ("again", "fresh kettle morning"),
                ("csrf", &csrf),
            ],
            None,
        )
        .await;
    assert_eq!(wrong.status, 400);
    assert!(wrong.body.contains("The current password is wrong."), "{}", wrong.body);
    let changed = laptop
        .post(
            "/ui/profile/password",
            &[
                ("current", PASSWORD),
                ("new", "fresh kettle morning"),
                ("again", "fresh kettle morning"),
                ("csrf", &csrf),
            ],
            None,
        )
        .await;
    assert_eq!(
        (changed.status, changed.location.as_deref()),
        (303, Some("/ui/profile?done=password"))
    );
    assert_eq!(laptop.get("/ui").await.status, 200, "the browser that changed it stays in");
    assert_eq!(phone.get("/ui").await.status, 303, "every other browser is signed out");
    assert_eq!(phone.sign_in("dana@vendor.example", PASSWORD).await.status, 401);
    assert_eq!(phone.sign_in("dana@vendor.example", "fresh kettle morning").await.status, 303);

    let csrf = csrf_of(&mut phone).await;
    let out = phone.post("/ui/profile/signout-everywhere", &[("csrf", &csrf)], None).await;
    assert_eq!(out.status, 303);
    assert_eq!(laptop.get("/ui").await.status, 303);
    assert_eq!(phone.get("/ui").await.status, 303);
});

on_both_stores!(a_customer_resets_a_binding_once_a_month_and_downloads_only_their_usage, |app| {
    let (acme, acme_text) = app.issue(|t| t.org = "Acme Corp".parse().expect("org"));
    let (globex, globex_text) = app.issue(|t| t.org = "Globex".parse().expect("org"));
    let acme_org = accounts::create_organization(&app.portal.store, "Acme Corp", app.now())
        .await
        .expect("org");
    assert_eq!(app.register(&acme_text).await.status, 201);
    assert_eq!(app.register(&globex_text).await.status, 201);
    let mut hub = crate::helpers::TestHub::new("acme-hub-1", &app);
    hub.activate(&app, &acme).await;
    hub.ping(&app, &acme).await;
    let mut other = crate::helpers::TestHub::new("globex-hub", &app);
    other.activate(&app, &globex).await;
    other.ping(&app, &globex).await;
    person(&app, "ops@acme.example", Role::OrgAdmin, Some(&acme_org.id)).await;
    let mut kim = Browser::new(&app);
    assert_eq!(kim.sign_in("ops@acme.example", PASSWORD).await.status, 303);

    let usage = kim.get("/ui/usage.csv").await;
    assert_eq!(usage.status, 200);
    assert!(usage.headers["content-disposition"].to_str().expect("ascii").contains("usage.csv"));
    assert!(usage.body.contains(&acme.id.to_string()), "{}", usage.body);
    assert!(!usage.body.contains(&globex.id.to_string()), "another organization's usage");

    let id = acme.id.to_string();
    let confirm = kim.get(&format!("/ui/licenses/{id}/confirm/reset-binding")).await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.body.contains("once every 30 days"), "{}", confirm.body);
    let csrf = confirm.csrf();
    let reset =
        kim.post(&format!("/ui/licenses/{id}/reset-binding"), &[("csrf", &csrf)], None).await;
    assert_eq!(
        reset.location.as_deref(),
        Some(format!("/ui/licenses/{id}?done=reset-binding").as_str())
    );
    assert!(app.portal.store.activation(&id).await.expect("db").is_none(), "the binding is gone");
    // The hub moves to a new machine; a second reset within 30 days is refused.
    let mut moved = crate::helpers::TestHub::new("acme-hub-2", &app);
    moved.activate(&app, &acme).await;
    app.clock.advance(Duration::from_secs(29 * 86_400));
    // (The session ended meanwhile: a new day, a new sign-in.)
    assert_eq!(kim.sign_in("ops@acme.example", PASSWORD).await.status, 303);
    let csrf = csrf_of(&mut kim).await;
    let refused =
        kim.post(&format!("/ui/licenses/{id}/reset-binding"), &[("csrf", &csrf)], None).await;
    assert_eq!(refused.status, 409);
    assert!(refused.body.contains("the next reset is possible from"), "{}", refused.body);
    assert!(app.portal.store.activation(&id).await.expect("db").is_some(), "nothing changed");
    app.clock.advance(Duration::from_secs(86_400 + 1));
    assert_eq!(kim.sign_in("ops@acme.example", PASSWORD).await.status, 303);
    let csrf = csrf_of(&mut kim).await;
    let later =
        kim.post(&format!("/ui/licenses/{id}/reset-binding"), &[("csrf", &csrf)], None).await;
    let done = format!("/ui/licenses/{id}?done=reset-binding");
    assert_eq!(later.location.as_deref(), Some(done.as_str()), "{}", later.body);
    // Nor can the customer suspend, or reach another organization's binding.
    for (lid, action) in [(id.clone(), "suspend"), (globex.id.to_string(), "reset-binding")] {
        let tried =
            kim.post(&format!("/ui/licenses/{lid}/{action}"), &[("csrf", &csrf)], None).await;
        assert_eq!(tried.status, 404, "{action} {lid}");
    }
    assert!(app.portal.store.activation(&globex.id.to_string()).await.expect("db").is_some());
});

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

on_both_stores!(two_step_sign_in_asks_for_a_code_once_and_recovery_codes_work_once, |app| {
    person(&app, "dana@vendor.example", Role::SuperAdmin, None).await;
    let mut browser = Browser::new(&app);
    assert_eq!(browser.sign_in("dana@vendor.example", PASSWORD).await.status, 303);
    let setup = browser.get("/ui/profile/second-factor").await;
    assert_eq!(setup.status, 200, "{}", setup.body);
    let secret = code_after(&setup, "with this key");
    let tag = {
        let at =
            setup.body.find(r#"name="tag" value=""#).expect("tag") + r#"name="tag" value=""#.len();
        setup.body[at..at + setup.body[at..].find('"').expect("end")].to_owned()
    };
    let csrf = setup.csrf();
    let wrong = browser
        .post(
            "/ui/profile/second-factor",
            &[("secret", &secret), ("tag", &tag), ("code", "000000"), ("csrf", &csrf)],
            None,
        )
        .await;
    assert_eq!(wrong.status, 400);
    // A secret of the browser's choosing is refused: the tag binds the one offered.
    let swapped = browser
        .post(
            "/ui/profile/second-factor",
            &[
                ("secret", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                ("tag", &tag),
                ("code", "000000"),
                ("csrf", &csrf),
            ],
            None,
        )
        .await;
    assert_eq!(swapped.status, 403);
    let on = browser
        .post(
            "/ui/profile/second-factor",
            &[
                ("secret", &secret),
                ("tag", &tag),
                ("code", &totp_code(&secret, app.now())),
                ("csrf", &csrf),
            ],
            None,
        )
        .await;
    assert_eq!(on.status, 200, "{}", on.body);
    let recovery: Vec<String> = on
        .body
        .split("<li><code>")
        .skip(1)
        .map(|part| part[..part.find('<').expect("end")].to_owned())
        .collect();
    assert_eq!(recovery.len(), 10, "{}", on.body);
    let stored =
        app.portal.store.user_by_email("dana@vendor.example").await.expect("db").expect("user");
    assert_eq!(stored.totp_secret.as_deref(), Some(secret.as_str()));

    // Signing in now takes a password, then a code.
    let mut other = Browser::new(&app);
    let first = other.sign_in("dana@vendor.example", PASSWORD).await;
    assert_eq!(first.location.as_deref(), Some("/ui/signin/code"));
    assert_eq!(other.get("/ui").await.status, 303, "no session before the code");
    let form = other.get("/ui/signin/code").await;
    let csrf = form.csrf();
    let bad = other.post("/ui/signin/code", &[("code", "123456"), ("csrf", &csrf)], None).await;
    assert_eq!(bad.status, 401);
    let csrf = bad.csrf();
    // The code used to turn it on was for this step: it does not work twice.
    let reused = other
        .post("/ui/signin/code", &[("code", &totp_code(&secret, app.now())), ("csrf", &csrf)], None)
        .await;
    assert_eq!(reused.status, 401, "a code works once");
    let csrf = reused.csrf();
    app.clock.advance(Duration::from_secs(30));
    let good = other
        .post("/ui/signin/code", &[("code", &totp_code(&secret, app.now())), ("csrf", &csrf)], None)
        .await;
    assert_eq!(good.location.as_deref(), Some("/ui"), "{}", good.body);
    assert_eq!(other.get("/ui").await.status, 200);

    // A recovery code, once.
    for expected in [303, 401] {
        let mut fresh = Browser::new(&app);
        app.clock.advance(Duration::from_secs(5));
        fresh.sign_in("dana@vendor.example", PASSWORD).await;
        let form = fresh.get("/ui/signin/code").await;
        let csrf = form.csrf();
        let used = fresh
            .post(
                "/ui/signin/code",
                &[("code", &recovery[3].to_uppercase()), ("csrf", &csrf)],
                None,
            )
            .await;
        assert_eq!(used.status, expected);
    }
    // The pending step expires: five minutes later the code form sends back to sign-in.
    let mut slow = Browser::new(&app);
    slow.sign_in("dana@vendor.example", PASSWORD).await;
    app.clock.advance(Duration::from_secs(301));
    assert_eq!(slow.get("/ui/signin/code").await.location.as_deref(), Some("/ui/signin"));
});

on_both_stores!(
    a_portal_can_require_the_second_factor_of_its_super_admins,
    tune = |layer| tessera_portal::config::Layer {
        require_second_factor_for_super_admins: Some(true),
        ..layer
    },
    |app| {
        person(&app, "dana@vendor.example", Role::SuperAdmin, None).await;
        let mut browser = Browser::new(&app);
        assert_eq!(browser.sign_in("dana@vendor.example", PASSWORD).await.status, 303);
        for path in ["/ui", "/ui/licenses", "/ui/users"] {
            let page = browser.get(path).await;
            assert_eq!(page.location.as_deref(), Some("/ui/profile/second-factor"), "{path}");
        }
        assert_eq!(browser.get("/ui/profile/second-factor").await.status, 200);
        assert_eq!(browser.get("/ui/profile").await.status, 200);
    }
);

on_both_stores!(
    an_organizations_api_key_reaches_only_its_own_licenses_on_every_admin_route,
    |app| {
        use tessera_portal::domain::apikeys::{self, Owner, Scope};
        let (acme, acme_text) = app.issue(|t| t.org = "Acme Corp".parse().expect("org"));
        let (globex, globex_text) = app.issue(|t| t.org = "Globex".parse().expect("org"));
        let acme_org = accounts::create_organization(&app.portal.store, "Acme Corp", app.now())
            .await
            .expect("org");
        accounts::create_organization(&app.portal.store, "Globex", app.now()).await.expect("org");
        assert_eq!(app.register(&acme_text).await.status, 201);
        assert_eq!(app.register(&globex_text).await.status, 201);
        let mut hub = crate::helpers::TestHub::new("globex", &app);
        hub.activate(&app, &globex).await;
        hub.ping(&app, &globex).await;
        let owner = Owner { user_id: None, org_id: Some(acme_org.id.clone()) };
        let scopes = [Scope::Read, Scope::Write].into();
        let key = apikeys::create_owned(
            &app.portal.store,
            &scopes,
            "acme ci",
            None,
            owner.clone(),
            app.now(),
        )
        .await
        .expect("key");
        let key = key.expose().to_owned();
        let all = [Scope::Read, Scope::Write, Scope::Revoke].into();
        assert!(
            apikeys::create_owned(&app.portal.store, &all, "x", None, owner, app.now())
                .await
                .is_err()
        );
        let (mine, theirs) = (acme.id.to_string(), globex.id.to_string());

        // Reading: only its own, and nothing of the other organization shows anywhere.
        let list = app.get("/v1/admin/licenses", Some(&key)).await;
        assert_eq!(list.status, 200);
        let ids: Vec<&str> = list.body["licenses"]
            .as_array()
            .expect("list")
            .iter()
            .map(|l| l["id"].as_str().expect("id"))
            .collect();
        assert_eq!(ids, vec![mine.as_str()]);
        let filtered = app.get("/v1/admin/licenses?org=Globex", Some(&key)).await;
        assert_eq!(filtered.body["licenses"].as_array().map(Vec::len), Some(0));
        let orgs = app.get("/v1/admin/organizations", Some(&key)).await;
        assert_eq!(
            orgs.body["organizations"],
            serde_json::json!([{ "org": "Acme Corp", "licenses": 1 }])
        );
        let usage = app
            .http
            .get(format!("{}/v1/admin/usage?format=csv", app.address))
            .bearer_auth(&key)
            .send()
            .await
            .expect("usage");
        let usage = usage.text().await.expect("csv");
        assert!(!usage.contains(&theirs), "{usage}");
        assert_eq!(app.get(&format!("/v1/admin/licenses/{theirs}"), Some(&key)).await.status, 404);
        assert_eq!(app.get(&format!("/v1/admin/licenses/{mine}"), Some(&key)).await.status, 200);
        let by_id = app
            .post_json(
                "/v1/admin/licenses/lookup",
                Some(&key),
                &serde_json::json!({ "id": theirs }),
            )
            .await;
        assert_eq!((by_id.status, by_id.code()), (404, "unknown_license"));
        let by_key = app
            .post_json(
                "/v1/admin/licenses/lookup",
                Some(&key),
                &serde_json::json!({ "license_key": globex.key.expose() }),
            )
            .await;
        assert_eq!((by_key.status, by_key.code()), (404, "unknown_license"));

        // Changing: never the other organization's (as if it did not exist), never the vendor's calls.
        for action in ["suspend", "reinstate", "reset-binding"] {
            let path = format!("/v1/admin/licenses/{theirs}/{action}");
            let tried = app.post_json(&path, Some(&key), &serde_json::json!({})).await;
            assert_eq!((tried.status, tried.code()), (404, "unknown_license"), "{action}");
        }
        // (Revoking needs a scope an organization's key never has: refused before the license.)
        let path = format!("/v1/admin/licenses/{theirs}/revoke");
        let tried = app.post_json(&path, Some(&key), &serde_json::json!({})).await;
        assert_eq!((tried.status, tried.code()), (403, "insufficient_scope"));
        for action in ["suspend", "reinstate", "revoke"] {
            let tried = app
                .post_json(
                    &format!("/v1/admin/licenses/{mine}/{action}"),
                    Some(&key),
                    &serde_json::json!({}),
                )
                .await;
            assert_eq!(tried.status, 403, "{action}: {:?}", tried.body);
        }
        let (_, another) = app.issue(|t| t.org = "Acme Corp".parse().expect("org"));
        let register = app
            .post_json("/v1/admin/licenses", Some(&key), &serde_json::json!({ "license": another }))
            .await;
        assert_eq!((register.status, register.code()), (403, "vendor_only"));
        let batch = app
            .post_json(
                "/v1/admin/licenses/batch",
                Some(&key),
                &serde_json::json!({ "licenses": [another] }),
            )
            .await;
        assert_eq!((batch.status, batch.code()), (403, "vendor_only"));
        let reset = app
            .post_json(
                &format!("/v1/admin/licenses/{mine}/reset-binding"),
                Some(&key),
                &serde_json::json!({}),
            )
            .await;
        assert_eq!(reset.status, 200, "{:?}", reset.body);
        let again = app
            .post_json(
                &format!("/v1/admin/licenses/{mine}/reset-binding"),
                Some(&key),
                &serde_json::json!({}),
            )
            .await;
        assert_eq!((again.status, again.code()), (409, "too_soon"));
        let globex_row = app.portal.store.license(&theirs).await.expect("db").expect("row");
        assert_eq!(globex_row.state.as_str(), "active");
        assert!(app.portal.store.activation(&theirs).await.expect("db").is_some());
    }
);

on_both_stores!(people_make_and_revoke_api_keys_on_the_web_pages_within_their_reach, |app| {
    let acme = accounts::create_organization(&app.portal.store, "Acme Corp", app.now())
        .await
        .expect("org");
    person(&app, "dana@vendor.example", Role::SuperAdmin, None).await;
    person(&app, "ops@acme.example", Role::OrgAdmin, Some(&acme.id)).await;
    let mut kim = Browser::new(&app);
    assert_eq!(kim.sign_in("ops@acme.example", PASSWORD).await.status, 303);
    let page = kim.get("/ui/api-keys").await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("name=\"revoke\""), "an org-admin is not offered the revoke scope");
    let csrf = page.csrf();
    let refused = kim
        .post(
            "/ui/api-keys",
            &[("label", "ci"), ("read", "on"), ("revoke", "on"), ("csrf", &csrf)],
            None,
        )
        .await;
    assert_eq!(refused.status, 400);
    let made =
        kim.post("/ui/api-keys", &[("label", "ci"), ("read", "on"), ("csrf", &csrf)], None).await;
    assert_eq!(made.status, 200);
    let secret = code_after(&made, "shown only now");
    assert!(secret.starts_with("tsk_"), "{secret}");
    let listed = app.get("/v1/admin/licenses", Some(&secret)).await;
    assert_eq!(listed.status, 200, "the key works");
    let id = secret[4..20].to_owned();
    let row = app.portal.store.api_key(&id).await.expect("db").expect("row");
    assert_eq!(row.org_id.as_deref(), Some(acme.id.as_str()));
    assert!(row.owner_id.is_some());

    // The vendor's keys are not the org-admin's to see or revoke.
    let vendor_key = app.admin_key[4..20].to_owned();
    assert!(!kim.get("/ui/api-keys").await.body.contains(&vendor_key));
    let tried =
        kim.post(&format!("/ui/api-keys/{vendor_key}/revoke"), &[("csrf", &csrf)], None).await;
    assert_eq!(tried.status, 404);
    assert!(
        app.portal.store.api_key(&vendor_key).await.expect("db").expect("row").revoked_at.is_none()
    );

    // The vendor's staff see every key, and revoke the organization's.
    let mut dana = Browser::new(&app);
    assert_eq!(dana.sign_in("dana@vendor.example", PASSWORD).await.status, 303);
    let all = dana.get("/ui/api-keys").await;
    assert!(all.body.contains(&vendor_key) && all.body.contains(&id));
    let csrf = all.csrf();
    let revoked = dana.post(&format!("/ui/api-keys/{id}/revoke"), &[("csrf", &csrf)], None).await;
    assert_eq!(revoked.status, 303);
    assert_eq!(app.get("/v1/admin/licenses", Some(&secret)).await.status, 401);
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_is_emailed_through_the_smtp_relay_and_a_dead_relay_is_said() {
    let Some(python) = aiosmtpd() else { return };
    let relay = Relay::start(&python);
    let app = crate::mail::app_with(&relay).await;
    let acme = accounts::create_organization(&app.portal.store, "Acme Corp", app.now())
        .await
        .expect("org");
    person(&app, "dana@vendor.example", Role::SuperAdmin, None).await;
    let mut dana = Browser::new(&app);
    assert_eq!(dana.sign_in("dana@vendor.example", PASSWORD).await.status, 303);
    let csrf = csrf_of(&mut dana).await;
    let made = dana
        .post(
            "/ui/users/invite",
            &[
                ("email", "kim@acme.example"),
                ("role", "org-admin"),
                ("org", &acme.id),
                ("csrf", &csrf),
            ],
            None,
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.body);
    assert!(made.body.contains("emailed to kim@acme.example"), "{}", made.body);
    let link = format!("https://portal.vendor.example{}", invitation_link(&made));
    assert!(made.body.contains(&link), "the link names the public address: {}", made.body);
    // The relay is gone: the invitation is still made, and the page says the email was not sent.
    // (The relay joins the body's quoted-printable soft line breaks.)
    let printed = relay.wait_for("END MESSAGE");
    drop(relay);
    assert!(printed.contains("To: kim@acme.example"), "{printed}");
    assert!(
        printed.contains("From: \"Tessera portal\" <portal@vendor.example>")
            || printed.contains("From: Tessera portal <portal@vendor.example>"),
        "{printed}"
    );
    assert!(printed.contains(&link), "the link is in the email: {printed}");
    assert!(
        printed.contains("Dana Smith invites you") && printed.contains("for Acme Corp"),
        "{printed}"
    );
    let again = dana
        .post(
            "/ui/users/invite",
            &[
                ("email", "lee@acme.example"),
                ("role", "org-admin"),
                ("org", &acme.id),
                ("csrf", &csrf),
            ],
            None,
        )
        .await;
    assert_eq!(again.status, 200);
    assert!(again.body.contains("could not be sent"), "{}", again.body);
    assert!(again.body.contains("/ui/invite/"));
}

on_both_stores!(
    super_admins_change_roles_and_remove_people_but_never_the_last_super_admin,
    |app| {
        let acme = accounts::create_organization(&app.portal.store, "Acme Corp", app.now())
            .await
            .expect("org");
        person(&app, "dana@vendor.example", Role::SuperAdmin, None).await;
        person(&app, "ops@acme.example", Role::OrgAdmin, Some(&acme.id)).await;
        person(&app, "lee@acme.example", Role::OrgAdmin, Some(&acme.id)).await;
        let user = |email: &'static str| {
            let store = app.portal.store.clone();
            async move { store.user_by_email(email).await.expect("db").expect("user") }
        };
        let (dana, kim, lee) = (
            user("dana@vendor.example").await,
            user("ops@acme.example").await,
            user("lee@acme.example").await,
        );
        let mut dana_b = Browser::new(&app);
        let mut kim_b = Browser::new(&app);
        assert_eq!(dana_b.sign_in("dana@vendor.example", PASSWORD).await.status, 303);
        assert_eq!(kim_b.sign_in("ops@acme.example", PASSWORD).await.status, 303);

        // Nobody manages themself; an org-admin cannot change roles.
        assert_eq!(dana_b.get(&format!("/ui/users/{}", dana.id)).await.status, 404);
        let csrf = csrf_of(&mut kim_b).await;
        let tried = kim_b
            .post(
                &format!("/ui/users/{}/role", lee.id),
                &[("role", "super-admin"), ("csrf", &csrf)],
                None,
            )
            .await;
        assert_eq!(tried.status, 404);
        assert_eq!(user("lee@acme.example").await.role, "org-admin");

        // Kim becomes a super-admin: her sessions end.
        let csrf = csrf_of(&mut dana_b).await;
        let page = dana_b.get(&format!("/ui/users/{}", kim.id)).await;
        assert_eq!(page.status, 200);
        let changed = dana_b
            .post(
                &format!("/ui/users/{}/role", kim.id),
                &[("role", "super-admin"), ("org", ""), ("csrf", &csrf)],
                None,
            )
            .await;
        assert_eq!(changed.location.as_deref(), Some("/ui/users?done=role"), "{}", changed.body);
        assert_eq!(kim_b.get("/ui").await.status, 303, "a role change ends the sessions");
        let kim_now = user("ops@acme.example").await;
        assert_eq!((kim_now.role.as_str(), kim_now.org_id.as_deref()), ("super-admin", None));
        let bad = dana_b
            .post(
                &format!("/ui/users/{}/role", lee.id),
                &[("role", "org-admin"), ("org", ""), ("csrf", &csrf)],
                None,
            )
            .await;
        assert_eq!(bad.status, 400);

        // Lee made a key; removing Lee revokes it and ends everything of Lee's.
        let key = key_of(&app, &lee, Some(&acme.id)).await;
        let confirm = dana_b.get(&format!("/ui/users/{}/remove", lee.id)).await;
        assert_eq!(confirm.status, 200);
        let removed =
            dana_b.post(&format!("/ui/users/{}/remove", lee.id), &[("csrf", &csrf)], None).await;
        assert_eq!(removed.location.as_deref(), Some("/ui/users?done=removed"));
        assert!(app.portal.store.user_by_email("lee@acme.example").await.expect("db").is_none());
        assert_eq!(app.get("/v1/admin/licenses", Some(&key)).await.status, 401);
        assert_eq!(Browser::new(&app).sign_in("lee@acme.example", PASSWORD).await.status, 401);

        // Kim (now a super-admin) removes Dana; then Kim is the last one and cannot be demoted
        // by anyone, nor removed.
        let mut kim_b = Browser::new(&app);
        assert_eq!(kim_b.sign_in("ops@acme.example", PASSWORD).await.status, 303);
        let csrf = csrf_of(&mut kim_b).await;
        let gone =
            kim_b.post(&format!("/ui/users/{}/remove", dana.id), &[("csrf", &csrf)], None).await;
        assert_eq!(gone.status, 303);
        let kim = user("ops@acme.example").await;
        let store = &app.portal.store;
        assert!(!store.set_role(&kim.id, "org-admin", Some(&acme.id)).await.expect("db"));
        assert!(!store.delete_user(&kim.id, app.now().as_unix()).await.expect("db"));
        assert_eq!(user("ops@acme.example").await.role, "super-admin");
    }
);

on_both_stores!(
    an_unmatched_license_is_assigned_by_a_super_admin_and_then_seen_by_that_organization,
    |app| {
        let (claims, text) = app.issue(|t| t.org = "ACME Corporation Ltd".parse().expect("org"));
        assert_eq!(app.register(&text).await.status, 201);
        let id = claims.id.to_string();
        let acme = accounts::create_organization(&app.portal.store, "Acme Corp", app.now())
            .await
            .expect("org");
        assert_eq!(
            app.portal.store.license_organization(&id).await.expect("db"),
            None,
            "no exact match"
        );
        person(&app, "dana@vendor.example", Role::SuperAdmin, None).await;
        person(&app, "ops@acme.example", Role::OrgAdmin, Some(&acme.id)).await;
        let mut kim = Browser::new(&app);
        assert_eq!(kim.sign_in("ops@acme.example", PASSWORD).await.status, 303);
        assert_eq!(kim.get(&format!("/ui/licenses/{id}")).await.status, 404);
        let csrf = csrf_of(&mut kim).await;
        let tried = kim
            .post(&format!("/ui/licenses/{id}/assign"), &[("org", &acme.id), ("csrf", &csrf)], None)
            .await;
        assert_eq!(tried.status, 404, "an org-admin cannot take a license");

        let mut dana = Browser::new(&app);
        assert_eq!(dana.sign_in("dana@vendor.example", PASSWORD).await.status, 303);
        let page = dana.get(&format!("/ui/licenses/{id}")).await;
        let csrf = page.csrf();
        let assigned = dana
            .post(&format!("/ui/licenses/{id}/assign"), &[("org", &acme.id), ("csrf", &csrf)], None)
            .await;
        assert_eq!(assigned.location, Some(format!("/ui/licenses/{id}?done=assigned")));
        assert_eq!(kim.get(&format!("/ui/licenses/{id}")).await.status, 200);
        let unknown = dana
            .post(&format!("/ui/licenses/{id}/assign"), &[("org", "nope"), ("csrf", &csrf)], None)
            .await;
        assert_eq!(unknown.status, 404);
    }
);

on_both_stores!(every_page_and_form_refuses_the_wrong_organizations_admin, |app| {
    use tessera_portal::domain::apikeys::{self, Owner, Scope};
    let (globex, text) = app.issue(|t| t.org = "Globex".parse().expect("org"));
    let acme = accounts::create_organization(&app.portal.store, "Acme Corp", app.now())
        .await
        .expect("org");
    let globex_org =
        accounts::create_organization(&app.portal.store, "Globex", app.now()).await.expect("org");
    assert_eq!(app.register(&text).await.status, 201);
    person(&app, "ops@acme.example", Role::OrgAdmin, Some(&acme.id)).await;
    person(&app, "boss@globex.example", Role::OrgAdmin, Some(&globex_org.id)).await;
    let boss =
        app.portal.store.user_by_email("boss@globex.example").await.expect("db").expect("user");
    let owner = Owner { user_id: Some(boss.id.clone()), org_id: Some(globex_org.id.clone()) };
    let key = apikeys::create_owned(
        &app.portal.store,
        &[Scope::Read].into(),
        "globex",
        None,
        owner,
        app.now(),
    )
    .await
    .expect("key");
    let (lid, kid, uid) = (globex.id.to_string(), key.row.id.clone(), boss.id.clone());
    let mut kim = Browser::new(&app);
    assert_eq!(kim.sign_in("ops@acme.example", PASSWORD).await.status, 303);
    let csrf = csrf_of(&mut kim).await;
    for path in [
        format!("/ui/licenses/{lid}"),
        format!("/ui/licenses/{lid}/confirm/reset-binding"),
        format!("/ui/users/{uid}"),
        format!("/ui/users/{uid}/remove"),
        "/ui/organizations".to_owned(),
        "/ui/register".to_owned(),
    ] {
        assert_eq!(kim.get(&path).await.status, 404, "GET {path}");
    }
    for (path, form) in [
        (format!("/ui/licenses/{lid}/reset-binding"), vec![]),
        (format!("/ui/licenses/{lid}/suspend"), vec![]),
        (format!("/ui/licenses/{lid}/assign"), vec![("org", acme.id.as_str())]),
        (format!("/ui/users/{uid}/role"), vec![("role", "org-admin"), ("org", acme.id.as_str())]),
        (format!("/ui/users/{uid}/remove"), vec![]),
        (format!("/ui/api-keys/{kid}/revoke"), vec![]),
        ("/ui/organizations".to_owned(), vec![("name", "Initech")]),
    ] {
        let mut fields = form.clone();
        fields.push(("csrf", csrf.as_str()));
        assert_eq!(kim.post(&path, &fields, None).await.status, 404, "POST {path}");
    }
    let invite = kim
        .post(
            "/ui/users/invite",
            &[
                ("email", "x@globex.example"),
                ("role", "org-admin"),
                ("org", &globex_org.id),
                ("csrf", &csrf),
            ],
            None,
        )
        .await;
    assert_eq!(invite.status, 400);
    for page in ["/ui/licenses", "/ui/users", "/ui/api-keys", "/ui/usage.csv", "/ui"] {
        let body = kim.get(page).await.body;
        for secret in [&lid, &kid, &uid, &"Globex".to_owned(), &"boss@globex.example".to_owned()] {
            assert!(!body.contains(secret.as_str()), "{page} shows {secret}");
        }
    }
    // Nothing of Globex changed.
    assert_eq!(
        app.portal.store.license(&lid).await.expect("db").expect("row").state.as_str(),
        "active"
    );
    assert!(app.portal.store.user(&uid).await.expect("db").is_some());
    assert!(app.portal.store.api_key(&kid).await.expect("db").expect("key").revoked_at.is_none());
    assert!(app.portal.store.organization_named("Initech").await.expect("db").is_none());
});

on_both_stores!(one_license_is_found_by_its_id_or_key_posted_and_only_among_ones_own, |app| {
    let (acme, acme_text) = app.issue(|t| t.org = "Acme Corp".parse().expect("org"));
    let (globex, globex_text) = app.issue(|t| t.org = "Globex".parse().expect("org"));
    let org = accounts::create_organization(&app.portal.store, "Acme Corp", app.now())
        .await
        .expect("org");
    assert_eq!(app.register(&acme_text).await.status, 201);
    assert_eq!(app.register(&globex_text).await.status, 201);
    person(&app, "dana@vendor.example", Role::SuperAdmin, None).await;
    person(&app, "ops@acme.example", Role::OrgAdmin, Some(&org.id)).await;
    let mut dana = Browser::new(&app);
    assert_eq!(dana.sign_in("dana@vendor.example", PASSWORD).await.status, 303);
    let csrf = csrf_of(&mut dana).await;
    let by_key =
        dana.post("/ui/licenses/find", &[("q", &acme.key.expose()), ("csrf", &csrf)], None).await;
    assert_eq!(by_key.location, Some(format!("/ui/licenses/{}", acme.id)));
    let upper = acme.id.to_string().to_uppercase();
    let by_id = dana.post("/ui/licenses/find", &[("q", &upper), ("csrf", &csrf)], None).await;
    assert_eq!(by_id.location, Some(format!("/ui/licenses/{}", acme.id)));
    let none = dana
        .post("/ui/licenses/find", &[("q", "nothing like either"), ("csrf", &csrf)], None)
        .await;
    assert_eq!(none.status, 404);
    assert!(none.body.contains("No license of yours has that id or license key."), "{}", none.body);
    let forged = dana.post("/ui/licenses/find", &[("q", &acme.key.expose())], None).await;
    assert_eq!(forged.status, 403);

    let mut kim = Browser::new(&app);
    assert_eq!(kim.sign_in("ops@acme.example", PASSWORD).await.status, 303);
    let csrf = csrf_of(&mut kim).await;
    for q in [globex.key.expose(), globex.id.to_string()] {
        let other = kim.post("/ui/licenses/find", &[("q", &q), ("csrf", &csrf)], None).await;
        assert_eq!(other.status, 404, "another organization's license is not found");
        assert!(!other.body.contains(&globex.id.to_string()));
    }
});

on_both_stores!(the_staff_dashboard_counts_once_a_minute_and_says_when, |app| {
    person(&app, "dana@vendor.example", Role::SuperAdmin, None).await;
    let mut dana = Browser::new(&app);
    assert_eq!(dana.sign_in("dana@vendor.example", PASSWORD).await.status, 303);
    let valid_count = |page: &Page| {
        let at = page.body.find("standing=valid\"").expect("valid card");
        let rest = &page.body[at..];
        let start = rest.find("class=\"n\">").expect("figure") + "class=\"n\">".len();
        rest[start..start + rest[start..].find('<').expect("end")].to_owned()
    };
    let first = dana.get("/ui").await;
    assert!(first.body.contains("Counted at"), "{}", first.body);
    assert_eq!(valid_count(&first), "0");
    app.registered_license().await;
    assert_eq!(valid_count(&dana.get("/ui").await), "0", "the same minute: the same figures");
    app.clock.advance(Duration::from_secs(61));
    assert_eq!(valid_count(&dana.get("/ui").await), "1", "a minute later: counted again");
});

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

on_both_stores!(a_person_downloads_their_data_then_erases_it_and_the_files_forget_them, |app| {
    let acme = accounts::create_organization(&app.portal.store, "Acme Corp", app.now())
        .await
        .expect("org");
    let (name, email) = ("Zebulon Quixotic", "zebulon.quixotic@acme.example");
    let password = Password::new(PASSWORD);
    let new =
        NewUser { email, name, role: Role::OrgAdmin, org_id: Some(&acme.id), password: &password };
    accounts::create_user(&app.portal.store, &new, app.now()).await.expect("user");
    person(&app, "dana@vendor.example", Role::SuperAdmin, None).await;
    let mut zeb = Browser::new(&app);
    assert_eq!(zeb.sign_in(email, PASSWORD).await.status, 303);
    let csrf = csrf_of(&mut zeb).await;
    zeb.post("/ui/api-keys", &[("label", "zeb's key"), ("read", "on"), ("csrf", &csrf)], None)
        .await;

    let export = zeb.get("/ui/profile/export.json").await;
    assert_eq!(export.status, 200);
    let data: serde_json::Value = serde_json::from_str(&export.body).expect("JSON");
    assert_eq!(data["profile"]["email"], email);
    assert_eq!(data["profile"]["name"], name);
    assert_eq!(data["profile"]["organization"]["name"], "Acme Corp");
    assert_eq!(data["sessions"].as_array().map(Vec::len), Some(1));
    assert_eq!(data["api_keys"][0]["label"], "zeb's key");
    assert!(!export.body.contains("argon2"), "no password hash in the export");

    let wrong = zeb
        .post(
            "/ui/profile/delete",
            &[("password", "not my password at all"), ("csrf", &csrf)],
            None,
        )
        .await;
    assert_eq!(wrong.status, 400);
    let gone =
        zeb.post("/ui/profile/delete", &[("password", PASSWORD), ("csrf", &csrf)], None).await;
    assert_eq!(gone.status, 200, "{}", gone.body);
    assert!(gone.body.contains("Account deleted"));
    assert!(app.portal.store.user_by_email(email).await.expect("db").is_none());
    assert_eq!(zeb.get("/ui").await.status, 303);
    // The last super-admin cannot erase themself.
    let mut dana = Browser::new(&app);
    assert_eq!(dana.sign_in("dana@vendor.example", PASSWORD).await.status, 303);
    let csrf = csrf_of(&mut dana).await;
    let refused =
        dana.post("/ui/profile/delete", &[("password", PASSWORD), ("csrf", &csrf)], None).await;
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("at least one super-admin"), "{}", refused.body);

    if app.portal.store.backend() == tessera_portal::store::Backend::Sqlite {
        let bytes = database_bytes(&app);
        assert!(holds(&bytes, "dana@vendor.example"), "the check can find what is there");
        assert!(!holds(&bytes, email), "the erased email is still in the database files");
        assert!(!holds(&bytes, name), "the erased name is still in the database files");
    }
});

on_both_stores!(a_new_email_is_taken_only_when_its_link_is_opened, |app| {
    person(&app, "dana@vendor.example", Role::SuperAdmin, None).await;
    let mut dana = Browser::new(&app);
    assert_eq!(dana.sign_in("dana@vendor.example", PASSWORD).await.status, 303);
    let csrf = csrf_of(&mut dana).await;
    let renamed =
        dana.post("/ui/profile/name", &[("name", "Dana Smith-Jones"), ("csrf", &csrf)], None).await;
    assert_eq!(renamed.location.as_deref(), Some("/ui/profile?done=name"));
    let asked = dana
        .post("/ui/profile/email", &[("email", "dana.sj@vendor.example"), ("csrf", &csrf)], None)
        .await;
    assert_eq!(asked.status, 200);
    let at = asked.body.find("/ui/email/").expect("a confirmation link");
    let link = asked.body[at..at + "/ui/email/".len() + 43].to_owned();
    let user = app
        .portal
        .store
        .user_by_email("dana@vendor.example")
        .await
        .expect("db")
        .expect("still the old email");
    assert_eq!(user.name, "Dana Smith-Jones");

    let mut mailbox = Browser::new(&app);
    let page = mailbox.get(&link).await;
    let csrf = page.csrf();
    let confirmed = mailbox.post(&link, &[("csrf", &csrf)], None).await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    assert!(app.portal.store.user_by_email("dana.sj@vendor.example").await.expect("db").is_some());
    assert_eq!(Browser::new(&app).sign_in("dana@vendor.example", PASSWORD).await.status, 401);
    assert_eq!(Browser::new(&app).sign_in("dana.sj@vendor.example", PASSWORD).await.status, 303);
    let again = mailbox.get(&link).await;
    let csrf = again.csrf();
    assert_eq!(
        mailbox.post(&link, &[("csrf", &csrf)], None).await.status,
        404,
        "a link works once"
    );

    // A link left a day is gone.
    let mut dana = Browser::new(&app);
    assert_eq!(dana.sign_in("dana.sj@vendor.example", PASSWORD).await.status, 303);
    let csrf = csrf_of(&mut dana).await;
    let asked = dana
        .post("/ui/profile/email", &[("email", "late@vendor.example"), ("csrf", &csrf)], None)
        .await;
    let at = asked.body.find("/ui/email/").expect("link");
    let late = asked.body[at..at + "/ui/email/".len() + 43].to_owned();
    app.clock.advance(Duration::from_secs(86_401));
    let page = mailbox.get(&late).await;
    let csrf = page.csrf();
    assert_eq!(mailbox.post(&late, &[("csrf", &csrf)], None).await.status, 404);
    assert!(app.portal.store.user_by_email("late@vendor.example").await.expect("db").is_none());
});

on_both_stores!(
    an_org_admin_downloads_their_organizations_data_and_staff_erase_its_people,
    |app| {
        let (acme, acme_text) = app.issue(|t| t.org = "Acme Corp".parse().expect("org"));
        let (globex, globex_text) = app.issue(|t| t.org = "Globex".parse().expect("org"));
        let org = accounts::create_organization(&app.portal.store, "Acme Corp", app.now())
            .await
            .expect("org");
        assert_eq!(app.register(&acme_text).await.status, 201);
        assert_eq!(app.register(&globex_text).await.status, 201);
        let mut hub = crate::helpers::TestHub::new("acme", &app);
        hub.activate(&app, &acme).await;
        hub.ping(&app, &acme).await;
        person(&app, "dana@vendor.example", Role::SuperAdmin, None).await;
        person(&app, "ops@acme.example", Role::OrgAdmin, Some(&org.id)).await;
        person(&app, "lee@acme.example", Role::OrgAdmin, Some(&org.id)).await;
        let mut kim = Browser::new(&app);
        assert_eq!(kim.sign_in("ops@acme.example", PASSWORD).await.status, 303);
        let export = kim.get("/ui/organization/export.json").await;
        let data: serde_json::Value = serde_json::from_str(&export.body).expect("JSON");
        let licenses = data["licenses"].as_array().expect("licenses");
        assert_eq!(licenses.len(), 1);
        assert_eq!(licenses[0]["id"], acme.id.to_string());
        assert_eq!(licenses[0]["monthly_validations"][0]["validations"], 1);
        assert!(licenses[0]["activation"]["activated_at"].is_i64());
        assert!(!export.body.contains(&globex.id.to_string()));

        let mut dana = Browser::new(&app);
        assert_eq!(dana.sign_in("dana@vendor.example", PASSWORD).await.status, 303);
        let confirm = dana.get(&format!("/ui/organizations/{}/erase-people", org.id)).await;
        assert!(
            confirm.body.contains("2 persons") || confirm.body.contains("2 person"),
            "{}",
            confirm.body
        );
        let csrf = confirm.csrf();
        let erased = dana
            .post(&format!("/ui/organizations/{}/erase-people", org.id), &[("csrf", &csrf)], None)
            .await;
        assert_eq!(erased.location.as_deref(), Some("/ui/organizations?done=erased"));
        assert!(app.portal.store.users_of(&org.id).await.expect("db").is_empty());
        assert_eq!(kim.get("/ui").await.status, 303, "their sessions ended");
        assert!(
            app.portal.store.license(&acme.id.to_string()).await.expect("db").is_some(),
            "licenses stay"
        );
        let mut kim = Browser::new(&app);
        assert_eq!(kim.get("/ui/organization/export.json").await.status, 303);
        assert_eq!(kim.sign_in("ops@acme.example", PASSWORD).await.status, 401);
    }
);

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
        dana.post(
            "/ui/users/invite",
            &[
                ("email", "kim@acme.example"),
                ("role", "org-admin"),
                ("org", &acme.id),
                ("csrf", &csrf),
            ],
            None,
        )
        .await;
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
            page.body.contains("license.reinstated") && !page.body.contains("user.invited"),
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
    let entries = page.body.matches("organization.created").count();
    assert_eq!(entries, 1, "only Acme's creation, not Globex's: {}", page.body);
    let forced = kim.get("/ui/audit?org=").await;
    assert_eq!(forced.body.matches("organization.created").count(), 1);
});

on_both_stores!(data_requests_are_answered_over_the_api_within_each_keys_reach, |app| {
    use tessera_portal::domain::apikeys::{self, Owner, Scope};
    let acme = accounts::create_organization(&app.portal.store, "Acme Corp", app.now())
        .await
        .expect("org");
    let globex =
        accounts::create_organization(&app.portal.store, "Globex", app.now()).await.expect("org");
    let (_, text) = app.issue(|t| t.org = "Acme Corp".parse().expect("org"));
    assert_eq!(app.register(&text).await.status, 201);
    person(&app, "ops@acme.example", Role::OrgAdmin, Some(&acme.id)).await;
    person(&app, "boss@globex.example", Role::OrgAdmin, Some(&globex.id)).await;
    let kim = app.portal.store.user_by_email("ops@acme.example").await.expect("db").expect("user");
    let boss =
        app.portal.store.user_by_email("boss@globex.example").await.expect("db").expect("user");
    // Kim acts once, so the ledger holds an entry by her.
    let mut browser = Browser::new(&app);
    assert_eq!(browser.sign_in("ops@acme.example", PASSWORD).await.status, 303);
    let csrf = csrf_of(&mut browser).await;
    browser.post("/ui/profile/name", &[("name", "Kim Lee"), ("csrf", &csrf)], None).await;

    let vendor =
        app.get(&format!("/v1/admin/people/{}/export", kim.id), Some(&app.admin_key)).await;
    assert_eq!(vendor.status, 200);
    assert_eq!(vendor.body["profile"]["email"], "ops@acme.example");
    assert_eq!(vendor.body["ledger_entries_as_actor"][0]["action"], "user.name_changed");
    let owner = Owner { user_id: Some(kim.id.clone()), org_id: Some(acme.id.clone()) };
    let key = apikeys::create_owned(
        &app.portal.store,
        &[Scope::Read].into(),
        "acme",
        None,
        owner,
        app.now(),
    )
    .await
    .expect("key");
    let key = key.expose().to_owned();
    assert_eq!(
        app.get(&format!("/v1/admin/people/{}/export", kim.id), Some(&key)).await.status,
        200
    );
    let other = app.get(&format!("/v1/admin/people/{}/export", boss.id), Some(&key)).await;
    assert_eq!((other.status, other.code()), (404, "unknown_person"));

    let own = app.get("/v1/admin/organization/export", Some(&key)).await;
    assert_eq!(own.status, 200);
    assert_eq!(own.body["licenses"].as_array().map(Vec::len), Some(1));
    let theirs =
        app.get(&format!("/v1/admin/organization/export?org={}", globex.id), Some(&key)).await;
    assert_eq!(theirs.status, 404);
    let named = app
        .get(&format!("/v1/admin/organization/export?org={}", acme.id), Some(&app.admin_key))
        .await;
    assert_eq!(named.body["licenses"].as_array().map(Vec::len), Some(1));
    assert_eq!(app.get("/v1/admin/organization/export", Some(&app.admin_key)).await.status, 400);
});
