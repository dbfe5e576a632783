//! The portal process as an operator runs it: HTTPS from its own certificate, private data
//! files, slow and idle clients, the OpenAPI document against the server, a usage export in
//! bounded memory, and the receipt key from an encrypted file or a systemd credential.

use std::sync::Arc;
use std::time::Duration;

use tessera_core::keys::SigningKey;
use tessera_core::time::{Clock, SystemClock};
use tessera_portal::store::Store;
use tessera_testkit::{PortalOptions, PortalProcess, Vendor};

use crate::processes::portal;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_portal_serves_https_directly_when_given_a_certificate() {
    let vendor = Vendor::new();
    let (cert, tls) = self_signed(&vendor);
    let options = PortalOptions { tls: Some(tls), ..PortalOptions::default() };
    let mut portal = PortalProcess::start_with(&vendor, options);
    let address = portal.address.clone();

    let response = tls_get(&address, &cert.cert, "/readyz").await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"ready\":true"), "{response}");
    assert!(portal.url.starts_with("https://"));
    portal.terminate();
}

#[test]
fn the_data_directory_and_database_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let vendor = Vendor::new();
    let mut portal = PortalProcess::start(&vendor);
    let license = vendor.license(2, None).1;
    portal.register(&license);
    let data = portal.data.clone();
    let mode =
        |name: &str| std::fs::metadata(data.join(name)).map(|m| m.permissions().mode() & 0o777);
    assert_eq!(mode("").expect("data dir"), 0o700);
    for name in ["portal.db", "portal.db-wal", "portal.db-shm", "receipt.key"] {
        assert_eq!(mode(name).expect(name), 0o600, "{name}");
    }
    // Files an earlier version left readable by everyone are made private at the next start.
    portal.kill();
    for name in ["", "portal.db", "portal.db-wal"] {
        let perms = std::fs::Permissions::from_mode(if name.is_empty() { 0o755 } else { 0o644 });
        std::fs::set_permissions(data.join(name), perms).expect("chmod");
    }
    portal.restart();
    assert_eq!(mode("").expect("data dir"), 0o700);
    assert_eq!(mode("portal.db").expect("db"), 0o600);
    assert_eq!(mode("portal.db-wal").expect("wal"), 0o600);
}

/// A GET /healthz on a fresh plain connection, timed.
fn healthz_time(address: &str) -> Duration {
    use std::io::{Read, Write};
    let started = std::time::Instant::now();
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    started.elapsed()
}

#[test]
fn slow_and_idle_clients_cannot_starve_the_portal() {
    use tessera_testkit::slow;
    let vendor = Vendor::new();
    let options = PortalOptions {
        // The slow clients share the test's address: its cap must not be what closes them.
        config: Some(
            "header_read_timeout_secs = 2\nmax_connections_per_address = 1024\n".to_owned(),
        ),
        ..PortalOptions::default()
    };
    let portal = PortalProcess::start_with(&vendor, options);
    let mut half = slow::half_sent(&portal.address, 200);
    let mut idle = slow::silent(&portal.address, 100);
    let took = healthz_time(&portal.address);
    assert!(took < Duration::from_secs(2), "/healthz took {took:?} beside 300 slow clients");
    // Half-sent requests and idle connections are closed after the header timeout.
    for stream in half.iter_mut().chain(idle.iter_mut()).step_by(10) {
        assert!(
            slow::closed_within(stream, Duration::from_secs(5)),
            "a slow client kept its connection"
        );
    }
    assert!(healthz_time(&portal.address) < Duration::from_secs(2));
}

#[test]
fn slow_tls_clients_cannot_starve_the_portal() {
    use tessera_testkit::slow;
    let vendor = Vendor::new();
    let (cert, tls) = self_signed(&vendor);
    let options = PortalOptions {
        tls: Some(tls),
        // The slow clients share the test's address: its cap must not be what closes them.
        config: Some(
            "header_read_timeout_secs = 2\nmax_connections_per_address = 1024\n".to_owned(),
        ),
        ..PortalOptions::default()
    };
    let portal = PortalProcess::start_with(&vendor, options);
    // 300 connections that never finish (or start) a TLS handshake.
    let mut silent = slow::silent(&portal.address, 300);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    let started = std::time::Instant::now();
    let answer = runtime.block_on(tls_get(&portal.address, &cert.cert, "/healthz"));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    for stream in silent.iter_mut().step_by(15) {
        assert!(
            slow::closed_within(stream, Duration::from_secs(5)),
            "a stalled handshake stayed open"
        );
    }
}

