//! The `tessera-runner` binary's tests: the real process as the vendor's runner scripts and
//! systemd units run it, against a real portal and hub, on the real OS keystores. The site
//! and sessions are the library's test helpers (crates/tessera-runner/tests/runner).

mod contexts;
mod credential;
#[allow(dead_code)]
#[path = "../../../crates/tessera-runner/tests/runner/helpers.rs"]
mod helpers;
mod processes;
