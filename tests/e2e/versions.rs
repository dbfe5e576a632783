//! One version: `scripts/check-versions.sh` passes on this checkout, and names each file
//! that strays from the workspace's version in a copy where one does.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tessera_testkit::have;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repository root").to_path_buf()
}

fn check(root: &Path) -> Output {
    Command::new("bash")
        .arg(root.join("scripts/check-versions.sh"))
        .arg(root)
        .output()
        .expect("run scripts/check-versions.sh")
}

/// A copy of the repository's tracked files (what the scripts walk, through git ls-files).
fn copy_of_repository() -> tempfile::TempDir {
    let copy = tempfile::tempdir().expect("dir");
    let archive = Command::new("bash")
        .arg("-c")
        .arg(
            "git -C \"$1\" ls-files -z | tar -C \"$1\" --null -T - -cf - | tar -C \"$2\" -xf - \
              && git -C \"$2\" init -q && git -C \"$2\" add -A",
        )
        .args(["copy", &root().display().to_string(), &copy.path().display().to_string()])
        .output()
        .expect("copy the repository");
    assert!(archive.status.success(), "{}", said(&archive));
    copy
}

fn said(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn every_crate_and_package_carries_the_workspace_version() {
    if !have("node", "nodejs") || !have("git", "git") {
        return;
    }
    let output = check(&root());
    assert!(output.status.success(), "versions differ:\n{}", said(&output));
    let version = env!("CARGO_PKG_VERSION");
    assert!(said(&output).contains(version), "{}", said(&output));
}

#[test]
fn a_package_at_another_version_is_named() {
    if !have("node", "nodejs") || !have("git", "git") {
        return;
    }
    let copy = copy_of_repository();
    assert!(
        check(copy.path()).status.success(),
        "the copy fails before any change: {}",
        said(&check(copy.path()))
    );

    let manifest = copy.path().join("crates/tessera-node/package.json");
    let text = std::fs::read_to_string(&manifest).expect("package.json");
    let version = env!("CARGO_PKG_VERSION");
    let changed =
        text.replacen(&format!("\"version\": \"{version}\""), "\"version\": \"9.9.9\"", 1);
    assert_ne!(text, changed, "package.json has no version line to change");
    std::fs::write(&manifest, changed).expect("write");
    let output = check(copy.path());
    assert_eq!(output.status.code(), Some(1), "{}", said(&output));
    assert!(
        said(&output).contains("crates/tessera-node/package.json: version 9.9.9"),
        "the mismatch is not named: {}",
        said(&output)
    );
}

#[test]
fn set_version_moves_every_crate_and_package_together() {
    if !have("node", "nodejs") || !have("git", "git") {
        return;
    }
    let copy = copy_of_repository();
    let set = Command::new("bash")
        .arg(copy.path().join("scripts/set-version.sh"))
        .arg("7.8.9")
        .output()
        .expect("run set-version.sh");
    assert!(set.status.success(), "{}", said(&set));
    // Everything moved but the changelog, which a person writes.
    let output = check(copy.path());
    assert_eq!(output.status.code(), Some(1), "{}", said(&output));
    assert_eq!(
        said(&output).trim(),
        "CHANGELOG.md: no section \"## [7.8.9]\" (the workspace version is 7.8.9)"
    );
    let changelog = copy.path().join("CHANGELOG.md");
    let text = std::fs::read_to_string(&changelog).expect("changelog");
    std::fs::write(&changelog, text.replacen("## [", "## [7.8.9] - unreleased\n\n## [", 1))
        .expect("write");
    let output = check(copy.path());
    assert!(output.status.success(), "{}", said(&output));
    let lock = std::fs::read_to_string(copy.path().join("Cargo.lock")).expect("Cargo.lock");
    assert!(
        lock.contains("name = \"tessera-core\"\nversion = \"7.8.9\""),
        "Cargo.lock not updated"
    );
}
