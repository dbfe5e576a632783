//! `spawn_app_with()`: a real portal on loopback (port 0) with a fresh SQLite file or a fresh
//! PostgreSQL database per test, a vendor key, a trust set, a delegation and an admin key.

use std::collections::BTreeSet;
use std::sync::Arc;

use tessera_core::armor::{Envelope, Kind};
use tessera_core::delegation::{self, Delegation, DelegationClaims};
use tessera_core::fingerprint::{ComponentHash, Fingerprint, HostSecret};
use tessera_core::keyfile;
use tessera_core::keys::SigningKey;
use tessera_core::license::{Claims, LicenseTerms, ProductId, sign};
use tessera_core::receipt::{self, ActivateCall, Nonce, PingCall, ReceiptClaims};
use tessera_core::time::Clock;
use tessera_core::{TrustSet, UnixTime};
use tessera_portal::app::Portal;
use tessera_portal::config::Layer;
use tessera_portal::domain::apikeys::{self, Scope};
use tessera_portal::{http, startup};
pub use tessera_testkit::{PgDatabase, TestClock};

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// An HTTP client builder.
pub fn client() -> reqwest::ClientBuilder {
    tessera_testkit::http_client()
}

pub struct TestApp {
    pub address: String,
    pub portal: Arc<Portal>,
    pub clock: Arc<TestClock>,
    pub vendor: SigningKey,
    pub trust: TrustSet,
    pub admin_key: String,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    /// The test database, dropped afterwards (PostgreSQL only).
    _pg_database: Option<PgDatabase>,
}

pub const START: &str = "2027-03-01T12:00:00Z";

pub async fn spawn_app_with(db: Db, tune: impl FnOnce(Layer) -> Layer) -> Option<TestApp> {
    let pg_database = match db {
        Db::Sqlite => None,
        Db::Postgres => Some(PgDatabase::fresh().await?),
    };
    let database_url = pg_database.as_ref().map(|db| db.url.clone());
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir).expect("data dir");
    let clock = TestClock::at(START.parse().expect("start time"));
    let vendor = SigningKey::generate().expect("key");
    let trust_path = dir.path().join("vendor.pub");
    std::fs::write(&trust_path, keyfile::public(&vendor)).expect("trust file");
    let receipt_key = startup::load_or_create_receipt_key(&data_dir).expect("receipt key");
    let delegation_path = dir.path().join("delegation.txt");
    let claims = DelegationClaims {
        portal_key: receipt_key.public_key().clone(),
        issued_at: clock.now(),
        not_before: clock.now().saturating_sub(std::time::Duration::from_secs(86_400)),
        not_after: clock.now().saturating_add(std::time::Duration::from_secs(3 * 365 * 86_400)),
    };
    std::fs::write(&delegation_path, delegation::sign(&claims, &vendor)).expect("delegation");
    let ledger_delegation = dir.path().join("ledger-delegation.txt");
    // The ledger's delegation covers ten years: the retention tests travel seven.
    let ledger_claims = DelegationClaims {
        not_after: clock.now().saturating_add(std::time::Duration::from_secs(10 * 365 * 86_400)),
        ..claims.clone()
    };
    let ledger = delegation::sign_for(delegation::Purpose::Ledger, &ledger_claims, &vendor);
    std::fs::write(&ledger_delegation, ledger).expect("ledger delegation");
    let layer = Layer {
        data_dir: Some(data_dir),
        database_url: database_url.map(Into::into),
        trust: vec![trust_path],
        delegation: Some(delegation_path),
        ledger_delegation: Some(ledger_delegation),
        ..Layer::default()
    };
    let settings = tune(layer).resolve().expect("settings");
    let portal = Portal::start(settings, clock.clone()).await.expect("portal starts");
    let all: BTreeSet<Scope> = [Scope::Read, Scope::Write, Scope::Revoke].into();
    let admin_key = apikeys::create(&portal.store, &all, "tests", None, clock.now())
        .await
        .expect("api key")
        .expose()
        .to_owned();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("addr"));
    let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(http::serve(portal.clone(), listener, None, async move {
        let _ = stop.await;
    }));
    // The periodic jobs' round at start (rollup, retention, ledger cut) is over before a
    // test moves the clock: else a test seven years ahead races the portal's own deletions.
    let mut rounds = portal.job_rounds.subscribe();
    rounds.wait_for(|done| *done >= 1).await.expect("the portal's jobs run");
    Some(TestApp {
        address,
        portal,
        clock,
        trust: TrustSet::single(vendor.public_key().clone()),
        vendor,
        admin_key,
        http: client().build().expect("client"),
        dir,
        shutdown: Some(shutdown),
        _pg_database: pg_database,
    })
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// An HTTP answer: status and JSON body (Null when not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: serde_json::Value,
    pub retry_after: Option<String>,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let retry_after =
        response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let text = response.text().await.expect("body");
    Answer {
        status,
        body: serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        retry_after,
    }
}

