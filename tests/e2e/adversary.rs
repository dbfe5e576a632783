//! A hostile customer with root on the hub and runner machines, with the real binaries:
//! copies of state directories, more runners than the license allows, saved answers
//! installed again. What each defended case is, and what an offline check cannot prevent,
//! is written in docs/SECURITY.md.

use std::path::Path;
use std::process::Command;

use crate::kit::{Portal, Vendor, hub, in_keyring_session, run, runner};
use crate::scenarios::{install, site};

/// `cp -a from to`: a copy of a state directory, as a cloned VM or a restored backup has.
fn copy_dir(from: &Path, to: &Path) {
    let ok = Command::new("cp").arg("-a").arg(from).arg(to).status().expect("cp");
    assert!(ok.success());
}

#[test]
fn a_copied_hub_is_noticed_and_one_copy_is_refused() {
    let vendor = Vendor::keygen();
    let portal = Portal::start(&vendor);
    let dir = tempfile::tempdir().expect("dir");
    let (id, daemon) = site(&vendor, &portal, dir.path(), 2);
    assert!(daemon.stop().success());
    let original = dir.path().join("hub");
    let twin = dir.path().join("twin");
    copy_dir(&original, &twin);
    // Both ping, turn about, as two machines would every hour.
    let mut words = Vec::new();
    for _ in 0..3 {
        for state in [&original, &twin] {
            let ran = run(hub(state).args(["ping", "--json"]));
            words.push(ran.status());
        }
    }
    assert!(words.contains(&"cloned".to_owned()), "{words:?}");
    // One copy stays refused (its own state holds the signed `cloned` receipt), the other
    // goes on; the vendor sees it.
    let status = |state: &Path| run(hub(state).args(["status", "--json"])).status();
    let (a, b) = (status(&original), status(&twin));
    assert!((a == "cloned" && b == "valid") || (a == "valid" && b == "cloned"), "{a} / {b}");
    let shown = portal.admin_get(&format!("licenses/{id}"));
    assert!(shown["activation"]["cloned_at"].is_i64(), "{shown}");
    // The documented way back for a hub restored from a backup: the vendor resets the
    // binding, and the hub binds again by itself at its next ping.
    let refused = if a == "cloned" { &original } else { &twin };
    let kept = if a == "cloned" { &twin } else { &original };
    std::fs::remove_dir_all(kept).expect("the other machine is gone");
    portal.admin(&id, "reset-binding");
    assert_eq!(run(hub(refused).args(["ping", "--json"])).status(), "valid");
}

#[test]
fn a_third_runner_machine_is_refused_whatever_it_calls_itself() {
    if !in_keyring_session() {
        return;
    }
    let vendor = Vendor::keygen();
    let portal = Portal::start(&vendor);
    let dir = tempfile::tempdir().expect("dir");
    let (_, daemon) = site(&vendor, &portal, dir.path(), 2);
    install(dir.path(), "r1", &daemon.address, &vendor);
    install(dir.path(), "r2", &daemon.address, &vendor);
    // A third machine, installed under the first one's name with a fresh token.
    let token = run(hub(&dir.path().join("hub")).arg("runner-token")).ok().stdout.trim().to_owned();
    let third = dir.path().join("third");
    run(runner(&third)
        .args(["install", "--hub", &format!("http://{}", daemon.address), "--label", "r1"])
        .arg("--trust")
        .arg(vendor.trust_path())
        .env("TESSERA_RUNNER_TOKEN", &token))
    .fails(8, "runner_limit_exceeded");
    assert_ne!(run(runner(&third).args(["check", "--json"])).status(), "valid");
    // A copy of r1's state directory on another machine: the hub notices the second
    // runner with one key at its next refresh.
    let r1 = dir.path().join("r1");
    let copy = dir.path().join("r1-copy");
    copy_dir(&r1, &copy);
    run(runner(&r1).arg("refresh")).ok();
    let copied = run(runner(&copy).args(["refresh", "--trust"]).arg(vendor.trust_path()));
    assert_eq!(copied.code, 8, "{}", copied.stderr);
    assert!(copied.stderr.contains("cloned"), "{}", copied.stderr);
    let listed = run(hub(&dir.path().join("hub")).args(["runners", "list", "--json"])).ok().json();
    assert!(
        listed.as_array().expect("runners").iter().any(|r| r["cloned_at"].is_i64()),
        "{listed}"
    );
    assert!(daemon.stop().success());
}
