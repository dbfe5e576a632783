//! The C library from C: `scenarios.c` and the `hub_start.c` example are compiled with gcc
//! against the generated header and the static library and run on the test kit's scene
//! under valgrind, which must report no error and no leak; `arguments.c` (every bad
//! argument, the status enum, the hub call's deadline) on a vendor's files the same way; and
//! the doc shows the example verbatim. `install.rs`: `make install` and a vendor's build
//! with pkg-config against the installed shared and static library.

mod install;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tessera_testkit::{Keystore, Scene, Vendor, have, in_keystore_session};

/// The static library built with this test, beside its executable (target/<profile>/deps/:
/// a test build leaves it there, where `cargo build` would copy it up a level).
fn library() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let path = exe.parent().expect("deps dir").join("libtessera_c.a");
    assert!(path.exists(), "{} is missing: build with `cargo test --workspace`", path.display());
    path
}

/// Compiles `sources` into `out` with warnings as errors.
fn compile(sources: &[&Path], include: &[&Path], out: &Path) {
    let mut gcc = Command::new("gcc");
    gcc.args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-g", "-o"]).arg(out);
    for dir in include {
        gcc.arg("-I").arg(dir);
    }
    gcc.args(sources).arg(library()).args(["-lpthread", "-ldl", "-lm"]);
    let output = gcc.output().expect("run gcc");
    assert!(output.status.success(), "gcc failed:\n{}", String::from_utf8_lossy(&output.stderr));
}

/// `program` with `args` under valgrind, which must find no error and no leak (exit 99 if
/// it does); `valgrind` is the command that runs valgrind, with the program's environment.
fn under_valgrind(mut valgrind: Command, program: &Path, args: &[&str]) -> Output {
    valgrind
        .args([
            "--quiet",
            "--leak-check=full",
            "--show-leak-kinds=definite,indirect,possible",
            "--errors-for-leak-kinds=definite,indirect,possible",
            "--error-exitcode=99",
        ])
        .arg(format!(
            "--suppressions={}",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/std.supp").display()
        ))
        .arg(program)
        .args(args)
        .output()
        .expect("run the C program under valgrind")
}

#[test]
fn the_c_library_answers_every_scenario_and_leaks_nothing_under_valgrind() {
    let tools = have("gcc", "gcc") & have("valgrind", "valgrind");
    if !tools || !in_keystore_session(Keystore::KernelKeyring) {
        return;
    }
    let header = Path::new(env!("TESSERA_C_HEADER_DIR"));
    assert!(header.join("tessera.h").exists(), "the build did not generate tessera.h");
    let scene = Scene::new();
    let dir = tempfile::tempdir().expect("dir");
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));

    let scenarios = dir.path().join("scenarios");
    compile(&[&here.join("tests/c/scenarios.c")], &[header], &scenarios);
    // Under valgrind: every answer right (exit 0), no invalid access, no leak (99).
    let output = under_valgrind(scene.command("valgrind"), &scenarios, &[]);
    assert!(
        output.status.success(),
        "C scenarios failed (exit {:?}; 99: valgrind found errors or leaks):\n{}{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    // The example of docs/INTEGRATION.md, with the vendor's trust compiled in.
    let trust = std::fs::read_to_string(&scene.trust).expect("trust");
    let literal: String = trust.lines().map(|l| format!("\"{l}\\n\"\n")).collect();
    std::fs::write(dir.path().join("vendor_trust.inc"), literal).expect("inc");
    let example = dir.path().join("hub_start");
    compile(&[&here.join("examples/hub_start.c")], &[header, dir.path()], &example);
    scene.assert_hub_example(|socket| {
        under_valgrind(scene.command("valgrind"), &example, &[&socket.display().to_string()])
    });
}

#[test]
fn the_c_library_refuses_every_bad_argument_and_keeps_its_deadline_under_valgrind() {
    if !(have("gcc", "gcc") & have("valgrind", "valgrind")) {
        return;
    }
    let header = Path::new(env!("TESSERA_C_HEADER_DIR"));
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().expect("dir");
    let program = dir.path().join("arguments");
    compile(&[&here.join("tests/c/arguments.c")], &[header], &program);
    let vendor = Vendor::new();
    let (_, license) = vendor.license(2, None);
    let license_path = vendor.path("acme.license");
    std::fs::write(&license_path, license).expect("license");
    let mut valgrind = Command::new("valgrind");
    valgrind
        .env("TESSERA_TEST_TRUST", vendor.trust_path())
        .env("TESSERA_TEST_LICENSE", &license_path)
        .env("TESSERA_TEST_PRODUCT", tessera_testkit::scene::PRODUCT)
        .env("TESSERA_TEST_NOW", tessera::now().as_unix().to_string())
        .env("TESSERA_TEST_DIR", dir.path());
    let output = under_valgrind(valgrind, &program, &[]);
    assert!(
        output.status.success(),
        "C argument checks failed (exit {:?}; 99: valgrind found errors or leaks):\n{}{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("all C argument checks passed"));
}

#[test]
fn the_integration_doc_shows_the_c_example_verbatim() {
    tessera_testkit::assert_doc_shows(
        "docs/INTEGRATION.md",
        "crates/tessera-c/examples/hub_start.c",
    );
}
