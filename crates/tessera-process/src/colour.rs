//! When a binary writes ANSI colour: only to a terminal, and never when `NO_COLOR` holds
//! anything (<https://no-color.org>). A log redirected to a file or read by a log collector
//! stays plain text.
//!
//! The binaries' logs follow this rule (`tessera_process::logging`); clap's help and usage errors
//! follow the same one on their own (terminal and `NO_COLOR`, checked per stream).

use std::ffi::OsStr;
use std::io::IsTerminal;

/// Whether what goes to `stream` may be coloured.
pub fn wanted(stream: &impl IsTerminal) -> bool {
    rule(stream.is_terminal(), std::env::var_os("NO_COLOR").as_deref())
}

/// no-color.org: "present and not an empty string" turns colour off.
fn rule(terminal: bool, no_color: Option<&OsStr>) -> bool {
    terminal && no_color.is_none_or(OsStr::is_empty)
}

#[cfg(test)]
mod tests {
    use super::rule;
    use std::ffi::OsStr;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(rule(true, None));
        assert!(rule(true, Some(OsStr::new(""))));
        assert!(!rule(true, Some(OsStr::new("1"))));
        assert!(!rule(true, Some(OsStr::new("0"))), "any value turns colour off");
        assert!(!rule(false, None));
        assert!(!rule(false, Some(OsStr::new(""))));
    }
}
