//! Runner slots against a customer with root on the hub and runner machines: the operator's
//! own commands (`runners release`, `bundle --lease-ttl`), a runner copied to a second machine,
//! uninstalls and signed releases giving slots back, leases bounded by the hub's own grace, and
//! an air-gapped runner told of a revocation. docs/SECURITY.md says what each case defends.

use std::path::Path;

use crate::kit::{
    Portal, Vendor, hub, hub_at, in_keyring_session, on_other_machine, run, runner, runner_at,
};
use crate::scenarios::{install, site, stopped_site};

#[test]
fn the_operators_release_frees_no_slot_a_signed_lease_still_holds() {
    if !in_keyring_session() {
        return;
    }
    let vendor = Vendor::keygen();
    let portal = Portal::start(&vendor);
    let (dir, _) = stopped_site(&vendor, &portal, 2);
    let state = dir.path().join("hub");
    // Each air-gapped runner's request answered with a long lease, then the operator's
    // `runners release` (or `forget`) before the next: the license sells two.
    let mut valid = 0;
    for name in ["r1", "r2", "r3", "r4"] {
        let home = dir.path().join(name);
        let request = dir.path().join(format!("{name}.request"));
        let bundle = dir.path().join(format!("{name}.bundle"));
        run(runner(&home).args(["request", "--label", name, "--out"]).arg(&request)).ok();
        let answered = run(hub(&state)
            .args(["bundle", "--lease-ttl", "3650d", "--request"])
            .arg(&request)
            .arg("--out")
            .arg(&bundle));
        if answered.code == 0 {
            run(runner(&home)
                .args(["install", "--bundle"])
                .arg(&bundle)
                .arg("--trust")
                .arg(vendor.trust_path()))
            .ok();
        } else {
            assert_eq!(answered.code, 19, "{}", answered.stderr);
        }
        if run(runner(&home).args(["check", "--json"])).status() == "valid" {
            valid += 1;
        }
        let listed = run(hub(&state).args(["runners", "list", "--json"])).ok().json();
        for entry in listed.as_array().expect("runners") {
            let key = entry["key_id"].as_str().expect("key id");
            let released = run(hub(&state).args(["runners", "release", key])).ok();
            if entry["holds_slot"] == true {
                assert!(released.stdout.contains("stays counted"), "{}", released.stdout);
            }
            if entry["holds_slot"] == true {
                let forgot = run(hub(&state).args(["runners", "forget", key]));
                assert_eq!(forgot.code, 5, "{}", forgot.stderr);
                assert!(forgot.stderr.contains("holds a lease until"), "{}", forgot.stderr);
            }
        }
    }
    assert_eq!(valid, 2, "runners valid on a license for 2");
    let status = run(hub(&state).args(["status", "--json"])).json();
    assert_eq!(status["runners_leased"], 2, "{status}");
}

#[test]
fn a_runner_copied_to_a_second_machine_is_not_valid_there() {
    if !in_keyring_session() {
        return;
    }
    let vendor = Vendor::keygen();
    let portal = Portal::start(&vendor);
    let (dir, _) = stopped_site(&vendor, &portal, 2);
    let state = dir.path().join("hub");
    let r1 = dir.path().join("r1");
    let answer = |request: &Path, bundle: &Path| {
        run(hub(&state).args(["bundle", "--request"]).arg(request).arg("--out").arg(bundle))
    };
    let request = dir.path().join("request.txt");
    let bundle = dir.path().join("bundle.json");
    run(runner(&r1).args(["request", "--label", "r1", "--out"]).arg(&request)).ok();
    answer(&request, &bundle).ok();
    run(runner(&r1)
        .args(["install", "--bundle"])
        .arg(&bundle)
        .arg("--trust")
        .arg(vendor.trust_path()))
    .ok();
    assert_eq!(run(runner(&r1).args(["check", "--json"])).status(), "valid");
    // The same state directory and keystore entry, seen from a machine with another id (a
    // copy, re-synced after every refresh, on a second machine): not valid there.
    let other_id = "0123456789abcdef0123456789abcdef";
    let Some(mut elsewhere) =
        on_other_machine(runner(&r1).args(["check", "--json"]), other_id, dir.path())
    else {
        return;
    };
    let copy = run(&mut elsewhere);
    assert_eq!(
        (copy.code, copy.status()),
        (16, "fingerprint_mismatch".to_owned()),
        "{}",
        copy.stdout
    );
    // The copy asks the hub for a lease of its own with the same key: refused while the
    // first machine's lease runs, and marked for the operator.
    let copied_request = dir.path().join("copied-request.txt");
    let mut asks = on_other_machine(
        runner(&r1).args(["request", "--label", "r1", "--out"]).arg(&copied_request),
        other_id,
        dir.path(),
    )
    .expect("works as above");
    run(&mut asks).ok();
    let refused = answer(&copied_request, &dir.path().join("copied-bundle.json"));
    assert_eq!(refused.code, 25, "{}", refused.stderr);
    assert!(refused.stderr.contains("another machine"), "{}", refused.stderr);
    let listed = run(hub(&state).args(["runners", "list", "--json"])).ok().json();
    assert!(listed[0]["cloned_at"].is_number() || listed[0]["cloned_at"].is_string(), "{listed}");
    // The operator's release clears the mark but does not move the key while the first
    // machine's lease runs: the copy is refused again.
    let key = listed[0]["key_id"].as_str().expect("key id").to_owned();
    run(hub(&state).args(["runners", "release", &key])).ok();
    let again = dir.path().join("copied-request-2.txt");
    run(&mut on_other_machine(
        runner(&r1).args(["request", "--label", "r1", "--out"]).arg(&again),
        other_id,
        dir.path(),
    )
    .expect("works as above"))
    .ok();
    assert_eq!(answer(&again, &dir.path().join("copied-bundle-2.json")).code, 25);
    // A copy that hides its machine id (an empty /etc/machine-id) is no better: the hub
    // refuses a key leased to a machine from one that names none, and the check there is
    // not valid.
    let hidden = dir.path().join("hidden-request.txt");
    run(&mut on_other_machine(
        runner(&r1).args(["request", "--label", "r1", "--out"]).arg(&hidden),
        "",
        dir.path(),
    )
    .expect("an empty id mounts too"))
    .ok();
    assert_eq!(answer(&hidden, &dir.path().join("hidden-bundle.json")).code, 25);
    let mut hidden_check =
        on_other_machine(runner(&r1).args(["check", "--json"]), "", dir.path()).expect("mounts");
    assert_eq!(run(&mut hidden_check).status(), "fingerprint_mismatch");
    // The first machine is untouched.
    assert_eq!(run(runner(&r1).args(["check", "--json"])).status(), "valid");
}

