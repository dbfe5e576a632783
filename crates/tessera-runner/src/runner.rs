//! A runner's operations: install (from the hub, or air-gapped from a bundle that answers the
//! runner's own request file), refresh, check. The same calls the `tessera-runner` binary
//! makes, for the vendor's runner code to call directly.
//!
//! A runner's identity is its own Ed25519 key, made at install and kept in `runner.key`
//! (mode 0600) in its state directory, so a reboot that empties the kernel keyring does not
//! cost it its identity. It signs every call to its hub; the hub leases a slot to that key,
//! and the lease must answer the runner's own fresh nonce: an old bundle cannot be
//! installed again, with or without the keystore entry. A cached receipt or lease is never
//! replaced by an older one. Install, refresh and the writes of `check` take the state
//! directory's lock (`cache.lock`), so none of them overwrites another's newer cache.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tessera_core::Status;
use tessera_core::activation::{Bundle, RunnerAction, RunnerCall, sign_runner_call};
use tessera_core::fsutil::{WriteOptions, read_capped, write_atomic};
use tessera_core::keyfile;
use tessera_core::keys::{KeyId, SigningKey};
use tessera_core::receipt::Nonce;
use tessera_core::time::Clock;
use tessera_core::trust::TrustSet;

use crate::cache::Cache;
use crate::check::{self, Decision, LeaseInput};
use crate::countersignature;
use crate::installation::{self, Installation};
use crate::keystore::{Keystore, KeystoreError, Secret};
use crate::machine::Machine;

mod error;
#[cfg(feature = "refresh")]
mod refresh;
mod state;

pub use error::RunnerError;
use error::io_error;

use state::{Found, KeySource, Locked};

/// The high-water mark is written at most this often by `check`: a durable write per check
/// would cost more than the check itself.
const HIGH_WATER_STEP: Duration = Duration::from_secs(60);

/// The request file this runner is waiting for an answer to (air-gapped install).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Pending {
    nonce: Nonce,
}

/// What a lease must be to enter the cache: for this runner's key, answering this nonce.
struct Expected {
    key_id: KeyId,
    nonce: Nonce,
}

/// One runner: its state directory, its keystore entry, its clock.
pub struct Runner {
    dir: PathBuf,
    keystore: Arc<dyn Keystore>,
    clock: Arc<dyn Clock>,
    tolerance: Duration,
    machine: Machine,
}

impl Runner {
    /// A runner with its state in `dir`, its key in `keystore`, checking at `clock`'s time,
    /// on this machine.
    pub fn new(dir: &Path, keystore: Arc<dyn Keystore>, clock: Arc<dyn Clock>) -> Self {
        Runner {
            dir: dir.to_owned(),
            keystore,
            clock,
            tolerance: check::DEFAULT_TOLERANCE,
            machine: Machine::this_host(),
        }
    }

    /// The machine the runner says it runs on (tests; a runner is on this host otherwise).
    pub fn on_machine(mut self, machine: Machine) -> Self {
        self.machine = machine;
        self
    }

    /// How far the clock may fall behind the high-water mark before `clock_rollback`.
    pub fn with_tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// The cache file (`cache` in the state directory).
    pub fn cache_path(&self) -> PathBuf {
        self.dir.join("cache")
    }

    fn enrollment_path(&self) -> PathBuf {
        self.dir.join("enrollment.json")
    }

    fn pending_path(&self) -> PathBuf {
        self.dir.join("request.json")
    }

    /// This runner's key file.
    pub fn key_path(&self) -> PathBuf {
        self.dir.join("runner.key")
    }

    /// The keystore account for a state directory: one key per runner installation.
    pub fn account(dir: &Path) -> String {
        use sha2::{Digest, Sha256};
        let path = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
        let digest = Sha256::digest(path.to_string_lossy().as_bytes());
        format!("cache-{}", hex::encode(&digest[..8]))
    }

    /// This runner's identity: its key, made the first time.
    pub fn runner_key(&self) -> Result<SigningKey, RunnerError> {
        keyfile::load_or_create_plain(&self.key_path())
            .map(|(key, _)| key)
            .map_err(|e| RunnerError::Input(format!("runner key: {e}")))
    }

    /// Where a runner decides: offline, from the cache, at the clock's time.
    pub fn check(&self) -> Result<Decision, RunnerError> {
        self.check_at(self.clock.now())
    }

