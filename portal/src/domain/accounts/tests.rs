use super::*;

#[test]
fn a_password_hash_verifies_only_its_password() {
    let hash = hash_password(&Password::new("correct horse battery")).expect("hash");
    assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
    assert!(verify_password(&Password::new("correct horse battery"), &hash));
    assert!(!verify_password(&Password::new("correct horse batterz"), &hash));
    assert!(!verify_password(&Password::new("correct horse battery"), "$argon2id$junk"));
    let costly = hash.replace("m=19456", "m=99999999");
    assert!(!verify_password(&Password::new("correct horse battery"), &costly));
}

#[test]
fn short_common_weak_and_personal_passwords_are_refused() {
    let email = "dana.smith@example.com";
    let personal = ["Dana Smith", "Acme Corp"];
    let refused = |bad: &str| match check_new_password(&Password::new(bad), email, &personal) {
        Err(AccountError::Invalid(why)) => why,
        other => panic!("{bad}: {other:?}"),
    };
    for bad in ["short", "Password1234", "aaaaaaaaaaaaaaaa", "qwertyuiopasdf"] {
        refused(bad);
    }
    // The address and a year; the name and a year; the organization and a year.
    for bad in
        ["dana.smith2024!!", "danasmith@2024", "Smith.Dana.2024", "AcmeCorp2024!", "acme-corp-1999"]
    {
        assert!(refused(bad).contains("email, name or organization"), "{bad}");
    }
    // A word and a year: zxcvbn's own reason, in one sentence.
    let why = refused("Sunshine2024!");
    assert!(why.starts_with("this password is too easy to guess ("), "{why}");
    for good in ["tram lantern quietly", "correct horse battery staple", "v8#Kq2!zLp0@Wd"] {
        assert!(check_new_password(&Password::new(good), email, &personal).is_ok(), "{good}");
    }
}

#[test]
fn personal_details_backwards_or_in_leetspeak_are_refused_and_strong_passwords_are_not() {
    let email = "john.doe@example.com";
    let personal = ["John Doe", "Initech"];
    let check = |password: &str| check_new_password(&Password::new(password), email, &personal);
    for bad in [
        "nhoj.eod.nhoj",
        "nhojeod!2026",
        "j0hn.d0e2026",
        "J0HN-D03-1999!",
        "eod.nhoj.2024?",
        "1n1t3ch.j0hn!!",
        "hcetini#2025#",
        "d0e.j0hn.1987",
    ] {
        match check(bad) {
            Err(AccountError::Invalid(why)) => {
                assert!(why.contains("email, name or organization"), "{bad}: {why}");
            }
            other => panic!("{bad} was taken: {other:?}"),
        }
    }
    // No wrong "no": strong passwords, some with digits leetspeak would read as letters, some
    // with a word that holds a detail backwards ("eod" in "geode"), or the name among others.
    for good in [
        "tram lantern quietly",
        "correct horse battery staple",
        "v8#Kq2!zLp0@Wd",
        "geode walrus 4417 plinth",
        "john ferried 37 violet umbrellas",
        "pewter orchard wildly 1053",
        "Quokka-Saffron-Tundra-73",
    ] {
        assert!(check(good).is_ok(), "{good}: {:?}", check(good));
    }
}

#[test]
fn delays_grow_and_stop_at_fifteen_minutes() {
    let delays: Vec<i64> = (0..20).map(signin_delay).collect();
    assert_eq!(&delays[..8], &[0, 0, 0, 0, 1, 2, 4, 8]);
    assert_eq!(delays[19], 900);
    assert!(delays.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn emails_are_lower_cased_and_checked() {
    assert_eq!(normalize_email("  Dana@Example.COM ").expect("email"), "dana@example.com");
    for bad in ["dana", "dana@", "@example.com", "a@b@c.com", "da na@example.com", "x@localhost"] {
        assert!(normalize_email(bad).is_err(), "{bad}");
    }
}

#[test]
fn secrets_stay_out_of_debug() {
    assert_eq!(format!("{:?}", Password::new("hunter2hunter2")), "Password(…)");
    assert_eq!(format!("{:?}", SessionToken("abc".into())), "SessionToken(…)");
}

#[tokio::test]
async fn the_password_check_runs_off_the_async_workers_with_the_same_answers() {
    let weak = Password::new("Sunshine2024!");
    assert!(check_new_password_async(&weak, "dana@example.com", &["Dana"]).await.is_err());
    let strong = Password::new("pewter orchard wildly");
    assert!(check_new_password_async(&strong, "dana@example.com", &["Dana"]).await.is_ok());
}
