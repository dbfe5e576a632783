//! The same runner checked from every context a product is started in — a process with no
//! keyring session of its own (systemd, cron, a container's entry point), a fresh session
//! (`keyctl session -`), `setsid`, `env -i`, a D-Bus session or none, `runuser`, `su -`,
//! `setpriv` and a fresh user — answers as in a login shell, or with an error that names the
//! cause and the fix; never a status that blames the license.
//!
//! These tests do not run inside a keystore session: the contexts are made here.

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use tessera_testkit::{FreshUser, Ran, have, run, workspace_binary};

use crate::helpers::Site;

/// `tessera-runner` with `args`, started through `wrapper` (a context), none of the caller's
/// Tessera settings.
fn in_context(wrapper: &[&str], args: &[OsString]) -> Command {
    let binary = workspace_binary("tessera-runner");
    let mut command = match wrapper.split_first() {
        Some((program, rest)) => {
            let mut c = Command::new(program);
            c.args(rest).arg(&binary);
            c
        }
        None => Command::new(&binary),
    };
    command.args(args);
    for var in ["TESSERA_RUNNER_KEYSTORE", "TESSERA_RUNNER_STATE_DIR", "TESSERA_RUNNER_TRUST"] {
        command.env_remove(var);
    }
    command.env_remove("DBUS_SESSION_BUS_ADDRESS");
    command
}

fn args(state: &Path, rest: &[&str]) -> Vec<OsString> {
    let mut all = vec![OsString::from("--state-dir"), state.as_os_str().to_owned()];
    all.extend(rest.iter().map(OsString::from));
    all
}

#[track_caller]
fn says_valid(what: &str, ran: Ran) {
    assert_eq!(ran.code, 0, "{what}: {}\n{}", ran.stdout, ran.stderr);
    assert_eq!(ran.status(), "valid", "{what}: {}", ran.stdout);
}

/// The contexts a product's process may be started in, as root (joining root's user-session
/// keyring `_uid_ses.0` makes a process with no session keyring of its own).
const CONTEXTS: &[(&str, &[&str])] = &[
    ("a login-like shell", &[]),
    ("no keyring session of its own", &["keyctl", "session", "_uid_ses.0"]),
    ("a fresh session keyring", &["keyctl", "session", "-"]),
    ("setsid", &["setsid", "--wait"]),
    ("env -i", &["env", "-i"]),
    (
        "setsid, env -i, no session",
        &["setsid", "--wait", "env", "-i", "keyctl", "session", "_uid_ses.0"],
    ),
    ("runuser (PAM, pam_keyinit)", &["runuser", "-u", "root", "--"]),
];

#[test]
fn the_binary_answers_the_same_from_every_context() {
    assert!(
        rustix::process::geteuid().is_root(),
        "the contexts (runuser -u root, root's _uid_ses.0) are root's: run as root (CI does)"
    );
    if !have("keyctl", "keyutils") {
        return;
    }
    let site = Site::new(2);
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("state");
    let token = dir.path().join("token");
    std::fs::write(&token, site.new_token()).expect("token");
    // Installed from a session that ends (an installer's shell)...
    let mut install = args(&state, &["--keystore", "keyutils", "install", "--hub", &site.hub_url]);
    install.extend(["--label".into(), "r1".into(), "--token-file".into(), token.into()]);
    install.extend(["--trust".into(), site.vendor.trust_path().into()]);
    run(&mut in_context(&["keyctl", "session", "-"], &install)).ok();

    // ...checked from every other context: the first check of each fresh process is right.
    for (what, wrapper) in CONTEXTS {
        says_valid(what, run(&mut in_context(wrapper, &args(&state, &["check", "--json"]))));
    }
    // A D-Bus session bus in the environment does not send the check to another keystore.
    let mut with_dbus = in_context(&[], &args(&state, &["check", "--json"]));
    with_dbus.env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus");
    says_valid("a D-Bus session", run(&mut with_dbus));
    // A refresh from a context with no session of its own works too, and so does the check
    // after it.
    run(&mut in_context(&["keyctl", "session", "_uid_ses.0"], &args(&state, &["refresh"]))).ok();
    says_valid(
        "after a refresh",
        run(&mut in_context(&["setsid", "--wait"], &args(&state, &["check", "--json"]))),
    );

    // Asking for another keystore than the one installed: an error naming both, never a
    // status.
    let asked = args(&state, &["--keystore", "secret-service", "check", "--json"]);
    let ran = run(&mut in_context(&[], &asked)).fails(6, "installed with the keyutils keystore");
    assert!(ran.stdout.is_empty(), "no status: {}", ran.stdout);
}

