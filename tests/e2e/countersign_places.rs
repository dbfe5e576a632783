//! Wrong "no"s to an honest site on a `runner_countersign` license, through the real
//! binaries: a site at its limit replacing a runner waits for no receipt's grace once the
//! vendor frees the old place; a runner renewed during a portal outage after its lease
//! lapsed runs on the receipt that last named it, also after the vendor renewed the portal's
//! delegation and after the runner's cache was restored from a backup (the hub hands it the
//! receipt it kept for its place). The limit still holds after each.

use std::path::Path;

use crate::countersign::{
    check, countersign_site, install_with_token, patched_hub_bundle, serve_leasing,
};
use crate::kit::{Daemon, Portal, Vendor, cmd, have, hub, hub_at, in_keyring_session, run, runner};
use crate::scenarios::install;

/// The id of the license `countersign_site` issued.
fn license_id(vendor: &Vendor) -> String {
    let inspected =
        run(cmd("tessera").args(["inspect", "--json"]).arg(vendor.path("acme.license"))).ok();
    inspected.json()["claims"]["id"].as_str().expect("an id").to_owned()
}

/// A runner of `state` given a lease the hub signs alone (a patched hub's): it installs,
/// and its check answers.
fn patched_runner(dir: &Path, hub_state: &Path, name: &str, vendor: &Vendor) -> (String, String) {
    let state = dir.join(name);
    let (request, bundle) =
        (dir.join(format!("{name}.request")), dir.join(format!("{name}.bundle")));
    run(runner(&state).args(["request", "--label", name, "--out"]).arg(&request)).ok();
    patched_hub_bundle(hub_state, &request, &bundle, true);
    run(runner(&state)
        .args(["install", "--bundle"])
        .arg(&bundle)
        .arg("--trust")
        .arg(vendor.trust_path()));
    check(&state)
}

#[test]
fn a_full_site_replaces_a_runner_once_the_vendor_frees_its_place() {
    if !in_keyring_session() {
        return;
    }
    let vendor = Vendor::keygen();
    let portal = Portal::start(&vendor);
    let dir = tempfile::tempdir().expect("dir");
    let daemon = countersign_site(&vendor, &portal, dir.path(), 1);
    let hub_state = dir.path().join("hub");
    let id = license_id(&vendor);
    install(dir.path(), "r1", &daemon.address, &vendor);
    assert_eq!(check(&dir.path().join("r1")).0, "valid");

    // r1 is replaced: it gives its slot back at the hub, and r2 takes it. The portal still
    // counts r1's place (a runner may run on the receipt naming it for its grace): r2 is
    // refused, and would be for 7 days.
    run(runner(&dir.path().join("r1")).arg("release")).ok();
    let r2 = dir.path().join("r2");
    let installed = install_with_token(&hub_state, &r2, "r2", &daemon.address, &vendor);
    assert_eq!(installed.code, 19, "installed, not valid: {}", installed.stderr);
    let (status, reason) = check(&r2);
    assert_eq!(status, "runner_limit_exceeded", "{reason}");
    assert!(reason.contains("refused"), "{reason}");
    let held = portal.admin_get(&format!("licenses/{id}/runner-places"));
    assert_eq!((held["held"].as_u64(), held["limit"].as_u64()), (Some(1), Some(1)), "{held}");

    // The vendor frees the license's places: the hub's next ping gets r2 countersigned.
    portal.admin(&id, "runner-places/free");
    run(hub(&hub_state).arg("ping")).ok();
    run(runner(&r2).arg("refresh")).ok();
    assert_eq!(check(&r2).0, "valid", "{:?}", check(&r2));
    let listed = run(hub(&hub_state).args(["runners", "list"])).ok().stdout;
    assert!(listed.contains("countersigned by the portal"), "{listed}");
    let held = portal.admin_get(&format!("licenses/{id}/runner-places"));
    assert_eq!(held["held"].as_u64(), Some(1), "{held}");

    // The limit still holds: a lease a patched hub signs alone for another runner runs nothing.
    let (status, reason) = patched_runner(dir.path(), &hub_state, "r3", &vendor);
    assert_eq!(status, "runner_limit_exceeded", "{reason}");
    assert!(daemon.stop().success());
}

#[test]
fn a_runner_renewed_during_an_outage_runs_on_the_receipt_that_named_it() {
    if !in_keyring_session() || !have("faketime", "faketime") {
        return;
    }
    let vendor = Vendor::keygen();
    let mut portal = Portal::start(&vendor);
    let dir = tempfile::tempdir().expect("dir");
    let first = countersign_site(&vendor, &portal, dir.path(), 2);
    let hub_state = dir.path().join("hub");
    // Short leases: two minutes.
    let address = first.address.clone();
    assert!(first.stop().success());
    let daemon = serve_leasing(dir.path(), &address, "2m");
    let r1 = dir.path().join("r1");
    install(dir.path(), "r1", &daemon.address, &vendor);
    assert_eq!(check(&r1).0, "valid", "{:?}", check(&r1));

    // The hub pings three minutes on (within the portal's 5 minutes of clock skew), when
    // r1's lease has lapsed: the receipt no longer names r1. The portal still counts r1's
    // place, for the grace of the receipt r1 holds.
    run(hub_at("+3m", &hub_state).arg("ping")).ok();
    // The portal goes down; r1 is renewed from the hub, which can only hand it that newer
    // receipt. r1 runs on the countersignature of the receipt that named it.
    portal.kill();
    run(runner(&r1).arg("refresh")).ok();
    let (status, reason) = check(&r1);
    assert_eq!(status, "valid", "{reason}");
    // A runner the portal never countersigned gets nothing from r1's receipt.
    let r2 = dir.path().join("r2");
    let installed = install_with_token(&hub_state, &r2, "r2", &daemon.address, &vendor);
    assert_eq!(installed.code, 19, "{}", installed.stderr);
    assert_eq!(check(&r2).0, "runner_limit_exceeded");
    assert!(daemon.stop().success());
}

