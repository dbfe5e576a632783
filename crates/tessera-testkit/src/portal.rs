//! A real `tessera-portal serve` process: a data directory with a receipt key (made by
//! `tessera-portal receipt-key`), the vendor's delegation of it (made by `tessera
//! delegate`), an admin API key with every scope (made by `tessera-portal api-key create`).
//! It listens on a loopback port chosen by the system at its first start and keeps that
//! port when restarted, so that hubs find it where their license says.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Child, Stdio};

use crate::process::{announced, command, run, terminate};
use crate::vendor::Vendor;

/// How to start a portal; `Default` is a SQLite store in `<vendor dir>/portal`.
#[derive(Debug, Clone, Default)]
pub struct PortalOptions {
    /// The data directory's name in the vendor's directory (default `portal`).
    pub name: Option<String>,
    /// A database URL (PostgreSQL) instead of the SQLite file in the data directory.
    pub database_url: Option<String>,
    /// The text of a TOML config file to start with.
    pub config: Option<String>,
    /// A PEM certificate and key: serve HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// A running portal process; killed when dropped.
pub struct PortalProcess {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT` (or `https://`).
    pub url: String,
    /// `127.0.0.1:PORT`.
    pub address: String,
    /// The portal's data directory (`--data-dir`).
    pub data: PathBuf,
    /// An admin API key with the read, write and revoke scopes.
    pub api_key: String,
    /// A file holding `api_key` (0600), for `--api-key-file`.
    pub api_key_file: PathBuf,
    /// The arguments of `serve` but the listening address.
    serve: Vec<OsString>,
}

impl PortalProcess {
    /// A portal on a SQLite file in `<vendor dir>/portal`.
    pub fn start(vendor: &Vendor) -> Self {
        Self::start_with(vendor, PortalOptions::default())
    }

    /// A portal started with `options` (store, config, TLS, name of its data directory).
    pub fn start_with(vendor: &Vendor, options: PortalOptions) -> Self {
        let data = vendor.path(options.name.as_deref().unwrap_or("portal"));
        let mut store: Vec<OsString> = vec!["--data-dir".into(), data.clone().into()];
        if let Some(url) = &options.database_url {
            store.extend(["--database-url".into(), url.into()]);
        }
        run(command("tessera-portal").arg("receipt-key").args(&store)).ok();
        let delegation = data.join("delegation.txt");
        run(command("tessera")
            .args(["delegate", "--key"])
            .arg(vendor.key_path())
            .arg("--portal-key")
            .arg(data.join("receipt.pub"))
            .arg("--out")
            .arg(&delegation)
            .arg("--force"))
        .ok();
        // And the ledger delegation, with the real CLI too: the portal signs its ledger heads.
        let ledger_delegation = data.join("ledger-delegation.txt");
        run(command("tessera")
            .args(["delegate", "--ledger", "--key"])
            .arg(vendor.key_path())
            .arg("--portal-key")
            .arg(data.join("receipt.pub"))
            .arg("--out")
            .arg(&ledger_delegation)
            .arg("--force"))
        .ok();
        let api_key = run(command("tessera-portal")
            .args(["api-key", "create", "--scope", "read,write,revoke"])
            .args(&store))
        .ok()
        .stdout
        .trim()
        .to_owned();
        let api_key_file = data.join("api-key.txt");
        tessera_core::fsutil::write_atomic(
            &api_key_file,
            api_key.as_bytes(),
            tessera_core::fsutil::WriteOptions::SECRET_REPLACE,
        )
        .expect("api key file");
        let mut serve = store;
        serve.extend(["--trust".into(), vendor.trust_path().into()]);
        serve.extend(["--delegation".into(), delegation.into()]);
        serve.extend(["--ledger-delegation".into(), ledger_delegation.into()]);
        if let Some(text) = &options.config {
            let config = data.join("portal.toml");
            std::fs::write(&config, text).expect("config file");
            serve.extend(["--config".into(), config.into()]);
        }
        let scheme = match &options.tls {
            Some((cert, key)) => {
                serve.extend(["--tls-cert".into(), cert.into(), "--tls-key".into(), key.into()]);
                "https"
            }
            None => "http",
        };
        let mut portal = PortalProcess {
            child: None,
            url: String::new(),
            address: "127.0.0.1:0".to_owned(),
            data,
            api_key,
            api_key_file,
            serve,
        };
        portal.restart();
        portal.url = format!("{scheme}://{}", portal.address);
        portal
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Starts the process (again), on the port of its first start.
    pub fn restart(&mut self) {
        self.kill();
        let mut child = command("tessera-portal")
            .args(["serve", "--listen", &self.address])
            .args(&self.serve)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start tessera-portal");
        self.address = announced(&mut child, "listening on ");
        self.child = Some(child);
    }

    /// SIGKILL: the portal is down until [`PortalProcess::restart`].
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, and wait until it has stopped.
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        self.child.take().map(|mut child| terminate(&mut child))
    }

    /// An admin call on a license (`suspend`, `reinstate`, `revoke`, `reset-binding`);
    /// asserts success.
    pub fn admin(&self, license_id: &str, action: &str) {
        self.admin_post(&format!("licenses/{license_id}/{action}"), serde_json::json!({}));
    }

    /// Registers an armored license; asserts success.
    pub fn register(&self, license: &str) {
        self.admin_post("licenses", serde_json::json!({ "license": license }));
    }

    /// A GET of `/v1/admin/<path>` with the admin key; asserts success.
    pub fn admin_get(&self, path: &str) -> serde_json::Value {
        let text = self.admin_call(path, None);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}"))
    }

    /// A GET of `/v1/admin/{path}` with the admin key: the body as text.
    pub fn admin_text(&self, path: &str) -> String {
        self.admin_call(path, None)
    }

    fn admin_post(&self, path: &str, body: serde_json::Value) {
        self.admin_call(path, Some(body));
    }

    /// A call to `/v1/admin/<path>` with the admin key (a POST of `body`, or a GET), from a
    /// thread of its own (so that async tests may call it too); asserts success.
    fn admin_call(&self, path: &str, body: Option<serde_json::Value>) -> String {
        let url = format!("{}/v1/admin/{path}", self.url);
        let (status, text) = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    crate::install_crypto();
                    let client = reqwest::blocking::Client::new();
                    let request = match &body {
                        Some(body) => client.post(&url).json(body),
                        None => client.get(&url),
                    };
                    let response = request.bearer_auth(&self.api_key).send().expect("admin call");
                    let status = response.status();
                    (status, response.text().unwrap_or_default())
                })
                .join()
                .expect("admin call thread")
        });
        assert!(status.is_success(), "{path}: {status} {text}");
        text
    }
}

impl Drop for PortalProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
