//! Every failure the `tessera-runner` binary can report: one line on stderr and a
//! documented exit code (docs/RUNNER.md, "Exit codes"). License statuses use 10 and up
//! ([`tessera_core::Status::exit_code`]).

use tessera_process::{Classify, Failure};
use tessera_runner::hub::HubCallError;
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

impl From<Exit> for u8 {
    fn from(exit: Exit) -> u8 {
        exit as u8
    }
}

impl Classify<RunnerError> for Exit {
    fn failure(e: RunnerError) -> Failure {
        let exit = match &e {
            RunnerError::Io { .. } => Exit::Io,
            RunnerError::Input(_) => Exit::Input,
            RunnerError::Keystore(_) => Exit::Keystore,
            RunnerError::Misfit(Misfit::Unreadable { .. }) => Exit::Io,
            RunnerError::Misfit(_) => Exit::Keystore,
            RunnerError::Changing { .. } => Exit::Io,
            RunnerError::Hub(HubCallError::Unreachable(_)) => Exit::Unreachable,
            RunnerError::Hub(HubCallError::Refused { .. }) => Exit::Refused,
            RunnerError::Bundle(b) => {
                return Failure::new(b.status.exit_code(), e);
            }
            _ => Exit::Internal,
        };
        Failure::new(exit, e)
    }
}

impl Classify<Misfit> for Exit {
    fn failure(e: Misfit) -> Failure {
        let exit = if matches!(e, Misfit::Unreadable { .. }) { Exit::Io } else { Exit::Keystore };
        Failure::new(exit, e)
    }
}

impl Classify<KeystoreError> for Exit {
    fn failure(e: KeystoreError) -> Failure {
        Failure::new(Exit::Keystore, e)
    }
}
