//! The runner's cache file, sealed with HMAC-SHA256 under the keystore's key.
//!
//! ```text
//! TESSERA RUNNER CACHE v2
//! <base64 of the JSON body>
//! <hex HMAC-SHA256(key, "tessera runner cache v2\0" ‖ JSON body)>
//! ```
//!
//! Any change to the file, a different key, or anything that does not parse is `tampered`.
//! The body's `generation` must equal the keystore's (docs/RUNNER.md): an older genuine
//! copy of the file is `tampered` too.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tessera_core::UnixTime;
use tessera_core::activation::LeaseClaims;
use tessera_core::delegation::DelegationClaims;
use tessera_core::keys::KeyId;
use tessera_core::receipt::Nonce;

const HEADER: &str = "TESSERA RUNNER CACHE v2";
const CONTEXT: &[u8] = b"tessera runner cache v2\0";
/// Largest cache file read.
pub const MAX_CACHE_LEN: usize = 256 * 1024;

/// What a runner keeps. Signed parts stay as their signed text and are verified again by
/// every check (license, receipt or activation); the delegation and the lease were verified
/// when they entered the cache and are kept as their verified claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cache {
    /// Grows with every write; the keystore holds the current one.
    pub generation: u64,
    /// The id of this runner's own key (`runner.key`): the lease must be for it.
    pub runner_key_id: KeyId,
    /// The runner's label, for people.
    pub label: String,
    /// The hub to refresh from (absent for a bundle installed by hand).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hub: Option<String>,
    /// The vendor trust set given at install.
    pub trust: String,
    /// The license file's text, as signed.
    pub license: String,
    /// The portal's latest receipt for the license, as signed (none for an offline activation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<String>,
    /// On a license with `runner_countersign`, the newest receipt that named this runner's
    /// place, when `receipt` does not (neither names nor refuses it), with the delegation it
    /// was signed under: its countersignature holds while it permits running
    /// (`crate::countersignature`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub named_receipt: Option<KeptReceipt>,
    /// The vendor's delegation of the portal's receipt key, verified when it entered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegation: Option<VerifiedDelegation>,
    /// The vendor's offline activation of the hub, as signed (an air-gapped site).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation: Option<String>,
    /// The id of the hub key that signed the lease (verified on entry); receipts and
    /// activations must name it. Kept as the id: decoding a key costs more than the check's
    /// other steps.
    pub hub_key_id: KeyId,
    /// The lease this runner holds, verified when it entered.
    pub lease: LeaseClaims,
    /// The portal time of the cached receipt: a newer bundle never brings an older one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt_time: Option<UnixTime>,
    /// The latest time this runner has seen: its clock and the portal's.
    pub high_water: UnixTime,
    /// When the cache was last written from a bundle.
    pub refreshed_at: UnixTime,
}

/// A delegation whose vendor signature was checked when it entered the cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifiedDelegation {
    /// The delegation's claims: the portal key, its validity.
    pub claims: DelegationClaims,
    /// The id of the vendor key whose signature was checked.
    pub vendor_key_id: KeyId,
}

/// A receipt kept for its countersignature of this runner's place, with the delegation it
/// verifies under (checked against the trust set when it entered, like `Cache::delegation`):
/// a delegation renewed since need not cover it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeptReceipt {
    /// The receipt, as signed.
    pub receipt: String,
    /// The vendor's delegation of the key that signed it, verified when it entered.
    pub delegation: VerifiedDelegation,
}

