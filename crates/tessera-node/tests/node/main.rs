//! The addon from Node.js: `test/scene.test.mjs` with Node's own test runner on the test
//! kit's scene, and the `examples/hub.js` of docs/INTEGRATION.md, loading the addon that
//! this test build made (the napi-rs loader's `NAPI_RS_NATIVE_LIBRARY_PATH`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tessera_testkit::{Keystore, Scene, have, in_keystore_session};

/// The addon built with this test (target/<profile>/deps/libtessera_node.so), copied to
/// `dir` under the name Node.js loads native addons by (`.node`).
fn addon(dir: &Path) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let built = exe.parent().expect("deps dir").join("libtessera_node.so");
    assert!(built.exists(), "{} is missing: build with `cargo test --workspace`", built.display());
    let path = dir.join("tessera.node");
    std::fs::copy(&built, &path).expect("copy the addon");
    path
}

fn node(scene: &Scene, addon: &Path, modules: &Path) -> Command {
    let mut command = scene.command("node");
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NAPI_RS_NATIVE_LIBRARY_PATH", addon)
        .env("NODE_PATH", modules);
    command
}

fn said(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn the_node_addon_answers_every_scenario() {
    if !have("node", "nodejs") || !in_keystore_session(Keystore::KernelKeyring) {
        return;
    }
    let scene = Scene::new();
    let dir = tempfile::tempdir().expect("dir");
    let addon = addon(dir.path());
    // `require('@tessera/node')` in the example finds this checkout's package.
    let modules = dir.path().join("node_modules");
    std::fs::create_dir_all(modules.join("@tessera")).expect("node_modules");
    std::os::unix::fs::symlink(env!("CARGO_MANIFEST_DIR"), modules.join("@tessera/node"))
        .expect("link");

    let output = node(&scene, &addon, &modules)
        .args(["--test", "--test-reporter=spec", "test/"])
        .output()
        .expect("run node (Node.js 20 or later)");
    assert!(output.status.success(), "node --test failed:\n{}", said(&output));
    let spec = said(&output);
    assert!(spec.contains("pass 6") && spec.contains("fail 0"), "{spec}");

    let example = |socket: &Path| {
        node(&scene, &addon, &modules)
            .arg("examples/hub.js")
            .arg(socket)
            .env("VENDOR_TRUST_FILE", &scene.trust)
            .output()
            .expect("run node")
    };
    let said = scene.assert_hub_example(example);
    assert!(said.contains("hub_unreachable"), "{said}");
}
