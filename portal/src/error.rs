//! Every failure the `tessera-portal` binary can report: one line on stderr and a
//! documented exit code (docs/OPERATIONS.md).

use std::fmt;

/// Exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// A runtime failure (the listener, the async runtime).
    Runtime = 1,
    /// A usage error (clap's code, also for bad values clap cannot check).
    Usage = 2,
    /// A configuration problem: settings, files, the data directory, TLS.
    Config = 3,
    /// The database could not be opened, migrated or written.
    Database = 4,
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
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<Failure> for tessera_process::Failure {
    fn from(failure: Failure) -> Self {
        tessera_process::Failure::new(failure.exit as u8, failure.message)
    }
}

impl From<tessera_portal::store::StoreError> for Failure {
    fn from(e: tessera_portal::store::StoreError) -> Self {
        Failure::new(Exit::Database, e)
    }
}

impl From<tessera_portal::config::ConfigError> for Failure {
    fn from(e: tessera_portal::config::ConfigError) -> Self {
        Failure::new(Exit::Config, e)
    }
}

impl From<tessera_portal::app::StartError> for Failure {
    fn from(e: tessera_portal::app::StartError) -> Self {
        use tessera_portal::app::StartError;
        let exit = match e {
            StartError::Store(_) => Exit::Database,
            StartError::DataDir { .. } | StartError::ReceiptKey(_) => Exit::Config,
            _ => Exit::Runtime,
        };
        Failure::new(exit, e)
    }
}
