//! Where the cache key lives: an OS keystore, never a plain file. Three backends:
//! the kernel keyring ([`kernel`]), the Secret Service over D-Bus (`secret_service`, through
//! the small client in `dbus`), and a
//! systemd credential ([`credential`]) that systemd decrypts for the service. The kernel
//! keyring and the Secret Service hold the 32-byte HMAC key together with the cache's
//! generation, so that an older copy of the cache file is recognised; a credential is
//! read-only while the service runs, so beside it the generation lives in the kernel keyring.

#[cfg(target_os = "linux")]
pub mod credential;
#[cfg(unix)]
mod dbus;
#[cfg(target_os = "linux")]
pub mod kernel;
#[cfg(unix)]
mod secret_service;

/// Without Unix sockets, no D-Bus: the backend is known by name and refused.
#[cfg(not(unix))]
mod secret_service {
    use super::{Backend, KeystoreError, Secret};

    pub enum Entry {}

    impl Entry {
        pub fn open(_account: &str) -> Result<Self, KeystoreError> {
            Err(KeystoreError::unavailable(Backend::SecretService, "this platform has no D-Bus"))
        }

        pub fn load(&self) -> Result<Option<Secret>, KeystoreError> {
            match *self {}
        }

        pub fn store(&self, _secret: &Secret) -> Result<(), KeystoreError> {
            match *self {}
        }

        pub fn delete(&self) -> Result<(), KeystoreError> {
            match *self {}
        }
    }
}

use std::sync::Mutex;

use zeroize::Zeroizing;

/// The keystore entry's service name; the account names the state directory.
pub const SERVICE: &str = "tessera-runner";

/// Which OS keystore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backend {
    /// The Linux kernel keyring (`keyctl`): the user's persistent keyring, gone after a
    /// reboot and after some days unused.
    Keyutils,
    /// The freedesktop Secret Service over D-Bus (gnome-keyring, KeePassXC): persistent.
    SecretService,
    /// A systemd credential (`systemd-creds encrypt`, TPM2-bound where a TPM exists), that
    /// systemd decrypts into `$CREDENTIALS_DIRECTORY` for the services that load it:
    /// persistent, for servers.
    SystemdCreds,
}

impl Backend {
    /// The backend's name, as `--keystore` and the installation record spell it.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Keyutils => "keyutils",
            Backend::SecretService => "secret-service",
            Backend::SystemdCreds => "systemd-creds",
        }
    }

    /// The Secret Service when a D-Bus session is there, else the kernel keyring: the
    /// default for a new installation only (an installed runner keeps its own, recorded in
    /// its state directory).
    pub fn default_for_this_session() -> Self {
        if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some_and(|v| !v.is_empty()) {
            Backend::SecretService
        } else {
            Backend::Keyutils
        }
    }

    /// Whether what a check reads belongs to the user who stored it (another user cannot see
    /// it): the key itself, or for a credential its generation in the user's kernel keyring
    /// (a product checking as another user than the refresh would fall generations behind).
    pub fn per_user(self) -> bool {
        matches!(self, Backend::Keyutils | Backend::SecretService | Backend::SystemdCreds)
    }

    pub(crate) fn fix(self) -> &'static str {
        match self {
            Backend::Keyutils => {
                "the kernel keyring must be usable by this process (containers often block \
                 the keyctl system call: allow it, or use --keystore systemd-creds or \
                 secret-service)"
            }
            Backend::SecretService => {
                "start and unlock a Secret Service (gnome-keyring-daemon --unlock, KeePassXC) in \
                 this D-Bus session, and set DBUS_SESSION_BUS_ADDRESS to it"
            }
            Backend::SystemdCreds => {
                "run it inside a systemd unit with LoadCredentialEncrypted=tessera-runner:PATH \
                 (docs/RUNNER.md, \"systemd units\"), or under `systemd-run --pipe --wait \
                 --property=LoadCredentialEncrypted=tessera-runner:PATH`"
            }
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Backend {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "keyutils" => Ok(Backend::Keyutils),
            "secret-service" => Ok(Backend::SecretService),
            "systemd-creds" => Ok(Backend::SystemdCreds),
            other => Err(format!(
                "unknown keystore {other:?}: keyutils, secret-service or systemd-creds"
            )),
        }
    }
}

