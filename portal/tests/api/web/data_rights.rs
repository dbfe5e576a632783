//! One's rights over one's data on the pages and the API: the download, erasure, a new
//! email address, an organization's data.

use super::*;

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
    // ...and invites a colleague.
    accounts::invite(
        &app.portal.store,
        &kim,
        "lee@acme.example",
        Role::OrgAdmin,
        Some(&acme.id),
        app.now(),
    )
    .await
    .expect("invitation");

    let vendor =
        app.get(&format!("/v1/admin/people/{}/export", kim.id), Some(&app.admin_key)).await;
    assert_eq!(vendor.status, 200);
    assert_eq!(vendor.body["profile"]["email"], "ops@acme.example");
    assert_eq!(vendor.body["ledger_entries_as_actor"][0]["action"], "user.name_changed");
    // Everything held about her: the last sign-in, codes left, what she sent, what names her.
    assert!(vendor.body["profile"]["last_signed_in_at"].is_i64(), "{}", vendor.body);
    assert_eq!(vendor.body["profile"]["recovery_codes_left"], 0);
    assert_eq!(vendor.body["invitations_sent"][0]["email"], "lee@acme.example");
    let about = vendor.body["ledger_entries_about_them"].as_array().expect("entries about her");
    assert!(about.iter().any(|e| e["action"] == "user.name_changed"), "{about:?}");
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

on_both_stores!(an_email_change_to_an_address_with_an_account_is_answered_alike, |app| {
    person(&app, "dana@vendor.example", Role::SuperAdmin, None).await;
    let acme = accounts::create_organization(&app.portal.store, "Acme Corp", app.now())
        .await
        .expect("org");
    person(&app, "kim@acme.example", Role::OrgAdmin, Some(&acme.id)).await;
    let mut kim = Browser::new(&app);
    assert_eq!(kim.sign_in("kim@acme.example", PASSWORD).await.status, 303);
    let csrf = csrf_of(&mut kim).await;
    let mut ask = async |email: &str| {
        let page = kim.post("/ui/profile/email", &[("email", email), ("csrf", &csrf)], None).await;
        let at = page.body.find("/ui/email/").expect("a confirmation link");
        let link = page.body[at..at + "/ui/email/".len() + 43].to_owned();
        // The answer without its link and the address: the same words.
        let words = page.body.replace(&link, "LINK").replace(email, "EMAIL");
        (page.status, words, link)
    };
    let (taken_status, taken_words, taken_link) = ask("dana@vendor.example").await;
    let (free_status, free_words, _) = ask("kim.lee@acme.example").await;
    assert_eq!((taken_status, free_status), (200, 200));
    assert_eq!(taken_words, free_words, "an address with an account is told apart");
    // The stand-in link changes nothing: no one's email is Dana's twice, Dana keeps hers.
    let mut mailbox = Browser::new(&app);
    let page = mailbox.get(&taken_link).await;
    let csrf = page.csrf();
    assert_eq!(mailbox.post(&taken_link, &[("csrf", &csrf)], None).await.status, 404);
    let dana = app.portal.store.user_by_email("dana@vendor.example").await.expect("db");
    assert_eq!(dana.expect("dana").name, "Dana Smith");
    assert!(app.portal.store.user_by_email("kim@acme.example").await.expect("db").is_some());
});
