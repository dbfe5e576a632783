//! Air-gapped activation: request, vendor answer, install once; replayed and foreign answers.

use std::time::Duration;

use tessera_core::Status;
use tessera_core::activation::{self, ActivationClaims};
use tessera_core::time::Clock;
use tessera_hub::agent::{HubError, Mode};

use crate::helpers::{TestHub, Vendor, host};

/// What `tessera activate-offline` does, through the library.
fn answer(vendor: &Vendor, request: &str, now: tessera_core::UnixTime, days: u64) -> String {
    let claims = activation::open_request(request.as_bytes()).expect("request");
    let answer = ActivationClaims::answer(&claims, now, Duration::from_secs(days * 86_400));
    activation::sign_activation(&answer, &vendor.key)
}

#[test]
fn the_answer_to_a_hubs_own_request_installs_once_and_runs_until_its_end() {
    let vendor = Vendor::new();
    let (_, license) = vendor.license(2, None);
    let trust = vendor.trust_text();
    let hub = TestHub::new(host("a"));

    let request =
        hub.hub.activation_request(license.as_bytes(), trust.as_bytes()).expect("request");
    assert!(request.starts_with("-----BEGIN TESSERA ACTIVATION REQUEST-----"));
    assert_eq!(hub.hub.status().expect("status").status, Status::NoLicense);

    let text = answer(&vendor, &request, hub.clock.now(), 30);
    let claims = hub.hub.install_offline(text.as_bytes()).expect("install");
    let report = hub.hub.status().expect("status");
    assert_eq!((report.status, report.mode), (Status::Valid, Mode::Offline));
    assert!(report.grace_left_secs.expect("left") > 29 * 86_400);

    // The same answer again: refused, the request is no longer outstanding.
    let replay = hub.hub.install_offline(text.as_bytes());
    assert!(matches!(replay, Err(HubError::Offline { .. })), "{replay:?}");

    // Runs without a portal until the end of the activation, then needs a new one.
    hub.clock.advance(Duration::from_secs(29 * 86_400));
    assert_eq!(hub.hub.status().expect("status").status, Status::Valid);
    hub.clock.advance(Duration::from_secs(2 * 86_400));
    assert!(hub.clock.now() > claims.not_after);
    assert_eq!(hub.hub.status().expect("status").status, Status::GraceExpired);
}

#[test]
fn foreign_forged_and_stale_answers_are_refused() {
    let vendor = Vendor::new();
    let (_, license) = vendor.license(2, None);
    let trust = vendor.trust_text();
    let hub = TestHub::new(host("a"));
    let other = TestHub::new(host("b"));
    let request =
        hub.hub.activation_request(license.as_bytes(), trust.as_bytes()).expect("request");
    let other_request =
        other.hub.activation_request(license.as_bytes(), trust.as_bytes()).expect("request");

    // Made for another hub's request (another key and host).
    let foreign = answer(&vendor, &other_request, hub.clock.now(), 30);
    let result = hub.hub.install_offline(foreign.as_bytes());
    assert!(matches!(result, Err(HubError::Offline { .. })), "{result:?}");

    // Signed by a key outside the trust set.
    let stranger = Vendor::new();
    let forged = answer(&stranger, &request, hub.clock.now(), 30);
    let result = hub.hub.install_offline(forged.as_bytes());
    assert!(
        matches!(result, Err(HubError::Offline { status: Status::UnknownKey, .. })),
        "{result:?}"
    );

    // A changed byte in the answer.
    let good = answer(&vendor, &request, hub.clock.now(), 30);
    let tampered = good.replacen("A", "B", 1);
    assert!(hub.hub.install_offline(tampered.as_bytes()).is_err());

    // A second request replaces the first: the answer to the first is now stale.
    let _newer = hub.hub.activation_request(license.as_bytes(), trust.as_bytes()).expect("request");
    let result = hub.hub.install_offline(good.as_bytes());
    assert!(matches!(result, Err(HubError::Offline { .. })), "{result:?}");
    assert_eq!(hub.hub.status().expect("status").status, Status::NoLicense);
}
