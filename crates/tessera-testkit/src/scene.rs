//! One licensed site, for the in-process checks (the Rust SDK and its Node.js, Python and C
//! bindings): a vendor, a real portal, two real hub agents serving their status sockets —
//! one valid, one whose license the vendor revoked — and a runner installed from the valid
//! hub on the kernel keyring. Each language's tests read the same scene from environment
//! variables ([`Scene::env`]), so every binding is tried on the same real state.
//!
//! The runner's keystore needs a kernel keyring session: call [`Scene::new`] inside
//! [`crate::in_keystore_session`], and run the language's tests as its children.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use tessera_core::UnixTime;
use tessera_core::license::{Claims, LicenseTerms};
use tessera_core::time::{Clock, SystemClock};

use crate::process::{Daemon, command, run};
use crate::{PortalOptions, PortalProcess, Vendor};

/// The product every scene license is for.
pub const PRODUCT: &str = "acme-hub";
/// The features the valid license grants.
pub const FEATURES: [&str; 2] = ["audit-log", "sso"];

/// A licensed site on this machine.
pub struct Scene {
    /// The vendor whose key signed the scene's licenses.
    pub vendor: Vendor,
    /// The portal the hubs activated with and ping.
    pub portal: PortalProcess,
    /// The valid license's claims.
    pub claims: Claims,
    /// The vendor's trust file.
    pub trust: PathBuf,
    /// The valid license's file.
    pub license: PathBuf,
    /// The valid license with one character of its signed payload changed.
    pub tampered: PathBuf,
    /// The state directory of the runner installed against the valid hub.
    pub runner_state: PathBuf,
    /// The status socket of the hub holding the valid license.
    pub hub_socket: PathBuf,
    /// The status socket of the hub whose license the vendor revoked.
    pub revoked_hub_socket: PathBuf,
    /// When the scene was made: the runner's and hub's latest receipt time is about this.
    pub now: UnixTime,
    hubs: Vec<Daemon>,
    dir: tempfile::TempDir,
}

