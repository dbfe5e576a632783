//! What every Tessera binary (`tessera`, `tessera-portal`, `tessera-hub`, `tessera-runner`)
//! does the same way around its own work, in one place:
//!
//! - a failure is one line on stderr, `<binary>: <what is wrong>`, and a documented exit
//!   code ([`Failure`]);
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
//! Each binary keeps its own failure type (in its `error.rs`) with the exit codes it
//! documents, and implements [`Failure`] for it.
#![forbid(unsafe_code)]

pub mod colour;
#[cfg(feature = "logging")]
pub mod logging;
mod output;

use std::fmt::Display;
use std::io::Write as _;
use std::process::ExitCode;

pub use output::{note, print};

/// A failure a binary reports: what to say and how to exit.
pub trait Failure: Display {
    fn exit_code(&self) -> u8;
}

/// Runs a binary's `body` under the shared rules; its `Ok` is the exit code.
pub fn run<F: Failure>(name: &'static str, body: impl FnOnce() -> Result<u8, F>) -> ExitCode {
    install_panic_hook(name);
    match body() {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            say(name, &failure);
            ExitCode::from(failure.exit_code())
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
