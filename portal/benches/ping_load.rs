// Over 500 lines on purpose: the load generator, the store fill and the same-run floor
// (one verify plus one sign) live together so that the ratio is taken in one run.
//! Load generator: signed pings from many simulated hubs against a real `tessera-portal`
//! process on loopback, with the server's trivial `/healthz` as the ceiling in the same run,
//! and the cost of one Ed25519 verify + sign measured in the same run for the CPU budget.
//!
//! ```sh
//! cargo bench -p tessera-portal --bench ping_load                       # SQLite
//! TESSERA_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1/postgres \
//!   cargo bench -p tessera-portal --bench ping_load                     # PostgreSQL (a fresh database)
//! ```
//! Knobs (environment): `LICENSES` (100000), `CONCURRENCY` (64), `PINGS` (100000),
//! `HISTORY` (days of hourly pings each license already holds, 0), `RATE` (pings offered per
//! second, spread evenly, instead of each connection sending as soon as it has its answer;
//! latency then counts from when a ping was due), `ROLLING` (that history
//! ends yesterday, so the portal's first rollup runs during the pings), `PORTAL_BIN` (another
//! `tessera-portal` binary, to compare two builds in one session) and `MIGRATIONS_UPTO` (the
//! last migration that other build knows: the newer ones' records are taken out of the
//! seeded database, their columns and tables stay, so that an older build starts on it),
//! `WITHOUT_INDEX` (indexes dropped from the seeded database, to measure what they cost).
//! Every ping carries the receipt its hub holds (`holds`, `held_receipt`), as a real hub's.
//! See BENCHMARKS.md for figures.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Method;
use hyper::header::{CONTENT_TYPE, HOST, HeaderValue};
use hyper_util::rt::TokioIo;
use sqlx::AssertSqlSafe;
use tessera_core::armor::{Envelope, Kind};
use tessera_core::delegation::{self, DelegationClaims};
use tessera_core::fingerprint::{ComponentHash, Fingerprint};
use tessera_core::keyfile;
use tessera_core::keys::SigningKey;
use tessera_core::license::ProductId;
use tessera_core::receipt::{self, Answers, Nonce, PingCall, ReceiptClaims};
use tessera_core::time::{Clock, SystemClock};
use tessera_portal::startup::load_or_create_receipt_key;
use tessera_portal::store::Store;
use tessera_portal::store::day_counts::DayCounts;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn process_cpu_seconds(pid: u32) -> f64 {
    // utime and stime are fields 14 and 15 of /proc/PID/stat, in clock ticks (100 Hz).
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

struct Phase {
    requests: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    failures: usize,
    server_cpu: f64,
    client_cpu: f64,
}

impl Phase {
    fn report(&self, name: &str) {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let pct = |p: f64| {
            sorted
                .get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        println!(
            "{name:<8} {:>7} requests in {:>6.2} s = {:>8.0}/s   p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>7.2} ms  failures {}  server CPU {:.2} s ({:.1} µs/request), load generator CPU {:.1} µs/request",
            self.requests,
            self.elapsed.as_secs_f64(),
            self.requests as f64 / self.elapsed.as_secs_f64(),
            pct(0.50).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3,
            sorted.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
            self.failures,
            self.server_cpu,
            self.server_cpu * 1e6 / self.requests as f64,
            self.client_cpu * 1e6 / self.requests as f64,
        );
    }
}

/// One request of a phase: a GET without a body or a POST of a JSON body.
#[derive(Clone)]
struct Call {
    path: &'static str,
    body: Option<Bytes>,
}

/// Sends every call once over `concurrency` keep-alive connections (opened before the clock
/// starts), each call waiting for the previous answer on its connection; counts non-200
/// answers as failures. Bare hyper connections rather than a full client: the generator
/// shares the 2 cores with the server, and every microsecond it spends is taken from it.
async fn run_phase(
    pid: u32,
    address: SocketAddr,
    concurrency: usize,
    calls: Arc<Vec<Call>>,
    rate: Option<f64>,
) -> Phase {
    let mut senders = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let stream = tokio::net::TcpStream::connect(address).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("handshake");
        tokio::spawn(connection);
        senders.push(sender);
    }
    let host = HeaderValue::from_str(&address.to_string()).expect("host");
    let next = Arc::new(AtomicUsize::new(0));
    let cpu_before = process_cpu_seconds(pid);
    let client_before = process_cpu_seconds(std::process::id());
    let started = Instant::now();
    let mut tasks = Vec::new();
    for mut sender in senders {
        let (next, calls, host) = (next.clone(), calls.clone(), host.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = 0;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(call) = calls.get(i) else { break };
                // Paced: wait until this call is due, and count its latency from then (a
                // slow answer delays the calls behind it, and they count that wait).
                let due = rate.map(|rate| started + Duration::from_secs_f64(i as f64 / rate));
                if let Some(due) = due {
                    tokio::time::sleep_until(due.into()).await;
                }
                let mut request =
                    hyper::Request::builder().uri(call.path).header(HOST, host.clone());
                if call.body.is_some() {
                    request = request
                        .method(Method::POST)
                        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                }
                let request = request
                    .body(Full::new(call.body.clone().unwrap_or_default()))
                    .expect("request");
                let sent = due.unwrap_or_else(Instant::now);
                if sender.ready().await.is_err() {
                    failures += 1;
                    continue;
                }
                match sender.send_request(request).await {
                    Ok(response) if response.status() == 200 => {
                        match response.into_body().collect().await {
                            Ok(_) => latencies.push(sent.elapsed()),
                            Err(_) => failures += 1,
                        }
                    }
                    Ok(response) => {
                        let _ = response.into_body().collect().await;
                        failures += 1;
                    }
                    Err(_) => failures += 1,
                }
            }
            (latencies, failures)
        }));
    }
    let mut latencies = Vec::with_capacity(calls.len());
    let mut failures = 0;
    for task in tasks {
        let (l, f) = task.await.expect("load task");
        latencies.extend(l);
        failures += f;
    }
    let elapsed = started.elapsed();
    Phase {
        requests: calls.len(),
        elapsed,
        latencies,
        failures,
        server_cpu: process_cpu_seconds(pid) - cpu_before,
        client_cpu: process_cpu_seconds(std::process::id()) - client_before,
    }
}

