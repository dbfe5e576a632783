//! The binding rule: whether a presented host fingerprint is the host a license is bound to
//! (k of n components match, the rule of `tessera_core::fingerprint`).

use tessera_core::fingerprint::{Fingerprint, FingerprintBinding};

/// Whether `presented` is the host of the stored binding (its fingerprint as stored, JSON);
/// otherwise how many components matched and how many were needed. A stored fingerprint
/// that does not parse matches nothing.
pub fn same_host(stored_json: &str, presented: &Fingerprint) -> Result<(), (usize, usize)> {
    let stored: Fingerprint = serde_json::from_str(stored_json).map_err(|_| (0, 1))?;
    let binding = FingerprintBinding::new(stored).map_err(|_| (0, 1))?;
    binding.check(presented).map_err(|m| (m.matched, m.needed))
}
