//! Ed25519 keys: the secret [`SigningKey`], the [`PublicKey`] and the short [`KeyId`] that
//! names a public key inside signed files.
//!
//! Text encodings carry distinct prefixes so a public key can never be pasted where a secret
//! one is expected, or the other way round:
//! - public: `tessera-pub-v1:` + base64url(32-byte key)
//! - secret: `TESSERA-SECRET-KEY-V1:` + base64url(32-byte seed ‖ 8-byte key id)
//!
//! The secret encoding repeats the key id so that a damaged seed is caught on load.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signer;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Prefix of a public key's text form.
pub const PUBLIC_KEY_PREFIX: &str = "tessera-pub-v1:";
/// Prefix of an unencrypted secret key's text form.
pub const SECRET_KEY_PREFIX: &str = "TESSERA-SECRET-KEY-V1:";
/// Prefix of a passphrase-encrypted secret key's text form (made and opened by the key-file
/// module); here, with the other prefixes, so that the public-key parser knows every secret.
pub const ENCRYPTED_KEY_PREFIX: &str = "TESSERA-ENCRYPTED-KEY-V1:";

const KEY_ID_CONTEXT: &[u8] = b"tessera key id v1\0";

/// Why a key could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Not text starting with the public key prefix.
    #[error("not a Tessera public key: expected text starting with `{PUBLIC_KEY_PREFIX}`")]
    NotAPublicKey,
    /// A secret key where a public key is expected.
    #[error("this is a secret key, not a public key: never hand out the secret key file")]
    SecretWherePublicExpected,
    /// Not text starting with the secret key prefix.
    #[error("not a Tessera secret key: expected text starting with `{SECRET_KEY_PREFIX}`")]
    NotASecretKey,
    /// A public key where a secret key is expected.
    #[error("this is a public key, not a secret key")]
    PublicWhereSecretExpected,
    /// The key is not canonical base64url of the right length.
    #[error("key encoding is not canonical base64url of the right length")]
    BadEncoding,
    /// The bytes are not a valid Ed25519 point.
    #[error("public key is not a valid Ed25519 point")]
    InvalidPoint,
    /// The secret key's checksum does not match.
    #[error("secret key is damaged: its checksum does not match")]
    Damaged,
    /// A key id that is not 16 upper-case hex digits.
    #[error("key id must be 16 upper-case hex digits, got {0:?}")]
    BadKeyId(String),
}

/// The operating system could not supply randomness.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the operating system's random number generator failed: {0}")]
pub struct RandomError(String);

/// Fills `buf` from the operating system's CSPRNG.
pub fn fill_random(buf: &mut [u8]) -> Result<(), RandomError> {
    getrandom::fill(buf).map_err(|e| RandomError(e.to_string()))
}

/// Eight bytes that name a public key: the first 8 bytes of
/// SHA-256("tessera key id v1\0" ‖ key), shown as 16 upper-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId([u8; 8]);

impl KeyId {
    /// The id of `key`.
    pub fn of(key: &PublicKey) -> Self {
        let digest =
            Sha256::new().chain_update(KEY_ID_CONTEXT).chain_update(key.as_bytes()).finalize();
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest[..8]);
        KeyId(id)
    }

    /// The id's 8 bytes.
    pub fn as_bytes(&self) -> &[u8; 8] {
        &self.0
    }

    /// The first 8 bytes of a SHA-256 digest, as an id (an id of something other than a
    /// key, made under its own domain: [`crate::machine::runner_place`]).
    pub(crate) fn from_digest(digest: &[u8; 32]) -> Self {
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest[..8]);
        KeyId(id)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode_upper(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

impl FromStr for KeyId {
    type Err = KeyError;

    /// Strict: exactly 16 upper-case hex digits, the form [`Display`](fmt::Display) writes.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || KeyError::BadKeyId(s.chars().take(40).collect());
        if s.len() != 16 || !s.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)) {
            return Err(bad());
        }
        let mut id = [0u8; 8];
        hex::decode_to_slice(s, &mut id).map_err(|_| bad())?;
        Ok(KeyId(id))
    }
}

serde_via_str!(KeyId);

/// An Ed25519 public key, already decompressed so that verification does no parsing.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    key: ed25519_dalek::VerifyingKey,
    id: KeyId,
}

