//! A systemd credential: the server keystore that survives a reboot. At install the key is
//! encrypted with `systemd-creds encrypt` (bound to the TPM2 where there is one, else to the
//! host key `/var/lib/systemd/credential.secret`) into a file only this host can decrypt; at
//! run time systemd decrypts it for each unit that names it in `LoadCredentialEncrypted=` and
//! the runner reads `$CREDENTIALS_DIRECTORY/tessera-runner`.
//!
//! A credential is read-only while the unit runs, so the cache's generation (which grows at
//! every write of the cache) lives beside it in the kernel keyring: writable, and forgotten
//! at a reboot (docs/RUNNER.md says what a rollback can gain then).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use subtle::ConstantTimeEq;
use tessera_core::fsutil::{WriteOptions, read_capped, write_atomic};
use zeroize::Zeroizing;

use super::{Backend, KeystoreError, SERVICE, Secret, kernel};

/// The credential's name: in `LoadCredentialEncrypted=NAME:PATH` and embedded in the
/// encrypted file (systemd refuses a file under another name).
pub const NAME: &str = "tessera-runner";

/// The usual place of encrypted credentials (systemd's credential store directory).
pub const DEFAULT_PATH: &str = "/etc/credstore.encrypted/tessera-runner";

/// Where and how `install` writes a new credential.
#[derive(Debug, Clone)]
pub struct Out {
    /// The encrypted credential file.
    pub path: PathBuf,
    /// `systemd-creds encrypt --with-key=`: `auto` (TPM2 and host key where a TPM2 exists,
    /// else the host key), `host`, `tpm2`, `host+tpm2`.
    pub with_key: String,
    /// Replace an existing file.
    pub force: bool,
}

/// The credential this process was given, and the generation beside it.
pub struct Entry {
    /// The key systemd decrypted for this unit, if any.
    loaded: Option<Zeroizing<[u8; 32]>>,
    /// Why there is none, for the error.
    why_not: String,
    /// A key this process wrote as a new credential (install).
    written: Mutex<Option<Zeroizing<[u8; 32]>>>,
    generation: kernel::Entry,
    out: Option<Out>,
}

impl Entry {
    /// The credential systemd loaded for this process, if any, and its generation's entry in
    /// the kernel keyring.
    pub fn open(account: &str) -> Result<Self, KeystoreError> {
        let generation =
            kernel::Entry::open(&format!("{SERVICE}:generation-{account}")).map_err(|e| {
                KeystoreError::unavailable(
                    Backend::SystemdCreds,
                    format!("its generation is kept in the kernel keyring: {e}"),
                )
            })?;
        let (loaded, why_not) = match loaded_key()? {
            Ok(key) => (Some(key), String::new()),
            Err(why) => (None, why),
        };
        Ok(Entry { loaded, why_not, written: Mutex::new(None), generation, out: None })
    }

    /// Where an install writes the new credential.
    pub fn set_out(&mut self, out: Out) {
        self.out = Some(out);
    }

    /// An install without the credential loaded writes a new one: not over an existing
    /// file unless forced.
    pub fn ready_to_install(&self) -> Result<(), KeystoreError> {
        match &self.out {
            Some(out) if self.loaded.is_none() && !out.force && out.path.exists() => {
                Err(exists(&out.path))
            }
            _ => Ok(()),
        }
    }

    fn current(&self) -> Option<Zeroizing<[u8; 32]>> {
        let written = self.written.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        written.clone().or_else(|| self.loaded.clone())
    }

    /// The key systemd decrypted (or this process wrote), with its generation.
    pub fn load(&self) -> Result<Option<Secret>, KeystoreError> {
        let Some(key) = self.current() else {
            // Installing: no key yet, a new credential will be written.
            if self.out.is_some() {
                return Ok(None);
            }
            return Err(KeystoreError::unavailable(Backend::SystemdCreds, self.why_not.clone()));
        };
        let generation =
            match self.generation.read()? {
                Some(bytes) => Some(u64::from_le_bytes(bytes[..].try_into().map_err(|_| {
                    KeystoreError::Damaged { backend: Backend::SystemdCreds.name() }
                })?)),
                None => None,
            };
        Ok(Some(Secret { key, generation }))
    }

