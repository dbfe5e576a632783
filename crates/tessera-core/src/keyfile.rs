//! Secret key files: passphrase-encrypted (argon2id + XChaCha20-Poly1305) by default, plain
//! only on explicit request.
//!
//! A key file is text: `#` comment lines (a human note with the key id) and one key line,
//! either `TESSERA-SECRET-KEY-V1:…` (plain, see [`crate::keys`]) or
//! `TESSERA-ENCRYPTED-KEY-V1:` + base64url of
//! `m_cost ‖ t_cost ‖ p_cost` (u32 little-endian each) `‖ salt[16] ‖ nonce[24] ‖ sealed[56]`.
//! The sealed plaintext is the 40 bytes of the plain form (seed ‖ key id); the associated data
//! is the prefix and everything before the nonce, so the parameters cannot be swapped.
//!
//! Encrypting and decrypting (argon2, XChaCha20-Poly1305) need the crate's `key-encryption`
//! feature, which the issuing tools enable. Without it an encrypted file still parses, and a
//! service loading its own plain key ([`load_or_create_plain`]) tells one apart.

use std::fmt::Write as _;

#[cfg(feature = "key-encryption")]
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
#[cfg(feature = "key-encryption")]
use chacha20poly1305::aead::{Aead, Payload};
#[cfg(feature = "key-encryption")]
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

#[cfg(feature = "key-encryption")]
use crate::keys::fill_random;
use crate::keys::{
    ENCRYPTED_KEY_PREFIX, KeyError, PUBLIC_KEY_PREFIX, RandomError, SECRET_KEY_PREFIX, SigningKey,
};

/// Key files are tiny; anything bigger is not one.
pub const MAX_KEY_FILE_LEN: usize = 4096;

const HEADER_LEN: usize = 12 + 16;
const NONCE_LEN: usize = 24;
const SEALED_LEN: usize = 40 + 16;
const BLOB_LEN: usize = HEADER_LEN + NONCE_LEN + SEALED_LEN;

/// Argon2id cost used for new key files: 64 MiB, 3 passes, 1 lane (RFC 9106's second
/// recommendation). Stored in the file so that it can grow without breaking old files.
#[cfg(feature = "key-encryption")]
pub const DEFAULT_KDF: KdfParams = KdfParams { m_cost_kib: 64 * 1024, t_cost: 3, p_cost: 1 };

// Bounds on what a file may ask for, so that a hostile file cannot make us allocate 4 GiB.
#[cfg(feature = "key-encryption")]
const MAX_M_COST_KIB: u32 = 1024 * 1024;
#[cfg(feature = "key-encryption")]
const MAX_T_COST: u32 = 64;
#[cfg(feature = "key-encryption")]
const MAX_P_COST: u32 = 16;

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Passes.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

/// A passphrase. No `Debug`, zeroized on drop.
pub struct Passphrase(Zeroizing<String>);

impl Passphrase {
    /// Wraps a passphrase.
    pub fn new(passphrase: String) -> Self {
        Passphrase(Zeroizing::new(passphrase))
    }

    fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Constant-time equality (only the length can leak).
    pub fn matches(&self, other: &Passphrase) -> bool {
        use subtle::ConstantTimeEq;
        bool::from(self.as_bytes().ct_eq(other.as_bytes()))
    }
}

/// Why a key file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The file passes the size limit.
    #[error("key file is larger than {MAX_KEY_FILE_LEN} bytes: not a Tessera key file")]
    TooLarge,
    /// The file is not UTF-8 text.
    #[error("key file is not UTF-8 text: not a Tessera key file")]
    NotText,
    /// The file holds no key line.
    #[error("key file holds no key line")]
    NoKey,
    /// The file holds more than one key line.
    #[error("key file holds more than one key line")]
    SeveralKeys,
    /// A public key file where a secret key is needed.
    #[error("this is a public key file; a secret signing key is needed")]
    PublicKeyFile,
    /// A line the format does not know.
    #[error("unrecognized line in key file (line {line})")]
    UnknownLine {
        /// The line number.
        line: usize,
    },
    /// The key line does not decode.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The encrypted key is damaged or truncated.
    #[error("encrypted key is damaged or truncated")]
    BadEncryptedKey,
    /// The file asks for argon2 costs past the limits.
    #[error(
        "key file asks for unreasonable argon2 parameters ({m_cost_kib} KiB, {t_cost} passes, {p_cost} lanes)"
    )]
    UnreasonableKdf {
        /// Memory in KiB.
        m_cost_kib: u32,
        /// Passes.
        t_cost: u32,
        /// Lanes.
        p_cost: u32,
    },
    /// The passphrase does not decrypt the key.
    #[error("wrong passphrase (or the key file was altered)")]
    WrongPassphrase,
    /// An empty passphrase was given to encrypt with.
    #[error("an empty passphrase is not allowed; use --no-passphrase to store the key unencrypted")]
    EmptyPassphrase,
    /// The OS random generator failed.
    #[error(transparent)]
    Random(#[from] RandomError),
}