impl PublicKey {
    /// A public key from its 32 bytes, if they are a valid Ed25519 point.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        let key =
            ed25519_dalek::VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::InvalidPoint)?;
        // A small-order key would let anyone forge signatures that verify under it.
        if key.is_weak() {
            return Err(KeyError::InvalidPoint);
        }
        Ok(Self::from_dalek(key))
    }

    fn from_dalek(key: ed25519_dalek::VerifyingKey) -> Self {
        let mut public = PublicKey { key, id: KeyId([0; 8]) };
        public.id = KeyId::of(&public);
        public
    }

    /// The key's 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.key.as_bytes()
    }

    /// The key's id.
    pub fn key_id(&self) -> KeyId {
        self.id
    }

    /// Checks `signature` over `message` (RFC 8032 verification; S must be canonical).
    ///
    /// Not `verify_strict`: its extra rule, refusing a small-order R, guards protocols that
    /// use signatures as identifiers; Tessera never does, and weak public keys are already
    /// refused in [`PublicKey::from_bytes`]. Skipping it saves a point decompression, about
    /// a fifth of the cost of every check (see BENCHMARKS.md).
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> Result<(), BadSignature> {
        use ed25519_dalek::Verifier;
        let signature = ed25519_dalek::Signature::from_bytes(signature);
        self.key.verify(message, &signature).map_err(|_| BadSignature)
    }
}

/// Verifies many signatures at once: one batch equation for all (about half the cost of
/// checking them one by one), and only when the batch fails, each on its own to find the
/// bad ones. Returns one answer per item, in order.
pub fn verify_many(items: &[(&PublicKey, &[u8], &[u8; 64])]) -> Vec<bool> {
    match items {
        [] => return Vec::new(),
        // A batch of one costs a third more than checking it alone (random scalar, one
        // more decompression): see BENCHMARKS.md.
        [(key, message, signature)] => return vec![key.verify(message, signature).is_ok()],
        _ => {}
    }
    let messages: Vec<&[u8]> = items.iter().map(|(_, m, _)| *m).collect();
    let signatures: Vec<ed25519_dalek::Signature> =
        items.iter().map(|(_, _, s)| ed25519_dalek::Signature::from_bytes(s)).collect();
    let keys: Vec<ed25519_dalek::VerifyingKey> = items.iter().map(|(k, _, _)| k.key).collect();
    if ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok() {
        return vec![true; items.len()];
    }
    items.iter().map(|(key, message, signature)| key.verify(message, signature).is_ok()).collect()
}

/// A signature did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("signature does not verify")]
pub struct BadSignature;

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PUBLIC_KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(self.as_bytes()))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({}, id {})", self, self.id)
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let Some(encoded) = s.strip_prefix(PUBLIC_KEY_PREFIX) else {
            return Err(
                if s.starts_with(SECRET_KEY_PREFIX) || s.starts_with(ENCRYPTED_KEY_PREFIX) {
                    KeyError::SecretWherePublicExpected
                } else {
                    KeyError::NotAPublicKey
                },
            );
        };
        let mut bytes = [0u8; 32];
        decode_exact(encoded, &mut bytes)?;
        PublicKey::from_bytes(&bytes)
    }
}

serde_via_str!(PublicKey);

/// Decodes canonical unpadded base64url into exactly `out.len()` bytes.
fn decode_exact(encoded: &str, out: &mut [u8]) -> Result<(), KeyError> {
    // A buffer one byte too long lets a too-long input show up as a wrong length.
    let mut buf = Zeroizing::new(vec![0u8; out.len() + 3]);
    let n = URL_SAFE_NO_PAD
        .decode_slice(encoded.as_bytes(), &mut buf)
        .map_err(|_| KeyError::BadEncoding)?;
    if n != out.len() {
        return Err(KeyError::BadEncoding);
    }
    out.copy_from_slice(&buf[..n]);
    Ok(())
}

/// A secret Ed25519 signing key. It has no `Debug` or `Display`, is zeroized on drop, and
/// its text form is only reachable through [`SigningKey::to_secret_text`].
pub struct SigningKey {
    key: ed25519_dalek::SigningKey,
    public: PublicKey,
}

