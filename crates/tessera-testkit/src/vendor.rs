//! A vendor: a signing key in `keys/signing.key` (plain) with its trust file
//! `keys/signing.pub`, in a directory of its own that other test files can share.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tessera_core::delegation::{self, DelegationClaims};
use tessera_core::keyfile::{self, KeyFile};
use tessera_core::keys::{PublicKey, SigningKey};
use tessera_core::license::{Claims, LicenseTerms, sign};
use tessera_core::time::{Clock, SystemClock};

use crate::process::{command, run};

/// The vendor of a test.
pub struct Vendor {
    /// The vendor's signing key.
    pub key: SigningKey,
    /// The vendor's directory: `keys/`, licenses, the portal's data.
    pub dir: tempfile::TempDir,
}

impl Default for Vendor {
    fn default() -> Self {
        Self::new()
    }
}

impl Vendor {
    /// A vendor whose key is made here.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("dir");
        let key = SigningKey::generate().expect("key");
        std::fs::create_dir_all(dir.path().join("keys")).expect("keys dir");
        tessera_core::fsutil::write_atomic(
            &dir.path().join("keys/signing.key"),
            keyfile::plain(&key).as_bytes(),
            tessera_core::fsutil::WriteOptions::SECRET_NEW,
        )
        .expect("key file");
        let vendor = Vendor { key, dir };
        std::fs::write(vendor.trust_path(), vendor.trust_text()).expect("trust file");
        vendor
    }

    /// A vendor whose key is made by the real `tessera keygen`.
    pub fn keygen() -> Self {
        let dir = tempfile::tempdir().expect("dir");
        run(command("tessera")
            .args(["keygen", "--no-passphrase", "--out-dir"])
            .arg(dir.path().join("keys")))
        .ok();
        let bytes = std::fs::read(dir.path().join("keys/signing.key")).expect("key file");
        let KeyFile::Plain(key) = KeyFile::parse(&bytes).expect("key file parses") else {
            panic!("keygen --no-passphrase wrote an encrypted key");
        };
        Vendor { key: *key, dir }
    }

    /// `keys/signing.key`, the secret key file (not encrypted).
    pub fn key_path(&self) -> PathBuf {
        self.path("keys/signing.key")
    }

    /// `keys/signing.pub`, the vendor's trust file.
    pub fn trust_path(&self) -> PathBuf {
        self.path("keys/signing.pub")
    }

    /// The text of the vendor's trust file.
    pub fn trust_text(&self) -> String {
        keyfile::public(&self.key)
    }

    /// A path in the vendor's directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A license for `runners` runners, valid from a day ago for a year, pinging hourly with
    /// a day of grace, naming `portal` if given.
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
        self.sign(terms, now.saturating_sub(Duration::from_secs(86_400)))
    }

    /// Issues `terms` at `issued` with the vendor key.
    pub fn sign(&self, terms: LicenseTerms, issued: tessera_core::UnixTime) -> (Claims, String) {
        let claims = terms.issue(issued).expect("issue");
        let text = sign(&claims, &self.key).expect("sign");
        (claims, text)
    }

    /// The vendor's delegation of `portal_key`, valid from a day ago for `days` days.
    pub fn delegate(&self, portal_key: &PublicKey, days: u64) -> String {
        let now = SystemClock.now();
        let claims = DelegationClaims {
            portal_key: portal_key.clone(),
            issued_at: now,
            not_before: now.saturating_sub(Duration::from_secs(86_400)),
            not_after: now.saturating_add(Duration::from_secs(86_400 * days)),
        };
        delegation::sign(&claims, &self.key)
    }

    /// `tessera issue` a license for `runners` runners with `extra` options, into `name` in
    /// the vendor's directory; returns its path.
    pub fn issue(&self, name: &str, runners: u32, extra: &[&str]) -> PathBuf {
        self.issue_with(&self.key_path(), name, runners, extra)
    }

    /// The same, signed with another key file.
    pub fn issue_with(&self, key: &Path, name: &str, runners: u32, extra: &[&str]) -> PathBuf {
        let out = self.path(name);
        run(command("tessera")
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

    /// The air-gapped round trip for the hub in `hub_state` with the real binaries:
    /// `tessera-hub activation-request`, `tessera activate-offline`, `tessera-hub activate
    /// --offline`. Returns the answer file.
    pub fn activate_offline(&self, license: &Path, hub_state: &Path) -> PathBuf {
        let (request, answer) = (self.path("request.txt"), self.path("activation.txt"));
        let hub = |state: &Path| -> Command {
            let mut hub = command("tessera-hub");
            hub.arg("--state-dir").arg(state);
            hub
        };
        run(hub(hub_state)
            .args(["activation-request", "--license"])
            .arg(license)
            .arg("--trust")
            .arg(self.trust_path())
            .arg("--out")
            .arg(&request))
        .ok();
        run(command("tessera")
            .arg("activate-offline")
            .arg(&request)
            .arg("--license")
            .arg(license)
            .arg("--key")
            .arg(self.key_path())
            .arg("--out")
            .arg(&answer)
            .arg("--force"))
        .ok();
        run(hub(hub_state).args(["activate", "--offline"]).arg(&answer)).ok();
        answer
    }
}
