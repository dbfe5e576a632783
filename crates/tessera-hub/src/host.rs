//! Where the hub reads its host: the raw components of the fingerprint.
//!
//! Raw values stay in this process: [`HostComponents::fingerprint`] hashes each with HMAC
//! keyed by this host's secret (tessera-core's [`ComponentHash::keyed`], fingerprint
//! version 2) before anything is written or sent, so not even the vendor can test a guess
//! against what the portal stores. The secret is 32 random bytes in a file of its own
//! outside the hub's state directory ([`default_secret_path`]), so a hub reinstalled on the
//! same machine keeps its fingerprint. A component that cannot be read (a container without
//! DMI, an unprivileged user, no physical NIC) is listed as missing, never fatal.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use tessera_core::fingerprint::{ComponentHash, Fingerprint, FingerprintError, HostSecret};
use tessera_core::fsutil::{WriteOptions, read_capped, write_atomic};
use tessera_core::license::ProductId;

/// Where this host's fingerprint secret lives unless told otherwise: beside, not inside, the
/// hub's state, so a reinstalled hub finds it.
pub fn default_secret_path(root: bool) -> PathBuf {
    if root {
        return PathBuf::from("/var/lib/tessera-host/host.secret");
    }
    std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("tessera-host/host.secret")
}

/// Why the host secret could not be read or made.
#[derive(Debug, thiserror::Error)]
#[error("host secret {path}: {message}")]
pub struct SecretError {
    /// The host secret's file.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

/// Reads this host's secret; one that is not there is an error (see
/// [`load_or_create_secret`] for the commands that may make it).
pub fn load_secret(path: &Path) -> Result<HostSecret, SecretError> {
    let fail = |message: String| SecretError { path: path.to_owned(), message };
    match read_capped(path, 1024) {
        Ok(bytes) => parse_secret(bytes).map_err(fail),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(fail(
            "not found: the hub's fingerprint is keyed by the secret it was activated with; \
             give that file with --host-secret (a copy elsewhere gives another fingerprint)"
                .into(),
        )),
        Err(e) => Err(fail(e.to_string())),
    }
}

fn parse_secret(bytes: Vec<u8>) -> Result<HostSecret, String> {
    let text = String::from_utf8(bytes).map_err(|_| "not text".to_owned())?;
    let hex_line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .ok_or_else(|| "no secret in the file".to_owned())?;
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(hex_line, &mut bytes).map_err(|_| "not 64 hex digits".to_owned())?;
    Ok(HostSecret::from_bytes(bytes))
}

/// Reads this host's secret, making it (0600, in a 0700 directory) the first time.
pub fn load_or_create_secret(path: &Path) -> Result<HostSecret, SecretError> {
    let fail = |message: String| SecretError { path: path.to_owned(), message };
    match read_capped(path, 1024) {
        Ok(bytes) => parse_secret(bytes).map_err(fail),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
                && !dir.exists()
            {
                fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
                // Private only when made here: a directory that was there (`/etc`, `/tmp`)
                // belongs to others too, and keeps its mode (the file itself is 0600).
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
                }
            }
            let secret = HostSecret::generate().map_err(|e| fail(e.to_string()))?;
            let text = format!(
                "# Tessera host fingerprint secret: keep it with this machine, never send it.\n{}\n",
                hex::encode(secret.as_bytes())
            );
            match write_atomic(path, text.as_bytes(), WriteOptions::SECRET_NEW) {
                Ok(()) => Ok(secret),
                // Another process made it first (two hub commands at first start): the host
                // has one secret, theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    load_or_create_secret(path)
                }
                Err(e) => Err(fail(e.to_string())),
            }
        }
        Err(e) => Err(fail(e.to_string())),
    }
}

/// The components the hub tries to read, in order.
pub const COMPONENTS: [&str; 6] =
    ["machine_id", "product_uuid", "hostname", "cpu_model", "mac_addresses", "root_disk"];

/// Raw host facts, by component name, plus the names that could not be read, and the host's
/// fingerprint secret.
#[derive(Clone)]
pub struct HostComponents {
    raw: BTreeMap<String, Vec<u8>>,
    missing: Vec<String>,
    secret: Arc<HostSecret>,
}

// Raw hardware ids are not secrets, but they are what the fingerprint exists to keep
// private: Debug shows names only.
impl std::fmt::Debug for HostComponents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostComponents")
            .field("present", &self.raw.keys().collect::<Vec<_>>())
            .field("missing", &self.missing)
            .finish()
    }
}

impl HostComponents {
    /// Reads this host, with its secret.
    pub fn collect(secret: HostSecret) -> Self {
        let mut host = HostComponents::with_secret(secret);
        let sys = sysinfo::System::new_with_specifics(
            sysinfo::RefreshKind::nothing().with_cpu(sysinfo::CpuRefreshKind::nothing()),
        );
        let cpu = sys.cpus().first().map(|c| format!("{} x{}", c.brand().trim(), sys.cpus().len()));
        host.put("machine_id", machine_id());
        host.put("product_uuid", read_trimmed("/sys/class/dmi/id/product_uuid"));
        host.put("hostname", sysinfo::System::host_name());
        host.put("cpu_model", cpu.filter(|c| !c.starts_with(" x")));
        host.put("mac_addresses", physical_macs());
        host.put("root_disk", root_disk());
        host
    }

