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
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tessera_core::UnixTime;
use tessera_core::activation::NamedReceipt;
use tessera_core::chain::Chain;
use tessera_core::fingerprint::Fingerprint;
use tessera_core::fsutil::{WriteOptions, read_capped, write_atomic};
use tessera_core::keys::{PublicKey, SigningKey};
use tessera_core::receipt::Nonce;

/// Largest state file read back (leases and tokens of many runners fit easily).
const MAX_STATE_LEN: usize = 4 * 1024 * 1024;

/// Why the state directory could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A file does not parse.
    #[error("{path} is damaged ({reason}); restore it from a backup or activate again")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The hub has no license yet.
    #[error("this hub is not activated yet (no {path}); run `tessera-hub activate` first")]
    NotActivated {
        /// The license file that is missing.
        path: PathBuf,
    },
    /// A write would pass the file's size limit.
    #[error("{path} would grow to {len} bytes, more than it may hold; nothing was written")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The size it would have.
        len: usize,
    },
}

impl StateError {
    fn io(path: &Path, source: io::Error) -> Self {
        StateError::Io { path: path.to_owned(), source }
    }
}

/// What the hub remembers between runs. Receipts and activations are kept as the signed
/// text and verified again on use: this file is not trusted more than the network, and
/// nothing unsigned in it can make the hub's standing better (docs/SECURITY.md).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubState {
    /// The portal this hub pings, if it was activated online.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub portal: Option<String>,
    /// Whether the portal was activated with `--insecure-http` (plain http to another
    /// machine): its pings may use it too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure_http: bool,
    /// The vendor delegation of the portal's receipt key, as served by the portal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegation: Option<String>,
    /// The latest receipt that verified, whatever its status: the latest word counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<String>,
    /// This host's fingerprint as sent in the call the kept receipt answers. The receipt
    /// names its digest, so the hub can tell that the receipt was earned on this host and
    /// not copied from another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<Fingerprint>,
    /// The latest time this hub has seen (its clock, receipts): a clock set far behind it is
    /// `clock_rollback`. Only ever makes the standing stricter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high_water: Option<UnixTime>,
    /// When the last ping attempt failed, and why (cleared by the next receipt); the reason
    /// is bounded ([`MAX_REASON_LEN`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<PingFailure>,
    /// The time of the last call sent, in milliseconds: each call's time must grow.
    #[serde(default)]
    pub last_call_ms: i64,
    /// The nonce of the offline activation request this hub is waiting for an answer to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_request: Option<Nonce>,
    /// The installed offline activation, signed by the vendor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation: Option<String>,
    /// Runner enrollment tokens not used yet: token id → SHA-256 of the whole token. A token
    /// enrolls one runner and is then gone.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub runner_tokens: BTreeMap<String, String>,
    /// Enrolled runners, by the id of their key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub runners: BTreeMap<String, RunnerRecord>,
    /// On a license with `runner_countersign`: for the place of each runner holding a lease
    /// (or whose lease lapsed) that `receipt` does not name, the newest receipt that did,
    /// with the delegation it was signed under, as signed; handed to that runner with its
    /// lease ([`crate::countersign`]). One receipt serves every place it is the newest for;
    /// each is dropped when its grace has ended.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub named_receipts: Vec<NamedReceipt>,
    /// Runner places the portal refused, by place id, with the time of the receipt that
    /// refused them: a receipt from before that time is never handed to the place (the
    /// refusal ends what came before it). Dropped once no receipt that old still serves.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub refused_places: BTreeMap<String, UnixTime>,
}

impl HubState {
    /// Raises the high-water mark to the latest of `times`.
    pub fn raise_high_water(&mut self, times: impl IntoIterator<Item = UnixTime>) {
        self.high_water = times.into_iter().chain(self.high_water).max();
    }

