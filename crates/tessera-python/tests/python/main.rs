//! The Python package from Python: maturin builds the wheel from this checkout (the dev
//! profile, beside the test build), pip installs it into a fresh virtual environment, and
//! pytest runs `tests/test_scene.py` on the test kit's scene; then the `examples/hub.py` of
//! docs/INTEGRATION.md.
//!
//! The tools come from `TESSERA_PYTHON_TOOLS` (default `target/ci-tools/python`): a virtual
//! environment with maturin, and a `wheelhouse/` holding pytest, which `.ci/run` makes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tessera_testkit::{Keystore, Scene, in_keystore_session};

fn said(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn ran(command: &mut Command) -> Output {
    let output = command.output().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(output.status.success(), "{command:?} failed:\n{}", said(&output));
    output
}

/// maturin and the pytest wheelhouse, or None — said loudly, and a failure under CI.
fn tools() -> Option<PathBuf> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tools = std::env::var_os("TESSERA_PYTHON_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| here.join("../../target/ci-tools/python"));
    if tools.join("bin/maturin").exists() && tools.join("wheelhouse").exists() {
        return Some(tools);
    }
    let message = format!(
        "the Python tests need maturin and a pytest wheelhouse in {} (python3 -m venv DIR && \
         DIR/bin/pip install maturin==1.16.0 && DIR/bin/pip download -d DIR/wheelhouse \
         pytest==8.4.2; or run .ci/run)",
        tools.display()
    );
    assert!(std::env::var_os("CI").is_none(), "{message}");
    eprintln!("\n!!! NOT RUN: {message}\n");
    None
}

#[test]
fn the_python_wheel_answers_every_scenario() {
    let Some(tools) = tools() else { return };
    if !in_keystore_session(Keystore::KernelKeyring) {
        return;
    }
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().expect("dir");
    let wheels = dir.path().join("wheels");
    ran(Command::new(tools.join("bin/maturin"))
        .args(["build", "--profile", "dev", "--quiet", "--out"])
        .arg(&wheels)
        .current_dir(here));
    let venv = dir.path().join("venv");
    ran(Command::new("python3").args(["-m", "venv"]).arg(&venv));
    ran(Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check", "--no-index", "--find-links"])
        .arg(&wheels)
        .arg("--find-links")
        .arg(tools.join("wheelhouse"))
        .args(["tessera-license", "pytest"]));

    let scene = Scene::new();
    // Run from the temporary directory: `import tessera` must find the installed wheel,
    // not the source folder.
    let output = scene
        .command(venv.join("bin/python"))
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(here.join("tests/test_scene.py"))
        .current_dir(dir.path())
        .output()
        .expect("run pytest");
    let text = said(&output);
    assert!(output.status.success(), "pytest failed:\n{text}");
    assert!(text.contains("6 passed"), "{text}");

    let example = |socket: &Path| {
        scene
            .command(venv.join("bin/python"))
            .arg(here.join("examples/hub.py"))
            .arg(socket)
            .env("VENDOR_TRUST_FILE", &scene.trust)
            .current_dir(dir.path())
            .output()
            .expect("run python")
    };
    let said = scene.assert_hub_example(example);
    assert!(said.contains("hub_unreachable"), "{said}");
}
