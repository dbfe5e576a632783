//! Checks while refreshes run: a reader sees the old cache or the new, never a mix of one's
//! file with the other's keystore generation. Two real processes (the `checks` example: the
//! library's check in a loop, as a busy product calls it) beside a stream of refreshes.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use tessera_runner::keystore::Backend;

use crate::helpers::{Site, in_session, runner};

/// Checks per process.
const CHECKS: u64 = 50_000;
/// At least this many refreshes run while the checks do.
const REFRESHES: usize = 200;

/// An example binary of this package (cargo builds them for `cargo test`).
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let path =
        exe.parent().and_then(|p| p.parent()).expect("target dir").join("examples").join(name);
    assert!(
        path.exists(),
        "{} is missing: `cargo test -p tessera-runner` builds it",
        path.display()
    );
    path
}

#[test]
fn a_hundred_thousand_checks_beside_refreshes_all_say_valid() {
    if !in_session(Backend::Keyutils) {
        return;
    }
    let site = Site::new(2);
    let dir = tempfile::tempdir().expect("dir");
    let (runner, _clock) = runner(dir.path(), Backend::Keyutils);
    site.install(&runner, "r1").expect("install");

    let checks = example("checks");
    let mut children: Vec<Child> = (0..2)
        .map(|_| {
            Command::new(&checks)
                .arg(dir.path())
                .arg("keyutils")
                .arg(CHECKS.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start the checks")
        })
        .collect();
    let mut refreshes = 0;
    while refreshes < REFRESHES
        || children.iter_mut().any(|c| c.try_wait().expect("wait").is_none())
    {
        let decision = runner.refresh(None).expect("refresh");
        assert_eq!(decision.status, tessera_core::Status::Valid, "{decision:?}");
        refreshes += 1;
    }
    for child in children {
        let output = child.wait_with_output().expect("checks");
        let said = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{said}\n{}", String::from_utf8_lossy(&output.stderr));
        assert_eq!(said.trim(), format!("valid {CHECKS}"), "beside {refreshes} refreshes");
    }
    eprintln!("{} checks beside {refreshes} refreshes: all valid", 2 * CHECKS);
}
