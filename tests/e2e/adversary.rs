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
    // A copy of r1's state directory on another machine: both refresh in turn, as two
    // machines would; the copies fork the hub's chain of r1's calls, and one is refused.
    let r1 = dir.path().join("r1");
    let copy = dir.path().join("r1-copy");
    copy_dir(&r1, &copy);
    let mut refused = Vec::new();
    for _ in 0..3 {
        for state in [&r1, &copy] {
            let ran = run(runner(state).args(["refresh", "--trust"]).arg(vendor.trust_path()));
            if ran.code != 0 {
                assert_eq!(ran.code, 8, "{}", ran.stderr);
                assert!(ran.stderr.contains("cloned"), "{}", ran.stderr);
                refused.push(state.clone());
            }
        }
    }
    assert!(!refused.is_empty(), "neither copy was refused");
    let listed = run(hub(&dir.path().join("hub")).args(["runners", "list", "--json"])).ok().json();
    assert!(
        listed.as_array().expect("runners").iter().any(|r| r["cloned_at"].is_i64()),
        "{listed}"
    );
    assert!(daemon.stop().success());
}

#[test]
fn a_revoked_runner_cannot_be_brought_back_with_anything_saved_before() {
    if !in_keyring_session() {
        return;
    }
    let vendor = Vendor::keygen();
    let portal = Portal::start(&vendor);
    let dir = tempfile::tempdir().expect("dir");
    let (id, daemon) = site(&vendor, &portal, dir.path(), 2);
    install(dir.path(), "r1", &daemon.address, &vendor);
    let (hub_state, r1) = (dir.path().join("hub"), dir.path().join("r1"));
    // The good days: the customer keeps an answer from the hub's operator (never installed)
    // and a copy of the runner's whole state directory.
    let request = dir.path().join("request.txt");
    run(runner(&r1).args(["request", "--label", "r1", "--out"]).arg(&request)).ok();
    let saved = dir.path().join("saved-bundle.json");
    run(hub(&hub_state).args(["bundle", "--request"]).arg(&request).arg("--out").arg(&saved)).ok();
    let saved_dir = dir.path().join("r1-saved");
    copy_dir(&r1, &saved_dir);

    portal.admin(&id, "revoke");
    assert_eq!(run(hub(&hub_state).args(["ping", "--json"])).status(), "revoked");
    run(runner(&r1).arg("refresh")).ok();
    assert_eq!(run(runner(&r1).args(["check", "--json"])).status(), "revoked");

    // The saved answer answers a request the runner's later call superseded: refused,
    // nothing changes.
    let installed = run(runner(&r1)
        .args(["install", "--bundle"])
        .arg(&saved)
        .arg("--trust")
        .arg(vendor.trust_path()));
    assert_ne!(installed.code, 0, "{}", installed.stdout);
    assert_eq!(run(runner(&r1).args(["check", "--json"])).status(), "revoked");
    // The saved state directory put back: the keystore knows a newer cache.
    std::fs::remove_dir_all(&r1).expect("remove");
    copy_dir(&saved_dir, &r1);
    let check = run(runner(&r1).args(["check", "--json"]));
    assert_eq!((check.code, check.status()), (22, "tampered".to_owned()), "{}", check.stdout);
    for f in [hub_state.join("state.json"), r1.join("cache")] {
        eprintln!("DEBUG {}: {:?}", f.display(), std::fs::read_to_string(&f));
    }
    // Asking the hub again (with the vendor's trust set: the cache's own cannot be trusted
    // now) hears the revocation: the hub grants no lease, and nothing becomes valid.
    run(runner(&r1).args(["refresh", "--trust"]).arg(vendor.trust_path())).fails(17, "revoked");
    assert_ne!(run(runner(&r1).args(["check", "--json"])).status(), "valid");
    assert!(daemon.stop().success());
}