    /// The decision at `at` (a time the caller chose, e.g. a test's); only this runner's own
    /// clock is ever written to the state as the high-water mark, so a time passed in for a
    /// test never turns later real checks into `clock_rollback`.
    pub fn check_at(&self, at: tessera_core::UnixTime) -> Result<Decision, RunnerError> {
        let (cache, secret) = match self.open(false)? {
            Found::Usable(cache, secret) => (*cache, secret),
            Found::Unusable(decision, _) => return Ok(decision),
        };
        let decision = check::decide(&cache, at, self.tolerance, &self.machine);
        let real = self.clock.now();
        if real > cache.high_water.saturating_add(HIGH_WATER_STEP)
            || secret.generation != Some(cache.generation)
        {
            // Best effort: the answer is made; a process that may not write the state
            // directory (or its keystore) still gets it, and the refreshes keep recording.
            let _ = self.write_back(cache.generation, real);
        }
        Ok(decision)
    }

    /// Raises the high-water mark to the clock's `real` time, or records the generation a
    /// reader found one ahead (or lost) — unless the cache changed since generation `seen`
    /// was read (an install or refresh wrote a newer one) or one is being written.
    fn write_back(&self, seen: u64, real: tessera_core::UnixTime) -> Result<(), RunnerError> {
        let Some(lock) = self.try_lock()? else { return Ok(()) };
        let Found::Usable(cache, secret) = self.open(true)? else { return Ok(()) };
        if cache.generation != seen {
            return Ok(());
        }
        if real > cache.high_water.saturating_add(HIGH_WATER_STEP) {
            let mut cache = *cache;
            cache.high_water = cache.high_water.max(real);
            self.commit(&lock, cache, KeySource::Kept(secret))?;
        } else if secret.generation != Some(cache.generation) {
            self.keystore.store(&Secret { key: secret.key, generation: Some(cache.generation) })?;
        }
        Ok(())
    }

