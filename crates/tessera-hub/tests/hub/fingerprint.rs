//! Fingerprints: stable on one host, tolerant of one change, not of most.

use tessera_core::fingerprint::FingerprintBinding;
use tessera_core::license::ProductId;
use tessera_hub::host::{HostComponents, load_or_create_secret};

use crate::helpers::host;

fn product() -> ProductId {
    "acme-hub".parse().expect("product")
}

#[test]
fn this_host_gives_the_same_fingerprint_twice_with_its_kept_secret() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("tessera-host/host.secret");
    let read = || {
        let secret = load_or_create_secret(&path).expect("secret");
        HostComponents::collect(secret).fingerprint(&product()).expect("fingerprint")
    };
    let first = read();
    let second = read();
    assert_eq!(first, second, "the secret made the first time is read the second");
    assert!(!first.is_empty(), "no component of this host could be read");
    use std::os::unix::fs::PermissionsExt;
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().expect("dir")), 0o700);
    // Another machine's secret: nothing matches. Made in a directory that was already there
    // (shared, as /etc or /tmp are): the file is private, the directory keeps its mode.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let other_path = dir.path().join("other");
    let other = HostComponents::collect(load_or_create_secret(&other_path).expect("secret"))
        .fingerprint(&product())
        .expect("fingerprint");
    assert_eq!(first.matching(&other), 0);
    assert_eq!(mode(&other_path), 0o600);
    assert_eq!(mode(dir.path()), 0o755, "the hub narrowed a directory it did not make");
}

#[test]
fn one_changed_component_still_matches_and_most_changed_do_not() {
    let bound =
        FingerprintBinding::new(host("a").fingerprint(&product()).expect("fp")).expect("binding");

    let mut one = host("a");
    one.set("hostname", "renamed");
    assert!(bound.check(&one.fingerprint(&product()).expect("fp")).is_ok());

    let mut two = host("a");
    two.set("hostname", "renamed");
    two.set("mac_addresses", "new-nic");
    assert!(bound.check(&two.fingerprint(&product()).expect("fp")).is_ok(), "3 of 5 still match");

    let mut most = host("a");
    for (name, value) in [("hostname", "x"), ("mac_addresses", "y"), ("machine_id", "z")] {
        most.set(name, value);
    }
    let mismatch = bound.check(&most.fingerprint(&product()).expect("fp")).expect_err("2 of 5");
    assert_eq!((mismatch.matched, mismatch.needed), (2, 3));

    assert!(bound.check(&host("b").fingerprint(&product()).expect("fp")).is_err());
}

#[test]
fn raw_values_never_appear_and_products_do_not_link() {
    let h = host("secret-serial-123");
    let fp = h.fingerprint(&product()).expect("fp");
    let json = serde_json::to_string(&fp).expect("json");
    assert!(!json.contains("secret-serial-123"));
    let other = h.fingerprint(&"other-product".parse().expect("product")).expect("fp");
    // Keyed by product: even the identical CPU model hashes differently.
    assert_eq!(fp.matching(&other), 0);
}