/// A self-signed certificate for `localhost`, and the PEM files of it and its key.
fn self_signed(
    vendor: &Vendor,
) -> (rcgen::CertifiedKey<rcgen::KeyPair>, (std::path::PathBuf, std::path::PathBuf)) {
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
    let (cert_path, key_path) = (vendor.path("cert.pem"), vendor.path("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).expect("cert");
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).expect("key");
    (cert, (cert_path, key_path))
}

/// One HTTPS GET with the portal's self-signed certificate as the only root.
async fn tls_get(address: &str, cert: &rcgen::Certificate, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tessera_testkit::install_crypto();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der().clone()).expect("root");
    let config =
        rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(address).await.expect("connect");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let mut tls = connector.connect(name, tcp).await.expect("TLS handshake");
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    tls.read_to_string(&mut response).await.expect("read");
    response
}

/// The schemathesis command (`st`), from TESSERA_SCHEMATHESIS (`.ci/run` installs it), or
/// None — said loudly, and a failure under CI.
fn schemathesis() -> Option<std::path::PathBuf> {
    match std::env::var_os("TESSERA_SCHEMATHESIS") {
        Some(path) if std::path::Path::new(&path).exists() => Some(path.into()),
        _ => {
            let message = "schemathesis is not installed: set TESSERA_SCHEMATHESIS to its `st` \
                           (python3 -m venv v && v/bin/pip install schemathesis==4.32.5)";
            assert!(std::env::var_os("CI").is_none(), "{message}");
            eprintln!("\n!!! NOT RUN: {message}\n");
            None
        }
    }
}

#[test]
fn the_openapi_document_and_the_server_agree() {
    let Some(st) = schemathesis() else { return };
    let vendor = Vendor::new();
    // The fuzzer is the load here: no rate limit may answer in the document's place.
    let limits = "pings_per_minute = 1000000\nactivations_per_minute = 1000000\n\
                  unknown_activations_per_minute = 1000000\nrefused_pings_per_second = 1000000\n\
                  admin_requests_per_second = 1000000\nauth_failures_per_minute = 1000000\n";
    let options = PortalOptions { config: Some(limits.to_owned()), ..PortalOptions::default() };
    let portal = PortalProcess::start_with(&vendor, options);
    let license = vendor.license(2, None).1;
    portal.register(&license);
    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/schemathesis/schemathesis.toml");
    let output = std::process::Command::new(st)
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(format!("{}/openapi.json", portal.url))
        .args(["-H", &format!("Authorization: Bearer {}", portal.api_key)])
        .args(["--checks", "all", "--max-examples", "25", "--workers", "1", "--seed", "7"])
        .args(["--continue-on-failure", "--no-shrink", "--warnings", "off"])
        .env("SCHEMATHESIS_HOOKS", "")
        .output()
        .expect("run schemathesis");
    let text = String::from_utf8_lossy(&output.stdout);
    // The failures' headings and codes, without the (long) request bodies.
    let summary: Vec<String> = text
        .lines()
        .filter(|l| {
            l.starts_with('_')
                || l.starts_with("- ST")
                || l.starts_with('[')
                || l.contains("generated")
        })
        .map(|l| l.chars().take(200).collect())
        .collect();
    assert!(output.status.success(), "schemathesis found disagreements:\n{}", summary.join("\n"));
}

/// The peak resident memory of a process so far (`VmHWM`), in KiB.
fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

