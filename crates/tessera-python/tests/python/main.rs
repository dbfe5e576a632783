//! The Python package from Python, as a vendor gets it: maturin makes the source
//! distribution, and pip builds from it, offline and isolated (maturin from the local
//! wheelhouse, the crates from cargo's cache), the one release wheel a vendor ships (zig as
//! the linker, `--compatibility manylinux2014`: glibc 2.17), once per test process; then
//! - `auditwheel show` agrees the wheel is manylinux2014 (glibc 2.17) or older, and its
//!   metadata (version from Cargo, license and its file, README, URLs) is a vendor's;
//! - pip installs the wheel into a fresh virtual environment with no index, and there
//!   - pytest runs `tests/test_scene.py` on the test kit's scene, then the `examples/hub.py`
//!     of docs/INTEGRATION.md;
//!   - pytest runs `tests/test_arguments.py`: every bad argument of every call, and the hub
//!     call's deadline against an agent that never answers (a vendor's files, no scene);
//!   - `mypy --strict` checks the example and `tests/typed.py` against the wheel's stubs;
//! - the doc shows the example verbatim.
//!
//! The tools come from `TESSERA_PYTHON_TOOLS` (default `target/ci-tools/python`): a virtual
//! environment with maturin, ziglang and auditwheel, and a `wheelhouse/` holding maturin,
//! pytest and mypy, which `.ci/run` makes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Instant;

use tessera_testkit::{Keystore, Scene, Vendor, in_keystore_session};

const HERE: &str = env!("CARGO_MANIFEST_DIR");

/// The tag of a wheel that installs on glibc 2.17 and later (PEP 599, and its PEP 600 name).
const MANYLINUX2014: [&str; 2] = ["manylinux2014_x86_64", "manylinux_2_17_x86_64"];

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

/// The one file in `dir` whose name ends with `suffix`.
fn only_file(dir: &Path, suffix: &str) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    assert_eq!(found.len(), 1, "one {suffix} in {}: {found:?}", dir.display());
    found.into_iter().next().expect("one file")
}

/// maturin, ziglang, auditwheel and the wheelhouse, or None — said loudly, and a failure
/// under CI.
fn tools() -> Option<PathBuf> {
    let tools = std::env::var_os("TESSERA_PYTHON_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(HERE).join("../../target/ci-tools/python"));
    let has = |prefix: &str| {
        std::fs::read_dir(tools.join("wheelhouse")).is_ok_and(|entries| {
            entries.flatten().any(|e| e.file_name().to_string_lossy().starts_with(prefix))
        })
    };
    let has_zig = Command::new(tools.join("bin/python"))
        .args(["-c", "import ziglang"])
        .output()
        .is_ok_and(|o| o.status.success());
    if tools.join("bin/maturin").exists()
        && tools.join("bin/auditwheel").exists()
        && has_zig
        && has("maturin-")
        && has("pytest-")
        && has("mypy-")
    {
        return Some(tools);
    }
    let message = format!(
        "the Python tests need maturin, ziglang and auditwheel and a maturin, pytest and mypy \
         wheelhouse in {} (python3 -m venv DIR && DIR/bin/pip install maturin==1.16.0 \
         ziglang==0.15.2 auditwheel==6.8.2 && DIR/bin/pip download -d DIR/wheelhouse \
         maturin==1.16.0 pytest==8.4.2 mypy==1.18.2; or run .ci/run)",
        tools.display()
    );
    assert!(std::env::var_os("CI").is_none(), "{message}");
    eprintln!("\n!!! NOT RUN: {message}\n");
    None
}

/// The one release wheel, built from the sdist: once per checkout's content.
struct Built {
    wheel: PathBuf,
}

impl Built {
    /// `maturin sdist`, then pip builds the wheel from it the way a vendor's build without
    /// a network would (pip's isolated build environment with maturin from the wheelhouse,
    /// no index, `CARGO_NET_OFFLINE`), with zig as the linker for glibc 2.17. Building the
    /// shipped wheel from the sdist proves the sdist complete at the cost of one release
    /// build, not two. The wheel is kept under the target directory with its sdist (which
    /// maturin makes byte for byte the same from the same files): a test re-run inside a
    /// keyring session, or a later run on an unchanged checkout, reuses it.
    fn get(tools: &Path) -> &'static Built {
        static BUILT: OnceLock<Built> = OnceLock::new();
        BUILT.get_or_init(|| {
            let kept = cargo_target_dir().join("python-wheel");
            let dist = kept.join("dist");
            let dir = tempfile::tempdir().expect("dir");
            let sdists = dir.path().join("sdist");
            ran(Command::new(tools.join("bin/maturin"))
                .args(["sdist", "--out"])
                .arg(&sdists)
                .current_dir(HERE));
            let sdist = only_file(&sdists, ".tar.gz");
            let kept_sdist = dist.join(sdist.file_name().expect("name"));
            if std::fs::read(&kept_sdist).ok() == Some(std::fs::read(&sdist).expect("sdist")) {
                return Built { wheel: only_file(&dist, ".whl") };
            }

            // maturin finds zig on PATH: the `zig` binary of the tools' ziglang package.
            let ziglang = ran(Command::new(tools.join("bin/python"))
                .args(["-c", "import os, ziglang; print(os.path.dirname(ziglang.__file__))"]));
            let ziglang = String::from_utf8_lossy(&ziglang.stdout).trim().to_owned();
            let path = std::env::join_paths(
                std::iter::once(PathBuf::from(ziglang))
                    .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
            )
            .expect("PATH");
            let wheels = dir.path().join("wheels");
            let started = Instant::now();
            ran(Command::new(tools.join("bin/pip"))
                .args([
                    "wheel",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--no-deps",
                    "--no-index",
                ])
                .arg("--find-links")
                .arg(tools.join("wheelhouse"))
                .arg("--wheel-dir")
                .arg(&wheels)
                .arg(&sdist)
                .env("PATH", path)
                .env("MATURIN_PEP517_ARGS", "--zig --compatibility manylinux2014")
                .env("CARGO_NET_OFFLINE", "true")
                .env("CARGO_TARGET_DIR", kept.join("cargo")));
            let wheel = only_file(&wheels, ".whl");
            eprintln!(
                "built {} ({} bytes) from {} in {:.0?}",
                wheel.display(),
                std::fs::metadata(&wheel).expect("wheel").len(),
                sdist.display(),
                started.elapsed()
            );
            // The wheel first, its sdist last: an interrupted copy is built again next time.
            let _ = std::fs::remove_dir_all(&dist);
            std::fs::create_dir_all(&dist).expect("dist");
            let kept_wheel = dist.join(wheel.file_name().expect("name"));
            std::fs::copy(&wheel, &kept_wheel).expect("keep the wheel");
            std::fs::copy(&sdist, &kept_sdist).expect("keep the sdist");
            Built { wheel: kept_wheel }
        })
    }
}

