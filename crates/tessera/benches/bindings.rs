//! What a check costs in process, from Rust, Node.js and Python, against spawning
//! `tessera-runner check`: all in one run, on the test kit's scene (real hub agents, a
//! runner on the kernel keyring). Run through `benches/bindings.sh`, which builds the
//! release addon and wheel first; see BENCHMARKS.md.
//!
//! Each figure is the best of 15 batches' mean time per call (200 calls a batch; 20 spawns
//! a batch for the binary), and the best of 3 rounds that take turns — Rust, Node.js,
//! Python, spawning — so that the shared machine's noise falls on every language alike.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use tessera::{RunnerOptions, TrustSet};
use tessera_testkit::Scene;

const BATCHES: usize = 15;
const CALLS: usize = 200;
const SPAWNS: usize = 20;

const ROUNDS: usize = 3;

fn best_per_call(calls: usize, mut batch: impl FnMut()) -> Duration {
    (0..BATCHES)
        .map(|_| {
            let start = Instant::now();
            batch();
            start.elapsed() / u32::try_from(calls).expect("calls")
        })
        .min()
        .expect("batches")
}

/// `{"verify_ns": …, "runner_ns": …}` printed by a language's benchmark script.
fn language(scene: &Scene, mut command: Command) -> (f64, f64) {
    let output = command.envs(scene.env()).output().expect("run the language benchmark");
    assert!(
        output.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let line = String::from_utf8_lossy(&output.stdout);
    let value: serde_json::Value = serde_json::from_str(line.trim()).expect("one JSON line");
    (
        value["verify_ns"].as_f64().expect("verify_ns"),
        value["runner_ns"].as_f64().expect("runner_ns"),
    )
}

fn us(ns: f64) -> String {
    format!("{:.1} µs", ns / 1000.0)
}

fn main() {
    // The runner's keystore needs a kernel keyring session: run again inside one.
    if std::env::var_os("TESSERA_BENCH_IN_SESSION").is_none() {
        let exe = std::env::current_exe().expect("bench executable");
        let status = Command::new("keyctl")
            .args(["session", "-"])
            .arg(exe)
            .args(std::env::args().skip(1))
            .env("TESSERA_BENCH_IN_SESSION", "1")
            .status()
            .expect("keyctl (apt-get install keyutils)");
        std::process::exit(status.code().unwrap_or(1));
    }
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let scene = Scene::new();
    let trust = TrustSet::parse(&std::fs::read(&scene.trust).expect("trust")).expect("trust set");
    let license = std::fs::read(&scene.license).expect("license");
    let runner =
        RunnerOptions::new(&scene.runner_state).keystore_named("keyutils").expect("keystore");
    let now = scene.now;

    let binary = tessera_testkit::workspace_binary("tessera-runner");
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let python = std::env::var_os("TESSERA_BENCH_PYTHON").unwrap_or_else(|| "python3".into());
    let best = |a: f64, b: f64| if a < b { a } else { b };
    let (mut rv, mut rr, mut sp) = (f64::MAX, f64::MAX, f64::MAX);
    let (mut node_verify, mut node_runner, mut py_verify, mut py_runner) =
        (f64::MAX, f64::MAX, f64::MAX, f64::MAX);
    for _ in 0..ROUNDS {
        let rust_verify = best_per_call(CALLS, || {
            for _ in 0..CALLS {
                let check = tessera::verify_license(&license, &trust, None, now).expect("verify");
                assert!(check.status.permits_running());
            }
        });
        let rust_runner = best_per_call(CALLS, || {
            for _ in 0..CALLS {
                let check = tessera::runner_check(&runner, now).expect("check");
                assert!(check.status.permits_running(), "{}", check.reason);
            }
        });
        rv = best(rv, rust_verify.as_nanos() as f64);
        rr = best(rr, rust_runner.as_nanos() as f64);
        let mut node = Command::new("node");
        node.arg(here.join("../tessera-node/bench/calls.mjs"));
        if let Some(addon) = std::env::var_os("TESSERA_NODE_ADDON") {
            node.env("NAPI_RS_NATIVE_LIBRARY_PATH", addon);
        }
        let (v, r) = language(&scene, node);
        (node_verify, node_runner) = (best(node_verify, v), best(node_runner, r));
        let mut py = Command::new(&python);
        py.arg(here.join("../tessera-python/bench/calls.py"));
        let (v, r) = language(&scene, py);
        (py_verify, py_runner) = (best(py_verify, v), best(py_runner, r));
        let spawn = best_per_call(SPAWNS, || {
            for _ in 0..SPAWNS {
                let status = Command::new(&binary)
                    .arg("--state-dir")
                    .arg(&scene.runner_state)
                    .args(["--keystore", "keyutils", "check"])
                    .stdout(std::process::Stdio::null())
                    .status()
                    .expect("tessera-runner check");
                assert!(status.success());
            }
        });
        sp = best(sp, spawn.as_nanos() as f64);
    }
    println!("| call | Rust | Node.js | Python | spawning `tessera-runner check` |");
    println!("|---|---|---|---|---|");
    println!(
        "| verify a license | {} | {} ({:.2}×) | {} ({:.2}×) | |",
        us(rv),
        us(node_verify),
        node_verify / rv,
        us(py_verify),
        py_verify / rv
    );
    println!(
        "| runner check | {} | {} ({:.2}×) | {} ({:.2}×) | {} ({:.0}× Node.js, {:.0}× Python) |",
        us(rr),
        us(node_runner),
        node_runner / rr,
        us(py_runner),
        py_runner / rr,
        us(sp),
        sp / node_runner,
        sp / py_runner
    );
    let within = |x: f64| if x <= 1.3 { "meets" } else { "MISSES" };
    println!(
        "targets: Node.js ≤ 1.3× Rust: verify {} runner {}; Python ≤ 1.3× Rust: verify {} runner {}; spawning ≥ 10× in-process: {}",
        within(node_verify / rv),
        within(node_runner / rr),
        within(py_verify / rv),
        within(py_runner / rr),
        if sp / node_runner.max(py_runner) >= 10.0 { "meets" } else { "MISSES" }
    );
}
