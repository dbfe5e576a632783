//! Tessera's hub agent, as a library: the `tessera-hub` binary is a thin shell over it.
//!
//! Where things are:
//! - the host is read and fingerprinted in [`host`];
//! - activation (online and offline), pings and the hub's own status decision are in
//!   [`agent`] ([`agent::Hub::status`] is where the hub decides, through
//!   `tessera_core::standing`); runner slots are granted to runner keys in [`slots`];
//! - the state directory (atomic 0600 files under a lock) is [`state`]; the audit ledger
//!   heads the portal's receipts carry are kept in [`heads`];
//! - the vendor's hub application asks the agent over the Unix socket in [`local`];
//! - the portal client is [`portal`]; the runners' HTTP API is [`runners`];
//! - the daemon's schedule (jitter, backoff, shutdown) is [`daemon`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod agent;
pub mod countersign;
pub mod daemon;
pub mod heads;
pub mod host;
pub mod local;
pub mod portal;
pub mod runners;
pub mod slots;
pub mod state;

/// The vendor trust set compiled into this build (`TESSERA_HUB_TRUST_FILE` at build time),
/// empty when none was.
pub const BUILTIN_TRUST: &str = include_str!(concat!(env!("OUT_DIR"), "/builtin_trust.pub"));
