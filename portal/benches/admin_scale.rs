// Over 500 lines on purpose: one benchmark fills a million-license store once (tens of
// minutes) and times every admin page against it in the same run, so the figures compare.
//! The admin side of a portal at scale: a store of `LICENSES` licenses (default 1,000,000),
//! each with 90 days of ping history and three rolled-up months, served by a real
//! `tessera-portal` (release) process on loopback. Measured in one run: the database's size
//! per license, a license page and filtered pages (p50/p99), the web list's name search and
//! sorts (p50/p99, 100 a page, with the count), a whole usage export (rows/s
//! and the portal's peak memory), batch registration of signed licenses, the rollup of a
//! day for every license, and — when the release `tessera` binary is there — the vendor's
//! whole `tessera issue --batch … --register` against issuing alone.
//!
//! ```sh
//! cargo build --release -p tessera-cli       # for the issue-and-register comparison
//! cargo bench -p tessera-portal --bench admin_scale                       # SQLite
//! TESSERA_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1/postgres \
//!   cargo bench -p tessera-portal --bench admin_scale                     # PostgreSQL
//! ```
//! Knobs: `LICENSES` (1000000), `REGISTER` (100000 licenses signed and registered),
//! `ISSUE` (50000 rows for the CLI comparison), `SEEDED` (where to keep the seeded database
//! between runs: a file for SQLite, a database name for PostgreSQL), `V4_IDS` (seed random ids, as licenses issued before ids were
//! time-ordered have), `PAGES_ONLY` (stop after the API and web pages). Figures in
//! BENCHMARKS.md.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::AssertSqlSafe;
use tessera_core::UnixTime;
use tessera_core::delegation::{self, DelegationClaims};
use tessera_core::keys::SigningKey;
use tessera_core::license::{LicenseTerms, sign};
use tessera_core::time::{Clock, SystemClock};
use tessera_portal::startup::load_or_create_receipt_key;
use tessera_portal::store::day_counts::DayCounts;
use tessera_portal::store::{Backend, Store};

const DAY: i64 = 86_400;
const CUSTOMERS: usize = 1000;

/// Words of the customers' names: 40 × 25 pairs name 1,000 customers, each with one of
/// seven company forms, so names share words as real ones do ("Systems": 40 customers;
/// "GmbH": 143).
const FIRST_WORDS: [&str; 40] = [
    "Northwind",
    "Bluefin",
    "Cedar",
    "Granite",
    "Harbor",
    "Ironwood",
    "Juniper",
    "Keystone",
    "Lakeside",
    "Maple",
    "Nimbus",
    "Oakridge",
    "Pinnacle",
    "Quarry",
    "Redwood",
    "Summit",
    "Tidewater",
    "Umber",
    "Vantage",
    "Willow",
    "Acme",
    "Birch",
    "Copper",
    "Delta",
    "Ember",
    "Falcon",
    "Glacier",
    "Helix",
    "Indigo",
    "Jade",
    "Kestrel",
    "Lumen",
    "Meridian",
    "Nova",
    "Orion",
    "Prairie",
    "Quartz",
    "Riverside",
    "Sterling",
    "Thistle",
];
const SECOND_WORDS: [&str; 25] = [
    "Logistics",
    "Systems",
    "Analytics",
    "Foods",
    "Robotics",
    "Energy",
    "Textiles",
    "Health",
    "Media",
    "Labs",
    "Freight",
    "Software",
    "Mining",
    "Pharma",
    "Studios",
    "Capital",
    "Dynamics",
    "Networks",
    "Motors",
    "Optics",
    "Aerospace",
    "Farms",
    "Security",
    "Marine",
    "Telecom",
];
const FORMS: [&str; 7] = ["GmbH", "Ltd", "Inc.", "AG", "LLC", "S.A.", "Co."];

