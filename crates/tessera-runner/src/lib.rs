//! Tessera's runner, as a library: the vendor's runner code calls
//! [`runner::Runner::check`] before each job; the `tessera-runner` binary (runner-agent/) is
//! a thin shell over it.
//!
//! Where things are:
//! - the runner decides in [`check::decide`], offline, from the sealed cache (whether the
//!   portal countersigned it: `countersignature`);
//! - the cache file and its HMAC seal are [`cache`]; its key lives in the OS [`keystore`],
//!   the one recorded at install ([`installation`]);
//! - install, refresh and check are [`runner::Runner`]; the hub client is `hub`;
//! - the machine a lease is bound to is [`machine`].
//!
//! Feature `refresh` (default): installing from and refreshing with a hub over HTTP(S)
//! (`Runner::install_from_hub`, `refresh`, `release`; the `hub` client). Without it the
//! library checks, installs bundle files and links no HTTP client or async runtime.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cache;
pub mod check;
mod countersignature;
#[cfg(feature = "refresh")]
pub mod hub;
pub mod installation;
pub mod keystore;
pub mod machine;
pub mod runner;
