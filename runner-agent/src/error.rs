//! Every failure the `tessera-runner` binary can report: one line on stderr and a
//! documented exit code (docs/RUNNER.md, "Exit codes"). License statuses use 10 and up
//! ([`tessera_core::Status::exit_code`]).

use std::fmt;

use tessera_runner::hub::HubError;
use tessera_runner::installation::Misfit;
use tessera_runner::keystore::KeystoreError;
use tessera_runner::runner::RunnerError;

/// Exit codes for operational failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Internal = 1,
    Usage = 2,
    /// The state directory or a named file cannot be read or written.
    Io = 3,
    /// Invalid input: a bad bundle or trust file.
    Input = 5,
    /// The OS keystore is missing, locked or denies access, or is not the one (or not the
    /// user's) the runner was installed with.
    Keystore = 6,
    Unreachable = 7,
    Refused = 8,
}

/// A failure: what to say and the process's exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn new(exit: Exit, message: impl fmt::Display) -> Self {
        Failure { code: exit as u8, message: message.to_string() }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl tessera_process::Failure for Failure {
    fn exit_code(&self) -> u8 {
        self.code
    }
}

impl From<RunnerError> for Failure {
    fn from(e: RunnerError) -> Self {
        let exit = match &e {
            RunnerError::Io { .. } => Exit::Io,
            RunnerError::Input(_) => Exit::Input,
            RunnerError::Keystore(_) => Exit::Keystore,
            RunnerError::Misfit(Misfit::Unreadable { .. }) => Exit::Io,
            RunnerError::Misfit(_) => Exit::Keystore,
            RunnerError::Changing { .. } => Exit::Io,
            RunnerError::Hub(HubError::Unreachable(_)) => Exit::Unreachable,
            RunnerError::Hub(HubError::Refused { .. }) => Exit::Refused,
            RunnerError::Bundle(b) => {
                return Failure { code: b.status.exit_code(), message: e.to_string() };
            }
            _ => Exit::Internal,
        };
        Failure::new(exit, e)
    }
}

impl From<Misfit> for Failure {
    fn from(e: Misfit) -> Self {
        let exit = if matches!(e, Misfit::Unreadable { .. }) { Exit::Io } else { Exit::Keystore };
        Failure::new(exit, e)
    }
}

impl From<KeystoreError> for Failure {
    fn from(e: KeystoreError) -> Self {
        Failure::new(Exit::Keystore, e)
    }
}
