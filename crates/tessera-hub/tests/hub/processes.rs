//! The real `tessera-hub` binary (and the vendor's `tessera` for offline answers) as
//! processes, against a real portal process.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{Portal, Vendor, workspace_binary};

fn hub(state: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tessera-hub"));
    command
        .arg("--state-dir")
        .arg(state)
        .env_remove("TESSERA_HUB_TRUST")
        .env("TESSERA_LOG", "warn");
    command
}

fn run(command: &mut Command) -> Output {
    command.output().expect("run")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A user mistake: one line on stderr, the given exit code, no panic.
fn assert_clean_failure(output: &Output, code: i32, mentions: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(code), "stderr: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains(mentions), "{stderr:?} should mention {mentions:?}");
    assert!(!stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"), "{stderr}");
}

#[tokio::test]
async fn the_hub_binary_activates_reports_serves_runners_and_stops_on_sigterm() {
    let vendor = Vendor::new();
    let portal = Portal::start(&vendor);
    let (claims, license) = vendor.license(2, Some(&portal.url));
    portal.register(&license).await;
    let dir = tempfile::tempdir().expect("dir");
    let license_path = dir.path().join("acme.license");
    std::fs::write(&license_path, &license).expect("license");
    let state = dir.path().join("state");

    let out = run(hub(&state)
        .args(["activate", "--license"])
        .arg(&license_path)
        .arg("--trust")
        .arg(vendor.trust_path()));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout(&out).contains(&claims.id.to_string()));

    let out = run(hub(&state).args(["status", "--json"]));
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["status"], "valid");
    assert_eq!(report["mode"], "online");
    assert_eq!(report["runner_limit"], 2);

    let out = run(hub(&state).arg("runner-token"));
    assert!(out.status.success());
    let token = stdout(&out).trim().to_owned();
    assert!(token.starts_with("trt_"));

    let mut daemon = hub(&state)
        .args(["run", "--runner-listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run");
    let mut line = String::new();
    BufReader::new(daemon.stdout.take().expect("stdout")).read_line(&mut line).expect("line");
    let address =
        line.trim().strip_prefix("runners: listening on ").expect("listening line").to_owned();
    let http = crate::helpers::http();
    let bundle = http
        .get(format!("http://{address}/v1/bundle"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("bundle");
    assert_eq!(bundle.status().as_u16(), 200);
    let bundle: serde_json::Value = bundle.json().await.expect("json");
    assert_eq!(bundle["status"], "valid");
    assert!(bundle["receipt"].as_str().expect("receipt").contains("BEGIN TESSERA RECEIPT"));

    // The daemon pinged at start: the portal counted it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = Command::new("kill").arg("-TERM").arg(daemon.id().to_string()).status();
    let started = Instant::now();
    let status = daemon.wait().expect("wait");
    assert!(status.success(), "SIGTERM ends the daemon cleanly: {status:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn offline_activation_through_both_binaries() {
    let vendor = Vendor::new();
    let (_, license) = vendor.license(2, None);
    let dir = tempfile::tempdir().expect("dir");
    let license_path = dir.path().join("acme.license");
    std::fs::write(&license_path, &license).expect("license");
    let key_path = dir.path().join("signing.key");
    std::fs::write(&key_path, format!("{}\n", &*vendor.key.to_secret_text())).expect("key");
    std::fs::set_permissions(&key_path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod");
    let state = dir.path().join("state");
    let request = dir.path().join("request.txt");
    let answer = dir.path().join("answer.txt");

    let out = run(hub(&state)
        .args(["activation-request", "--license"])
        .arg(&license_path)
        .arg("--trust")
        .arg(vendor.trust_path())
        .arg("--out")
        .arg(&request));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let out = run(Command::new(workspace_binary("tessera"))
        .arg("activate-offline")
        .arg(&request)
        .arg("--key")
        .arg(&key_path)
        .arg("--out")
        .arg(&answer)
        .args(["--valid-days", "30"])
        .env_remove("TESSERA_PASSPHRASE"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout(&out).contains("valid through"));

    let out = run(hub(&state).args(["activate", "--offline"]).arg(&answer));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(hub(&state).args(["status", "--json"]));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        (report["status"].as_str(), report["mode"].as_str()),
        (Some("valid"), Some("offline"))
    );

    // Installing the same answer twice is refused.
    let out = run(hub(&state).args(["activate", "--offline"]).arg(&answer));
    assert_clean_failure(&out, 13, "outstanding request");
}

#[test]
fn user_mistakes_get_one_line_and_a_documented_exit_code() {
    let vendor = Vendor::new();
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("state");

    // Never activated: status says so with no_license's code.
    let out = run(hub(&state).arg("status"));
    assert_eq!(out.status.code(), Some(23));
    assert!(stdout(&out).contains("status: no_license"));

    // No trust set anywhere.
    let license_path = dir.path().join("acme.license");
    std::fs::write(&license_path, vendor.license(2, None).1).expect("license");
    let out = run(hub(&state)
        .args(["activate", "--license"])
        .arg(&license_path)
        .args(["--portal", "http://127.0.0.1:9"]));
    assert_clean_failure(&out, 5, "--trust");

    // A license that is not one.
    let junk = dir.path().join("junk.license");
    std::fs::write(&junk, "hello\n").expect("junk");
    let out = run(hub(&state)
        .args(["activate", "--license"])
        .arg(&junk)
        .arg("--trust")
        .arg(vendor.trust_path())
        .args(["--portal", "http://127.0.0.1:9"]));
    assert_clean_failure(&out, 15, "malformed");

    // A portal nobody listens on.
    let out = run(hub(&state)
        .args(["activate", "--license"])
        .arg(&license_path)
        .arg("--trust")
        .arg(vendor.trust_path())
        .args(["--portal", "http://127.0.0.1:9"]));
    assert_clean_failure(&out, 7, "unreachable");

    // A missing file.
    let out = run(hub(&state).args(["activate", "--offline"]).arg(dir.path().join("nope")));
    assert_clean_failure(&out, 3, "nope");

    // fingerprint works without a license when given a product, and fails clearly without.
    let out = run(hub(&state).args(["fingerprint", "--json", "--product", "acme-hub"]));
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(report["components"].as_object().is_some_and(|c| !c.is_empty()));
}
