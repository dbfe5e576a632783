//! Customer scenarios across all processes.

use std::path::Path;

use crate::kit::{
    Daemon, Portal, Vendor, cmd, have, hub, hub_at, in_keyring_session, run, runner, runner_at,
};

/// A license issued for `portal`, registered, a hub activated, serving runners with long
/// leases, and one runner installed. Returns (license id, hub daemon, hub state, runner state).
pub(crate) fn site(vendor: &Vendor, portal: &Portal, dir: &Path, runners: u32) -> (String, Daemon) {
    // Valid from long ago, so that a clock moved back meets the rollback rule, not the
    // license's start.
    let license = vendor.issue(
        "acme.license",
        runners,
        &[
            "--portal-url",
            &portal.url,
            "--register",
            &portal.url,
            "--api-key-file",
            portal.api_key_file.to_str().expect("path"),
            "--not-before",
            "2020-01-01",
        ],
    );
    let id = run(cmd("tessera").args(["inspect", "--json"]).arg(&license)).json()["claims"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    run(hub(&dir.join("hub"))
        .args(["activate", "--license"])
        .arg(&license)
        .arg("--trust")
        .arg(vendor.trust_path()))
    .ok();
    let mut daemon = hub(&dir.join("hub"));
    daemon.args(["run", "--runner-listen", "127.0.0.1:0", "--lease-ttl", "30d"]);
    let daemon = Daemon::start(daemon, "runners: listening on ");
    (id, daemon)
}

/// A [`site`] whose daemon has stopped, for tests that drive the hub one command at a
/// time. Returns (the site's directory, license id).
pub(crate) fn stopped_site(
    vendor: &Vendor,
    portal: &Portal,
    runners: u32,
) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("dir");
    let (id, daemon) = site(vendor, portal, dir.path(), runners);
    assert!(daemon.stop().success());
    (dir, id)
}

pub(crate) fn install(dir: &Path, name: &str, hub_address: &str, vendor: &Vendor) {
    let token = run(hub(&dir.join("hub")).arg("runner-token")).ok().stdout.trim().to_owned();
    run(runner(&dir.join(name))
        .args(["install", "--hub", &format!("http://{hub_address}"), "--label", name, "--trust"])
        .arg(vendor.trust_path())
        .env("TESSERA_RUNNER_TOKEN", &token))
    .ok();
}

#[test]
fn happy_path_then_portal_down_grace_grace_expired_and_back() {
    if !in_keyring_session() || !have("faketime", "faketime") {
        return;
    }
    let vendor = Vendor::keygen();
    let mut portal = Portal::start(&vendor);
    let dir = tempfile::tempdir().expect("dir");
    let (_, daemon) = site(&vendor, &portal, dir.path(), 2);
    install(dir.path(), "r1", &daemon.address, &vendor);
    let (hub_state, r1) = (dir.path().join("hub"), dir.path().join("r1"));

    assert_eq!(run(hub(&hub_state).args(["status", "--json"])).ok().status(), "valid");
    assert_eq!(run(runner(&r1).args(["check", "--json"])).ok().status(), "valid");

    // The portal goes down. Three hours later (real clock travel): both in grace.
    portal.kill();
    let ping = run(hub_at("+3h", &hub_state).arg("ping"));
    assert_eq!(ping.code, 7, "unreachable: {}", ping.stderr);
    let status = run(hub_at("+3h", &hub_state).args(["status", "--json"]));
    assert_eq!((status.code, status.status()), (0, "grace".to_owned()), "{}", status.stdout);
    let check = run(runner_at("+3h", &r1).args(["check", "--json"]));
    assert_eq!((check.code, check.status()), (0, "grace".to_owned()), "{}", check.stdout);

    // Past the seven days of grace: neither may run.
    let status = run(hub_at("+8d", &hub_state).args(["status", "--json"]));
    assert_eq!((status.code, status.status()), (20, "grace_expired".to_owned()));
    let check = run(runner_at("+8d", &r1).args(["check", "--json"]));
    assert_eq!((check.code, check.status()), (20, "grace_expired".to_owned()));

    // The portal is back: the hub pings and is valid again.
    portal.restart();
    assert_eq!(run(hub(&hub_state).args(["ping", "--json"])).ok().status(), "valid");
    // The runner saw a clock eight days ahead: back at the real time, that is a rollback
    // far beyond the tolerance until the runner hears from its hub…
    let check = run(runner(&r1).args(["check", "--json"]));
    assert_eq!((check.code, check.status()), (21, "clock_rollback".to_owned()), "{}", check.stdout);
    // …whose fresh lease carries the hub's present: after a refresh it is valid again.
    run(runner(&r1).arg("refresh")).ok();
    let check = run(runner(&r1).args(["check", "--json"]));
    assert_eq!((check.code, check.status()), (0, "valid".to_owned()), "{}", check.stdout);
    // A runner that never saw the future is valid.
    install(dir.path(), "r2", &daemon.address, &vendor);
    assert_eq!(
        run(runner(&dir.path().join("r2")).args(["check", "--json"])).ok().status(),
        "valid"
    );
    assert!(daemon.stop().success());
}