fn usage_rows_written(portal: &PortalProcess) -> u64 {
    let metrics = reqwest::blocking::get(format!("{}/metrics", portal.url))
        .and_then(|r| r.text())
        .expect("metrics");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("tessera_portal_usage_export_rows_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_usage_export_streams_in_bounded_memory_and_stops_when_the_client_goes() {
    tessera_testkit::install_crypto();
    let vendor = Vendor::keygen();
    let portal = portal(&vendor, "export", PortalOptions::default());
    let pid = portal.pid().expect("running");
    let now = SystemClock.now();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let url = format!("sqlite://{}", portal.data.join("portal.db").display());
    // 25,000 licenses with 12 months of history each: 325,000 rows, about 45 MB of JSON —
    // large beside what warming the portal's caches costs (a few MB, which varies).
    const ROWS: usize = 325_000;
    let rows: Vec<_> = (0..25_000).map(|i| crate::listing::synthetic(i, now.as_unix())).collect();
    runtime.block_on(async {
        let store = Store::open(&url).await.expect("store");
        store.register_licenses(&rows).await.expect("licenses");
        crate::listing::seed_usage(&url, &rows, 12, now).await;
    });
    let export = |query: &str| {
        reqwest::blocking::Client::new()
            .get(format!("{}/v1/admin/usage?{query}", portal.url))
            .bearer_auth(&portal.api_key)
            .send()
            .expect("export")
    };
    // An export of a fifth of the licenses (twice: allocator arenas, statement and page
    // caches warm up), then of all of them. Built in memory, the answer would cost the
    // portal several times its size; streamed, the bigger answer costs no more than the
    // smaller one.
    for _ in 0..2 {
        let _ = export("format=json&org=Globex").bytes().expect("body");
    }
    let small = export("format=json&org=Globex").bytes().expect("body").len() as u64;
    let before = peak_kib(pid);
    let body = export("format=json").bytes().expect("body");
    let after = peak_kib(pid);
    let parsed: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(parsed["usage"].as_array().expect("rows").len(), ROWS);
    let grew_kib = after.saturating_sub(before);
    let more_kib = (body.len() as u64 - small) / 1024;
    assert!(
        grew_kib * 2 < more_kib,
        "the portal's peak memory grew {grew_kib} KiB for an answer {more_kib} KiB larger"
    );
    assert!(after < 100 * 1024, "the portal's peak memory is {after} KiB");

    // A client that reads a little and goes away stops the work.
    let start = usage_rows_written(&portal);
    let mut response = export("format=csv");
    let mut first = [0u8; 4096];
    std::io::Read::read_exact(&mut response, &mut first).expect("the first bytes");
    drop(response);
    std::thread::sleep(Duration::from_millis(500));
    let stopped_at = usage_rows_written(&portal);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(usage_rows_written(&portal), stopped_at, "the export went on");
    assert!(
        stopped_at - start < ROWS as u64 / 2,
        "{} of {ROWS} rows were read for a client that left",
        stopped_at - start
    );
}

#[test]
fn the_receipt_key_comes_from_an_encrypted_key_file_or_a_systemd_credential() {
    use tessera_core::keyfile::{KdfParams, Passphrase, encrypt, plain};
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    let key = SigningKey::generate().expect("key");
    let fast = KdfParams { m_cost_kib: 64, t_cost: 1, p_cost: 1 };
    let sealed = dir.path().join("receipt.sealed");
    std::fs::write(
        &sealed,
        encrypt(&key, &Passphrase::new("open sesame".into()), fast).expect("encrypt").as_bytes(),
    )
    .expect("key file");
    let passphrase = dir.path().join("passphrase");
    std::fs::write(&passphrase, "open sesame\n").expect("passphrase");
    let receipt_key = |extra: &[(&str, &std::path::Path)], env: &[(&str, &str)]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tessera-portal"));
        command.arg("receipt-key").arg("--data-dir").arg(&data).env_remove("CREDENTIALS_DIRECTORY");
        let mut config = String::new();
        for (name, path) in extra {
            config.push_str(&format!("{name} = {:?}\n", path.display().to_string()));
        }
        let config_file = dir.path().join("portal.toml");
        std::fs::write(&config_file, config).expect("config");
        command.arg("--config").arg(&config_file);
        for (name, value) in env {
            command.env(name, value);
        }
        let out = command.output().expect("receipt-key");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let id = key.key_id().to_string();
    // The encrypted file with its passphrase file; then with the environment variable.
    let (code, out, err) = receipt_key(
        &[("receipt_key_file", &sealed), ("receipt_key_passphrase_file", &passphrase)],
        &[],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains(&id), "{out}");
    let (code, out, _) = receipt_key(
        &[("receipt_key_file", &sealed)],
        &[("TESSERA_RECEIPT_KEY_PASSPHRASE", "open sesame")],
    );
    assert_eq!((code, out.contains(&id)), (Some(0), true));
    // Without a passphrase, or a wrong one: exit 3, saying what is missing, never the key.
    let (code, _, err) = receipt_key(&[("receipt_key_file", &sealed)], &[]);
    assert_eq!(code, Some(3));
    assert!(err.contains("give its passphrase"), "{err}");
    let (code, _, err) = receipt_key(
        &[("receipt_key_file", &sealed)],
        &[("TESSERA_RECEIPT_KEY_PASSPHRASE", "wrong")],
    );
    assert_eq!(code, Some(3));
    assert!(err.contains("wrong passphrase"), "{err}");
    assert!(!data.join("receipt.key").exists(), "no key is made when one is named");

    // A systemd credential wins over the setting.
    let credentials = dir.path().join("credentials");
    std::fs::create_dir(&credentials).expect("dir");
    let other = SigningKey::generate().expect("key");
    std::fs::write(credentials.join("tessera-receipt-key"), plain(&other).as_bytes())
        .expect("credential");
    let (code, out, err) = receipt_key(
        &[("receipt_key_file", &sealed)],
        &[("CREDENTIALS_DIRECTORY", credentials.to_str().expect("utf-8"))],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains(&other.key_id().to_string()), "{out}");
}
