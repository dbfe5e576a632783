//! Tessera's runner agent, as a library: the vendor's runner code calls
//! [`runner::Runner::check`] before each job; the `tessera-runner` binary is a thin shell.
//!
//! Where things are:
//! - the runner decides in [`check::decide`], offline, from the sealed cache;
//! - the cache file and its HMAC seal are [`cache`]; its key lives in the OS [`keystore`],
//!   the one recorded at install ([`installation`]);
//! - install, refresh and check are [`runner::Runner`]; the hub client is [`hub`].
#![forbid(unsafe_code)]

pub mod cache;
pub mod check;
pub mod hub;
pub mod installation;
pub mod keystore;
pub mod runner;
