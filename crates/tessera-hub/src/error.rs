//! Every failure the `tessera-hub` binary can report: one line on stderr and a documented
//! exit code (docs/HUB.md, "Exit codes"). License statuses use 10 and up
//! ([`tessera_core::Status::exit_code`]).

use std::fmt;

use tessera_core::Status;
use tessera_hub::agent::HubError;
use tessera_hub::portal::CallError;
use tessera_hub::slots::LeaseError;
use tessera_hub::state::StateError;

/// Exit codes for operational failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Internal = 1,
    Usage = 2,
    /// The state directory or a named file cannot be read or written, or is damaged.
    Io = 3,
    /// Invalid input: no or bad trust set, no portal URL, bad `--product`.
    Input = 5,
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

    /// A failure whose exit code is a license status's.
    pub fn status(status: Status, message: impl fmt::Display) -> Self {
        Failure { code: status.exit_code(), message: message.to_string() }
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

impl From<HubError> for Failure {
    fn from(e: HubError) -> Self {
        let exit = match &e {
            HubError::State(StateError::NotActivated { .. }) => {
                return Failure::status(Status::NoLicense, e);
            }
            HubError::State(
                StateError::Io { .. } | StateError::Damaged { .. } | StateError::TooLarge { .. },
            ) => Exit::Io,
            HubError::Trust(_) | HubError::Input(_) | HubError::NoPortal => Exit::Input,
            HubError::Portal(CallError::Unreachable(_)) => Exit::Unreachable,
            HubError::Portal(CallError::Refused { .. }) => Exit::Refused,
            _ => match e.status() {
                Some(status) => return Failure::status(status, e),
                None => Exit::Internal,
            },
        };
        Failure::new(exit, e)
    }
}

impl From<LeaseError> for Failure {
    fn from(e: LeaseError) -> Self {
        match e {
            LeaseError::Hub(e) => Failure::from(e),
            LeaseError::LimitExceeded { .. } => Failure::status(Status::RunnerLimitExceeded, e),
            LeaseError::NotRunnable(status) => Failure::status(status, e),
            LeaseError::Cloned => Failure::status(Status::Cloned, e),
            LeaseError::BadCall(_)
            | LeaseError::BadLabel
            | LeaseError::Stale
            | LeaseError::UnknownRunner(_) => Failure::new(Exit::Input, e),
            _ => Failure::new(Exit::Internal, e),
        }
    }
}

impl From<StateError> for Failure {
    fn from(e: StateError) -> Self {
        Failure::new(Exit::Io, e)
    }
}
