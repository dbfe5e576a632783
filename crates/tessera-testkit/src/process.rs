//! The workspace's real binaries, as separate processes: found beside the test executable
//! (cargo builds every package's binaries before any test of `cargo test --workspace`
//! runs), started without the caller's Tessera settings, with what they said kept.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// Variables that would leak the caller's settings into a test's commands.
const CALLER_VARIABLES: &[&str] = &[
    "TESSERA_PASSPHRASE",
    "TESSERA_API_KEY",
    "TESSERA_CONFIG",
    "TESSERA_DATABASE_URL",
    "TESSERA_DATA_DIR",
    "TESSERA_HUB_TRUST",
    "TESSERA_HUB_STATE_DIR",
    "TESSERA_RUNNER_TRUST",
    "TESSERA_RUNNER_TOKEN",
    "TESSERA_RUNNER_STATE_DIR",
    "TESSERA_RUNNER_KEYSTORE",
];

/// A workspace binary, next to the test executable's `deps/` directory.
pub fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    // target/<profile>/deps/test-… → target/<profile>/<name>
    let path = exe.parent().and_then(Path::parent).map(|dir| dir.join(name)).expect("target dir");
    assert!(
        path.exists(),
        "{} is missing: these tests run the real binary; run them with `cargo test --workspace`",
        path.display()
    );
    path
}

/// A command for a workspace binary: logs at `warn`, none of the caller's Tessera variables.
pub fn command(name: &str) -> Command {
    let mut command = Command::new(workspace_binary(name));
    quiet(&mut command);
    command
}

fn quiet(command: &mut Command) {
    command.env("TESSERA_LOG", "warn");
    for var in CALLER_VARIABLES {
        command.env_remove(var);
    }
    command.env("TESSERA_HUB_HOST_SECRET", host_secret_path());
}

/// Where hubs run by a test keep their fingerprint secret: in the temporary directory, not
/// in the machine's own place; one per test process, the same "machine" for all its hubs.
pub fn host_secret_path() -> PathBuf {
    // In a directory of its own: a hub makes the secret's directory private (0700), which
    // must not be the shared temporary directory itself.
    std::env::temp_dir().join(format!("tessera-test-{}", std::process::id())).join("host.secret")
}

/// The same command with the clock moved by `offset` (libfaketime syntax: "+3h", "-2h",
/// "+8d", "+400d").
pub fn at(offset: &str, name: &str) -> Command {
    let mut command = Command::new("faketime");
    command.args(["-f", offset]).arg(workspace_binary(name));
    quiet(&mut command);
    command
}

/// What a finished command said.
#[derive(Debug)]
pub struct Ran {
    /// The program's file name (`tessera-hub`, `faketime`, …).
    pub program: String,
    /// The exit code (-1 when killed by a signal).
    pub code: i32,
    /// What it printed on standard output.
    pub stdout: String,
    /// What it printed on standard error.
    pub stderr: String,
}

impl Ran {
    /// What `command` said when it finished with `output`.
    pub fn of(command: &Command, output: Output) -> Self {
        let program = Path::new(command.get_program())
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Output { status, stdout, stderr } = output;
        Ran {
            program,
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }

    /// Asserts success.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "expected success:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    /// Standard output parsed as JSON; panics with both streams if it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", self.stdout, self.stderr))
    }

    /// The status word of a `--json` answer.
    pub fn status(&self) -> String {
        self.json()["status"].as_str().unwrap_or_default().to_owned()
    }

    /// A user mistake: this exit code and exactly one line on stderr, from the program
    /// (`tessera-hub: …`), that mentions what is wrong; never a panic or a backtrace.
    #[track_caller]
    pub fn fails(self, code: i32, mentions: &str) -> Self {
        assert_eq!(self.code, code, "stdout: {}\nstderr: {}", self.stdout, self.stderr);
        assert_eq!(self.stderr.trim_end().lines().count(), 1, "one line: {:?}", self.stderr);
        if self.program.starts_with("tessera") {
            let prefix = format!("{}: ", self.program);
            assert!(self.stderr.starts_with(&prefix), "{:?} should start {prefix:?}", self.stderr);
        }
        assert!(self.stderr.contains(mentions), "{:?} should mention {mentions:?}", self.stderr);
        self.no_panic()
    }

    /// Asserts that nothing on stderr looks like a panic or a backtrace.
    #[track_caller]
    pub fn no_panic(self) -> Self {
        for word in ["panicked", "backtrace", "RUST_BACKTRACE", "internal error"] {
            assert!(!self.stderr.contains(word), "{word} in stderr: {}", self.stderr);
        }
        self
    }
}

/// Runs `command` to the end.
pub fn run(command: &mut Command) -> Ran {
    let output = command.output().expect("run");
    Ran::of(command, output)
}

/// Whether a tool is on the PATH; under CI a missing tool fails the test, elsewhere the test
/// says loudly that it did not run.
pub fn have(tool: &str, package: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        let message = format!("{tool} is not installed (Debian: apt-get install {package})");
        assert!(std::env::var_os("CI").is_none(), "{message}");
        eprintln!("\n!!! NOT RUN: {message}\n");
    }
    found
}

/// Waits until `f` holds (up to 10 s).
pub fn eventually(mut f: impl FnMut() -> bool) -> bool {
    for _ in 0..100 {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// Reads a child's first line of standard output and strips `prefix` from it: the
/// address a server announces it listens on.
pub fn announced(child: &mut Child, prefix: &str) -> String {
    let stdout = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("the announcing line");
    line.trim()
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned()
}

/// Sends SIGTERM to a child and waits for it.
pub fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    child.wait().expect("wait")
}

/// A background process that prints its listening address as its first line; killed when
/// dropped.
pub struct Daemon {
    child: Child,
    /// The address the process printed, without the prefix.
    pub address: String,
}

impl Daemon {
    /// Starts `command`, reads its first line, strips `prefix`.
    pub fn start(mut command: Command, prefix: &str) -> Self {
        let mut child =
            command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("spawn");
        let address = announced(&mut child, prefix);
        Daemon { child, address }
    }

    /// SIGTERM and wait.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let status = terminate(&mut self.child);
        std::mem::forget(self);
        status
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
