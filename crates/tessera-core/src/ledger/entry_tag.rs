//! Entry tags: how the portal tells the entries it wrote from entries written into its
//! database by someone else. A checkpoint vouches for whatever the database holds when it is
//! signed, so an insider who appends entries with valid hashes between two checkpoints would
//! get them signed. Each entry is therefore stored with an HMAC of its leaf hash under a key
//! derived from the portal's receipt key (which the database never holds), and the portal
//! signs no checkpoint over an entry whose tag is missing or wrong. Tags stay inside the
//! portal: exports do not carry them, and `tessera audit verify` does not need them.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::keys::SigningKey;

/// What the key is derived with: a tag key is never the signing key itself, nor any other
/// secret derived from it.
const CONTEXT: &[u8] = b"tessera ledger entry tag key v1";

/// The secret that tags entries. No `Debug` of its bytes; zeroized on drop.
pub struct EntryTagKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for EntryTagKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EntryTagKey(…)")
    }
}

impl EntryTagKey {
    /// The tag key of a portal whose receipt key is `key`: every instance and command holding
    /// that key tags alike.
    pub fn derive(key: &SigningKey) -> EntryTagKey {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.seed().as_ref())
            .expect("HMAC takes any key length");
        mac.update(CONTEXT);
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&mac.finalize().into_bytes());
        EntryTagKey(out)
    }

    /// A tag key given as is (several portal instances on one database share one).
    pub fn from_bytes(bytes: [u8; 32]) -> EntryTagKey {
        EntryTagKey(Zeroizing::new(bytes))
    }

    fn mac(&self, leaf: &[u8; 32]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(self.0.as_ref())
            .expect("HMAC takes any key length");
        mac.update(leaf);
        mac
    }

    /// The tag of the entry whose leaf hash is `leaf` (the leaf covers every field and the
    /// entry's number, so a tag moved to another entry or place does not fit).
    pub fn tag(&self, leaf: &[u8; 32]) -> [u8; 32] {
        self.mac(leaf).finalize().into_bytes().into()
    }

    /// Whether `tag` is the tag of `leaf` (compared in constant time).
    pub fn holds(&self, leaf: &[u8; 32], tag: &[u8]) -> bool {
        self.mac(leaf).verify_slice(tag).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_fits_its_leaf_under_its_key_only() {
        let key = EntryTagKey::derive(&SigningKey::from_seed(&[7; 32]));
        let other = EntryTagKey::derive(&SigningKey::from_seed(&[8; 32]));
        let leaf = [1u8; 32];
        let tag = key.tag(&leaf);
        assert!(key.holds(&leaf, &tag));
        assert!(!key.holds(&[2u8; 32], &tag), "a tag moved to another leaf");
        assert!(!other.holds(&leaf, &tag), "a tag made under another portal's key");
        assert!(!key.holds(&leaf, &tag[..31]), "a shortened tag");
        assert!(!key.holds(&leaf, &[]), "no tag");
        // Derived, not the key's seed nor its signature of the context.
        assert_ne!(key.0.as_ref(), &[7u8; 32]);
        assert_eq!(format!("{key:?}"), "EntryTagKey(…)");
    }

    #[test]
    fn the_same_receipt_key_tags_alike_in_every_process() {
        let a = EntryTagKey::derive(&SigningKey::from_seed(&[9; 32]));
        let b = EntryTagKey::derive(&SigningKey::from_seed(&[9; 32]));
        assert_eq!(a.tag(&[3; 32]), b.tag(&[3; 32]));
    }
}
