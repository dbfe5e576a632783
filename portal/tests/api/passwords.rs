//! New passwords and forgotten ones: every path that sets a password (joining by invitation,
//! the profile's change, a reset link) refuses one built on the person's own details or
//! easy to guess; a forgotten password is reset by a one-time link emailed to the address,
//! answered alike for every address; emailed links are built from `public_url` alone.
//! (A child of `web`, for its cookie-keeping `Browser`.)

use tessera_core::UnixTime;
use tessera_portal::domain::accounts::{self, NewUser, Password, Role};

use super::{code_after, csrf_of, invitation_link};
use crate::helpers::{Db, TestApp, spawn_app_with};
use crate::on_both_stores;
use crate::people::{Browser, PASSWORD, Page};

/// The issue's example: the address and a year (its local part is too short for the plain
/// "contains the local part" rule).
const ADDRESS_AND_YEAR: &str = "kim@acme.example2024";
/// A strong one.
pub(super) const STRONG: &str = "pewter orchard wildly";
/// The one answer to a forgotten-password request.
const SENT: &str =
    "If an account has this email, a link to choose a new password is on its way to it.";

pub(super) async fn kim(app: &TestApp, password: &str) -> tessera_portal::store::UserRow {
    let acme = accounts::create_organization(&app.portal.store, "Acme Corp", app.now())
        .await
        .expect("org");
    let password = Password::new(password);
    let new = NewUser {
        email: "kim@acme.example",
        name: "Kim Lee",
        role: Role::OrgAdmin,
        org_id: Some(&acme.id),
        password: &password,
    };
    accounts::create_user(&app.portal.store, &new, app.now()).await.expect("kim")
}

pub(super) async fn dana(app: &TestApp) -> tessera_portal::store::UserRow {
    let password = Password::new(PASSWORD);
    let new = NewUser {
        email: "dana@vendor.example",
        name: "Dana Smith",
        role: Role::SuperAdmin,
        org_id: None,
        password: &password,
    };
    accounts::create_user(&app.portal.store, &new, app.now()).await.expect("dana")
}

/// The path of a password-reset link for Kim.
async fn kims_reset_link(app: &TestApp) -> String {
    let (_, token) =
        accounts::request_password_reset(&app.portal.store, "kim@acme.example", app.now())
            .await
            .expect("reset")
            .expect("kim has an account");
    format!("/ui/reset/{}", token.expose())
}

fn minutes_ago(app: &TestApp, minutes: i64) -> UnixTime {
    UnixTime::from_unix(app.now().as_unix() - minutes * 60).expect("time")
}

