//! What a runner's check costs, against the baselines named in the issue, in the same run:
//!
//! 1. the library's `Runner::check` (read the cache file, open the seal, verify the license
//!    and the receipt, decide) against the bare work it needs: two Ed25519 verifications and
//!    one HMAC-SHA256 over a cache body of the same size;
//! 2. the whole process `tessera-runner check` (kernel keyring) against `minisign -Vm` on a
//!    1 KB file, and the peak memory of each (GNU time).
//!
//! ```sh
//! keyctl session - cargo bench -p tessera-runner-agent --bench check     # needs keyutils, minisign, time
//! ```
//! Knob: `ROUNDS` (15). Figures in BENCHMARKS.md.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tessera_core::activation::{Bundle, LeaseClaims, open_runner_call, sign_lease};
use tessera_core::delegation::{self, DelegationClaims};
use tessera_core::keyfile;
use tessera_core::keys::SigningKey;
use tessera_core::license::{LicenseTerms, sign};
use tessera_core::receipt::{self, Answers, Nonce, ReceiptClaims};
use tessera_core::time::{Clock, SystemClock};
use tessera_core::{Status, UnixTime};
use tessera_runner::keystore::{Backend, Keystore, MemoryKeystore, OsKeystore};
use tessera_runner::runner::Runner;

/// A bundle as a hub would answer `runner`'s request, made with the core library alone.
fn bundle(runner: &Runner, now: UnixTime) -> (Bundle, String) {
    let request = runner.request("bench").expect("request");
    let call = open_runner_call(request.as_bytes()).expect("request");
    let vendor = SigningKey::from_seed(&[1; 32]);
    let portal = SigningKey::from_seed(&[2; 32]);
    let hub = SigningKey::from_seed(&[3; 32]);
    let mut terms = LicenseTerms::new(
        "Acme Corp".parse().expect("org"),
        "acme-hub".parse().expect("product"),
        10,
        now.saturating_add(Duration::from_secs(365 * 86_400)),
    );
    terms.features = vec!["sso".parse().expect("f"), "audit-log".parse().expect("f")];
    let claims = terms.issue(now.saturating_sub(Duration::from_secs(60))).expect("issue");
    let license = sign(&claims, &vendor).expect("sign");
    let delegation = delegation::sign(
        &DelegationClaims {
            portal_key: portal.public_key().clone(),
            issued_at: now,
            not_before: now.saturating_sub(Duration::from_secs(86_400)),
            not_after: now.saturating_add(Duration::from_secs(365 * 86_400)),
        },
        &vendor,
    );
    let receipt = receipt::sign(
        &ReceiptClaims {
            license_id: claims.id,
            answers: Answers::Ping,
            status: Status::Valid,
            portal_time: now,
            nonce: Nonce::from_bytes([5; 16]),
            next_ping_by: now.saturating_add(Duration::from_secs(3600)),
            fingerprint: "ab".repeat(32),
            hub_key_id: hub.key_id(),
            ledger_head: None,
            runners: None,
        },
        &portal,
    );
    let lease = sign_lease(
        &LeaseClaims {
            license_id: claims.id,
            runner_key_id: call.runner_key.key_id(),
            label: call.label,
            nonce: call.nonce,
            issued_at: now,
            expires_at: now.saturating_add(Duration::from_secs(86_400)),
            machine: None,
        },
        &hub,
    );
    let bundle = Bundle {
        status: Status::Valid,
        license,
        receipt: Some(receipt),
        delegation: Some(delegation),
        activation: None,
        hub_key: hub.public_key().clone(),
        lease: Some(lease),
        named_receipt: None,
    };
    (bundle, keyfile::public(&vendor))
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Times `f` over `n` calls, per call.
fn per_call(n: u32, mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    start.elapsed() / n
}

fn library(rounds: usize) {
    let now = SystemClock.now();
    let dir = tempfile::tempdir().expect("dir");
    let runner =
        Runner::new(dir.path(), Arc::new(MemoryKeystore::default()), Arc::new(SystemClock));
    let (bundle, trust) = bundle(&runner, now);
    assert_eq!(runner.install_bundle(&bundle, &trust).expect("install").status, Status::Valid);
    let cache_len = std::fs::read(runner.cache_path()).expect("cache").len();

    // The floor: the license's and the receipt's signatures, and an HMAC over as many bytes.
    let license = tessera_core::LicenseFile::parse(bundle.license.as_bytes()).expect("license");
    let vendor = SigningKey::from_seed(&[1; 32]);
    let portal = SigningKey::from_seed(&[2; 32]);
    let receipt = tessera_core::armor::Envelope::parse(
        tessera_core::armor::Kind::Receipt,
        bundle.receipt.as_deref().expect("receipt").as_bytes(),
    )
    .expect("receipt");
    let body = vec![7u8; cache_len * 3 / 4];
    let floor = || {
        license.envelope().verify_signature(vendor.public_key()).expect("verify");
        receipt.verify_signature(portal.public_key()).expect("verify");
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&[9; 32]).expect("key");
        mac.update(&body);
        std::hint::black_box(mac.finalize());
    };
    let check = || {
        let d = runner.check().expect("check");
        assert_eq!(d.status, Status::Valid);
    };
    let (mut checks, mut floors) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        checks.push(per_call(2000, check));
        floors.push(per_call(2000, floor));
    }
    let (c, f) = (median(checks), median(floors));
    println!("cache file: {cache_len} bytes");
    println!(
        "library check: {:.1} us; floor (2 verifies + HMAC): {:.1} us; ratio {:.2}x (target <= 1.5x)",
        c.as_secs_f64() * 1e6,
        f.as_secs_f64() * 1e6,
        c.as_secs_f64() / f.as_secs_f64()
    );
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .status()
        .is_ok_and(|s| s.success())
}

