//! The hub's costs: CPU per ping (the library's whole ping: sign the call, HTTP to a real
//! portal process, verify delegation and receipt, one durable state write) beside the
//! bare crypto it needs (one sign, two verifies) in the same run, and the resident memory
//! of the real `tessera-hub run` daemon when idle.
//!
//! ```sh
//! cargo build --release -p tessera-portal && cargo bench -p tessera-hub --bench daemon
//! ```
//! Knob: `PINGS` (500). Figures in BENCHMARKS.md.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::time::{ClockId, clock_gettime};
use tessera_core::armor::{Envelope, Kind};
use tessera_core::keys::SigningKey;
use tessera_core::receipt::{Nonce, PingCall};
use tessera_core::time::SystemClock;
use tessera_hub::agent::Hub;
use tessera_hub::host::HostComponents;
use tessera_hub::state::StateDir;
use tessera_testkit::{PortalOptions, PortalProcess, Vendor, host_values};

fn host(seed: &str) -> HostComponents {
    let values = host_values(seed);
    let secret =
        tessera_core::fingerprint::HostSecret::from_bytes(tessera_testkit::host_secret(seed));
    HostComponents::from_values(values.iter().map(|(name, value)| (*name, value.as_str())), secret)
}

fn cpu_now() -> Duration {
    let t = clock_gettime(ClockId::ProcessCPUTime);
    Duration::new(u64::try_from(t.tv_sec).unwrap_or(0), u32::try_from(t.tv_nsec).unwrap_or(0))
}

fn vm_field(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

/// One sign of a ping-sized call and two verifies (delegation, receipt): the crypto floor.
fn crypto_floor(iterations: u32) -> (Duration, Duration) {
    let hub = SigningKey::from_seed(&[1; 32]);
    let portal = SigningKey::from_seed(&[2; 32]);
    let product = "acme-hub".parse().expect("product");
    let call = PingCall {
        license_id: "6f1c1f1e-3a5b-4c1d-9e2f-0a1b2c3d4e5f".parse().expect("id"),
        fingerprint: host("a").fingerprint(&product).expect("fp"),
        fingerprint_version: tessera_core::fingerprint::VERSION,
        previous_fingerprint: None,
        holds: Some(Nonce::from_bytes([4; 16])),
        held_receipt: None,
        nonce: Nonce::from_bytes([3; 16]),
        hub_time_ms: 1,
        runners: None,
    };
    let receipt = Envelope::sign_body(Kind::Receipt, &portal, &call);
    let (cpu0, wall0) = (cpu_now(), Instant::now());
    for _ in 0..iterations {
        let signed = Envelope::sign_body(Kind::Ping, &hub, &call);
        std::hint::black_box(signed);
        for _ in 0..2 {
            receipt.verify_signature(portal.public_key()).expect("verify");
        }
    }
    ((cpu_now() - cpu0) / iterations, wall0.elapsed() / iterations)
}

fn main() {
    let pings: u32 = std::env::var("PINGS").ok().and_then(|v| v.parse().ok()).unwrap_or(500);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    let vendor = Vendor::new();
    // The benchmark pings one license back to back: lift the per-license rate limit.
    let options = PortalOptions {
        config: Some("pings_per_minute = 1000000\n".to_owned()),
        ..PortalOptions::default()
    };
    let portal = PortalProcess::start_with(&vendor, options);
    let (_, license) = vendor.license(2, Some(&portal.url));
    portal.register(&license);
    let dir = tempfile::tempdir().expect("dir");
    let state_dir = dir.path().join("state");
    let state = StateDir::open(&state_dir).expect("state");
    let hub = Hub::new(state, host("bench"), Arc::new(SystemClock));
    runtime
        .block_on(hub.activate(license.as_bytes(), vendor.trust_text().as_bytes(), None))
        .expect("activate");

    // Warm up the connection pool and the page cache.
    for _ in 0..20 {
        runtime.block_on(hub.ping()).expect("ping");
    }
    let (floor_cpu, floor_wall) = crypto_floor(2000);
    let (cpu0, wall0) = (cpu_now(), Instant::now());
    for _ in 0..pings {
        runtime.block_on(hub.ping()).expect("ping");
    }
    let ping_cpu = (cpu_now() - cpu0) / pings;
    let ping_wall = wall0.elapsed() / pings;
    let (floor_cpu2, _) = crypto_floor(2000);
    let floor = (floor_cpu + floor_cpu2) / 2;
    println!("pings: {pings}");
    println!(
        "hub CPU per ping: {:.1} us (wall {:.2} ms, mostly waiting on the portal and one fsynced state write)",
        ping_cpu.as_secs_f64() * 1e6,
        ping_wall.as_secs_f64() * 1e3
    );
    println!(
        "crypto floor (1 sign + 2 verify): {:.1} us CPU (wall {:.1} us) -> ping = {:.2}x the floor",
        floor.as_secs_f64() * 1e6,
        floor_wall.as_secs_f64() * 1e6,
        ping_cpu.as_secs_f64() / floor.as_secs_f64()
    );

    // The real daemon, idle after its start-up ping.
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_tessera-hub"))
        .arg("--state-dir")
        .arg(&state_dir)
        .args(["run", "--runner-listen", "127.0.0.1:0"])
        .env("TESSERA_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tessera-hub run");
    let mut line = String::new();
    BufReader::new(daemon.stdout.take().expect("stdout")).read_line(&mut line).expect("line");
    let mut log = BufReader::new(daemon.stderr.take().expect("stderr"));
    let mut pinged = false;
    let mut text = String::new();
    while !pinged && log.read_line(&mut text).unwrap_or(0) > 0 {
        pinged = text.contains("ping answered");
        text.clear();
    }
    assert!(pinged, "the daemon's start-up ping was not answered");
    std::thread::sleep(Duration::from_secs(3));
    let pid = daemon.id();
    let (rss, hwm) = (vm_field(pid, "VmRSS:"), vm_field(pid, "VmHWM:"));
    let threads = vm_field(pid, "Threads:");
    println!(
        "daemon idle: RSS {:.1} MB, peak RSS {:.1} MB, {threads} threads (target: at most 15 MB)",
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
    let status = daemon.wait().expect("wait");
    assert!(status.success(), "daemon did not stop cleanly: {status:?}");
}