#[test]
fn expiry_and_clock_rollback_with_real_clock_travel() {
    if !in_keyring_session() || !have("faketime", "faketime") {
        return;
    }
    let vendor = Vendor::keygen();
    let portal = Portal::start(&vendor);
    let dir = tempfile::tempdir().expect("dir");
    let (_, daemon) = site(&vendor, &portal, dir.path(), 2);
    install(dir.path(), "r1", &daemon.address, &vendor);
    let r1 = dir.path().join("r1");
    // Seventy-five years on, the license (through 2099-12-31) has expired: that wins.
    let check = run(runner_at("+27500d", &r1).args(["check", "--json"]));
    assert_eq!((check.code, check.status()), (10, "expired".to_owned()), "{}", check.stdout);
    let status = run(hub_at("+27500d", &dir.path().join("hub")).args(["status", "--json"]));
    assert_eq!((status.code, status.status()), (10, "expired".to_owned()));
    // Half an hour back is within the tolerance; two hours back is not.
    let r2 = dir.path().join("r2");
    install(dir.path(), "r2", &daemon.address, &vendor);
    assert_eq!(run(runner_at("-30m", &r2).args(["check", "--json"])).code, 0);
    let check = run(runner_at("-2h", &r2).args(["check", "--json"]));
    assert_eq!((check.code, check.status()), (21, "clock_rollback".to_owned()), "{}", check.stdout);
}

#[test]
fn suspension_and_revocation_reach_the_hub_and_then_the_runners() {
    if !in_keyring_session() {
        return;
    }
    let vendor = Vendor::keygen();
    let portal = Portal::start(&vendor);
    let dir = tempfile::tempdir().expect("dir");
    let (id, daemon) = site(&vendor, &portal, dir.path(), 2);
    install(dir.path(), "r1", &daemon.address, &vendor);
    let (hub_state, r1) = (dir.path().join("hub"), dir.path().join("r1"));

    portal.admin(&id, "suspend");
    // Nothing changes until the hub's next ping…
    assert_eq!(run(hub(&hub_state).args(["status", "--json"])).status(), "valid");
    let ping = run(hub(&hub_state).args(["ping", "--json"]));
    assert_eq!((ping.code, ping.status()), (18, "suspended".to_owned()));
    // …and the runner's next refresh.
    assert_eq!(run(runner(&r1).args(["check", "--json"])).status(), "valid");
    run(runner(&r1).arg("refresh")).ok();
    let check = run(runner(&r1).args(["check", "--json"]));
    assert_eq!((check.code, check.status()), (18, "suspended".to_owned()));

    portal.admin(&id, "reinstate");
    run(hub(&hub_state).arg("ping")).ok();
    run(runner(&r1).arg("refresh")).ok();
    assert_eq!(run(runner(&r1).args(["check", "--json"])).ok().status(), "valid");

    portal.admin(&id, "revoke");
    assert_eq!(run(hub(&hub_state).args(["ping", "--json"])).status(), "revoked");
    run(runner(&r1).arg("refresh")).ok();
    let check = run(runner(&r1).args(["check", "--json"]));
    assert_eq!((check.code, check.status()), (17, "revoked".to_owned()));
    drop(daemon);
}

