//! The real `tessera-hub` binary (and the vendor's `tessera` for offline answers) as
//! processes, against a real portal process.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tessera_testkit::process::{announced, terminate};
use tessera_testkit::run;

use crate::helpers::{Vendor, portal};

fn hub(state: &Path) -> Command {
    let mut command = tessera_testkit::command("tessera-hub");
    command.arg("--state-dir").arg(state);
    command
}

#[tokio::test]
async fn the_hub_binary_activates_reports_serves_runners_and_stops_on_sigterm() {
    let vendor = Vendor::new();
    let portal = portal(&vendor);
    let (claims, license) = vendor.license(2, Some(&portal.url));
    portal.register(&license);
    let dir = tempfile::tempdir().expect("dir");
    let license_path = dir.path().join("acme.license");
    std::fs::write(&license_path, &license).expect("license");
    let state = dir.path().join("state");

    let out = run(hub(&state)
        .args(["activate", "--license"])
        .arg(&license_path)
        .arg("--trust")
        .arg(vendor.trust_path()));
    assert!(out.code == 0, "{}", out.stderr);
    assert!(out.stdout.contains(&claims.id.to_string()));

    let out = run(hub(&state).args(["status", "--json"]));
    assert_eq!(Some(out.code), Some(0));
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(report["status"], "valid");
    assert_eq!(report["mode"], "online");
    assert_eq!(report["runner_limit"], 2);

    let out = run(hub(&state).arg("runner-token"));
    assert!(out.code == 0);
    let token = out.stdout.trim().to_owned();
    assert!(token.starts_with("trt_"));

    let mut daemon = hub(&state)
        .args(["run", "--runner-listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run");
    let address = announced(&mut daemon, "runners: listening on ");
    let http = crate::helpers::http();
    let runner = tessera_core::keys::SigningKey::generate().expect("runner key");
    let call = tessera_core::activation::RunnerCall {
        runner_key: runner.public_key().clone(),
        label: "r1".into(),
        action: tessera_core::activation::RunnerAction::Lease,
        nonce: tessera_core::receipt::Nonce::generate().expect("nonce"),
        holds: None,
        runner_time_ms: 1,
        machine: None,
    };
    let call = tessera_core::activation::sign_runner_call(&call, &runner);
    let answer = http
        .post(format!("http://{address}/v1/lease"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "call": call }))
        .send()
        .await
        .expect("lease");
    assert_eq!(answer.status().as_u16(), 200);
    let answer: serde_json::Value = answer.json().await.expect("json");
    assert!(answer["lease"].as_str().expect("lease").contains("BEGIN TESSERA LEASE"));
    let bundle = &answer["bundle"];
    assert_eq!(bundle["status"], "valid");
    assert!(bundle["receipt"].as_str().expect("receipt").contains("BEGIN TESSERA RECEIPT"));

    // The daemon pinged at start: the portal counted it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let status = terminate(&mut daemon);
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
    assert!(out.code == 0, "{}", out.stderr);

    let out = run(tessera_testkit::command("tessera")
        .arg("activate-offline")
        .arg(&request)
        .arg("--license")
        .arg(&license_path)
        .arg("--key")
        .arg(&key_path)
        .arg("--out")
        .arg(&answer)
        .args(["--valid-days", "30"]));
    assert!(out.code == 0, "{}", out.stderr);
    assert!(out.stdout.contains("valid through"));

    let out = run(hub(&state).args(["activate", "--offline"]).arg(&answer));
    assert!(out.code == 0, "{}", out.stderr);
    let out = run(hub(&state).args(["status", "--json"]));
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(
        (report["status"].as_str(), report["mode"].as_str()),
        (Some("valid"), Some("offline"))
    );

    // Installing the same answer twice is refused.
    let out = run(hub(&state).args(["activate", "--offline"]).arg(&answer));
    out.fails(13, "outstanding request");
}

#[test]
fn user_mistakes_get_one_line_and_a_documented_exit_code() {
    let vendor = Vendor::new();
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("state");

    // Never activated: status says so with no_license's code.
    let out = run(hub(&state).arg("status"));
    assert_eq!(Some(out.code), Some(23));
    assert!(out.stdout.contains("status: no_license"));

    // No trust set anywhere.
    let license_path = dir.path().join("acme.license");
    std::fs::write(&license_path, vendor.license(2, None).1).expect("license");
    let out = run(hub(&state)
        .args(["activate", "--license"])
        .arg(&license_path)
        .args(["--portal", "http://127.0.0.1:9"]));
    out.fails(5, "--trust");

    // A license that is not one.
    let junk = dir.path().join("junk.license");
    std::fs::write(&junk, "hello\n").expect("junk");
    let out = run(hub(&state)
        .args(["activate", "--license"])
        .arg(&junk)
        .arg("--trust")
        .arg(vendor.trust_path())
        .args(["--portal", "http://127.0.0.1:9"]));
    out.fails(15, "malformed");

    // A portal nobody listens on.
    let out = run(hub(&state)
        .args(["activate", "--license"])
        .arg(&license_path)
        .arg("--trust")
        .arg(vendor.trust_path())
        .args(["--portal", "http://127.0.0.1:9"]));
    out.fails(7, "unreachable");

    // A missing file.
    let out = run(hub(&state).args(["activate", "--offline"]).arg(dir.path().join("nope")));
    out.fails(3, "nope");

    // fingerprint works without a license when given a product, and fails clearly without.
    let out = run(hub(&state).args(["fingerprint", "--json", "--product", "acme-hub"]));
    assert!(out.code == 0);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert!(report["components"].as_object().is_some_and(|c| !c.is_empty()));
}

#[test]
fn slow_clients_cannot_starve_the_runner_api() {
    use std::io::{Read, Write};
    use tessera_testkit::slow;
    let vendor = Vendor::new();
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("state");
    vendor.activate_offline(
        &{
            let path = dir.path().join("acme.license");
            std::fs::write(&path, vendor.license(2, None).1).expect("license");
            path
        },
        &state,
    );
    let mut serve = hub(&state);
    // The slow clients share the test's address: its cap must not be what closes them.
    serve.args(["run", "--runner-listen", "127.0.0.1:0", "--max-connections-per-address", "512"]);
    let daemon = tessera_testkit::Daemon::start(serve, "runners: listening on ");
    let half = slow::half_sent(&daemon.address, 200);
    let idle = slow::silent(&daemon.address, 100);
    let started = Instant::now();
    let mut stream = std::net::TcpStream::connect(&daemon.address).expect("connect");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    drop((half, idle));
    assert!(daemon.stop().success());
}