    /// The high-water mark after a fresh receipt (it echoed this call's nonce), whose
    /// portal time `present` is the signed present. A mark further ahead than the present
    /// plus `tolerance` was written by a clock that ran ahead and has since been set right
    /// (NTP): it comes back to the present, so an honest hub is not `clock_rollback` until
    /// its clock catches up with a mistake. Never below the present: a clock set back stays
    /// behind it.
    pub fn settle_high_water(&mut self, now: UnixTime, present: UnixTime, tolerance: Duration) {
        let ceiling = present.saturating_add(tolerance);
        let seen = self.high_water.map_or(now, |mark| mark.max(now));
        self.high_water = Some(seen.min(ceiling).max(present));
    }
}

/// An enrolled runner: its key is its identity, its label is for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunnerRecord {
    /// The runner's public key: its identity.
    pub key: PublicKey,
    /// The runner's label, for people.
    pub label: String,
    /// When it was enrolled.
    pub enrolled_at: UnixTime,
    /// The end of the slot it holds, if it holds one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<UnixTime>,
    /// Its lease calls' chain: a copy of this runner falls behind and is refused.
    #[serde(default)]
    pub chain: Chain,
    /// The time of its last call, in its milliseconds: a replayed call is refused.
    #[serde(default)]
    pub last_call_ms: i64,
    /// When a copy of this runner was noticed (it then gets no lease until the operator
    /// releases it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloned_at: Option<UnixTime>,
    /// The machine its lease was granted to, when the runner named one: while that lease
    /// runs, the key is refused from any other machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<tessera_core::machine::MachineDigest>,
}

impl RunnerRecord {
    /// Whether it holds a slot at `now`.
    pub fn holds_slot(&self, now: UnixTime) -> bool {
        self.lease_until.is_some_and(|end| end > now)
    }
}

/// The longest failure reason kept or logged: an answer from the network (a proxy's error
/// page, say) is cut to this many characters.
pub const MAX_REASON_LEN: usize = 300;

/// `text` cut to [`MAX_REASON_LEN`] characters of one line, control characters replaced.
pub fn bounded(text: &str) -> String {
    let mut out: String =
        text.chars().map(|c| if c.is_control() { ' ' } else { c }).take(MAX_REASON_LEN).collect();
    if text.chars().count() > MAX_REASON_LEN {
        out.push('…');
    }
    out
}