/// A key file as read from disk: plain keys are ready, encrypted ones need a passphrase.
pub enum KeyFile {
    /// A key stored in plain text.
    Plain(Box<SigningKey>),
    /// A key encrypted under a passphrase.
    Encrypted(EncryptedKey),
}

impl KeyFile {
    /// Reads key file bytes strictly: comments, blank lines and exactly one key line.
    pub fn parse(bytes: &[u8]) -> Result<KeyFile, KeyFileError> {
        if bytes.len() > MAX_KEY_FILE_LEN {
            return Err(KeyFileError::TooLarge);
        }
        let text = std::str::from_utf8(bytes).map_err(|_| KeyFileError::NotText)?;
        let mut found = None;
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if found.is_some() {
                return Err(KeyFileError::SeveralKeys);
            }
            let key = if line.starts_with(SECRET_KEY_PREFIX) {
                KeyFile::Plain(Box::new(SigningKey::from_secret_text(line)?))
            } else if let Some(encoded) = line.strip_prefix(ENCRYPTED_KEY_PREFIX) {
                KeyFile::Encrypted(EncryptedKey::decode(encoded)?)
            } else if line.starts_with(PUBLIC_KEY_PREFIX) {
                return Err(KeyFileError::PublicKeyFile);
            } else {
                return Err(KeyFileError::UnknownLine { line: index + 1 });
            };
            found = Some(key);
        }
        found.ok_or(KeyFileError::NoKey)
    }

    /// Whether a passphrase is needed.
    pub fn is_encrypted(&self) -> bool {
        matches!(self, KeyFile::Encrypted(_))
    }

    /// The signing key, decrypting with `passphrase` if the file is encrypted. The
    /// passphrase is asked for lazily so that plain files never prompt.
    #[cfg(feature = "key-encryption")]
    pub fn unlock(
        self,
        passphrase: impl FnOnce() -> Result<Passphrase, KeyFileError>,
    ) -> Result<SigningKey, KeyFileError> {
        match self {
            KeyFile::Plain(key) => Ok(*key),
            KeyFile::Encrypted(encrypted) => encrypted.decrypt(&passphrase()?),
        }
    }
}

/// An encrypted secret key, not yet decrypted.
pub struct EncryptedKey {
    // Read by `decrypt` only (feature `key-encryption`).
    #[cfg_attr(not(feature = "key-encryption"), allow(dead_code))]
    blob: [u8; BLOB_LEN],
}

impl EncryptedKey {
    fn decode(encoded: &str) -> Result<Self, KeyFileError> {
        let mut blob = [0u8; BLOB_LEN];
        let mut buf = vec![0u8; BLOB_LEN + 3];
        let n = URL_SAFE_NO_PAD
            .decode_slice(encoded.as_bytes(), &mut buf)
            .map_err(|_| KeyFileError::BadEncryptedKey)?;
        if n != BLOB_LEN {
            return Err(KeyFileError::BadEncryptedKey);
        }
        blob.copy_from_slice(&buf[..n]);
        Ok(EncryptedKey { blob })
    }

    #[cfg(feature = "key-encryption")]
    fn params(&self) -> KdfParams {
        let word = |i: usize| {
            let mut le = [0u8; 4];
            le.copy_from_slice(&self.blob[i * 4..i * 4 + 4]);
            u32::from_le_bytes(le)
        };
        KdfParams { m_cost_kib: word(0), t_cost: word(1), p_cost: word(2) }
    }

    /// The signing key, decrypted with `passphrase` (after checking the file's argon2 costs).
    #[cfg(feature = "key-encryption")]
    pub fn decrypt(&self, passphrase: &Passphrase) -> Result<SigningKey, KeyFileError> {
        let params = self.params();
        if params.m_cost_kib > MAX_M_COST_KIB
            || params.t_cost > MAX_T_COST
            || params.p_cost > MAX_P_COST
        {
            return Err(KeyFileError::UnreasonableKdf {
                m_cost_kib: params.m_cost_kib,
                t_cost: params.t_cost,
                p_cost: params.p_cost,
            });
        }
        let (header, rest) = self.blob.split_at(HEADER_LEN);
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let salt = &header[12..];
        let cipher = cipher_for(passphrase, salt, params)?;
        let aad = associated_data(header);
        let nonce = XNonce::try_from(nonce).map_err(|_| KeyFileError::BadEncryptedKey)?;
        let plain = Zeroizing::new(
            cipher
                .decrypt(&nonce, Payload { msg: sealed, aad: &aad })
                .map_err(|_| KeyFileError::WrongPassphrase)?,
        );
        let text = plain_text_of(&plain);
        Ok(SigningKey::from_secret_text(&text)?)
    }
}

