//! The pieces of an end-to-end test: the real binaries (built by the same `cargo test
//! --workspace` run), a vendor, a portal process on a fixed loopback port (so it can be
//! stopped and started again where hubs expect it), hubs and runners with their own state
//! directories, real clock travel through libfaketime, and the kernel keyring session the
//! runners need.
#![forbid(unsafe_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// A workspace binary, next to the test executable's `deps/` directory.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let path = exe.parent().and_then(Path::parent).map(|d| d.join(name)).expect("target dir");
    assert!(
        path.exists(),
        "{} is missing: run the end-to-end tests with `cargo test --workspace`",
        path.display()
    );
    path
}

/// A command for a workspace binary, quiet and without the caller's Tessera variables.
pub fn cmd(name: &str) -> Command {
    let mut command = Command::new(bin(name));
    command.env("TESSERA_LOG", "warn");
    for var in [
        "TESSERA_PASSPHRASE",
        "TESSERA_API_KEY",
        "TESSERA_DATABASE_URL",
        "TESSERA_HUB_TRUST",
        "TESSERA_HUB_STATE_DIR",
        "TESSERA_RUNNER_TRUST",
        "TESSERA_RUNNER_TOKEN",
        "TESSERA_RUNNER_STATE_DIR",
        "TESSERA_RUNNER_KEYSTORE",
    ] {
        command.env_remove(var);
    }
    command
}

/// The same command with the clock moved by `offset` (libfaketime syntax: "+3h", "-2h",
/// "+8d", "+400d").
pub fn at(offset: &str, name: &str) -> Command {
    let mut command = Command::new("faketime");
    command.args(["-f", offset]).arg(bin(name)).env("TESSERA_LOG", "warn");
    command
}

/// What a finished command said.
#[derive(Debug)]
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "expected success:\n{}\n{}", self.stdout, self.stderr);
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", self.stdout, self.stderr))
    }

    /// The status word of a `--json` answer.
    pub fn status(&self) -> String {
        self.json()["status"].as_str().unwrap_or_default().to_owned()
    }

    /// A user mistake: one line on stderr, this exit code, no panic.
    pub fn fails(self, code: i32, mentions: &str) -> Self {
        assert_eq!(self.code, code, "stdout: {}\nstderr: {}", self.stdout, self.stderr);
        assert_eq!(self.stderr.trim_end().lines().count(), 1, "one line: {}", self.stderr);
        assert!(self.stderr.contains(mentions), "{:?} should mention {mentions:?}", self.stderr);
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        self
    }
}

