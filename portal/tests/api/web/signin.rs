//! Signing in over real HTTP: sessions, cookies, form tokens, headers, delays after
//! failures, the second factor.

use super::*;

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
