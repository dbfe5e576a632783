//! The sealed cache against tampering: every byte, an older genuine copy, a deleted or
//! foreign keystore entry; and the Secret Service backend.

use std::time::Duration;

use tessera_core::Status;
use tessera_runner::keystore::{Backend, Keystore, OsKeystore};
use tessera_runner::runner::{Runner, RunnerError};

use crate::helpers::{Site, in_session, runner};

#[test]
fn every_single_byte_change_of_the_cache_file_is_tampered() {
    if !in_session(Backend::Keyutils) {
        return;
    }
    let site = Site::new(2);
    let dir = tempfile::tempdir().expect("dir");
    let (runner, _clock) = runner(dir.path(), Backend::Keyutils);
    site.install(&runner, "r1").expect("install");
    let path = runner.cache_path();
    let genuine = std::fs::read(&path).expect("cache");
    assert!(genuine.len() > 1000);
    for i in 0..genuine.len() {
        for flip in [0x01u8, 0x80] {
            let mut bad = genuine.clone();
            bad[i] ^= flip;
            std::fs::write(&path, &bad).expect("write");
            let decision = runner.check().expect("check");
            assert_eq!(decision.status, Status::Tampered, "byte {i} ^ {flip:#x}: {decision:?}");
        }
    }
    // Cut short, grown, emptied.
    for bad in [&genuine[..genuine.len() / 2], &[genuine.as_slice(), b"x"].concat()[..], &[][..]] {
        std::fs::write(&path, bad).expect("write");
        assert_eq!(runner.check().expect("check").status, Status::Tampered);
    }
    std::fs::write(&path, &genuine).expect("restore");
    assert_eq!(runner.check().expect("check").status, Status::Valid);
}

#[test]
fn an_older_genuine_cache_put_back_is_tampered() {
    if !in_session(Backend::Keyutils) {
        return;
    }
    let site = Site::new(2);
    let dir = tempfile::tempdir().expect("dir");
    let (runner, _clock) = runner(dir.path(), Backend::Keyutils);
    site.install(&runner, "r1").expect("install");
    let old = std::fs::read(runner.cache_path()).expect("cache");

    // The license is revoked; the runner learns it at its refresh…
    site.admin("revoke");
    site.hub_pings();
    assert_eq!(runner.refresh(None).expect("refresh").status, Status::Revoked);
    // …and putting the older, genuine, valid cache back does not undo that.
    std::fs::write(runner.cache_path(), &old).expect("roll back");
    let decision = runner.check().expect("check");
    assert_eq!(decision.status, Status::Tampered, "{decision:?}");
    assert!(decision.reason.contains("older copy"), "{}", decision.reason);
}

#[test]
fn a_deleted_keystore_entry_is_a_clear_status_and_a_refresh_recovers() {
    if !in_session(Backend::Keyutils) {
        return;
    }
    let site = Site::new(2);
    let dir = tempfile::tempdir().expect("dir");
    let (runner, _clock) = runner(dir.path(), Backend::Keyutils);
    site.install(&runner, "r1").expect("install");
    // A runner that has renewed its lease a few times (the hub's chain of its calls has
    // moved on from the first lease)...
    for _ in 0..2 {
        assert_eq!(runner.refresh(None).expect("refresh").status, Status::Valid);
    }

    // ...loses its keystore entry, as a reboot does with keyutils.
    let entry = OsKeystore::open(Backend::Keyutils, &Runner::account(dir.path())).expect("entry");
    entry.delete().expect("delete the key");
    let decision = runner.check().expect("check");
    assert_eq!(decision.status, Status::NoLicense, "{decision:?}");
    assert!(decision.reason.contains("keyutils keystore"), "{}", decision.reason);

    // Without the key the cached trust set is not trusted: refresh wants it given.
    assert!(runner.refresh(None).is_err());
    let trust = site.vendor.trust_text();
    // It is still the same runner to its hub (never taken for a copy of itself).
    assert_eq!(runner.refresh(Some(&trust)).expect("refresh").status, Status::Valid);
    assert_eq!(runner.check().expect("check").status, Status::Valid);

    // Another runner's key does not open this cache.
    let other = tempfile::tempdir().expect("dir");
    let (stranger, _) = crate::helpers::runner(other.path(), Backend::Keyutils);
    stranger.install_from_hub(&site.hub_url, &site.new_token(), "r2", &trust).expect("install");
    std::fs::copy(runner.cache_path(), stranger.cache_path()).expect("copy");
    assert_eq!(stranger.check().expect("check").status, Status::Tampered);
}

