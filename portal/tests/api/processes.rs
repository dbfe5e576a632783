//! The real `tessera-portal` binary as separate processes: two instances on one
//! PostgreSQL database, and a portal killed with SIGKILL under load.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tessera_core::armor::{Envelope, Kind};
use tessera_core::delegation::{self, DelegationClaims};
use tessera_core::keyfile;
use tessera_core::keys::SigningKey;
use tessera_core::license::{Claims, LicenseTerms, sign};
use tessera_core::receipt::{ActivateCall, Nonce, PingCall};
use tessera_core::time::{Clock, SystemClock};
use tessera_portal::domain::apikeys::{self, Scope};
use tessera_portal::startup::load_or_create_receipt_key;
use tessera_portal::store::Store;

use crate::helpers::{fresh_postgres_database, host, postgres_url};

/// A vendor with a trust file, and the pieces to start portals.
struct Vendor {
    key: SigningKey,
    dir: tempfile::TempDir,
}

impl Vendor {
    fn new() -> Self {
        let vendor = Vendor {
            key: SigningKey::generate().expect("key"),
            dir: tempfile::tempdir().expect("dir"),
        };
        std::fs::write(vendor.trust(), keyfile::public(&vendor.key)).expect("trust");
        vendor
    }

    fn trust(&self) -> PathBuf {
        self.dir.path().join("vendor.pub")
    }

    /// A config file that lifts the ping rate limit: these tests are the load.
    fn config(&self) -> PathBuf {
        let path = self.dir.path().join("portal.toml");
        std::fs::write(&path, "pings_per_minute = 1000000\nlog_format = \"json\"\n")
            .expect("config");
        path
    }

    /// A data directory with a receipt key and its delegation.
    fn data_dir(&self, name: &str) -> (PathBuf, PathBuf) {
        let data = self.dir.path().join(name);
        std::fs::create_dir_all(&data).expect("mkdir");
        let receipt = load_or_create_receipt_key(&data).expect("receipt key");
        let now = SystemClock.now();
        let claims = DelegationClaims {
            portal_key: receipt.public_key().clone(),
            issued_at: now,
            not_before: now.saturating_sub(Duration::from_secs(3600)),
            not_after: now.saturating_add(Duration::from_secs(86_400)),
        };
        let delegation = data.join("delegation.txt");
        std::fs::write(&delegation, delegation::sign(&claims, &self.key)).expect("delegation");
        (data, delegation)
    }

    fn license(&self) -> (Claims, String) {
        let terms = LicenseTerms::new(
            "Acme Corp".parse().expect("org"),
            "acme-hub".parse().expect("product"),
            3,
            SystemClock.now().saturating_add(Duration::from_secs(86_400 * 30)),
        );
        let claims = terms.issue(SystemClock.now()).expect("issue");
        let text = sign(&claims, &self.key).expect("sign");
        (claims, text)
    }
}

/// A running portal process.
struct PortalProcess {
    child: Child,
    url: String,
}

impl PortalProcess {
    fn start(vendor: &Vendor, data: &Path, delegation: &Path, database_url: Option<&str>) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tessera-portal"));
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .arg("--trust")
            .arg(vendor.trust())
            .arg("--delegation")
            .arg(delegation)
            .arg("--config")
            .arg(vendor.config())
            .env("TESSERA_LOG", "warn")
            .env_remove("TESSERA_DATABASE_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(url) = database_url {
            command.arg("--database-url").arg(url);
        }
        let mut child = command.spawn().expect("start tessera-portal");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read the listening line");
        let address = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        PortalProcess { child, url: format!("http://{address}") }
    }

    fn kill(&mut self) {
        let _ = self.child.kill(); // SIGKILL on Unix
        let _ = self.child.wait();
    }

    fn terminate(&mut self) {
        #[cfg(unix)]
        {
            let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        }
        let _ = self.child.wait();
    }
}

