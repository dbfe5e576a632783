//! Host fingerprints and the one matching rule shared by the portal, the hub and the offline
//! path.
//!
//! A fingerprint is a set of named components (`machine_id`, `hostname`, …), each a keyed
//! hash of the raw value, so raw hardware ids never leave the host. A binding accepts a host
//! while at least `min_matches` of its components still match.
//!
//! Version 2 (current) keys each component's HMAC-SHA256 with a [`HostSecret`]: 32 random
//! bytes made on the host and kept there, outside the hub's state (so a hub reinstall keeps
//! it). Nobody without that secret — the vendor included, holding the portal's database —
//! can test a guess (a hostname, a CPU model, a MAC address) against a stored component.
//! Version 1 keyed the HMAC with the product id alone, which is public: a dictionary
//! recovers the hostname. Hubs compute version 2 only; version 1 stays here for the portal,
//! which still moves a binding made with it over (docs/FORMAT.md).

use std::collections::BTreeMap;
use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Deserializer, Serialize};
use sha2::Sha256;

use crate::claim::ProductId;

/// Most components a fingerprint may hold.
pub const MAX_COMPONENTS: usize = 32;

/// Why a fingerprint is not well formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FingerprintError {
    /// A component name is not acceptable.
    #[error("component name {0:?} is not 1-32 characters of a-z, 0-9 and _")]
    BadName(String),
    /// A component hash is not 64 lower-case hex digits.
    #[error("component hash is not 64 lower-case hex digits")]
    BadHash,
    /// Too few or too many components.
    #[error("a fingerprint holds 1 to {MAX_COMPONENTS} components, this has {0}")]
    BadCount(usize),
    /// The match threshold is out of range.
    #[error("min_matches must be between 1 and the number of components ({count}), got {min}")]
    BadThreshold {
        /// The threshold given.
        min: usize,
        /// The number of components.
        count: usize,
    },
}

/// The fingerprint version hubs compute and send now.
pub const VERSION: u8 = 2;

/// The first fingerprint version: what calls, requests and activations without a version
/// field mean.
pub const VERSION_1: u8 = 1;

/// A host's own fingerprint key: 32 random bytes that never leave the host. No `Debug`,
/// zeroized on drop.
pub struct HostSecret(zeroize::Zeroizing<[u8; 32]>);

impl HostSecret {
    /// A host secret from its 32 bytes (as read from the host's secret file).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        HostSecret(zeroize::Zeroizing::new(bytes))
    }

    /// A new random secret.
    pub fn generate() -> Result<Self, crate::keys::RandomError> {
        let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
        crate::keys::fill_random(&mut bytes[..])?;
        Ok(HostSecret(bytes))
    }

    /// The secret's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// The keyed hash of one host component.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ComponentHash([u8; 32]);

impl ComponentHash {
    /// Version 2: HMAC-SHA256(key = the host's secret, message = "tessera fingerprint v2" ‖
    /// 0 ‖ product id ‖ 0 ‖ name ‖ 0 ‖ raw value). The product keeps fingerprints of
    /// different products apart; the secret keeps them from being guessed.
    pub fn keyed(secret: &HostSecret, product: &ProductId, name: &str, raw: &[u8]) -> Self {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(b"tessera fingerprint v2\0");
        mac.update(product.as_str().as_bytes());
        mac.update(&[0]);
        mac.update(name.as_bytes());
        mac.update(&[0]);
        mac.update(raw);
        ComponentHash(mac.finalize().into_bytes().into())
    }

    /// Version 1: HMAC-SHA256(key = product id, message = name ‖ 0 ‖ raw value). Guessable
    /// by whoever knows the product: only for moving version 1 bindings over.
    pub fn of(product: &ProductId, name: &str, raw: &[u8]) -> Self {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(product.as_str().as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(name.as_bytes());
        mac.update(&[0]);
        mac.update(raw);
        ComponentHash(mac.finalize().into_bytes().into())
    }
}

impl fmt::Display for ComponentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for ComponentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ComponentHash({self})")
    }
}

impl std::str::FromStr for ComponentHash {
    type Err = FingerprintError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 64 || s.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(FingerprintError::BadHash);
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(s, &mut bytes).map_err(|_| FingerprintError::BadHash)?;
        Ok(ComponentHash(bytes))
    }
}

serde_via_str!(ComponentHash);

fn valid_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// A host's fingerprint: component name → keyed hash.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Fingerprint {
    components: BTreeMap<String, ComponentHash>,
}

impl Fingerprint {
    /// An empty fingerprint.
    pub fn new() -> Self {
        Fingerprint::default()
    }

    /// Adds (or replaces) a component.
    pub fn insert(&mut self, name: &str, hash: ComponentHash) -> Result<(), FingerprintError> {
        if !valid_name(name) {
            return Err(FingerprintError::BadName(name.chars().take(40).collect()));
        }
        if self.components.len() >= MAX_COMPONENTS && !self.components.contains_key(name) {
            return Err(FingerprintError::BadCount(MAX_COMPONENTS + 1));
        }
        self.components.insert(name.to_owned(), hash);
        Ok(())
    }

    /// The components by name.
    pub fn components(&self) -> &BTreeMap<String, ComponentHash> {
        &self.components
    }

    /// How many components it holds.
    pub fn len(&self) -> usize {
        self.components.len()
    }

    /// Whether it holds no component.
    pub fn is_empty(&self) -> bool {
        self.components.is_empty()
    }