#[test]
fn the_secret_service_backend_keeps_the_key() {
    if !in_session(Backend::SecretService) {
        return;
    }
    let site = Site::new(2);
    let dir = tempfile::tempdir().expect("dir");
    let (runner, _clock) = runner(dir.path(), Backend::SecretService);
    let bundle = site.bundle_for(&runner, "r1", Duration::from_secs(86_400));
    assert_eq!(
        runner.install_bundle(&bundle, &site.vendor.trust_text()).expect("install").status,
        Status::Valid
    );
    assert_eq!(runner.check().expect("check").status, Status::Valid);

    let mut bytes = std::fs::read(runner.cache_path()).expect("cache");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(runner.cache_path(), &bytes).expect("write");
    assert_eq!(runner.check().expect("check").status, Status::Tampered);

    OsKeystore::open(Backend::SecretService, &Runner::account(dir.path()))
        .expect("entry")
        .delete()
        .expect("delete");
    let decision = runner.check().expect("check");
    assert_eq!(decision.status, Status::NoLicense);
    assert!(decision.reason.contains("secret-service keystore"), "{}", decision.reason);
}

#[test]
fn a_bundle_saved_before_a_revocation_cannot_be_installed_again() {
    if !in_session(Backend::Keyutils) {
        return;
    }
    let site = Site::new(2);
    let dir = tempfile::tempdir().expect("dir");
    let (runner, _clock) = runner(dir.path(), Backend::Keyutils);
    let trust = site.vendor.trust_text();
    // The customer keeps a copy of a good bundle (a long lease, air-gapped style)...
    let saved = site.bundle_for(&runner, "r1", Duration::from_secs(30 * 86_400));
    assert_eq!(runner.install_bundle(&saved, &trust).expect("install").status, Status::Valid);
    // ...then the license is revoked and the runner learns it.
    site.admin("revoke");
    assert_eq!(site.hub_pings(), Status::Revoked);
    // (It asks the hub, which grants no lease but hands the bundle with the news.)
    assert_eq!(site.install(&runner, "r1").expect("refresh").status, Status::Revoked);
    assert_eq!(runner.check().expect("check").status, Status::Revoked);

    // The saved bundle answers no outstanding request of this runner: refused.
    assert!(runner.install_bundle(&saved, &trust).is_err());
    // A new request does not make the old answer fit either.
    runner.request("r1").expect("request");
    let refused = runner.install_bundle(&saved, &trust);
    assert!(
        matches!(&refused, Err(RunnerError::Bundle(b)) if b.message.contains("not the answer")),
        "{refused:?}"
    );
    assert_eq!(runner.check().expect("check").status, Status::Revoked);
    // Without the keystore entry (a reboot with the kernel keyring) it is no better.
    OsKeystore::open(Backend::Keyutils, &Runner::account(dir.path()))
        .expect("entry")
        .delete()
        .expect("delete");
    assert!(runner.install_bundle(&saved, &trust).is_err());
    assert_ne!(runner.check().expect("check").status, Status::Valid);
}

#[test]
fn a_lease_for_another_runner_key_is_refused() {
    if !in_session(Backend::Keyutils) {
        return;
    }
    let site = Site::new(2);
    let (a, b) = (tempfile::tempdir().expect("dir"), tempfile::tempdir().expect("dir"));
    let (first, _) = runner(a.path(), Backend::Keyutils);
    let (second, _) = runner(b.path(), Backend::Keyutils);
    let trust = site.vendor.trust_text();
    // The second runner waits for its own answer, but is handed the first one's.
    second.request("r2").expect("request");
    let for_first = site.bundle_for(&first, "r1", Duration::from_secs(86_400));
    let refused = second.install_bundle(&for_first, &trust);
    assert!(
        matches!(&refused, Err(RunnerError::Bundle(b)) if b.message.contains("not the answer")),
        "{refused:?}"
    );
    assert_eq!(second.check().expect("check").status, Status::NoLicense);
    assert_eq!(first.install_bundle(&for_first, &trust).expect("install").status, Status::Valid);
    // The runner key is private, and an uninstall takes it: an installation after it is a
    // new runner, which the hub does not take for a copy of this one.
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(first.key_path()).expect("key").permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    first.forget().expect("uninstall");
    assert!(!first.key_path().exists(), "the runner key outlived the uninstall");
}