/// The cache file is not what this runner wrote.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the cache file was changed or is not this runner's ({0})")]
pub struct Tampered(pub &'static str);

/// Why a cache file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The seal does not match: the file was edited or belongs to another runner.
    #[error(transparent)]
    Tampered(#[from] Tampered),
}

fn mac(key: &[u8; 32], body: &[u8]) -> Hmac<Sha256> {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(CONTEXT);
    mac.update(body);
    mac
}

/// The sealed file's bytes.
pub fn seal(cache: &Cache, key: &[u8; 32]) -> Vec<u8> {
    let body = serde_json::to_vec(cache).expect("a cache serializes");
    let tag = mac(key, &body).finalize().into_bytes();
    format!("{HEADER}\n{}\n{}\n", STANDARD.encode(&body), hex::encode(tag)).into_bytes()
}

/// Opens a sealed file: every byte must be as written, under this key.
pub fn open(bytes: &[u8], key: &[u8; 32]) -> Result<Cache, OpenError> {
    let text = std::str::from_utf8(bytes).map_err(|_| Tampered("not text"))?;
    let mut lines = text.strip_suffix('\n').ok_or(Tampered("truncated"))?.split('\n');
    match lines.next() {
        Some(HEADER) => {}
        _ => return Err(Tampered("header").into()),
    }
    let body = lines.next().ok_or(Tampered("truncated"))?;
    let tag = lines.next().ok_or(Tampered("truncated"))?;
    if lines.next().is_some() {
        return Err(Tampered("trailing data").into());
    }
    let body = STANDARD.decode(body).map_err(|_| Tampered("body encoding"))?;
    let mut expected = [0u8; 32];
    if tag.len() != 64
        || hex::decode_to_slice(tag, &mut expected).is_err()
        || tag != tag.to_lowercase()
    {
        return Err(Tampered("seal encoding").into());
    }
    // Constant time (hmac's verify_slice).
    mac(key, &body).verify_slice(&expected).map_err(|_| Tampered("seal does not match"))?;
    Ok(serde_json::from_slice(&body).map_err(|_| Tampered("body"))?)
}

/// The nonce of the lease a cache file names, read without its seal: only for a cache that
/// cannot be opened (its key was lost), to tell the hub which lease this runner last held.
/// The hub judges that claim against its own record, so nothing is trusted here.
pub fn unchecked_lease_nonce(bytes: &[u8]) -> Option<Nonce> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut lines = text.lines();
    (lines.next()? == HEADER).then_some(())?;
    let body = STANDARD.decode(lines.next()?).ok()?;
    #[derive(Deserialize)]
    struct Held {
        lease: Lease,
    }
    #[derive(Deserialize)]
    struct Lease {
        nonce: Nonce,
    }
    serde_json::from_slice::<Held>(&body).ok().map(|held| held.lease.nonce)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::keys::SigningKey;

    pub(crate) fn sample() -> Cache {
        let hub = SigningKey::from_seed(&[1; 32]);
        let t: UnixTime = "2027-01-01".parse().expect("t");
        let runner = SigningKey::from_seed(&[2; 32]);
        Cache {
            generation: 3,
            runner_key_id: runner.key_id(),
            label: "r1".into(),
            hub: Some("http://127.0.0.1:7480".into()),
            trust: "tessera-pub-v1:…".into(),
            license: "-----BEGIN TESSERA LICENSE-----".into(),
            receipt: None,
            named_receipt: None,
            delegation: None,
            activation: None,
            hub_key_id: hub.key_id(),
            lease: LeaseClaims {
                license_id: "6f1c1f1e-3a5b-4c1d-9e2f-0a1b2c3d4e5f".parse().expect("id"),
                runner_key_id: runner.key_id(),
                label: "r1".into(),
                nonce: tessera_core::receipt::Nonce::from_bytes([4; 16]),
                issued_at: t,
                expires_at: t,
                machine: None,
            },
            receipt_time: None,
            high_water: t,
            refreshed_at: t,
        }
    }

    #[test]
    fn the_held_lease_is_named_without_the_key() {
        let cache = sample();
        let sealed = seal(&cache, &[9u8; 32]);
        assert_eq!(unchecked_lease_nonce(&sealed), Some(cache.lease.nonce));
        assert_eq!(unchecked_lease_nonce(b"not a cache"), None);
    }

    #[test]
    fn every_single_byte_change_is_tampered() {
        let cache = sample();
        let key = [9u8; 32];
        let sealed = seal(&cache, &key);
        assert_eq!(open(&sealed, &key), Ok(cache));
        assert!(open(&sealed, &[8u8; 32]).is_err(), "another key");
        for i in 0..sealed.len() {
            for delta in [1u8, 0x20, 0x80] {
                let mut bad = sealed.clone();
                bad[i] ^= delta;
                assert!(open(&bad, &key).is_err(), "byte {i} ^ {delta:#x} accepted");
            }
        }
        assert!(open(&sealed[..sealed.len() - 1], &key).is_err());
        let mut longer = sealed.clone();
        longer.extend_from_slice(b"x\n");
        assert!(open(&longer, &key).is_err());
    }
}
