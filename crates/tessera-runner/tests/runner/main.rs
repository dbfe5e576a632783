//! Runner library tests: a real portal process, a real hub serving its runner API over
//! loopback, runners on the real OS keystores (kernel keyring, Secret Service). The binary's
//! own tests are in runner-agent/tests/binary.

mod concurrency;
mod helpers;
mod lifecycle;
mod secret_service;
mod tamper;
