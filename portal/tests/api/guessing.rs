//! Guessing is slowed however it is tried: attempts sent in parallel are each counted and
//! wait their turn, a known password does not buy undelayed guesses at the second factor,
//! and a held account answers as an unknown address does.

use std::sync::Arc;

use tessera_portal::domain::accounts::{self, Password, Role, SignIn};
use tessera_portal::domain::totp;
use tessera_portal::store::UserRow;

use crate::helpers::TestApp;
use crate::on_both_stores;
use crate::people::PASSWORD;

async fn person(app: &TestApp, email: &str) -> UserRow {
    crate::people::person(app, email, Role::SuperAdmin, None).await
}

/// A form value as a browser sends it (enough for these addresses, words and tokens).
fn escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn untrusted(_: &UserRow) -> bool {
    false
}

/// The portal's secret as these calls hand it to the sign-in (an unknown address's count
/// is kept under its tag).
const SECRET: &[u8] = b"the portal's secret in these tests";

on_both_stores!(an_unknown_address_is_counted_and_held_as_an_account_is, |app| {
    let dana = person(&app, "dana@vendor.example").await;
    let store = app.portal.store.clone();
    let tag = accounts::unknown_address_tag(SECRET, " Nobody@Vendor.example");
    let wrong = Password::new("guessing guessing");
    for tries in 1..=8i64 {
        let now = app.now();
        for email in ["dana@vendor.example", "nobody@vendor.example"] {
            let answer = accounts::sign_in(&store, SECRET, email, &wrong, &untrusted, now).await;
            assert!(matches!(answer.expect("sign in"), SignIn::Refused), "{email}");
        }
        // The same count and the same delay, written the same way: the unknown address's
        // tries read and write as many rows as the account's.
        let known = store.user(&dana.id).await.expect("db").expect("dana");
        let unknown = store.unknown_address_signins(&tag).await.expect("db");
        assert_eq!(
            unknown,
            Some((known.failed_signins, known.next_signin_at)),
            "after {tries} tries"
        );
        app.clock.advance(std::time::Duration::from_secs(1));
    }
    // The address itself is stored nowhere.
    let raw: Vec<String> = sqlx::query_scalar("SELECT address_tag FROM unknown_address_signins")
        .fetch_all(store.pool())
        .await
        .expect("rows");
    assert_eq!(raw, vec![tag.clone()]);
    assert!(!tag.contains("nobody"), "{tag}");
    // Forgotten a day after the last try.
    let later = app.now().as_unix() + 2 * 86_400;
    assert_eq!(store.delete_old_unknown_address_signins(later - 86_400).await.expect("db"), 1);
    assert_eq!(store.unknown_address_signins(&tag).await.expect("db"), None);
});

on_both_stores!(a_known_and_an_unknown_address_take_alike_long_to_refuse, |app| {
    let dana = person(&app, "dana@vendor.example").await;
    let store = app.portal.store.clone();
    let wrong = Password::new("guessing guessing");
    let now = app.now();
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    // Alternating, each a first try (the account's count cleared in between, outside the
    // time taken; a new unknown address each time): the tries that write the count.
    for round in 0..30 {
        accounts::clear_signin_delays(&store, &dana).await.expect("clear");
        let started = std::time::Instant::now();
        let answer =
            accounts::sign_in(&store, SECRET, "dana@vendor.example", &wrong, &untrusted, now).await;
        known.push(started.elapsed());
        assert!(matches!(answer.expect("sign in"), SignIn::Refused));
        let email = format!("nobody{round}@vendor.example");
        let started = std::time::Instant::now();
        let answer = accounts::sign_in(&store, SECRET, &email, &wrong, &untrusted, now).await;
        unknown.push(started.elapsed());
        assert!(matches!(answer.expect("sign in"), SignIn::Refused));
    }
    let median = |mut times: Vec<std::time::Duration>| {
        times.sort();
        times[times.len() / 2].as_secs_f64() * 1e3
    };
    let (known, unknown) = (median(known), median(unknown));
    // Loosely (a shared machine): neither is much slower than the other.
    assert!(known <= unknown * 1.5 + 2.0, "known {known:.2} ms, unknown {unknown:.2} ms");
    assert!(unknown <= known * 1.5 + 2.0, "known {known:.2} ms, unknown {unknown:.2} ms");
});

