//! Emailed links (invitations, password resets) are built from the configured `public_url`
//! alone, never from the request's `Host` header, which anyone can forge.

use tessera_portal::domain::accounts::{self, Password};

use super::csrf_of;
use super::passwords::{STRONG, dana, kim};
use crate::mail::{Relay, aiosmtpd};
use crate::people::{Browser, PASSWORD, Page, encode};

/// A POST with a forged `Host` header (and an `Origin` to match), as anyone can send.
async fn post_with_host(
    browser: &mut Browser<'_>,
    path: &str,
    form: &[(&str, &str)],
    host: &str,
) -> Page {
    let response = browser
        .http
        .post(format!("{}{path}", browser.app.address))
        .header("host", host)
        // Accepted only if the portal saw the forged Host (an Origin must match it): proof
        // that the header got through.
        .header("origin", format!("http://{host}"))
        .header("cookie", browser.cookie_header())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode(form))
        .send()
        .await
        .expect("POST");
    browser.take(response).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emailed_links_are_built_from_the_public_url_never_a_forged_host() {
    let Some(python) = aiosmtpd() else { return };
    let relay = Relay::start(&python);
    let app = crate::mail::app_with(&relay).await;
    let kim = kim(&app, PASSWORD).await;
    dana(&app).await;
    let forged = "attacker.example";

    // A forgotten password, asked for with a forged Host.
    let mut anyone = Browser::new(&app);
    let csrf = anyone.get("/ui/forgot").await.csrf();
    let asked = post_with_host(
        &mut anyone,
        "/ui/forgot",
        &[("email", "kim@acme.example"), ("csrf", &csrf)],
        forged,
    )
    .await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    // (Waiting for the text after the link: the whole link has been printed.)
    let printed = relay.wait_for("your password stays as it is");
    assert!(printed.contains("To: kim@acme.example"), "{printed}");
    assert!(printed.contains("Reset your Tessera license portal password"), "{printed}");
    assert!(!printed.contains(forged), "the forged host is in the email: {printed}");
    let at = printed.find("https://portal.vendor.example/ui/reset/").expect("the public address");
    let link = &printed[at..at + "https://portal.vendor.example/ui/reset/".len() + 43];
    let path = link.trim_start_matches("https://portal.vendor.example");

    // The emailed link works, once.
    let csrf = anyone.get(path).await.csrf();
    let done =
        anyone.post(path, &[("new", STRONG), ("again", STRONG), ("csrf", &csrf)], None).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(anyone.get(path).await.status, 404);
    let fresh = app.portal.store.user(&kim.id).await.expect("db").expect("kim");
    assert!(accounts::verify_password(&Password::new(STRONG), &fresh.password_hash));

    // An invitation made with a forged Host: the page and the email name the public address.
    let mut dana_browser = Browser::new(&app);
    assert_eq!(dana_browser.sign_in("dana@vendor.example", PASSWORD).await.status, 303);
    let csrf = csrf_of(&mut dana_browser).await;
    let made = post_with_host(
        &mut dana_browser,
        "/ui/users/invite",
        &[("email", "lee@vendor.example"), ("role", "super-admin"), ("org", ""), ("csrf", &csrf)],
        forged,
    )
    .await;
    assert_eq!(made.status, 200, "{}", made.body);
    assert!(!made.body.contains(forged), "{}", made.body);
    let printed = relay.wait_for("nothing happens unless the link");
    assert!(printed.contains("To: lee@vendor.example"), "{printed}");

    // An invitation to an address that has an account: the page says what it says for any,
    // and the person is told they have one, with no link that could make another.
    let made = dana_browser
        .post(
            "/ui/users/invite",
            &[("email", "kim@acme.example"), ("role", "super-admin"), ("org", ""), ("csrf", &csrf)],
            None,
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.body);
    assert!(made.body.contains("emailed to kim@acme.example"), "{}", made.body);
    // The page says the same for an address with an account: no link, nothing "already".
    assert!(!made.body.contains("/ui/invite/") && !made.body.contains("already"), "{}", made.body);
    // (Waiting for its last line: the relay prints a message as it comes.)
    let printed = relay.wait_for("If you did not expect this, ignore this email.");
    let mail = &printed[printed.rfind("MESSAGE FOLLOWS").expect("a message")..];
    assert!(mail.contains("To: kim@acme.example"), "{mail}");
    assert!(mail.contains("already has an account"), "{mail}");
    assert!(!mail.contains("/ui/invite/"), "no invitation link: {mail}");
    assert!(mail.contains("https://portal.vendor.example/ui/forgot"), "{mail}");
    assert!(printed.contains("https://portal.vendor.example/ui/invite/"), "{printed}");
    assert!(!printed.contains(forged), "the forged host is in the email: {printed}");
}