    /// Keeps the generation; writes the key as a new encrypted credential when installing.
    pub fn store(&self, secret: &Secret) -> Result<(), KeystoreError> {
        let same = self.current().is_some_and(|key| bool::from(key[..].ct_eq(&secret.key[..])));
        if !same {
            let Some(out) = &self.out else {
                return Err(KeystoreError::ReadOnly {
                    backend: Backend::SystemdCreds.name(),
                    detail: "the credential holds another key, and a credential is written only \
                             at install (`tessera-runner install --keystore systemd-creds`)"
                        .to_owned(),
                });
            };
            write_credential(&secret.key, out)?;
            *self.written.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
                Some(secret.key.clone());
        }
        match secret.generation {
            Some(generation) => self.generation.write(&generation.to_le_bytes()),
            None => Ok(()),
        }
    }

    /// Forgets the generation; the credential file is the operator's to remove.
    pub fn delete(&self) -> Result<(), KeystoreError> {
        self.generation.delete()
    }
}

/// The key from `$CREDENTIALS_DIRECTORY/tessera-runner`, or why there is none.
fn loaded_key() -> Result<Result<Zeroizing<[u8; 32]>, String>, KeystoreError> {
    let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY").filter(|d| !d.is_empty()) else {
        return Ok(Err(format!(
            "$CREDENTIALS_DIRECTORY is not set: this process was not given the {NAME} credential"
        )));
    };
    let path = Path::new(&dir).join(NAME);
    let bytes = match read_capped(&path, 64) {
        Ok(bytes) => Zeroizing::new(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Err(format!(
                "{} is missing: this unit does not load the {NAME} credential",
                path.display()
            )));
        }
        Err(e) => return Ok(Err(format!("{}: {e}", path.display()))),
    };
    let mut key = Zeroizing::new([0u8; 32]);
    if bytes.len() != key.len() {
        return Err(KeystoreError::Damaged { backend: Backend::SystemdCreds.name() });
    }
    key.copy_from_slice(&bytes);
    Ok(Ok(key))
}

/// Encrypts `key` with `systemd-creds` and writes it to `out.path` (0600, atomically).
fn write_credential(key: &[u8; 32], out: &Out) -> Result<(), KeystoreError> {
    let failed = |detail: String| KeystoreError::unavailable(Backend::SystemdCreds, detail);
    if !out.force && out.path.exists() {
        return Err(exists(&out.path));
    }
    let mut child = Command::new("systemd-creds")
        .args(["encrypt", &format!("--name={NAME}"), &format!("--with-key={}", out.with_key)])
        .args(["-", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            failed(format!("systemd-creds could not be run ({e}; Debian: apt-get install systemd)"))
        })?;
    let written = child.stdin.take().map(|mut stdin| stdin.write_all(key));
    let output = child.wait_with_output().map_err(|e| failed(format!("systemd-creds: {e}")))?;
    if !output.status.success() || !matches!(written, Some(Ok(()))) {
        let said = String::from_utf8_lossy(&output.stderr);
        let said = said.lines().last().unwrap_or("").trim();
        return Err(failed(format!("systemd-creds encrypt failed: {said}")));
    }
    if let Some(dir) = out.path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| failed(format!("{}: {e}", dir.display())))?;
    }
    write_atomic(&out.path, &output.stdout, WriteOptions::SECRET_REPLACE)
        .map_err(|e| failed(format!("{}: {e}", out.path.display())))
}

fn exists(path: &Path) -> KeystoreError {
    KeystoreError::ReadOnly {
        backend: Backend::SystemdCreds.name(),
        detail: format!(
            "{} exists: --force replaces it (then restart the units that load it)",
            path.display()
        ),
    }
}
