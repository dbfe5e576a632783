//! A runner's check in process: the same decision as `tessera-runner check`, from the same
//! sealed cache and keystore entry (the product's user must own both).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tessera_core::time::SystemClock;
use tessera_core::{Status, UnixTime};
use tessera_runner::installation::{self, Misfit};
use tessera_runner::keystore::{Backend, OsKeystore};
use tessera_runner::runner::{Runner, RunnerError};

use crate::{Error, License};

/// Which OS keystore holds the runner's cache key.
pub type Keystore = Backend;

/// Where a runner keeps its state, and how it checks.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RunnerOptions {
    /// The runner's state directory (as `tessera-runner --state-dir`).
    pub state_dir: PathBuf,
    /// The keystore the runner was installed with; `None`: the one recorded in the state
    /// directory at install (a different one named here is an error, `keystore`).
    pub keystore: Option<Keystore>,
    /// How far the clock may fall behind the latest time seen before `clock_rollback`.
    pub tolerance: Duration,
}

impl RunnerOptions {
    /// The state directory `state_dir`, the default keystore and tolerance.
    pub fn new(state_dir: impl Into<PathBuf>) -> Self {
        RunnerOptions {
            state_dir: state_dir.into(),
            keystore: None,
            tolerance: tessera_runner::check::DEFAULT_TOLERANCE,
        }
    }

    /// The same with the keystore named by `name` (`keyutils`, `secret-service`,
    /// `systemd-creds`).
    pub fn keystore_named(mut self, name: &str) -> Result<Self, Error> {
        self.keystore =
            Some(name.parse().map_err(|message| Error::BadArgument { what: "keystore", message })?);
        Ok(self)
    }

    /// The same with another tolerance.
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }
}

/// A runner's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RunnerCheck {
    /// `valid` and `grace` permit running; anything else does not.
    pub status: Status,
    /// One sentence for people.
    pub reason: String,
    /// Seconds of grace (or of the offline activation) left, when that applies.
    pub grace_left_secs: Option<u64>,
    /// The runner's label at its hub.
    pub runner: Option<String>,
    /// When this runner's lease ends unless the runner agent renews it.
    pub lease_expires_at: Option<UnixTime>,
    /// The cached license's terms, when it verified.
    pub license: Option<License>,
}

/// Whether this runner may run at `now`, decided offline from its sealed cache (two
/// signature checks and an HMAC). A missing or damaged cache is a status (`no_license`,
/// `tampered`), not an error; errors are a keystore or a state directory that cannot be
/// used at all, or that is not the keystore (or the user) the runner was installed with.
///
/// `now` decides the answer only: the time this runner has seen (its defence against a clock
/// set back) moves with the system clock alone, so a test may pass any time.
///
/// ```no_run
/// let options = tessera::RunnerOptions::new("/var/lib/my-runner/tessera").keystore_named("keyutils")?;
/// let check = tessera::runner_check(&options, tessera::now())?;
/// if !check.status.permits_running() {
///     eprintln!("not licensed to run: {} ({})", check.status, check.reason);
///     std::process::exit(1);
/// }
/// # Ok::<(), tessera::Error>(())
/// ```
pub fn runner_check(options: &RunnerOptions, now: UnixTime) -> Result<RunnerCheck, Error> {
    let backend =
        installation::backend_for(&options.state_dir, options.keystore).map_err(|e| misfit(&e))?;
    // Opened per check: the kernel keyring's entry costs a few system calls.
    let entry = OsKeystore::open(backend, &Runner::account(&options.state_dir))
        .map_err(|e| Error::Keystore(e.to_string()))?;
    // The runner's clock is the system's: only it is written as the high-water mark.
    let runner = Runner::new(&options.state_dir, Arc::new(entry), Arc::new(SystemClock))
        .with_tolerance(options.tolerance);
    let decision = runner.check_at(now).map_err(|e| match e {
        RunnerError::Keystore(e) => Error::Keystore(e.to_string()),
        RunnerError::Misfit(e) => misfit(&e),
        other => Error::Io(other.to_string()),
    })?;
    Ok(RunnerCheck {
        status: decision.status,
        reason: decision.reason,
        grace_left_secs: decision.grace_left_secs,
        runner: decision.runner,
        lease_expires_at: decision.lease_expires_at,
        license: decision.license.as_deref().map(License::from),
    })
}

/// A state directory that does not fit the call: its record unreadable is `io`, any other
/// misfit (keystore, user, key) is `keystore`.
fn misfit(e: &Misfit) -> Error {
    match e {
        Misfit::Unreadable { .. } => Error::Io(e.to_string()),
        _ => Error::Keystore(e.to_string()),
    }
}
