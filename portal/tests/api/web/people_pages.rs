//! The people and API key pages as each role reads them: last sign-in and two-step state,
//! pending invitations cancelled and re-sent, keys with their owner and last use, and the
//! confirmation before a key is revoked — each page and action tried as the vendor's staff,
//! an org-admin of the organization and an org-admin of another one.

use tessera_portal::domain::accounts::UserRow;

use super::*;

/// A person with a name of their own and [`PASSWORD`].
pub(super) async fn named(
    app: &TestApp,
    email: &str,
    name: &str,
    role: Role,
    org: Option<&str>,
) -> UserRow {
    let password = Password::new(PASSWORD);
    let new = NewUser { email, name, role, org_id: org, password: &password };
    accounts::create_user(&app.portal.store, &new, app.now()).await.expect("user")
}

/// A browser signed in as `email`.
pub(super) async fn signed_in<'a>(app: &'a TestApp, email: &str) -> Browser<'a> {
    let mut browser = Browser::new(app);
    assert_eq!(browser.sign_in(email, PASSWORD).await.status, 303, "{email} signs in");
    browser
}

/// The hash that names an invitation in its buttons' addresses, the first after `email`.
fn invitation_id(page: &Page, email: &str) -> String {
    let at = page.body.find(&format!(">{email}</td>")).expect("the invitation's row");
    let rest = &page.body[at..];
    let start = rest.find("/ui/invitations/").expect("its buttons") + "/ui/invitations/".len();
    rest[start..start + 64].to_owned()
}