/// Where cargo builds this checkout.
fn cargo_target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(HERE).join("../../target"))
}

/// A fresh virtual environment with `packages` installed from `find_links` and the
/// wheelhouse, with no index.
fn venv_with(at: &Path, tools: &Path, find_links: &Path, packages: &[&str]) {
    ran(Command::new("python3").args(["-m", "venv"]).arg(at));
    ran(Command::new(at.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check", "--no-index"])
        .args(["--only-binary", ":all:", "--find-links"])
        .arg(find_links)
        .arg("--find-links")
        .arg(tools.join("wheelhouse"))
        .args(packages));
}

/// A virtual environment with the release wheel, pytest and mypy: made once per test
/// process.
struct Venv {
    dir: tempfile::TempDir,
}

impl Venv {
    fn get(tools: &Path) -> &'static Venv {
        static VENV: OnceLock<Venv> = OnceLock::new();
        VENV.get_or_init(|| {
            let built = Built::get(tools);
            let dir = tempfile::tempdir().expect("dir");
            let wheels = built.wheel.parent().expect("wheels");
            venv_with(
                &dir.path().join("venv"),
                tools,
                wheels,
                &["tessera-license", "pytest", "mypy"],
            );
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
    // Built here, so that the re-run inside the session finds the wheel built.
    Built::get(&tools);
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

#[test]
fn the_wheel_is_manylinux2014_and_auditwheel_agrees() {
    let Some(tools) = tools() else { return };
    let built = Built::get(&tools);
    let name = built.wheel.file_name().expect("name").to_string_lossy().into_owned();
    assert!(name.starts_with("tessera_license-"), "{name}");
    assert!(name.contains("-cp39-abi3-"), "one wheel for every CPython from 3.9: {name}");
    assert!(MANYLINUX2014.iter().any(|tag| name.contains(tag)), "not manylinux2014: {name}");

    let output =
        ran(Command::new(tools.join("bin/auditwheel")).args(["show", "--json"]).arg(&built.wheel));
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", said(&output)));
    // The most compatible tag the wheel's symbols allow: glibc 2.17's or an older one.
    let tag = report["overall_tag"].as_str().unwrap_or_else(|| panic!("{report}"));
    let glibc_minor = tag
        .strip_prefix("manylinux_2_")
        .and_then(|rest| rest.strip_suffix("_x86_64"))
        .and_then(|minor| minor.parse::<u32>().ok())
        .unwrap_or_else(|| panic!("auditwheel's tag {tag}: {report}"));
    assert!(glibc_minor <= 17, "the wheel needs glibc 2.{glibc_minor} (auditwheel: {report})");
    assert_eq!(report["external_libs"], serde_json::json!({}), "{report}");
}

#[test]
fn the_wheel_carries_a_vendors_metadata() {
    let Some(tools) = tools() else { return };
    let venv = Venv::get(&tools);
    let mut command = venv.run(Command::new(venv.python()));
    let output = ran(command.args([
        "-c",
        "import importlib.metadata as m; d = m.distribution('tessera-license'); \
         print(d.read_text('METADATA')); print(d.read_text('licenses/LICENSE'))",
    ]));
    let text = String::from_utf8_lossy(&output.stdout);
    let version = format!("\nVersion: {}\n", env!("CARGO_PKG_VERSION"));
    for line in [
        "Name: tessera-license\n",
        &version,
        "License-Expression: Apache-2.0\n",
        "License-File: LICENSE\n",
        "Requires-Python: >=3.9\n",
        "Classifier: Operating System :: POSIX :: Linux\n",
        "Classifier: Typing :: Typed\n",
        "Keywords: license,",
        "Project-URL: Homepage, https://",
        "Project-URL: Documentation, https://",
        "Project-URL: Repository, https://",
        "Description-Content-Type: text/markdown",
        // The README, for a vendor: how to install, what to call, where it runs.
        "## Install",
        "## The three calls",
        "x86_64 Linux with glibc 2.17 or newer",
        // The license's text itself, in the wheel.
        "Apache License\n",
        "Version 2.0, January 2004\n",
    ] {
        assert!(text.contains(line), "the installed metadata lacks {line:?}:\n{text}");
    }
}