impl Drop for PortalProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn admin_key(database_url: &str) -> String {
    let store = Store::open(database_url).await.expect("store");
    let scopes: BTreeSet<Scope> = [Scope::Read, Scope::Write].into();
    apikeys::create(&store, &scopes, "process tests", None, SystemClock.now())
        .await
        .expect("key")
        .expose()
        .to_owned()
}

/// A hub that talks to portals over HTTP and keeps a log of the receipts it got.
struct Hub {
    key: SigningKey,
    claims: Claims,
    fingerprint: tessera_core::fingerprint::Fingerprint,
    time_ms: i64,
    receipts: u64,
    last_portal_time: i64,
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
            hub_key: self.key.public_key().clone(),
            nonce: Nonce::generate().expect("nonce"),
            hub_time_ms: self.next_time(),
        };
        let body = Envelope::sign_body(Kind::Activate, &self.key, &call).to_compact();
        let response =
            http.post(format!("{portal}/v1/activate")).json(&body).send().await.expect("activate");
        assert_eq!(response.status(), 200, "{:?}", response.text().await);
    }

    /// One ping; true if a receipt came back.
    async fn ping(&mut self, http: &reqwest::Client, portal: &str) -> bool {
        let call = PingCall {
            license_id: self.claims.id,
            fingerprint: self.fingerprint.clone(),
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
        true
    }
}

async fn hubs(vendor: &Vendor, portal: &str, key: &str, count: usize) -> Vec<Hub> {
    let http = crate::helpers::client().build().expect("client");
    let mut hubs = Vec::new();
    for i in 0..count {
        let (claims, text) = vendor.license();
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
            fingerprint: host(&format!("host-{i}"), 5),
            time_ms: 0,
            receipts: 0,
            last_portal_time: 0,
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
    let Some(base) = postgres_url() else { return };
    let database_url = fresh_postgres_database(&base).await;
    let vendor = Vendor::new();
    let (data_a, delegation_a) = vendor.data_dir("a");
    let (data_b, delegation_b) = vendor.data_dir("b");
    let key = admin_key(&database_url).await;
    let a = PortalProcess::start(&vendor, &data_a, &delegation_a, Some(&database_url));
    let b = PortalProcess::start(&vendor, &data_b, &delegation_b, Some(&database_url));
    let hubs = hubs(&vendor, &a.url, &key, 16).await;
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
    drop((a, b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_answered_with_a_receipt_survives_sigkill() {
    let vendor = Vendor::new();
    let (data, delegation) = vendor.data_dir("portal");
    let database_url = format!("sqlite://{}", data.join("portal.db").display());
    let key = admin_key(&database_url).await;
    let mut portal = PortalProcess::start(&vendor, &data, &delegation, None);
    let hubs = hubs(&vendor, &portal.url, &key, 12).await;
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
    let mut again = PortalProcess::start(&vendor, &data, &delegation, None);
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
    again.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_portal_serves_https_directly_when_given_a_certificate() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let vendor = Vendor::new();
    let (data, delegation) = vendor.data_dir("tls");
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
    let cert_path = vendor.dir.path().join("cert.pem");
    let key_path = vendor.dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).expect("cert");
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).expect("key");

    let mut command = Command::new(env!("CARGO_BIN_EXE_tessera-portal"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .arg("--trust")
        .arg(vendor.trust())
        .arg("--delegation")
        .arg(&delegation)
        .arg("--tls-cert")
        .arg(&cert_path)
        .arg("--tls-key")
        .arg(&key_path)
        .env("TESSERA_LOG", "warn")
        .stdout(Stdio::piped());
    let mut child = command.spawn().expect("start");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("line");
    let address = line.trim().trim_start_matches("listening on ").to_owned();
    let mut portal = PortalProcess { child, url: format!("https://{address}") };

    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).expect("root");
    let config =
        rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(&address).await.expect("connect");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let mut tls = connector.connect(name, tcp).await.expect("TLS handshake");
    tls.write_all(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut response = String::new();
    tls.read_to_string(&mut response).await.expect("read");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"ready\":true"), "{response}");
    assert!(portal.url.starts_with("https://"));
    portal.terminate();
}