pub fn run(command: &mut Command) -> Ran {
    let Output { status, stdout, stderr } = command.output().expect("run");
    Ran {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// Whether a tool is on the PATH; under CI a missing tool fails the test, elsewhere the test
/// says loudly that it did not run.
pub fn have(tool: &str, package: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        let message = format!("{tool} is not installed (Debian: apt-get install {package})");
        assert!(std::env::var_os("CI").is_none(), "{message}");
        eprintln!("\n!!! NOT RUN: {message}\n");
    }
    found
}

/// Re-runs the calling test inside a fresh kernel session keyring (`keyctl session -`), which
/// the runners' keystore needs. `true` inside, `false` outside (the inner run passed).
pub fn in_keyring_session() -> bool {
    const INSIDE: &str = "TESSERA_E2E_IN_KEYRING";
    if std::env::var_os(INSIDE).is_some() {
        return true;
    }
    if !have("keyctl", "keyutils") {
        return false;
    }
    let test = std::thread::current().name().expect("test name").to_owned();
    let output = Command::new("keyctl")
        .args(["session", "-"])
        .arg(std::env::current_exe().expect("exe"))
        .args(["--exact", &test, "--nocapture", "--test-threads=1"])
        .env(INSIDE, "1")
        .output()
        .expect("keyctl session");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{test} in a keyring session failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    false
}

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// A vendor with a signing key made by `tessera keygen`.
pub struct Vendor {
    pub dir: tempfile::TempDir,
}

impl Vendor {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("dir");
        run(cmd("tessera")
            .args(["keygen", "--no-passphrase", "--out-dir"])
            .arg(dir.path().join("keys")))
        .ok();
        Vendor { dir }
    }

    pub fn key(&self) -> PathBuf {
        self.dir.path().join("keys/signing.key")
    }

    pub fn trust(&self) -> PathBuf {
        self.dir.path().join("keys/signing.pub")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `tessera issue` a license for `runners` runners with `extra` options; returns its path.
    pub fn issue(&self, name: &str, runners: u32, extra: &[&str]) -> PathBuf {
        self.issue_with(&self.key(), name, runners, extra)
    }

    /// The same, signed with another key file.
    pub fn issue_with(&self, key: &Path, name: &str, runners: u32, extra: &[&str]) -> PathBuf {
        let out = self.path(name);
        run(cmd("tessera")
            .args([
                "issue",
                "--org",
                "Acme Corp",
                "--product",
                "acme-hub",
                "--expires",
                "2099-12-31",
            ])
            .args(["--runners", &runners.to_string(), "--key"])
            .arg(key)
            .arg("--out")
            .arg(&out)
            .args(extra))
        .ok();
        out
    }

    /// The air-gapped round trip for the hub in `hub_state`: `tessera-hub activation-request`,
    /// `tessera activate-offline`, `tessera-hub activate --offline`. Returns the answer file.
    pub fn activate_offline(&self, license: &Path, hub_state: &Path) -> PathBuf {
        let (request, answer) = (self.path("request.txt"), self.path("activation.txt"));
        run(hub(hub_state)
            .args(["activation-request", "--license"])
            .arg(license)
            .arg("--trust")
            .arg(self.trust())
            .arg("--out")
            .arg(&request))
        .ok();
        run(cmd("tessera")
            .arg("activate-offline")
            .arg(&request)
            .arg("--key")
            .arg(self.key())
            .arg("--out")
            .arg(&answer)
            .arg("--force"))
        .ok();
        run(hub(hub_state).args(["activate", "--offline"]).arg(&answer)).ok();
        answer
    }
}

impl Default for Vendor {
    fn default() -> Self {
        Self::new()
    }
}

/// A `tessera-portal serve` process on a fixed port with an embedded SQLite store.
pub struct Portal {
    child: Option<Child>,
    pub port: u16,
    pub url: String,
    pub data: PathBuf,
    pub api_key: String,
    trust: PathBuf,
    delegation: PathBuf,
}

impl Portal {
    /// Receipt key, vendor delegation (`tessera delegate`), admin API key, then serve.
    pub fn start(vendor: &Vendor) -> Self {
        let data = vendor.path("portal");
        run(cmd("tessera-portal").args(["receipt-key", "--data-dir"]).arg(&data)).ok();
        let delegation = vendor.path("delegation.txt");
        run(cmd("tessera")
            .args(["delegate", "--key"])
            .arg(vendor.key())
            .arg("--portal-key")
            .arg(data.join("receipt.pub"))
            .arg("--out")
            .arg(&delegation))
        .ok();
        let api_key = run(cmd("tessera-portal")
            .args(["api-key", "create", "--scope", "read,write,revoke", "--data-dir"])
            .arg(&data))
        .ok()
        .stdout
        .trim()
        .to_owned();
        let port = free_port();
        let mut portal = Portal {
            child: None,
            port,
            url: format!("http://127.0.0.1:{port}"),
            data,
            api_key,
            trust: vendor.trust(),
            delegation,
        };
        portal.restart();
        portal
    }

    /// Starts the process on its port (again).
    pub fn restart(&mut self) {
        let mut child = cmd("tessera-portal")
            .args(["serve", "--listen", &format!("127.0.0.1:{}", self.port), "--data-dir"])
            .arg(&self.data)
            .arg("--trust")
            .arg(&self.trust)
            .arg("--delegation")
            .arg(&self.delegation)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the portal");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("line");
        assert!(line.starts_with("listening on "), "portal said {line:?}");
        self.child = Some(child);
    }

    /// SIGKILL: the portal is down until `restart`.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// An admin call (`suspend`, `reinstate`, `revoke`, …) on a license.
    pub fn admin(&self, license_id: &str, action: &str) {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let response = reqwest::blocking::Client::new()
            .post(format!("{}/v1/admin/licenses/{license_id}/{action}", self.url))
            .bearer_auth(&self.api_key)
            .json(&serde_json::json!({}))
            .send()
            .expect("admin call");
        assert!(response.status().is_success(), "{action}: {}", response.status());
    }
}

impl Drop for Portal {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A background process that prints its listening address as its first line.
pub struct Daemon {
    child: Child,
    pub address: String,
}

impl Daemon {
    /// Starts `command`, reads its first line, strips `prefix`.
    pub fn start(mut command: Command, prefix: &str) -> Self {
        let mut child =
            command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("spawn");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("line");
        let address = line
            .trim()
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Daemon { child, address }
    }

    /// SIGTERM and wait.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let status = self.child.wait().expect("wait");
        std::mem::forget(self);
        status
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A hub's `tessera-hub` command on its state directory.
pub fn hub(state: &Path) -> Command {
    let mut command = cmd("tessera-hub");
    command.arg("--state-dir").arg(state);
    command
}

/// A runner's `tessera-runner` command on its state directory, on the kernel keyring.
pub fn runner(state: &Path) -> Command {
    let mut command = cmd("tessera-runner");
    command.arg("--state-dir").arg(state).args(["--keystore", "keyutils"]);
    command
}

/// The same under a moved clock.
pub fn runner_at(offset: &str, state: &Path) -> Command {
    let mut command = at(offset, "tessera-runner");
    command.arg("--state-dir").arg(state).args(["--keystore", "keyutils"]);
    command
}

pub fn hub_at(offset: &str, state: &Path) -> Command {
    let mut command = at(offset, "tessera-hub");
    command.arg("--state-dir").arg(state);
    command
}

/// Waits until `f` holds (up to 10 s).
pub fn eventually(mut f: impl FnMut() -> bool) -> bool {
    for _ in 0..100 {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}
