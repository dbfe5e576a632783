//! Real OS keystores need a session: a test re-runs itself inside one — `keyctl session -`
//! for the kernel keyring, `dbus-run-session` with an unlocked gnome-keyring in a private
//! HOME for the Secret Service. Without those tools the test says so loudly (and fails
//! under CI).

use std::process::Command;

use crate::process::have;

/// Set inside the session, to the keystore's name.
const INSIDE: &str = "TESSERA_TEST_IN_KEYSTORE_SESSION";

/// A keystore a session can be made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keystore {
    /// The Linux kernel keyring (keyutils).
    KernelKeyring,
    /// The freedesktop Secret Service (gnome-keyring over D-Bus).
    SecretService,
}

impl Keystore {
    /// The keystore's name as the runner's `--keystore` option spells it.
    pub fn name(self) -> &'static str {
        match self {
            Keystore::KernelKeyring => "keyutils",
            Keystore::SecretService => "secret-service",
        }
    }
}

/// Re-runs the calling test inside a session of `keystore`. Returns `true` inside the
/// session (run the test body), `false` in the outer process (the inner run passed, or the
/// tools are missing outside CI).
pub fn in_keystore_session(keystore: Keystore) -> bool {
    if std::env::var_os(INSIDE).is_some() {
        return true;
    }
    let tools: &[(&str, &str)] = match keystore {
        Keystore::KernelKeyring => &[("keyctl", "keyutils")],
        Keystore::SecretService => {
            &[("dbus-run-session", "dbus-x11"), ("gnome-keyring-daemon", "gnome-keyring")]
        }
    };
    if !tools.iter().all(|(tool, package)| have(tool, package)) {
        return false;
    }
    let test = std::thread::current().name().expect("the test's name").to_owned();
    let exe = std::env::current_exe().expect("test binary");
    let home = tempfile::tempdir().expect("home");
    let mut command = match keystore {
        Keystore::KernelKeyring => {
            let mut c = Command::new("keyctl");
            c.args(["session", "-"]).arg(&exe);
            c
        }
        Keystore::SecretService => {
            // A private keyring directory, created and unlocked with a throwaway password.
            let mut c = Command::new("dbus-run-session");
            c.args([
                "--",
                "sh",
                "-c",
                "eval \"$(printf pw | gnome-keyring-daemon --unlock --components=secrets)\" \
                 && export GNOME_KEYRING_CONTROL && exec \"$0\" \"$@\"",
            ])
            .arg(&exe)
            .env("HOME", home.path())
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env("XDG_RUNTIME_DIR", home.path());
            c
        }
    };
    let output = command
        .args(["--exact", &test, "--nocapture", "--test-threads=1"])
        .env(INSIDE, keystore.name())
        .output()
        .expect("re-run the test in a keystore session");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{test} in a {} session failed:\n{stdout}\n{stderr}",
        keystore.name()
    );
    false
}