    /// A host made of the given raw values and secret (tests, and hosts described by hand).
    pub fn from_values<'a>(
        values: impl IntoIterator<Item = (&'a str, &'a str)>,
        secret: HostSecret,
    ) -> Self {
        let mut host = HostComponents::with_secret(secret);
        for (name, value) in values {
            host.raw.insert(name.to_owned(), value.as_bytes().to_vec());
        }
        host
    }

    fn with_secret(secret: HostSecret) -> Self {
        HostComponents { raw: BTreeMap::new(), missing: Vec::new(), secret: Arc::new(secret) }
    }

    fn put(&mut self, name: &str, value: Option<String>) {
        match value.filter(|v| !v.trim().is_empty()) {
            Some(v) => {
                self.raw.insert(name.to_owned(), v.into_bytes());
            }
            None => self.missing.push(name.to_owned()),
        }
    }

    /// Replaces (or adds) one component's raw value.
    pub fn set(&mut self, name: &str, value: &str) {
        self.missing.retain(|m| m != name);
        self.raw.insert(name.to_owned(), value.as_bytes().to_vec());
    }

    /// The names that could be read.
    pub fn present(&self) -> impl Iterator<Item = &str> {
        self.raw.keys().map(String::as_str)
    }

    /// The names that could not be read.
    pub fn missing(&self) -> &[String] {
        &self.missing
    }

    /// The fingerprint for `product`: each component HMAC-keyed by the host's secret.
    pub fn fingerprint(&self, product: &ProductId) -> Result<Fingerprint, FingerprintError> {
        let mut fingerprint = Fingerprint::new();
        for (name, raw) in &self.raw {
            fingerprint.insert(name, ComponentHash::keyed(&self.secret, product, name, raw))?;
        }
        Ok(fingerprint)
    }

    /// What `tessera-hub fingerprint` shows: names, hashes, and what was missing.
    pub fn report(&self, product: &ProductId) -> Result<FingerprintReport, FingerprintError> {
        let fingerprint = self.fingerprint(product)?;
        Ok(FingerprintReport {
            product: product.clone(),
            components: fingerprint
                .components()
                .iter()
                .map(|(name, hash)| (name.clone(), hash.to_string()))
                .collect(),
            missing: self.missing.clone(),
        })
    }
}

/// A fingerprint as shown to people and scripts.
#[derive(Debug, Serialize)]
pub struct FingerprintReport {
    /// The product the components are hashed for.
    pub product: ProductId,
    /// Each component found, by name, with its hash.
    pub components: BTreeMap<String, String>,
    /// The components this host lacks.
    pub missing: Vec<String>,
}

fn read_trimmed(path: impl AsRef<Path>) -> Option<String> {
    let text = fs::read_to_string(path).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn machine_id() -> Option<String> {
    read_trimmed("/etc/machine-id").or_else(|| read_trimmed("/var/lib/dbus/machine-id"))
}

/// MAC addresses of NICs backed by a device (not lo, bridges, veth, tun), sorted, so that
/// the order of enumeration or a new virtual interface does not change the component.
fn physical_macs() -> Option<String> {
    let mut macs: Vec<String> = fs::read_dir("/sys/class/net")
        .ok()?
        .filter_map(Result::ok)
        .filter(|entry| entry.path().join("device").exists())
        .filter_map(|entry| read_trimmed(entry.path().join("address")))
        .filter(|mac| mac != "00:00:00:00:00:00")
        .collect();
    macs.sort();
    macs.dedup();
    (!macs.is_empty()).then(|| macs.join(","))
}

/// The UUID of the file system mounted at `/`, when it is a block device with one (not an
/// overlay in a container).
fn root_disk() -> Option<String> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").ok()?;
    // Fields: id parent major:minor root mount-point options ... - fstype source super-options
    let device = mountinfo.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(' ').collect();
        (fields.get(4) == Some(&"/")).then(|| fields.get(2).map(|d| (*d).to_owned()))?
    })?;
    for entry in fs::read_dir("/dev/disk/by-uuid").ok()?.filter_map(Result::ok) {
        if let Ok(target) = fs::canonicalize(entry.path())
            && let Some(name) = target.file_name()
            && read_trimmed(Path::new("/sys/class/block").join(name).join("dev")).as_deref()
                == Some(device.as_str())
        {
            return Some(entry.file_name().to_string_lossy().into_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_host_reads_the_same_twice_and_never_fails() {
        let product: ProductId = "acme-hub".parse().expect("product");
        let a = HostComponents::collect(HostSecret::from_bytes([1; 32]));
        let b = HostComponents::collect(HostSecret::from_bytes([1; 32]));
        assert_eq!(a.fingerprint(&product), b.fingerprint(&product));
        assert_eq!(a.present().count() + a.missing().len(), COMPONENTS.len());
        assert!(a.present().count() >= 1, "no component readable at all: {a:?}");
    }

    #[test]
    fn hub_commands_started_together_make_one_host_secret() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("host/host.secret");
        let secrets: Vec<[u8; 32]> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| *load_or_create_secret(&path).expect("secret").as_bytes()))
                .collect();
            handles.into_iter().map(|h| h.join().expect("thread")).collect()
        });
        assert!(secrets.windows(2).all(|w| w[0] == w[1]), "two secrets for one host");
        assert_eq!(load_or_create_secret(&path).expect("again").as_bytes(), &secrets[0]);
    }
}
