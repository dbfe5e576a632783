//! Where the binaries write and what a redirected or closed stream does to them: colour only
//! on a terminal and without `NO_COLOR`, logs that a closed stderr cannot turn into a panic,
//! and exit codes that a reader leaving early (`| head -c0`) does not change.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::kit::{Portal, Vendor, bin, cmd, have, hub, run};

const ESC: u8 = 0x1b;

/// Runs a server (`tessera-hub run`, `tessera-portal serve`) with stderr into `log` until
/// it announces its address, then stops it with SIGTERM; returns what it logged.
fn logged_until_listening(mut command: Command, prefix: &str, log: &Path) -> Vec<u8> {
    let file = std::fs::File::create(log).expect("log file");
    let mut child = command.stdout(Stdio::piped()).stderr(file).spawn().expect("spawn");
    tessera_testkit::process::announced(&mut child, prefix);
    assert!(
        tessera_testkit::process::terminate(&mut child).success(),
        "{prefix} did not stop cleanly"
    );
    std::fs::read(log).expect("log")
}

/// A hub daemon on a fresh state directory: it logs at `info` as it starts.
fn hub_run(state: &Path) -> Command {
    let mut command = hub(state);
    command.args(["run", "--runner-listen", "127.0.0.1:0"]).env("TESSERA_LOG", "info");
    command
}

/// A portal on a fresh data directory: it logs at `info` (and warns that it has no trust
/// set yet) as it starts.
fn portal_serve(data: &Path) -> Command {
    let mut command = cmd("tessera-portal");
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .env("TESSERA_LOG", "info");
    command
}

#[test]
fn logs_redirected_to_a_file_hold_no_colour() {
    let dir = tempfile::tempdir().expect("dir");
    for (what, command, prefix) in [
        ("tessera-hub run", hub_run(&dir.path().join("hub")), "runners: listening on "),
        ("tessera-portal serve", portal_serve(&dir.path().join("portal")), "listening on "),
    ] {
        let log = logged_until_listening(command, prefix, &dir.path().join("log"));
        let text = String::from_utf8_lossy(&log);
        assert!(text.contains("INFO"), "{what} logged nothing to test: {text}");
        assert!(!log.contains(&ESC), "{what} wrote colour into a file: {text:?}");
    }
    // A usage error from each binary's argument parser, too.
    for name in ["tessera", "tessera-hub", "tessera-portal", "tessera-runner"] {
        let ran = run(cmd(name).arg("--no-such-option"));
        assert_eq!(ran.code, 2, "{name}: {}", ran.stderr);
        assert!(!ran.stderr.contains(ESC as char), "{name} coloured a redirected error");
    }
}

/// What `script` (a pseudo-terminal) shows of `shell_command`, with `NO_COLOR=1` or without
/// `NO_COLOR`.
fn on_a_terminal(dir: &Path, shell_command: &str, no_color: bool) -> Vec<u8> {
    let script = dir.join("on-a-terminal.sh");
    std::fs::write(&script, shell_command).expect("script");
    let mut command = Command::new("script");
    command
        .args(["-qec", &format!("sh {}", script.display()), "/dev/null"])
        .env("TESSERA_HUB_HOST_SECRET", tessera_testkit::process::host_secret_path());
    if no_color {
        command.env("NO_COLOR", "1");
    } else {
        command.env_remove("NO_COLOR");
    }
    let output = command.stdin(Stdio::null()).output().expect("script");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));
    output.stdout
}

#[test]
fn on_a_terminal_colour_is_on_unless_no_color_is_set() {
    if !have("script", "bsdutils") {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    // stderr on the terminal; the announced address goes to a file the script waits for.
    let server = |name: &str, args: &str, data: &str| {
        format!(
            "rm -f '{d}/{name}.out'\n\
             TESSERA_LOG=info '{}' {args} '{}' > '{d}/{name}.out' & pid=$!\n\
             until grep -q listening '{d}/{name}.out' 2>/dev/null; do sleep 0.05; done\n\
             kill -TERM $pid; wait $pid\n",
            bin(name).display(),
            dir.path().join(data).display(),
            d = dir.path().display(),
        )
    };
    let cases = [
        (
            "tessera-hub run",
            server("tessera-hub", "run --runner-listen 127.0.0.1:0 --state-dir", "hub"),
            "INFO",
        ),
        (
            "tessera-portal serve",
            server("tessera-portal", "serve --listen 127.0.0.1:0 --data-dir", "portal"),
            "INFO",
        ),
        (
            "tessera usage error",
            format!("'{}' --no-such-option\ntest $? = 2\n", bin("tessera").display()),
            "error:",
        ),
    ];
    for (what, shell_command, said) in cases {
        let coloured = on_a_terminal(dir.path(), &shell_command, false);
        assert!(
            coloured.contains(&ESC),
            "{what} on a terminal has no colour: {}",
            String::from_utf8_lossy(&coloured)
        );
        let plain = on_a_terminal(dir.path(), &shell_command, true);
        let text = String::from_utf8_lossy(&plain);
        assert!(text.contains(said), "{what} did not say {said:?}: {text}");
        assert!(!plain.contains(&ESC), "{what} coloured its output under NO_COLOR: {text:?}");
    }
}

/// Runs `command` with stdout and/or stderr on a pipe whose reader has gone; its exit code.
/// A stderr left open is read, and must not tell of a panic.
fn with_closed(mut command: Command, stdout: bool, stderr: bool) -> i32 {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let closed = || Stdio::from(writer.try_clone().expect("pipe"));
    command.stdin(Stdio::null());
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
fn a_reader_that_left_changes_no_exit_code_and_debug_logs_on_a_closed_stderr_do_not_panic() {
    let vendor = Vendor::keygen();
    let portal = Portal::start(&vendor);
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("hub");
    let license = vendor.issue(
        "acme.license",
        2,
        &[
            "--portal-url",
            &portal.url,
            "--register",
            &portal.url,
            "--api-key-file",
            portal.api_key_file.to_str().expect("path"),
        ],
    );
    run(hub(&state)
        .args(["activate", "--license"])
        .arg(&license)
        .arg("--trust")
        .arg(vendor.trust_path()))
    .ok();
    let ping = || {
        let mut command = hub(&state);
        command.arg("ping").env("TESSERA_LOG", "debug");
        command
    };
    // `TESSERA_LOG=debug tessera-hub ping 2>&1 | true`, and each stream alone.
    for (stdout, stderr) in [(true, true), (false, true), (true, false)] {
        assert_eq!(
            with_closed(ping(), stdout, stderr),
            0,
            "closed stdout {stdout}, stderr {stderr}"
        );
    }
    let status = |state: &Path| {
        let mut command = hub(state);
        command.args(["status", "--json"]);
        command
    };
    assert_eq!(with_closed(status(&state), true, true), 0);
    // A hub that is not activated answers `no_license` (23) whoever reads it: a closed pipe
    // must not turn the refusal into a success.
    let fresh = dir.path().join("fresh");
    assert_eq!(run(&mut status(&fresh)).code, 23);
    assert_eq!(with_closed(status(&fresh), true, false), 23);
    assert_eq!(with_closed(status(&fresh), true, true), 23);
    // The note after a new runner token goes to a closed stderr: the token was made and
    // shown, so the command succeeded.
    let mut token = hub(&state);
    token.arg("runner-token");
    assert_eq!(with_closed(token, false, true), 0, "runner-token with a closed stderr");
    // A full disk is a failure to say so, with the documented code for what cannot be written.
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full");
    run(hub(&state).arg("status").stdout(full)).fails(3, "standard output");
}