/// A failed ping, remembered for `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PingFailure {
    /// When the ping failed.
    pub at: UnixTime,
    /// Why, cut to one line.
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

    /// The state directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The license file (`license.license`).
    pub fn license_path(&self) -> PathBuf {
        self.root.join("license.license")
    }

    /// The vendor trust file (`trust.pub`).
    pub fn trust_path(&self) -> PathBuf {
        self.root.join("trust.pub")
    }

    /// The hub's signing key (`hub.key`).
    pub fn key_path(&self) -> PathBuf {
        self.root.join("hub.key")
    }

    /// The audit ledger heads received in receipts (`ledger-heads.jsonl`, [`crate::heads`]).
    pub fn ledger_heads_path(&self) -> PathBuf {
        self.root.join("ledger-heads.jsonl")
    }

    fn state_path(&self) -> PathBuf {
        self.root.join("state.json")
    }

    /// Where the host secret this hub was activated with lives (`host-secret.path`: the
    /// path, one line). Apart from `state.json`, so that a damaged state set aside keeps it
    /// and the repair re-activates with the same secret.
    fn host_secret_record(&self) -> PathBuf {
        self.root.join("host-secret.path")
    }

    /// The host secret file recorded at activation, if any.
    pub fn recorded_host_secret(&self) -> Option<PathBuf> {
        let bytes = read_capped(&self.host_secret_record(), 4096).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let line = text.lines().next()?.trim_end_matches('\r');
        (!line.is_empty()).then(|| PathBuf::from(line))
    }

    /// Records the host secret file this hub is activated with.
    pub fn record_host_secret(&self, path: &Path) -> Result<(), StateError> {
        let file = self.host_secret_record();
        let text = path.to_str().map(|p| format!("{p}\n")).ok_or_else(|| {
            StateError::io(&file, io::Error::new(io::ErrorKind::InvalidInput, "not UTF-8"))
        })?;
        let owner = fs::metadata(self.state_path()).ok();
        write_atomic(&file, text.as_bytes(), WriteOptions::SECRET_REPLACE)
            .map_err(|e| StateError::io(&file, e))?;
        keep_owner(&file, owner.as_ref())
    }

    /// Whether `state.json` belongs to the user this process runs as (true when there is
    /// none yet). A write replaces the file with one of the writer's own: root running a
    /// command that only reads would otherwise take the file from the hub's own user, whose
    /// daemon could then no longer read its state.
    pub fn owned_by_this_user(&self) -> bool {
        use std::os::unix::fs::MetadataExt;
        match fs::metadata(self.state_path()) {
            Ok(meta) => meta.uid() == rustix::process::geteuid().as_raw(),
            Err(e) => e.kind() == io::ErrorKind::NotFound,
        }
    }

    /// Takes the directory's lock (blocking while another process holds it).
    pub fn lock(&self) -> Result<Locked, StateError> {
        let path = self.root.join("state.lock");
        // 0600 like every file of the directory (docs/HUB.md), whatever the umask allows.
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| StateError::io(&path, e))?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| StateError::io(&path, e.into()))?;
        // A crash between writing a temporary file and renaming it leaves the file behind.
        tessera_core::fsutil::remove_stale_temp_files(&self.root, std::time::SystemTime::now());
        Ok(Locked { _file: file })
    }

    /// Reads `state.json`; a hub that never wrote one has the default state.
    pub fn load(&self) -> Result<HubState, StateError> {
        let path = self.state_path();
        match read_capped(&path, MAX_STATE_LEN) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| StateError::Damaged { path, reason: bounded(&e.to_string()) }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(HubState::default()),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => Err(StateError::Damaged {
                path,
                reason: format!("larger than {MAX_STATE_LEN} bytes"),
            }),
            Err(e) => Err(StateError::io(&path, e)),
        }
    }

    /// Replaces `state.json` atomically. Call with the lock held. A state that would not
    /// read back (larger than its reader takes) is never written.
    pub fn save(&self, _lock: &Locked, state: &HubState) -> Result<(), StateError> {
        let path = self.state_path();
        let bytes = serde_json::to_vec_pretty(state)
            .map_err(|e| StateError::Damaged { path: path.clone(), reason: e.to_string() })?;
        if bytes.len() > MAX_STATE_LEN {
            return Err(StateError::TooLarge { path, len: bytes.len() });
        }
        let owner = fs::metadata(&path).ok();
        write_atomic(&path, &bytes, WriteOptions::SECRET_REPLACE)
            .map_err(|e| StateError::io(&path, e))?;
        keep_owner(&path, owner.as_ref())
    }

    /// Moves a `state.json` that does not read back aside (`state.json.damaged`), so the
    /// hub can start over from the files that still hold (license, trust set, key). Returns
    /// where it went.
    pub fn set_aside_if_damaged(&self) -> Result<Option<PathBuf>, StateError> {
        let _lock = self.lock()?;
        match self.load() {
            Err(StateError::Damaged { path, .. }) => {
                let aside = path.with_extension("json.damaged");
                fs::rename(&path, &aside).map_err(|e| StateError::io(&path, e))?;
                Ok(Some(aside))
            }
            _ => Ok(None),
        }
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
        tessera_core::keyfile::load_or_create_plain(&path)
            .map(|(key, _)| key)
            .map_err(|e| StateError::Damaged { path, reason: e.to_string() })
    }
}

/// Gives a file root just rewrote back to the user who owned it (the hub's own user, whose
/// daemon must go on reading it): `sudo tessera-hub ping` must not take the state away.
fn keep_owner(path: &Path, before: Option<&fs::Metadata>) -> Result<(), StateError> {
    use std::os::unix::fs::MetadataExt;
    let Some(before) = before else { return Ok(()) };
    if !rustix::process::geteuid().is_root() || before.uid() == 0 {
        return Ok(());
    }
    std::os::unix::fs::chown(path, Some(before.uid()), Some(before.gid()))
        .map_err(|e| StateError::io(path, e))
}