#[cfg(feature = "key-encryption")]
fn associated_data(header: &[u8]) -> Vec<u8> {
    [ENCRYPTED_KEY_PREFIX.as_bytes(), header].concat()
}

#[cfg(feature = "key-encryption")]
fn plain_text_of(raw: &[u8]) -> Zeroizing<String> {
    let mut text = Zeroizing::new(String::with_capacity(80));
    text.push_str(SECRET_KEY_PREFIX);
    URL_SAFE_NO_PAD.encode_string(raw, &mut text);
    text
}

#[cfg(feature = "key-encryption")]
fn cipher_for(
    passphrase: &Passphrase,
    salt: &[u8],
    params: KdfParams,
) -> Result<XChaCha20Poly1305, KeyFileError> {
    let unreasonable = || KeyFileError::UnreasonableKdf {
        m_cost_kib: params.m_cost_kib,
        t_cost: params.t_cost,
        p_cost: params.p_cost,
    };
    let argon_params = Params::new(params.m_cost_kib, params.t_cost, params.p_cost, Some(32))
        .map_err(|_| unreasonable())?;
    let mut key = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params)
        .hash_password_into(passphrase.as_bytes(), salt, key.as_mut())
        .map_err(|_| unreasonable())?;
    XChaCha20Poly1305::new_from_slice(key.as_ref()).map_err(|_| KeyFileError::BadEncryptedKey)
}

/// The text of a key file holding `key` encrypted under `passphrase`.
#[cfg(feature = "key-encryption")]
pub fn encrypt(
    key: &SigningKey,
    passphrase: &Passphrase,
    params: KdfParams,
) -> Result<Zeroizing<String>, KeyFileError> {
    if passphrase.is_empty() {
        return Err(KeyFileError::EmptyPassphrase);
    }
    let mut blob = [0u8; BLOB_LEN];
    blob[0..4].copy_from_slice(&params.m_cost_kib.to_le_bytes());
    blob[4..8].copy_from_slice(&params.t_cost.to_le_bytes());
    blob[8..12].copy_from_slice(&params.p_cost.to_le_bytes());
    fill_random(&mut blob[12..HEADER_LEN + NONCE_LEN])?;
    let (header, rest) = blob.split_at_mut(HEADER_LEN);
    let cipher = cipher_for(passphrase, &header[12..], params)?;
    let nonce = XNonce::try_from(&rest[..NONCE_LEN]).map_err(|_| KeyFileError::BadEncryptedKey)?;
    let mut raw = Zeroizing::new([0u8; 40]);
    raw[..32].copy_from_slice(key.seed().as_ref());
    raw[32..].copy_from_slice(key.key_id().as_bytes());
    let sealed = cipher
        .encrypt(&nonce, Payload { msg: raw.as_ref(), aad: &associated_data(header) })
        .map_err(|_| KeyFileError::BadEncryptedKey)?;
    rest[NONCE_LEN..].copy_from_slice(&sealed);
    let mut text = Zeroizing::new(String::new());
    let _ = writeln!(
        text,
        "# Tessera secret signing key {}, encrypted with a passphrase (argon2id, XChaCha20-Poly1305).",
        key.key_id()
    );
    text.push_str(ENCRYPTED_KEY_PREFIX);
    URL_SAFE_NO_PAD.encode_string(blob, &mut text);
    text.push('\n');
    Ok(text)
}

/// The text of a key file holding `key` unencrypted.
pub fn plain(key: &SigningKey) -> Zeroizing<String> {
    let mut text = Zeroizing::new(String::new());
    let _ = writeln!(
        text,
        "# Tessera secret signing key {}, NOT encrypted: protect this file.",
        key.key_id()
    );
    text.push_str(&key.to_secret_text());
    text.push('\n');
    text
}

/// Why a service's own key file could not be loaded or made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceKeyError {
    /// The key file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The key file does not parse.
    #[error("{path}: {source}")]
    KeyFile {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        source: KeyFileError,
    },
    /// The key file is encrypted.
    #[error("{path} is encrypted; a service needs a plain key it can load unattended")]
    Encrypted {
        /// The file.
        path: std::path::PathBuf,
    },
    /// The OS random generator failed.
    #[error("cannot make a key: {0}")]
    Random(#[from] crate::keys::RandomError),
}

