//! A vendor, a real `tessera-portal` process on loopback (SQLite), and hubs with an
//! injected clock.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use tessera_core::delegation::{self, DelegationClaims};
use tessera_core::keyfile;
use tessera_core::keys::SigningKey;
use tessera_core::license::{Claims, LicenseTerms, sign};
use tessera_core::time::{Clock, SystemClock, UnixTime};
use tessera_core::trust::TrustSet;
use tessera_hub::agent::Hub;
use tessera_hub::host::HostComponents;
use tessera_hub::state::StateDir;

/// A binary of another workspace package, built by the same `cargo test --workspace` run
/// (cargo builds every package's binaries before any test runs).
pub fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    // target/<profile>/deps/hub-… → target/<profile>/<name>
    let path =
        exe.parent().and_then(Path::parent).map(|dir| dir.join(name)).expect("target directory");
    assert!(
        path.exists(),
        "{} is missing: these tests run the real binary; run `cargo test --workspace` \
         (or `cargo build -p {name}` first)",
        path.display()
    );
    path
}

/// An HTTP client (rustls needs its crypto provider picked first).
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// A clock the test sets.
#[derive(Debug)]
pub struct TestClock(AtomicI64);

impl TestClock {
    pub fn now_real() -> Arc<Self> {
        Arc::new(TestClock(AtomicI64::new(SystemClock.now().as_unix())))
    }

    pub fn advance(&self, d: Duration) {
        self.0.fetch_add(i64::try_from(d.as_secs()).expect("secs"), Ordering::SeqCst);
    }

