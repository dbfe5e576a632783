//! The server keystore: the cache key as a systemd credential. This machine has no systemd
//! as PID 1 and no TPM: the test encrypts with the host key (`systemd-creds encrypt
//! --with-key=host`, as `auto` does without a TPM) and plays systemd's part at run time —
//! decrypting into a directory and setting `CREDENTIALS_DIRECTORY`, as
//! `LoadCredentialEncrypted=` does. The TPM2 binding is not tried here.

use std::path::Path;
use std::process::Command;

use tessera_runner::keystore::{Backend, Keystore, OsKeystore};
use tessera_runner::runner::Runner;
use tessera_testkit::{Ran, have, run};

use crate::helpers::{Site, in_session};

fn runner(state: &Path) -> Command {
    let mut command = tessera_testkit::command("tessera-runner");
    command.arg("--state-dir").arg(state).env_remove("CREDENTIALS_DIRECTORY");
    command
}

/// What systemd does for a unit with `LoadCredentialEncrypted=tessera-runner:CRED`.
fn load_credential(cred: &Path, into: &Path) {
    std::fs::create_dir_all(into).expect("credentials dir");
    let out = Command::new("systemd-creds")
        .args(["decrypt", "--name=tessera-runner"])
        .arg(cred)
        .arg(into.join("tessera-runner"))
        .output()
        .expect("systemd-creds decrypt");
    assert!(out.status.success(), "decrypt: {}", String::from_utf8_lossy(&out.stderr));
}

#[track_caller]
fn status(ran: &Ran) -> String {
    assert!(ran.stderr.is_empty() || ran.code == 0, "{}", ran.stderr);
    ran.status()
}

#[test]
fn a_systemd_credential_keeps_the_key_across_a_reboot() {
    if !have("systemd-creds", "systemd") || !in_session(Backend::Keyutils) {
        return;
    }
    let site = Site::new(2);
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("state");
    let cred = dir.path().join("credstore.encrypted/tessera-runner");
    let install = |extra: &[&str]| {
        let mut c = runner(&state);
        c.args(["--keystore", "systemd-creds", "install", "--hub", &site.hub_url, "--label", "r1"])
            .arg("--trust")
            .arg(site.vendor.trust_path())
            .arg("--credential-out")
            .arg(&cred)
            .args(["--credential-key", "host"])
            .args(extra)
            .env("TESSERA_RUNNER_TOKEN", site.new_token());
        run(&mut c)
    };
    // Installed from a root shell: the key goes only into the encrypted credential.
    install(&[]).ok();
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&cred).expect("credential").permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);

    // Outside a unit that loads it: an error naming the cause and the fix, not a status.
    let ran = run(runner(&state).args(["check", "--json"]))
        .fails(6, "LoadCredentialEncrypted=tessera-runner");
    assert!(ran.stdout.is_empty());

    // Inside one (the keystore recorded at install is used: no --keystore).
    let creds = dir.path().join("run-credentials");
    load_credential(&cred, &creds);
    let in_unit = |args: &[&str]| {
        let mut c = runner(&state);
        c.args(args).env("CREDENTIALS_DIRECTORY", &creds);
        run(&mut c)
    };
    assert_eq!(status(&in_unit(&["check", "--json"])), "valid");
    assert_eq!(status(&in_unit(&["refresh", "--json"])), "valid");
    assert_eq!(status(&in_unit(&["check", "--json"])), "valid");

    // Within a boot, an older genuine copy of the cache is still recognised (the generation
    // lives in the kernel keyring beside the read-only credential).
    let older = std::fs::read(state.join("cache")).expect("cache");
    assert_eq!(status(&in_unit(&["refresh", "--json"])), "valid");
    let newer = std::fs::read(state.join("cache")).expect("cache");
    std::fs::write(state.join("cache"), &older).expect("roll back");
    let ran = in_unit(&["check", "--json"]);
    assert_eq!((ran.code, ran.status()), (22, "tampered".to_owned()), "{}", ran.stdout);
    std::fs::write(state.join("cache"), &newer).expect("restore");
    assert_eq!(status(&in_unit(&["check", "--json"])), "valid");

    // A reboot empties the kernel keyring (the generation goes); the credential stays, and
    // the runner is still valid without its hub.
    OsKeystore::open(Backend::SystemdCreds, &Runner::account(&state))
        .expect("keystore")
        .delete()
        .expect("forget the generation");
    assert_eq!(status(&in_unit(&["check", "--json"])), "valid");
    assert_eq!(status(&in_unit(&["refresh", "--json"])), "valid");
    assert_eq!(status(&in_unit(&["check", "--json"])), "valid");

    // Installing again from a shell does not overwrite the credential, and changes nothing.
    let before = std::fs::read(state.join("cache")).expect("cache");
    install(&[]).fails(6, "--force");
    assert_eq!(std::fs::read(state.join("cache")).expect("cache"), before);
    assert_eq!(status(&in_unit(&["check", "--json"])), "valid");
    // With --force: a new key; a unit still holding the old credential is told to restart.
    install(&["--force"]).ok();
    let ran = in_unit(&["check", "--json"]).fails(6, "restart");
    assert!(ran.stdout.is_empty());
    load_credential(&cred, &creds);
    assert_eq!(status(&in_unit(&["check", "--json"])), "valid");
    // Asking for another keystore: an error naming the installed one.
    in_unit(&["--keystore", "keyutils", "check"]).fails(6, "installed with the systemd-creds");

    // A product checking as another user than the one that installed (and refreshes): the
    // generation lives in each user's own kernel keyring, so it would fall behind the
    // refreshes and turn `tampered`. It is told whose runner this is instead, at once.
    let user = tessera_testkit::FreshUser::new();
    let chown = Command::new("chown").arg("-R").arg(&user.name).arg(dir.path()).status();
    assert!(chown.expect("chown").success());
    let mut as_user = Command::new("runuser");
    as_user
        .args(["-u", &user.name, "--"])
        .arg(tessera_testkit::workspace_binary("tessera-runner"))
        .arg("--state-dir")
        .arg(&state)
        .args(["check", "--json"])
        .env("CREDENTIALS_DIRECTORY", &creds);
    let ran = run(&mut as_user).fails(6, "systemd-creds keystore of uid 0");
    assert!(ran.stdout.is_empty(), "{}", ran.stdout);
}

/// The units in runner-agent/systemd/ pass `systemd-analyze verify` (with the binary's real
/// path in place of /usr/bin/tessera-runner).
#[test]
fn the_shipped_systemd_units_verify() {
    if !have("systemd-analyze", "systemd") {
        return;
    }
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd");
    let dir = tempfile::tempdir().expect("dir");
    let binary = tessera_testkit::workspace_binary("tessera-runner");
    for name in ["tessera-runner-refresh.service", "tessera-runner-refresh.timer"] {
        let text = std::fs::read_to_string(shipped.join(name)).expect("unit");
        let text = text.replace("/usr/bin/tessera-runner", &binary.display().to_string());
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    let drop_in =
        std::fs::read_to_string(shipped.join("product-runner-credential.conf")).expect("drop-in");
    assert!(drop_in.contains("LoadCredentialEncrypted=tessera-runner:"), "{drop_in}");
    for name in ["tessera-runner-refresh.service", "tessera-runner-refresh.timer"] {
        let out = Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(dir.path().join(name))
            .current_dir(dir.path())
            .output()
            .expect("systemd-analyze");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && said.trim().is_empty(), "{name}: {said}");
    }
}
