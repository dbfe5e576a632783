//! The addon from Node.js, loading the addon that this test build made (the napi-rs
//! loader's `NAPI_RS_NATIVE_LIBRARY_PATH`):
//! - `test/scene.test.mjs` with Node's own test runner on the test kit's scene, and the
//!   `examples/hub.ts` of docs/INTEGRATION.md, compiled by `tsc --strict`;
//! - `test/arguments.test.mjs`: every bad argument of every call, and the hub call's
//!   deadline against an agent that never answers (a vendor's files, no scene);
//! - `index.d.ts` under `tsc --strict` (`test/types.ts`), and the doc's example verbatim.
//!
//! - `package.rs`: the packages as a vendor installs them (`npm pack`, `npm publish --dry-run`,
//!   an install of the tarballs with no network, the example there) and what the loader says
//!   on a machine it has no addon for; every package at the workspace's version.
//!
//! TypeScript is the package's pinned dev dependency (`npm ci` in this directory, which
//! `.ci/run` does).

mod package;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tessera_testkit::{Keystore, Scene, Vendor, have, in_keystore_session};

const HERE: &str = env!("CARGO_MANIFEST_DIR");

/// The addon built with this test: target/<profile>/deps/libtessera_node.so.
fn built_addon() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let built = exe.parent().expect("deps dir").join("libtessera_node.so");
    assert!(built.exists(), "{} is missing: build with `cargo test --workspace`", built.display());
    built
}

/// The addon built with this test, copied to `dir` under the name Node.js loads native
/// addons by (`.node`).
fn addon(dir: &Path) -> PathBuf {
    let path = dir.join("tessera.node");
    std::fs::copy(built_addon(), &path).expect("copy the addon");
    path
}

/// A directory with the addon and a `node_modules` in which `@tessera/node` is this
/// checkout's package.
struct Package {
    dir: tempfile::TempDir,
    addon: PathBuf,
    modules: PathBuf,
}

impl Package {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("dir");
        let addon = addon(dir.path());
        let modules = dir.path().join("node_modules");
        std::fs::create_dir_all(modules.join("@tessera")).expect("node_modules");
        std::os::unix::fs::symlink(HERE, modules.join("@tessera/node")).expect("link");
        Package { dir, addon, modules }
    }

    fn node(&self, mut command: Command) -> Command {
        command
            .current_dir(HERE)
            .env("NAPI_RS_NATIVE_LIBRARY_PATH", &self.addon)
            .env("NODE_PATH", &self.modules);
        command
    }
}

fn said(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The pinned TypeScript compiler, or None — said loudly, and a failure under CI.
fn tsc() -> Option<PathBuf> {
    let tsc = Path::new(HERE).join("node_modules/.bin/tsc");
    if tsc.exists() {
        return Some(tsc);
    }
    let message = format!(
        "the Node.js type checks need TypeScript in {} (cd crates/tessera-node && npm ci; or \
         run .ci/run)",
        tsc.display()
    );
    assert!(std::env::var_os("CI").is_none(), "{message}");
    eprintln!("\n!!! NOT RUN: {message}\n");
    None
}

/// `tsc --strict` over the examples and `test/types.ts` (tsconfig.json), into `out`.
fn compile(tsc: &Path, out: &Path) {
    let output = Command::new("node")
        .arg(tsc)
        .args(["-p", "tsconfig.json", "--outDir"])
        .arg(out)
        .current_dir(HERE)
        .output()
        .expect("run tsc");
    assert!(output.status.success(), "tsc --strict failed:\n{}", said(&output));
}

#[test]
fn the_node_addon_answers_every_scenario() {
    if !have("node", "nodejs") || !in_keystore_session(Keystore::KernelKeyring) {
        return;
    }
    let scene = Scene::new();
    let package = Package::new();
    let mut command = package.node(scene.command("node"));
    let output = command
        .args(["--test", "--test-reporter=spec", "test/scene.test.mjs"])
        .output()
        .expect("run node (Node.js 20 or later)");
    assert!(output.status.success(), "node --test failed:\n{}", said(&output));
    let spec = said(&output);
    assert!(spec.contains("pass 6") && spec.contains("fail 0"), "{spec}");

    let Some(tsc) = tsc() else { return };
    let compiled = package.dir.path().join("ts");
    compile(&tsc, &compiled);
    let example = |socket: &Path| {
        package
            .node(scene.command("node"))
            .arg(compiled.join("examples/hub.js"))
            .arg(socket)
            .env("VENDOR_TRUST_FILE", &scene.trust)
            .output()
            .expect("run node")
    };
    let said = scene.assert_hub_example(example);
    assert!(said.contains("hub_unreachable"), "{said}");
}

#[test]
fn the_node_addon_refuses_every_bad_argument_and_keeps_its_deadline() {
    if !have("node", "nodejs") {
        return;
    }
    let vendor = Vendor::new();
    let (_, license) = vendor.license(2, None);
    let license_path = vendor.path("acme.license");
    std::fs::write(&license_path, license).expect("license");
    let package = Package::new();
    let output = package
        .node(Command::new("node"))
        .args(["--test", "--test-reporter=spec", "test/arguments.test.mjs"])
        .env("TESSERA_TEST_TRUST", vendor.trust_path())
        .env("TESSERA_TEST_LICENSE", &license_path)
        .env("TESSERA_TEST_PRODUCT", tessera_testkit::scene::PRODUCT)
        .env("TESSERA_TEST_NOW", tessera::now().as_unix().to_string())
        .output()
        .expect("run node (Node.js 20 or later)");
    let spec = said(&output);
    assert!(output.status.success(), "node --test failed:\n{spec}");
    assert!(spec.contains("pass 5") && spec.contains("fail 0"), "{spec}");
}

#[test]
fn index_d_ts_holds_a_products_typescript_under_tsc_strict() {
    let Some(tsc) = tsc() else { return };
    let out = tempfile::tempdir().expect("dir");
    compile(&tsc, out.path());
    // The type test is only ever compiled: its `@ts-expect-error` lines are the checks (an
    // error that does not happen fails the compilation).
    assert!(out.path().join("test/types.js").exists());
}

#[test]
fn the_integration_doc_shows_the_node_example_verbatim() {
    tessera_testkit::assert_doc_shows("docs/INTEGRATION.md", "crates/tessera-node/examples/hub.ts");
}