/// Customer `c`'s name (`c` < 1,000), e.g. "Northwind Logistics GmbH".
fn customer_name(c: usize) -> String {
    format!("{} {} {}", FIRST_WORDS[c % 40], SECOND_WORDS[c / 40 % 25], FORMS[c % 7])
}

/// A part of customer `c`'s name that names that customer alone: the end of its first
/// word and the start of its second, in another case ("WIND logi").
fn customer_part(c: usize) -> String {
    let first = FIRST_WORDS[c % 40];
    let second = SECOND_WORDS[c / 40 % 25];
    format!("{} {}", first[first.len() - 4..].to_uppercase(), &second[..4].to_lowercase())
}

/// `text` for a URL's query.
fn encoded(text: &str) -> String {
    text.bytes()
        .map(
            |b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            },
        )
        .collect()
}

/// A page's path for a random number.
type PathOf<'a> = &'a dyn Fn(usize) -> String;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The `n`th seeded license's id: version 7, as issued since ids became time-ordered (a
/// millisecond apart here), so that ids sort in the order licenses were registered.
/// `V4_IDS=1` seeds random (version-4) ids instead, as a portal holding licenses issued
/// before then has.
fn license_id(n: usize) -> String {
    if std::env::var_os("V4_IDS").is_some() {
        let random = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        return format!("{:08x}-0000-4000-8000-{n:012x}", (random >> 32) as u32);
    }
    let millis = 1_764_000_000_000u64 + n as u64;
    format!("{:08x}-{:04x}-7000-8000-{n:012x}", millis >> 16, millis & 0xffff)
}

fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn percentiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at = |p: f64| {
        samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)].as_secs_f64() * 1e3
    };
    (at(0.5), at(0.99))
}

/// Licenses with 90 days of history (24 pings a day, ending today), half of them bound
/// to a hub, and three rolled-up months each, in multi-row statements.
async fn seed(store: &Store, licenses: usize, now: i64) {
    let today = now.div_euclid(DAY);
    // The 90 days the portal keeps, today included: nothing to roll up until tomorrow.
    let mut history = DayCounts::default();
    for day in today - 89..=today {
        history.add(day, 24);
    }
    let bytes = history.encode();
    let first_day = history.first_day();
    let started = Instant::now();
    for chunk_start in (0..licenses).step_by(500) {
        let chunk = chunk_start..(chunk_start + 500).min(licenses);
        let mut tx = store.pool().begin().await.expect("tx");
        let rows: Vec<String> = (0..chunk.len())
            .map(|k| {
                let p = 5 * k;
                format!("(${}, ${}, ${}, ${}, ${})", p + 1, p + 2, p + 3, p + 4, p + 5)
            })
            .collect();
        // The fixed columns are literals; organizations and end dates are spread over the
        // licenses (for the filtered pages).
        let sql = format!(
            "INSERT INTO licenses (id, day_counts, days_from, org, expires_at, key_sha256, \
             product, runners, not_before, terminates_at, grace_period_secs, ping_interval_secs, \
             status, registered_at, status_changed_at) \
             SELECT v.column1, v.column2, v.column3, v.column4, v.column5, 'k' || v.column1, \
             'acme-hub', 5, {}, NULL, 604800, 3600, 'active', {now}, {now} FROM (VALUES {}) AS v",
            now - 400 * DAY,
            rows.join(",")
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for n in chunk.clone() {
            query = query
                .bind(license_id(n))
                .bind(bytes.clone())
                .bind(first_day)
                .bind(customer_name(n % CUSTOMERS))
                .bind(now + DAY * (n % 400) as i64);
        }
        query.execute(&mut *tx).await.expect("licenses");
        let activations: Vec<String> = chunk
            .clone()
            .filter(|n| n % 2 == 0)
            .map(|n| {
                let last = if n % 4 == 0 { now } else { now - 10 * DAY };
                format!("('{}', '{{}}', 2, 'tessera-pub-v1:x{n}', {now}, {last}, 0)", license_id(n))
            })
            .collect();
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO activations (license_id, fingerprint, fingerprint_version, hub_key, \
             activated_at, last_ping_at, last_hub_time_ms) VALUES {}",
            activations.join(",")
        )))
        .execute(&mut *tx)
        .await
        .expect("activations");
        let months: Vec<String> = chunk
            .clone()
            .flat_map(|n| {
                [202_501, 202_502, 202_503].map(|m| format!("('{}', {m}, 720)", license_id(n)))
            })
            .collect();
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO ping_months (license_id, month, pings) VALUES {}",
            months.join(",")
        )))
        .execute(&mut *tx)
        .await
        .expect("months");
        tx.commit().await.expect("commit");
        if chunk_start % 100_000 == 0 && chunk_start > 0 {
            eprintln!("  seeded {chunk_start} in {:.0} s", started.elapsed().as_secs_f64());
        }
    }
}

