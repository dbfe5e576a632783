//! What every Tessera binary (`tessera`, `tessera-portal`, `tessera-hub`, `tessera-runner`)
//! does the same way around its own work, in one place:
//!
//! - a failure is one line on stderr, `<binary>: <what is wrong>`, and a documented exit
//!   code: one shape for every binary, [`Failure`];
//! - a bug (a panic) is one line too, `<binary>: internal error (please report it): …`,
//!   never a backtrace;
//! - a command's answer goes out through [`print()`]: a reader that has gone
//!   (`tessera-hub status --json | head -c0`) changes nothing, and the command ends with its
//!   own exit code (a refusal stays a refusal); notes go out through [`note`], which a
//!   closed stderr does not stop;
//! - a `println!` left on a closed standard output ends the program quietly with code 0, as
//!   ripgrep does: the reader has what it wanted;
//! - colour only on a terminal and without `NO_COLOR` ([`colour`]), and the logs of the
//!   binaries that log set up once (feature `logging`: `tessera_process::logging`).
//!
//! Each binary keeps, in its `error.rs`, the table of exit codes it documents and which code
//! each error of its libraries is ([`Classify`]).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod colour;
#[cfg(feature = "logging")]
pub mod logging;
mod output;

use std::fmt::Display;
use std::io::Write as _;
use std::process::ExitCode;

pub use output::{note, print};

/// What a binary failed with: the one line it says on stderr and the code it exits with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The exit code.
    pub code: u8,
    /// The one line said on stderr.
    pub message: String,
}

impl Failure {
    /// A failure with `code`: one of the binary's documented exit codes (its `Exit` table,
    /// or a license status's code).
    pub fn new(code: impl Into<u8>, message: impl Display) -> Self {
        Failure { code: code.into(), message: message.to_string() }
    }
}

impl Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Which failure an error of a library is, as one binary documents it: implemented by the
/// binary's table of exit codes for each error it reports (`.map_err(Exit::failure)?`).
pub trait Classify<E> {
    /// The failure `error` is.
    fn failure(error: E) -> Failure;
}

/// Runs a binary's `body` under the shared rules; its `Ok` is the exit code.
pub fn run<F: Into<Failure>>(name: &'static str, body: impl FnOnce() -> Result<u8, F>) -> ExitCode {
    install_panic_hook(name);
    match body().map_err(Into::into) {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            say(name, &failure);
            ExitCode::from(failure.code)
        }
    }
}

/// Writes `<name>: <message>` on stderr; a closed stderr is not worth a panic.
pub fn say(name: &str, message: &dyn Display) {
    let _ = writeln!(std::io::stderr().lock(), "{name}: {message}");
}

/// Panics become one line; a panic from printing to a closed stdout ends the program
/// quietly.
pub fn install_panic_hook(name: &'static str) {
    std::panic::set_hook(Box::new(move |info| {
        let payload = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if is_closed_stdout(payload) {
            std::process::exit(0);
        }
        say(name, &format_args!("internal error (please report it): {info}"));
    }));
}

/// Whether a panic message is `println!`'s on a closed pipe.
fn is_closed_stdout(message: &str) -> bool {
    message.starts_with("failed printing to stdout") && message.contains("Broken pipe")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_broken_pipe_on_stdout_is_quiet() {
        assert!(is_closed_stdout("failed printing to stdout: Broken pipe (os error 32)"));
        assert!(!is_closed_stdout("failed printing to stdout: No space left on device"));
        assert!(!is_closed_stdout("index out of bounds"));
    }
}
