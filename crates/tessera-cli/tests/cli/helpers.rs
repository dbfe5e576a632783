use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A scratch directory and the binary, run without a terminal and without the caller's
/// passphrase variable.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
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
        tessera_testkit::run(&mut self.command(args))
    }

    pub fn run_with_passphrase(&self, passphrase: &str, args: &[&str]) -> Run {
        tessera_testkit::run(self.command(args).env("TESSERA_PASSPHRASE", passphrase))
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

/// The CLI's tests assert on the shared kit's record of a finished command.
pub type Run = tessera_testkit::Ran;

#[track_caller]
pub fn assert_no_panic(run: Run) -> Run {
    run.no_panic()
}