impl Scene {
    /// Builds the scene with the real binaries (`tessera-portal`, `tessera-hub`,
    /// `tessera-runner`); panics with what went wrong.
    pub fn new() -> Self {
        let vendor = Vendor::new();
        let options = PortalOptions {
            config: Some("pings_per_minute = 1000000\n".to_owned()),
            ..PortalOptions::default()
        };
        let portal = PortalProcess::start_with(&vendor, options);
        let dir = tempfile::tempdir().expect("scene dir");
        let path = |name: &str| dir.path().join(name);
        let (claims, text) = license(&vendor, &portal.url, &FEATURES);
        let (revoked, revoked_text) = license(&vendor, &portal.url, &[]);
        portal.register(&text);
        portal.register(&revoked_text);
        std::fs::write(path("trust.pub"), vendor.trust_text()).expect("trust file");
        std::fs::write(path("valid.license"), &text).expect("license file");
        std::fs::write(path("revoked.license"), &revoked_text).expect("license file");
        std::fs::write(path("tampered.license"), tamper(&text)).expect("license file");

        let hub = |state: &str| {
            let mut c = command("tessera-hub");
            c.arg("--state-dir").arg(path(state));
            c
        };
        run(hub("hub")
            .arg("activate")
            .arg("--license")
            .arg(path("valid.license"))
            .arg("--trust")
            .arg(path("trust.pub")))
        .ok();
        run(hub("revoked-hub")
            .arg("activate")
            .arg("--license")
            .arg(path("revoked.license"))
            .arg("--trust")
            .arg(path("trust.pub")))
        .ok();
        portal.admin(&revoked.id.to_string(), "revoke");
        // The revoked hub learns it at its next ping (exit code: the status's).
        run(hub("revoked-hub").arg("ping"));

        let serve = |state: &str, socket: &str| {
            let mut c = hub(state);
            c.args([
                "run",
                "--runner-listen",
                "127.0.0.1:0",
                "--lease-ttl",
                "30d",
                "--status-socket",
            ])
            .arg(path(socket));
            Daemon::start(c, "runners: listening on ")
        };
        let hubs = vec![serve("hub", "hub.sock"), serve("revoked-hub", "revoked-hub.sock")];

        let token = run(hub("hub").arg("runner-token")).ok().stdout.trim().to_owned();
        let mut install = command("tessera-runner");
        install
            .arg("--state-dir")
            .arg(path("runner"))
            .args([
                "--keystore",
                "keyutils",
                "install",
                "--label",
                "scene-runner",
                "--token-file",
                "-",
                "--hub",
            ])
            .arg(format!("http://{}", hubs[0].address))
            .arg("--trust")
            .arg(path("trust.pub"))
            .stdin(Stdio::piped());
        let mut child =
            install.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("runner install");
        std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), token.as_bytes())
            .expect("token");
        let output = child.wait_with_output().expect("runner install");
        assert!(
            output.status.success(),
            "tessera-runner install: {}",
            String::from_utf8_lossy(&output.stderr)
        );

        Scene {
            vendor,
            portal,
            claims,
            trust: path("trust.pub"),
            license: path("valid.license"),
            tampered: path("tampered.license"),
            runner_state: path("runner"),
            hub_socket: path("hub.sock"),
            revoked_hub_socket: path("revoked-hub.sock"),
            now: SystemClock.now(),
            hubs,
            dir,
        }
    }

    /// A time within the grace period (no receipt for two hours; a day of grace).
    pub fn grace_at(&self) -> UnixTime {
        self.now.saturating_add(Duration::from_secs(2 * 3600))
    }

    /// A time after the grace period ran out (and before the license and lease end).
    pub fn past_grace_at(&self) -> UnixTime {
        self.now.saturating_add(Duration::from_secs(3 * 86_400))
    }

    /// A time after the license expired.
    pub fn expired_at(&self) -> UnixTime {
        self.claims.expires_at.saturating_add(Duration::from_secs(1))
    }

    /// A file path in the scene's directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The scene as environment variables for a language's test runner.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let p = |p: &PathBuf| p.display().to_string();
        vec![
            ("TESSERA_SCENE_TRUST", p(&self.trust)),
            ("TESSERA_SCENE_LICENSE", p(&self.license)),
            ("TESSERA_SCENE_TAMPERED", p(&self.tampered)),
            ("TESSERA_SCENE_LICENSE_ID", self.claims.id.to_string()),
            ("TESSERA_SCENE_PRODUCT", PRODUCT.to_owned()),
            ("TESSERA_SCENE_FEATURES", FEATURES.join(",")),
            ("TESSERA_SCENE_RUNNER_LIMIT", self.claims.runners.to_string()),
            ("TESSERA_SCENE_RUNNER_STATE", p(&self.runner_state)),
            ("TESSERA_SCENE_HUB_SOCKET", p(&self.hub_socket)),
            ("TESSERA_SCENE_REVOKED_HUB_SOCKET", p(&self.revoked_hub_socket)),
            ("TESSERA_SCENE_NOW", self.now.as_unix().to_string()),
            ("TESSERA_SCENE_GRACE_AT", self.grace_at().as_unix().to_string()),
            ("TESSERA_SCENE_PAST_GRACE_AT", self.past_grace_at().as_unix().to_string()),
            ("TESSERA_SCENE_EXPIRED_AT", self.expired_at().as_unix().to_string()),
        ]
    }

    /// A command with the scene's environment.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.envs(self.env());
        c
    }

    /// Checks a language's hub start-up example (docs/INTEGRATION.md), which `run` runs
    /// against a socket: it starts on the valid hub, saying so and enabling the licensed
    /// feature; it does not start on the revoked one (exit 1); with no agent to ask it stops
    /// (exit 69). Returns what it said in that last case.
    pub fn assert_hub_example(&self, run: impl Fn(&Path) -> Output) -> String {
        let said = |o: &Output| {
            format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
        };
        let output = run(&self.hub_socket);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "the example on a valid hub: {}", said(&output));
        assert!(
            stdout.contains("license valid") && stdout.contains("single sign-on enabled"),
            "{stdout}"
        );
        let output = run(&self.revoked_hub_socket);
        assert_eq!(
            output.status.code(),
            Some(1),
            "a revoked hub does not start: {}",
            said(&output)
        );
        assert!(
            String::from_utf8_lossy(&output.stdout).contains("license revoked"),
            "{}",
            said(&output)
        );
        let output = run(Path::new("/nonexistent/status.sock"));
        assert_eq!(output.status.code(), Some(69), "no agent, no start: {}", said(&output));
        said(&output)
    }

    /// The valid hub's runner API, to install another runner from.
    pub fn hub_url(&self) -> String {
        format!("http://{}", self.hubs[0].address)
    }

    /// A runner token of the valid hub (each enrolls one runner).
    pub fn runner_token(&self) -> String {
        let mut hub = command("tessera-hub");
        hub.arg("--state-dir").arg(self.path("hub")).arg("runner-token");
        run(&mut hub).ok().stdout.trim().to_owned()
    }

    /// Stops the hub agents (their sockets go away).
    pub fn stop_hubs(&mut self) {
        for hub in self.hubs.drain(..) {
            hub.stop();
        }
    }
}

impl Default for Scene {
    fn default() -> Self {
        Self::new()
    }
}

/// A license of the scene's product for 2 runners, hourly pings, a day of grace, `features`.
fn license(vendor: &Vendor, portal: &str, features: &[&str]) -> (Claims, String) {
    let now = SystemClock.now();
    let mut terms = LicenseTerms::new(
        "Acme Corp".parse().expect("org"),
        PRODUCT.parse().expect("product"),
        2,
        now.saturating_add(Duration::from_secs(86_400 * 365)),
    );
    terms.grace_period = Duration::from_secs(86_400);
    terms.ping_interval = Duration::from_secs(3600);
    terms.portal_url = Some(portal.parse().expect("portal url"));
    terms.features = features.iter().map(|f| f.parse().expect("feature")).collect();
    vendor.sign(terms, now.saturating_sub(Duration::from_secs(86_400)))
}

/// The license with one letter of its longest line (the signed payload) swapped for
/// another: still well formed, no longer what was signed.
fn tamper(text: &str) -> String {
    let longest = text.lines().max_by_key(|l| l.len()).expect("a line");
    let at = longest.len() / 2;
    let mut line = longest.as_bytes().to_vec();
    line[at] = if line[at] == b'A' { b'B' } else { b'A' };
    text.replacen(longest, &String::from_utf8(line).expect("ascii"), 1)
}