/// The page without its form token (which differs on every page).
fn without_token(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some(at) = rest.find(r#"name="csrf" value=""#) {
        let (head, tail) = rest.split_at(at + r#"name="csrf" value=""#.len());
        out.push_str(head);
        rest = &tail[tail.find('"').expect("end of the token")..];
    }
    out.push_str(rest);
    out
}

async fn ledger_actions(app: &TestApp) -> Vec<String> {
    let entries = app.portal.store.ledger_after(0, 1_000_000).await.expect("ledger");
    entries.into_iter().map(|e| e.entry.action).collect()
}

on_both_stores!(a_password_built_on_the_persons_details_is_refused_on_every_path, |app| {
    let dana = dana(&app).await;
    // The command line.
    let password = Password::new(ADDRESS_AND_YEAR);
    let new = NewUser {
        email: "kim@acme.example",
        name: "Kim Lee",
        role: Role::SuperAdmin,
        org_id: None,
        password: &password,
    };
    let refused = accounts::create_user(&app.portal.store, &new, app.now()).await;
    assert!(refused.is_err(), "the command line took the address and a year");

    // Joining by invitation.
    let acme = accounts::create_organization(&app.portal.store, "Acme Corp", app.now())
        .await
        .expect("org");
    let (_, token) = accounts::invite(
        &app.portal.store,
        &dana,
        "kim@acme.example",
        Role::OrgAdmin,
        Some(&acme.id),
        app.now(),
    )
    .await
    .expect("invitation");
    let mut browser = Browser::new(&app);
    let path = format!("/ui/invite/{}", token.expose());
    for weak in [ADDRESS_AND_YEAR, "AcmeCorp2024!", "Kim.Lee.1990!"] {
        let csrf = browser.get(&path).await.csrf();
        let form = [("name", "Kim Lee"), ("password", weak), ("again", weak), ("csrf", &csrf)];
        let answer = browser.post(&path, &form, None).await;
        assert_eq!(answer.status, 400, "{weak} was taken");
        assert!(
            answer.body.contains("This password is built on your email, name or organization"),
            "{weak}: {}",
            answer.body
        );
    }
    // Too easy to guess, in one sentence with zxcvbn's reason.
    let csrf = browser.get(&path).await.csrf();
    let form = [
        ("name", "Kim Lee"),
        ("password", "Sunshine2024!"),
        ("again", "Sunshine2024!"),
        ("csrf", &csrf),
    ];
    let answer = browser.post(&path, &form, None).await;
    assert_eq!(answer.status, 400);
    assert!(answer.body.contains("This password is too easy to guess ("), "{}", answer.body);
    let csrf = browser.get(&path).await.csrf();
    let form = [("name", "Kim Lee"), ("password", STRONG), ("again", STRONG), ("csrf", &csrf)];
    assert_eq!(browser.post(&path, &form, None).await.status, 303, "a strong one is taken");

    // The profile's change.
    let csrf = csrf_of(&mut browser).await;
    for weak in [ADDRESS_AND_YEAR, "acme corp 2024"] {
        let form = [("current", STRONG), ("new", weak), ("again", weak), ("csrf", &csrf)];
        let answer = browser.post("/ui/profile/password", &form, None).await;
        assert_eq!(answer.status, 400, "{weak} was taken");
        assert!(answer.body.contains("built on your email, name or organization"), "{weak}");
    }
    let form = [("current", STRONG), ("new", PASSWORD), ("again", PASSWORD), ("csrf", &csrf)];
    let changed = browser.post("/ui/profile/password", &form, None).await;
    assert_eq!(changed.status, 303, "{}", changed.body);

    // A reset link.
    let path = kims_reset_link(&app).await;
    let mut anyone = Browser::new(&app);
    let csrf = anyone.get(&path).await.csrf();
    let form = [("new", ADDRESS_AND_YEAR), ("again", ADDRESS_AND_YEAR), ("csrf", &csrf)];
    let answer = anyone.post(&path, &form, None).await;
    assert_eq!(answer.status, 400);
    assert!(answer.body.contains("built on your email, name or organization"), "{}", answer.body);
    // A refused password does not use the link up.
    let csrf = anyone.get(&path).await.csrf();
    let form = [("new", STRONG), ("again", STRONG), ("csrf", &csrf)];
    assert_eq!(anyone.post(&path, &form, None).await.status, 200);
    assert_eq!(Browser::new(&app).sign_in("kim@acme.example", STRONG).await.status, 303);
});

on_both_stores!(
    a_forgotten_password_request_is_answered_alike_for_known_and_unknown_addresses,
    tune = |layer| tessera_portal::config::Layer {
        // A relay nobody listens on: the answer never waits for it.
        smtp_url: Some("smtp://127.0.0.1:9".to_owned().into()),
        smtp_from: Some("portal@vendor.example".into()),
        public_url: Some("https://portal.vendor.example".into()),
        ..layer
    },
    |app| {
        kim(&app, PASSWORD).await;
        let signin = Browser::new(&app).get("/ui/signin").await;
        assert!(signin.body.contains(r#"href="/ui/forgot""#), "the sign-in page links to it");
        let mut browser = Browser::new(&app);
        let mut ask = async |email: &str| {
            let csrf = browser.get("/ui/forgot").await.csrf();
            browser.post("/ui/forgot", &[("email", email), ("csrf", &csrf)], None).await
        };
        let known = ask("Kim@Acme.example").await;
        let unknown = ask("nobody@acme.example").await;
        let malformed = ask("not an address").await;
        assert_eq!((known.status, unknown.status, malformed.status), (200, 200, 200));
        assert!(known.body.contains(SENT), "{}", known.body);
        assert_eq!(without_token(&known.body), without_token(&unknown.body));
        assert_eq!(without_token(&known.body), without_token(&malformed.body));
        // The same headers, cookies aside.
        let names = |page: &Page| {
            let mut names: Vec<String> = page.headers.keys().map(|k| k.to_string()).collect();
            names.sort();
            names
        };
        assert_eq!(names(&known), names(&unknown));

        // A form from elsewhere, or without its token, is refused.
        let forged =
            browser.post("/ui/forgot", &[("email", "kim@acme.example"), ("csrf", "x")], None).await;
        assert_eq!(forged.status, 403);

        // Limited per address, known or not alike.
        for email in ["kim@acme.example", "nobody@acme.example"] {
            let mut last = 0;
            for _ in 0..3 {
                let csrf = browser.get("/ui/forgot").await.csrf();
                last = browser
                    .post("/ui/forgot", &[("email", email), ("csrf", &csrf)], None)
                    .await
                    .status;
            }
            assert_eq!(last, 429, "{email}: the fourth request within the hour");
        }
        let csrf = browser.get("/ui/forgot").await.csrf();
        let other = browser
            .post("/ui/forgot", &[("email", "lee@acme.example"), ("csrf", &csrf)], None)
            .await;
        assert_eq!(other.status, 200, "another address is not held by them");
    }
);

on_both_stores!(new_passwords_sent_to_reset_links_are_rate_limited, |app| {
    kim(&app, PASSWORD).await;
    let path = kims_reset_link(&app).await;
    let mut browser = Browser::new(&app);
    let mut csrf = browser.get(&path).await.csrf();
    // Mistyped ten times: each is answered, none uses the link up.
    for _ in 0..10 {
        let differ = [("new", STRONG), ("again", "pewter orchard"), ("csrf", &csrf)];
        let answer = browser.post(&path, &differ, None).await;
        assert_eq!(answer.status, 400, "{}", answer.body);
        csrf = answer.csrf();
    }
    // The eleventh within the hour waits, and is told so in a sentence.
    let differ = [("new", STRONG), ("again", "pewter orchard"), ("csrf", &csrf)];
    let held = browser.post(&path, &differ, None).await;
    assert_eq!(held.status, 429, "{}", held.body);
    assert!(held.body.contains("Too many tries to set a new password"), "{}", held.body);
    assert!(held.headers.get("retry-after").is_some());
    // Another link is not held by this one's tries.
    let other = browser.post("/ui/reset/not-a-link", &differ, None).await;
    assert_eq!(other.status, 404);
    // Guessing links: the portal's overall allowance runs out too.
    let mut statuses = Vec::new();
    for n in 0..60 {
        let guess = format!("/ui/reset/guess-{n}");
        statuses.push(browser.post(&guess, &differ, None).await.status);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
});

on_both_stores!(without_a_mail_relay_the_forgot_page_says_to_ask_an_administrator, |app| {
    kim(&app, PASSWORD).await;
    let mut browser = Browser::new(&app);
    let page = browser.get("/ui/forgot").await;
    assert_eq!(page.status, 503);
    assert!(page.body.contains("ask one of them"), "{}", page.body);
    let csrf = page.csrf();
    let asked =
        browser.post("/ui/forgot", &[("email", "kim@acme.example"), ("csrf", &csrf)], None).await;
    assert_eq!(asked.status, 503);
    assert!(
        app.portal
            .store
            .ledger_after(0, 1000)
            .await
            .expect("ledger")
            .iter()
            .all(|e| e.entry.action != "user.password_reset_sent")
    );
});

on_both_stores!(a_reset_link_works_once_within_thirty_minutes_for_its_own_person_only, |app| {
    let kim = kim(&app, PASSWORD).await;
    dana(&app).await;
    let store = &app.portal.store;
    // Kim is signed in on a laptop, and someone has been guessing.
    let mut laptop = Browser::new(&app);
    assert_eq!(laptop.sign_in("kim@acme.example", PASSWORD).await.status, 303);
    let mut dana_browser = Browser::new(&app);
    assert_eq!(dana_browser.sign_in("dana@vendor.example", PASSWORD).await.status, 303);
    for _ in 0..2 {
        assert_eq!(
            Browser::new(&app).sign_in("kim@acme.example", "wrong wrong wrong").await.status,
            401
        );
    }
    assert_eq!(store.user(&kim.id).await.expect("db").expect("kim").failed_signins, 2);

    // An expired link, a link replaced by a newer one, an altered one: none works.
    let (_, expired) =
        accounts::request_password_reset(store, "kim@acme.example", minutes_ago(&app, 31))
            .await
            .expect("reset")
            .expect("kim");
    let mut anyone = Browser::new(&app);
    assert_eq!(anyone.get(&format!("/ui/reset/{}", expired.expose())).await.status, 404);
    let (_, older) =
        accounts::request_password_reset(store, "kim@acme.example", minutes_ago(&app, 29))
            .await
            .expect("reset")
            .expect("kim");
    let (_, token) = accounts::request_password_reset(store, "kim@acme.example", app.now())
        .await
        .expect("reset")
        .expect("kim");
    assert_eq!(anyone.get(&format!("/ui/reset/{}", older.expose())).await.status, 404, "replaced");
    let mut altered = token.expose().to_owned();
    altered.replace_range(0..1, if altered.starts_with('A') { "B" } else { "A" });
    assert_eq!(anyone.get(&format!("/ui/reset/{altered}")).await.status, 404);
    assert!(
        accounts::request_password_reset(store, "nobody@acme.example", app.now())
            .await
            .expect("ok")
            .is_none()
    );

    // The link names its person, and sets their password alone.
    let path = format!("/ui/reset/{}", token.expose());
    let form = anyone.get(&path).await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("kim@acme.example"), "{}", form.body);
    let csrf = form.csrf();
    let differ =
        anyone.post(&path, &[("new", STRONG), ("again", "other"), ("csrf", &csrf)], None).await;
    assert_eq!(differ.status, 400);
    let csrf = anyone.get(&path).await.csrf();
    let done =
        anyone.post(&path, &[("new", STRONG), ("again", STRONG), ("csrf", &csrf)], None).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Your password is changed"), "{}", done.body);
    assert!(
        done.set_cookies.iter().all(|c| !c.starts_with("tessera_session=")),
        "not signed in by the link"
    );

    // Kim's other sessions ended, the failures are cleared, the ledger has it.
    assert_eq!(laptop.get("/ui").await.status, 303, "the laptop's session ended");
    assert_eq!(store.user(&kim.id).await.expect("db").expect("kim").failed_signins, 0);
    let actions = ledger_actions(&app).await;
    assert!(actions.iter().any(|a| a == "user.password_reset_sent"), "{actions:?}");
    assert!(actions.iter().any(|a| a == "user.password_reset"), "{actions:?}");
    assert_eq!(Browser::new(&app).sign_in("kim@acme.example", PASSWORD).await.status, 401);
    assert_eq!(Browser::new(&app).sign_in("kim@acme.example", STRONG).await.status, 303);
    // Dana, the other person, keeps her password and her session.
    assert_eq!(dana_browser.get("/ui").await.status, 200);
    assert_eq!(Browser::new(&app).sign_in("dana@vendor.example", PASSWORD).await.status, 303);

    // Used once: neither the page nor the form works again, not even for another password.
    assert_eq!(anyone.get(&path).await.status, 404);
    let csrf = anyone.get("/ui/signin").await.csrf();
    let again = anyone
        .post(
            &path,
            &[
                ("new", "another quite long one"),
                ("again", "another quite long one"),
                ("csrf", &csrf),
            ],
            None,
        )
        .await;
    assert_eq!(again.status, 404);
    assert_eq!(Browser::new(&app).sign_in("kim@acme.example", STRONG).await.status, 303);

    // A link asked for before a password change dies with it.
    let (_, before) = accounts::request_password_reset(store, "kim@acme.example", app.now())
        .await
        .expect("reset")
        .expect("kim");
    let fresh = store.user(&kim.id).await.expect("db").expect("kim");
    accounts::change_password(
        store,
        &fresh,
        &Password::new(STRONG),
        &Password::new(PASSWORD),
        app.now(),
    )
    .await
    .expect("changed");
    assert_eq!(anyone.get(&format!("/ui/reset/{}", before.expose())).await.status, 404);
});

on_both_stores!(an_invitation_to_an_address_with_an_account_answers_as_any_other, |app| {
    dana(&app).await;
    kim(&app, PASSWORD).await;
    let acme = app.portal.store.organizations("", 10).await.expect("orgs").remove(0);
    // Kim, an org-admin, cannot see Dana (the vendor's staff): inviting her address must
    // not tell Kim that it has an account.
    let mut browser = Browser::new(&app);
    assert_eq!(browser.sign_in("kim@acme.example", PASSWORD).await.status, 303);
    let csrf = csrf_of(&mut browser).await;
    let mut invite = async |email: &str| {
        let form =
            [("email", email), ("role", "org-admin"), ("org", acme.id.as_str()), ("csrf", &csrf)];
        browser.post("/ui/users/invite", &form, None).await
    };
    let taken = invite("dana@vendor.example").await;
    let new = invite("lee@acme.example").await;
    assert_eq!((taken.status, new.status), (200, 200), "{}", taken.body);
    for page in [&taken, &new] {
        assert!(page.body.contains("/ui/invite/"), "{}", page.body);
        assert!(!page.body.contains("already"), "{}", page.body);
    }
    // Its link cannot make a second account, nor change Dana's.
    let link = invitation_link(&taken);
    let mut anyone = Browser::new(&app);
    let csrf = anyone.get(&link).await.csrf();
    let form = [("name", "Mallory"), ("password", STRONG), ("again", STRONG), ("csrf", &csrf)];
    assert_ne!(anyone.post(&link, &form, None).await.status, 303);
    let dana =
        app.portal.store.user_by_email("dana@vendor.example").await.expect("db").expect("dana");
    assert_eq!((dana.role.as_str(), dana.name.as_str()), ("super-admin", "Dana Smith"));
    assert_eq!(Browser::new(&app).sign_in("dana@vendor.example", PASSWORD).await.status, 303);
    assert_eq!(Browser::new(&app).sign_in("dana@vendor.example", STRONG).await.status, 401);
});

on_both_stores!(the_second_factor_setup_shows_a_qr_code_of_the_authenticator_address, |app| {
    dana(&app).await;
    let mut browser = Browser::new(&app);
    assert_eq!(browser.sign_in("dana@vendor.example", PASSWORD).await.status, 303);
    let page = browser.get("/ui/profile/second-factor").await;
    assert_eq!(page.status, 200, "{}", page.body);
    // The key stays on the page as text, and the address names the portal and the person.
    let secret = code_after(&page, "with this key");
    assert_eq!(secret.len(), 32, "{secret}");
    let uri = format!(
        "otpauth://totp/Tessera%20portal:dana@vendor.example?secret={secret}&issuer=Tessera%20portal&digits=6&period=30"
    );
    assert!(page.body.contains(&uri.replace('&', "&amp;")), "{}", page.body);
    // The QR code is inline SVG with a text alternative, and holds exactly that address:
    // drawn here again from it, the modules are the same.
    let at = page.body.find("<svg ").expect("an inline SVG");
    let shown = &page.body[at..at + page.body[at..].find("</svg>").expect("end")];
    assert!(
        shown.starts_with(r#"<svg role="img" aria-label="QR code of the authenticator address"#),
        "{shown}"
    );
    assert!(!page.body.contains("<?xml"), "no XML declaration inside HTML");
    let expected = qrcode::QrCode::with_error_correction_level(uri.as_bytes(), qrcode::EcLevel::M)
        .expect("qr")
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build();
    let modules =
        |svg: &str| svg[svg.find(r#" d=""#).expect("path")..].split('"').nth(1).map(str::to_owned);
    assert_eq!(modules(shown), modules(&expected));
    let other = qrcode::QrCode::with_error_correction_level(
        uri.replace("dana@", "kim@").as_bytes(),
        qrcode::EcLevel::M,
    )
    .expect("qr")
    .render::<qrcode::render::svg::Color<'_>>()
    .min_dimensions(200, 200)
    .build();
    assert_ne!(modules(shown), modules(&other), "another account draws another code");
});

on_both_stores!(a_signed_in_session_gets_no_free_guesses_at_its_own_password, |app| {
    kim(&app, STRONG).await;
    let mut browser = Browser::new(&app);
    assert_eq!(browser.sign_in("kim@acme.example", STRONG).await.status, 303);
    let csrf = csrf_of(&mut browser).await;
    let change = |current: &'static str| {
        [("current", current), ("new", PASSWORD), ("again", PASSWORD), ("csrf", csrf.as_str())]
    };
    // Four wrong guesses are answered as wrong; then the delays of a sign-in begin, for the
    // right password too, and for the other checks of one's own password.
    for _ in 0..4 {
        let wrong = browser.post("/ui/profile/password", &change("not my password"), None).await;
        assert_eq!(wrong.status, 400);
        assert!(wrong.body.contains("current password is wrong"), "{}", wrong.body);
    }
    let held = browser.post("/ui/profile/password", &change(STRONG), None).await;
    assert_eq!(held.status, 400);
    assert!(held.body.contains("Too many wrong passwords"), "{}", held.body);
    let form = [("password", STRONG), ("csrf", csrf.as_str())];
    let off = browser.post("/ui/profile/second-factor/off", &form, None).await;
    assert!(off.body.contains("Too many wrong passwords"), "{}", off.body);
    let user = app.portal.store.user_by_email("kim@acme.example").await.expect("db").expect("kim");
    assert_eq!(user.failed_signins, 4, "each wrong guess counted; the held ones are not checked");
    // Once the delay is over, the right password changes it (and clears the count).
    app.clock.advance(std::time::Duration::from_secs(60));
    let changed = browser.post("/ui/profile/password", &change(STRONG), None).await;
    assert_eq!(changed.status, 303, "{}", changed.body);
    let user = app.portal.store.user_by_email("kim@acme.example").await.expect("db").expect("kim");
    assert_eq!(user.failed_signins, 0);
});
