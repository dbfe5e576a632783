//! Tessera in process: the checks a vendor's product makes, with the same status words as
//! the command-line tools. The Node.js, Python and C bindings wrap exactly these calls.
//!
//! - [`verify_license`]: a license file against the vendor's trust set, at a given time,
//!   optionally for one product;
#![cfg_attr(
    feature = "runner",
    doc = "- [`runner_check`]: whether this runner may run, offline, from its sealed cache (as"
)]
#![cfg_attr(feature = "runner", doc = "  `tessera-runner check`; feature `runner`);")]
#![cfg_attr(
    feature = "hub",
    doc = "- [`hub_status`]: the hub's standing for the vendor's hub application, asked of the"
)]
#![cfg_attr(
    feature = "hub",
    doc = "  local hub agent over its Unix socket and checked here from the signed evidence (the"
)]
#![cfg_attr(feature = "hub", doc = "  agent's word is not taken; feature `hub`).")]
//!
//! Cargo features, both on by default: `runner` (the runner's check: its sealed cache and
//! every keystore a runner may keep its key in, the kernel keyring, systemd credentials and
//! the Secret Service) and `hub` (the hub agent's status socket). Without them the
//! crate verifies license files and links only the core. No HTTP client, tokio or key-file
//! encryption in any case.
//!
//! Time is always an argument ([`UnixTime`]; [`now`] reads the system clock). The trust set
//! is parsed once ([`TrustSet::parse`]) and reused: compile the vendor's public keys into the
//! product with `include_str!`.
//!
//! ```
//! use tessera::{Status, TrustSet, UnixTime};
//!
//! # let vendor = tessera_testkit::Vendor::new();
//! # let (_, license_text) = vendor.license(3, None);
//! # let trust_text = vendor.trust_text();
//! let trust = TrustSet::parse(trust_text.as_bytes())?;
//! let now = UnixTime::from_unix(1_800_000_000)?;
//! let check = tessera::verify_license(license_text.as_bytes(), &trust, None, now)?;
//! if check.status.permits_running() {
//!     let license = check.license.expect("a valid license has its terms");
//!     println!("licensed to {} for {} runners", license.org, license.runner_limit);
//! }
//! # assert_eq!(check.status, Status::Valid);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "hub")]
mod hub;
#[cfg(feature = "hub")]
mod hub_socket;
mod license;
#[cfg(feature = "runner")]
mod runner;

#[cfg(feature = "hub")]
pub use hub::{HubOptions, HubStatus, Mode, hub_status};
pub use license::{License, LicenseCheck, verify_license};
#[cfg(feature = "runner")]
pub use runner::{Keystore, RunnerCheck, RunnerOptions, runner_check};
pub use tessera_core::time::TimeError;
pub use tessera_core::trust::TrustError;
pub use tessera_core::{Status, TrustSet, UnixTime};

/// The system clock's time now.
pub fn now() -> UnixTime {
    use tessera_core::time::Clock;
    tessera_core::time::SystemClock.now()
}

/// Why a check could not be made at all. A check that was made answers a [`Status`] instead,
/// even when the answer is no.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An argument is not what the call takes (an unknown product id, keystore name…).
    #[error("{what}: {message}")]
    BadArgument {
        /// The argument.
        what: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The trust set text does not parse.
    #[error("trust set: {0}")]
    Trust(#[from] TrustError),
    /// The OS keystore holding the runner's cache key cannot be used.
    #[error("{0}")]
    Keystore(String),
    /// A file of the runner's state could not be read or written.
    #[error("{0}")]
    Io(String),
    /// The hub agent's status socket cannot be reached (not running, or no permission), or
    /// the call's deadline (`HubOptions::timeout`) passed before a whole answer came.
    #[error("the hub agent at {path}: {message}")]
    HubUnreachable {
        /// The socket.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The hub agent answered something that is not a status answer.
    #[error("the hub agent's answer: {0}")]
    BadAnswer(String),
}

impl Error {
    /// A stable code for programs: `bad_argument`, `bad_trust`, `keystore`, `io`,
    /// `hub_unreachable`, `bad_answer`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::BadArgument { .. } => "bad_argument",
            Error::Trust(_) => "bad_trust",
            Error::Keystore(_) => "keystore",
            Error::Io(_) => "io",
            Error::HubUnreachable { .. } => "hub_unreachable",
            Error::BadAnswer(_) => "bad_answer",
        }
    }
}
