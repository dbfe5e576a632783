//! What a check costs in process, from Rust, Node.js, Python and C, against spawning
//! `tessera-runner check` and `tessera-hub status`: all in one run, on the test kit's scene
//! (a real portal, real hub agents serving their status sockets, a runner on the kernel
//! keyring). Run through `benches/bindings.sh`, which builds the release addon, wheel, C
//! library and C program first; see BENCHMARKS.md ("In-process checks").
//!
//! Each figure is the best of 15 batches' mean time per call (200 calls a batch; 20 spawns
//! a batch for the binaries), and the best of 3 rounds that take turns — Rust, Node.js,
//! Python, C, spawning — so that the shared machine's noise falls on every language alike.
//!
//! `TESSERA_BENCH_PROFILE=verify|runner|hub` instead makes only that Rust call, in a loop
//! for `TESSERA_BENCH_PROFILE_SECS` (10) seconds, for a profiler (`perf record`).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tessera::{HubOptions, RunnerOptions, TrustSet, UnixTime};
use tessera_testkit::Scene;

const BATCHES: usize = 15;
const CALLS: usize = 200;
const SPAWNS: usize = 20;

const ROUNDS: usize = 3;

/// A binding's call (in ratio to Rust's) at most this many times Rust's.
const BINDING_TARGET: f64 = 1.3;
/// Spawning a binary at least this many times a call in process.
const SPAWN_TARGET: f64 = 10.0;

/// The calls measured, in the order of a row of [`Times`] and of the scripts' JSON keys.
const CALL_NAMES: [(&str, &str); 3] =
    [("verify a license", "verify_ns"), ("runner check", "runner_ns"), ("hub status", "hub_ns")];

/// Nanoseconds per call of each of [`CALL_NAMES`].
type Times = [f64; 3];