#[test]
fn an_uninstalled_runner_gives_its_slot_back_and_a_reinstall_is_a_new_runner() {
    if !in_keyring_session() {
        return;
    }
    let vendor = Vendor::keygen();
    let portal = Portal::start(&vendor);
    let dir = tempfile::tempdir().expect("dir");
    let (_, daemon) = site(&vendor, &portal, dir.path(), 2);
    install(dir.path(), "r1", &daemon.address, &vendor);
    install(dir.path(), "r2", &daemon.address, &vendor);
    let r1 = dir.path().join("r1");
    run(runner(&r1).args(["refresh", "--trust"]).arg(vendor.trust_path())).ok();
    // An honest reinstall on the same machine (or a replacement machine), with the
    // license's two slots taken: the uninstall signs the slot back, the new install gets it.
    run(runner(&r1).arg("uninstall")).ok();
    assert_ne!(run(runner(&r1).args(["check", "--json"])).status(), "valid");
    install(dir.path(), "r1", &daemon.address, &vendor);
    assert_eq!(run(runner(&r1).args(["check", "--json"])).status(), "valid");
    let refreshed =
        run(runner(&r1).args(["refresh", "--json", "--trust"]).arg(vendor.trust_path()));
    assert_eq!(refreshed.ok().status(), "valid");
    // A signed release stops the runner that gave its slot back.
    let r2 = dir.path().join("r2");
    run(runner(&r2).arg("release")).ok();
    assert_ne!(run(runner(&r2).args(["check", "--json"])).status(), "valid");
    let status = run(hub(&dir.path().join("hub")).args(["status", "--json"])).json();
    assert_eq!(status["runners_leased"], 1, "{status}");
    assert!(daemon.stop().success());
}

#[test]
fn an_air_gapped_runner_gives_its_slot_back_with_a_signed_release_file() {
    if !in_keyring_session() {
        return;
    }
    let vendor = Vendor::keygen();
    let portal = Portal::start(&vendor);
    let (dir, _) = stopped_site(&vendor, &portal, 1);
    let state = dir.path().join("hub");
    let lease = |name: &str| {
        let home = dir.path().join(name);
        let request = dir.path().join(format!("{name}.request"));
        let bundle = dir.path().join(format!("{name}.bundle"));
        run(runner(&home).args(["request", "--label", name, "--out"]).arg(&request)).ok();
        let answered =
            run(hub(&state).args(["bundle", "--request"]).arg(&request).arg("--out").arg(&bundle));
        if answered.code == 0 {
            run(runner(&home)
                .args(["install", "--bundle"])
                .arg(&bundle)
                .arg("--trust")
                .arg(vendor.trust_path()))
            .ok();
        }
        answered.code
    };
    assert_eq!(lease("r1"), 0);
    assert_eq!(lease("r2"), 19, "a license for one runner");
    // r1 is decommissioned: it signs its release into a file and stops at once; the
    // operator hands the file to the hub, whose slot is then free for r2.
    let r1 = dir.path().join("r1");
    let release = dir.path().join("r1.release");
    run(runner(&r1).args(["release", "--label", "r1", "--out"]).arg(&release)).ok();
    assert_ne!(run(runner(&r1).args(["check", "--json"])).status(), "valid");
    let given = run(hub(&state)
        .args(["bundle", "--request"])
        .arg(&release)
        .arg("--out")
        .arg(dir.path().join("unused.bundle")))
    .ok();
    assert!(given.stderr.contains("slot is given back"), "{}", given.stderr);
    assert_eq!(lease("r2"), 0);
    assert_eq!(run(runner(&dir.path().join("r2")).args(["check", "--json"])).status(), "valid");
    // The same release file again is a replay, not a second slot.
    let again = run(hub(&state)
        .args(["bundle", "--request"])
        .arg(&release)
        .arg("--out")
        .arg(dir.path().join("unused.bundle")));
    assert_eq!(again.code, 5, "{}", again.stderr);
    assert_eq!(lease("r3"), 19);
}

