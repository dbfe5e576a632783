//! The real `tessera-runner` binary, as the vendor's runner scripts call it.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use tessera_runner::keystore::{Backend, Keystore, OsKeystore, Secret};
use tessera_runner::runner::Runner;
use zeroize::Zeroizing;

use tessera_testkit::run;

use crate::helpers::{Site, in_session};

fn runner(state: &Path) -> Command {
    let mut command = tessera_testkit::command("tessera-runner");
    command.arg("--state-dir").arg(state).args(["--keystore", "keyutils"]);
    command
}

/// `tessera-runner install` of runner `r1` in `state` from the site's hub, as an operator
/// runs it (the token through the environment).
fn install(site: &Site, state: &Path) {
    let out = run(runner(state)
        .args(["install", "--hub", &site.hub_url, "--label", "r1", "--trust"])
        .arg(site.vendor.trust_path())
        .env("TESSERA_RUNNER_TOKEN", site.new_token()));
    assert!(out.code == 0, "{}", out.stderr);
}

#[test]
fn the_binary_installs_checks_refreshes_and_uninstalls() {
    if !in_session(Backend::Keyutils) {
        return;
    }
    let site = Site::new(2);
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("state");

    // Not installed: no_license, exit 23, in JSON too.
    let out = run(runner(&state).args(["check", "--json"]));
    assert_eq!(Some(out.code), Some(23));
    let decision: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(decision["status"], "no_license");

    install(&site, &state);

    let out = run(runner(&state).args(["check", "--json"]));
    assert_eq!(Some(out.code), Some(0), "{}", out.stdout);
    let decision: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(decision["status"], "valid");
    assert!(decision["grace_left_secs"].as_u64().expect("grace left") > 0);

    let out = run(runner(&state).arg("refresh"));
    assert!(out.code == 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("valid:"));

    // A changed byte: tampered, exit 22.
    let cache = state.join("cache");
    let mut bytes = std::fs::read(&cache).expect("cache");
    bytes[40] ^= 1;
    std::fs::write(&cache, &bytes).expect("write");
    let out = run(runner(&state).arg("check"));
    assert_eq!(Some(out.code), Some(22));
    assert!(out.stdout.starts_with("tampered:"));

    let out = run(runner(&state).arg("uninstall"));
    assert!(out.code == 0);
    assert!(!cache.exists());
    assert_eq!(run(runner(&state).arg("check")).code, 23);
}

#[test]
fn an_air_gapped_runner_installs_a_bundle_file() {
    if !in_session(Backend::Keyutils) {
        return;
    }
    let site = Site::new(2);
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("state");
    let request = dir.path().join("request.txt");
    run(runner(&state).args(["request", "--label", "gapped", "--out"]).arg(&request)).ok();
    let bundle = site
        .hub
        .hub
        .bundle_for_request(&std::fs::read(&request).expect("request"), Duration::from_secs(86_400))
        .expect("bundle")
        .bundle;
    let file = dir.path().join("bundle.json");
    std::fs::write(&file, serde_json::to_vec(&bundle).expect("json")).expect("write");
    let out = run(runner(&state)
        .args(["install", "--bundle"])
        .arg(&file)
        .arg("--trust")
        .arg(site.vendor.trust_path()));
    assert!(out.code == 0, "{}", out.stderr);
    assert_eq!(run(runner(&state).arg("check")).code, 0);
    // A bundle is not refreshed from a hub.
    run(runner(&state).arg("refresh")).fails(5, "not installed from a hub");
}

