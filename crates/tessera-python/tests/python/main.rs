//! The Python package from Python: maturin builds the wheel from this checkout (the dev
//! profile, beside the test build), pip installs it into a fresh virtual environment, and
//! - pytest runs `tests/test_scene.py` on the test kit's scene, then the `examples/hub.py`
//!   of docs/INTEGRATION.md;
//! - pytest runs `tests/test_arguments.py`: every bad argument of every call, and the hub
//!   call's deadline against an agent that never answers (a vendor's files, no scene);
//! - `mypy --strict` checks the example and `tests/typed.py` against the wheel's stubs;
//! - the doc shows the example verbatim.
//!
//! The tools come from `TESSERA_PYTHON_TOOLS` (default `target/ci-tools/python`): a virtual
//! environment with maturin, and a `wheelhouse/` holding pytest and mypy, which `.ci/run`
//! makes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use tessera_testkit::{Keystore, Scene, Vendor, in_keystore_session};

const HERE: &str = env!("CARGO_MANIFEST_DIR");

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

/// maturin and the pytest and mypy wheelhouse, or None — said loudly, and a failure under
/// CI.
fn tools() -> Option<PathBuf> {
    let tools = std::env::var_os("TESSERA_PYTHON_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(HERE).join("../../target/ci-tools/python"));
    let has = |prefix: &str| {
        std::fs::read_dir(tools.join("wheelhouse")).is_ok_and(|entries| {
            entries.flatten().any(|e| e.file_name().to_string_lossy().starts_with(prefix))
        })
    };
    if tools.join("bin/maturin").exists() && has("pytest-") && has("mypy-") {
        return Some(tools);
    }
    let message = format!(
        "the Python tests need maturin and a pytest and mypy wheelhouse in {} (python3 -m venv \
         DIR && DIR/bin/pip install maturin==1.16.0 && DIR/bin/pip download -d DIR/wheelhouse \
         pytest==8.4.2 mypy==1.18.2; or run .ci/run)",
        tools.display()
    );
    assert!(std::env::var_os("CI").is_none(), "{message}");
    eprintln!("\n!!! NOT RUN: {message}\n");
    None
}

/// A virtual environment with this checkout's wheel, pytest and mypy: made once per test
/// process.
struct Venv {
    dir: tempfile::TempDir,
}

impl Venv {
    fn get(tools: &Path) -> &'static Venv {
        static VENV: OnceLock<Venv> = OnceLock::new();
        VENV.get_or_init(|| {
            let dir = tempfile::tempdir().expect("dir");
            let wheels = dir.path().join("wheels");
            ran(Command::new(tools.join("bin/maturin"))
                .args(["build", "--profile", "dev", "--quiet", "--out"])
                .arg(&wheels)
                .current_dir(HERE));
            let venv = dir.path().join("venv");
            ran(Command::new("python3").args(["-m", "venv"]).arg(&venv));
            ran(Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", "--disable-pip-version-check", "--no-index"])
                .arg("--find-links")
                .arg(&wheels)
                .arg("--find-links")
                .arg(tools.join("wheelhouse"))
                .args(["tessera-license", "pytest", "mypy"]));
            Venv { dir }
        })
    }

    fn python(&self) -> PathBuf {
        self.dir.path().join("venv/bin/python")
    }

    /// Runs from the temporary directory: `import tessera` must find the installed wheel,
    /// not the source folder.
    fn run(&self, mut command: Command) -> Command {
        command.current_dir(self.dir.path());
        command
    }
}

fn pytest(venv: &Venv, command: Command, file: &str) -> String {
    let mut command = venv.run(command);
    let output = command
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(Path::new(HERE).join(file))
        .output()
        .expect("run pytest");
    let text = said(&output);
    assert!(output.status.success(), "pytest failed:\n{text}");
    text
}

#[test]
fn the_python_wheel_answers_every_scenario() {
    let Some(tools) = tools() else { return };
    if !in_keystore_session(Keystore::KernelKeyring) {
        return;
    }
    let venv = Venv::get(&tools);
    let scene = Scene::new();
    let text = pytest(venv, scene.command(venv.python()), "tests/test_scene.py");
    assert!(text.contains("6 passed"), "{text}");

    let example = |socket: &Path| {
        venv.run(scene.command(venv.python()))
            .arg(Path::new(HERE).join("examples/hub.py"))
            .arg(socket)
            .env("VENDOR_TRUST_FILE", &scene.trust)
            .output()
            .expect("run python")
    };
    let said = scene.assert_hub_example(example);
    assert!(said.contains("hub_unreachable"), "{said}");
}

#[test]
fn the_python_wheel_refuses_every_bad_argument_and_keeps_its_deadline() {
    let Some(tools) = tools() else { return };
    let venv = Venv::get(&tools);
    let vendor = Vendor::new();
    let (_, license) = vendor.license(2, None);
    let license_path = vendor.path("acme.license");
    std::fs::write(&license_path, license).expect("license");
    let mut command = Command::new(venv.python());
    command
        .env("TESSERA_TEST_TRUST", vendor.trust_path())
        .env("TESSERA_TEST_LICENSE", &license_path)
        .env("TESSERA_TEST_PRODUCT", tessera_testkit::scene::PRODUCT)
        .env("TESSERA_TEST_NOW", tessera::now().as_unix().to_string());
    let text = pytest(venv, command, "tests/test_arguments.py");
    assert!(text.contains("64 passed"), "{text}");
}

#[test]
fn the_stubs_hold_a_products_python_under_mypy_strict() {
    let Some(tools) = tools() else { return };
    let venv = Venv::get(&tools);
    let mut command = venv.run(Command::new(venv.python()));
    let output = command
        .args(["-m", "mypy", "--strict", "--no-incremental"])
        .arg(Path::new(HERE).join("examples/hub.py"))
        .arg(Path::new(HERE).join("tests/typed.py"))
        .output()
        .expect("run mypy");
    let text = said(&output);
    assert!(output.status.success(), "mypy --strict failed:\n{text}");
    assert!(text.contains("Success: no issues found in 2 source files"), "{text}");
}

#[test]
fn the_integration_doc_shows_the_python_example_verbatim() {
    tessera_testkit::assert_doc_shows(
        "docs/INTEGRATION.md",
        "crates/tessera-python/examples/hub.py",
    );
}
