//! The binding rule: whether a presented host fingerprint is the host a license is bound to
//! (k of n components match, the rule of `tessera_core::fingerprint`).

use tessera_core::fingerprint::{Fingerprint, FingerprintBinding, VERSION_1};

/// A host's fingerprint as a call presents it: its current version, and (only while a
/// version 1 binding moves over) its version 1 fingerprint.
#[derive(Debug, Clone, Copy)]
pub struct Presented<'a> {
    /// The host's fingerprint now.
    pub fingerprint: &'a Fingerprint,
    /// Its version.
    pub version: u8,
    /// The host's version 1 fingerprint, while a version 1 binding moves over.
    pub previous: Option<&'a Fingerprint>,
}

/// Whether the presented host is the host of the stored binding (its fingerprint as
/// stored, JSON, of `stored_version`); otherwise how many components matched and how many
/// were needed. Fingerprints compare only within a version: a version 1 binding is checked
/// against the version 1 fingerprint the hub shows while moving over. A stored fingerprint
/// that does not parse matches nothing.
pub fn same_host(
    stored_json: &str,
    stored_version: i64,
    presented: Presented<'_>,
) -> Result<(), (usize, usize)> {
    let comparable = if stored_version == i64::from(presented.version) {
        presented.fingerprint
    } else if stored_version == i64::from(VERSION_1) {
        presented.previous.ok_or((0, 1))?
    } else {
        return Err((0, 1));
    };
    let stored: Fingerprint = serde_json::from_str(stored_json).map_err(|_| (0, 1))?;
    let binding = FingerprintBinding::new(stored).map_err(|_| (0, 1))?;
    binding.check(comparable).map_err(|m| (m.matched, m.needed))
}
