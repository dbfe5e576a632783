//! The kernel keyring (keyutils): an entry in the user's persistent keyring
//! (persistent-keyring(7)), reached through this process's own keyring.
//!
//! Why not the session keyring: a process started by systemd, cron, a container's entry
//! point, `sudo` or an IDE may have no session keyring of its own, or one that does not hold
//! the persistent keyring; looking there first answered "no key" to the first lookup of such a
//! process. The persistent keyring is the user's, the same from every session, and linking it
//! into the process keyring (made on first use, gone with the process) changes nothing
//! outside this process. The kernel resets the persistent keyring's expiry at every lookup.

use linux_keyutils::{KeyError, KeyRing, KeyRingIdentifier};
use zeroize::Zeroizing;

use super::{Backend, KeystoreError};

/// One entry (a `user` key) in the persistent keyring.
pub struct Entry {
    description: String,
}

impl Entry {
    /// The entry named `description`, in this user's persistent keyring (reached once here,
    /// so that a keyring that cannot be used is said at once).
    pub fn open(description: &str) -> Result<Self, KeystoreError> {
        persistent()?;
        Ok(Entry { description: description.to_owned() })
    }

    /// The entry's bytes, or `None` when there is no such entry.
    pub fn read(&self) -> Result<Option<Zeroizing<Vec<u8>>>, KeystoreError> {
        match persistent()?.search(&self.description) {
            Ok(key) => match key.read_to_vec() {
                Ok(bytes) => Ok(Some(Zeroizing::new(bytes))),
                Err(e) if gone(&e) => Ok(None),
                Err(e) => Err(unavailable(&e)),
            },
            Err(e) if gone(&e) => Ok(None),
            Err(e) => Err(unavailable(&e)),
        }
    }

    /// Writes the entry: one `add_key`, which replaces the payload of an existing entry
    /// atomically (a reader sees the old bytes or the new).
    pub fn write(&self, bytes: &[u8]) -> Result<(), KeystoreError> {
        persistent()?.add_key(&self.description, bytes).map(|_| ()).map_err(|e| unavailable(&e))
    }

    /// Removes the entry; no entry is not an error.
    pub fn delete(&self) -> Result<(), KeystoreError> {
        match persistent()?.search(&self.description) {
            Ok(key) => match key.invalidate() {
                Ok(()) => Ok(()),
                Err(e) if gone(&e) => Ok(()),
                Err(e) => Err(unavailable(&e)),
            },
            Err(e) if gone(&e) => Ok(()),
            Err(e) => Err(unavailable(&e)),
        }
    }
}

/// The persistent keyring, linked into the calling thread's process keyring. At every use:
/// the kernel keeps a process keyring made after a thread started in that thread's
/// credentials only, and a keyring is "possessed" (its keys readable) only through one's own
/// keyrings; the call also resets the persistent keyring's expiry.
fn persistent() -> Result<KeyRing, KeystoreError> {
    KeyRing::get_persistent(KeyRingIdentifier::Process).map_err(|e| unavailable(&e))
}

/// The errors that mean "no such entry" (the kernel answers a key being invalidated or
/// expired with any of these).
fn gone(e: &KeyError) -> bool {
    matches!(e, KeyError::KeyDoesNotExist | KeyError::KeyRevoked | KeyError::KeyExpired)
}

fn unavailable(e: &KeyError) -> KeystoreError {
    let detail = match e {
        KeyError::PermissionDenied => {
            "the kernel refused the keyctl call (EPERM: blocked by a seccomp filter?)".to_owned()
        }
        KeyError::AccessDenied => "access to the persistent keyring was denied (EACCES)".to_owned(),
        KeyError::OperationNotSupported => {
            "this kernel has no persistent keyrings (EOPNOTSUPP)".to_owned()
        }
        KeyError::QuotaExceeded => "this user's key quota is full (EDQUOT)".to_owned(),
        other => format!("keyctl: {other:?}"),
    };
    KeystoreError::unavailable(Backend::Keyutils, detail)
}