/// The database's size in bytes, and the bytes of all day counts.
async fn sizes(store: &Store, url: &str) -> (u64, u64) {
    let history: i64 = match store.backend() {
        Backend::Sqlite => {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(store.pool())
                .await
                .expect("ckpt");
            sqlx::query_scalar("SELECT CAST(SUM(LENGTH(day_counts)) AS BIGINT) FROM licenses")
                .fetch_one(store.pool())
                .await
                .expect("history size")
        }
        Backend::Postgres => {
            sqlx::query("VACUUM ANALYZE").execute(store.pool()).await.expect("vacuum");
            sqlx::query_scalar("SELECT CAST(SUM(OCTET_LENGTH(day_counts)) AS BIGINT) FROM licenses")
                .fetch_one(store.pool())
                .await
                .expect("history size")
        }
    };
    let total = match store.backend() {
        Backend::Sqlite => {
            let file = url.trim_start_matches("sqlite://");
            std::fs::metadata(file).map(|m| m.len()).unwrap_or(0)
        }
        Backend::Postgres => {
            let size: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
                .fetch_one(store.pool())
                .await
                .expect("size");
            size as u64
        }
    };
    (total, history as u64)
}

struct Portal {
    child: std::process::Child,
    url: String,
    key: String,
}

impl Drop for Portal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn main() {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let licenses = env_usize("LICENSES", 1_000_000);
    let register = env_usize("REGISTER", 100_000);
    let issue = env_usize("ISSUE", 50_000);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data");
    let postgres = std::env::var("TESSERA_BENCH_POSTGRES_URL").ok();
    // `SEEDED`: a seeded database kept between runs, to measure again without seeding
    // again (made on the first run): on SQLite a file, copied for each run; on PostgreSQL a
    // database of that name, each run on a copy of it (`CREATE DATABASE … TEMPLATE`).
    let seeded = std::env::var("SEEDED").ok();
    let kept = match (&postgres, &seeded) {
        (None, Some(path)) => std::path::Path::new(path).exists(),
        (Some(base), Some(name)) => postgres_database_exists(base, name).await,
        (_, None) => false,
    };
    let url = match &postgres {
        Some(base) => fresh_postgres_database(base, seeded.as_deref().filter(|_| kept)).await,
        None => format!("sqlite://{}", data.join("portal.db").display()),
    };
    let backend = if postgres.is_some() { "PostgreSQL" } else { "SQLite" };
    println!("admin_scale: {backend}, {licenses} licenses with 90 days of history");
    let now = SystemClock.now();
    if let (None, Some(path), true) = (&postgres, &seeded, kept) {
        std::fs::copy(path, data.join("portal.db")).expect("copy the seeded database");
    }
    let mut store = Store::open(&url).await.expect("store");
    if !kept {
        let started = Instant::now();
        seed(&store, licenses, now.as_unix()).await;
        println!("seeded in {:.0} s", started.elapsed().as_secs_f64());
        match (&postgres, &seeded) {
            (None, Some(path)) => {
                sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(store.pool())
                    .await
                    .expect("ckpt");
                std::fs::copy(data.join("portal.db"), path).expect("keep the seeded database");
            }
            (Some(base), Some(name)) => {
                // A database is copied only while no one is connected to it.
                store.pool().close().await;
                keep_postgres_database(base, &url, name).await;
                store = Store::open(&url).await.expect("store");
            }
            (_, None) => {}
        }
    }
    let (total, history) = sizes(&store, &url).await;
    println!(
        "database: {:.0} bytes per license in all ({:.1} MB); day counts {:.1} bytes per license",
        total as f64 / licenses as f64,
        total as f64 / 1e6,
        history as f64 / licenses as f64
    );

