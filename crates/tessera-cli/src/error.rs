//! Every failure the `tessera` binary can report: one line on stderr and a documented exit
//! code (see `docs/CLI.md`).

use std::path::Path;

use tessera_cli::audit::AuditError;
use tessera_cli::batch::BatchError;
use tessera_cli::delegate::DelegateError;
use tessera_cli::files::{FileError, TrustFileError};
use tessera_cli::issue::{ClientError, IssueOneError};
use tessera_cli::offline::AnswerError;
use tessera_cli::secrets::{ApiKeyError, KeyLoadError, KeygenError};
use tessera_cli::terms::TermsError;
use tessera_core::ledger::ProofTextError;
use tessera_process::{Classify, Failure};

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
    /// `audit verify`: an entry was changed, removed, inserted or reordered.
    Tampered = 9,
    /// `audit verify`: the entries do not have the root a checkpoint signed (rewritten and
    /// rehashed).
    Rewritten = 30,
    /// `audit verify`: no signed checkpoint.
    NoCheckpoint = 31,
    /// `audit verify`: a checkpoint not signed by a key the vendor delegated, or of
    /// another ledger.
    Untrusted = 32,
    /// `audit verify`: entries after the newest checkpoint.
    Unsigned = 33,
    /// `audit verify`: a checkpoint covers entries the export does not hold.
    Truncated = 34,
    /// `audit verify`: the oldest entries removed without a retention cut entry.
    UnrecordedCut = 35,
    /// `audit verify --since`: the ledger does not extend the earlier checkpoint.
    NotExtended = 36,
    /// `audit verify --since`: the earlier checkpoint is older than the retention cut, or
    /// the earlier file holds none.
    Incomparable = 37,
    /// `audit verify --witness`: the ledger does not extend a checkpoint a witness kept
    /// (rewritten, or smaller).
    Unwitnessed = 38,
    /// `audit verify --witness`: the witness's file or directory holds no checkpoint.
    NoWitness = 39,
    /// `audit proof`: the proof does not lead to its checkpoint's root.
    ProofFails = 40,
    /// `audit verify`: the export is cut short (no end line, a last line cut in the middle,
    /// or fewer entries than its end line says).
    CutShort = 41,
    /// `activate-offline`: the license's runners are counted by the portal
    /// (`runner_countersign`) and `--uncounted-runners` was not given.
    CountedRunners = 42,
}

impl From<Exit> for u8 {
    fn from(exit: Exit) -> u8 {
        exit as u8
    }
}

impl Exit {
    /// A file that could not be read or written; one that exists without `--force` is
    /// [`Exit::Exists`].
    pub fn io(path: &Path, error: std::io::Error) -> Failure {
        Exit::failure(FileError::new(path, error))
    }
}

impl Classify<FileError> for Exit {
    fn failure(e: FileError) -> Failure {
        Failure::new(if e.exists() { Exit::Exists } else { Exit::Io }, e)
    }
}

impl Classify<TrustFileError> for Exit {
    fn failure(e: TrustFileError) -> Failure {
        match e {
            TrustFileError::File(e) => Exit::failure(e),
            e => Failure::new(Exit::Input, e),
        }
    }
}

impl Classify<AnswerError> for Exit {
    fn failure(e: AnswerError) -> Failure {
        match e {
            AnswerError::File(e) => Exit::failure(e),
            AnswerError::Key(e) => Exit::failure(e),
            e @ AnswerError::CountedRunners(_) => Failure::new(Exit::CountedRunners, e),
            e => Failure::new(Exit::Input, e),
        }
    }
}

impl Classify<DelegateError> for Exit {
    fn failure(e: DelegateError) -> Failure {
        match e {
            DelegateError::File(e) => Exit::failure(e),
            DelegateError::Key(e) => Exit::failure(e),
            e => Failure::new(Exit::Input, e),
        }
    }
}

impl Classify<AuditError> for Exit {
    fn failure(e: AuditError) -> Failure {
        match e {
            AuditError::File(e) => Exit::failure(e),
            AuditError::Unsound { source, path, against } => {
                use tessera_core::ledger::LedgerError as L;
                let code = match &source {
                    L::Rewritten { .. } => Exit::Rewritten,
                    L::NoCheckpoint => Exit::NoCheckpoint,
                    L::Undelegated { .. } | L::Foreign { .. } => Exit::Untrusted,
                    L::Unsigned { .. } => Exit::Unsigned,
                    L::Truncated { .. } => Exit::Truncated,
                    L::UnrecordedCut { .. } => Exit::UnrecordedCut,
                    L::Forked { .. } | L::Shrunk { .. } => Exit::NotExtended,
                    L::SinceBeforeCut { .. } | L::SinceEmpty => Exit::Incomparable,
                    L::WitnessForked { .. } | L::WitnessAhead { .. } => Exit::Unwitnessed,
                    L::WitnessEmpty => Exit::NoWitness,
                    _ => Exit::Tampered,
                };
                Failure::new(code, AuditError::Unsound { source, path, against })
            }
            AuditError::Proof { source: source @ ProofTextError::Fails(_), path } => {
                Failure::new(Exit::ProofFails, AuditError::Proof { source, path })
            }
            e @ AuditError::NotInExport { .. } => Failure::new(Exit::Untrusted, e),
            e @ AuditError::NoEarlier { .. } => Failure::new(Exit::Incomparable, e),
            e @ AuditError::CutShort { .. } => Failure::new(Exit::CutShort, e),
            e => Failure::new(Exit::Input, e),
        }
    }
}

