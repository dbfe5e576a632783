//! Online life against a real portal process: activation, pings, another host, grace,
//! suspension and revocation.

use std::time::Duration;

use tessera_core::Status;
use tessera_hub::agent::{HubError, Mode};

use crate::helpers::{Registered, TestHub, Vendor, host, portal};

#[tokio::test]
async fn a_hub_activates_pings_and_stays_valid() {
    let site = Registered::new();
    let (vendor, claims, license) = (&site.vendor, &site.claims, &site.license);

    let hub = TestHub::new(host("a"));
    // Not activated yet: a clear status, not an error.
    assert_eq!(hub.hub.status().expect("status").status, Status::NoLicense);

    let receipt = hub
        .hub
        .activate(license.as_bytes(), vendor.trust_text().as_bytes(), None)
        .await
        .expect("activate");
    assert_eq!(receipt.status, Status::Valid);
    assert_eq!(receipt.license_id, claims.id);
    let report = hub.hub.status().expect("status");
    assert_eq!((report.status, report.mode), (Status::Valid, Mode::Online));
    assert_eq!(report.last_good_receipt, Some(receipt.portal_time));

    for _ in 0..3 {
        let ping = hub.hub.ping().await.expect("ping");
        assert_eq!(ping.status, Status::Valid);
        assert!(ping.next_ping_by > ping.portal_time);
    }
    assert_eq!(hub.hub.status().expect("status").status, Status::Valid);

    // A temporary file a crash left an hour ago goes at the next write; a fresh one stays.
    let leftover = hub.state_dir().join(".tessera-crashed.tmp");
    let fresh = hub.state_dir().join(".tessera-writing.tmp");
    for (path, age) in [(&leftover, 3600), (&fresh, 1)] {
        let file = std::fs::File::create(path).expect("temp file");
        file.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(age))
            .expect("mtime");
    }
    assert_eq!(hub.hub.ping().await.expect("ping").status, Status::Valid);
    assert!(!leftover.exists(), "a crash's leftover stays in the state directory");
    assert!(fresh.exists(), "a write in progress lost its file");
    std::fs::remove_file(&fresh).expect("remove");

    // State files are private.
    for name in ["hub.key", "state.json", "license.license", "state.lock"] {
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(hub.state_dir().join(name)).expect(name).permissions(),
        );
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
}

#[tokio::test]
async fn a_second_host_is_refused_but_a_changed_component_is_tolerated() {
    let site = Registered::new();
    let (vendor, license) = (&site.vendor, &site.license);
    let trust = vendor.trust_text();

    let first = TestHub::new(host("a"));
    first.hub.activate(license.as_bytes(), trust.as_bytes(), None).await.expect("activate");

    let second = TestHub::new(host("b"));
    let refused = second.hub.activate(license.as_bytes(), trust.as_bytes(), None).await;
    assert!(
        matches!(refused, Err(HubError::Denied { status: Status::FingerprintMismatch, .. })),
        "{refused:?}"
    );
    // The refusal and the status name this hub's key id: what a reset may admit.
    let key_id = second.hub.dir().hub_key().expect("key").key_id().to_string();
    let message = refused.expect_err("refused").to_string();
    assert!(message.contains(&key_id), "{message}");
    let report = second.hub.status().expect("status");
    assert_eq!((report.status, report.hub_key_id.as_deref()), (Status::NoLicense, Some(&*key_id)));

    // The first host gets a new NIC: one component of five changed still matches.
    let mut changed = host("a");
    changed.set("mac_addresses", "aa:bb:cc:dd:ee:ff");
    let moved = tessera_hub::agent::Hub::new(
        tessera_hub::state::StateDir::open(&first.state_dir()).expect("state"),
        changed,
        first.clock.clone(),
    );
    assert_eq!(moved.ping().await.expect("ping").status, Status::Valid);
}

#[tokio::test]
async fn an_unreachable_portal_means_grace_then_grace_expired() {
    let mut site = Registered::new();
    let hub = site.activated_hub("a").await;

    site.portal.kill();
    // Within the ping interval: still valid, even though a ping fails.
    hub.clock.advance(Duration::from_secs(1800));
    assert!(matches!(hub.hub.ping().await, Err(HubError::Portal(_))));
    let report = hub.hub.status().expect("status");
    assert_eq!(report.status, Status::Valid);
    assert!(report.last_failure.is_some(), "the failure is remembered");

    // Past the interval and its slack: grace, with the time left.
    hub.clock.advance(Duration::from_secs(3 * 3600));
    assert!(hub.hub.ping().await.is_err());
    let report = hub.hub.status().expect("status");
    assert_eq!(report.status, Status::Grace);
    let left = report.grace_left_secs.expect("grace left");
    assert!(left > 0 && left <= 86_400 - 3 * 3600, "{left}");

    // Past the day of grace.
    hub.clock.advance(Duration::from_secs(86_400));
    let report = hub.hub.status().expect("status");
    assert_eq!(report.status, Status::GraceExpired);
    assert_eq!(report.grace_left_secs, Some(0));
}

#[tokio::test]
async fn suspension_and_revocation_take_effect_at_the_next_ping() {
    let site = Registered::new();
    let (portal, claims) = (&site.portal, &site.claims);
    let hub = site.activated_hub("a").await;

    portal.admin(&claims.id.to_string(), "suspend");
    assert_eq!(hub.hub.ping().await.expect("ping").status, Status::Suspended);
    // At once: no grace for a suspended license.
    assert_eq!(hub.hub.status().expect("status").status, Status::Suspended);

    portal.admin(&claims.id.to_string(), "reinstate");
    assert_eq!(hub.hub.ping().await.expect("ping").status, Status::Valid);
    assert_eq!(hub.hub.status().expect("status").status, Status::Valid);

    portal.admin(&claims.id.to_string(), "revoke");
    assert_eq!(hub.hub.ping().await.expect("ping").status, Status::Revoked);
    let report = hub.hub.status().expect("status");
    assert_eq!(report.status, Status::Revoked);
    assert!(!report.status.permits_running());
}

#[tokio::test]
async fn a_license_that_fails_offline_is_never_sent() {
    let vendor = Vendor::new();
    let stranger = Vendor::new();
    let portal = portal(&vendor);
    let (_, license) = stranger.license(2, Some(&portal.url));
    let hub = TestHub::new(host("a"));
    let result = hub.hub.activate(license.as_bytes(), vendor.trust_text().as_bytes(), None).await;
    assert!(
        matches!(result, Err(HubError::License { status: Status::UnknownKey, .. })),
        "{result:?}"
    );
    assert!(!hub.state_dir().join("license.license").exists());
}

#[tokio::test]
async fn after_the_vendor_resets_the_binding_the_hub_activates_again_by_itself() {
    let site = Registered::new();
    let (portal, claims) = (&site.portal, &site.claims);
    let hub = site.activated_hub("a").await;

    portal.admin(&claims.id.to_string(), "reset-binding");
    // The next ping finds no binding and re-activates: a fresh activation receipt.
    let receipt = hub.hub.ping().await.expect("ping");
    assert_eq!(receipt.status, Status::Valid);
    assert_eq!(receipt.answers, tessera_core::receipt::Answers::Activate);
    assert_eq!(hub.hub.ping().await.expect("ping").answers, tessera_core::receipt::Answers::Ping);
    assert_eq!(hub.hub.status().expect("status").status, Status::Valid);
}
