//! A runner's operations: install (from the hub or a bundle file), refresh, check. The same
//! calls the `tessera-runner` binary makes, for the vendor's runner code to call directly.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tessera_core::Status;
use tessera_core::activation::Bundle;
use tessera_core::fsutil::{WriteOptions, read_capped, write_atomic};
use tessera_core::keys::fill_random;
use tessera_core::time::Clock;
use tessera_core::trust::TrustSet;
use zeroize::Zeroizing;

use crate::cache::{self, Cache, MAX_CACHE_LEN};
use crate::check::{self, BadBundle, Decision, LeaseInput};
use crate::hub::{HubClient, HubError};
use crate::keystore::{Keystore, KeystoreError, Secret};

/// The high-water mark is written at most this often by `check`: a durable write per check
/// would cost more than the check itself.
const HIGH_WATER_STEP: Duration = Duration::from_secs(60);

/// Why an operation failed (a status, when there is one, comes back as a [`Decision`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunnerError {
    #[error(transparent)]
    Keystore(#[from] KeystoreError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Bundle(#[from] BadBundle),
    #[error(transparent)]
    Hub(#[from] HubError),
    #[error("{0}")]
    Input(String),
}

fn io_error(path: &Path, source: io::Error) -> RunnerError {
    RunnerError::Io { path: path.to_owned(), source }
}

/// How a runner reaches its hub, kept (0600) beside the cache so a refresh works even when
/// the keystore lost the cache key (a reboot clears the kernel keyring).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Enrollment {
    hub: String,
    runner: String,
    token: String,
}

/// The cache as found: usable with its key, or the status that stands in for it together
/// with the keystore's secret when one was read (a new cache continues its generations).
enum Found {
    Usable(Box<Cache>, Secret),
    Unusable(Decision, Option<Secret>),
}

/// One runner: its state directory, its keystore entry, its clock.
pub struct Runner {
    dir: PathBuf,
    keystore: Arc<dyn Keystore>,
    clock: Arc<dyn Clock>,
    tolerance: Duration,
}

impl Runner {
    pub fn new(dir: &Path, keystore: Arc<dyn Keystore>, clock: Arc<dyn Clock>) -> Self {
        Runner { dir: dir.to_owned(), keystore, clock, tolerance: check::DEFAULT_TOLERANCE }
    }

    /// How far the clock may fall behind the high-water mark before `clock_rollback`.
    pub fn with_tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    pub fn cache_path(&self) -> PathBuf {
        self.dir.join("cache")
    }

    fn enrollment_path(&self) -> PathBuf {
        self.dir.join("enrollment.json")
    }

    /// The keystore account for a state directory: one key per runner installation.
    pub fn account(dir: &Path) -> String {
        use sha2::{Digest, Sha256};
        let path = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
        let digest = Sha256::digest(path.to_string_lossy().as_bytes());
        format!("cache-{}", hex::encode(&digest[..8]))
    }

