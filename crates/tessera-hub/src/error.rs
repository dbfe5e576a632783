//! Every failure the `tessera-hub` binary can report: one line on stderr and a documented
//! exit code (docs/HUB.md, "Exit codes"). License statuses use 10 and up
//! ([`tessera_core::Status::exit_code`]).

use std::fmt;

use tessera_core::Status;
use tessera_hub::agent::HubError;
use tessera_hub::portal::CallError;
use tessera_hub::slots::LeaseError;
use tessera_hub::state::StateError;
use tessera_process::{Classify, Failure};

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

impl From<Exit> for u8 {
    fn from(exit: Exit) -> u8 {
        exit as u8
    }
}

/// A failure whose exit code is a license status's.
fn status_failure(status: Status, message: impl fmt::Display) -> Failure {
    Failure::new(status.exit_code(), message)
}

impl Classify<HubError> for Exit {
    fn failure(e: HubError) -> Failure {
        let exit = match &e {
            HubError::State(StateError::NotActivated { .. }) => {
                return status_failure(Status::NoLicense, e);
            }
            HubError::State(
                StateError::Io { .. } | StateError::Damaged { .. } | StateError::TooLarge { .. },
            ) => Exit::Io,
            HubError::Trust(_) | HubError::Input(_) | HubError::NoPortal => Exit::Input,
            HubError::Portal(CallError::Unreachable(_)) => Exit::Unreachable,
            HubError::Portal(CallError::Refused { .. }) => Exit::Refused,
            _ => match e.status() {
                Some(status) => return status_failure(status, e),
                None => Exit::Internal,
            },
        };
        Failure::new(exit, e)
    }
}

impl Classify<LeaseError> for Exit {
    fn failure(e: LeaseError) -> Failure {
        match e {
            LeaseError::Hub(e) => Exit::failure(e),
            LeaseError::LimitExceeded { .. } => status_failure(Status::RunnerLimitExceeded, e),
            LeaseError::NotRunnable(status) | LeaseError::LocalRefusal(status) => {
                status_failure(status, e)
            }
            LeaseError::Cloned | LeaseError::OtherMachine { .. } => {
                status_failure(Status::Cloned, e)
            }
            LeaseError::BadCall(_)
            | LeaseError::BadLabel
            | LeaseError::Stale
            | LeaseError::UnknownRunner(_)
            | LeaseError::Leased { .. } => Failure::new(Exit::Input, e),
            _ => Failure::new(Exit::Internal, e),
        }
    }
}

impl Classify<StateError> for Exit {
    fn failure(e: StateError) -> Failure {
        Failure::new(Exit::Io, e)
    }
}
