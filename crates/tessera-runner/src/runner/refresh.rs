//! A runner's calls to its hub (feature `refresh`): install from a hub, refresh, release.
//! The hub's address and the runner's label are kept in `enrollment.json` beside the cache.

use std::io;

use serde::{Deserialize, Serialize};
use tessera_core::activation::RunnerAction;
use tessera_core::fsutil::{WriteOptions, read_capped, write_atomic};

use super::state::Found;
use super::{Expected, Runner, RunnerError, io_error};
use crate::check::{self, Decision, LeaseInput};
use crate::hub::HubClient;

/// How a runner reaches its hub, kept (0600) beside the cache so a refresh works even when
/// the keystore lost the cache key (a reboot clears the kernel keyring). No secret: the
/// runner proves itself with its key; a runner token is used once, at enrollment.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Enrollment {
    hub: String,
    label: String,
}

impl Runner {
    /// Enrolls with a hub (using up `token`), takes its bundle and a lease for this
    /// runner's key.
    pub fn install_from_hub(
        &self,
        hub: &str,
        token: &str,
        label: &str,
        trust: &str,
    ) -> Result<Decision, RunnerError> {
        let client = HubClient::new(hub)?;
        let enrollment = Enrollment { hub: client.base().to_owned(), label: label.to_owned() };
        self.lease_from(&client, &enrollment, Some(token), Some(trust))
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
        let client = HubClient::new(&enrollment.hub)?;
        self.lease_from(&client, &enrollment, None, trust)
    }

    /// One lease call to the hub, and the answer into the cache.
    fn lease_from(
        &self,
        client: &HubClient,
        enrollment: &Enrollment,
        token: Option<&str>,
        trust: Option<&str>,
    ) -> Result<Decision, RunnerError> {
        let key = self.runner_key()?;
        let lock = self.lock()?;
        let found = self.open(true)?;
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
        let held = found.cache().map(|c| c.lease.clone());
        let holds = self.holds(&found);
        let (call, nonce) = self.call(&key, &enrollment.label, RunnerAction::Lease, holds)?;
        let answer = client.lease(&call, token)?;
        let expected = Expected { key_id: key.key_id(), nonce };
        let lease = match (&answer.lease, &held) {
            (Some(lease), _) => LeaseInput::Signed(lease),
            // The hub may not run (revoked, suspended, …) and grants no lease, but its bundle
            // carries the news: take it with the lease already held.
            (None, Some(held)) => LeaseInput::Kept(held),
            (None, None) => {
                return Err(RunnerError::Bundle(check::bad(
                    answer.bundle.status,
                    "the hub grants no lease (it may not run) and this runner holds none",
                )));
            }
        };
        let decision = self.install(
            &lock,
            found,
            &answer.bundle,
            lease,
            &expected,
            &trust,
            Some(client.base()),
        )?;
        let keep = Enrollment { hub: enrollment.hub.clone(), label: enrollment.label.clone() };
        let path = self.enrollment_path();
        let bytes = serde_json::to_vec(&keep).map_err(|e| RunnerError::Input(e.to_string()))?;
        write_atomic(&path, &bytes, WriteOptions::SECRET_REPLACE)
            .map_err(|e| io_error(&path, e))?;
        Ok(decision)
    }

    /// Gives this runner's slot back to the hub (it holds none afterwards).
    pub fn release(&self) -> Result<(), RunnerError> {
        let path = self.enrollment_path();
        let enrollment: Enrollment =
            serde_json::from_slice(&read_capped(&path, 64 * 1024).map_err(|e| io_error(&path, e))?)
                .map_err(|e| RunnerError::Input(format!("{}: {e}", path.display())))?;
        let key = self.runner_key()?;
        let client = HubClient::new(&enrollment.hub)?;
        let lock = self.lock()?;
        let (call, _) = self.call(&key, &enrollment.label, RunnerAction::Release, None)?;
        client.release(&call)?;
        // The slot is free at the hub: the lease it held goes too, so this runner stops
        // rather than run on beside the one that takes the slot next.
        let cache = self.cache_path();
        match std::fs::remove_file(&cache) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io_error(&cache, e)),
            _ => {}
        }
        drop(lock);
        Ok(())
    }
}