/// A site of `runners` runners leasing for two minutes, with r1 installed and valid; then the
/// hub pings three minutes on (within the portal's 5 minutes of clock skew), when r1's lease
/// has lapsed: that receipt no longer names r1, though the portal counts its place.
fn a_lapsed_runner(
    vendor: &Vendor,
    portal: &mut Portal,
    dir: &Path,
    between: impl FnOnce(&mut Portal),
) -> Daemon {
    let first = countersign_site(vendor, portal, dir, 2);
    let address = first.address.clone();
    assert!(first.stop().success());
    let daemon = serve_leasing(dir, &address, "2m");
    let r1 = dir.join("r1");
    install(dir, "r1", &daemon.address, vendor);
    assert_eq!(check(&r1).0, "valid", "{:?}", check(&r1));
    between(portal);
    run(hub_at("+3m", &dir.join("hub")).arg("ping")).ok();
    daemon
}

#[test]
fn a_runner_renewed_after_the_delegation_was_renewed_runs_on_the_receipt_that_named_it() {
    if !in_keyring_session() || !have("faketime", "faketime") {
        return;
    }
    let vendor = Vendor::keygen();
    let mut portal = Portal::start(&vendor);
    let dir = tempfile::tempdir().expect("dir");
    // After r1 is countersigned, the vendor renews the portal's delegation from now: it no
    // longer covers the receipt that named r1, signed before.
    let daemon = a_lapsed_runner(&vendor, &mut portal, dir.path(), |portal| {
        std::thread::sleep(std::time::Duration::from_millis(2100));
        run(cmd("tessera")
            .args(["delegate", "--key"])
            .arg(vendor.key_path())
            .arg("--portal-key")
            .arg(portal.data.join("receipt.pub"))
            .arg("--out")
            .arg(portal.data.join("delegation.txt"))
            .arg("--force"))
        .ok();
        portal.restart();
    });
    // The portal goes down; r1 is renewed with the newest receipt (under the renewed
    // delegation) and runs on the one that named it, under the delegation it was signed under.
    portal.kill();
    let r1 = dir.path().join("r1");
    run(runner(&r1).arg("refresh")).ok();
    let (status, reason) = check(&r1);
    assert_eq!(status, "valid", "{reason}");
    assert!(daemon.stop().success());
}

#[test]
fn a_runner_restored_from_a_backup_during_an_outage_runs_on_the_receipt_its_hub_kept() {
    if !in_keyring_session() || !have("faketime", "faketime") {
        return;
    }
    let vendor = Vendor::keygen();
    let mut portal = Portal::start(&vendor);
    let dir = tempfile::tempdir().expect("dir");
    let r1 = dir.path().join("r1");
    let backup = dir.path().join("r1.backup");
    let daemon = a_lapsed_runner(&vendor, &mut portal, dir.path(), |_| {
        // The runner's state directory is backed up while its receipt names it.
        assert!(
            std::process::Command::new("cp")
                .arg("-a")
                .arg(&r1)
                .arg(&backup)
                .status()
                .expect("cp")
                .success()
        );
    });
    portal.kill();
    let hub_state = dir.path().join("hub");
    // Renewed during the outage, r1 runs on the receipt that named it.
    run(runner(&r1).arg("refresh")).ok();
    assert_eq!(check(&r1).0, "valid", "{:?}", check(&r1));
    // Its state directory is put back from the backup: an older cache is `tampered`, and a
    // refresh with the trust set starts afresh from what the hub hands it, which holds, beside
    // its newest receipt, the receipt it kept for r1's place.
    std::fs::remove_dir_all(&r1).expect("rm");
    std::fs::rename(&backup, &r1).expect("restore");
    assert_eq!(check(&r1).0, "tampered", "{:?}", check(&r1));
    run(runner(&r1).arg("refresh").arg("--trust").arg(vendor.trust_path())).ok();
    let (status, reason) = check(&r1);
    assert_eq!(status, "valid", "{reason}");
    // The operator sees that r1 runs on an earlier receipt, and until when.
    let listed = run(hub(&hub_state).args(["runners", "list"])).ok().stdout;
    assert!(listed.contains("countersigned by the portal in an earlier receipt"), "{listed}");
    assert!(!listed.contains("awaiting"), "{listed}");
    let json = run(hub(&hub_state).args(["runners", "list", "--json"])).ok().json();
    let view = &json.as_array().expect("a list")[0];
    assert_eq!(view["countersign"], "countersigned_earlier", "{json}");
    assert!(view["countersigned_until"].as_i64().is_some(), "{json}");
    // A runner the portal never countersigned gets nothing from r1's receipt.
    let r2 = dir.path().join("r2");
    let installed = install_with_token(&hub_state, &r2, "r2", &daemon.address, &vendor);
    assert_eq!(installed.code, 19, "{}", installed.stderr);
    assert_eq!(check(&r2).0, "runner_limit_exceeded");
    let json = run(hub(&hub_state).args(["runners", "list", "--json"])).ok().json();
    let r2_view = json.as_array().expect("a list").iter().find(|v| v["label"] == "r2").cloned();
    assert_eq!(r2_view.expect("r2")["countersign"], "awaiting", "{json}");
    assert!(daemon.stop().success());
}
