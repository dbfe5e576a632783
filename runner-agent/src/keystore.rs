//! Where the cache key lives: the OS keystore (kernel keyutils or the Secret Service on
//! Linux), never a file. The entry holds the 32-byte HMAC key and the cache's generation,
//! so that an older copy of the cache file is recognised.

use std::sync::{Arc, Mutex};

use zeroize::Zeroizing;

/// The keystore entry's service name; the account names the state directory.
pub const SERVICE: &str = "tessera-runner";

/// Which OS keystore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The Linux kernel keyring (`keyctl`): per user, gone after a reboot.
    Keyutils,
    /// The freedesktop Secret Service over D-Bus (gnome-keyring, KeePassXC): persistent.
    SecretService,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Keyutils => "keyutils",
            Backend::SecretService => "secret-service",
        }
    }

    /// The Secret Service when a D-Bus session is there, else the kernel keyring.
    pub fn default_for_this_session() -> Self {
        if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some_and(|v| !v.is_empty()) {
            Backend::SecretService
        } else {
            Backend::Keyutils
        }
    }

    fn fix(self) -> &'static str {
        match self {
            Backend::Keyutils => {
                "the process needs a session keyring: run it from a login session, under \
                 `keyctl session -`, or as a systemd service with KeyringMode=shared; or use \
                 --keystore secret-service"
            }
            Backend::SecretService => {
                "start and unlock a Secret Service (gnome-keyring-daemon --unlock, KeePassXC) in \
                 this D-Bus session; or use --keystore keyutils"
            }
        }
    }
}

impl std::str::FromStr for Backend {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "keyutils" => Ok(Backend::Keyutils),
            "secret-service" => Ok(Backend::SecretService),
            other => Err(format!("unknown keystore {other:?}: keyutils or secret-service")),
        }
    }
}

/// The cache key and the generation of the cache it seals. No `Debug`: it is a secret.
#[derive(Clone)]
pub struct Secret {
    pub key: Zeroizing<[u8; 32]>,
    pub generation: u64,
}

impl Secret {
    fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut bytes = Zeroizing::new(Vec::with_capacity(40));
        bytes.extend_from_slice(&self.key[..]);
        bytes.extend_from_slice(&self.generation.to_le_bytes());
        bytes
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (key, generation) = bytes.split_at_checked(32)?;
        let mut k = Zeroizing::new([0u8; 32]);
        k.copy_from_slice(key);
        Some(Secret { key: k, generation: u64::from_le_bytes(generation.try_into().ok()?) })
    }
}

/// Why the keystore could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeystoreError {
    #[error("the {backend} keystore is not available ({detail}); {fix}")]
    Unavailable { backend: &'static str, detail: String, fix: &'static str },
    #[error("the {backend} keystore entry of this runner is not a cache key")]
    Damaged { backend: &'static str },
}

/// A place for the secret.
pub trait Keystore: Send + Sync {
    fn load(&self) -> Result<Option<Secret>, KeystoreError>;
    fn store(&self, secret: &Secret) -> Result<(), KeystoreError>;
    fn delete(&self) -> Result<(), KeystoreError>;
    /// The backend's name, for messages.
    fn backend(&self) -> &'static str;
}

/// An OS keystore entry.
pub struct OsKeystore {
    backend: Backend,
    entry: keyring_core::Entry,
}

impl OsKeystore {
    /// The entry `tessera-runner`/`account` in `backend`.
    pub fn open(backend: Backend, account: &str) -> Result<Self, KeystoreError> {
        let store = store(backend).map_err(|e| unavailable(backend, &e))?;
        let entry = store.build(SERVICE, account, None).map_err(|e| unavailable(backend, &e))?;
        Ok(OsKeystore { backend, entry })
    }
}

fn store(backend: Backend) -> keyring_core::Result<Arc<keyring_core::CredentialStore>> {
    match backend {
        #[cfg(target_os = "linux")]
        Backend::Keyutils => Ok(linux_keyutils_keyring_store::Store::new()?),
        #[cfg(all(unix, not(any(target_os = "macos", target_os = "ios", target_os = "android"))))]
        Backend::SecretService => Ok(zbus_secret_service_keyring_store::Store::new()?),
        #[allow(unreachable_patterns)]
        _ => Err(keyring_core::Error::NotSupportedByStore(format!(
            "{} is not available on this platform",
            backend.name()
        ))),
    }
}

fn unavailable(backend: Backend, e: &keyring_core::Error) -> KeystoreError {
    KeystoreError::Unavailable {
        backend: backend.name(),
        detail: e.to_string(),
        fix: backend.fix(),
    }
}

impl Keystore for OsKeystore {
    fn load(&self) -> Result<Option<Secret>, KeystoreError> {
        match self.entry.get_secret() {
            Ok(bytes) => {
                let bytes = Zeroizing::new(bytes);
                Secret::from_bytes(&bytes)
                    .map(Some)
                    .ok_or(KeystoreError::Damaged { backend: self.backend.name() })
            }
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(unavailable(self.backend, &e)),
        }
    }

    fn store(&self, secret: &Secret) -> Result<(), KeystoreError> {
        self.entry.set_secret(&secret.to_bytes()).map_err(|e| unavailable(self.backend, &e))
    }

    fn delete(&self) -> Result<(), KeystoreError> {
        match self.entry.delete_credential() {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(e) => Err(unavailable(self.backend, &e)),
        }
    }

    fn backend(&self) -> &'static str {
        self.backend.name()
    }
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
        let secret = Secret { key: Zeroizing::new([7; 32]), generation: 42 };
        let back = Secret::from_bytes(&secret.to_bytes()).expect("round trip");
        assert_eq!((*back.key, back.generation), ([7; 32], 42));
        assert!(Secret::from_bytes(&[1; 39]).is_none());
        assert!(Secret::from_bytes(&[1; 41]).is_none());
    }
}