    let vendor = tessera_testkit::Vendor::new();
    let receipt = load_or_create_receipt_key(&data).expect("receipt key");
    let claims = DelegationClaims {
        portal_key: receipt.public_key().clone(),
        issued_at: now,
        not_before: now.saturating_sub(Duration::from_secs(3600)),
        not_after: now.saturating_add(Duration::from_secs(86_400)),
    };
    std::fs::write(
        dir.path().join("delegation.txt"),
        delegation::sign(&claims, vendor_key(&vendor)),
    )
    .expect("delegation");
    // The limiter is not what is measured here.
    std::fs::write(dir.path().join("portal.toml"), "admin_requests_per_second = 100000\n")
        .expect("config");
    let key_out = Command::new(env!("CARGO_BIN_EXE_tessera-portal"))
        .args(["api-key", "create", "--scope", "read,write", "--data-dir"])
        .arg(&data)
        .arg("--database-url")
        .arg(&url)
        .output()
        .expect("api key");
    let key = String::from_utf8_lossy(&key_out.stdout).trim().to_owned();
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
    let address = line.trim().trim_start_matches("listening on ").to_owned();
    let portal = Portal { child, url: format!("http://{address}"), key };
    let pid = portal.child.id();
    let http = reqwest::Client::builder().build().expect("client");

    // Pages: the first page and pages after random cursors; filtered pages.
    let get = |path: String| {
        let request = http.get(format!("{}{path}", portal.url)).bearer_auth(&portal.key);
        async move {
            let sent = Instant::now();
            let response = request.send().await.expect("page");
            assert_eq!(response.status(), 200, "{path}");
            let _ = response.bytes().await.expect("body");
            sent.elapsed()
        }
    };
    let mut state = 0x2545_F491_4F6C_DD1D_u64;
    let mut random = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let cases: [(&str, &dyn Fn(usize) -> String); 4] = [
        ("a page of 100", &|_| String::new()),
        ("org (1 in 1,000)", &|n| format!("&org={}", encoded(&customer_name(n % CUSTOMERS)))),
        ("standing=valid&activated=false", &|_| "&standing=valid&activated=false".into()),
        ("expiring_before (1 in 13)", &|_| {
            format!("&expiring_before={}", now.as_unix() + 30 * DAY)
        }),
    ];
    for (name, filter) in cases {
        let mut samples = Vec::new();
        for i in 0..400 {
            let cursor = license_id(random(licenses));
            let after = if i % 10 == 0 { String::new() } else { format!("&after={cursor}") };
            samples.push(get(format!("/v1/admin/licenses?limit=100{}{after}", filter(i))).await);
        }
        let (p50, p99) = percentiles(samples);
        println!("page: {name:<34} p50 {p50:6.2} ms  p99 {p99:6.2} ms  (400 pages)");
    }