#[test]
fn user_mistakes_and_a_missing_keystore_get_one_line_and_an_exit_code() {
    if !in_session(Backend::Keyutils) {
        return;
    }
    let site = Site::new(2);
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("state");
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{\"license\": 1}").expect("write");
    let out = run(runner(&state)
        .args(["install", "--bundle"])
        .arg(&junk)
        .arg("--trust")
        .arg(site.vendor.trust_path()));
    out.fails(5, "not a bundle");

    let out = run(runner(&state)
        .args(["install", "--bundle"])
        .arg(&junk)
        .arg("--trust")
        .arg(dir.path().join("none.pub")));
    out.fails(3, "none.pub");

    // A bundle signed under another vendor's trust: refused as unknown_key (14).
    let stranger = crate::helpers::Vendor::new();
    let request = dir.path().join("request.txt");
    run(runner(&state).args(["request", "--out"]).arg(&request)).ok();
    let bundle = site
        .hub
        .hub
        .bundle_for_request(&std::fs::read(&request).expect("request"), Duration::from_secs(600))
        .expect("bundle")
        .bundle;
    let file = dir.path().join("bundle.json");
    std::fs::write(&file, serde_json::to_vec(&bundle).expect("json")).expect("write");
    let out = run(runner(&state)
        .args(["install", "--bundle"])
        .arg(&file)
        .arg("--trust")
        .arg(stranger.trust_path()));
    out.fails(14, "trust set");

    // A runner the hub does not know yet, with a wrong token: the hub refuses (8).
    let state = dir.path().join("another");
    let out = run(runner(&state)
        .args(["install", "--hub", &site.hub_url, "--trust"])
        .arg(site.vendor.trust_path())
        .env("TESSERA_RUNNER_TOKEN", "trt_0000000000000000_nope"));
    out.fails(8, "invalid_token");

    // No token anywhere: a usage error naming where it goes (2).
    let out = run(runner(&state)
        .args(["install", "--hub", &site.hub_url, "--trust"])
        .arg(site.vendor.trust_path()));
    out.fails(2, "TESSERA_RUNNER_TOKEN");

    // Nobody listening (7); the token from a file.
    let token = dir.path().join("token");
    std::fs::write(&token, site.new_token()).expect("token file");
    let out = run(runner(&state)
        .args(["install", "--hub", "http://127.0.0.1:9", "--token-file"])
        .arg(&token)
        .arg("--trust")
        .arg(site.vendor.trust_path()));
    out.fails(7, "unreachable");

    // The Secret Service with no D-Bus session: a clear error naming it and the fix (6).
    let out = run(tessera_testkit::command("tessera-runner")
        .arg("--state-dir")
        .arg(&state)
        .args(["--keystore", "secret-service", "check"])
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus"));
    out.fails(6, "secret-service keystore is not available");

    // A D-Bus session with no Secret Service on it (and none to start: a bus without the
    // system's service files): the same, saying what is missing.
    let config = dir.path().join("bus.conf");
    std::fs::write(
        &config,
        "<busconfig><type>session</type><listen>unix:tmpdir=/tmp</listen>\
         <auth>EXTERNAL</auth><policy context=\"default\">\
         <allow send_destination=\"*\" eavesdrop=\"true\"/><allow eavesdrop=\"true\"/>\
         <allow own=\"*\"/></policy></busconfig>",
    )
    .expect("bus config");
    let mut bus = std::process::Command::new("dbus-daemon")
        .arg(format!("--config-file={}", config.display()))
        .args(["--nofork", "--print-address"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("dbus-daemon (package dbus)");
    let mut address = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(bus.stdout.as_mut().expect("stdout")),
        &mut address,
    )
    .expect("the bus's address");
    let out = run(tessera_testkit::command("tessera-runner")
        .arg("--state-dir")
        .arg(&state)
        .args(["--keystore", "secret-service", "check"])
        .env("DBUS_SESSION_BUS_ADDRESS", address.trim()));
    let _ = bus.kill();
    let _ = bus.wait();
    out.fails(6, "no Secret Service is running in this D-Bus session");
}

#[test]
fn a_damaged_or_foreign_state_directory_is_an_error_that_names_it_and_changes_nothing() {
    if !in_session(Backend::Keyutils) {
        return;
    }
    let site = Site::new(2);
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("state");
    install(&site, &state);
    let unchanged = |state: &Path| {
        ["cache", "keystore.json", "enrollment.json"]
            .map(|name| std::fs::read(state.join(name)).unwrap_or_default())
    };
    let before = unchanged(&state);

    // The keystore record cut short, or from something else: exit 3, naming the file.
    let record = state.join("keystore.json");
    for junk in [
        &b"{\"keystore\": \"keyu"[..],
        b"{\"keystore\": \"floppy\", \"uid\": 0, \"key_id\": \"00\"}",
    ] {
        std::fs::write(&record, junk).expect("write");
        let out = run(tessera_testkit::command("tessera-runner")
            .arg("--state-dir")
            .arg(&state)
            .args(["check", "--json"]));
        let out = out.fails(3, "keystore.json");
        assert!(out.stdout.is_empty(), "no status: {}", out.stdout);
    }
    std::fs::write(&record, &before[1]).expect("restore");
    assert_eq!(unchanged(&state), before, "nothing stored changed");
    assert_eq!(run(runner(&state).args(["check", "--json"])).status(), "valid");

    // Installed by another user (root's check of it cannot see that user's kernel keyring).
    let text = String::from_utf8(before[1].clone()).expect("text");
    let foreign = text.replace("\"uid\":0", "\"uid\":4242");
    assert_ne!(foreign, text);
    std::fs::write(&record, foreign).expect("write");
    run(runner(&state).args(["check", "--json"])).fails(6, "uid 4242");
    std::fs::write(&record, &before[1]).expect("restore");

    // The cache truncated: tampered, and nothing else changes.
    std::fs::write(state.join("cache"), &before[0][..before[0].len() / 3]).expect("truncate");
    assert_eq!(run(runner(&state).args(["check", "--json"])).status(), "tampered");
    assert_eq!(std::fs::read(&record).expect("record"), before[1]);

    // A FIFO in place of the cache or the record: an answer, not a check waiting forever.
    std::fs::remove_file(state.join("cache")).expect("remove cache");
    mkfifo(&state.join("cache"));
    assert_eq!(run(runner(&state).args(["check", "--json"])).status(), "tampered");
    std::fs::remove_file(state.join("cache")).expect("remove fifo");
    std::fs::write(state.join("cache"), &before[0]).expect("restore");
    std::fs::remove_file(&record).expect("remove record");
    mkfifo(&record);
    run(runner(&state).args(["check", "--json"])).fails(3, "keystore.json: not a regular file");
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("mkfifo (coreutils)");
    assert!(status.success(), "mkfifo {}", path.display());
}

/// A reboot empties the kernel keyring; the refresh that follows writes a new key, then the
/// new cache. Killed in between, it leaves a key that does not open the old file: the check
/// says how to recover (refresh again), and the refresh does.
#[test]
fn a_refresh_killed_between_its_new_key_and_its_cache_is_told_to_refresh_again() {
    if !in_session(Backend::Keyutils) {
        return;
    }
    let site = Site::new(2);
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("state");
    install(&site, &state);

    // The state such a refresh leaves: a new key with the next generation, the old file.
    let entry = OsKeystore::open(Backend::Keyutils, &Runner::account(&state)).expect("keystore");
    let new_key = Secret { key: Zeroizing::new([7u8; 32]), generation: Some(2) };
    entry.store(&new_key).expect("store a new key");

    let out = run(runner(&state).arg("check"));
    let out = out.fails(6, "refresh --trust");
    assert!(!out.stderr.contains("0707070707"), "no key material: {}", out.stderr);

    let out = run(runner(&state).args(["refresh", "--trust"]).arg(site.vendor.trust_path()));
    assert!(out.code == 0, "{}", out.stderr);
    assert_eq!(run(runner(&state).args(["check", "--json"])).status(), "valid");
}

/// A state directory restored from a backup (an older cache than the keystore's generation)
/// is `tampered` — the same as a copy put back on purpose — and the reason says how a customer
/// who restored it gets going again: a refresh with the trust set, which the hub answers.
#[test]
fn a_state_directory_restored_from_backup_is_told_to_refresh_and_the_refresh_recovers() {
    if !in_session(Backend::Keyutils) {
        return;
    }
    let site = Site::new(2);
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("state");
    install(&site, &state);
    let backup = std::fs::read(state.join("cache")).expect("backup");
    assert!(run(runner(&state).arg("refresh")).code == 0);
    std::fs::write(state.join("cache"), &backup).expect("restore");

    let out = run(runner(&state).args(["check", "--json"]));
    assert_eq!(out.status(), "tampered");
    assert!(out.stdout.contains("refresh --trust"), "{}", out.stdout);

    let out = run(runner(&state).args(["refresh", "--trust"]).arg(site.vendor.trust_path()));
    assert!(out.code == 0, "{}", out.stderr);
    assert_eq!(run(runner(&state).args(["check", "--json"])).status(), "valid");
}