fn peak_kb(command: &[&str]) -> u64 {
    let out =
        Command::new("/usr/bin/time").args(["-f", "%M"]).args(command).output().expect("time");
    let stderr = String::from_utf8_lossy(&out.stderr);
    stderr.lines().last().and_then(|l| l.trim().parse().ok()).unwrap_or(0)
}

fn process(rounds: usize) {
    for tool in ["minisign", "/usr/bin/time"] {
        if !have(tool) {
            println!(
                "process comparison NOT RUN: {tool} is missing (apt-get install minisign time)"
            );
            return;
        }
    }
    let now = SystemClock.now();
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).expect("state");
    let keystore = match OsKeystore::open(Backend::Keyutils, &Runner::account(&state)) {
        Ok(k) => k,
        Err(e) => {
            println!("process comparison NOT RUN: {e}");
            return;
        }
    };
    if let Err(e) = keystore.load() {
        println!("process comparison NOT RUN (run under `keyctl session -`): {e}");
        return;
    }
    let runner = Runner::new(&state, Arc::new(keystore), Arc::new(SystemClock));
    let (bundle, trust) = bundle(&runner, now);
    runner.install_bundle(&bundle, &trust).expect("install");

    // minisign: a key pair without a password, a 1 KB file and its signature.
    let d = dir.path();
    let ok = |c: &mut Command| assert!(c.status().expect("minisign").success());
    ok(Command::new("minisign")
        .args(["-G", "-W", "-f", "-p"])
        .arg(d.join("m.pub"))
        .arg("-s")
        .arg(d.join("m.key")));
    std::fs::write(d.join("file"), vec![b'x'; 1024]).expect("file");
    ok(Command::new("minisign")
        .arg("-S")
        .arg("-s")
        .arg(d.join("m.key"))
        .arg("-m")
        .arg(d.join("file")));
    let exe = env!("CARGO_BIN_EXE_tessera-runner");
    let state_s = state.to_string_lossy().into_owned();
    let ours: Vec<&str> = vec![exe, "--state-dir", &state_s, "--keystore", "keyutils", "check"];
    let file_s = d.join("file").to_string_lossy().into_owned();
    let pub_s = d.join("m.pub").to_string_lossy().into_owned();
    let theirs: Vec<&str> = vec!["minisign", "-Vm", &file_s, "-p", &pub_s, "-q"];
    let time_runs = |argv: &[&str], n: u32| {
        per_call(n, || {
            let status =
                Command::new(argv[0]).args(&argv[1..]).stdout(std::process::Stdio::null()).status();
            assert!(status.expect("run").success(), "{argv:?} failed");
        })
    };
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        a.push(time_runs(&ours, 40));
        b.push(time_runs(&theirs, 40));
    }
    let (a, b) = (median(a), median(b));
    println!(
        "process: tessera-runner check {:.2} ms; minisign -Vm (1 KB) {:.2} ms; ratio {:.2}x (target <= 1.5x)",
        a.as_secs_f64() * 1e3,
        b.as_secs_f64() * 1e3,
        a.as_secs_f64() / b.as_secs_f64()
    );
    println!(
        "peak memory: tessera-runner check {} KB; minisign -Vm {} KB",
        peak_kb(&ours),
        peak_kb(&theirs)
    );
}

fn main() {
    let rounds: usize = std::env::var("ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(15);
    library(rounds);
    process(rounds);
}
