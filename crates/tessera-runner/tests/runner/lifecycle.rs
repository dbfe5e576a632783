//! Install, check, refresh against a real hub and portal; grace, clock rollback, revocation
//! and lease expiry, with the runner's clock injected.

use std::time::Duration;

use tessera_core::Status;
use tessera_runner::keystore::Backend;
use tessera_runner::runner::RunnerError;

use crate::helpers::{Site, in_session, runner};

#[test]
fn install_check_refresh_with_the_kernel_keyring() {
    if !in_session(Backend::Keyutils) {
        return;
    }
    let site = Site::new(2);
    let dir = tempfile::tempdir().expect("dir");
    let (runner, _clock) = runner(dir.path(), Backend::Keyutils);

    assert_eq!(runner.check().expect("check").status, Status::NoLicense);
    let installed = site.install(&runner, "r1").expect("install");
    assert_eq!(installed.status, Status::Valid, "{installed:?}");
    let decision = runner.check().expect("check");
    assert_eq!(decision.status, Status::Valid, "{decision:?}");
    assert_eq!(decision.runner.as_deref(), Some("r1"));
    assert_eq!(decision.license_id, Some(site.claims.id.to_string()));
    assert!(decision.grace_left_secs.expect("grace left") > 0);

    // A temporary file a crash left an hour ago goes at the next refresh.
    let leftover = dir.path().join(".tessera-crashed.tmp");
    std::fs::File::create(&leftover)
        .expect("temp file")
        .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(3600))
        .expect("mtime");
    site.hub_pings();
    assert_eq!(runner.refresh(None).expect("refresh").status, Status::Valid);
    assert_eq!(site.hub.hub.status().expect("hub status").runners_leased, 1);
    assert!(!leftover.exists(), "a crash's leftover stays in the state directory");

    // The cache and enrollment files are private; the key is nowhere on disk.
    for name in ["cache", "enrollment.json", "cache.lock"] {
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(dir.path().join(name)).expect(name).permissions(),
        );
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
}

#[test]
fn a_failed_refresh_keeps_the_cache_and_an_unrenewed_lease_ends() {
    if !in_session(Backend::Keyutils) {
        return;
    }
    let mut site = Site::new(2);
    let dir = tempfile::tempdir().expect("dir");
    let (runner, clock) = runner(dir.path(), Backend::Keyutils);
    site.install(&runner, "r1").expect("install");
    site.stop_hub();

    // The hub is gone: the refresh fails and changes nothing.
    let before = std::fs::read(runner.cache_path()).expect("cache");
    let failed = runner.refresh(None);
    assert!(matches!(failed, Err(RunnerError::Hub(_))), "{failed:?}");
    assert_eq!(
        std::fs::read(runner.cache_path()).expect("cache"),
        before,
        "a failed refresh keeps the cache"
    );

    clock.advance(Duration::from_secs(500));
    assert_eq!(runner.check().expect("check").status, Status::Valid);

    // The 10-minute lease was not renewed: the slot is gone.
    clock.advance(Duration::from_secs(2 * 3600));
    let decision = runner.check().expect("check");
    assert_eq!(decision.status, Status::RunnerLimitExceeded, "{decision:?}");
}

#[test]
fn grace_and_grace_expired_follow_the_receipt_age() {
    if !in_session(Backend::Keyutils) {
        return;
    }
    let mut site = Site::new(2);
    let dir = tempfile::tempdir().expect("dir");
    let (runner, clock) = runner(dir.path(), Backend::Keyutils);
    // A bundle with a long lease, as an air-gapped runner would hold.
    let bundle = site.bundle_for(&runner, "r1", Duration::from_secs(30 * 86_400));
    runner.install_bundle(&bundle, &site.vendor.trust_text()).expect("install");
    site.stop_hub();

    clock.advance(Duration::from_secs(3 * 3600));
    let decision = runner.check().expect("check");
    assert_eq!(decision.status, Status::Grace, "{decision:?}");
    let left = decision.grace_left_secs.expect("left");
    assert!(left > 0 && left <= 86_400 - 3 * 3600, "{left}");
    assert!(decision.status.permits_running());

    clock.advance(Duration::from_secs(86_400));
    let decision = runner.check().expect("check");
    assert_eq!(decision.status, Status::GraceExpired, "{decision:?}");
    assert_eq!(decision.exit_code(), 20);
}

#[test]
fn a_clock_moved_back_past_the_tolerance_is_clock_rollback() {
    if !in_session(Backend::Keyutils) {
        return;
    }
    let site = Site::new(2);
    let dir = tempfile::tempdir().expect("dir");
    let (runner, clock) = runner(dir.path(), Backend::Keyutils);
    let bundle = site.bundle_for(&runner, "r1", Duration::from_secs(30 * 86_400));
    runner.install_bundle(&bundle, &site.vendor.trust_text()).expect("install");

    // The runner sees 40 minutes pass (the high-water mark follows)…
    clock.advance(Duration::from_secs(2400));
    assert_eq!(runner.check().expect("check").status, Status::Valid);
    // …then the clock goes back 30 minutes: within the hour's tolerance.
    clock.rewind(Duration::from_secs(1800));
    assert_eq!(runner.check().expect("check").status, Status::Valid);
    // Two hours back: rollback, not runnable.
    clock.rewind(Duration::from_secs(2 * 3600));
    let decision = runner.check().expect("check");
    assert_eq!(decision.status, Status::ClockRollback, "{decision:?}");
    assert_eq!(decision.exit_code(), 21);
    // Forward again: fine.
    clock.advance(Duration::from_secs(2 * 3600));
    assert_eq!(runner.check().expect("check").status, Status::Valid);
}