    // The web pages, signed in as a super-admin and as an org-admin of one organization
    // (1,000 licenses of the million, assigned when the organization is made).
    let cli = |args: &[&str], stdin: &str| {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_tessera-portal"))
            .args(args)
            .arg("--data-dir")
            .arg(&data)
            .arg("--database-url")
            .arg(&url)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("tessera-portal");
        child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("stdin");
        assert!(child.wait().expect("wait").success(), "{args:?}");
    };
    let password = "bench lantern quietly\n";
    cli(&["org", "create", "--name", &customer_name(7)], "");
    cli(
        &[
            "user",
            "create",
            "--role",
            "super-admin",
            "--email",
            "staff@vendor.example",
            "--name",
            "Staff",
        ],
        password,
    );
    cli(
        &[
            "user",
            "create",
            "--role",
            "org-admin",
            "--org",
            &customer_name(7),
            "--email",
            "ops@c7.example",
            "--name",
            "Ops",
        ],
        password,
    );
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let sign_in = |email: &'static str| {
        let (browser, base) = (browser.clone(), portal.url.clone());
        async move {
            let form = browser.get(format!("{base}/ui/signin")).send().await.expect("form");
            let cookie = form.headers()["set-cookie"].to_str().expect("cookie").to_owned();
            let token = cookie
                .split(';')
                .next()
                .and_then(|p| p.split_once('='))
                .expect("pair")
                .1
                .to_owned();
            let done = browser
                .post(format!("{base}/ui/signin"))
                .header("cookie", format!("tessera_signin={token}"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!(
                    "email={}&password=bench+lantern+quietly&csrf={token}",
                    email.replace('@', "%40")
                ))
                .send()
                .await
                .expect("sign in");
            assert_eq!(done.status(), 303, "sign-in of {email}");
            let session = done
                .headers()
                .get_all("set-cookie")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find(|c| c.starts_with("tessera_session="))
                .expect("session cookie");
            session.split(';').next().expect("pair").to_owned()
        }
    };
    let staff = sign_in("staff@vendor.example").await;
    let ops = sign_in("ops@c7.example").await;
    let page = |cookie: String, path: String| {
        let (browser, base) = (browser.clone(), portal.url.clone());
        async move {
            let sent = Instant::now();
            let response = browser
                .get(format!("{base}{path}"))
                .header("cookie", cookie)
                .send()
                .await
                .expect("page");
            assert_eq!(response.status(), 200, "{path}");
            let _ = response.bytes().await.expect("body");
            sent.elapsed()
        }
    };
    // A customer's part ("WOOD netw") names one customer (1,000 licenses) or two; "Systems"
    // is in 40 customers' names (40,000 licenses), "gmbh" in 143 (143,000): the common words.
    let web_cases: [(&str, &String, PathOf<'_>); 13] = [
        ("web: all, 100 a page, after a cursor", &staff, &|n| {
            format!("/ui/licenses?after={}", license_id(n))
        }),
        ("web: name search, one customer's part", &staff, &|n| {
            format!("/ui/licenses?q={}", encoded(&customer_part(n % CUSTOMERS)))
        }),
        ("web: name search, sorted by end", &staff, &|n| {
            format!("/ui/licenses?q={}&sort=ends&dir=desc", encoded(&customer_part(n % CUSTOMERS)))
        }),
        ("web: name search, a full name", &staff, &|n| {
            format!("/ui/licenses?q={}", encoded(&customer_name(n % CUSTOMERS)))
        }),
        ("web: name search, common word Systems", &staff, &|_| "/ui/licenses?q=Systems".into()),
        ("web: name search, common word gmbh", &staff, &|_| "/ui/licenses?q=gmbh".into()),
        ("web: all by customer, after a cursor", &staff, &|n| {
            format!("/ui/licenses?sort=customer&after={}", license_id(n))
        }),
        ("web: all by end, descending", &staff, &|n| {
            format!("/ui/licenses?sort=ends&dir=desc&after={}", license_id(n))
        }),
        ("web: all by last ping, descending", &staff, &|n| {
            format!("/ui/licenses?sort=last_ping&dir=desc&after={}", license_id(n))
        }),
        ("web: one license (staff)", &staff, &|n| format!("/ui/licenses/{}", license_id(n))),
        ("web: standing=valid list (staff)", &staff, &|n| {
            format!("/ui/licenses?standing=valid&after={}", license_id(n))
        }),
        ("web: org-admin's list (1 in 1,000)", &ops, &|n| {
            format!("/ui/licenses?after={}", license_id(n))
        }),
        ("web: org-admin's license", &ops, &|n| {
            // Customer 7's licenses are those whose number ends in 007.
            format!("/ui/licenses/{}", license_id(n / CUSTOMERS * CUSTOMERS + 7))
        }),
    ];
    for (name, cookie, path) in web_cases {
        let loads = 400;
        let mut samples = Vec::new();
        for _ in 0..loads {
            samples.push(page(cookie.clone(), path(random(licenses - CUSTOMERS))).await);
        }
        let (p50, p99) = percentiles(samples);
        println!("page: {name:<34} p50 {p50:6.2} ms  p99 {p99:6.2} ms  ({loads} pages)");
    }
    for (name, cookie, times) in [("staff", &staff, 5), ("org-admin", &ops, 50)] {
        let mut samples = Vec::new();
        for _ in 0..times {
            samples.push(page(cookie.clone(), "/ui".into()).await);
        }
        let (p50, p99) = percentiles(samples);
        println!(
            "page: web: dashboard ({name}){:<14} p50 {p50:6.2} ms  p99 {p99:6.2} ms  ({times} pages)",
            ""
        );
    }
    if std::env::var_os("PAGES_ONLY").is_some() {
        drop(portal);
        store.pool().close().await;
        if let Some(base) = &postgres {
            drop_database(base, &url).await;
        }
        return;
    }

    // The export's reads alone, in this process: the store's part of an export.
    let started = Instant::now();
    let (mut after, mut rows_read) = (None::<String>, 0usize);
    loop {
        let filter = tessera_portal::store::LicenseFilter::default();
        let page = store.usage_page(&filter, after.as_deref(), 1000, now).await.expect("page");
        rows_read += page.rows.len();
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "export reads alone: {rows_read} rows in {elapsed:.1} s = {:.0} rows/s",
        rows_read as f64 / elapsed
    );

    // The whole usage export, streamed.
    let before = peak_kib(pid);
    let started = Instant::now();
    let mut response = http
        .get(format!("{}/v1/admin/usage?format=jsonl", portal.url))
        .bearer_auth(&portal.key)
        .send()
        .await
        .expect("export");
    let mut rows = 0u64;
    let mut bytes = 0u64;
    while let Some(chunk) = response.chunk().await.expect("chunk") {
        rows += chunk.iter().filter(|b| **b == b'\n').count() as u64;
        bytes += chunk.len() as u64;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "export: {rows} rows ({:.0} MB) in {elapsed:.1} s = {:.0} rows/s; portal peak memory {} MB before, {} MB after",
        bytes as f64 / 1e6,
        rows as f64 / elapsed,
        before / 1024,
        peak_kib(pid) / 1024
    );

    // Batch registration of signed licenses (already in memory: on disk in practice).
    let texts: Vec<String> = (0..register)
        .map(|i| {
            let mut terms = LicenseTerms::new(
                format!("Reg {}", i % 97).parse().expect("org"),
                "acme-hub".parse().expect("product"),
                3,
                now.saturating_add(Duration::from_secs(365 * 86_400)),
            );
            terms.not_before = Some(now.saturating_sub(Duration::from_secs(86_400)));
            let claims = terms.issue(now).expect("terms");
            sign(&claims, vendor_key(&vendor)).expect("sign")
        })
        .collect();
    // The two parts of a registration measured alone, in this process: checking the
    // signatures (one core) and writing the rows (fresh ids, so nothing is there yet).
    let trust =
        tessera_core::TrustSet::parse(&std::fs::read(vendor.trust_path()).expect("trust file"))
            .expect("trust");
    let started = Instant::now();
    // As the portal checks a call: 1,000 signatures in one batch.
    let mut rows: Vec<tessera_portal::store::LicenseRow> = Vec::with_capacity(texts.len());
    for call in texts.chunks(1000) {
        let files: Vec<_> = call
            .iter()
            .map(|text| tessera_core::license::LicenseFile::parse(text.as_bytes()).expect("parse"))
            .collect();
        for verdict in tessera_core::license::LicenseFile::verify_many(
            &files,
            &trust,
            now,
            &Default::default(),
        ) {
            let claims = verdict.claims().expect("valid");
            rows.push(tessera_portal::store::LicenseRow::registered(claims, now));
        }
    }
    let verify = started.elapsed().as_secs_f64();
    let rows: Vec<_> = rows
        .into_iter()
        .enumerate()
        .map(|(i, mut row)| {
            // Fresh ids and keys as an issuer makes them (random keys, time-ordered ids).
            row.id = tessera_core::license::LicenseId::generate(now).expect("id").to_string();
            row.key_sha256 =
                format!("{:016x}{:048x}", (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15), i);
            row
        })
        .collect();
    let started = Instant::now();
    for chunk in rows.chunks(500) {
        store.register_licenses(chunk).await.expect("register");
    }
    let write = started.elapsed().as_secs_f64();
    println!(
        "registration parts alone: verify {:.0}/s on one core, store {:.0}/s",
        register as f64 / verify,
        register as f64 / write
    );
    let started = Instant::now();
    let chunks: Vec<&[String]> = texts.chunks(1000).collect();
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let chunks = std::sync::Arc::new(chunks.iter().map(|c| c.to_vec()).collect::<Vec<_>>());
    let mut workers = Vec::new();
    for _ in 0..2 {
        let (next, chunks, http) = (next.clone(), chunks.clone(), http.clone());
        let (url, key) = (portal.url.clone(), portal.key.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(chunk) = chunks.get(i) else { return };
                let response = http
                    .post(format!("{url}/v1/admin/licenses/batch"))
                    .bearer_auth(&key)
                    .json(&serde_json::json!({ "licenses": chunk }))
                    .send()
                    .await
                    .expect("batch");
                assert_eq!(response.status(), 200);
                let _ = response.bytes().await;
            }
        }));
    }
    for worker in workers {
        worker.await.expect("worker");
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "batch registration: {register} licenses in {elapsed:.1} s = {:.0} licenses/s (1,000 a call, 2 in flight, as tessera register sends them)",
        register as f64 / elapsed
    );

    // The whole vendor command against issuing alone, with the release CLI.
    let cli = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent()?.parent().map(|d| d.join("tessera")))
        .filter(|p| p.exists());
    match cli {
        None => println!(
            "issue vs issue --register: NOT MEASURED (build the release CLI first: cargo build --release -p tessera-cli)"
        ),
        Some(cli) => {
            let mut orders = String::from("org,product,runners,expires,order_id\n");
            for i in 0..issue {
                orders.push_str(&format!("Issue {},acme-hub,3,2031-12-31,I-{i}\n", i % 97));
            }
            std::fs::write(dir.path().join("orders.csv"), orders).expect("orders");
            // `pin`: the CLI on the first core only (the portal on the second, set below).
            let timed = |out: &str, register: bool, pin: bool| {
                let mut command = if pin {
                    let mut taskset = Command::new("taskset");
                    taskset.args(["-c", "0"]).arg(&cli);
                    taskset
                } else {
                    Command::new(&cli)
                };
                command
                    .args(["issue", "--key"])
                    .arg(vendor.key_path())
                    .arg("--batch")
                    .arg(dir.path().join("orders.csv"))
                    .arg("--out-dir")
                    .arg(dir.path().join(out));
                if register {
                    command.args(["--register", &portal.url]).env("TESSERA_API_KEY", &portal.key);
                }
                let started = Instant::now();
                let output = command.output().expect("tessera issue");
                assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
                issue as f64 / started.elapsed().as_secs_f64()
            };
            let alone = timed("alone", false, false);
            let registered = timed("registered", true, false);
            println!(
                "tessera issue --batch ({issue} rows), sharing both cores: {alone:.0}/s alone, {registered:.0}/s with --register = {:.0} %",
                registered / alone * 100.0
            );
            // As a vendor runs it, the portal on a machine of its own: here a core of its
            // own, the CLI on the other in both runs. (PostgreSQL's server is not pinned.)
            let pin_portal = |cores: &str| {
                Command::new("taskset")
                    .args(["-a", "-p", "-c", cores, &pid.to_string()])
                    .stdout(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            };
            if pin_portal("1") {
                let alone = timed("alone-pinned", false, true);
                let registered = timed("registered-pinned", true, true);
                pin_portal("0-1");
                println!(
                    "tessera issue --batch ({issue} rows), CLI on one core, portal on the other: {alone:.0}/s alone, {registered:.0}/s with --register = {:.0} %",
                    registered / alone * 100.0
                );
            } else {
                println!("issue vs issue --register on separate cores: NOT MEASURED (no taskset)");
            }
        }
    }
    drop(portal);

    // The rollup of one day for every license (the day 90 days ago leaves the window).
    let later = UnixTime::from_unix(now.as_unix() + DAY).expect("time");
    let started = Instant::now();
    let report = store.rollup(later).await.expect("rollup");
    println!(
        "rollup: {} days of {} pings moved in {:.1} s",
        report.days_rolled,
        report.pings_moved,
        started.elapsed().as_secs_f64()
    );
    store.pool().close().await;
    if let (Some(base), true) = (&postgres, url.contains("tessera_bench_")) {
        drop_database(base, &url).await;
    }
}