/// Inserts licenses and activations straight into the store, in multi-row statements.
async fn seed(store: &Store, hub_keys: &[SigningKey], fingerprint_json: &str, now: i64) {
    let mut tx = store.pool().begin().await.expect("tx");
    for (chunk_index, chunk) in hub_keys.chunks(500).enumerate() {
        let mut licenses = String::from(
            "INSERT INTO licenses (id, key_sha256, org, product, runners, not_before, expires_at, \
             terminates_at, grace_period_secs, ping_interval_secs, status, registered_at, status_changed_at) VALUES ",
        );
        let mut activations = String::from(
            "INSERT INTO activations (license_id, fingerprint, fingerprint_version, hub_key, activated_at, last_ping_at, last_hub_time_ms, chain_pending) VALUES ",
        );
        for (i, key) in chunk.iter().enumerate() {
            let n = chunk_index * 500 + i;
            let id = license_id(n);
            let sep = if i == 0 { "" } else { "," };
            licenses.push_str(&format!(
                "{sep}('{id}', '{:064x}', 'Customer {n}', 'acme-hub', 5, {}, {}, NULL, 604800, 3600, 'active', {now}, {now})",
                n,
                now - 86_400,
                now + 365 * 86_400
            ));
            activations.push_str(&format!(
                "{sep}('{id}', '{fingerprint_json}', 2, '{}', {now}, {now}, 0, '{}')",
                key.public_key(),
                activation_nonce(n)
            ));
        }
        sqlx::query(AssertSqlSafe(licenses)).execute(&mut *tx).await.expect("seed licenses");
        sqlx::query(AssertSqlSafe(activations)).execute(&mut *tx).await.expect("seed activations");
    }
    tx.commit().await.expect("commit");
}

/// The pings the database holds, read without migrating it (it may be an older build's).
async fn stored_pings(url: &str) -> i64 {
    use sqlx::Row;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.expect("database");
    let rows = sqlx::query("SELECT day_counts FROM licenses WHERE day_counts IS NOT NULL")
        .fetch_all(&pool)
        .await
        .expect("day counts");
    pool.close().await;
    rows.iter()
        .map(|row| {
            let bytes: Vec<u8> = row.try_get(0).expect("day counts");
            let counts = DayCounts::decode(Some(&bytes)).expect("day counts");
            counts.days().map(|(_, n)| n as i64).sum::<i64>()
        })
        .sum()
}

