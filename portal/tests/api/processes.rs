//! The real `tessera-portal` binary as separate processes: two instances on one
//! PostgreSQL database, and a portal killed with SIGKILL under load.

use std::sync::Arc;
use std::time::Duration;

use tessera_core::armor::{Envelope, Kind};
use tessera_core::keys::SigningKey;
use tessera_core::license::Claims;
use tessera_core::receipt::{ActivateCall, Nonce, PingCall};
use tessera_core::time::{Clock, SystemClock};
use tessera_portal::store::Store;
use tessera_testkit::{PgDatabase, PortalOptions, PortalProcess, Vendor};

use crate::helpers::host;

/// A portal process for these tests: the ping limit lifted (the tests are the load), JSON
/// logs, and the given store.
fn portal(vendor: &Vendor, name: &str, options: PortalOptions) -> PortalProcess {
    let config = "pings_per_minute = 1000000\nlog_format = \"json\"\n".to_owned();
    let options = PortalOptions { name: Some(name.to_owned()), config: Some(config), ..options };
    PortalProcess::start_with(vendor, options)
}

/// A hub that talks to portals over HTTP and keeps a log of the receipts it got.
struct Hub {
    key: SigningKey,
    claims: Claims,
    fingerprint: tessera_core::fingerprint::Fingerprint,
    time_ms: i64,
    receipts: u64,
    last_portal_time: i64,
    /// The nonce of the latest receipt held.
    holds: Option<Nonce>,
}

impl Hub {
    fn next_time(&mut self) -> i64 {
        self.time_ms = (self.time_ms + 1).max(SystemClock.now().as_unix() * 1000);
        self.time_ms
    }

    async fn activate(&mut self, http: &reqwest::Client, portal: &str) {
        let call = ActivateCall {
            license_key: self.claims.key.clone(),
            fingerprint: self.fingerprint.clone(),
            fingerprint_version: tessera_core::fingerprint::VERSION,
            previous_fingerprint: None,
            hub_key: self.key.public_key().clone(),
            nonce: Nonce::generate().expect("nonce"),
            hub_time_ms: self.next_time(),
        };
        let body = Envelope::sign_body(Kind::Activate, &self.key, &call).to_compact();
        let response =
            http.post(format!("{portal}/v1/activate")).json(&body).send().await.expect("activate");
        assert_eq!(response.status(), 200, "{:?}", response.text().await);
        self.holds = Some(call.nonce);
    }

    /// One ping; true if a receipt came back.
    async fn ping(&mut self, http: &reqwest::Client, portal: &str) -> bool {
        let call = PingCall {
            license_id: self.claims.id,
            fingerprint: self.fingerprint.clone(),
            fingerprint_version: tessera_core::fingerprint::VERSION,
            previous_fingerprint: None,
            holds: self.holds,
            held_receipt: None,
            nonce: Nonce::generate().expect("nonce"),
            hub_time_ms: self.next_time(),
        };
        let body = Envelope::sign_body(Kind::Ping, &self.key, &call).to_compact();
        let Ok(response) = http.post(format!("{portal}/v1/ping")).json(&body).send().await else {
            return false;
        };
        if response.status() != 200 {
            return false;
        }
        let Ok(json) = response.json::<serde_json::Value>().await else { return false };
        let Some(receipt) = json["receipt"].as_str() else { return false };
        let envelope = Envelope::parse(Kind::Receipt, receipt.as_bytes()).expect("receipt");
        let claims: tessera_core::receipt::ReceiptClaims = envelope.open().expect("claims");
        self.receipts += 1;
        self.last_portal_time = self.last_portal_time.max(claims.portal_time.as_unix());
        self.holds = Some(claims.nonce);
        true
    }
}

async fn hubs(vendor: &Vendor, portal: &str, key: &str, count: usize) -> Vec<Hub> {
    let http = crate::helpers::client().build().expect("client");
    let mut hubs = Vec::new();
    for i in 0..count {
        let (claims, text) = vendor.license(3, None);
        let registered = http
            .post(format!("{portal}/v1/admin/licenses"))
            .bearer_auth(key)
            .json(&serde_json::json!({ "license": text }))
            .send()
            .await
            .expect("register");
        assert_eq!(registered.status(), 201);
        let mut hub = Hub {
            key: SigningKey::generate().expect("key"),
            claims,
            fingerprint: host(&format!("host-{i}"), 5).0,
            time_ms: 0,
            receipts: 0,
            last_portal_time: 0,
            holds: None,
        };
        hub.activate(&http, portal).await;
        hubs.push(hub);
    }
    hubs
}