impl Classify<ClientError> for Exit {
    fn failure(e: ClientError) -> Failure {
        match e {
            ClientError::ApiKey(e) => Exit::failure(e),
            ClientError::Portal(e) => Exit::failure(e),
            e => Failure::new(Exit::Internal, e),
        }
    }
}

impl Classify<IssueOneError> for Exit {
    fn failure(e: IssueOneError) -> Failure {
        match e {
            IssueOneError::Claim(e) => Exit::failure(e),
            IssueOneError::File(e) => Exit::failure(e),
            IssueOneError::Client(e) => Exit::failure(e),
            IssueOneError::Key(e) => Exit::failure(e),
            IssueOneError::Issue(e) => Exit::failure(e),
            IssueOneError::NotRegistered { path, source } => {
                let failure = Exit::failure(source);
                let message =
                    format!("{} was written but not registered: {}", path.display(), failure);
                Failure { message, ..failure }
            }
            e => Failure::new(Exit::Internal, e),
        }
    }
}

impl Classify<KeyLoadError> for Exit {
    fn failure(e: KeyLoadError) -> Failure {
        let exit = match e {
            KeyLoadError::Read { .. } => Exit::Io,
            _ => Exit::Key,
        };
        Failure::new(exit, e)
    }
}

impl Classify<ApiKeyError> for Exit {
    fn failure(e: ApiKeyError) -> Failure {
        let exit = match e {
            ApiKeyError::Read { .. } => Exit::Io,
            _ => Exit::Input,
        };
        Failure::new(exit, e)
    }
}

impl Classify<KeygenError> for Exit {
    fn failure(e: KeygenError) -> Failure {
        let exit = match e {
            KeygenError::Exists { .. } => Exit::Exists,
            KeygenError::Write { .. } => Exit::Io,
            KeygenError::KeyFile(_) => Exit::Key,
            _ => Exit::Internal,
        };
        Failure::new(exit, e)
    }
}

impl Classify<BatchError> for Exit {
    fn failure(e: BatchError) -> Failure {
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

impl Classify<TermsError> for Exit {
    fn failure(e: TermsError) -> Failure {
        Failure::new(Exit::Input, e)
    }
}

impl Classify<tessera_core::license::IssueError> for Exit {
    fn failure(e: tessera_core::license::IssueError) -> Failure {
        let exit = match e {
            tessera_core::license::IssueError::Claim(_) => Exit::Input,
            _ => Exit::Internal,
        };
        Failure::new(exit, e)
    }
}

impl Classify<tessera_core::license::ClaimError> for Exit {
    fn failure(e: tessera_core::license::ClaimError) -> Failure {
        Failure::new(Exit::Input, e)
    }
}

impl Classify<tessera_cli::portal::RegisterError> for Exit {
    fn failure(e: tessera_cli::portal::RegisterError) -> Failure {
        use tessera_cli::portal::RegisterError;
        match e {
            RegisterError::Portal(e) => Exit::failure(e),
            other => Failure::new(Exit::Io, other),
        }
    }
}

impl Classify<tessera_cli::portal::PortalError> for Exit {
    fn failure(e: tessera_cli::portal::PortalError) -> Failure {
        use tessera_cli::portal::PortalError;
        let exit = match e {
            PortalError::BadUrl(_) | PortalError::Credentials { .. } => Exit::Input,
            PortalError::Unreachable { .. } => Exit::Unreachable,
            _ => Exit::Refused,
        };
        Failure::new(exit, e)
    }
}

impl Classify<tessera_cli::issue::IssueAndRegisterError> for Exit {
    fn failure(e: tessera_cli::issue::IssueAndRegisterError) -> Failure {
        use tessera_cli::issue::IssueAndRegisterError;
        match e {
            IssueAndRegisterError::Batch(e) => Exit::failure(e),
            IssueAndRegisterError::Register(e) => {
                let message = format!("{e} (rerun to continue)");
                Failure { message, ..Exit::failure(e) }
            }
            e @ IssueAndRegisterError::ManifestOpen { .. } => Failure::new(Exit::Io, e),
            e => Failure::new(Exit::Input, e),
        }
    }
}
