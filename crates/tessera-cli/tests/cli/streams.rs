//! A reader that leaves early (`tessera verify … | head -c0`, `2>&1 | true`): the command
//! ends with the exit code it would have had, without a panic.

use std::process::{Command, Stdio};

use crate::helpers::Sandbox;

/// The exit code of `command` with stdout and/or stderr on a pipe whose reader has gone.
fn with_closed(mut command: Command, stdout: bool, stderr: bool) -> i32 {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let closed = || Stdio::from(writer.try_clone().expect("pipe"));
    command.stdout(if stdout { closed() } else { Stdio::null() });
    command.stderr(if stderr { closed() } else { Stdio::piped() });
    let output = command.output().expect("run");
    let said = String::from_utf8_lossy(&output.stderr);
    for word in ["panicked", "internal error", "backtrace"] {
        assert!(!said.contains(word), "{said}");
    }
    output.status.code().unwrap_or(-1)
}

#[test]
fn a_closed_pipe_keeps_the_verdicts_exit_code() {
    let sandbox = Sandbox::new();
    sandbox.keygen();
    sandbox.issue("acme.license", &[]);
    sandbox.write("junk.license", "not a license\n");
    let cases: [(&str, &[&str], i32); 4] = [
        (
            "verify of an expired license",
            &["verify", "--trust", "keys/signing.pub", "--at", "2031-06-01", "acme.license"],
            10,
        ),
        (
            "verify of a malformed file",
            &["verify", "--trust", "keys/signing.pub", "junk.license"],
            15,
        ),
        ("inspect of a malformed file", &["inspect", "junk.license"], 15),
        ("verify without its trust file", &["verify", "--trust", "no-such.pub", "acme.license"], 3),
    ];
    for (what, args, code) in cases {
        assert_eq!(sandbox.run(args).code, code, "{what}");
        for (stdout, stderr) in [(true, false), (false, true), (true, true)] {
            assert_eq!(
                with_closed(sandbox.command(args), stdout, stderr),
                code,
                "{what}, closed stdout {stdout}, stderr {stderr}"
            );
        }
    }
}