on_both_stores!(invitations_are_listed_cancelled_and_re_sent_by_whoever_may, |app| {
    let acme = accounts::create_organization(&app.portal.store, "Acme Corp", app.now())
        .await
        .expect("org");
    let globex =
        accounts::create_organization(&app.portal.store, "Globex", app.now()).await.expect("org");
    named(&app, "dana@vendor.example", "Dana Smith", Role::SuperAdmin, None).await;
    let kim = named(&app, "kim@acme.example", "Kim Lee", Role::OrgAdmin, Some(&acme.id)).await;
    named(&app, "zed@globex.example", "Zed Park", Role::OrgAdmin, Some(&globex.id)).await;
    assert_eq!(kim.last_signin_at, None);
    let mut dana = signed_in(&app, "dana@vendor.example").await;
    let mut kim_b = signed_in(&app, "kim@acme.example").await;
    let mut zed = signed_in(&app, "zed@globex.example").await;
    let kim_now = app.portal.store.user(&kim.id).await.expect("db").expect("kim");
    assert_eq!(kim_now.last_signin_at, Some(app.now().as_unix()), "the sign-in is noted");

    // The list: role, organization by name (a link), two-step sign-in, last sign-in.
    let csrf = csrf_of(&mut kim_b).await;
    let made = kim_b.invite_org_admin("lee@acme.example", &acme.id, &csrf).await;
    assert_eq!(made.status, 200, "{}", made.body);
    let first_link = invitation_link(&made);
    let csrf_d = csrf_of(&mut dana).await;
    let form = [("email", "sam@vendor.example"), ("role", "super-admin"), ("csrf", &csrf_d)];
    assert_eq!(dana.post("/ui/users/invite", &form, None).await.status, 200);
    let people = dana.get("/ui/users").await;
    for shown in [
        "Last sign-in",
        "Two-step sign-in",
        r#"<a href="/ui/licenses?org=Acme%20Corp">Acme Corp</a>"#,
        "lee@acme.example",
        "sam@vendor.example",
        &app.now().to_rfc3339()[..10],
    ] {
        assert!(people.body.contains(shown), "{shown} not on the page:\n{}", people.body);
    }
    let lee = invitation_id(&people, "lee@acme.example");
    let sam = invitation_id(&people, "sam@vendor.example");

    // Another organization's admin neither sees nor touches Acme's invitation; an org-admin
    // never the vendor's.
    let zed_page = zed.get("/ui/users").await;
    assert!(!zed_page.body.contains("lee@acme.example") && !zed_page.body.contains(&lee));
    let csrf_z = zed_page.csrf();
    for action in ["cancel", "resend"] {
        let tried =
            zed.post(&format!("/ui/invitations/{lee}/{action}"), &[("csrf", &csrf_z)], None).await;
        assert_eq!(tried.status, 404, "{action}");
        let tried =
            kim_b.post(&format!("/ui/invitations/{sam}/{action}"), &[("csrf", &csrf)], None).await;
        assert_eq!(tried.status, 404, "{action}");
    }
    let kim_page = kim_b.get("/ui/users").await;
    assert!(!kim_page.body.contains("sam@vendor.example"));
    // No form token, or not an invitation: refused.
    let bare = kim_b.post(&format!("/ui/invitations/{lee}/cancel"), &[], None).await;
    assert_eq!(bare.status, 403);
    let odd = kim_b.post("/ui/invitations/not-an-id/cancel", &[("csrf", &csrf)], None).await;
    assert_eq!(odd.status, 404);

    // Re-sent by its organization's admin: a new link works, the old one is dead.
    let resent =
        kim_b.post(&format!("/ui/invitations/{lee}/resend"), &[("csrf", &csrf)], None).await;
    assert_eq!(resent.status, 200, "{}", resent.body);
    assert!(resent.body.contains("the old one no longer works"), "{}", resent.body);
    let second_link = invitation_link(&resent);
    assert_ne!(first_link, second_link);
    assert_eq!(Browser::new(&app).get(&first_link).await.status, 404);
    assert_eq!(Browser::new(&app).get(&second_link).await.status, 200);

    // Cancelled by the vendor's staff: the link dies.
    let people = dana.get("/ui/users").await;
    let lee = invitation_id(&people, "lee@acme.example");
    let cancelled =
        dana.post(&format!("/ui/invitations/{lee}/cancel"), &[("csrf", &csrf_d)], None).await;
    assert_eq!(
        (cancelled.status, cancelled.location.as_deref()),
        (303, Some("/ui/users?done=cancelled"))
    );
    assert_eq!(Browser::new(&app).get(&second_link).await.status, 404);
    let after = dana.get("/ui/users?done=cancelled").await;
    assert!(after.body.contains("The invitation is cancelled"));
    assert!(!after.body.contains("lee@acme.example"));
    let again =
        dana.post(&format!("/ui/invitations/{lee}/cancel"), &[("csrf", &csrf_d)], None).await;
    assert_eq!(again.status, 404, "cancelled already");

    // Past its end an invitation shows as expired, and may still be re-sent.
    app.clock.advance(Duration::from_secs(8 * 86_400));
    let mut dana = signed_in(&app, "dana@vendor.example").await;
    let late = dana.get("/ui/users").await;
    assert!(late.body.contains("<strong>expired</strong>"), "{}", late.body);
});

