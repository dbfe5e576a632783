//! A license with `runner_countersign`: the portal counts runner keys, and a runner runs only
//! on a receipt that countersigns its key. An honest site gets its runners valid at once, also
//! after a hub restart and a portal restart; a runner leased while the portal cannot be reached
//! waits for it; a third runner is refused; a lease a patched hub signs alone runs nothing.
//! docs/SECURITY.md says what this defends.

use std::path::Path;

use tessera_core::activation::{Bundle, LeaseClaims, open_runner_call, sign_lease};

use crate::kit::{
    Daemon, Portal, Ran, Vendor, cmd, hub, in_keyring_session, on_other_machine, run, runner,
};
use crate::scenarios::install;

/// A countersign license for `runners`, registered, and its hub activated and serving on
/// `listen`. Returns the daemon.
pub(crate) fn countersign_site(
    vendor: &Vendor,
    portal: &Portal,
    dir: &Path,
    runners: u32,
) -> Daemon {
    let api_key_file = portal.api_key_file.to_str().expect("path");
    let license = vendor.issue(
        "acme.license",
        runners,
        &["--portal-url", &portal.url, "--register", &portal.url, "--api-key-file", api_key_file]
            .into_iter()
            .chain(["--not-before", "2020-01-01", "--runner-countersign"])
            .collect::<Vec<_>>(),
    );
    let inspected = run(cmd("tessera").args(["inspect", "--json"]).arg(&license)).ok().json();
    assert_eq!(inspected["claims"]["runner_countersign"], true, "{inspected}");
    run(hub(&dir.join("hub"))
        .args(["activate", "--license"])
        .arg(&license)
        .arg("--trust")
        .arg(vendor.trust_path()))
    .ok();
    serve(dir, "127.0.0.1:0")
}

fn serve(dir: &Path, listen: &str) -> Daemon {
    serve_leasing(dir, listen, "30d")
}

/// The hub's daemon on `listen`, granting leases of `ttl`.
pub(crate) fn serve_leasing(dir: &Path, listen: &str, ttl: &str) -> Daemon {
    let mut daemon = hub(&dir.join("hub"));
    daemon.args(["run", "--runner-listen", listen, "--lease-ttl", ttl]);
    Daemon::start(daemon, "runners: listening on ")
}

/// `tessera-runner install` from the hub at `address` with a fresh runner token.
pub(crate) fn install_with_token(
    hub_state: &Path,
    state: &Path,
    label: &str,
    address: &str,
    vendor: &Vendor,
) -> Ran {
    let token = run(hub(hub_state).arg("runner-token")).ok().stdout.trim().to_owned();
    run(runner(state)
        .args(["install", "--hub", &format!("http://{address}"), "--label", label, "--trust"])
        .arg(vendor.trust_path())
        .env("TESSERA_RUNNER_TOKEN", &token))
}

pub(crate) fn check(state: &Path) -> (String, String) {
    let checked = run(runner(state).args(["check", "--json"]));
    let json = checked.json();
    (
        json["status"].as_str().unwrap_or("").to_owned(),
        json["reason"].as_str().unwrap_or("").to_owned(),
    )
}

/// What a patched hub does: a lease signed with the hub's own key for a runner's request,
/// past the limit, with the hub's latest receipt, and no countersignature for that runner.
pub(crate) fn patched_hub_bundle(hub_state: &Path, request: &Path, out: &Path, name_machine: bool) {
    let (key, _) = tessera_core::keyfile::load_or_create_plain(&hub_state.join("hub.key"))
        .expect("the hub key");
    let call = open_runner_call(&std::fs::read(request).expect("request")).expect("runner call");
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(hub_state.join("state.json")).expect("state"))
            .expect("state json");
    let license = std::fs::read_to_string(hub_state.join("license.license")).expect("license");
    let license_id = tessera_core::license::LicenseFile::parse(license.as_bytes())
        .expect("license")
        .unverified_claims()
        .expect("claims")
        .id;
    let now = tessera_core::UnixTime::from_unix(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("time")
            .as_secs()
            .try_into()
            .expect("secs"),
    )
    .expect("now");
    let claims = LeaseClaims {
        license_id,
        runner_key_id: call.runner_key.key_id(),
        label: call.label.clone(),
        nonce: call.nonce,
        issued_at: now,
        expires_at: now.saturating_add(std::time::Duration::from_secs(86_400)),
        machine: call.machine.clone().filter(|_| name_machine),
    };
    let text = |field: &str| state[field].as_str().map(str::to_owned);
    let bundle = Bundle {
        status: tessera_core::Status::Valid,
        license,
        receipt: text("receipt"),
        delegation: text("delegation"),
        activation: None,
        hub_key: key.public_key().clone(),
        lease: Some(sign_lease(&claims, &key)),
        named_receipt: None,
    };
    std::fs::write(out, serde_json::to_vec(&bundle).expect("json")).expect("bundle");
}