#[test]
fn a_fresh_user_gets_the_same_answer_from_every_context() {
    assert!(
        rustix::process::geteuid().is_root(),
        "this test makes a user: run it as root (CI does)"
    );
    if !have("keyctl", "keyutils") || !have("setpriv", "util-linux") {
        return;
    }
    let site = Site::new(2);
    let user = FreshUser::new();
    // Not under /tmp, whose mode other tests' hubs may have narrowed: a directory the user
    // can reach through every parent.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let home = user.owned_dir(dir.path(), "home");
    let state = home.join("state");
    let trust = dir.path().join("vendor.pub");
    std::fs::write(&trust, site.vendor.trust_text()).expect("trust");
    let token = home.join("token");
    std::fs::write(&token, site.new_token()).expect("token");
    user.chown(&token);

    let as_user: &[&str] = &["runuser", "-u", &user.name, "--"];
    let mut install = args(&state, &["--keystore", "keyutils", "install", "--hub", &site.hub_url]);
    install.extend(["--label".into(), "u1".into(), "--token-file".into(), token.into()]);
    install.extend(["--trust".into(), trust.into()]);
    run(&mut in_context(as_user, &install)).ok();

    let uid = user.uid.to_string();
    let user_session = format!("_uid_ses.{uid}");
    let contexts: Vec<(&str, Vec<&str>)> = vec![
        ("runuser", as_user.to_vec()),
        ("runuser, env -i", [as_user, &["env", "-i"]].concat()),
        (
            "runuser, setsid, no session",
            [as_user, &["setsid", "--wait", "keyctl", "session", &user_session]].concat(),
        ),
        ("su -", vec!["su", "--shell", "/bin/sh", "--login", &user.name, "--command"]),
        // The root's session keyring, which the user may not search.
        ("setpriv", vec!["setpriv", "--reuid", &uid, "--regid", &uid, "--clear-groups"]),
    ];
    for (what, wrapper) in &contexts {
        let ran = if *what == "su -" {
            // su runs one shell command line.
            let line = format!(
                "{} --state-dir {} check --json",
                workspace_binary("tessera-runner").display(),
                state.display()
            );
            run(Command::new(wrapper[0]).args(&wrapper[1..]).arg(line))
        } else {
            run(&mut in_context(wrapper, &args(&state, &["check", "--json"])))
        };
        says_valid(what, ran);
    }

    // Root checking the user's runner cannot see the user's keystore: it says so, and whose.
    let ran = run(&mut in_context(&[], &args(&state, &["check", "--json"])));
    let ran = ran.fails(6, &format!("keyutils keystore of uid {uid}"));
    assert!(ran.stdout.is_empty(), "no status: {}", ran.stdout);
}

/// Installed where a D-Bus session was (so in the Secret Service), checked where none is (a
/// cron job): an error naming the Secret Service and the fix, never `no_license` from a look
/// into another keystore.
#[test]
fn a_runner_installed_with_a_d_bus_session_is_not_looked_for_elsewhere_without_one() {
    if !crate::helpers::in_session(tessera_runner::keystore::Backend::SecretService) {
        return;
    }
    let site = Site::new(2);
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("state");
    let bus = std::env::var("DBUS_SESSION_BUS_ADDRESS").expect("the session's bus");
    let token = dir.path().join("token");
    std::fs::write(&token, site.new_token()).expect("token");
    // No --keystore: the default where a D-Bus session is, the Secret Service.
    let mut install = args(&state, &["install", "--hub", &site.hub_url, "--label", "r1"]);
    install.extend(["--token-file".into(), token.into()]);
    install.extend(["--trust".into(), site.vendor.trust_path().into()]);
    run(in_context(&[], &install).env("DBUS_SESSION_BUS_ADDRESS", &bus)).ok();
    let check = args(&state, &["check", "--json"]);
    let with_bus = run(in_context(&[], &check).env("DBUS_SESSION_BUS_ADDRESS", &bus));
    says_valid("with the D-Bus session", with_bus);
    for (what, wrapper) in [("no D-Bus session", &[][..]), ("env -i", &["env", "-i"][..])] {
        let ran = run(&mut in_context(wrapper, &check));
        assert_eq!(ran.code, 6, "{what}: {}\n{}", ran.stdout, ran.stderr);
        assert!(ran.stdout.is_empty(), "{what}: no status: {}", ran.stdout);
        let said = &ran.stderr;
        assert!(said.contains("secret-service keystore is not available"), "{what}: {said}");
    }
}