#[test]
fn a_lease_never_outlives_the_hubs_own_grace() {
    if !in_keyring_session() {
        return;
    }
    let vendor = Vendor::keygen();
    let portal = Portal::start(&vendor);
    let (dir, _) = stopped_site(&vendor, &portal, 2);
    let state = dir.path().join("hub");
    let r1 = dir.path().join("r1");
    let request = dir.path().join("request.txt");
    run(runner(&r1).args(["request", "--label", "r1", "--out"]).arg(&request)).ok();
    // Ten years asked, with the clock moved three days ahead for the answer: the lease ends
    // with the grace of the hub's last receipt (a week after it), not later.
    let bundle = dir.path().join("bundle.json");
    let answered = run(hub_at("+3d", &state)
        .args(["bundle", "--lease-ttl", "3650d", "--request"])
        .arg(&request)
        .arg("--out")
        .arg(&bundle))
    .ok();
    let until = answered.stderr.split("lease until ").nth(1).expect("the lease's end");
    let until: tessera_core::UnixTime =
        until.trim().trim_end_matches(')').parse().expect("an RFC 3339 time");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let days = (until.as_unix() - i64::try_from(now).expect("now")) as f64 / 86_400.0;
    assert!((6.0..=7.01).contains(&days), "lease until {until}: {days} days");
    // The runner, on the same moved clock, runs on that lease until it ends, not after.
    run(runner_at("+3d", &r1)
        .args(["install", "--bundle"])
        .arg(&bundle)
        .arg("--trust")
        .arg(vendor.trust_path()))
    .ok();
    assert_eq!(run(runner_at("+3d", &r1).args(["check", "--json"])).status(), "grace");
    assert_ne!(run(runner_at("+8d", &r1).args(["check", "--json"])).status(), "valid");
}

#[test]
fn an_air_gapped_runner_learns_its_hubs_revocation_from_a_signed_refusal() {
    if !in_keyring_session() {
        return;
    }
    let vendor = Vendor::keygen();
    let portal = Portal::start(&vendor);
    let (dir, id) = stopped_site(&vendor, &portal, 2);
    let (hub_state, r1) = (dir.path().join("hub"), dir.path().join("r1"));
    // The runner never reaches the hub: requests and bundles go by hand.
    let answer = |name: &str| {
        let request = dir.path().join(format!("{name}.request"));
        run(runner(&r1).args(["request", "--label", "r1", "--out"]).arg(&request)).ok();
        let bundle = dir.path().join(format!("{name}.json"));
        let ran = run(hub(&hub_state)
            .args(["bundle", "--request"])
            .arg(&request)
            .arg("--out")
            .arg(&bundle));
        (ran, bundle)
    };
    let install = |bundle: &Path| {
        run(runner(&r1)
            .args(["install", "--bundle"])
            .arg(bundle)
            .arg("--trust")
            .arg(vendor.trust_path()))
    };
    let (first, bundle) = answer("first");
    first.ok();
    install(&bundle).ok();
    assert_eq!(run(runner(&r1).args(["check", "--json"])).status(), "valid");

    portal.admin(&id, "revoke");
    assert_eq!(run(hub(&hub_state).args(["ping", "--json"])).status(), "revoked");
    // The revoked hub grants no lease, but answers with its signed refusal.
    let (refused, refusal) = answer("refusal");
    assert_eq!(refused.code, 17, "{}", refused.stderr);
    assert!(refused.stderr.contains("carries the hub's refusal"), "{}", refused.stderr);
    // Its status word edited to `valid` asks for a lease it does not hold: refused, nothing
    // changes.
    let edited = dir.path().join("edited.json");
    let mut text: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&refusal).expect("refusal")).expect("json");
    assert!(text["lease"].is_null(), "{text}");
    text["status"] = serde_json::Value::String("valid".into());
    std::fs::write(&edited, serde_json::to_vec(&text).expect("json")).expect("write");
    assert_ne!(install(&edited).code, 0);
    assert_eq!(run(runner(&r1).args(["check", "--json"])).status(), "valid");
    // Installed as written, it stops the runner before its lease ends.
    assert_eq!(install(&refusal).code, 17);
    let check = run(runner(&r1).args(["check", "--json"]));
    assert_eq!((check.code, check.status()), (17, "revoked".to_owned()), "{}", check.stdout);
    // The earlier answer cannot be put back over it.
    assert_ne!(install(&bundle).code, 0);
    assert_eq!(run(runner(&r1).args(["check", "--json"])).status(), "revoked");
}