/// A service's own signing key (the portal's receipt key, a hub's key, a runner's key):
/// read from `path`, or made there (plain, mode 0600, never over an existing file) the first
/// time. Returns the key and whether it was just made.
pub fn load_or_create_plain(path: &std::path::Path) -> Result<(SigningKey, bool), ServiceKeyError> {
    use crate::fsutil::{WriteOptions, read_capped, write_atomic};
    let io = |source| ServiceKeyError::Io { path: path.to_owned(), source };
    match read_capped(path, MAX_KEY_FILE_LEN) {
        Ok(bytes) => match KeyFile::parse(&bytes) {
            Ok(KeyFile::Plain(key)) => Ok((*key, false)),
            Ok(KeyFile::Encrypted(_)) => Err(ServiceKeyError::Encrypted { path: path.to_owned() }),
            Err(source) => Err(ServiceKeyError::KeyFile { path: path.to_owned(), source }),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = SigningKey::generate()?;
            write_atomic(path, plain(&key).as_bytes(), WriteOptions::SECRET_NEW).map_err(io)?;
            Ok((key, true))
        }
        Err(e) => Err(io(e)),
    }
}

/// The text of a public key file for `key`: one comment and one key line, which is also a
/// valid trust file (see [`crate::trust`]).
pub fn public(key: &SigningKey) -> String {
    format!("# Tessera public key {}\n{}\n", key.key_id(), key.public_key())
}

#[cfg(all(test, feature = "key-encryption"))]
mod tests {
    use super::*;

    // Cheap parameters: the format, not argon2's cost, is under test here.
    const FAST: KdfParams = KdfParams { m_cost_kib: 64, t_cost: 1, p_cost: 1 };

    #[test]
    fn encrypted_key_files_round_trip_only_with_the_right_passphrase() {
        let key = SigningKey::from_seed(&[4u8; 32]);
        let text = encrypt(&key, &Passphrase::new("correct horse".into()), FAST).expect("encrypt");
        let file = KeyFile::parse(text.as_bytes()).expect("parse");
        assert!(file.is_encrypted());
        let again = file.unlock(|| Ok(Passphrase::new("correct horse".into()))).expect("unlock");
        assert_eq!(again.key_id(), key.key_id());

        let file = KeyFile::parse(text.as_bytes()).expect("parse");
        assert!(matches!(
            file.unlock(|| Ok(Passphrase::new("wrong".into()))),
            Err(KeyFileError::WrongPassphrase)
        ));
    }

    #[test]
    fn plain_key_files_never_ask_for_a_passphrase() {
        let key = SigningKey::from_seed(&[8u8; 32]);
        let file = KeyFile::parse(plain(&key).as_bytes()).expect("parse");
        let again = file.unlock(|| panic!("a plain key must not prompt")).expect("unlock");
        assert_eq!(again.key_id(), key.key_id());
    }

    #[test]
    fn wrong_files_are_named() {
        let key = SigningKey::from_seed(&[2u8; 32]);
        assert!(matches!(
            KeyFile::parse(public(&key).as_bytes()),
            Err(KeyFileError::PublicKeyFile)
        ));
        assert!(matches!(KeyFile::parse(b"# nothing\n"), Err(KeyFileError::NoKey)));
        assert!(matches!(KeyFile::parse(&[0xff, 0xfe]), Err(KeyFileError::NotText)));
        assert!(matches!(KeyFile::parse(&[b'#'; 5000]), Err(KeyFileError::TooLarge)));
        let twice = format!("{}{}", plain(&key).as_str(), plain(&key).as_str());
        assert!(matches!(KeyFile::parse(twice.as_bytes()), Err(KeyFileError::SeveralKeys)));
    }

    #[test]
    fn swapped_kdf_parameters_are_refused() {
        let key = SigningKey::from_seed(&[4u8; 32]);
        let pass = || Passphrase::new("pw".into());
        let text = encrypt(&key, &pass(), FAST).expect("encrypt");
        let line = text.lines().nth(1).expect("key line");
        let encoded = line.strip_prefix(ENCRYPTED_KEY_PREFIX).expect("prefix");
        let mut blob = URL_SAFE_NO_PAD.decode(encoded).expect("b64");
        blob[4] = 2; // t_cost 1 -> 2
        let tampered = format!("{ENCRYPTED_KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(&blob));
        let file = KeyFile::parse(tampered.as_bytes()).expect("parse");
        assert!(matches!(file.unlock(|| Ok(pass())), Err(KeyFileError::WrongPassphrase)));

        blob[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        let hostile = format!("{ENCRYPTED_KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(&blob));
        let file = KeyFile::parse(hostile.as_bytes()).expect("parse");
        assert!(matches!(file.unlock(|| Ok(pass())), Err(KeyFileError::UnreasonableKdf { .. })));
    }

    #[test]
    fn empty_passphrases_are_refused() {
        let key = SigningKey::from_seed(&[4u8; 32]);
        assert!(matches!(
            encrypt(&key, &Passphrase::new(String::new()), FAST),
            Err(KeyFileError::EmptyPassphrase)
        ));
    }
}