impl TestApp {
    pub fn now(&self) -> UnixTime {
        self.clock.now()
    }

    /// The URL of the test's PostgreSQL database (none on SQLite).
    pub fn database_url(&self) -> Option<String> {
        self._pg_database.as_ref().map(|db| db.url.clone())
    }

    pub async fn get(&self, path: &str, key: Option<&str>) -> Answer {
        let mut request = self.http.get(format!("{}{path}", self.address));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        answer(request.send().await.expect("GET")).await
    }

    pub async fn post_json(
        &self,
        path: &str,
        key: Option<&str>,
        body: &serde_json::Value,
    ) -> Answer {
        let mut request = self.http.post(format!("{}{path}", self.address)).json(body);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        answer(request.send().await.expect("POST")).await
    }

    /// A raw POST on a connection of its own: after refusing a body unread (413) the
    /// server closes the connection, which must not break the next request.
    pub async fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> Answer {
        let http = client().pool_max_idle_per_host(0).build().expect("client");
        let request = http
            .post(format!("{}{path}", self.address))
            .header("content-type", content_type)
            .body(body);
        answer(request.send().await.expect("POST")).await
    }

    pub async fn admin(&self, path: &str) -> Answer {
        self.post_json(path, Some(&self.admin_key), &serde_json::json!({})).await
    }

    /// Issues a license (signed by the vendor key) valid around the test's start.
    pub fn issue(&self, tune: impl FnOnce(&mut LicenseTerms)) -> (Claims, String) {
        let mut terms = LicenseTerms::new(
            "Acme Corp".parse().expect("org"),
            "acme-hub".parse().expect("product"),
            3,
            "2028-03-01T00:00:00Z".parse().expect("t"),
        );
        terms.not_before = Some("2027-01-01T00:00:00Z".parse().expect("t"));
        tune(&mut terms);
        let claims = terms.issue(self.now()).expect("issue");
        let text = sign(&claims, &self.vendor).expect("sign");
        (claims, text)
    }

    pub async fn register(&self, license: &str) -> Answer {
        self.post_json(
            "/v1/admin/licenses",
            Some(&self.admin_key),
            &serde_json::json!({ "license": license }),
        )
        .await
    }

    /// Issues and registers a license.
    pub async fn registered_license(&self) -> Claims {
        let (claims, text) = self.issue(|_| {});
        let answer = self.register(&text).await;
        assert_eq!(answer.status, 201, "{answer:?}");
        claims
    }

    /// Checks a receipt through the delegation with the vendor trust set alone.
    pub fn verify_receipt(&self, answer: &Answer) -> ReceiptClaims {
        assert_eq!(answer.status, 200, "{answer:?}");
        let delegation_text = answer.body["delegation"].as_str().expect("delegation in answer");
        let delegation = Delegation::verify(delegation_text.as_bytes(), &self.trust, self.now())
            .expect("delegation");
        let receipt = answer.body["receipt"].as_str().expect("receipt");
        let claims = receipt::verify(receipt.as_bytes(), &delegation).expect("receipt verifies");
        assert_eq!(answer.body["status"].as_str(), Some(claims.status.as_str()));
        claims
    }
}

/// A simulated hub: its key, its host fingerprint (version 2, and the version 1 one for
/// moving bindings over), its notion of time, and the nonce of the latest receipt it holds.
pub struct TestHub {
    pub key: SigningKey,
    pub fingerprint: Fingerprint,
    pub legacy: Fingerprint,
    pub time_ms: i64,
    pub holds: Option<Nonce>,
    /// The receipt whose nonce `holds` is, armored, sent along as a real hub does.
    pub held_receipt: Option<String>,
    /// Whether calls present the fingerprint as version 1 (a hub of before version 2).
    pub old: bool,
    /// The runner key ids its pings ask the portal to countersign, if any.
    pub runners: Option<Vec<tessera_core::keys::KeyId>>,
}

/// A host named `seed` with `components` components: its version 2 fingerprint (keyed by
/// its own secret) and its version 1 one (keyed by the product id).
pub fn host(seed: &str, components: usize) -> (Fingerprint, Fingerprint) {
    let product: ProductId = "acme-hub".parse().expect("product");
    let secret = HostSecret::from_bytes(tessera_testkit::host_secret(seed));
    let (mut current, mut legacy) = (Fingerprint::new(), Fingerprint::new());
    for i in 0..components {
        let name = format!("c{i}");
        let raw = format!("{seed}-{i}");
        current
            .insert(&name, ComponentHash::keyed(&secret, &product, &name, raw.as_bytes()))
            .expect("component");
        legacy
            .insert(&name, ComponentHash::of(&product, &name, raw.as_bytes()))
            .expect("component");
    }
    (current, legacy)
}

