//! Every failure the `tessera` binary can report: one line on stderr and a documented exit
//! code (see `docs/CLI.md`).

use std::fmt;
use std::path::Path;

use tessera_cli::batch::BatchError;
use tessera_cli::secrets::{ApiKeyError, KeyLoadError, KeygenError};
use tessera_cli::terms::TermsError;

/// Exit codes for operational failures. License statuses use 10 and up
/// ([`tessera_core::Status::exit_code`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Internal = 1,
    // 2 is clap's usage error.
    Io = 3,
    Key = 4,
    Input = 5,
    Exists = 6,
    Unreachable = 7,
    Refused = 8,
    /// `audit verify`: the ledger export is not sound.
    Tampered = 9,
}

/// A failure: what to say and how to exit.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
}

impl Failure {
    pub fn new(exit: Exit, message: impl fmt::Display) -> Self {
        Failure { exit, message: message.to_string() }
    }

    pub fn io(path: &Path, error: std::io::Error) -> Self {
        if error.kind() == std::io::ErrorKind::AlreadyExists {
            return Failure::new(
                Exit::Exists,
                format!("{} already exists; use --force to replace it", path.display()),
            );
        }
        Failure::new(Exit::Io, format!("{}: {error}", path.display()))
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl tessera_process::Failure for Failure {
    fn exit_code(&self) -> u8 {
        self.exit as u8
    }
}

impl From<KeyLoadError> for Failure {
    fn from(e: KeyLoadError) -> Self {
        let exit = match e {
            KeyLoadError::Read { .. } => Exit::Io,
            _ => Exit::Key,
        };
        Failure::new(exit, e)
    }
}

impl From<ApiKeyError> for Failure {
    fn from(e: ApiKeyError) -> Self {
        let exit = match e {
            ApiKeyError::Read { .. } => Exit::Io,
            _ => Exit::Input,
        };
        Failure::new(exit, e)
    }
}

impl From<KeygenError> for Failure {
    fn from(e: KeygenError) -> Self {
        let exit = match e {
            KeygenError::Exists { .. } => Exit::Exists,
            KeygenError::Write { .. } => Exit::Io,
            KeygenError::KeyFile(_) => Exit::Key,
            _ => Exit::Internal,
        };
        Failure::new(exit, e)
    }
}

impl From<BatchError> for Failure {
    fn from(e: BatchError) -> Self {
        let exit = match e {
            BatchError::Read { .. } | BatchError::Write { .. } => Exit::Io,
            BatchError::Header { .. } | BatchError::Row { .. } | BatchError::Empty { .. } => {
                Exit::Input
            }
            BatchError::Manifest { .. } => Exit::Input,
            _ => Exit::Internal,
        };
        Failure::new(exit, e)
    }
}

impl From<TermsError> for Failure {
    fn from(e: TermsError) -> Self {
        Failure::new(Exit::Input, e)
    }
}

impl From<tessera_core::license::IssueError> for Failure {
    fn from(e: tessera_core::license::IssueError) -> Self {
        let exit = match e {
            tessera_core::license::IssueError::Claim(_) => Exit::Input,
            _ => Exit::Internal,
        };
        Failure::new(exit, e)
    }
}

impl From<tessera_core::license::ClaimError> for Failure {
    fn from(e: tessera_core::license::ClaimError) -> Self {
        Failure::new(Exit::Input, e)
    }
}

impl From<tessera_cli::portal::RegisterError> for Failure {
    fn from(e: tessera_cli::portal::RegisterError) -> Self {
        use tessera_cli::portal::RegisterError;
        match e {
            RegisterError::Portal(e) => Failure::from(e),
            other => Failure::new(Exit::Io, other),
        }
    }
}

impl From<tessera_cli::portal::PortalError> for Failure {
    fn from(e: tessera_cli::portal::PortalError) -> Self {
        use tessera_cli::portal::PortalError;
        let exit = match e {
            PortalError::BadUrl(_) | PortalError::Credentials { .. } => Exit::Input,
            PortalError::Unreachable { .. } => Exit::Unreachable,
            _ => Exit::Refused,
        };
        Failure::new(exit, e)
    }
}