impl SigningKey {
    /// A fresh key from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, RandomError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        fill_random(seed.as_mut())?;
        Ok(Self::from_seed(&seed))
    }

    /// The key made from a 32-byte seed (deterministic: tests and vectors).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        let key = ed25519_dalek::SigningKey::from_bytes(seed);
        let public = PublicKey::from_dalek(key.verifying_key());
        SigningKey { key, public }
    }

    /// The matching public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The id of the public key.
    pub fn key_id(&self) -> KeyId {
        self.public.key_id()
    }

    /// Signs `message` as is. Callers put a domain-separation context in front; see
    /// [`crate::armor`].
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    pub(crate) fn seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.key.to_bytes())
    }

    /// The unencrypted text form (`TESSERA-SECRET-KEY-V1:…`). Handle with care: this is the
    /// key itself.
    pub fn to_secret_text(&self) -> Zeroizing<String> {
        let mut raw = Zeroizing::new([0u8; 40]);
        raw[..32].copy_from_slice(self.seed().as_ref());
        raw[32..].copy_from_slice(self.key_id().as_bytes());
        let mut text = Zeroizing::new(String::with_capacity(80));
        text.push_str(SECRET_KEY_PREFIX);
        URL_SAFE_NO_PAD.encode_string(raw.as_ref(), &mut text);
        text
    }

    /// Reads the unencrypted text form.
    pub fn from_secret_text(text: &str) -> Result<Self, KeyError> {
        let Some(encoded) = text.strip_prefix(SECRET_KEY_PREFIX) else {
            return Err(if text.starts_with(PUBLIC_KEY_PREFIX) {
                KeyError::PublicWhereSecretExpected
            } else {
                KeyError::NotASecretKey
            });
        };
        let mut raw = Zeroizing::new([0u8; 40]);
        decode_exact(encoded, raw.as_mut())?;
        let mut seed = Zeroizing::new([0u8; 32]);
        seed.copy_from_slice(&raw[..32]);
        let key = SigningKey::from_seed(&seed);
        if key.key_id().as_bytes()[..] != raw[32..] {
            return Err(KeyError::Damaged);
        }
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms_round_trip_and_are_not_interchangeable() {
        let key = SigningKey::from_seed(&[7u8; 32]);
        let public_text = key.public_key().to_string();
        assert!(public_text.starts_with(PUBLIC_KEY_PREFIX));
        let public: PublicKey = public_text.parse().expect("public key");
        assert_eq!(&public, key.public_key());

        let secret_text = key.to_secret_text();
        let again = SigningKey::from_secret_text(&secret_text).expect("secret key");
        assert_eq!(again.key_id(), key.key_id());

        assert_eq!(secret_text.parse::<PublicKey>(), Err(KeyError::SecretWherePublicExpected));
        assert!(matches!(
            SigningKey::from_secret_text(&public_text),
            Err(KeyError::PublicWhereSecretExpected)
        ));
    }

    #[test]
    fn a_damaged_secret_key_is_caught() {
        let key = SigningKey::from_seed(&[9u8; 32]);
        let mut text = key.to_secret_text().to_string();
        let i = SECRET_KEY_PREFIX.len() + 3;
        let replacement = if &text[i..=i] == "A" { "B" } else { "A" };
        text.replace_range(i..=i, replacement);
        assert!(matches!(SigningKey::from_secret_text(&text), Err(KeyError::Damaged)));
    }

    #[test]
    fn key_ids_are_strict_hex() {
        let id = SigningKey::from_seed(&[1u8; 32]).key_id();
        assert_eq!(id.to_string().parse::<KeyId>(), Ok(id));
        assert!(id.to_string().to_lowercase().parse::<KeyId>().is_err());
        assert!("0123".parse::<KeyId>().is_err());
    }

    #[test]
    fn batches_find_the_one_bad_signature() {
        let keys: Vec<SigningKey> = (1..=5u8).map(|i| SigningKey::from_seed(&[i; 32])).collect();
        let messages: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 10]).collect();
        let mut signatures: Vec<[u8; 64]> =
            keys.iter().zip(&messages).map(|(k, m)| k.sign(m)).collect();
        let items = |sigs: &[[u8; 64]]| -> Vec<bool> {
            let list: Vec<(&PublicKey, &[u8], &[u8; 64])> = keys
                .iter()
                .zip(&messages)
                .zip(sigs)
                .map(|((k, m), s)| (k.public_key(), m.as_slice(), s))
                .collect();
            verify_many(&list)
        };
        assert_eq!(items(&signatures), vec![true; 5]);
        signatures[3][0] ^= 1;
        assert_eq!(items(&signatures), vec![true, true, true, false, true]);
        assert!(verify_many(&[]).is_empty());
        let one = |sig: &[u8; 64]| verify_many(&[(keys[0].public_key(), &messages[0], sig)]);
        assert_eq!(one(&signatures[0]), vec![true]);
        assert_eq!(one(&signatures[1]), vec![false]);
    }

    #[test]
    fn signatures_verify_only_for_the_signed_message() {
        let key = SigningKey::from_seed(&[3u8; 32]);
        let sig = key.sign(b"hello");
        assert!(key.public_key().verify(b"hello", &sig).is_ok());
        assert!(key.public_key().verify(b"hellO", &sig).is_err());
    }

    #[test]
    fn non_canonical_or_wrong_length_public_keys_are_refused() {
        let key = SigningKey::from_seed(&[5u8; 32]);
        let text = key.public_key().to_string();
        assert!(format!("{text}A").parse::<PublicKey>().is_err());
        assert!(text[..text.len() - 1].parse::<PublicKey>().is_err());
        assert!(format!("{text}=").parse::<PublicKey>().is_err());
        // The small-order identity point.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(PublicKey::from_bytes(&identity), Err(KeyError::InvalidPoint));
    }
}