on_both_stores!(parallel_guesses_are_each_counted_and_wait_their_turn, |app| {
    let dana = person(&app, "dana@vendor.example").await;
    let store = Arc::new(app.portal.store.clone());
    let now = app.now();
    let guesses = (0..12).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            let guess = Password::new(format!("guessing number {i}"));
            accounts::sign_in(&store, SECRET, "dana@vendor.example", &guess, &untrusted, now).await
        })
    });
    for guess in futures_util::future::join_all(guesses).await {
        assert!(matches!(guess.expect("task").expect("sign in"), SignIn::Refused));
    }
    // Four were checked (the fourth starts the delays); the other eight waited, unchecked.
    // Before, a race let every one be checked and the count rose by one.
    let after = store.user(&dana.id).await.expect("db").expect("user");
    assert_eq!(after.failed_signins, 4, "each checked guess counted, no more were checked");
    assert!(after.next_signin_at > now.as_unix(), "the delay is on");
    // Even the right password waits now, and says no more than a wrong one.
    let right = Password::new(PASSWORD);
    let held =
        accounts::sign_in(&store, SECRET, "dana@vendor.example", &right, &untrusted, now).await;
    assert!(matches!(held.expect("sign in"), SignIn::Refused));
});

on_both_stores!(the_second_factor_is_delayed_too_after_a_right_password, |app| {
    let dana = person(&app, "dana@vendor.example").await;
    let store = app.portal.store.clone();
    let secret = totp::new_secret().expect("secret");
    store.set_second_factor(&dana.id, Some(&secret), &[]).await.expect("2fa on");
    let right = Password::new(PASSWORD);
    let mut checked = 0;
    let mut held = false;
    for _ in 0..12 {
        let now = app.now();
        let user =
            match accounts::sign_in(&store, SECRET, "dana@vendor.example", &right, &untrusted, now)
                .await
                .expect("sign in")
            {
                SignIn::Welcome(user) => *user,
                _ => {
                    held = true;
                    break;
                }
            };
        match accounts::second_step(&store, &user, "000000", false, now).await.expect("code") {
            SignIn::Refused => checked += 1,
            SignIn::Wait(secs) => {
                assert!(secs > 0);
                held = true;
                break;
            }
            SignIn::Welcome(_) => panic!("a wrong code was taken"),
        }
    }
    assert!(held, "wrong codes behind a right password were never delayed ({checked} checked)");
    // Codes have their own count: the 4th wrong one starts the delays, as for passwords.
    assert!(checked <= 4, "{checked} wrong codes checked before the delay");
    // The person, later, with the right code: in, and the count starts again.
    app.clock.advance(std::time::Duration::from_secs(3600));
    let now = app.now();
    let SignIn::Welcome(user) =
        accounts::sign_in(&store, SECRET, "dana@vendor.example", &right, &untrusted, now)
            .await
            .expect("in")
    else {
        panic!("the right password after the delay")
    };
    let code = format!("{:06}", totp::code_at(&secret, totp::step_of(now)).expect("code"));
    let done = accounts::second_step(&store, &user, &code, false, now).await.expect("code");
    assert!(matches!(done, SignIn::Welcome(_)));
    assert_eq!(store.user(&dana.id).await.expect("db").expect("user").failed_signins, 0);
    assert_eq!(store.code_failures(&dana.id).await.expect("db"), Some((0, 0)));
});