/// The PostgreSQL server processes serving the database at `url` (the portal's
/// connections), to count the database's own CPU per ping beside the portal's.
async fn database_backends(url: &str) -> Vec<u32> {
    use sqlx::Connection;
    let mut connection = sqlx::PgConnection::connect(url).await.expect("connect to PostgreSQL");
    let pids: Vec<i32> = sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
         AND pid <> pg_backend_pid()",
    )
    .fetch_all(&mut connection)
    .await
    .expect("backends");
    pids.into_iter().filter_map(|pid| u32::try_from(pid).ok()).collect()
}

/// A new, empty database next to the one `base` names; returns its URL.
async fn fresh_postgres_database(base: &str) -> String {
    use sqlx::Connection;
    let name = format!("tessera_bench_{}", std::process::id());
    let mut admin = sqlx::PgConnection::connect(base).await.expect("connect to PostgreSQL");
    let _ = sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
        .execute(&mut admin)
        .await;
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create database");
    let (prefix, _) = base.rsplit_once('/').expect("a URL with a database name");
    format!("{prefix}/{name}")
}

/// Kills the portal when the load generator ends, even by a panic.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn license_id(n: usize) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

/// The nonce of license `n`'s activation receipt: the chain its first ping holds.
fn activation_nonce(n: usize) -> Nonce {
    let mut bytes = [0xa5; 16];
    bytes[..8].copy_from_slice(&(n as u64).to_le_bytes());
    Nonce::from_bytes(bytes)
}

/// The cost of one Ed25519 verify and one sign, in CPU time of this process (which is idle
/// otherwise when it runs), the same measure as the server's CPU per ping: time stolen by
/// the hypervisor or spent waiting for a core counts in neither. About a second each, so
/// that the 10 ms tick resolution of /proc is 1 %.
fn crypto_baseline() -> (f64, f64) {
    let key = SigningKey::from_seed(&[7; 32]);
    let message = vec![0x5a; 400];
    let signature = key.sign(&message);
    let me = std::process::id();
    let rounds = 20_000;
    let before = process_cpu_seconds(me);
    for _ in 0..rounds {
        std::hint::black_box(
            key.public_key().verify(std::hint::black_box(&message), &signature).is_ok(),
        );
    }
    let verify = (process_cpu_seconds(me) - before) / rounds as f64;
    let before = process_cpu_seconds(me);
    for _ in 0..rounds {
        std::hint::black_box(key.sign(std::hint::black_box(&message)));
    }
    let sign = (process_cpu_seconds(me) - before) / rounds as f64;
    (verify * 1e6, sign * 1e6)
}

fn main() {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(load());
}

