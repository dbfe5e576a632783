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