on_both_stores!(api_keys_show_owner_and_last_use_and_revoking_asks_first, |app| {
    let acme = accounts::create_organization(&app.portal.store, "Acme Corp", app.now())
        .await
        .expect("org");
    let globex =
        accounts::create_organization(&app.portal.store, "Globex", app.now()).await.expect("org");
    named(&app, "dana@vendor.example", "Dana Smith", Role::SuperAdmin, None).await;
    let kim = named(&app, "kim@acme.example", "Kim Lee", Role::OrgAdmin, Some(&acme.id)).await;
    named(&app, "zed@globex.example", "Zed Park", Role::OrgAdmin, Some(&globex.id)).await;
    let secret = key_of(&app, &kim, Some(&acme.id)).await;
    let id = secret[4..20].to_owned();
    let last_used = |app: &TestApp, id: String| {
        let store = app.portal.store.clone();
        async move { store.api_key(&id).await.expect("db").expect("key").last_used_at }
    };
    assert_eq!(last_used(&app, id.clone()).await, None);

    // Its use is noted, at most once a minute.
    let start = app.now().as_unix();
    assert_eq!(app.get("/v1/admin/licenses", Some(&secret)).await.status, 200);
    assert_eq!(last_used(&app, id.clone()).await, Some(start));
    app.clock.advance(Duration::from_secs(30));
    assert_eq!(app.get("/v1/admin/licenses", Some(&secret)).await.status, 200);
    assert_eq!(last_used(&app, id.clone()).await, Some(start), "not again within the minute");
    app.clock.advance(Duration::from_secs(31));
    assert_eq!(app.get("/v1/admin/licenses", Some(&secret)).await.status, 200);
    assert_eq!(last_used(&app, id.clone()).await, Some(start + 61));

    // The list names its owner and organization, and when it was made and last used.
    let mut kim_b = signed_in(&app, "kim@acme.example").await;
    let page = kim_b.get("/ui/api-keys").await;
    for shown in ["Kim Lee", r#"<a href="/ui/licenses?org=Acme%20Corp">Acme Corp</a>"#, "Last used"]
    {
        assert!(page.body.contains(shown), "{shown} not on:\n{}", page.body);
    }
    let used = tessera_core::UnixTime::from_unix(start + 61).expect("time").to_rfc3339();
    assert!(page.body.contains(&format!("{} {} UTC", &used[..10], &used[11..16])));
    assert!(page.body.contains(&format!(r#"href="/ui/api-keys/{id}/revoke""#)));

    // Another organization's admin neither sees it nor reaches its confirmation or action.
    let mut zed = signed_in(&app, "zed@globex.example").await;
    let zed_page = zed.get("/ui/api-keys").await;
    assert!(!zed_page.body.contains(&id));
    assert_eq!(zed.get(&format!("/ui/api-keys/{id}/revoke")).await.status, 404);
    let csrf_z = zed_page.csrf();
    let tried = zed.post(&format!("/ui/api-keys/{id}/revoke"), &[("csrf", &csrf_z)], None).await;
    assert_eq!(tried.status, 404);
    // An org-admin never reaches the vendor's key.
    let vendor_key = &app.admin_key[4..20];
    assert_eq!(kim_b.get(&format!("/ui/api-keys/{vendor_key}/revoke")).await.status, 404);

    // The vendor's staff reach it; its owner is asked first, and the page names the key.
    let mut dana = signed_in(&app, "dana@vendor.example").await;
    assert_eq!(dana.get(&format!("/ui/api-keys/{id}/revoke")).await.status, 200);
    let asked = kim_b.get(&format!("/ui/api-keys/{id}/revoke")).await;
    assert_eq!(asked.status, 200);
    assert!(asked.body.contains(&format!("Revoke API key <code>{id}</code>?")), "{}", asked.body);
    assert_eq!(app.get("/v1/admin/licenses", Some(&secret)).await.status, 200, "not yet revoked");
    let csrf = asked.csrf();
    let done = kim_b.post(&format!("/ui/api-keys/{id}/revoke"), &[("csrf", &csrf)], None).await;
    assert_eq!((done.status, done.location.as_deref()), (303, Some("/ui/api-keys?done=revoked")));
    assert_eq!(app.get("/v1/admin/licenses", Some(&secret)).await.status, 401);
    let told = kim_b.get("/ui/api-keys?done=revoked").await;
    assert!(told.body.contains("The key is revoked"));
    // Asking again: a conflict that says what happened and offers the way back.
    let twice = kim_b.get(&format!("/ui/api-keys/{id}/revoke")).await;
    assert_eq!(twice.status, 409);
    assert!(
        twice.body.contains("This key is revoked already.") && twice.body.contains(r#"href="/ui""#)
    );
});

on_both_stores!(removing_a_person_asks_first_and_only_whoever_may_is_asked, |app| {
    let acme = accounts::create_organization(&app.portal.store, "Acme Corp", app.now())
        .await
        .expect("org");
    let globex =
        accounts::create_organization(&app.portal.store, "Globex", app.now()).await.expect("org");
    named(&app, "dana@vendor.example", "Dana Smith", Role::SuperAdmin, None).await;
    named(&app, "kim@acme.example", "Kim Lee", Role::OrgAdmin, Some(&acme.id)).await;
    let lee = named(&app, "lee@acme.example", "Lee Moss", Role::OrgAdmin, Some(&acme.id)).await;
    named(&app, "zed@globex.example", "Zed Park", Role::OrgAdmin, Some(&globex.id)).await;
    let path = format!("/ui/users/{}/remove", lee.id);
    let mut zed = signed_in(&app, "zed@globex.example").await;
    assert_eq!(zed.get(&path).await.status, 404, "another organization's admin");
    let csrf_z = csrf_of(&mut zed).await;
    assert_eq!(zed.post(&path, &[("csrf", &csrf_z)], None).await.status, 404);
    let mut dana = signed_in(&app, "dana@vendor.example").await;
    assert_eq!(dana.get(&path).await.status, 200);
    let mut kim = signed_in(&app, "kim@acme.example").await;
    let asked = kim.get(&path).await;
    assert_eq!(asked.status, 200);
    assert!(asked.body.contains("Remove Lee Moss?") && asked.body.contains("lee@acme.example"));
    assert!(app.portal.store.user(&lee.id).await.expect("db").is_some(), "asking removes no one");
    let csrf = asked.csrf();
    let removed = kim.post(&path, &[("csrf", &csrf)], None).await;
    assert_eq!(removed.status, 303);
    assert!(app.portal.store.user(&lee.id).await.expect("db").is_none());
    let gone = kim.get(&path).await;
    assert_eq!(gone.status, 404);
    assert!(gone.body.contains("not yours to see") && gone.body.contains(r#"href="/ui""#));
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_re_sent_invitation_is_emailed_through_the_relay_with_a_new_link() {
    let Some(python) = aiosmtpd() else { return };
    let relay = Relay::start(&python);
    let app = crate::mail::app_with(&relay).await;
    let acme = accounts::create_organization(&app.portal.store, "Acme Corp", app.now())
        .await
        .expect("org");
    named(&app, "dana@vendor.example", "Dana Smith", Role::SuperAdmin, None).await;
    let mut dana = signed_in(&app, "dana@vendor.example").await;
    let csrf = csrf_of(&mut dana).await;
    let made = dana.invite_org_admin("kim@acme.example", &acme.id, &csrf).await;
    let base = "https://portal.vendor.example";
    assert!(!made.body.contains("/ui/invite/"), "an emailed link is not shown: {}", made.body);
    let first = crate::mail::emailed_invitation_link(&relay.wait_for("END MESSAGE"), base);
    let id = invitation_id(&dana.get("/ui/users").await, "kim@acme.example");
    let resent = dana.post(&format!("/ui/invitations/{id}/resend"), &[("csrf", &csrf)], None).await;
    assert_eq!(resent.status, 200, "{}", resent.body);
    assert!(resent.body.contains("emailed to kim@acme.example"), "{}", resent.body);
    // The second message: its link is the last one printed once two have come.
    let printed = wait_for_messages(&relay, 2);
    let second = crate::mail::emailed_invitation_link(&printed, base);
    assert_ne!(first, second);
    assert!(printed.contains("To: kim@acme.example"), "{printed}");
    let path = |link: &str| link.trim_start_matches("https://portal.vendor.example").to_owned();
    assert_eq!(Browser::new(&app).get(&path(&first)).await.status, 404, "the old link is dead");
    assert_eq!(Browser::new(&app).get(&path(&second)).await.status, 200);
}

/// What the relay printed once `count` messages have ended.
fn wait_for_messages(relay: &crate::mail::Relay, count: usize) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let printed = relay.wait_for("END MESSAGE");
        if printed.matches("END MESSAGE").count() >= count {
            return printed;
        }
        assert!(std::time::Instant::now() < deadline, "{count} messages never came: {printed}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
