//! Hub integration tests: real portal process on loopback, real state directories, real
//! binaries; time driven through the hub library's injected clock.

mod fingerprint;
mod helpers;
mod hostile;
mod offline;
mod online;
mod processes;
mod runners;
mod status_socket;