    #[allow(dead_code)] // the runner's tests share these helpers
    pub fn advance_back(&self, d: Duration) {
        self.0.fetch_sub(i64::try_from(d.as_secs()).expect("secs"), Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> UnixTime {
        UnixTime::from_unix(self.0.load(Ordering::SeqCst)).expect("time")
    }
}

/// The vendor: a signing key and its trust file.
pub struct Vendor {
    pub key: SigningKey,
    pub dir: tempfile::TempDir,
}

impl Vendor {
    pub fn new() -> Self {
        let vendor = Vendor {
            key: SigningKey::generate().expect("key"),
            dir: tempfile::tempdir().expect("dir"),
        };
        std::fs::write(vendor.trust_path(), vendor.trust_text()).expect("trust");
        vendor
    }

    pub fn trust_text(&self) -> String {
        keyfile::public(&self.key)
    }

    pub fn trust_path(&self) -> PathBuf {
        self.dir.path().join("vendor.pub")
    }

    /// A license for `runners` runners, pinging hourly with a day of grace.
    pub fn license(&self, runners: u32, portal: Option<&str>) -> (Claims, String) {
        let now = SystemClock.now();
        let mut terms = LicenseTerms::new(
            "Acme Corp".parse().expect("org"),
            "acme-hub".parse().expect("product"),
            runners,
            now.saturating_add(Duration::from_secs(86_400 * 365)),
        );
        terms.grace_period = Duration::from_secs(86_400);
        terms.ping_interval = Duration::from_secs(3600);
        terms.portal_url = portal.map(|p| p.parse().expect("portal url"));
        let claims = terms.issue(now.saturating_sub(Duration::from_secs(60))).expect("issue");
        let text = sign(&claims, &self.key).expect("sign");
        (claims, text)
    }
}

/// A running `tessera-portal serve` on 127.0.0.1:0 with a SQLite store.
pub struct Portal {
    child: Option<Child>,
    pub url: String,
    pub data: PathBuf,
    admin_key: String,
    delegation: PathBuf,
    trust: PathBuf,
    http: reqwest::Client,
}

fn portal_command() -> Command {
    let mut command = Command::new(workspace_binary("tessera-portal"));
    command.env("TESSERA_LOG", "warn").env_remove("TESSERA_DATABASE_URL");
    command
}

impl Portal {
    /// Makes a data directory with a receipt key delegated by the vendor and an admin API
    /// key, then starts the portal.
    pub fn start(vendor: &Vendor) -> Self {
        let data = vendor.dir.path().join("portal");
        let out = portal_command()
            .args(["receipt-key", "--data-dir"])
            .arg(&data)
            .output()
            .expect("tessera-portal receipt-key");
        assert!(out.status.success(), "receipt-key: {}", String::from_utf8_lossy(&out.stderr));
        let receipt_pub = TrustSet::parse(&std::fs::read(data.join("receipt.pub")).expect("pub"))
            .expect("receipt.pub");
        let now = SystemClock.now();
        let claims = DelegationClaims {
            portal_key: receipt_pub.keys()[0].key.clone(),
            issued_at: now,
            not_before: now.saturating_sub(Duration::from_secs(86_400)),
            not_after: now.saturating_add(Duration::from_secs(86_400 * 30)),
        };
        let delegation = vendor.dir.path().join("delegation.txt");
        std::fs::write(&delegation, delegation::sign(&claims, &vendor.key)).expect("delegation");
        let out = portal_command()
            .args(["api-key", "create", "--scope", "read,write,revoke", "--data-dir"])
            .arg(&data)
            .output()
            .expect("tessera-portal api-key create");
        assert!(out.status.success(), "api-key: {}", String::from_utf8_lossy(&out.stderr));
        let admin_key = String::from_utf8(out.stdout).expect("utf8").trim().to_owned();
        let mut portal = Portal {
            child: None,
            url: String::new(),
            data,
            admin_key,
            delegation,
            trust: vendor.trust_path(),
            http: http(),
        };
        portal.restart();
        portal
    }

    /// Starts the process (again, on a new port).
    pub fn restart(&mut self) {
        // The benchmark pings one license back to back: lift the per-license rate limit.
        let config = self.data.join("portal.toml");
        std::fs::write(&config, "pings_per_minute = 1000000\n").expect("config");
        let mut child = portal_command()
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(&config)
            .arg("--data-dir")
            .arg(&self.data)
            .arg("--trust")
            .arg(&self.trust)
            .arg("--delegation")
            .arg(&self.delegation)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start tessera-portal");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("the listening line");
        let address = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        self.url = format!("http://{address}");
        self.child = Some(child);
    }

    /// Stops the process (SIGKILL): the portal is unreachable until `restart`.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub async fn admin(&self, path: &str, body: Option<serde_json::Value>) -> reqwest::StatusCode {
        let request = self
            .http
            .post(format!("{}/v1/admin/{path}", self.url))
            .bearer_auth(&self.admin_key)
            .json(&body.unwrap_or(serde_json::json!({})));
        let response = request.send().await.expect("admin call");
        let status = response.status();
        assert!(
            status.is_success(),
            "{path}: {status} {}",
            response.text().await.unwrap_or_default()
        );
        status
    }

    pub async fn register(&self, license: &str) {
        self.admin("licenses", Some(serde_json::json!({ "license": license }))).await;
    }
}

impl Drop for Portal {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A vendor, a portal process and a license for two runners registered on it.
pub struct Registered {
    pub vendor: Vendor,
    pub portal: Portal,
    pub claims: Claims,
    pub license: String,
}

impl Registered {
    pub async fn new() -> Self {
        let vendor = Vendor::new();
        let portal = Portal::start(&vendor);
        let (claims, license) = vendor.license(2, Some(&portal.url));
        portal.register(&license).await;
        Registered { vendor, portal, claims, license }
    }

    /// A hub on host `seed`, activated with the license.
    pub async fn activated_hub(&self, seed: &str) -> TestHub {
        let hub = TestHub::new(host(seed));
        hub.hub
            .activate(self.license.as_bytes(), self.vendor.trust_text().as_bytes(), None)
            .await
            .expect("activate");
        hub
    }
}

/// A simulated host: fixed raw components.
pub fn host(seed: &str) -> HostComponents {
    HostComponents::from_values([
        ("machine_id", format!("{seed}-machine").as_str()),
        ("hostname", format!("{seed}-host").as_str()),
        ("cpu_model", "Test CPU x2"),
        ("mac_addresses", format!("{seed}:00:00:00:00:01").as_str()),
        ("root_disk", format!("{seed}-disk").as_str()),
    ])
}

/// A hub on `host` with its own state directory.
pub struct TestHub {
    pub hub: Arc<Hub>,
    pub clock: Arc<TestClock>,
    pub dir: tempfile::TempDir,
}

impl TestHub {
    pub fn new(host: HostComponents) -> Self {
        let dir = tempfile::tempdir().expect("state dir");
        let clock = TestClock::now_real();
        let state = StateDir::open(&dir.path().join("state")).expect("open state");
        TestHub { hub: Arc::new(Hub::new(state, host, clock.clone())), clock, dir }
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }
}