    /// A signed call to the hub for this runner, with a fresh nonce and a time after its
    /// last call's (the hub refuses a call that is not newer: a replay).
    fn call(
        &self,
        key: &SigningKey,
        label: &str,
        action: RunnerAction,
        holds: Option<Nonce>,
    ) -> Result<(String, Nonce), RunnerError> {
        // A newer call makes an outstanding request's answer useless: the runner takes only
        // the answer to its latest call (`request` writes its own nonce afterwards).
        let pending = self.pending_path();
        match std::fs::remove_file(&pending) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error(&pending, e)),
        }
        let nonce = Nonce::generate().map_err(|e| RunnerError::Input(e.to_string()))?;
        let call = RunnerCall {
            runner_key: key.public_key().clone(),
            label: label.to_owned(),
            action,
            nonce,
            holds,
            runner_time_ms: self.next_call_time()?,
            machine: self.machine.digest(&key.key_id()),
        };
        Ok((sign_runner_call(&call, key), nonce))
    }

    /// The clock in milliseconds, but always after the last call's time (kept in
    /// `last-call`).
    fn next_call_time(&self) -> Result<i64, RunnerError> {
        let path = self.dir.join("last-call");
        let last = match read_capped(&path, 64) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).trim().parse::<i64>().unwrap_or(0),
            Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
            Err(e) => return Err(io_error(&path, e)),
        };
        let time = self.clock.now_millis().max(last.saturating_add(1));
        write_atomic(&path, time.to_string().as_bytes(), WriteOptions::SECRET_REPLACE)
            .map_err(|e| io_error(&path, e))?;
        Ok(time)
    }

    /// Writes a request for a lease, to carry to the hub's operator (`tessera-hub bundle
    /// --request FILE`); the bundle that answers it is installed with [`Runner::install_bundle`].
    pub fn request(&self, label: &str) -> Result<String, RunnerError> {
        let key = self.runner_key()?;
        let lock = self.lock()?;
        let holds = self.holds(&self.open(true)?);
        let (text, nonce) = self.call(&key, label, RunnerAction::Lease, holds)?;
        let path = self.pending_path();
        let bytes = serde_json::to_vec(&Pending { nonce })
            .map_err(|e| RunnerError::Input(e.to_string()))?;
        write_atomic(&path, &bytes, WriteOptions::SECRET_REPLACE)
            .map_err(|e| io_error(&path, e))?;
        drop(lock);
        Ok(text)
    }

    /// A signed release for the hub's operator (`tessera-hub bundle --request FILE`), for a
    /// runner that cannot reach its hub: the slot is given back, and this runner stops at
    /// once (its lease and any outstanding request are dropped).
    pub fn release_request(&self, label: &str) -> Result<String, RunnerError> {
        let key = self.runner_key()?;
        let lock = self.lock()?;
        let (text, _) = self.call(&key, label, RunnerAction::Release, None)?;
        let cache = self.cache_path();
        match std::fs::remove_file(&cache) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(io_error(&cache, e)),
            _ => {}
        }
        drop(lock);
        Ok(text)
    }

    /// Installs a bundle written by `tessera-hub bundle --request`: its lease must answer
    /// this runner's outstanding request, once.
    pub fn install_bundle(&self, bundle: &Bundle, trust: &str) -> Result<Decision, RunnerError> {
        let Some(lease) = bundle.lease.clone() else {
            return self.install_refusal(bundle, trust);
        };
        let key = self.runner_key()?;
        let lock = self.lock()?;
        let path = self.pending_path();
        let pending: Pending = match read_capped(&path, 4096) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| RunnerError::Input(format!("{}: {e}", path.display())))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(RunnerError::Input(
                    "this runner has no outstanding request: write one with `tessera-runner \
                     request`, and install the bundle that answers it"
                        .into(),
                ));
            }
            Err(e) => return Err(io_error(&path, e)),
        };
        let expected = Expected { key_id: key.key_id(), nonce: pending.nonce };
        let decision = self.install(
            &lock,
            self.open(true)?,
            bundle,
            LeaseInput::Signed(&lease),
            &expected,
            trust,
            None,
        )?;
        std::fs::remove_file(&path).map_err(|e| io_error(&path, e))?;
        Ok(decision)
    }

    /// Installs a bundle without a lease, written by a hub that may not run (revoked,
    /// suspended, …): an air-gapped runner learns the refusal as a connected one does at its
    /// refresh, and stops. It can only make the runner stricter: a bundle whose status lets
    /// runners run needs a lease, the lease kept is the one already held, and the receipt
    /// must be no older than the cache's.
    fn install_refusal(&self, bundle: &Bundle, trust: &str) -> Result<Decision, RunnerError> {
        if bundle.status.permits_running() {
            return Err(RunnerError::Input(
                "the bundle has no lease: write it with `tessera-hub bundle --request FILE`".into(),
            ));
        }
        let key = self.runner_key()?;
        let lock = self.lock()?;
        let found = self.open(true)?;
        let Some(held) = found.cache().map(|c| c.lease.clone()) else {
            return Err(RunnerError::Bundle(check::bad(
                bundle.status,
                "the hub may not run and this runner holds no lease",
            )));
        };
        let expected = Expected { key_id: key.key_id(), nonce: held.nonce };
        let decision =
            self.install(&lock, found, bundle, LeaseInput::Kept(&held), &expected, trust, None)?;
        // The hub has spent the request this answered: a later lease needs a new one.
        let path = self.pending_path();
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(io_error(&path, e)),
            _ => {}
        }
        Ok(decision)
    }

    /// Verifies a bundle and writes it as the new cache, over what `found` says is there.
    #[allow(clippy::too_many_arguments)]
    fn install(
        &self,
        lock: &Locked,
        found: Found,
        bundle: &Bundle,
        lease: LeaseInput<'_>,
        expected: &Expected,
        trust_text: &str,
        hub: Option<&str>,
    ) -> Result<Decision, RunnerError> {
        let trust = TrustSet::parse(trust_text.as_bytes())
            .map_err(|e| RunnerError::Input(format!("trust set: {e}")))?;
        if trust.is_empty() {
            return Err(RunnerError::Input("the trust set holds no key".into()));
        }
        let now = self.clock.now();
        let signed = matches!(lease, LeaseInput::Signed(_));
        let admitted = check::admit(bundle, lease, &trust, now)?;
        if signed
            && (admitted.lease.runner_key_id != expected.key_id
                || admitted.lease.nonce != expected.nonce)
        {
            return Err(RunnerError::Bundle(check::bad(
                Status::BadSignature,
                "the lease is not the answer to this runner's own call (another runner's, or an \
                 old one)",
            )));
        }
        // Keep the key and the high-water mark of a cache that opens; start over otherwise.
        let (previous, secret) = match found {
            Found::Usable(cache, secret) => (Some(*cache), Some(secret)),
            Found::Unusable(_, Some(secret)) => (None, Some(secret)),
            // No cache file or no key was read: a keystore entry may still hold generations.
            Found::Unusable(_, None) => (None, self.keystore.load()?),
        };
        if let Some(previous) = &previous {
            never_older(previous, &admitted)?;
        }
        // The hub's lease time and the portal's receipt time are signed: after a lost keystore
        // entry, they put the high-water mark back where it was. A lease that answers this
        // runner's call just made (from the hub, not carried by hand) is the hub's present:
        // a mark beyond it was set by this runner's clock running ahead (a wrong hardware
        // clock before NTP), and would make a paying customer `clock_rollback` until the
        // real time caught up with it.
        let fresh = signed && hub.is_some();
        let previous_mark = previous
            .as_ref()
            .map(|c| if fresh { c.high_water.min(admitted.lease.issued_at) } else { c.high_water });
        let high_water =
            [Some(now), previous_mark, admitted.portal_time, Some(admitted.lease.issued_at)]
                .into_iter()
                .flatten()
                .max()
                .unwrap_or(now);
        let hub_key_id = bundle.hub_key.key_id();
        let named_receipt = countersignature::kept(
            previous.as_ref(),
            bundle.receipt.as_deref(),
            &admitted.lease,
            &hub_key_id,
            admitted.named,
            &trust,
            now,
        );
        let cache = Cache {
            generation: previous.as_ref().map_or(0, |c| c.generation),
            runner_key_id: expected.key_id,
            label: admitted.lease.label.clone(),
            hub: hub.map(str::to_owned),
            trust: trust_text.to_owned(),
            license: bundle.license.clone(),
            receipt: bundle.receipt.clone(),
            named_receipt,
            delegation: admitted.delegation,
            activation: bundle.activation.clone(),
            hub_key_id,
            lease: admitted.lease,
            receipt_time: admitted.portal_time,
            high_water,
            refreshed_at: now,
        };
        // A keystore entry without a usable cache: continue its generations, with a new key
        // (old copies sealed with the old one never open again) where the keystore can take
        // one (a credential inside its unit cannot: it keeps its key).
        let key = match (previous.is_some(), secret) {
            (true, Some(secret)) => self.commit(lock, cache.clone(), KeySource::Kept(secret))?,
            (_, old) => {
                let after = old.as_ref().and_then(|s| s.generation);
                match self.commit(lock, cache.clone(), KeySource::New { after }) {
                    Err(RunnerError::Keystore(KeystoreError::ReadOnly { .. })) if old.is_some() => {
                        let old = old.expect("some");
                        self.commit(lock, cache.clone(), KeySource::Kept(old))?
                    }
                    other => other?,
                }
            }
        };
        let record = Installation {
            keystore: self.keystore.backend().to_owned(),
            uid: installation::this_uid(),
            key_id: installation::key_id(&key),
        };
        let path = self.dir.join(installation::FILE);
        installation::write(&self.dir, &record).map_err(|e| io_error(&path, e))?;
        Ok(check::decide(&cache, now, self.tolerance, &self.machine))
    }

    /// Removes the cache, its key, the enrollment and a waiting request (uninstall). The
    /// runner key stays: a runner installed again is the same runner.
    pub fn forget(&self) -> Result<(), RunnerError> {
        // The key first: a keystore that refuses (a locked keyring) leaves the files, so
        // that a retry still knows which keystore holds the key, and no key is left behind.
        self.keystore.delete()?;
        let record = self.dir.join(installation::FILE);
        // The runner key too: an installation after this one is a new runner, which the hub
        // does not take for a copy of this one (whose lease may still run there).
        let files = [
            self.cache_path(),
            self.enrollment_path(),
            self.pending_path(),
            record,
            self.key_path(),
            self.dir.join("last-call"),
        ];
        for path in files {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error(&path, e)),
            }
        }
        Ok(())
    }
}

/// A new bundle may not bring an older lease or receipt than the cache holds. (Receipt times
/// are whole seconds; two of one second are told apart by the lease, which answers this
/// runner's latest call: a bundle kept back from before cannot carry one.)
fn never_older(previous: &Cache, admitted: &check::Admitted) -> Result<(), RunnerError> {
    let (lease, portal_time) = (&admitted.lease, admitted.portal_time);
    let older = |what: &str| {
        RunnerError::Bundle(check::bad(
            Status::Tampered,
            format!("the bundle's {what} is older than the one this runner holds"),
        ))
    };
    if lease.issued_at < previous.lease.issued_at {
        return Err(older("lease"));
    }
    if let (Some(new), Some(held)) = (portal_time, previous.receipt_time)
        && new < held
    {
        return Err(older("receipt"));
    }
    Ok(())
}
