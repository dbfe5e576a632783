//! Proofs of the audit ledger served over HTTP at a million entries: a SQLite store of
//! `ENTRIES` ledger entries (default 1,000,000) and one signed checkpoint of them, served by
//! a real `tessera-portal` process on loopback. Measured: the first proof (it builds the
//! tree from the stored hashes), then `PROOFS` inclusion proofs of entries spread over the
//! tree and as many consistency proofs from sizes spread over it, one request at a time
//! (p50/p99 of the whole HTTP round trip), and the portal's peak memory. Figures in
//! BENCHMARKS.md.
//!
//! ```sh
//! cargo bench -p tessera-portal --bench ledger_proofs
//! ```

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::AssertSqlSafe;
use tessera_core::delegation::{self, DelegationClaims, Purpose};
use tessera_core::ledger::{Checkpoint, Entry, InclusionProof, origin_for};
use tessera_core::merkle::Tree;
use tessera_core::time::{Clock, SystemClock};
use tessera_portal::startup::load_or_create_receipt_key;
use tessera_portal::store::Store;
use tessera_portal::store::ledger::StoredCheckpoint;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at = |p: f64| {
        samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)].as_secs_f64() * 1e3
    };
    (at(0.5), at(0.99))
}

fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The `n`th entry (from 1): an admin action as the portal records them.
fn entry(n: u64, at: i64) -> Entry {
    Entry {
        seq: n,
        at: at + n as i64,
        actor: format!("{:016x}", n.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        action: "license.suspended".into(),
        target: format!("0193a5b2-7c1d-7000-8000-{n:012x}"),
        org: n.is_multiple_of(3).then(|| format!("org-{}", n % 1000)),
    }
}

/// `entries` entries in multi-row statements; answers their tree.
async fn seed(store: &Store, entries: u64, at: i64) -> Tree {
    let mut tree = Tree::new();
    let started = Instant::now();
    for first in (1..=entries).step_by(1000) {
        let last = (first + 999).min(entries);
        let mut query = String::from(
            "INSERT INTO ledger (seq, at, actor, action, target, org_id, hash) VALUES ",
        );
        let mut rows = Vec::new();
        for n in first..=last {
            let e = entry(n, at);
            let leaf = e.leaf_hash();
            tree.push(leaf);
            let org = e.org.map_or("NULL".to_owned(), |o| format!("'{o}'"));
            rows.push(format!(
                "({n}, {}, '{}', '{}', '{}', {org}, '{}')",
                e.at,
                e.actor,
                e.action,
                e.target,
                hex::encode(leaf)
            ));
        }
        query.push_str(&rows.join(","));
        sqlx::query(AssertSqlSafe(query)).execute(store.pool()).await.expect("entries");
        if first % 200_000 == 1 && first > 1 {
            eprintln!("  seeded {first} in {:.0} s", started.elapsed().as_secs_f64());
        }
    }
    tree
}

fn main() {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let entries = env_usize("ENTRIES", 1_000_000) as u64;
    let proofs = env_usize("PROOFS", 2000) as u64;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data");
    let url = format!("sqlite://{}", data.join("portal.db").display());
    println!("ledger_proofs: SQLite, {entries} ledger entries, {proofs} proofs of each kind");
    let now = SystemClock.now();
    let store = Store::open(&url).await.expect("store");
    let started = Instant::now();
    let tree = seed(&store, entries, now.as_unix() - 400 * 86_400).await;
    println!("seeded in {:.0} s", started.elapsed().as_secs_f64());

    // One checkpoint of them all, signed by the portal's key under a ledger delegation.
    let vendor = tessera_testkit::Vendor::new();
    let receipt = load_or_create_receipt_key(&data).expect("receipt key");
    let claims = DelegationClaims {
        portal_key: receipt.public_key().clone(),
        issued_at: now,
        not_before: now.saturating_sub(Duration::from_secs(3600)),
        not_after: now.saturating_add(Duration::from_secs(86_400)),
    };
    let ledger_delegation = delegation::sign_for(Purpose::Ledger, &claims, &vendor.key);
    let checkpoint = Checkpoint {
        origin: origin_for(&ledger_delegation),
        size: entries,
        root: tree.root_at(entries).expect("root"),
    };
    let stored = StoredCheckpoint {
        size: entries as i64,
        signed_at: now.as_unix(),
        key_id: receipt.key_id().to_string(),
        note: checkpoint.sign(&receipt),
    };
    store.insert_checkpoint(&stored, &ledger_delegation).await.expect("checkpoint");
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(store.pool()).await.expect("ckpt");
    drop(store);

    std::fs::write(dir.path().join("delegation.txt"), delegation::sign(&claims, &vendor.key))
        .expect("delegation");
    std::fs::write(dir.path().join("portal.toml"), "admin_requests_per_second = 100000\n")
        .expect("config");
    let key_out = Command::new(env!("CARGO_BIN_EXE_tessera-portal"))
        .args(["api-key", "create", "--scope", "read", "--data-dir"])
        .arg(&data)
        .arg("--database-url")
        .arg(&url)
        .output()
        .expect("api key");
    let key = String::from_utf8_lossy(&key_out.stdout).trim().to_owned();
    // No ledger delegation given: the portal signs nothing of its own while measured.
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera-portal"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .arg("--database-url")
        .arg(&url)
        .arg("--trust")
        .arg(vendor.trust_path())
        .arg("--delegation")
        .arg(dir.path().join("delegation.txt"))
        .arg("--config")
        .arg(dir.path().join("portal.toml"))
        .env("TESSERA_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start tessera-portal");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("line");
    let base = format!("http://{}", line.trim().trim_start_matches("listening on "));
    let http = reqwest::Client::builder().build().expect("client");
    let get = |path: String| {
        let (http, base, key) = (&http, &base, &key);
        async move {
            let started = Instant::now();
            let response =
                http.get(format!("{base}{path}")).bearer_auth(key).send().await.expect("GET");
            assert_eq!(response.status().as_u16(), 200, "{path}");
            let body = response.text().await.expect("body");
            (started.elapsed(), body)
        }
    };

    let (first, body) = get(format!("/v1/admin/audit/inclusion?seq={entries}")).await;
    let proof = InclusionProof::parse(&body).expect("a proof");
    let leaf = tessera_core::merkle::leaf_hash(proof.extra.as_deref().expect("entry"));
    proof.check(&leaf).expect("the proof holds");
    println!(
        "first proof (builds the tree from {entries} stored hashes): {:.0} ms",
        first.as_secs_f64() * 1e3
    );
    // Entries spread over the tree (a multiplicative step coprime with the size).
    let spread = |i: u64| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % entries) + 1;
    let mut inclusion = Vec::new();
    for i in 0..proofs {
        let (took, body) = get(format!("/v1/admin/audit/inclusion?seq={}", spread(i))).await;
        assert!(body.starts_with("c2sp.org/tlog-proof@v1"));
        inclusion.push(took);
    }
    let mut consistency = Vec::new();
    for i in 0..proofs {
        let (took, body) = get(format!("/v1/admin/audit/consistency?old={}", spread(i))).await;
        assert!(body.starts_with("old "));
        consistency.push(took);
    }
    let (p50, p99) = percentiles(inclusion);
    println!("inclusion proof of an entry in {entries}: p50 {p50:.2} ms, p99 {p99:.2} ms");
    let (p50, p99) = percentiles(consistency);
    println!("consistency proof from a size to {entries}: p50 {p50:.2} ms, p99 {p99:.2} ms");
    println!("portal peak memory: {} MB", peak_kib(child.id()) / 1024);
    let _ = child.kill();
    let _ = child.wait();
}
