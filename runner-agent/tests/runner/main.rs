//! Runner integration tests: a real portal process, a real hub serving its runner API over
//! loopback, runners on the real OS keystores (kernel keyring, Secret Service).

mod concurrency;
mod contexts;
mod credential;
mod helpers;
mod lifecycle;
mod processes;
mod tamper;