#[test]
fn a_hub_put_back_to_before_its_revocation_is_refused_at_its_next_ping() {
    let vendor = Vendor::keygen();
    let portal = Portal::start(&vendor);
    let dir = tempfile::tempdir().expect("dir");
    let (id, daemon) = site(&vendor, &portal, dir.path(), 2);
    assert!(daemon.stop().success());
    let hub_state = dir.path().join("hub");
    let saved = dir.path().join("hub-saved");
    copy_dir(&hub_state, &saved);
    portal.admin(&id, "revoke");
    assert_eq!(run(hub(&hub_state).args(["ping", "--json"])).status(), "revoked");
    // Root restores the state from before: offline, the hub believes its last receipt (the
    // limit docs/SECURITY.md names: until the grace period ends)...
    std::fs::remove_dir_all(&hub_state).expect("remove");
    copy_dir(&saved, &hub_state);
    assert_eq!(run(hub(&hub_state).args(["status", "--json"])).status(), "valid");
    // ...but its next ping hears the truth again.
    let ping = run(hub(&hub_state).args(["ping", "--json"]));
    assert_ne!(ping.status(), "valid", "{}", ping.stdout);
    assert_ne!(ping.code, 0);
}

#[test]
fn tessera_audit_verify_checks_the_portals_ledger_and_names_what_was_changed() {
    let vendor = Vendor::keygen();
    let portal = crate::kit::Portal::start(&vendor);
    let (claims, license) = vendor.license(2, None);
    portal.register(&license);
    let id = claims.id.to_string();
    portal.admin(&id, "suspend");
    portal.admin(&id, "reinstate");
    let dir = tempfile::tempdir().expect("dir");
    let export = dir.path().join("audit.jsonl");
    let text = portal.admin_text("audit");
    std::fs::write(&export, &text).expect("export");
    let verify = |file: &std::path::Path| {
        let mut command = crate::kit::cmd("tessera");
        command.args(["audit", "verify"]).arg(file).arg("--trust").arg(vendor.trust_path());
        run(&mut command)
    };
    let sound = verify(&export);
    assert_eq!(sound.code, 0, "{}", sound.stderr);
    assert!(sound.stdout.contains("sound: 4 entries"), "{}", sound.stdout);

    // Each kind of edit of the export, named.
    let lines: Vec<&str> = text.lines().collect();
    let entry_at = |seq: u64| {
        lines
            .iter()
            .position(|l| {
                l.contains("\"kind\":\"entry\"") && l.contains(&format!("\"seq\":{seq},"))
            })
            .expect("entry")
    };
    let write = |name: &str, lines: &[String]| {
        let path = dir.path().join(name);
        std::fs::write(&path, lines.join("\n")).expect("write");
        path
    };
    let owned: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    let mut changed = owned.clone();
    changed[entry_at(3)] = changed[entry_at(3)].replace("license.suspended", "license.reinstated");
    let mut removed = owned.clone();
    removed.remove(entry_at(2));
    let mut reordered = owned.clone();
    reordered.swap(entry_at(3), entry_at(4));
    for (name, lines, says) in [
        ("changed", changed, "entry 3 was changed"),
        ("removed", removed, "entry 2 is missing"),
        ("reordered", reordered, "entry 3 is missing"),
    ] {
        let bad = verify(&write(name, &lines));
        assert_eq!(bad.code, 9, "{name}: {}", bad.stderr);
        assert!(bad.stderr.contains(says), "{name}: {}", bad.stderr);
    }
    // Another vendor's key vouches for none of its heads.
    let other = Vendor::keygen();
    let mut command = crate::kit::cmd("tessera");
    command.args(["audit", "verify"]).arg(&export).arg("--trust").arg(other.trust_path());
    let stranger = run(&mut command);
    assert_eq!(stranger.code, 9, "{}", stranger.stderr);
    assert!(
        stranger.stderr.contains("no delegation from a trusted vendor key"),
        "{}",
        stranger.stderr
    );
    let junk = write("junk", &["not json".to_owned()]);
    let refused = verify(&junk);
    assert_eq!(refused.code, 5, "{}", refused.stderr);
    assert!(refused.stderr.contains("line 1"), "{}", refused.stderr);
}
