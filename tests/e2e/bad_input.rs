//! Hostile and broken input to every command that reads a file and to the HTTP APIs: a clear
//! error, a documented exit code, never a panic.

use std::path::{Path, PathBuf};

use crate::kit::{Portal, Ran, Vendor, cmd, hub, run, runner};

/// Not success, not an internal error, no panic, at most one line on stderr.
fn refused(ran: &Ran, what: &str) {
    assert!(
        ![0, 1, 101].contains(&ran.code),
        "{what}: exit {}\n{}\n{}",
        ran.code,
        ran.stdout,
        ran.stderr
    );
    assert!(!ran.stderr.contains("panicked"), "{what}: {}", ran.stderr);
    assert!(ran.stderr.trim_end().lines().count() <= 1, "{what}: one line: {}", ran.stderr);
}

/// Broken files: empty, truncated, oversized, binary, and the wrong kind of Tessera file.
fn broken_files(vendor: &Vendor, dir: &Path) -> Vec<(String, PathBuf)> {
    let license = vendor.issue("good.license", 2, &[]);
    let text = std::fs::read(&license).expect("license");
    let delegation = dir.join("a.delegation");
    run(cmd("tessera")
        .args(["delegate", "--key"])
        .arg(vendor.key_path())
        .arg("--portal-key")
        .arg(vendor.trust_path())
        .arg("--out")
        .arg(&delegation))
    .ok();
    let mut files = [
        ("empty".to_owned(), Vec::new()),
        ("truncated".to_owned(), text[..text.len() / 2].to_vec()),
        ("oversized".to_owned(), vec![b'A'; 3 * 1024 * 1024]),
        ("binary".to_owned(), (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect()),
        ("crlf".to_owned(), String::from_utf8_lossy(&text).replace('\n', "\r\n").into_bytes()),
        ("wrong kind".to_owned(), std::fs::read(&delegation).expect("delegation")),
        ("json".to_owned(), b"{\"license\": [1, 2, 3]}".to_vec()),
    ];
    files
        .iter_mut()
        .map(|(name, bytes)| {
            let path = dir.join(name.replace(' ', "-"));
            std::fs::write(&path, bytes).expect("write");
            (std::mem::take(name), path)
        })
        .collect()
}

#[test]
fn every_file_reading_command_refuses_broken_files_cleanly() {
    let vendor = Vendor::keygen();
    let dir = tempfile::tempdir().expect("dir");
    let license = vendor.issue("ok.license", 2, &[]);
    let out = dir.path().join("out.txt");
    for (name, file) in broken_files(&vendor, dir.path()) {
        let cases: Vec<(&str, Ran)> = vec![
            (
                "tessera verify",
                run(cmd("tessera").args(["verify", "--trust"]).arg(vendor.trust_path()).arg(&file)),
            ),
            (
                "tessera verify --trust",
                run(cmd("tessera").args(["verify", "--trust"]).arg(&file).arg(&license)),
            ),
            ("tessera inspect", run(cmd("tessera").arg("inspect").arg(&file))),
            ("tessera pubkey --key", run(cmd("tessera").args(["pubkey", "--key"]).arg(&file))),
            (
                "tessera issue --key",
                run(cmd("tessera")
                    .args(["issue", "--org", "A", "--product", "p", "--runners", "1"])
                    .args(["--expires", "2099-01-01", "--key"])
                    .arg(&file)
                    .arg("--out")
                    .arg(&out)),
            ),
            (
                "tessera issue --batch",
                run(cmd("tessera")
                    .args(["issue", "--key"])
                    .arg(vendor.key_path())
                    .arg("--batch")
                    .arg(&file)
                    .arg("--out-dir")
                    .arg(dir.path().join("batch-out"))),
            ),
            (
                "tessera register",
                run(cmd("tessera")
                    .env("TESSERA_API_KEY", "tsk_x_y")
                    .args(["register", "--portal", "http://127.0.0.1:9"])
                    .arg(&file)),
            ),
            (
                "tessera activate-offline",
                run(cmd("tessera")
                    .args(["activate-offline", "--uncounted-runners"])
                    .arg(&file)
                    .arg("--key")
                    .arg(vendor.key_path())
                    .arg("--out")
                    .arg(&out)),
            ),
            (
                "tessera activate-offline --key",
                run(cmd("tessera")
                    .args(["activate-offline", "--uncounted-runners"])
                    .arg(&license)
                    .arg("--key")
                    .arg(&file)
                    .arg("--out")
                    .arg(&out)),
            ),
            (
                "tessera delegate --portal-key",
                run(cmd("tessera")
                    .args(["delegate", "--key"])
                    .arg(vendor.key_path())
                    .arg("--portal-key")
                    .arg(&file)
                    .arg("--out")
                    .arg(&out)),
            ),
            (
                "tessera-hub activate --license",
                run(hub(&dir.path().join("h1"))
                    .args(["activate", "--portal", "http://127.0.0.1:9", "--license"])
                    .arg(&file)
                    .arg("--trust")
                    .arg(vendor.trust_path())),
            ),
            (
                "tessera-hub activate --trust",
                run(hub(&dir.path().join("h2"))
                    .args(["activate", "--portal", "http://127.0.0.1:9", "--license"])
                    .arg(&license)
                    .arg("--trust")
                    .arg(&file)),
            ),
            (
                "tessera-hub activate --offline",
                run(hub(&dir.path().join("h3")).args(["activate", "--offline"]).arg(&file)),
            ),
            (
                "tessera-hub activation-request",
                run(hub(&dir.path().join("h4"))
                    .args(["activation-request", "--out"])
                    .arg(&out)
                    .arg("--license")
                    .arg(&file)
                    .arg("--trust")
                    .arg(vendor.trust_path())),
            ),
            (
                "tessera-runner install --bundle",
                run(runner(&dir.path().join("r1"))
                    .args(["install", "--bundle"])
                    .arg(&file)
                    .arg("--trust")
                    .arg(vendor.trust_path())),
            ),
            (
                "tessera-runner install --trust",
                run(runner(&dir.path().join("r2"))
                    .args(["install", "--bundle"])
                    .arg(&license)
                    .arg("--trust")
                    .arg(&file)),
            ),
        ];
        for (what, ran) in cases {
            refused(&ran, &format!("{what} on a {name} file"));
        }
        assert!(!out.exists(), "nothing written for a {name} file");
    }
}

#[test]
fn the_http_apis_answer_bad_requests_with_json_errors_and_floods_with_429() {
    let vendor = Vendor::keygen();
    let portal = Portal::start(&vendor);
    tessera_testkit::install_crypto();
    let http = reqwest::blocking::Client::new();
    let post = |path: &str, content_type: &str, body: Vec<u8>| {
        let response = http
            .post(format!("{}{path}", portal.url))
            .header("content-type", content_type)
            .body(body)
            .send()
            .expect("call");
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().unwrap_or_default();
        (status, body["error"]["code"].as_str().unwrap_or_default().to_owned())
    };
    for path in ["/v1/activate", "/v1/ping"] {
        assert_eq!(
            post(path, "application/json", b"{not json".to_vec()),
            (400, "malformed_json".into())
        );
        assert_eq!(post(path, "application/json", b"{}".to_vec()).0, 400);
        assert_eq!(
            post(path, "text/plain", b"{}".to_vec()),
            (415, "unsupported_media_type".into())
        );
        // Just over the 64 KiB limit: small enough to be sent whole before the answer.
        assert_eq!(
            post(path, "application/json", vec![b' '; 70 * 1024]),
            (413, "body_too_large".into())
        );
    }

    // A flood of activations for one license key: rate limited with Retry-After; the
    // re-activations that get through are limited too (refused as cloned, 25: re-activating
    // must not alternate two copies of one hub).
    let license = vendor.issue(
        "flood.license",
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
    let mut limited = 0;
    let state = tempfile::tempdir().expect("dir");
    for i in 0..40 {
        let ran = run(hub(state.path())
            .args(["activate", "--license"])
            .arg(&license)
            .arg("--trust")
            .arg(vendor.trust_path()));
        if ran.code == 7 && ran.stderr.contains("rate_limited") {
            limited += 1;
        } else {
            assert!([0, 16, 25].contains(&ran.code), "activation {i}: {}", ran.stderr);
        }
    }
    assert!(limited > 0, "40 activations of one license in a row were never rate limited");

    // And a flood of pings from that hub.
    let mut limited = 0;
    for i in 0..45 {
        let ran = run(hub(state.path()).arg("ping"));
        if ran.code == 7 && ran.stderr.contains("rate_limited") {
            limited += 1;
        } else {
            assert_eq!(ran.code, 0, "ping {i}: {}", ran.stderr);
        }
    }
    assert!(limited > 0, "45 pings of one license in a row were never rate limited");
}

#[test]
fn the_hubs_runner_api_answers_bad_requests_with_json_errors() {
    let vendor = Vendor::keygen();
    let license = vendor.issue("acme.license", 2, &[]);
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("hub");
    vendor.activate_offline(&license, &state);
    let token = run(hub(&state).arg("runner-token")).ok().stdout.trim().to_owned();
    let mut serve = hub(&state);
    serve.args(["run", "--runner-listen", "127.0.0.1:0"]);
    let daemon = crate::kit::Daemon::start(serve, "runners: listening on ");
    tessera_testkit::install_crypto();
    let http = reqwest::blocking::Client::new();
    let url = format!("http://{}/v1/lease", daemon.address);
    let call = |content_type: &str, body: Vec<u8>, token: &str| {
        let response = http
            .post(&url)
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .expect("call");
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().expect("a JSON error body");
        (status, body["error"]["code"].as_str().unwrap_or_default().to_owned())
    };
    let json = "application/json";
    // A well-formed call, from the real runner's request command.
    let request =
        run(runner(&dir.path().join("r")).args(["request", "--label", "r1", "--out", "-"]))
            .ok()
            .stdout;
    let body = |call: &str| serde_json::to_vec(&serde_json::json!({ "call": call })).expect("json");
    assert_eq!(call(json, b"{not json".to_vec(), &token), (400, "malformed_json".into()));
    assert_eq!(call(json, b"{}".to_vec(), &token), (400, "malformed_json".into()));
    assert_eq!(
        call(json, br#"{"call": "x", "extra": 1}"#.to_vec(), &token),
        (400, "malformed_json".into())
    );
    assert_eq!(call(json, body("not a runner call"), &token), (400, "malformed_call".into()));
    assert_eq!(
        call(json, body(&request.replace("RUNNER CALL", "LEASE")), &token),
        (400, "malformed_call".into())
    );
    assert_eq!(call("text/plain", body(&request), &token), (415, "unsupported_media_type".into()));
    assert_eq!(call(json, vec![b' '; 1024 * 1024], &token), (413, "body_too_large".into()));
    assert_eq!(call(json, body(&request), "trt_nope"), (401, "invalid_token".into()));
    assert!(daemon.stop().success());
}

#[test]
fn a_closed_stdout_ends_every_binary_quietly() {
    // The reading end of the pipe is gone before the binary writes: every write fails with
    // EPIPE, as in `tessera-hub fingerprint --json | head -0`. (A command whose exit code is
    // a status keeps it: streams.rs.)
    let vendor = Vendor::keygen();
    let license = vendor.issue("good.license", 2, &[]);
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("hub");
    let commands: Vec<(&str, std::process::Command)> = vec![
        ("tessera inspect", {
            let mut c = cmd("tessera");
            c.args(["inspect", "--json"]).arg(&license);
            c
        }),
        ("tessera-hub fingerprint", {
            let mut c = hub(&state);
            c.args(["fingerprint", "--json", "--product", "acme-hub"]);
            c
        }),
        ("tessera-portal receipt-key", {
            let mut c = cmd("tessera-portal");
            c.arg("receipt-key").arg("--data-dir").arg(dir.path().join("portal"));
            c
        }),
    ];
    for (what, mut command) in commands {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let output =
            command.stdout(writer).stderr(std::process::Stdio::piped()).output().expect("run");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{what}: {stderr}");
        assert!(stderr.trim().is_empty(), "{what} said on a closed stdout: {stderr}");
    }
    // A check's exit code is its status: a closed stdout keeps the refusal (`no_license`,
    // 23), never a 0 that a script would take for `valid`.
    for json in [true, false] {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let mut check = runner(&dir.path().join("runner"));
        check.arg("check");
        if json {
            check.arg("--json");
        }
        let output =
            check.stdout(writer).stderr(std::process::Stdio::piped()).output().expect("run");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(23), "runner check (json {json}): {stderr}");
        assert!(stderr.trim().is_empty(), "runner check said on a closed stdout: {stderr}");
    }
}

#[test]
fn plain_http_to_another_machine_is_refused_unless_asked_for() {
    let vendor = Vendor::keygen();
    let license = vendor.issue("acme.license", 2, &[]);
    let dir = tempfile::tempdir().expect("dir");
    // The vendor's API key would cross the network in the clear.
    run(cmd("tessera")
        .args(["register", "--portal", "http://portal.example.com"])
        .arg(&license)
        .env(
            "TESSERA_API_KEY",
            "tsk_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ))
    .fails(5, "--insecure-http");
    // A hub's calls and receipts would pass through whoever is in between.
    run(hub(&dir.path().join("hub"))
        .args(["activate", "--license"])
        .arg(&license)
        .arg("--trust")
        .arg(vendor.trust_path())
        .args(["--portal", "http://10.20.30.40:8080"]))
    .fails(5, "--insecure-http");
    // With the flag, the call is attempted (and here finds no portal: unreachable, 7).
    run(hub(&dir.path().join("hub"))
        .args(["--insecure-http", "activate", "--license"])
        .arg(&license)
        .arg("--trust")
        .arg(vendor.trust_path())
        .args(["--portal", "http://127.0.0.2:9"]))
    .fails(7, "unreachable");
}
