//! The logs of the binaries that log (`tessera-portal`, `tessera-hub`): on stderr, at the
//! level `TESSERA_LOG` names (else the binary's default), coloured only by the
//! [`crate::colour`] rule. A log line that cannot be written (stderr closed: `2>&1 | true`)
//! is dropped without a word: the subscriber's own complaint would be printed with
//! `eprintln!`, which panics on the same closed stream.

use std::io;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::SubscriberBuilder;
use tracing_subscriber::fmt::format::{DefaultFields, Format};

/// The log subscriber, ready for `.init()` (or `.json().init()`).
pub type Logs = SubscriberBuilder<DefaultFields, Format, EnvFilter, fn() -> io::Stderr>;

/// The shared log setup; `default` is the filter when `TESSERA_LOG` is unset or unreadable
/// (`"info"`, `"warn"`).
pub fn logs(default: &str) -> Logs {
    let filter = EnvFilter::try_from_env("TESSERA_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let stderr: fn() -> io::Stderr = io::stderr;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(crate::colour::wanted(&io::stderr()))
        .log_internal_errors(false)
        .with_writer(stderr)
}
