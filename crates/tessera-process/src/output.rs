//! Writing a command's answer (stdout) and its notes (stderr) when the reader may be gone.
//!
//! `println!` panics when stdout is a pipe whose reader has left (`| head -c0`), and the
//! panic hook can only end the program with a guess at its exit code. A command that
//! writes through [`print`] ends with its own code instead: a refusal stays a refusal.

use std::fmt::Display;
use std::io::{self, Write as _};

/// Writes `text` to stdout. A reader that has gone is not an error: the command goes on to
/// its own exit code. Any other failure (a full disk) is returned.
pub fn print(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    // Flushed here: a failure surfaces while the command can still report it.
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        done => done,
    }
}

/// Writes `message` as a line on stderr; a closed stderr is not worth a panic (the note is
/// for a person, and no one is reading).
pub fn note(message: &dyn Display) {
    let _ = writeln!(io::stderr().lock(), "{message}");
}
