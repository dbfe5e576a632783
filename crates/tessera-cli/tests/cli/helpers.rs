use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A scratch directory and the binary, run without a terminal and without the caller's
/// passphrase variable.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Sandbox {
    pub fn new() -> Self {
        Sandbox { dir: tempfile::tempdir().expect("tempdir") }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tessera"));
        command
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("TESSERA_PASSPHRASE")
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::null());
        command
    }

    pub fn run(&self, args: &[&str]) -> Run {
        finish(self.command(args).output().expect("run tessera"))
    }

    pub fn run_with_passphrase(&self, passphrase: &str, args: &[&str]) -> Run {
        finish(
            self.command(args).env("TESSERA_PASSPHRASE", passphrase).output().expect("run tessera"),
        )
    }

    /// A plain (unencrypted) key pair in `keys/`.
    pub fn keygen(&self) -> Run {
        self.run(&["keygen", "--out-dir", "keys", "--no-passphrase"]).ok()
    }

    /// Issues the standard test license to `file`.
    pub fn issue(&self, file: &str, extra: &[&str]) -> Run {
        let mut args = vec![
            "issue",
            "--key",
            "keys/signing.key",
            "--org",
            "Acme Corp",
            "--product",
            "acme-hub",
            "--runners",
            "5",
            "--expires",
            "2030-12-31",
            "--out",
            file,
        ];
        args.extend_from_slice(extra);
        self.run(&args).ok()
    }

    /// The arguments of the smallest `issue` command, signing with `key` into `out`.
    pub fn minimal_issue<'a>(key: &'a str, out: &'a str) -> Vec<&'a str> {
        vec![
            "issue",
            "--key",
            key,
            "--org",
            "A",
            "--product",
            "p",
            "--runners",
            "1",
            "--expires",
            "2030-01-01",
            "--out",
            out,
        ]
    }

    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, bytes).expect("write");
        path
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).expect("read")
    }

    pub fn exists(&self, name: &str) -> bool {
        Path::new(&self.path(name)).exists()
    }
}

fn finish(output: Output) -> Run {
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

impl Run {
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "expected success:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    /// A failure a user caused: the documented code and exactly one line on stderr that
    /// says what is wrong, never a panic or backtrace.
    #[track_caller]
    pub fn fails(self, code: i32, mentions: &str) -> Self {
        assert_eq!(self.code, code, "stdout: {}\nstderr: {}", self.stdout, self.stderr);
        assert_eq!(self.stderr.lines().count(), 1, "one line on stderr: {:?}", self.stderr);
        assert!(self.stderr.starts_with("tessera: "), "{:?}", self.stderr);
        assert!(self.stderr.contains(mentions), "{:?} should mention {mentions:?}", self.stderr);
        assert_no_panic(&self);
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }
}

#[track_caller]
pub fn assert_no_panic(run: &Run) {
    for word in ["panicked", "backtrace", "RUST_BACKTRACE", "internal error"] {
        assert!(!run.stderr.contains(word), "{word} in stderr: {}", run.stderr);
    }
}
