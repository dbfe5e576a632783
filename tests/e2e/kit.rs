//! The end-to-end suite's own shorthands over the shared test kit: a hub's and a runner's
//! command on a state directory, also under a moved clock, and the kernel keyring session
//! the runners need.

use std::path::Path;
use std::process::Command;

pub use tessera_testkit::{Daemon, Ran, Vendor, at, command as cmd, have, run};
pub use tessera_testkit::{PortalProcess as Portal, workspace_binary as bin};

/// Re-runs the calling test inside a fresh kernel session keyring (`keyctl session -`),
/// which the runners' keystore needs. `true` inside, `false` outside.
pub fn in_keyring_session() -> bool {
    tessera_testkit::in_keystore_session(tessera_testkit::Keystore::KernelKeyring)
}

/// A hub's `tessera-hub` command on its state directory.
pub fn hub(state: &Path) -> Command {
    let mut command = cmd("tessera-hub");
    command.arg("--state-dir").arg(state);
    command
}

/// A runner's `tessera-runner` command on its state directory, on the kernel keyring.
pub fn runner(state: &Path) -> Command {
    let mut command = cmd("tessera-runner");
    command.arg("--state-dir").arg(state).args(["--keystore", "keyutils"]);
    command
}

/// The same under a moved clock.
pub fn runner_at(offset: &str, state: &Path) -> Command {
    let mut command = at(offset, "tessera-runner");
    command.arg("--state-dir").arg(state).args(["--keystore", "keyutils"]);
    command
}

pub fn hub_at(offset: &str, state: &Path) -> Command {
    let mut command = at(offset, "tessera-hub");
    command.arg("--state-dir").arg(state);
    command
}

/// Both places a machine id is read from, bound to the file `$0`.
const MOUNT_IDS: &str = "mount --bind \"$0\" /etc/machine-id && { [ ! -e /var/lib/dbus/machine-id ] \
     || mount --bind \"$0\" /var/lib/dbus/machine-id; }";

/// `command` as run on another machine: in a mount namespace of its own where
/// `/etc/machine-id` reads `machine_id` (`unshare -m`, then a bind mount). Needs root: where
/// it cannot be made, `None`, after failing under CI and saying so loudly elsewhere.
pub fn on_other_machine(command: &Command, machine_id: &str, dir: &Path) -> Option<Command> {
    let fake = dir.join("other-machine-id");
    std::fs::write(&fake, format!("{machine_id}\n")).expect("machine id");
    let probe = Command::new("unshare")
        .args(["-m", "sh", "-c", &format!("{MOUNT_IDS} && cat /etc/machine-id")])
        .arg(&fake)
        .output();
    let works = probe.as_ref().is_ok_and(|o| {
        o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == machine_id
    });
    if !works {
        let why = probe
            .map_or_else(|e| e.to_string(), |o| String::from_utf8_lossy(&o.stderr).into_owned());
        let message = format!("another machine id needs root (unshare -m, mount --bind): {why}");
        assert!(std::env::var_os("CI").is_none(), "{message}");
        eprintln!("\n!!! NOT RUN: {message}\n");
        return None;
    }
    let mut other = Command::new("unshare");
    other
        .args(["-m", "sh", "-c", &format!("{MOUNT_IDS} && shift && exec \"$@\"")])
        .arg(&fake)
        .arg("--")
        .arg(command.get_program())
        .args(command.get_args());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => other.env(key, value),
            None => other.env_remove(key),
        };
    }
    Some(other)
}