/// The cache key and the generation of the cache it seals. No `Debug`: it is a secret.
#[derive(Clone)]
pub struct Secret {
    /// The 32-byte key that seals the cache.
    pub key: Zeroizing<[u8; 32]>,
    /// `None` where the generation is kept apart from the key and was lost (a systemd
    /// credential's generation after a reboot): the next write records it again.
    pub generation: Option<u64>,
}

impl Secret {
    /// The key and generation as one keystore entry (the kernel keyring, the Secret Service).
    pub(crate) fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut bytes = Zeroizing::new(Vec::with_capacity(40));
        bytes.extend_from_slice(&self.key[..]);
        bytes.extend_from_slice(&self.generation.unwrap_or(0).to_le_bytes());
        bytes
    }

    pub(crate) fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (key, generation) = bytes.split_at_checked(32)?;
        let mut k = Zeroizing::new([0u8; 32]);
        k.copy_from_slice(key);
        Some(Secret { key: k, generation: Some(u64::from_le_bytes(generation.try_into().ok()?)) })
    }
}

/// Why the keystore could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeystoreError {
    /// The keystore cannot be reached.
    #[error("the {backend} keystore is not available ({detail}); {fix}")]
    Unavailable {
        /// The keystore's name.
        backend: &'static str,
        /// What went wrong.
        detail: String,
        /// What to do about it.
        fix: &'static str,
    },
    /// The entry is there but holds no cache key.
    #[error("the {backend} keystore entry of this runner is not a cache key")]
    Damaged {
        /// The keystore's name.
        backend: &'static str,
    },
    /// The keystore cannot take this write (a credential is read-only while a unit runs).
    #[error("the {backend} keystore cannot store this key: {detail}")]
    ReadOnly {
        /// The keystore's name.
        backend: &'static str,
        /// Why it cannot.
        detail: String,
    },
}

impl KeystoreError {
    pub(crate) fn unavailable(backend: Backend, detail: impl Into<String>) -> Self {
        KeystoreError::Unavailable {
            backend: backend.name(),
            detail: detail.into(),
            fix: backend.fix(),
        }
    }
}

/// A place for the secret.
pub trait Keystore: Send + Sync {
    /// The secret, or `None` when there is no entry.
    fn load(&self) -> Result<Option<Secret>, KeystoreError>;
    /// Writes the secret, replacing any earlier one.
    fn store(&self, secret: &Secret) -> Result<(), KeystoreError>;
    /// Removes the entry; no entry is not an error.
    fn delete(&self) -> Result<(), KeystoreError>;
    /// The backend's name, for messages and the state directory's record.
    fn backend(&self) -> &'static str;
    /// Why a key that is not there is missing, for the status's reason.
    fn missing_key(&self) -> String {
        format!("the cache key is not in the {} keystore", self.backend())
    }
}

/// An OS keystore entry.
pub struct OsKeystore {
    backend: Backend,
    inner: Inner,
}

enum Inner {
    #[cfg(target_os = "linux")]
    Kernel(kernel::Entry),
    SecretService(secret_service::Entry),
    #[cfg(target_os = "linux")]
    Credential(credential::Entry),
}

impl OsKeystore {
    /// The entry of the runner account `account` in `backend`. Opening reaches the
    /// keystore (a D-Bus connection, the kernel's keyring), not the entry: a missing entry
    /// shows at [`Keystore::load`].
    pub fn open(backend: Backend, account: &str) -> Result<Self, KeystoreError> {
        let inner = match backend {
            #[cfg(target_os = "linux")]
            Backend::Keyutils => {
                Inner::Kernel(kernel::Entry::open(&format!("{SERVICE}:{account}"))?)
            }
            Backend::SecretService => Inner::SecretService(secret_service::Entry::open(account)?),
            #[cfg(target_os = "linux")]
            Backend::SystemdCreds => Inner::Credential(credential::Entry::open(account)?),
            #[allow(unreachable_patterns)]
            _ => {
                return Err(KeystoreError::unavailable(backend, "not available on this platform"));
            }
        };
        Ok(OsKeystore { backend, inner })
    }

    /// The same, allowed to write a new systemd credential (at install), as `out` says.
    #[cfg(target_os = "linux")]
    pub fn with_credential_out(mut self, out: credential::Out) -> Self {
        if let Inner::Credential(entry) = &mut self.inner {
            entry.set_out(out);
        }
        self
    }