async fn load() {
    let licenses = env_usize("LICENSES", 100_000);
    let concurrency = env_usize("CONCURRENCY", 64);
    let rate = Some(env_usize("RATE", 0) as f64).filter(|r| *r > 0.0);
    let pings = env_usize("PINGS", 100_000);
    let database = match std::env::var("TESSERA_BENCH_POSTGRES_URL") {
        Ok(base) => Some(fresh_postgres_database(&base).await),
        Err(_) => None,
    };
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data");
    let database_url = database
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", data.join("portal.db").display()));
    println!(
        "ping_load: {} on {}, {licenses} licenses ({} days of history), {pings} pings, {concurrency} connections, {}",
        env!("CARGO_PKG_NAME"),
        if database.is_some() { "PostgreSQL" } else { "SQLite (synchronous=FULL, WAL)" },
        env_usize("HISTORY", 0),
        rate.map_or("as fast as answered".to_owned(), |r| format!("{r:.0} pings/s offered"))
    );

    let vendor = SigningKey::generate().expect("key");
    std::fs::write(dir.path().join("vendor.pub"), keyfile::public(&vendor)).expect("trust");
    let receipt = load_or_create_receipt_key(&data).expect("receipt key");
    let now = SystemClock.now();
    let claims = DelegationClaims {
        portal_key: receipt.public_key().clone(),
        issued_at: now,
        not_before: now.saturating_sub(Duration::from_secs(3600)),
        not_after: now.saturating_add(Duration::from_secs(86_400)),
    };
    std::fs::write(dir.path().join("delegation.txt"), delegation::sign(&claims, &vendor))
        .expect("delegation");
    std::fs::write(dir.path().join("portal.toml"), "pings_per_minute = 1000000\n").expect("config");

    let product: ProductId = "acme-hub".parse().expect("product");
    let mut fingerprint = Fingerprint::new();
    for name in ["machine_id", "hostname", "cpu", "mac", "disk"] {
        fingerprint
            .insert(name, ComponentHash::of(&product, name, name.as_bytes()))
            .expect("component");
    }
    let fingerprint_json = serde_json::to_string(&fingerprint).expect("json");
    let started = Instant::now();
    let hub_keys: Vec<SigningKey> = (0..licenses)
        .map(|n| {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&(n as u64).to_le_bytes());
            SigningKey::from_seed(&seed)
        })
        .collect();
    let store = Store::open(&database_url).await.expect("store");
    seed(&store, &hub_keys, &fingerprint_json, now.as_unix()).await;
    // Each license's day counts as a hub pinging hourly for `HISTORY` days leaves them: the
    // writer reads and rewrites them with every ping.
    let history_days = env_usize("HISTORY", 0) as i64;
    if history_days > 0 {
        let today = now.as_unix().div_euclid(86_400);
        let mut history = tessera_portal::store::day_counts::DayCounts::default();
        // Ending today: all inside the 90 days kept, so the rollup the portal runs as it
        // starts finds nothing to move. `ROLLING=1` ends it yesterday instead: the first
        // rollup after midnight, a day to move for every license, runs during the pings.
        let last = if std::env::var_os("ROLLING").is_some() { today - 1 } else { today };
        for day in last + 1 - history_days..=last {
            history.add(day, 24);
        }
        sqlx::query("UPDATE licenses SET day_counts = $1, days_from = $2")
            .bind(history.encode())
            .bind(history.first_day())
            .execute(store.pool())
            .await
            .expect("history");
    }
    if database.is_some() {
        // A bulk load leaves PostgreSQL work to do (the history update leaves a dead version
        // of every row, and no table has statistics yet): done now, not by autovacuum
        // during the measurement. A portal that has run for a while is in this state.
        for statement in ["VACUUM ANALYZE", "CHECKPOINT"] {
            sqlx::query(statement).execute(store.pool()).await.expect(statement);
        }
    }
    // `WITHOUT_INDEX=name[,name]`: those indexes dropped before the portal starts, to
    // measure in one session what an index costs the ping path (runs alternated).
    if let Ok(names) = std::env::var("WITHOUT_INDEX") {
        for name in names.split(',').filter(|n| !n.is_empty()) {
            assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'), "{name}");
            sqlx::query(AssertSqlSafe(format!("DROP INDEX {name}")))
                .execute(store.pool())
                .await
                .expect("WITHOUT_INDEX");
            println!("without the index {name}");
        }
    }
    if let Ok(upto) = std::env::var("MIGRATIONS_UPTO") {
        let upto: i64 = upto.parse().expect("MIGRATIONS_UPTO: a migration version");
        sqlx::query("DELETE FROM _sqlx_migrations WHERE version > $1")
            .bind(upto)
            .execute(store.pool())
            .await
            .expect("older build's migrations");
    }
    store.pool().close().await;
    println!(
        "seeded {licenses} licenses and activations in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let portal_bin = std::env::var("PORTAL_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_tessera-portal").to_owned());
    let mut child = Command::new(&portal_bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .arg("--database-url")
        .arg(&database_url)
        .arg("--trust")
        .arg(dir.path().join("vendor.pub"))
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
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("listening line");
    let pid = child.id();
    let child = KillOnDrop(child);

    let address: SocketAddr =
        line.trim().trim_start_matches("listening on ").parse().expect("listening address");

    // Pre-signed pings, one per license in turn, so that signing is not measured. Each holds
    // the receipt of its license's call before (the activation's, then its ping before),
    // signed with the portal's receipt key as the portal would have.
    let started = Instant::now();
    let time_ms = now.as_unix() * 1000;
    let fingerprint_digest = receipt::fingerprint_json_digest(&fingerprint_json);
    let nonce = |i: usize| Nonce::from_bytes([(i % 251) as u8; 16]);
    let pings_calls: Vec<Call> = (0..pings)
        .map(|i| {
            let n = i % licenses;
            let holds = i.checked_sub(licenses).map_or_else(|| activation_nonce(n), nonce);
            let held = ReceiptClaims {
                license_id: license_id(n).parse().expect("id"),
                answers: if i < licenses { Answers::Activate } else { Answers::Ping },
                status: tessera_core::Status::Valid,
                portal_time: now,
                nonce: holds,
                next_ping_by: now.saturating_add(Duration::from_secs(3600)),
                fingerprint: fingerprint_digest.clone(),
                hub_key_id: hub_keys[n].key_id(),
                ledger_head: None,
                runners: None,
            };
            let call = PingCall {
                license_id: license_id(n).parse().expect("id"),
                fingerprint: fingerprint.clone(),
                fingerprint_version: tessera_core::fingerprint::VERSION,
                previous_fingerprint: None,
                holds: Some(holds),
                held_receipt: Some(receipt::sign(&held, &receipt)),
                nonce: nonce(i),
                hub_time_ms: time_ms + (i / licenses) as i64 + 1,
                runners: None,
            };
            let body = Envelope::sign_body(Kind::Ping, &hub_keys[n], &call).to_compact();
            let json = serde_json::to_vec(&body).expect("json");
            Call { path: "/v1/ping", body: Some(Bytes::from(json)) }
        })
        .collect();
    println!("signed {pings} pings in {:.1} s", started.elapsed().as_secs_f64());
    let health = vec![Call { path: "/healthz", body: None }; pings];

    // Warm the server, then the ceiling, then the pings.
    let warm = vec![Call { path: "/healthz", body: None }; concurrency * 4];
    run_phase(pid, address, concurrency, Arc::new(warm), None).await;
    let ceiling = run_phase(pid, address, concurrency, Arc::new(health), None).await;
    // The crypto floor just before and just after the pings, averaged: the machine's speed
    // drifts.
    let (verify_before, sign_before) = crypto_baseline();
    // The server processes of the portal's connections, before and after: the ping
    // threads connect at their first ping, so those found after count from zero.
    let backends_cpu = async || match &database {
        Some(url) => database_backends(url)
            .await
            .into_iter()
            .map(|pid| (pid, process_cpu_seconds(pid)))
            .collect::<std::collections::BTreeMap<u32, f64>>(),
        None => Default::default(),
    };
    let database_before = backends_cpu().await;
    let pinged = run_phase(pid, address, concurrency, Arc::new(pings_calls), rate).await;
    let backends = backends_cpu().await;
    let database_used: f64 = backends
        .iter()
        .map(|(pid, cpu)| cpu - database_before.get(pid).copied().unwrap_or(0.0))
        .sum();
    let (verify_after, sign_after) = crypto_baseline();
    let (verify_us, sign_us) =
        ((verify_before + verify_after) / 2.0, (sign_before + sign_after) / 2.0);

    ceiling.report("healthz");
    pinged.report("ping");
    let per_ping = pinged.server_cpu * 1e6 / pings as f64;
    println!(
        "crypto baseline (same run, CPU time, before/after the pings: verify {verify_before:.1}/{verify_after:.1} µs, sign {sign_before:.1}/{sign_after:.1} µs): verify {verify_us:.1} µs + sign {sign_us:.1} µs = {:.1} µs; server CPU per ping {per_ping:.1} µs = {:.2}x",
        verify_us + sign_us,
        per_ping / (verify_us + sign_us)
    );

    if database.is_some() {
        println!(
            "PostgreSQL's CPU per ping (the {} server processes of the portal's connections): {:.1} µs",
            backends.len(),
            database_used * 1e6 / pings as f64
        );
    }
    let counted = stored_pings(&database_url).await;
    println!("stored ping count: {counted} (answered with a receipt: {})", pinged.latencies.len());
    drop(child);
    if let (Ok(base), Some(url)) = (std::env::var("TESSERA_BENCH_POSTGRES_URL"), database) {
        use sqlx::Connection;
        let name = url.rsplit_once('/').map(|(_, n)| n.to_owned()).unwrap_or_default();
        if let Ok(mut admin) = sqlx::PgConnection::connect(&base).await {
            let _ =
                sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                    .execute(&mut admin)
                    .await;
        }
    }
}
