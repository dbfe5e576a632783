//! The hub's state directory: where the license, the hub key, the last receipt, the offline
//! activation, runner tokens and leases are kept.
//!
//! Every file is written atomically (write, fsync, rename) with mode 0600, so a crash leaves
//! either the old file or the new one. Read-modify-write of `state.json` happens under an
//! exclusive lock on `state.lock`, so the daemon and a command run by hand never lose each
//! other's update.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tessera_core::Status;
use tessera_core::UnixTime;
use tessera_core::fsutil::{WriteOptions, read_capped, write_atomic};
use tessera_core::keys::SigningKey;
use tessera_core::license::LicenseId;
use tessera_core::receipt::Nonce;

/// Largest state file read back (leases and tokens of many runners fit easily).
const MAX_STATE_LEN: usize = 4 * 1024 * 1024;

/// Why the state directory could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path} is damaged ({reason}); restore it from a backup or activate again")]
    Damaged { path: PathBuf, reason: String },
    #[error("this hub is not activated yet (no {path}); run `tessera-hub activate` first")]
    NotActivated { path: PathBuf },
}

impl StateError {
    fn io(path: &Path, source: io::Error) -> Self {
        StateError::Io { path: path.to_owned(), source }
    }
}

/// What the hub remembers between runs. Receipts and activations are kept as the signed
/// text and verified again on use: this file is not trusted more than the network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubState {
    /// The portal this hub pings, if it was activated online.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub portal: Option<String>,
    /// The vendor delegation of the portal's receipt key, as served by the portal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegation: Option<String>,
    /// The latest receipt that verified, whatever its status: the latest word counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<String>,
    /// The `portal_time` of the latest receipt that said `valid`: grace runs from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_good: Option<UnixTime>,
    /// When the last ping attempt failed, and why (cleared by the next receipt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<Failure>,
    /// The time of the last call sent, in milliseconds: each call's time must grow.
    #[serde(default)]
    pub last_call_ms: i64,
    /// The nonce of the offline activation request this hub is waiting for an answer to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_request: Option<Nonce>,
    /// The installed offline activation, signed by the vendor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation: Option<String>,
    /// Runner enrollment tokens: token id → SHA-256 of the whole token.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub runner_tokens: BTreeMap<String, String>,
    /// Runner slots held: runner name → lease end.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub leases: BTreeMap<String, UnixTime>,
}

/// A failed ping, remembered for `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Failure {
    pub at: UnixTime,
    pub reason: String,
}

/// The files of one hub.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

/// Holds `state.lock` while alive.
#[derive(Debug)]
pub struct Locked {
    _file: File,
}

impl StateDir {
    /// Opens (creating, mode 0700) the directory.
    pub fn open(root: &Path) -> Result<Self, StateError> {
        fs::create_dir_all(root).map_err(|e| StateError::io(root, e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(root, fs::Permissions::from_mode(0o700))
                .map_err(|e| StateError::io(root, e))?;
        }
        Ok(StateDir { root: root.to_owned() })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn license_path(&self) -> PathBuf {
        self.root.join("license.license")
    }

    pub fn trust_path(&self) -> PathBuf {
        self.root.join("trust.pub")
    }

    pub fn key_path(&self) -> PathBuf {
        self.root.join("hub.key")
    }

    fn state_path(&self) -> PathBuf {
        self.root.join("state.json")
    }

    /// Takes the directory's lock (blocking while another process holds it).
    pub fn lock(&self) -> Result<Locked, StateError> {
        let path = self.root.join("state.lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StateError::io(&path, e))?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| StateError::io(&path, e.into()))?;
        Ok(Locked { _file: file })
    }

    /// Reads `state.json`; a hub that never wrote one has the default state.
    pub fn load(&self) -> Result<HubState, StateError> {
        let path = self.state_path();
        match read_capped(&path, MAX_STATE_LEN) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| StateError::Damaged { path, reason: e.to_string() }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(HubState::default()),
            Err(e) => Err(StateError::io(&path, e)),
        }
    }

    /// Replaces `state.json` atomically. Call with the lock held.
    pub fn save(&self, _lock: &Locked, state: &HubState) -> Result<(), StateError> {
        let path = self.state_path();
        let bytes = serde_json::to_vec_pretty(state)
            .map_err(|e| StateError::Damaged { path: path.clone(), reason: e.to_string() })?;
        write_atomic(&path, &bytes, WriteOptions::SECRET_REPLACE)
            .map_err(|e| StateError::io(&path, e))
    }

    /// Load, change, save, under the lock.
    pub fn update<T>(
        &self,
        change: impl FnOnce(&mut HubState) -> T,
    ) -> Result<(T, HubState), StateError> {
        let lock = self.lock()?;
        let mut state = self.load()?;
        let out = change(&mut state);
        self.save(&lock, &state)?;
        Ok((out, state))
    }

    /// The license file installed at activation.
    pub fn license(&self) -> Result<Vec<u8>, StateError> {
        self.read_required(&self.license_path())
    }

    /// The trust set installed at activation.
    pub fn trust(&self) -> Result<Vec<u8>, StateError> {
        self.read_required(&self.trust_path())
    }

    fn read_required(&self, path: &Path) -> Result<Vec<u8>, StateError> {
        read_capped(path, MAX_STATE_LEN).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                StateError::NotActivated { path: path.to_owned() }
            } else {
                StateError::io(path, e)
            }
        })
    }

    /// Writes a public file (license, trust set) atomically, 0600 like everything here.
    pub fn put(&self, path: &Path, bytes: &[u8]) -> Result<(), StateError> {
        write_atomic(path, bytes, WriteOptions::SECRET_REPLACE).map_err(|e| StateError::io(path, e))
    }

    /// The hub's signing key; made (0600) the first time it is asked for.
    pub fn hub_key(&self) -> Result<SigningKey, StateError> {
        let path = self.key_path();
        match read_capped(&path, 4096) {
            Ok(bytes) => {
                let text = String::from_utf8(bytes).map_err(|_| StateError::Damaged {
                    path: path.clone(),
                    reason: "not text".into(),
                })?;
                SigningKey::from_secret_text(text.trim())
                    .map_err(|e| StateError::Damaged { path, reason: e.to_string() })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let key = SigningKey::generate().map_err(|e| StateError::Io {
                    path: path.clone(),
                    source: io::Error::other(e.to_string()),
                })?;
                let mut text = key.to_secret_text();
                text.push('\n');
                write_atomic(&path, text.as_bytes(), WriteOptions::SECRET_NEW)
                    .map_err(|e| StateError::io(&path, e))?;
                Ok(key)
            }
            Err(e) => Err(StateError::io(&path, e)),
        }
    }
}

/// The id the license file in the state directory claims, read without verification (for
/// messages only).
pub fn claimed_license_id(license: &[u8]) -> Option<LicenseId> {
    tessera_core::LicenseFile::parse(license).ok()?.unverified_claims().ok().map(|c| c.id)
}

/// The statuses a receipt may carry that stop the hub at once.
pub fn stops_at_once(status: Status) -> bool {
    !matches!(status, Status::Valid | Status::Grace)
}