async fn stored_pings(store: &Store, hub: &Hub) -> (i64, Option<i64>) {
    let id = hub.claims.id.to_string();
    let days: i64 = store.daily_pings(&id).await.expect("days").iter().map(|d| d.1).sum();
    let last = store.activation(&id).await.expect("activation").and_then(|a| a.last_ping_at);
    (days, last)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_portals_on_one_postgres_database_count_every_ping_exactly() {
    let Some(database) = PgDatabase::fresh().await else { return };
    let database_url = database.url.clone();
    let vendor = Vendor::new();
    let shared =
        || PortalOptions { database_url: Some(database_url.clone()), ..PortalOptions::default() };
    let a = portal(&vendor, "a", shared());
    let b = portal(&vendor, "b", shared());
    let hubs = hubs(&vendor, &a.url, &a.api_key, 16).await;
    let portals = Arc::new([a.url.clone(), b.url.clone()]);
    let mut tasks = Vec::new();
    for (i, mut hub) in hubs.into_iter().enumerate() {
        let portals = portals.clone();
        tasks.push(tokio::spawn(async move {
            let http = crate::helpers::client().build().expect("client");
            for n in 0..25 {
                // Each hub alternates between the two instances.
                assert!(hub.ping(&http, &portals[(i + n) % 2]).await, "ping {n} of hub {i}");
            }
            hub
        }));
    }
    let store = Store::open(&database_url).await.expect("store");
    for task in tasks {
        let hub = task.await.expect("hub task");
        let (counted, last) = stored_pings(&store, &hub).await;
        assert_eq!(counted, 25, "every answered ping counted once");
        assert_eq!(hub.receipts, 25);
        assert_eq!(last, Some(hub.last_portal_time), "the last ping time is the last receipt's");
    }
    drop((a, b, database));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_answered_with_a_receipt_survives_sigkill() {
    let vendor = Vendor::new();
    let mut portal = portal(&vendor, "portal", PortalOptions::default());
    let database_url = format!("sqlite://{}", portal.data.join("portal.db").display());
    let hubs = hubs(&vendor, &portal.url, &portal.api_key, 12).await;
    let url = portal.url.clone();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for mut hub in hubs {
        let (url, stop) = (url.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let http =
                crate::helpers::client().timeout(Duration::from_secs(5)).build().expect("client");
            let mut attempts = 0u64;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                attempts += 1;
                if !hub.ping(&http, &url).await {
                    break; // the portal died under us
                }
            }
            (hub, attempts)
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    portal.kill();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("hub task"));
    }
    // Restart on the same data: the store must hold every ping a receipt was sent for.
    portal.restart();
    let store = Store::open(&database_url).await.expect("store");
    let mut total_receipts = 0;
    for (hub, attempts) in &results {
        let (counted, _) = stored_pings(&store, hub).await;
        let counted = counted as u64;
        total_receipts += hub.receipts;
        assert!(
            counted >= hub.receipts,
            "{} receipts sent but only {counted} pings stored",
            hub.receipts
        );
        // At most the one ping in flight at the kill may be stored without its receipt.
        assert!(counted <= hub.receipts + 1, "{counted} stored for {} receipts", hub.receipts);
        assert!(*attempts >= hub.receipts);
    }
    assert!(total_receipts > 50, "the load was too light to mean anything: {total_receipts}");
    portal.terminate();
}

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

/// `tessera-portal` with `args` on the data directory `data`, `stdin` piped in.
pub fn portal_command(data: &std::path::Path, args: &[&str], stdin: &str) -> (i32, String, String) {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tessera-portal"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("tessera-portal");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write");
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn people_and_organizations_are_made_from_the_command_line_and_can_sign_in() {
    let vendor = Vendor::new();
    let mut portal = PortalProcess::start(&vendor);
    let data = portal.data.clone();
    let create = |role: &str, email: &str, org: Option<&str>, password: &str| {
        let mut args = vec!["user", "create", "--role", role, "--email", email, "--name", "Dana"];
        if let Some(org) = org {
            args.extend(["--org", org]);
        }
        portal_command(&data, &args, &format!("{password}\n"))
    };
    let (code, out, err) =
        create("super-admin", "dana@vendor.example", None, "tram lantern quietly");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("created super-admin dana@vendor.example"), "{out}");

    // Each mistake: exit 2 and one line naming it; nothing is made.
    for (role, email, org, password, says) in [
        ("boss", "x@vendor.example", None, "tram lantern quietly", "unknown role"),
        ("super-admin", "dana@vendor.example", None, "tram lantern quietly", "already exists"),
        ("super-admin", "kim@vendor.example", None, "password1234", "too common"),
        ("super-admin", "kim@vendor.example", None, "short", "at least 12"),
        ("super-admin", "not an email", None, "tram lantern quietly", "not an email"),
        ("org-admin", "ops@acme.example", Some("Acme"), "tram lantern quietly", "no organization"),
        ("org-admin", "ops@acme.example", None, "tram lantern quietly", "needs an organization"),
    ] {
        let (code, _, err) = create(role, email, org, password);
        assert_eq!(code, 2, "{role} {email}: {err}");
        assert!(err.contains(says), "{says:?} not in {err}");
        assert!(!err.contains("panicked") && !err.contains(password), "{err}");
    }
    let (code, out, err) = portal_command(&data, &["org", "create", "--name", "Acme"], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("created organization \"Acme\""), "{out}");
    let (code, _, err) =
        create("org-admin", "ops@acme.example", Some("Acme"), "tram lantern quietly");
    assert_eq!(code, 0, "{err}");
    let (code, out, _) =
        portal_command(&data, &["user", "unlock", "--email", "OPS@acme.example"], "");
    assert_eq!(code, 0);
    assert!(out.contains("ops@acme.example: sign-in delays cleared"), "{out}");
    let (code, out, _) = portal_command(
        &data,
        &["user", "reset-second-factor", "--email", "dana@vendor.example"],
        "",
    );
    assert_eq!(code, 0);
    assert!(out.contains("dana@vendor.example: two-step sign-in is off"), "{out}");
    let (code, _, err) =
        portal_command(&data, &["user", "unlock", "--email", "who@acme.example"], "");
    assert_eq!(code, 2);
    assert!(err.contains("no account"), "{err}");

    // The running portal (a process of its own) signs the new person in.
    tessera_testkit::install_crypto();
    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let form = http.get(format!("{}/ui/signin", portal.url)).send().expect("form");
    let cookie = form.headers()["set-cookie"].to_str().expect("cookie").to_owned();
    let token = cookie.split(';').next().expect("pair").split_once('=').expect("=").1.to_owned();
    let signed_in = http
        .post(format!("{}/ui/signin", portal.url))
        .header("cookie", format!("tessera_signin={token}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("email=dana%40vendor.example&password=tram+lantern+quietly&csrf={token}"))
        .send()
        .expect("sign in");
    assert_eq!(signed_in.status(), 303);
    portal.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_backup_taken_under_ping_load_restores_every_acknowledged_ping() {
    use age::secrecy::ExposeSecret;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let vendor = Vendor::new();
    let portal = PortalProcess::start(&vendor);
    let hubs = hubs(&vendor, &portal.url, &portal.api_key, 8).await;
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let keys = tempfile::tempdir().expect("dir");
    let identity_file = keys.path().join("backup.key");
    std::fs::write(
        &identity_file,
        format!("# test identity\n{}\n", identity.to_string().expose_secret()),
    )
    .expect("identity");

    // Hubs ping without pause while the backup is taken.
    let answered = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for mut hub in hubs {
        let (answered, stop, url) = (answered.clone(), stop.clone(), portal.url.clone());
        tasks.push(tokio::spawn(async move {
            let http = crate::helpers::client().build().expect("client");
            while !stop.load(Ordering::Relaxed) {
                if hub.ping(&http, &url).await {
                    answered.fetch_add(1, Ordering::SeqCst);
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = answered.load(Ordering::SeqCst);
    assert!(before > 0, "pings were answered before the backup");
    let live = Store::open(&format!("sqlite://{}", portal.data.join("portal.db").display()))
        .await
        .expect("the live store");
    let entries_before = live.ledger_after(0, 1_000_000).await.expect("ledger").len();
    assert!(entries_before >= 9, "a key and eight registrations are in the ledger");
    // What a backup that crashed would have left: removed by the next one (and at start).
    std::fs::write(portal.data.join("backup-0123456789abcdef.partial"), b"SQLite format 3")
        .expect("leftover");
    let out = keys.path().join("portal.backup");
    let data = portal.data.clone();
    let (out_arg, recipient_arg) = (out.clone(), recipient.clone());
    let (code, stdout, stderr) = tokio::task::spawn_blocking(move || {
        portal_command(
            &data,
            &["backup", "--out", out_arg.to_str().expect("utf-8"), "--recipient", &recipient_arg],
            "",
        )
    })
    .await
    .expect("backup");
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.expect("pinger");
    }
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("encrypted to age1"), "{stdout}");

    // No plaintext copy is left, and the backup is not one.
    let leftovers: Vec<_> = std::fs::read_dir(&portal.data)
        .expect("ls")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let sealed = std::fs::read(&out).expect("backup file");
    assert!(sealed.starts_with(b"age-encryption.org/v1"), "an age file");
    assert!(!sealed.windows(15).any(|w| w == b"SQLite format 3"), "no plaintext database inside");

    // Restored into an empty directory: every ping answered before the backup began is there.
    let restored = tempfile::tempdir().expect("dir");
    let target = restored.path().join("data");
    let restore = |dir: &std::path::Path, key: &std::path::Path| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tessera-portal"))
            .arg("restore")
            .arg(&out)
            .arg("--identity")
            .arg(key)
            .arg("--data-dir")
            .arg(dir)
            .output()
            .expect("restore");
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let stranger = keys.path().join("other.key");
    let other = age::x25519::Identity::generate();
    std::fs::write(&stranger, other.to_string().expose_secret()).expect("other identity");
    let (code, stderr) = restore(&target, &stranger);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("not a backup this identity can open"), "{stderr}");
    assert!(!target.join("portal.db").exists());
    let (code, stderr) = restore(&target, &identity_file);
    assert_eq!(code, Some(0), "{stderr}");
    let (code, stderr) = restore(&target, &identity_file);
    assert_eq!(code, Some(3), "a second restore over the first is refused: {stderr}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(target.join("portal.db")).expect("db").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let store = Store::open(&format!("sqlite://{}", target.join("portal.db").display()))
        .await
        .expect("restored store");
    let restored_entries = store.ledger_after(0, 1_000_000).await.expect("ledger").len();
    assert!(
        restored_entries >= entries_before,
        "{restored_entries} < {entries_before} ledger entries"
    );
    let counted = store.day_pings_total().await.expect("pings");
    assert!(
        counted >= before as i64,
        "{counted} pings restored, {before} were answered before the backup began"
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_portals_writing_the_ledger_at_once_never_fork_it() {
    let Some(database) = PgDatabase::fresh().await else { return };
    let database_url = database.url.clone();
    let vendor = Vendor::new();
    let shared =
        || PortalOptions { database_url: Some(database_url.clone()), ..PortalOptions::default() };
    let a = portal(&vendor, "a", shared());
    let b = portal(&vendor, "b", shared());
    let hubs = hubs(&vendor, &a.url, &a.api_key, 4).await;
    let ids: Vec<String> = hubs.iter().map(|h| h.claims.id.to_string()).collect();
    // Both instances suspend and reinstate licenses at once: every change is an entry.
    let mut tasks = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        for (url, key) in [(a.url.clone(), a.api_key.clone()), (b.url.clone(), b.api_key.clone())] {
            let id = id.clone();
            tasks.push(tokio::spawn(async move {
                let http = crate::helpers::client().build().expect("client");
                for n in 0..10 {
                    let action = if (n + i) % 2 == 0 { "suspend" } else { "reinstate" };
                    let answer = http
                        .post(format!("{url}/v1/admin/licenses/{id}/{action}"))
                        .bearer_auth(&key)
                        .json(&serde_json::json!({}))
                        .send()
                        .await
                        .expect("action");
                    assert_eq!(answer.status(), 200);
                }
            }));
        }
    }
    for task in tasks {
        task.await.expect("task");
    }
    let text = tokio::task::spawn_blocking(move || {
        let text = b.admin_text("audit");
        drop(b);
        text
    })
    .await
    .expect("export");
    let export = tessera_core::ledger::Export::from_lines(text.lines()).expect("export");
    let trust = tessera_core::TrustSet::parse(&std::fs::read(vendor.trust_path()).expect("trust"))
        .expect("trust");
    let verified = tessera_core::ledger::verify(&export, &trust, None).expect("one chain, no fork");
    // Two API keys made, four registrations, 80 changes: every one of them, once.
    let changes = export
        .entries
        .iter()
        .filter(|(e, _)| e.action.starts_with("license.s") || e.action.starts_with("license.r"))
        .count();
    assert_eq!(changes, 4 + 80, "{verified:?}");
    drop((a, database));
}