    /// Whether an install can write its key here: fails before the hub is asked when it
    /// could not (a credential file exists and --force was not given).
    pub fn ready_to_install(&self) -> Result<(), KeystoreError> {
        match &self.inner {
            #[cfg(target_os = "linux")]
            Inner::Credential(entry) => entry.ready_to_install(),
            _ => Ok(()),
        }
    }

    /// The backend this keystore uses.
    pub fn backend_kind(&self) -> Backend {
        self.backend
    }
}

impl Keystore for OsKeystore {
    fn load(&self) -> Result<Option<Secret>, KeystoreError> {
        match &self.inner {
            #[cfg(target_os = "linux")]
            Inner::Kernel(entry) => match entry.read()? {
                Some(bytes) => Secret::from_bytes(&bytes)
                    .map(Some)
                    .ok_or(KeystoreError::Damaged { backend: self.backend.name() }),
                None => Ok(None),
            },
            Inner::SecretService(entry) => entry.load(),
            #[cfg(target_os = "linux")]
            Inner::Credential(entry) => entry.load(),
        }
    }

    fn store(&self, secret: &Secret) -> Result<(), KeystoreError> {
        match &self.inner {
            #[cfg(target_os = "linux")]
            Inner::Kernel(entry) => entry.write(&secret.to_bytes()),
            Inner::SecretService(entry) => entry.store(secret),
            #[cfg(target_os = "linux")]
            Inner::Credential(entry) => entry.store(secret),
        }
    }

    fn delete(&self) -> Result<(), KeystoreError> {
        match &self.inner {
            #[cfg(target_os = "linux")]
            Inner::Kernel(entry) => entry.delete(),
            Inner::SecretService(entry) => entry.delete(),
            #[cfg(target_os = "linux")]
            Inner::Credential(entry) => entry.delete(),
        }
    }

    fn backend(&self) -> &'static str {
        self.backend.name()
    }

    fn missing_key(&self) -> String {
        match self.backend {
            Backend::Keyutils => format!(
                "the cache key is not in the keyutils keystore of uid {} (the kernel keyring \
                 forgets it at a reboot, and after {} unused)",
                rustix::process::geteuid().as_raw(),
                kernel_expiry()
            ),
            Backend::SecretService => {
                "the cache key is not in the secret-service keystore (its entry was deleted)"
                    .to_owned()
            }
            Backend::SystemdCreds => "the cache key's credential is not loaded".to_owned(),
        }
    }
}

/// How long the kernel keeps an unused persistent keyring, for messages.
fn kernel_expiry() -> String {
    std::fs::read_to_string("/proc/sys/kernel/keys/persistent_keyring_expiry")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map(|secs| match secs {
            s if s % 86_400 == 0 => format!("{} days", s / 86_400),
            s => humantime::format_duration(std::time::Duration::from_secs(s)).to_string(),
        })
        .unwrap_or_else(|| "some days".to_owned())
}

/// A keystore in memory: for unit tests and for embedding code that brings its own.
#[derive(Default)]
pub struct MemoryKeystore(Mutex<Option<Secret>>);

impl Keystore for MemoryKeystore {
    fn load(&self) -> Result<Option<Secret>, KeystoreError> {
        Ok(self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone())
    }

    fn store(&self, secret: &Secret) -> Result<(), KeystoreError> {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(secret.clone());
        Ok(())
    }

    fn delete(&self) -> Result<(), KeystoreError> {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "memory"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_round_trip_and_short_entries_are_refused() {
        let secret = Secret { key: Zeroizing::new([7; 32]), generation: Some(42) };
        let back = Secret::from_bytes(&secret.to_bytes()).expect("round trip");
        assert_eq!((*back.key, back.generation), ([7; 32], Some(42)));
        assert!(Secret::from_bytes(&[1; 39]).is_none());
        assert!(Secret::from_bytes(&[1; 41]).is_none());
    }

    #[test]
    fn backend_names_round_trip() {
        for b in [Backend::Keyutils, Backend::SecretService, Backend::SystemdCreds] {
            assert_eq!(b.name().parse::<Backend>(), Ok(b));
        }
        assert!("floppy".parse::<Backend>().is_err());
    }
}