#[test]
fn a_countersign_license_holds_the_runner_limit_at_the_portal_and_an_honest_site_runs() {
    if !in_keyring_session() {
        return;
    }
    let vendor = Vendor::keygen();
    let mut portal = Portal::start(&vendor);
    let dir = tempfile::tempdir().expect("dir");
    let mut daemon = countersign_site(&vendor, &portal, dir.path(), 2);
    let hub_state = dir.path().join("hub");
    let (r1, r2) = (dir.path().join("r1"), dir.path().join("r2"));

    // A new runner is valid at once: its lease call had the portal countersign its key.
    install(dir.path(), "r1", &daemon.address, &vendor);
    assert_eq!(check(&r1).0, "valid", "{:?}", check(&r1));

    // The portal cannot be reached when r2 is leased: r2 holds a lease but does not run until
    // a receipt countersigns it, and says why; r1 runs on.
    portal.kill();
    let installed = install_with_token(&hub_state, &r2, "r2", &daemon.address, &vendor);
    assert_eq!(installed.code, 19, "installed, not valid: {}", installed.stdout);
    let (status, reason) = check(&r2);
    assert_eq!(status, "runner_limit_exceeded", "{reason}");
    assert!(reason.contains("has not countersigned"), "{reason}");
    assert_eq!(check(&r1).0, "valid");
    // The portal is back (restarted): the next ping names r2, and r2's refresh makes it valid.
    portal.restart();
    run(hub(&hub_state).arg("ping")).ok();
    run(runner(&r2).arg("refresh")).ok();
    assert_eq!(check(&r2).0, "valid", "{:?}", check(&r2));
    let listed = run(hub(&hub_state).args(["runners", "list"])).ok().stdout;
    assert_eq!(listed.matches("countersigned by the portal").count(), 2, "{listed}");

    // A third runner: the hub refuses it, with the reason.
    let third =
        install_with_token(&hub_state, &dir.path().join("r3"), "r3", &daemon.address, &vendor);
    assert_ne!(third.code, 0);
    assert!(third.stderr.contains("runner_limit_exceeded"), "{}", third.stderr);

    // A patched hub signs a lease for a fourth runner with its own key: the runner installs
    // it (the lease is genuine) but does not run: no receipt countersigns its key.
    let r4 = dir.path().join("r4");
    let request = dir.path().join("r4.request");
    let bundle = dir.path().join("r4.bundle");
    run(runner(&r4).args(["request", "--label", "r4", "--out"]).arg(&request)).ok();
    patched_hub_bundle(&hub_state, &request, &bundle, true);
    let installed = run(runner(&r4)
        .args(["install", "--bundle"])
        .arg(&bundle)
        .arg("--trust")
        .arg(vendor.trust_path()));
    assert_eq!(
        installed.code, 19,
        "the genuine lease is installed, then refused: {}",
        installed.stderr
    );
    let (status, reason) = check(&r4);
    assert_eq!(status, "runner_limit_exceeded", "{reason}");
    assert!(reason.contains("has not countersigned"), "{reason}");
    // A lease naming no machine would make one place of every copy of a key: refused as
    // such, whatever the receipt says.
    let r5 = dir.path().join("r5");
    let (request, bundle) = (dir.path().join("r5.request"), dir.path().join("r5.bundle"));
    run(runner(&r5).args(["request", "--label", "r5", "--out"]).arg(&request)).ok();
    patched_hub_bundle(&hub_state, &request, &bundle, false);
    let installed = run(runner(&r5)
        .args(["install", "--bundle"])
        .arg(&bundle)
        .arg("--trust")
        .arg(vendor.trust_path()));
    assert_eq!(installed.code, 19, "{}", installed.stderr);
    let (status, reason) = check(&r5);
    assert_eq!(status, "runner_limit_exceeded", "{reason}");
    assert!(reason.contains("names none"), "{reason}");

    // The hub restarts (on the same address): both runners refresh and stay valid.
    let address = daemon.address.clone();
    assert!(daemon.stop().success());
    daemon = serve(dir.path(), &address);
    for state in [&r1, &r2] {
        run(runner(state).arg("refresh")).ok();
        assert_eq!(check(state).0, "valid", "{:?}", check(state));
    }
    // The portal restarts: the next ping countersigns the same two again.
    portal.restart();
    run(hub(&hub_state).arg("ping")).ok();
    for state in [&r1, &r2] {
        run(runner(state).arg("refresh")).ok();
        assert_eq!(check(state).0, "valid", "{:?}", check(state));
    }
    assert_eq!(check(&r4).0, "runner_limit_exceeded");

    // Root copies r1 (key, cache, keystore entry) to a second machine and the patched hub
    // leases the same key there: the portal counts a key on its machine, so the copy's
    // place is not countersigned.
    let other_id = "0123456789abcdef0123456789abcdef";
    let copied_request = dir.path().join("copy.request");
    let copied_bundle = dir.path().join("copy.bundle");
    let Some(mut asks) = on_other_machine(
        runner(&r1).args(["request", "--label", "r1", "--out"]).arg(&copied_request),
        other_id,
        dir.path(),
    ) else {
        return;
    };
    run(&mut asks).ok();
    patched_hub_bundle(&hub_state, &copied_request, &copied_bundle, true);
    let mut installs = on_other_machine(
        runner(&r1)
            .args(["install", "--bundle"])
            .arg(&copied_bundle)
            .arg("--trust")
            .arg(vendor.trust_path()),
        other_id,
        dir.path(),
    )
    .expect("works as above");
    assert_eq!(run(&mut installs).code, 19);
    let mut checks = on_other_machine(runner(&r1).args(["check", "--json"]), other_id, dir.path())
        .expect("as above");
    let copy = run(&mut checks).json();
    assert_eq!(copy["status"], "runner_limit_exceeded", "{copy}");
    assert!(daemon.stop().success());
}
