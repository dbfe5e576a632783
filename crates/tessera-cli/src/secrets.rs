//! Reading secret signing keys and the passphrases that protect them.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use tessera_core::fsutil::read_capped;
use tessera_core::keyfile::{KeyFile, KeyFileError, MAX_KEY_FILE_LEN, Passphrase};
use tessera_core::keys::SigningKey;

/// The environment variable a passphrase may come from (for scripts and CI).
pub const PASSPHRASE_ENV: &str = "TESSERA_PASSPHRASE";

/// Why a signing key could not be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyLoadError {
    #[error("cannot read key file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("key file {path}: {source}")]
    File { path: PathBuf, source: KeyFileError },
    #[error("a passphrase is needed: set {PASSPHRASE_ENV} or run on a terminal")]
    NoPassphrase,
    #[error("the two passphrases differ")]
    Mismatch,
    #[error("cannot read the passphrase from the terminal: {0}")]
    Prompt(std::io::Error),
}

fn from_env() -> Option<Passphrase> {
    std::env::var(PASSPHRASE_ENV).ok().map(Passphrase::new)
}

fn prompt(text: &str) -> Result<Passphrase, KeyLoadError> {
    if !std::io::stdin().is_terminal() {
        return Err(KeyLoadError::NoPassphrase);
    }
    rpassword::prompt_password(text).map(Passphrase::new).map_err(KeyLoadError::Prompt)
}

/// A passphrase for a new key: from the environment, or asked twice on the terminal.
pub fn new_passphrase() -> Result<Passphrase, KeyLoadError> {
    if let Some(p) = from_env() {
        return Ok(p);
    }
    let first = prompt("Passphrase for the new key: ")?;
    let second = prompt("Same passphrase again: ")?;
    if !first.matches(&second) {
        return Err(KeyLoadError::Mismatch);
    }
    Ok(first)
}

/// Reads and, if needed, decrypts the signing key at `path`. Plain key files never prompt.
pub fn load_signing_key(path: &Path) -> Result<SigningKey, KeyLoadError> {
    let bytes = read_capped(path, MAX_KEY_FILE_LEN)
        .map_err(|source| KeyLoadError::Read { path: path.to_owned(), source })?;
    let file_error = |source| KeyLoadError::File { path: path.to_owned(), source };
    let file = KeyFile::parse(&bytes).map_err(file_error)?;
    match file {
        KeyFile::Plain(key) => Ok(*key),
        KeyFile::Encrypted(encrypted) => {
            let passphrase = match from_env() {
                Some(p) => p,
                None => prompt(&format!("Passphrase for {}: ", path.display()))?,
            };
            encrypted.decrypt(&passphrase).map_err(file_error)
        }
    }
}

/// File names `tessera keygen` writes.
pub const SECRET_KEY_FILE: &str = "signing.key";
pub const PUBLIC_KEY_FILE: &str = "signing.pub";

/// Why a key pair could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeygenError {
    #[error("{path} already exists; use --force to replace it")]
    Exists { path: PathBuf },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    #[error(transparent)]
    Random(#[from] tessera_core::keys::RandomError),
}

/// The paths of a key pair just written.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeyPairFiles {
    pub key_id: String,
    pub public_key: String,
    pub secret_key_file: PathBuf,
    pub public_key_file: PathBuf,
    pub encrypted: bool,
}

/// Makes a key pair in `dir`: `signing.key` (0600, encrypted when a passphrase is given)
/// and `signing.pub`. Existing files are kept unless `force`.
pub fn write_key_pair(
    dir: &Path,
    passphrase: Option<&Passphrase>,
    force: bool,
) -> Result<(SigningKey, KeyPairFiles), KeygenError> {
    use tessera_core::fsutil::{WriteOptions, write_atomic};
    let secret_path = dir.join(SECRET_KEY_FILE);
    let public_path = dir.join(PUBLIC_KEY_FILE);
    if let Some(path) = [&secret_path, &public_path].into_iter().find(|p| !force && p.exists()) {
        return Err(KeygenError::Exists { path: path.clone() });
    }
    make_private_dir(dir).map_err(|source| KeygenError::Write { path: dir.to_owned(), source })?;
    let key = SigningKey::generate()?;
    let secret_text = match passphrase {
        Some(p) => tessera_core::keyfile::encrypt(&key, p, tessera_core::keyfile::DEFAULT_KDF)?,
        None => tessera_core::keyfile::plain(&key),
    };
    let write = |path: &Path, bytes: &[u8], options: WriteOptions| {
        write_atomic(path, bytes, WriteOptions { overwrite: force, ..options }).map_err(|source| {
            if source.kind() == std::io::ErrorKind::AlreadyExists {
                KeygenError::Exists { path: path.to_owned() }
            } else {
                KeygenError::Write { path: path.to_owned(), source }
            }
        })
    };
    write(&secret_path, secret_text.as_bytes(), WriteOptions::SECRET_NEW)?;
    write(&public_path, tessera_core::keyfile::public(&key).as_bytes(), WriteOptions::PUBLIC_NEW)?;
    let files = KeyPairFiles {
        key_id: key.key_id().to_string(),
        public_key: key.public_key().to_string(),
        secret_key_file: secret_path,
        public_key_file: public_path,
        encrypted: passphrase.is_some(),
    };
    Ok((key, files))
}

/// Makes `dir` (and its missing parents) for a secret key: 0700 whatever the umask, since the
/// directory lists the key files. A directory that already exists keeps its mode.
fn make_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    // The umask may have taken bits from 0700 (umask 077 leaves it; 0777 would not).
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// The environment variable the portal's admin API key may come from.
pub const API_KEY_ENV: &str = "TESSERA_API_KEY";

/// An API key file holds one line; anything longer is not a key.
const MAX_API_KEY_FILE_LEN: usize = 4096;

/// Why the portal's admin API key could not be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiKeyError {
    #[error(
        "an admin API key is needed: set {API_KEY_ENV} or give --api-key-file FILE (- for standard input)"
    )]
    Missing,
    #[error("cannot read the API key from {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} holds no API key")]
    Empty { path: PathBuf },
}

/// The portal's admin API key: from `file` (`-`: standard input) when given, otherwise from
/// the environment. Never from an argument, which other users could read in the process list.
pub fn api_key(file: Option<&Path>) -> Result<String, ApiKeyError> {
    let Some(path) = file else {
        return match std::env::var(API_KEY_ENV) {
            Ok(key) if !key.trim().is_empty() => Ok(key.trim().to_owned()),
            _ => Err(ApiKeyError::Missing),
        };
    };
    let read = |source| ApiKeyError::Read { path: path.to_owned(), source };
    let bytes = if path == Path::new("-") {
        use std::io::Read;
        let mut bytes = Vec::new();
        std::io::stdin().take(MAX_API_KEY_FILE_LEN as u64).read_to_end(&mut bytes).map_err(read)?;
        bytes
    } else {
        read_capped(path, MAX_API_KEY_FILE_LEN).map_err(read)?
    };
    let text = String::from_utf8(bytes).map_err(|_| {
        read(std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
    })?;
    match text.trim() {
        "" => Err(ApiKeyError::Empty { path: path.to_owned() }),
        key => Ok(key.to_owned()),
    }
}
