//! A whole site on loopback — vendor, a real portal process, a hub (library, serving its
//! runner API over real HTTP) — and runners on a real OS keystore.
//!
//! The real keystores need a session: each test re-runs itself inside one (`keyctl session
//! -` for the kernel keyring, `dbus-run-session` with an unlocked gnome-keyring for the
//! Secret Service). Without those tools the tests say so loudly, and fail under CI.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tessera_core::activation::Bundle;
use tessera_core::fingerprint::HostSecret;
use tessera_core::license::Claims;
use tessera_hub::agent::Hub;
use tessera_hub::host::HostComponents;
use tessera_hub::runners::{RunnerApi, router};
use tessera_hub::state::StateDir;
use tessera_runner::keystore::{Backend, OsKeystore};
use tessera_runner::runner::Runner;
use tessera_testkit::{Keystore, in_keystore_session};
pub use tessera_testkit::{PortalOptions, PortalProcess, TestClock, Vendor};

/// Re-runs the calling test inside a session of `backend` (the test kit's keystore
/// sessions). Returns `true` in that session (run the test body), `false` outside.
pub fn in_session(backend: Backend) -> bool {
    in_keystore_session(match backend {
        Backend::SecretService => Keystore::SecretService,
        // A systemd credential's generation lives in the kernel keyring.
        _ => Keystore::KernelKeyring,
    })
}

/// A hub (the library) on a simulated host with its own state directory and clock.
pub struct TestHub {
    pub hub: Arc<Hub>,
    pub clock: Arc<TestClock>,
    /// Keeps the state directory for the hub's life.
    _dir: tempfile::TempDir,
}

impl TestHub {
    fn new(seed: &str) -> Self {
        let values = tessera_testkit::host_values(seed);
        let secret = HostSecret::from_bytes(tessera_testkit::host_secret(seed));
        let host = HostComponents::from_values(
            values.iter().map(|(name, value)| (*name, value.as_str())),
            secret,
        );
        let dir = tempfile::tempdir().expect("state dir");
        let clock = TestClock::now_real();
        let state = StateDir::open(&dir.path().join("state")).expect("open state");
        TestHub { hub: Arc::new(Hub::new(state, host, clock.clone())), clock, _dir: dir }
    }
}

/// A vendor, a portal process, an activated hub serving runners on 127.0.0.1:0.
pub struct Site {
    pub vendor: Vendor,
    pub portal: PortalProcess,
    pub hub: TestHub,
    pub claims: Claims,
    pub hub_url: String,
    pub rt: tokio::runtime::Runtime,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Site {
    pub fn new(runners: u32) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let vendor = Vendor::new();
        let options = PortalOptions {
            config: Some("pings_per_minute = 1000000\n".to_owned()),
            ..PortalOptions::default()
        };
        let portal = PortalProcess::start_with(&vendor, options);
        let (claims, license) = vendor.license(runners, Some(&portal.url));
        portal.register(&license);
        let hub = TestHub::new("hub");
        rt.block_on(hub.hub.activate(license.as_bytes(), vendor.trust_text().as_bytes(), None))
            .expect("hub activates");
        let mut site = Site { vendor, portal, hub, claims, hub_url: String::new(), rt, stop: None };
        site.start_hub();
        site
    }

    /// Serves the hub's runner API (again) on a new port.
    pub fn start_hub(&mut self) {
        let api =
            Arc::new(RunnerApi { hub: self.hub.hub.clone(), lease_ttl: Duration::from_secs(600) });
        let listener =
            self.rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
        self.hub_url = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        self.rt.spawn(async move {
            axum::serve(listener, router(api))
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
        });
        self.stop = Some(stop);
    }

    /// Stops serving runners: the hub is unreachable.
    pub fn stop_hub(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }

    /// Installs `runner` from this site's hub under `label`, with a fresh runner token.
    pub fn install(
        &self,
        runner: &Runner,
        label: &str,
    ) -> Result<tessera_runner::check::Decision, tessera_runner::runner::RunnerError> {
        runner.install_from_hub(&self.hub_url, &self.new_token(), label, &self.vendor.trust_text())
    }

    /// A fresh runner token (each enrolls one runner).
    pub fn new_token(&self) -> String {
        self.hub.hub.create_runner_token().expect("token")
    }

    /// The air-gapped round trip's answer: `runner` writes a request, the hub's operator
    /// answers it with a bundle holding a lease of `ttl`.
    pub fn bundle_for(&self, runner: &Runner, label: &str, ttl: Duration) -> Bundle {
        let request = runner.request(label).expect("request");
        self.hub.hub.bundle_for_request(request.as_bytes(), ttl).expect("bundle").bundle
    }

    /// The hub pings the portal now.
    pub fn hub_pings(&self) -> tessera_core::Status {
        self.rt.block_on(self.hub.hub.ping()).expect("hub ping").status
    }

    /// An admin call on the portal (suspend, revoke, …).
    pub fn admin(&self, action: &str) {
        self.portal.admin(&self.claims.id.to_string(), action);
    }
}

/// A runner on the real `backend` keystore with its own state directory and clock.
pub fn runner(dir: &Path, backend: Backend) -> (Runner, Arc<TestClock>) {
    let clock = TestClock::now_real();
    let keystore = OsKeystore::open(backend, &Runner::account(dir)).expect("keystore");
    (Runner::new(dir, Arc::new(keystore), clock.clone()), clock)
}