#[test]
fn vendor_key_rotation_keeps_old_licenses_until_the_old_key_is_distrusted() {
    let vendor = Vendor::keygen();
    let old = vendor.issue("old.license", 2, &[]);
    // A second key joins the trust set.
    let keys2 = vendor.path("keys2");
    run(cmd("tessera").args(["keygen", "--no-passphrase", "--out-dir"]).arg(&keys2)).ok();
    let new = vendor.issue_with(&keys2.join("signing.key"), "new.license", 2, &[]);
    let old_pub = std::fs::read_to_string(vendor.trust_path()).expect("pub");
    let new_pub = std::fs::read_to_string(keys2.join("signing.pub")).expect("pub");
    let both = vendor.path("both.pub");
    std::fs::write(&both, format!("{old_pub}{new_pub}")).expect("trust");
    let verify = |license: &Path, trust: &Path| {
        run(cmd("tessera").args(["verify", "--json", "--trust"]).arg(trust).arg(license))
    };
    assert_eq!(verify(&old, &both).ok().status(), "valid");
    assert_eq!(verify(&new, &both).ok().status(), "valid");

    // The old key is distrusted: its licenses are refused, the new key's stay valid.
    let old_key_line = old_pub.lines().find(|l| l.starts_with("tessera-pub-v1:")).expect("key");
    let distrust = vendor.path("distrust.pub");
    std::fs::write(&distrust, format!("{old_key_line} distrusted\n")).expect("trust");
    let refused = run(cmd("tessera")
        .args(["verify", "--json", "--trust"])
        .arg(&both)
        .arg("--trust")
        .arg(&distrust)
        .arg(&old));
    assert_eq!((refused.code, refused.status()), (14, "unknown_key".to_owned()));
    let still = run(cmd("tessera")
        .args(["verify", "--json", "--trust"])
        .arg(&both)
        .arg("--trust")
        .arg(&distrust)
        .arg(&new));
    assert_eq!(still.ok().status(), "valid");

    // A hub given the rotated trust set refuses the old license before calling anyone.
    let rotated = vendor.path("rotated.pub");
    std::fs::write(&rotated, &new_pub).expect("trust");
    let dir = tempfile::tempdir().expect("dir");
    run(hub(dir.path())
        .args(["activate", "--portal", "http://127.0.0.1:9", "--license"])
        .arg(&old)
        .arg("--trust")
        .arg(&rotated))
    .fails(14, "unknown_key");
}

#[test]
fn an_air_gapped_site_runs_without_any_portal() {
    if !in_keyring_session() {
        return;
    }
    let vendor = Vendor::keygen();
    let license = vendor.issue("acme.license", 2, &[]);
    let dir = tempfile::tempdir().expect("dir");
    let hub_state = dir.path().join("hub");
    let answer = vendor.activate_offline(&license, &hub_state);
    let status = run(hub(&hub_state).args(["status", "--json"])).ok();
    assert_eq!(
        (status.status(), status.json()["mode"].as_str()),
        ("valid".to_owned(), Some("offline"))
    );

    // A runner installed from a bundle carried over by hand: its request to the hub's
    // operator, the operator's answer.
    let r1 = dir.path().join("r1");
    let request = dir.path().join("runner-request.txt");
    run(runner(&r1).args(["request", "--label", "r1", "--out"]).arg(&request)).ok();
    let bundle = dir.path().join("bundle.json");
    run(hub(&hub_state).args(["bundle", "--request"]).arg(&request).arg("--out").arg(&bundle)).ok();
    run(runner(&r1)
        .args(["install", "--bundle"])
        .arg(&bundle)
        .arg("--trust")
        .arg(vendor.trust_path()))
    .ok();
    assert_eq!(run(runner(&r1).args(["check", "--json"])).ok().status(), "valid");
    // The same answer again is refused.
    run(hub(&hub_state).args(["activate", "--offline"]).arg(&answer))
        .fails(13, "outstanding request");
}

