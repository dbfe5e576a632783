//! A whole site on loopback — vendor, a real portal process, a hub (library, serving its
//! runner API over real HTTP) — and runners on a real OS keystore.
//!
//! The real keystores need a session: each test re-runs itself inside one (`keyctl session
//! -` for the kernel keyring, `dbus-run-session` with an unlocked gnome-keyring for the
//! Secret Service). Without those tools the tests say so loudly, and fail under CI.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use tessera_core::license::Claims;
use tessera_hub::runners::{RunnerApi, router};
use tessera_runner::keystore::{Backend, OsKeystore};
use tessera_runner::runner::Runner;

#[allow(dead_code)]
#[path = "../../../crates/tessera-hub/tests/hub/helpers.rs"]
pub mod hubkit;

pub use hubkit::{Portal, TestClock, TestHub, Vendor, host};

const IN_SESSION: &str = "TESSERA_TEST_IN_KEYSTORE_SESSION";

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Re-runs the calling test inside a session of `backend`. Returns `true` in that session
/// (run the test body), `false` in the outer process (the inner run passed).
pub fn in_session(backend: Backend) -> bool {
    if std::env::var_os(IN_SESSION).is_some() {
        return true;
    }
    let tools: &[&str] = match backend {
        Backend::Keyutils => &["keyctl"],
        Backend::SecretService => &["dbus-run-session", "gnome-keyring-daemon"],
    };
    if let Some(missing) = tools.iter().find(|t| !have(t)) {
        let message = format!(
            "{missing} is not installed: this test needs the real {} keystore \
             (Debian: apt-get install keyutils gnome-keyring dbus-x11)",
            backend.name()
        );
        assert!(std::env::var_os("CI").is_none(), "{message}");
        eprintln!("\n!!! NOT RUN: {message}\n");
        return false;
    }
    let test = std::thread::current().name().expect("the test's name").to_owned();
    let exe = std::env::current_exe().expect("test binary");
    let home = tempfile::tempdir().expect("home");
    let mut command = match backend {
        Backend::Keyutils => {
            let mut c = Command::new("keyctl");
            c.args(["session", "-"]).arg(&exe);
            c
        }
        Backend::SecretService => {
            // A private keyring directory, created and unlocked with a throwaway password.
            let mut c = Command::new("dbus-run-session");
            c.args([
                "--",
                "sh",
                "-c",
                "eval \"$(printf pw | gnome-keyring-daemon --unlock --components=secrets)\" \
                 && export GNOME_KEYRING_CONTROL && exec \"$0\" \"$@\"",
            ])
            .arg(&exe)
            .env("HOME", home.path())
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env("XDG_RUNTIME_DIR", home.path());
            c
        }
    };
    let output = command
        .args(["--exact", &test, "--nocapture", "--test-threads=1"])
        .env(IN_SESSION, backend.name())
        .output()
        .expect("re-run the test in a keystore session");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{test} in a {} session failed:\n{stdout}\n{stderr}",
        backend.name()
    );
    false
}

/// A vendor, a portal process, an activated hub serving runners on 127.0.0.1:0.
pub struct Site {
    pub vendor: Vendor,
    pub portal: Portal,
    pub hub: TestHub,
    pub claims: Claims,
    pub hub_url: String,
    pub token: String,
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
        let portal = Portal::start(&vendor);
        let (claims, license) = vendor.license(runners, Some(&portal.url));
        rt.block_on(portal.register(&license));
        let hub = TestHub::new(host("hub"));
        rt.block_on(hub.hub.activate(license.as_bytes(), vendor.trust_text().as_bytes(), None))
            .expect("hub activates");
        let token = hub.hub.create_runner_token().expect("token");
        let mut site =
            Site { vendor, portal, hub, claims, hub_url: String::new(), token, rt, stop: None };
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

    /// Installs `runner` from this site's hub under `name`.
    pub fn install(
        &self,
        runner: &Runner,
        name: &str,
    ) -> Result<tessera_runner::check::Decision, tessera_runner::runner::RunnerError> {
        runner.install_from_hub(&self.hub_url, &self.token, name, &self.vendor.trust_text())
    }

    /// The hub pings the portal now.
    pub fn hub_pings(&self) -> tessera_core::Status {
        self.rt.block_on(self.hub.hub.ping()).expect("hub ping").status
    }

    /// An admin call on the portal (suspend, revoke, …).
    pub fn admin(&self, action: &str) {
        self.rt.block_on(self.portal.admin(&format!("licenses/{}/{action}", self.claims.id), None));
    }
}

/// A runner on the real `backend` keystore with its own state directory and clock.
pub fn runner(dir: &Path, backend: Backend) -> (Runner, Arc<TestClock>) {
    let clock = TestClock::now_real();
    let keystore = OsKeystore::open(backend, &Runner::account(dir)).expect("keystore");
    (Runner::new(dir, Arc::new(keystore), clock.clone()), clock)
}