    /// The cache and its key, or the status that stands in for them.
    fn open(&self) -> Result<Found, RunnerError> {
        let path = self.cache_path();
        let bytes = match read_capped(&path, MAX_CACHE_LEN) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Found::Unusable(
                    Decision::new(
                        Status::NoLicense,
                        "no license cache: run `tessera-runner install`",
                    ),
                    None,
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                let decision = Decision::new(Status::Tampered, "the cache file is too large");
                return Ok(Found::Unusable(decision, None));
            }
            Err(e) => return Err(io_error(&path, e)),
        };
        let Some(secret) = self.keystore.load()? else {
            let reason = format!(
                "the cache key is not in the {} keystore (deleted, or cleared by a reboot): \
                 run `tessera-runner refresh`",
                self.keystore.backend()
            );
            return Ok(Found::Unusable(Decision::new(Status::NoLicense, reason), None));
        };
        let cache = match cache::open(&bytes, &secret.key) {
            Ok(cache) => cache,
            Err(e) => {
                let decision = Decision::new(Status::Tampered, e.to_string());
                return Ok(Found::Unusable(decision, Some(secret)));
            }
        };
        if cache.generation < secret.generation || cache.generation > secret.generation + 1 {
            let reason = format!(
                "the cache file is generation {}, the keystore expects {}: an older copy was \
                 put back",
                cache.generation, secret.generation
            );
            return Ok(Found::Unusable(Decision::new(Status::Tampered, reason), Some(secret)));
        }
        let secret = if cache.generation == secret.generation + 1 {
            // A write was interrupted after the file and before the keystore: finish it.
            let finished = Secret { key: secret.key.clone(), generation: cache.generation };
            self.keystore.store(&finished)?;
            finished
        } else {
            secret
        };
        Ok(Found::Usable(Box::new(cache), secret))
    }

    /// Writes the cache (generation + 1) and then the keystore: a crash in between leaves a
    /// file one generation ahead, which the next open accepts and completes.
    fn commit(&self, mut cache: Cache, secret: Option<Secret>) -> Result<(), RunnerError> {
        let (key, generation) = match secret {
            Some(s) => (s.key, s.generation.max(cache.generation) + 1),
            None => {
                let mut key = Zeroizing::new([0u8; 32]);
                fill_random(&mut key[..]).map_err(|e| RunnerError::Input(e.to_string()))?;
                (key, cache.generation + 1)
            }
        };
        cache.generation = generation;
        let path = self.cache_path();
        write_atomic(&path, &cache::seal(&cache, &key), WriteOptions::SECRET_REPLACE)
            .map_err(|e| io_error(&path, e))?;
        self.keystore.store(&Secret { key, generation })?;
        Ok(())
    }

    /// Where a runner decides: offline, from the cache, at the clock's time.
    pub fn check(&self) -> Result<Decision, RunnerError> {
        let now = self.clock.now();
        let (mut cache, secret) = match self.open()? {
            Found::Usable(cache, secret) => (*cache, secret),
            Found::Unusable(decision, _) => return Ok(decision),
        };
        let decision = check::decide(&cache, now, self.tolerance);
        if decision.status != Status::ClockRollback
            && now > cache.high_water.saturating_add(HIGH_WATER_STEP)
        {
            cache.high_water = now;
            self.commit(cache, Some(secret))?;
        }
        Ok(decision)
    }

    /// Installs a bundle written by `tessera-hub bundle` (it carries its lease).
    pub fn install_bundle(&self, bundle: &Bundle, trust: &str) -> Result<Decision, RunnerError> {
        let lease = bundle.lease.clone().ok_or_else(|| {
            RunnerError::Input(
                "the bundle has no lease: write it with `tessera-hub bundle --runner NAME`".into(),
            )
        })?;
        self.install(self.open()?, bundle, LeaseInput::Signed(&lease), trust, None)
    }

    /// Enrolls with a hub: takes its bundle and a lease, keeps the token for refreshes.
    pub fn install_from_hub(
        &self,
        hub: &str,
        token: &str,
        runner: &str,
        trust: &str,
    ) -> Result<Decision, RunnerError> {
        let client = HubClient::new(hub, token)?;
        let bundle = client.bundle()?;
        let grant = client.lease(runner)?;
        let found = self.open()?;
        let decision = self.install(
            found,
            &bundle,
            LeaseInput::Signed(&grant.lease),
            trust,
            Some(client.base()),
        )?;
        let enrollment = Enrollment {
            hub: client.base().to_owned(),
            runner: runner.to_owned(),
            token: token.to_owned(),
        };
        let path = self.enrollment_path();
        let bytes =
            serde_json::to_vec(&enrollment).map_err(|e| RunnerError::Input(e.to_string()))?;
        write_atomic(&path, &bytes, WriteOptions::SECRET_REPLACE)
            .map_err(|e| io_error(&path, e))?;
        Ok(decision)
    }

    /// Renews the bundle and the lease from the hub. A failed refresh leaves the cache as it
    /// was. `trust` is needed only when the cache cannot be opened (its key was lost).
    pub fn refresh(&self, trust: Option<&str>) -> Result<Decision, RunnerError> {
        let path = self.enrollment_path();
        let enrollment: Enrollment = match read_capped(&path, 64 * 1024) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| RunnerError::Input(format!("{}: {e}", path.display())))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(RunnerError::Input(
                    "this runner was not installed from a hub: install a new bundle instead".into(),
                ));
            }
            Err(e) => return Err(io_error(&path, e)),
        };
        let found = self.open()?;
        let trust = match (trust, &found) {
            (Some(trust), _) => trust.to_owned(),
            (None, Found::Usable(cache, _)) => cache.trust.clone(),
            (None, Found::Unusable(decision, _)) => {
                return Err(RunnerError::Input(format!(
                    "the cache cannot be used ({}: {}); refresh needs the vendor trust set: --trust FILE",
                    decision.status, decision.reason
                )));
            }
        };
        let client = HubClient::new(&enrollment.hub, &enrollment.token)?;
        let bundle = client.bundle()?;
        match (client.lease(&enrollment.runner), found) {
            (Ok(grant), found) => self.install(
                found,
                &bundle,
                LeaseInput::Signed(&grant.lease),
                &trust,
                Some(client.base()),
            ),
            // The hub may not run (revoked, suspended, …) and grants no lease, but its bundle
            // carries the news: take it with the lease already held.
            (Err(HubError::Refused { http: 403, .. }), Found::Usable(cache, secret)) => {
                let lease = cache.lease.clone();
                let found = Found::Usable(cache, secret);
                self.install(found, &bundle, LeaseInput::Kept(&lease), &trust, Some(client.base()))
            }
            (Err(e), _) => Err(e.into()),
        }
    }

    /// Verifies a bundle and writes it as the new cache, over what `found` says is there.
    fn install(
        &self,
        found: Found,
        bundle: &Bundle,
        lease: LeaseInput<'_>,
        trust_text: &str,
        hub: Option<&str>,
    ) -> Result<Decision, RunnerError> {
        let trust = TrustSet::parse(trust_text.as_bytes())
            .map_err(|e| RunnerError::Input(format!("trust set: {e}")))?;
        if trust.is_empty() {
            return Err(RunnerError::Input("the trust set holds no key".into()));
        }
        let now = self.clock.now();
        let admitted = check::admit(bundle, lease, &trust, now)?;
        // Keep the key and the high-water mark of a cache that opens; start over otherwise.
        let (previous, secret) = match found {
            Found::Usable(cache, secret) => (Some(*cache), Some(secret)),
            Found::Unusable(_, Some(secret)) => (None, Some(secret)),
            // No cache file or no key was read: a keystore entry may still hold generations.
            Found::Unusable(_, None) => (None, self.keystore.load()?),
        };
        let high_water = [Some(now), previous.as_ref().map(|c| c.high_water), admitted.portal_time]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(now);
        let cache = Cache {
            generation: previous.as_ref().map_or(0, |c| c.generation),
            runner: admitted.lease.runner.clone(),
            hub: hub.map(str::to_owned),
            trust: trust_text.to_owned(),
            license: bundle.license.clone(),
            receipt: bundle.receipt.clone(),
            delegation: admitted.delegation,
            activation: bundle.activation.clone(),
            hub_key_id: bundle.hub_key.key_id(),
            lease: admitted.lease,
            high_water,
            refreshed_at: now,
        };
        // A keystore entry without a usable cache: continue its generations, new key.
        let secret = match (previous.is_some(), secret) {
            (true, secret) => secret,
            (false, Some(old)) => {
                let mut key = Zeroizing::new([0u8; 32]);
                fill_random(&mut key[..]).map_err(|e| RunnerError::Input(e.to_string()))?;
                Some(Secret { key, generation: old.generation })
            }
            (false, None) => None,
        };
        self.commit(cache.clone(), secret)?;
        Ok(check::decide(&cache, now, self.tolerance))
    }

    /// Removes the cache and its key (uninstall).
    pub fn forget(&self) -> Result<(), RunnerError> {
        for path in [self.cache_path(), self.enrollment_path()] {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error(&path, e)),
            }
        }
        self.keystore.delete()?;
        Ok(())
    }
}