    /// How many components of `self` appear with the same hash in `other`.
    pub fn matching(&self, other: &Fingerprint) -> usize {
        self.components
            .iter()
            .filter(|(name, hash)| other.components.get(*name) == Some(hash))
            .count()
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let components = BTreeMap::<String, ComponentHash>::deserialize(deserializer)?;
        if components.is_empty() || components.len() > MAX_COMPONENTS {
            return Err(serde::de::Error::custom(FingerprintError::BadCount(components.len())));
        }
        if let Some(bad) = components.keys().find(|n| !valid_name(n)) {
            return Err(serde::de::Error::custom(FingerprintError::BadName(bad.clone())));
        }
        Ok(Fingerprint { components })
    }
}

/// A host fingerprint does not match a binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("host matches {matched} of the {needed} fingerprint components needed")]
pub struct FingerprintMismatch {
    /// How many components matched.
    pub matched: usize,
    /// How many must match.
    pub needed: usize,
}

/// A license or activation bound to a host: its fingerprint then and how much of it must
/// still match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, try_from = "BindingWire")]
pub struct FingerprintBinding {
    components: Fingerprint,
    min_matches: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BindingWire {
    components: Fingerprint,
    min_matches: usize,
}

impl TryFrom<BindingWire> for FingerprintBinding {
    type Error = FingerprintError;

    fn try_from(wire: BindingWire) -> Result<Self, Self::Error> {
        FingerprintBinding::with_threshold(wire.components, wire.min_matches)
    }
}

impl FingerprintBinding {
    /// Binds `fingerprint` with the default rule: a strict majority of its components must
    /// still match, so one changed component (a new NIC, a renamed host) is tolerated while
    /// another machine is not.
    pub fn new(fingerprint: Fingerprint) -> Result<Self, FingerprintError> {
        let min = fingerprint.len() / 2 + 1;
        Self::with_threshold(fingerprint, min)
    }

    /// Binds `fingerprint` so that `min_matches` of its components must match.
    pub fn with_threshold(
        fingerprint: Fingerprint,
        min_matches: usize,
    ) -> Result<Self, FingerprintError> {
        let count = fingerprint.len();
        if count == 0 || count > MAX_COMPONENTS {
            return Err(FingerprintError::BadCount(count));
        }
        if min_matches == 0 || min_matches > count {
            return Err(FingerprintError::BadThreshold { min: min_matches, count });
        }
        Ok(FingerprintBinding { components: fingerprint, min_matches })
    }

    /// The bound fingerprint.
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.components
    }

    /// How many components must match.
    pub fn min_matches(&self) -> usize {
        self.min_matches
    }

    /// Accepts `host` when at least `min_matches` components still match.
    pub fn check(&self, host: &Fingerprint) -> Result<(), FingerprintMismatch> {
        let matched = self.components.matching(host);
        if matched >= self.min_matches {
            Ok(())
        } else {
            Err(FingerprintMismatch { matched, needed: self.min_matches })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(values: &[(&str, &str)]) -> Fingerprint {
        let product: ProductId = "acme-hub".parse().expect("product");
        let mut fp = Fingerprint::new();
        for (name, raw) in values {
            fp.insert(name, ComponentHash::of(&product, name, raw.as_bytes())).expect("insert");
        }
        fp
    }

    #[test]
    fn one_changed_component_matches_most_changed_do_not() {
        let original = host(&[("machine_id", "a"), ("hostname", "h"), ("cpu", "c"), ("mac", "m")]);
        let binding = FingerprintBinding::new(original.clone()).expect("binding");
        assert_eq!(binding.min_matches(), 3);
        assert!(binding.check(&original).is_ok());
        let one = host(&[("machine_id", "a"), ("hostname", "h2"), ("cpu", "c"), ("mac", "m")]);
        assert!(binding.check(&one).is_ok());
        let most = host(&[("machine_id", "b"), ("hostname", "h2"), ("cpu", "c"), ("mac", "m")]);
        assert_eq!(binding.check(&most), Err(FingerprintMismatch { matched: 2, needed: 3 }));
    }

    #[test]
    fn version_2_hashes_cannot_be_guessed_without_the_host_secret() {
        let product: ProductId = "acme-hub".parse().expect("product");
        let secret = HostSecret::from_bytes([7; 32]);
        let stored = ComponentHash::keyed(&secret, &product, "hostname", b"build-01");
        // The vendor's dictionary, with the true name in it, under every public key.
        for guess in ["build-01", "build-02", "localhost"] {
            assert_ne!(stored, ComponentHash::of(&product, "hostname", guess.as_bytes()));
            let public = HostSecret::from_bytes([0; 32]);
            assert_ne!(
                stored,
                ComponentHash::keyed(&public, &product, "hostname", guess.as_bytes())
            );
        }
        assert_eq!(stored, ComponentHash::keyed(&secret, &product, "hostname", b"build-01"));
        let other: ProductId = "other".parse().expect("product");
        assert_ne!(stored, ComponentHash::keyed(&secret, &other, "hostname", b"build-01"));
    }

    #[test]
    fn hashes_depend_on_the_product() {
        let a: ProductId = "a".parse().expect("product");
        let b: ProductId = "b".parse().expect("product");
        assert_ne!(
            ComponentHash::of(&a, "hostname", b"x"),
            ComponentHash::of(&b, "hostname", b"x")
        );
    }

    #[test]
    fn bindings_are_read_strictly() {
        let fp = host(&[("hostname", "h")]);
        let binding = FingerprintBinding::new(fp).expect("binding");
        let json = serde_json::to_string(&binding).expect("json");
        let again: FingerprintBinding = serde_json::from_str(&json).expect("parse");
        assert_eq!(again, binding);
        let zero = json.replace("\"min_matches\":1", "\"min_matches\":0");
        assert!(serde_json::from_str::<FingerprintBinding>(&zero).is_err());
        let upper = json.replace("hostname", "HOSTNAME");
        assert!(serde_json::from_str::<FingerprintBinding>(&upper).is_err());
    }
}