/// A clock that ran a day ahead (a wrong hardware clock at boot, before NTP set it right)
/// and was seen by checks and refreshes: once it is right again, the next refresh takes the
/// hub's signed time as the present, so the paying customer is not `clock_rollback` for the
/// day it takes the real clock to catch up.
#[test]
fn a_clock_that_ran_ahead_and_was_set_right_is_cleared_by_a_refresh() {
    if !in_session(Backend::Keyutils) {
        return;
    }
    let site = Site::new(2);
    let dir = tempfile::tempdir().expect("dir");
    let (runner, clock) = runner(dir.path(), Backend::Keyutils);
    site.install(&runner, "r1").expect("install");

    clock.advance(Duration::from_secs(86_400));
    runner.check().expect("check a day ahead");
    runner.refresh(None).expect("refresh a day ahead");
    runner.check().expect("check a day ahead");

    // NTP sets the clock right: until the runner hears from its hub, it cannot tell.
    clock.rewind(Duration::from_secs(86_400));
    assert_eq!(runner.check().expect("check").status, Status::ClockRollback);
    // The refresh's lease answers this runner's fresh call with the hub's signed time.
    let refreshed = runner.refresh(None).expect("refresh");
    assert_eq!(refreshed.status, Status::Valid, "{refreshed:?}");
    let decision = runner.check().expect("check");
    assert_eq!(decision.status, Status::Valid, "{decision:?}");

    // A clock set back past the hub's present is still caught after a refresh.
    clock.rewind(Duration::from_secs(2 * 3600));
    assert_eq!(runner.check().expect("check").status, Status::ClockRollback);
    assert_eq!(runner.refresh(None).expect("refresh").status, Status::ClockRollback);
}

#[test]
fn revocation_and_suspension_arrive_through_a_refresh() {
    if !in_session(Backend::Keyutils) {
        return;
    }
    let site = Site::new(2);
    let dir = tempfile::tempdir().expect("dir");
    let (runner, _clock) = runner(dir.path(), Backend::Keyutils);
    site.install(&runner, "r1").expect("install");

    site.admin("suspend");
    assert_eq!(site.hub_pings(), Status::Suspended);
    // The hub grants no lease while suspended, but its bundle carries the receipt: the
    // runner takes the news with the lease it holds.
    assert_eq!(runner.refresh(None).expect("refresh").status, Status::Suspended);
    assert_eq!(runner.check().expect("check").status, Status::Suspended);

    site.admin("reinstate");
    assert_eq!(site.hub_pings(), Status::Valid);
    assert_eq!(runner.refresh(None).expect("refresh").status, Status::Valid);

    site.admin("revoke");
    assert_eq!(site.hub_pings(), Status::Revoked);
    assert_eq!(runner.refresh(None).expect("refresh").status, Status::Revoked);
    let decision = runner.check().expect("check");
    assert_eq!(decision.status, Status::Revoked);
    assert_eq!(decision.exit_code(), 17);
}

#[test]
fn leases_end_and_the_runner_limit_holds() {
    if !in_session(Backend::Keyutils) {
        return;
    }
    let site = Site::new(1);
    let a = tempfile::tempdir().expect("dir");
    let b = tempfile::tempdir().expect("dir");
    let (first, clock) = runner(a.path(), Backend::Keyutils);
    let (second, _) = runner(b.path(), Backend::Keyutils);
    site.install(&first, "r1").expect("install");
    let refused = site.install(&second, "r2");
    assert!(
        matches!(&refused, Err(RunnerError::Hub(tessera_runner::hub::HubCallError::Refused { code, .. })) if code == "runner_limit_exceeded"),
        "{refused:?}"
    );
    assert_eq!(second.check().expect("check").status, Status::NoLicense);

    // The first runner's lease ends unless renewed.
    clock.advance(Duration::from_secs(601));
    assert_eq!(first.check().expect("check").status, Status::RunnerLimitExceeded);
    // The hub's slot frees too (its clock moves on), and the second runner gets it.
    site.hub.clock.advance(Duration::from_secs(601));
    site.install(&second, "r2").expect("install");
    assert_eq!(second.check().expect("check").status, Status::Valid);
}

#[test]
fn a_runner_shared_across_threads_checks_from_each() {
    if !in_session(Backend::Keyutils) {
        return;
    }
    // Threads started before the runner (a product's worker pool): the kernel gives a keyring
    // made later in one thread to that thread only.
    let (send, receive) =
        std::sync::mpsc::channel::<std::sync::Arc<tessera_runner::runner::Runner>>();
    let worker = std::thread::spawn(move || {
        let runner = receive.recv().expect("the runner");
        (0..3)
            .map(|_| runner.check().map(|d| d.status).map_err(|e| e.to_string()))
            .collect::<Vec<_>>()
    });
    let site = Site::new(2);
    let dir = tempfile::tempdir().expect("dir");
    let (runner, _clock) = runner(dir.path(), Backend::Keyutils);
    site.install(&runner, "r1").expect("install");
    send.send(std::sync::Arc::new(runner)).expect("send");
    let answers = worker.join().expect("worker");
    assert_eq!(answers, vec![Ok(Status::Valid); 3]);
}
