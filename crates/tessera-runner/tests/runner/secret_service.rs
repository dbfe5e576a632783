//! The Secret Service keystore against a real gnome-keyring on a private D-Bus session:
//! what the runner stores, a product's check reads back; a locked keyring is an error that
//! says so, never a key. (A bus without a Secret Service: runner-agent/tests/binary.)

use std::process::Command;

use tessera_runner::keystore::{Backend, Keystore, KeystoreError, OsKeystore, Secret};
use zeroize::Zeroizing;

use crate::helpers::in_session;

fn secret(byte: u8, generation: u64) -> Secret {
    Secret { key: Zeroizing::new([byte; 32]), generation: Some(generation) }
}

fn loaded(entry: &OsKeystore) -> Option<([u8; 32], Option<u64>)> {
    entry.load().expect("load").map(|s| (*s.key, s.generation))
}

/// `dbus-send` to the session's Secret Service: another client than ours, as a desktop's.
fn secret_service(method: &str, args: &[&str]) -> String {
    let out = Command::new("dbus-send")
        .args(["--session", "--print-reply", "--dest=org.freedesktop.secrets"])
        .arg("/org/freedesktop/secrets")
        .arg(format!("org.freedesktop.Secret.Service.{method}"))
        .args(args)
        .output()
        .expect("dbus-send (package dbus)");
    assert!(out.status.success(), "{method}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_key_is_stored_replaced_read_and_deleted() {
    if !in_session(Backend::SecretService) {
        return;
    }
    let entry = OsKeystore::open(Backend::SecretService, "runner-a").expect("open");
    let other = OsKeystore::open(Backend::SecretService, "runner-b").expect("open");
    assert_eq!(loaded(&entry), None, "nothing stored yet");

    entry.store(&secret(1, 7)).expect("store");
    other.store(&secret(9, 1)).expect("store b");
    assert_eq!(loaded(&entry), Some(([1; 32], Some(7))));
    // A second connection (a product's check in another process) reads the same key.
    let again = OsKeystore::open(Backend::SecretService, "runner-a").expect("open again");
    assert_eq!(loaded(&again), Some(([1; 32], Some(7))));

    // A refresh replaces the key in its one item, it does not add a second.
    entry.store(&secret(2, 8)).expect("replace");
    assert_eq!(loaded(&again), Some(([2; 32], Some(8))));
    let found = secret_service(
        "SearchItems",
        &["dict:string:string:service,tessera-runner,username,runner-a"],
    );
    assert_eq!(found.matches("object path").count(), 1, "one item:\n{found}");

    entry.delete().expect("delete");
    assert_eq!(loaded(&again), None);
    entry.delete().expect("deleting nothing is fine");
    assert_eq!(loaded(&other), Some(([9; 32], Some(1))), "the other runner's key stays");
}

/// Locks the session's default collection (no prompt is needed to lock).
fn lock_the_default_collection() {
    let alias = secret_service("ReadAlias", &["string:default"]);
    let collection = alias
        .split('"')
        .find(|s| s.starts_with("/org/freedesktop/secrets/collection/"))
        .unwrap_or_else(|| panic!("the default collection:\n{alias}"))
        .to_owned();
    secret_service("Lock", &[&format!("array:objpath:{collection}")]);
}

#[test]
fn an_uninstall_on_a_locked_keyring_keeps_the_files_for_a_retry() {
    if !in_session(Backend::SecretService) {
        return;
    }
    let site = crate::helpers::Site::new(2);
    let dir = tempfile::tempdir().expect("dir");
    let (runner, _clock) = crate::helpers::runner(dir.path(), Backend::SecretService);
    let bundle = site.bundle_for(&runner, "r1", std::time::Duration::from_secs(86_400));
    runner.install_bundle(&bundle, &site.vendor.trust_text()).expect("install");
    lock_the_default_collection();
    assert!(runner.forget().is_err(), "the key could not be deleted");
    assert!(runner.cache_path().exists(), "the files stay, so a retry knows the keystore");
}

#[test]
fn a_locked_keyring_is_an_error_not_a_missing_key() {
    if !in_session(Backend::SecretService) {
        return;
    }
    let entry = OsKeystore::open(Backend::SecretService, "runner-locked").expect("open");
    entry.store(&secret(3, 1)).expect("store");
    lock_the_default_collection();

    // Unlocking needs a person at a prompt: the answer says the keyring is locked (the
    // runner reports `keystore`, which a person can fix), not "no key" (`no_license`).
    match entry.load() {
        Err(KeystoreError::Unavailable { detail, .. }) => {
            assert!(detail.contains("locked"), "{detail}");
        }
        other => panic!("a locked keyring gave {:?}", other.map(|s| s.is_some())),
    }
}
