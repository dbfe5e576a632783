//! The freedesktop Secret Service over D-Bus, through the keyring project's store crate.

use std::sync::Arc;

use zeroize::Zeroizing;

use super::{Backend, KeystoreError, SERVICE, Secret};

/// The entry `tessera-runner`/`account` in the session's Secret Service.
pub struct Entry {
    entry: keyring_core::Entry,
}

impl Entry {
    pub fn open(account: &str) -> Result<Self, KeystoreError> {
        let store = store().map_err(|e| unavailable(&e))?;
        let entry = store.build(SERVICE, account, None).map_err(|e| unavailable(&e))?;
        Ok(Entry { entry })
    }

    pub fn load(&self) -> Result<Option<Secret>, KeystoreError> {
        match self.entry.get_secret() {
            Ok(bytes) => {
                let bytes = Zeroizing::new(bytes);
                Secret::from_bytes(&bytes)
                    .map(Some)
                    .ok_or(KeystoreError::Damaged { backend: Backend::SecretService.name() })
            }
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(unavailable(&e)),
        }
    }

    pub fn store(&self, secret: &Secret) -> Result<(), KeystoreError> {
        self.entry.set_secret(&secret.to_bytes()).map_err(|e| unavailable(&e))
    }

    pub fn delete(&self) -> Result<(), KeystoreError> {
        match self.entry.delete_credential() {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(e) => Err(unavailable(&e)),
        }
    }
}

fn store() -> keyring_core::Result<Arc<keyring_core::CredentialStore>> {
    #[cfg(all(
        feature = "secret-service",
        unix,
        not(any(target_os = "macos", target_os = "ios", target_os = "android"))
    ))]
    return Ok(zbus_secret_service_keyring_store::Store::new()?);
    #[allow(unreachable_code)]
    Err(keyring_core::Error::NotSupportedByStore(
        "secret-service is not built into this program (a platform without D-Bus, or a build \
         without the `secret-service` feature)"
            .to_owned(),
    ))
}

fn unavailable(e: &keyring_core::Error) -> KeystoreError {
    KeystoreError::unavailable(Backend::SecretService, e.to_string())
}
