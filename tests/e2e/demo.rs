//! The README's "Try it": `demo.sh`, on the binaries this test run built.

use std::process::Command;

use crate::kit::{bin, have};

#[test]
fn the_demo_runs_every_step_and_cleans_up() {
    if !have("keyctl", "keyutils") {
        return;
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let bin_dir = bin("tessera").parent().expect("bin dir").to_owned();
    let tmp = tempfile::tempdir().expect("tmp");
    let output = Command::new("bash")
        .arg(root.join("demo.sh"))
        .env("TESSERA_BIN_DIR", &bin_dir)
        .env("TMPDIR", tmp.path())
        .output()
        .expect("run demo.sh");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    for line in [
        "[1] vendor: make a signing key",
        "portal listening at http://127.0.0.1:",
        "status: valid",
        "r1 check: valid",
        "r2 check: valid",
        "runner_limit_exceeded",
        "runners leased: 2 of 2",
        "demo finished",
    ] {
        assert!(stdout.contains(line), "the demo should print {line:?}:\n{stdout}");
    }
    // It removed its directory.
    assert_eq!(std::fs::read_dir(tmp.path()).expect("tmp").count(), 0, "left files behind");
}