/// Runs a hub command in new UTS and mount namespaces with its host changed: the hostname,
/// and with `elsewhere`, also the machine id and the NICs (hidden), as on another machine.
fn on_changed_host(
    state: &Path,
    elsewhere: bool,
    scratch: &Path,
    args: &[&str],
) -> crate::kit::Ran {
    let hub_bin = crate::kit::bin("tessera-hub");
    let mut script = String::from("set -e; hostname renamed-host; ");
    if elsewhere {
        std::fs::write(scratch.join("machine-id"), "0123456789abcdef0123456789abcdef\n")
            .expect("id");
        std::fs::create_dir_all(scratch.join("no-nics")).expect("dir");
        script.push_str(&format!(
            "mount --bind {0}/machine-id /etc/machine-id; mount --bind {0}/no-nics /sys/class/net; ",
            scratch.display()
        ));
    }
    script.push_str("exec \"$@\"");
    run(std::process::Command::new("unshare")
        .args(["--uts", "--mount", "sh", "-c", &script, "sh"])
        .arg(&hub_bin)
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .env("TESSERA_LOG", "warn")
        .env("TESSERA_HUB_HOST_SECRET", tessera_testkit::process::host_secret_path()))
}

#[test]
fn a_slightly_changed_host_keeps_working_and_another_host_is_refused() {
    if !have("unshare", "util-linux") {
        return;
    }
    let probe = run(std::process::Command::new("unshare").args(["--uts", "--mount", "true"]));
    if probe.code != 0 {
        // Namespaces need root (CAP_SYS_ADMIN): CI runs as root.
        assert!(std::env::var_os("CI").is_none(), "unshare failed: {}", probe.stderr);
        eprintln!("\n!!! NOT RUN: unshare needs root here: {}\n", probe.stderr);
        return;
    }
    let vendor = Vendor::keygen();
    let portal = Portal::start(&vendor);
    let dir = tempfile::tempdir().expect("dir");
    let license = vendor.issue(
        "acme.license",
        2,
        &[
            "--portal-url",
            &portal.url,
            "--register",
            &portal.url,
            "--api-key-file",
            portal.api_key_file.to_str().expect("path"),
        ],
    );
    let state = dir.path().join("hub");
    run(hub(&state)
        .args(["activate", "--license"])
        .arg(&license)
        .arg("--trust")
        .arg(vendor.trust_path()))
    .ok();
    let components = run(hub(&state).args(["fingerprint", "--json"])).ok().json()["components"]
        .as_object()
        .map_or(0, |c| c.len());
    assert!(components >= 3, "this host shows only {components} components");

    // Renamed: one component changed, still the same host.
    let renamed = on_changed_host(&state, false, dir.path(), &["ping", "--json"]);
    assert_eq!((renamed.code, renamed.status()), (0, "valid".to_owned()), "{}", renamed.stderr);

    // Moved to another machine (new machine id, other NICs, other name): refused.
    let moved = on_changed_host(&state, true, dir.path(), &["ping", "--json"]);
    assert_eq!(
        (moved.code, moved.status()),
        (16, "fingerprint_mismatch".to_owned()),
        "{}",
        moved.stderr
    );
    // Back home, the binding still holds.
    assert_eq!(run(hub(&state).args(["ping", "--json"])).ok().status(), "valid");
}