impl TestHub {
    pub fn new(seed: &str, app: &TestApp) -> Self {
        let (fingerprint, legacy) = host(seed, 5);
        TestHub {
            key: SigningKey::generate().expect("key"),
            fingerprint,
            legacy,
            time_ms: app.now().as_unix() * 1000,
            holds: None,
            held_receipt: None,
            old: false,
            runners: None,
        }
    }

    fn tick(&mut self, app: &TestApp) -> i64 {
        self.time_ms = (self.time_ms + 1).max(app.now().as_unix() * 1000);
        self.time_ms
    }

    /// The fingerprint the hub's calls present, with its version.
    fn presented(&self) -> (Fingerprint, u8) {
        if self.old {
            (self.legacy.clone(), tessera_core::fingerprint::VERSION_1)
        } else {
            (self.fingerprint.clone(), tessera_core::fingerprint::VERSION)
        }
    }

    pub fn activate_body(&mut self, app: &TestApp, claims: &Claims) -> (serde_json::Value, Nonce) {
        let time = self.tick(app);
        let nonce = Nonce::generate().expect("nonce");
        (self.activate_body_with(claims, time, nonce), nonce)
    }

    /// An activation call made at `hub_time_ms`, whatever the clock says.
    pub fn activate_body_at(&self, claims: &Claims, hub_time_ms: i64) -> serde_json::Value {
        self.activate_body_with(claims, hub_time_ms, Nonce::generate().expect("nonce"))
    }

    fn activate_body_with(
        &self,
        claims: &Claims,
        hub_time_ms: i64,
        nonce: Nonce,
    ) -> serde_json::Value {
        let (fingerprint, fingerprint_version) = self.presented();
        let call = ActivateCall {
            license_key: claims.key.clone(),
            fingerprint,
            fingerprint_version,
            previous_fingerprint: None,
            hub_key: self.key.public_key().clone(),
            nonce,
            hub_time_ms,
        };
        let envelope = Envelope::sign_body(Kind::Activate, &self.key, &call);
        serde_json::to_value(envelope.to_compact()).expect("json")
    }

    /// A ping; `previous` shows the version 1 fingerprint too (moving over).
    pub fn ping_body_with(
        &mut self,
        app: &TestApp,
        claims: &Claims,
        previous: bool,
    ) -> (serde_json::Value, Nonce) {
        let nonce = Nonce::generate().expect("nonce");
        let (fingerprint, fingerprint_version) = self.presented();
        let call = PingCall {
            license_id: claims.id,
            fingerprint,
            fingerprint_version,
            previous_fingerprint: previous.then(|| self.legacy.clone()),
            holds: self.holds,
            held_receipt: self.held_receipt.clone(),
            nonce,
            hub_time_ms: self.tick(app),
            runners: self.runners.clone(),
        };
        let envelope = Envelope::sign_body(Kind::Ping, &self.key, &call);
        (serde_json::to_value(envelope.to_compact()).expect("json"), nonce)
    }

    pub fn ping_body(&mut self, app: &TestApp, claims: &Claims) -> (serde_json::Value, Nonce) {
        self.ping_body_with(app, claims, false)
    }

    /// Activates; on a receipt the hub holds it (its nonce), as a real hub does.
    pub async fn activate(&mut self, app: &TestApp, claims: &Claims) -> (Answer, Nonce) {
        let (body, nonce) = self.activate_body(app, claims);
        let answer = app.post_json("/v1/activate", None, &body).await;
        if answer.status == 200 {
            self.holds = Some(nonce);
            self.held_receipt = answer.body["receipt"].as_str().map(str::to_owned);
        }
        (answer, nonce)
    }

    /// Pings; on a receipt the hub holds it.
    pub async fn ping(&mut self, app: &TestApp, claims: &Claims) -> (Answer, Nonce) {
        let (body, nonce) = self.ping_body(app, claims);
        let answer = app.post_json("/v1/ping", None, &body).await;
        if answer.status == 200 {
            self.holds = Some(nonce);
            self.held_receipt = answer.body["receipt"].as_str().map(str::to_owned);
        }
        (answer, nonce)
    }
}

/// Runs a test body against SQLite and, in a second test, against PostgreSQL.
#[macro_export]
macro_rules! on_both_stores {
    ($name:ident, |$app:ident| $body:block) => {
        $crate::on_both_stores!($name, tune = |layer| layer, |$app| $body);
    };
    ($name:ident, tune = $tune:expr, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[allow(unused_imports)]
            use $crate::helpers::*;

            async fn run($app: TestApp) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run(spawn_app_with(Db::Sqlite, $tune).await.expect("sqlite app")).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = spawn_app_with(Db::Postgres, $tune).await {
                    run(app).await;
                }
            }
        }
    };
}
