//! Which machine a runner's lease was granted to: a digest of the machine's id, so that a
//! runner's state directory (cache, key, keystore entry and all) copied to a second machine
//! is not valid there.
//!
//! The digest is keyed by the runner key's id: the hub learns no value it could match
//! against another runner's or another product's, and the raw machine id never leaves the
//! machine. A machine without an id (a minimal container) names none, and its leases are
//! bound to no machine (docs/SECURITY.md says what that leaves open).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::keys::KeyId;

/// The domain of the digest: never equal to a digest made for anything else.
const DOMAIN: &[u8] = b"tessera runner machine v1\n";

/// The domain of a runner's place id: never equal to any other digest.
const PLACE_DOMAIN: &[u8] = b"tessera runner place v1\0";

/// The id under which the portal countersigns a runner (`runner_countersign`): its key on
/// the machine its lease names, as 16 hex digits of a SHA-256. One key copied to several
/// machines, each leased by a patched hub, is several places, each counted; the portal
/// learns an opaque id, no more than a key id.
pub fn runner_place(runner_key: &KeyId, machine: Option<&MachineDigest>) -> KeyId {
    let mut hash = Sha256::new();
    hash.update(PLACE_DOMAIN);
    hash.update(runner_key.as_bytes());
    if let Some(machine) = machine {
        hash.update(machine.0);
    }
    KeyId::from_digest(&hash.finalize().into())
}

/// A machine's digest for one runner key: 64 lowercase hex digits.
#[derive(Clone, PartialEq, Eq)]
pub struct MachineDigest([u8; 32]);

impl MachineDigest {
    /// The digest of `machine_id` (as `/etc/machine-id` holds it: 32 hex digits) for the
    /// runner key `runner_key`; `None` when `machine_id` is not such an id (absent, empty,
    /// the uninitialized value), so that no machine is named by chance.
    pub fn of(machine_id: &str, runner_key: &KeyId) -> Option<Self> {
        let id = machine_id.trim();
        if id.len() != 32
            || !id.bytes().all(|b| b.is_ascii_hexdigit())
            || id.bytes().all(|b| b == b'0')
        {
            return None;
        }
        let mut hash = Sha256::new();
        hash.update(DOMAIN);
        hash.update(runner_key.to_string().as_bytes());
        hash.update(b"\n");
        hash.update(id.to_ascii_lowercase().as_bytes());
        Some(MachineDigest(hash.finalize().into()))
    }

    /// Whether two digests name one machine (in constant time).
    pub fn same(&self, other: &MachineDigest) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Display for MachineDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for MachineDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MachineDigest({self})")
    }
}

impl Serialize for MachineDigest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for MachineDigest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let mut bytes = [0u8; 32];
        if text.len() != 64 || text.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(serde::de::Error::custom("a machine digest is 64 lowercase hex digits"));
        }
        hex::decode_to_slice(&text, &mut bytes)
            .map_err(|_| serde::de::Error::custom("a machine digest is 64 lowercase hex digits"))?;
        Ok(MachineDigest(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SigningKey;

    #[test]
    fn a_runner_place_is_its_key_on_its_machine() {
        let key = SigningKey::from_seed(&[5; 32]).key_id();
        let other_key = SigningKey::from_seed(&[6; 32]).key_id();
        let here = MachineDigest::of("3d1219c7c4c5404aaa1f6d2a48adfda4", &key);
        let there = MachineDigest::of("0123456789abcdef0123456789abcdef", &key);
        let place = runner_place(&key, here.as_ref());
        assert_eq!(place, runner_place(&key, here.as_ref()));
        assert_ne!(place, runner_place(&key, there.as_ref()), "the same key elsewhere");
        assert_ne!(place, runner_place(&key, None), "the same key on no named machine");
        assert_ne!(place, runner_place(&other_key, here.as_ref()));
        assert_ne!(place, key, "never the key id itself");
    }

    #[test]
    fn one_machine_one_key_one_digest_and_nothing_names_no_machine() {
        let key = SigningKey::from_seed(&[5; 32]).key_id();
        let other_key = SigningKey::from_seed(&[6; 32]).key_id();
        let id = "3d1219c7c4c5404aaa1f6d2a48adfda4";
        let a = MachineDigest::of(id, &key).expect("an id");
        assert!(a.same(&MachineDigest::of(&format!("{id}\n"), &key).expect("trimmed")));
        assert!(a.same(&MachineDigest::of(&id.to_ascii_uppercase(), &key).expect("any case")));
        assert!(!a.same(&MachineDigest::of(id, &other_key).expect("an id")));
        assert!(!a.same(&MachineDigest::of("3d1219c7c4c5404aaa1f6d2a48adfda5", &key).expect("id")));
        for none in ["", "\n", "uninitialized\n", "00000000000000000000000000000000", "3d12"] {
            assert!(MachineDigest::of(none, &key).is_none(), "{none:?}");
        }
    }

    #[test]
    fn a_digest_reads_back_only_in_its_one_spelling() {
        let key = SigningKey::from_seed(&[5; 32]).key_id();
        let a = MachineDigest::of("3d1219c7c4c5404aaa1f6d2a48adfda4", &key).expect("an id");
        let json = serde_json::to_string(&a).expect("json");
        let back: MachineDigest = serde_json::from_str(&json).expect("reads back");
        assert!(a.same(&back));
        for bad in ["\"\"", "\"abc\"", &json.to_ascii_uppercase(), &json.replace('"', "\"zz")] {
            assert!(serde_json::from_str::<MachineDigest>(bad).is_err(), "{bad}");
        }
    }
}