fn best_per_call(calls: usize, mut batch: impl FnMut()) -> f64 {
    (0..BATCHES)
        .map(|_| {
            let start = Instant::now();
            batch();
            start.elapsed().as_nanos() as f64 / calls as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn keep_best(best: &mut Times, times: Times) {
    for (b, t) in best.iter_mut().zip(times) {
        *b = b.min(t);
    }
}

/// The scene's inputs to the Rust calls, read and parsed once as a product does.
struct Calls {
    trust: TrustSet,
    license: Vec<u8>,
    runner: RunnerOptions,
    hub: HubOptions,
    now: UnixTime,
}

impl Calls {
    fn new(scene: &Scene) -> Self {
        let trust =
            TrustSet::parse(&std::fs::read(&scene.trust).expect("trust")).expect("trust set");
        Calls {
            trust,
            license: std::fs::read(&scene.license).expect("license"),
            runner: RunnerOptions::new(&scene.runner_state)
                .keystore_named("keyutils")
                .expect("keystore"),
            hub: HubOptions::new(&scene.hub_socket),
            now: scene.now,
        }
    }

    /// Call `index` of [`CALL_NAMES`] once; panics unless it permits running.
    fn call(&self, index: usize) {
        match index {
            0 => {
                let check = tessera::verify_license(&self.license, &self.trust, None, self.now)
                    .expect("verify");
                assert!(check.status.permits_running(), "{}", check.reason);
            }
            1 => {
                let check = tessera::runner_check(&self.runner, self.now).expect("runner check");
                assert!(check.status.permits_running(), "{}", check.reason);
            }
            _ => {
                // The hub agent's latest time is the wall clock's: asked at the system time.
                let status =
                    tessera::hub_status(&self.hub, &self.trust, tessera::now()).expect("hub");
                assert!(status.status.permits_running(), "{}", status.reason);
            }
        }
    }

    fn measure(&self) -> Times {
        std::array::from_fn(|index| {
            best_per_call(CALLS, || {
                for _ in 0..CALLS {
                    self.call(index);
                }
            })
        })
    }
}

/// A language's benchmark script: its one JSON line of [`CALL_NAMES`]' keys.
fn language(scene: &Scene, mut command: Command) -> Times {
    let output = command.envs(scene.env()).output().expect("run the language benchmark");
    assert!(
        output.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let line = String::from_utf8_lossy(&output.stdout);
    let value: serde_json::Value = serde_json::from_str(line.trim()).expect("one JSON line");
    CALL_NAMES.map(|(_, key)| value[key].as_f64().unwrap_or_else(|| panic!("{key} in {line}")))
}

/// The language benchmarks, in the table's order.
fn languages() -> [(&'static str, Command); 3] {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut node = Command::new("node");
    node.arg(here.join("../tessera-node/bench/calls.mjs"));
    if let Some(addon) = std::env::var_os("TESSERA_NODE_ADDON") {
        node.env("NAPI_RS_NATIVE_LIBRARY_PATH", addon);
    }
    let python = std::env::var_os("TESSERA_BENCH_PYTHON").unwrap_or_else(|| "python3".into());
    let mut py = Command::new(python);
    py.arg(here.join("../tessera-python/bench/calls.py"));
    let c = std::env::var_os("TESSERA_BENCH_C")
        .expect("TESSERA_BENCH_C: the C benchmark program (benches/bindings.sh builds it)");
    [("Node.js", node), ("Python", py), ("C", Command::new(c))]
}

/// `tessera-runner check` and `tessera-hub status` on the scene's state, spawned.
fn spawns(scene: &Scene) -> [f64; 2] {
    let spawn = |make: &dyn Fn() -> Command| {
        best_per_call(SPAWNS, || {
            for _ in 0..SPAWNS {
                let mut command = make();
                let status = command.stdout(Stdio::null()).status().expect("spawn");
                assert!(status.success(), "{command:?}: {status}");
            }
        })
    };
    let runner = spawn(&|| {
        let mut c = tessera_testkit::command("tessera-runner");
        c.arg("--state-dir").arg(&scene.runner_state).args(["--keystore", "keyutils", "check"]);
        c
    });
    let hub = spawn(&|| {
        let mut c = tessera_testkit::command("tessera-hub");
        c.arg("--state-dir").arg(scene.path("hub")).arg("status");
        c
    });
    [runner, hub]
}

fn us(ns: f64) -> String {
    format!("{:.1} µs", ns / 1000.0)
}

fn print_table(rust: &Times, bindings: &[(&str, Times)], spawned: [f64; 2]) {
    let names: Vec<&str> = bindings.iter().map(|(name, _)| *name).collect();
    println!("| call | Rust | {} | spawning the binary |", names.join(" | "));
    println!("|---|---|{}---|", "---|".repeat(names.len()));
    let binaries = ["", "`tessera-runner check`", "`tessera-hub status`"];
    for (index, (call, _)) in CALL_NAMES.iter().enumerate() {
        let cells: Vec<String> = bindings
            .iter()
            .map(|(_, t)| format!("{} ({:.2}×)", us(t[index]), t[index] / rust[index]))
            .collect();
        let spawn = match index {
            0 => String::new(),
            _ => {
                let ns = spawned[index - 1];
                format!("{}: {} ({:.0}× Rust)", binaries[index], us(ns), ns / rust[index])
            }
        };
        println!("| {call} | {} | {} | {spawn} |", us(rust[index]), cells.join(" | "));
    }
    let worst = bindings
        .iter()
        .flat_map(|(name, t)| t.iter().zip(rust).map(move |(t, r)| (t / r, *name)))
        .fold((0.0, ""), |a, b| if b.0 > a.0 { b } else { a });
    let slowest_in_process = bindings.iter().map(|(_, t)| t[1]).fold(rust[1], f64::max);
    let spawn_ratio = spawned[0] / slowest_in_process;
    let verdict = |ok: bool| if ok { "meets" } else { "MISSES" };
    println!(
        "targets: every binding ≤ {BINDING_TARGET}× Rust (worst {:.2}×, {}): {}; spawning \
         `tessera-runner check` ≥ {SPAWN_TARGET}× the slowest in-process runner check \
         ({spawn_ratio:.1}×): {}",
        worst.0,
        worst.1,
        verdict(worst.0 <= BINDING_TARGET),
        verdict(spawn_ratio >= SPAWN_TARGET)
    );
}

/// Only the Rust call `name`, in a loop, for a profiler.
fn profile(calls: &Calls, name: &str) {
    let index = ["verify", "runner", "hub"]
        .iter()
        .position(|n| *n == name)
        .unwrap_or_else(|| panic!("TESSERA_BENCH_PROFILE={name}: verify, runner or hub"));
    let secs = std::env::var("TESSERA_BENCH_PROFILE_SECS")
        .ok()
        .map_or(10, |s| s.parse().expect("TESSERA_BENCH_PROFILE_SECS: seconds"));
    let (start, mut made) = (Instant::now(), 0u64);
    while start.elapsed() < Duration::from_secs(secs) {
        calls.call(index);
        made += 1;
    }
    let per_call = start.elapsed().as_nanos() as f64 / made as f64;
    println!("{} calls of {}: {} each", made, CALL_NAMES[index].0, us(per_call));
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Listing, or a test build's run (`cargo test --benches`, no `--bench`): nothing to
    // measure, and no keyring session or scene to make.
    if args.iter().any(|a| a == "--list") {
        return;
    }
    if !args.iter().any(|a| a == "--bench") {
        println!("bindings: a benchmark, measured by `bash benches/bindings.sh` (cargo bench)");
        return;
    }
    // The runner's keystore needs a kernel keyring session: run again inside one.
    if std::env::var_os("TESSERA_BENCH_IN_SESSION").is_none() {
        let exe = std::env::current_exe().expect("bench executable");
        let status = Command::new("keyctl")
            .args(["session", "-"])
            .arg(exe)
            .args(&args)
            .env("TESSERA_BENCH_IN_SESSION", "1")
            .status()
            .expect("keyctl (apt-get install keyutils)");
        std::process::exit(status.code().unwrap_or(1));
    }
    let scene = Scene::new();
    let calls = Calls::new(&scene);
    if let Some(name) = std::env::var_os("TESSERA_BENCH_PROFILE") {
        profile(&calls, &name.to_string_lossy());
        return;
    }

    let mut rust = [f64::INFINITY; 3];
    let mut bindings: Vec<(&str, Times)> =
        languages().iter().map(|(name, _)| (*name, [f64::INFINITY; 3])).collect();
    let mut spawned = [f64::INFINITY; 2];
    for _ in 0..ROUNDS {
        keep_best(&mut rust, calls.measure());
        for ((_, command), (_, best)) in languages().into_iter().zip(&mut bindings) {
            keep_best(best, language(&scene, command));
        }
        for (b, s) in spawned.iter_mut().zip(spawns(&scene)) {
            *b = b.min(s);
        }
    }
    print_table(&rust, &bindings, spawned);
}