on_both_stores!(wrong_codes_and_wrong_passwords_are_counted_and_delayed_apart, |app| {
    let dana = person(&app, "dana@vendor.example").await;
    let store = app.portal.store.clone();
    let secret = totp::new_secret().expect("secret");
    store.set_second_factor(&dana.id, Some(&secret), &[]).await.expect("2fa on");
    let right = Password::new(PASSWORD);
    let now = app.now();
    let code = format!("{:06}", totp::code_at(&secret, totp::step_of(now)).expect("code"));
    let signed = async || match accounts::sign_in(
        &store,
        SECRET,
        "dana@vendor.example",
        &right,
        &untrusted,
        now,
    )
    .await
    .expect("sign in")
    {
        SignIn::Welcome(user) => *user,
        other => panic!("the right password was refused: {other:?}"),
    };
    // Wrong codes until the code step is held.
    let user = signed().await;
    let mut wrong = 0;
    while let SignIn::Refused =
        accounts::second_step(&store, &user, "000000", false, now).await.expect("code")
    {
        wrong += 1;
        assert!(wrong <= 4, "wrong codes were never delayed");
    }
    let actions: Vec<String> = store
        .ledger_after(0, 1000)
        .await
        .expect("ledger")
        .into_iter()
        .map(|e| e.entry.action)
        .collect();
    assert!(actions.iter().any(|a| a == "user.code_delayed"), "{actions:?}");
    // The password step is not held by them, and a right password does not lift the code's
    // delay: even the right code waits.
    let user = signed().await;
    assert_eq!(store.user(&dana.id).await.expect("db").expect("user").failed_signins, 0);
    let held = accounts::second_step(&store, &user, &code, false, now).await.expect("code");
    assert!(matches!(held, SignIn::Wait(secs) if secs > 0), "{held:?}");
    // Later, the right code: in, and the code count starts again.
    app.clock.advance(std::time::Duration::from_secs(3600));
    let now = app.now();
    let code = format!("{:06}", totp::code_at(&secret, totp::step_of(now)).expect("code"));
    let user =
        match accounts::sign_in(&store, SECRET, "dana@vendor.example", &right, &untrusted, now)
            .await
            .expect("sign in")
        {
            SignIn::Welcome(user) => *user,
            other => panic!("{other:?}"),
        };
    let done = accounts::second_step(&store, &user, &code, false, now).await.expect("code");
    assert!(matches!(done, SignIn::Welcome(_)), "{done:?}");
    assert_eq!(store.code_failures(&dana.id).await.expect("db"), Some((0, 0)));

    // Wrong passwords hold the password step, and leave the code count alone.
    let stranger = Password::new("not the password at all");
    for _ in 0..6 {
        let _ =
            accounts::sign_in(&store, SECRET, "dana@vendor.example", &stranger, &untrusted, now)
                .await;
    }
    let held = accounts::sign_in(&store, SECRET, "dana@vendor.example", &right, &untrusted, now)
        .await
        .expect("sign in");
    assert!(matches!(held, SignIn::Refused), "{held:?}");
    assert_eq!(store.code_failures(&dana.id).await.expect("db"), Some((0, 0)));
});

on_both_stores!(a_held_account_answers_as_an_unknown_address_does, |app| {
    person(&app, "dana@vendor.example").await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let sign_in = |email: &'static str, password: &'static str| {
        let http = http.clone();
        let address = app.address.clone();
        async move {
            // The sign-in form's token: its cookie and hidden field.
            let form = http.get(format!("{address}/ui/signin")).send().await.expect("form");
            let cookie = form
                .headers()
                .get_all(reqwest::header::SET_COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .map(|v| v.split(';').next().unwrap_or("").to_owned())
                .collect::<Vec<_>>()
                .join("; ");
            let body = form.text().await.expect("body");
            let at = body.find("name=\"csrf\" value=\"").expect("csrf") + 19;
            let csrf = body[at..at + body[at..].find('"').expect("end")].to_owned();
            let answer = http
                .post(format!("{address}/ui/signin"))
                .header(reqwest::header::COOKIE, cookie)
                .header(reqwest::header::ORIGIN, &address)
                .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(format!(
                    "email={}&password={}&csrf={}",
                    escape(email),
                    escape(password),
                    escape(&csrf)
                ))
                .send()
                .await
                .expect("sign in");
            let status = answer.status().as_u16();
            let text = answer.text().await.expect("body");
            let message = text
                .split("role=\"alert\"")
                .nth(1)
                .map(|rest| rest[..rest.find("</").unwrap_or(rest.len())].to_owned())
                .unwrap_or_default();
            (status, message)
        }
    };
    for _ in 0..6 {
        sign_in("dana@vendor.example", "guessing guessing").await;
        sign_in("nobody@vendor.example", "guessing guessing").await;
    }
    let known = sign_in("dana@vendor.example", "guessing guessing").await;
    let unknown = sign_in("nobody@vendor.example", "guessing guessing").await;
    assert_eq!(known.0, 401, "a held account: {known:?}");
    assert_eq!(known, unknown, "the same answer for a held account and an unknown address");
    assert!(known.1.contains("Wrong email or password"), "{known:?}");
});
