//! Where the hub reads its host: the raw components of the fingerprint.
//!
//! Raw values stay in this process: [`HostComponents::fingerprint`] hashes each with HMAC
//! keyed by the product id (tessera-core's [`ComponentHash`]) before anything is written or
//! sent. A component that cannot be read (a container without DMI, an unprivileged user, no
//! physical NIC) is listed as missing, never fatal.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde::Serialize;
use tessera_core::fingerprint::{ComponentHash, Fingerprint, FingerprintError};
use tessera_core::license::ProductId;

/// The components the hub tries to read, in order.
pub const COMPONENTS: [&str; 6] =
    ["machine_id", "product_uuid", "hostname", "cpu_model", "mac_addresses", "root_disk"];

/// Raw host facts, by component name, plus the names that could not be read.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct HostComponents {
    raw: BTreeMap<String, Vec<u8>>,
    missing: Vec<String>,
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
    /// Reads this host.
    pub fn collect() -> Self {
        let mut host = HostComponents::default();
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

    /// A host made of the given raw values (tests, and hosts described by hand).
    pub fn from_values<'a>(values: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut host = HostComponents::default();
        for (name, value) in values {
            host.raw.insert(name.to_owned(), value.as_bytes().to_vec());
        }
        host
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

    /// The fingerprint for `product`: each component HMAC-keyed by the product id.
    pub fn fingerprint(&self, product: &ProductId) -> Result<Fingerprint, FingerprintError> {
        let mut fingerprint = Fingerprint::new();
        for (name, raw) in &self.raw {
            fingerprint.insert(name, ComponentHash::of(product, name, raw))?;
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
    pub product: ProductId,
    pub components: BTreeMap<String, String>,
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
        let a = HostComponents::collect();
        let b = HostComponents::collect();
        assert_eq!(a.fingerprint(&product), b.fingerprint(&product));
        assert_eq!(a.present().count() + a.missing().len(), COMPONENTS.len());
        assert!(a.present().count() >= 1, "no component readable at all: {a:?}");
    }
}