fn vendor_key(vendor: &tessera_testkit::Vendor) -> &SigningKey {
    &vendor.key
}

/// A new database next to the one `base` names (a copy of the database `template` when
/// given); returns its URL.
async fn fresh_postgres_database(base: &str, template: Option<&str>) -> String {
    use sqlx::Connection;
    let name = format!("tessera_bench_{}", std::process::id());
    let mut admin = sqlx::PgConnection::connect(base).await.expect("connect to PostgreSQL");
    let copy = template.map(|t| format!(" TEMPLATE {}", plain_name(t))).unwrap_or_default();
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}{copy}")))
        .execute(&mut admin)
        .await
        .expect("create database");
    let (prefix, _) = base.rsplit_once('/').expect("a URL with a database name");
    format!("{prefix}/{name}")
}

/// `name`, if it is a plain database name (spliced into SQL).
fn plain_name(name: &str) -> &str {
    assert!(
        !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
        "SEEDED on PostgreSQL: a plain database name, not {name:?}"
    );
    name
}

async fn postgres_database_exists(base: &str, name: &str) -> bool {
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(base).await.expect("connect to PostgreSQL");
    let found: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
        .bind(plain_name(name))
        .fetch_one(&mut admin)
        .await
        .expect("databases");
    found > 0
}

/// Keeps a copy of the just seeded database at `url` as `name`.
async fn keep_postgres_database(base: &str, url: &str, name: &str) {
    use sqlx::Connection;
    let seeded = url.rsplit_once('/').map(|(_, n)| n.to_owned()).unwrap_or_default();
    let mut admin = sqlx::PgConnection::connect(base).await.expect("connect to PostgreSQL");
    sqlx::query(AssertSqlSafe(format!(
        "CREATE DATABASE {} TEMPLATE {}",
        plain_name(name),
        plain_name(&seeded)
    )))
    .execute(&mut admin)
    .await
    .expect("keep the seeded database");
}

async fn drop_database(base: &str, url: &str) {
    use sqlx::Connection;
    let name = url.rsplit_once('/').map(|(_, n)| n.to_owned()).unwrap_or_default();
    if let Ok(mut admin) = sqlx::PgConnection::connect(base).await {
        let _ = sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
            .execute(&mut admin)
            .await;
    }
}
