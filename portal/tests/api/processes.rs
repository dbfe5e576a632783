//! The real `tessera-portal` binary as separate processes: two instances on one
//! PostgreSQL database, and a portal killed with SIGKILL under load.

use std::sync::Arc;
use std::time::Duration;

use tessera_core::armor::{Envelope, Kind};
use tessera_core::keys::SigningKey;
use tessera_core::license::Claims;
use tessera_core::receipt::{ActivateCall, Nonce, PingCall};
use tessera_core::time::{Clock, SystemClock};
use tessera_portal::store::Store;
use tessera_testkit::{PgDatabase, PortalOptions, PortalProcess, Vendor};

use crate::helpers::host;

/// A portal process for these tests: the ping limit lifted (the tests are the load), JSON
/// logs, and the given store.
pub(crate) fn portal(vendor: &Vendor, name: &str, options: PortalOptions) -> PortalProcess {
    let config = "pings_per_minute = 1000000\nlog_format = \"json\"\n".to_owned()
        + options.config.as_deref().unwrap_or_default();
    let options = PortalOptions { name: Some(name.to_owned()), config: Some(config), ..options };
    PortalProcess::start_with(vendor, options)
}

/// A hub that talks to portals over HTTP and keeps a log of the receipts it got.
struct Hub {
    key: SigningKey,
    claims: Claims,
    fingerprint: tessera_core::fingerprint::Fingerprint,
    time_ms: i64,
    receipts: u64,
    last_portal_time: i64,
    /// The nonce of the latest receipt held.
    holds: Option<Nonce>,
}

impl Hub {
    fn next_time(&mut self) -> i64 {
        self.time_ms = (self.time_ms + 1).max(SystemClock.now().as_unix() * 1000);
        self.time_ms
    }

    async fn activate(&mut self, http: &reqwest::Client, portal: &str) {
        let call = ActivateCall {
            license_key: self.claims.key.clone(),
            fingerprint: self.fingerprint.clone(),
            fingerprint_version: tessera_core::fingerprint::VERSION,
            previous_fingerprint: None,
            hub_key: self.key.public_key().clone(),
            nonce: Nonce::generate().expect("nonce"),
            hub_time_ms: self.next_time(),
        };
        let body = Envelope::sign_body(Kind::Activate, &self.key, &call).to_compact();
        let response =
            http.post(format!("{portal}/v1/activate")).json(&body).send().await.expect("activate");
        assert_eq!(response.status(), 200, "{:?}", response.text().await);
        self.holds = Some(call.nonce);
    }

    /// One ping; true if a receipt came back.
    async fn ping(&mut self, http: &reqwest::Client, portal: &str) -> bool {
        let call = PingCall {
            license_id: self.claims.id,
            fingerprint: self.fingerprint.clone(),
            fingerprint_version: tessera_core::fingerprint::VERSION,
            previous_fingerprint: None,
            holds: self.holds,
            held_receipt: None,
            nonce: Nonce::generate().expect("nonce"),
            hub_time_ms: self.next_time(),
            runners: None,
        };
        let body = Envelope::sign_body(Kind::Ping, &self.key, &call).to_compact();
        let Ok(response) = http.post(format!("{portal}/v1/ping")).json(&body).send().await else {
            return false;
        };
        if response.status() != 200 {
            return false;
        }
        let Ok(json) = response.json::<serde_json::Value>().await else { return false };
        let Some(receipt) = json["receipt"].as_str() else { return false };
        let envelope = Envelope::parse(Kind::Receipt, receipt.as_bytes()).expect("receipt");
        let claims: tessera_core::receipt::ReceiptClaims = envelope.open().expect("claims");
        self.receipts += 1;
        self.last_portal_time = self.last_portal_time.max(claims.portal_time.as_unix());
        self.holds = Some(claims.nonce);
        true
    }
}

async fn hubs(vendor: &Vendor, portal: &str, key: &str, count: usize) -> Vec<Hub> {
    let http = crate::helpers::client().build().expect("client");
    let mut hubs = Vec::new();
    for i in 0..count {
        let (claims, text) = vendor.license(3, None);
        let registered = http
            .post(format!("{portal}/v1/admin/licenses"))
            .bearer_auth(key)
            .json(&serde_json::json!({ "license": text }))
            .send()
            .await
            .expect("register");
        assert_eq!(registered.status(), 201);
        let mut hub = Hub {
            key: SigningKey::generate().expect("key"),
            claims,
            fingerprint: host(&format!("host-{i}"), 5).0,
            time_ms: 0,
            receipts: 0,
            last_portal_time: 0,
            holds: None,
        };
        hub.activate(&http, portal).await;
        hubs.push(hub);
    }
    hubs
}

async fn stored_pings(store: &Store, hub: &Hub) -> (i64, Option<i64>) {
    let id = hub.claims.id.to_string();
    let days: i64 = store.daily_pings(&id).await.expect("days").iter().map(|d| d.1).sum();
    let last = store.activation(&id).await.expect("activation").and_then(|a| a.last_ping_at);
    (days, last)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_portals_on_one_postgres_database_count_every_ping_exactly() {
    let Some(database) = PgDatabase::fresh().await else { return };
    let database_url = database.url.clone();
    let vendor = Vendor::new();
    // Instances of one portal share the key that tags the ledger's entries: each signs the
    // entries the other wrote.
    let tag_key = vendor.path("ledger-tag.key");
    std::fs::write(&tag_key, hex::encode([7u8; 32])).expect("tag key");
    let config = format!("ledger_tag_key_file = {:?}\n", tag_key.display().to_string());
    let shared = || PortalOptions {
        database_url: Some(database_url.clone()),
        config: Some(config.clone()),
        ..PortalOptions::default()
    };
    let a = portal(&vendor, "a", shared());
    let b = portal(&vendor, "b", shared());
    let hubs = hubs(&vendor, &a.url, &a.api_key, 16).await;
    let portals = Arc::new([a.url.clone(), b.url.clone()]);
    let mut tasks = Vec::new();
    for (i, mut hub) in hubs.into_iter().enumerate() {
        let portals = portals.clone();
        tasks.push(tokio::spawn(async move {
            let http = crate::helpers::client().build().expect("client");
            for n in 0..25 {
                // Each hub alternates between the two instances.
                assert!(hub.ping(&http, &portals[(i + n) % 2]).await, "ping {n} of hub {i}");
            }
            hub
        }));
    }
    let store = Store::open(&database_url).await.expect("store");
    for task in tasks {
        let hub = task.await.expect("hub task");
        let (counted, last) = stored_pings(&store, &hub).await;
        assert_eq!(counted, 25, "every answered ping counted once");
        assert_eq!(hub.receipts, 25);
        assert_eq!(last, Some(hub.last_portal_time), "the last ping time is the last receipt's");
    }
    drop((a, b, database));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_answered_with_a_receipt_survives_sigkill() {
    let vendor = Vendor::new();
    let mut portal = portal(&vendor, "portal", PortalOptions::default());
    let database_url = format!("sqlite://{}", portal.data.join("portal.db").display());
    let hubs = hubs(&vendor, &portal.url, &portal.api_key, 12).await;
    let url = portal.url.clone();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for mut hub in hubs {
        let (url, stop) = (url.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let http =
                crate::helpers::client().timeout(Duration::from_secs(5)).build().expect("client");
            let mut attempts = 0u64;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                attempts += 1;
                if !hub.ping(&http, &url).await {
                    break; // the portal died under us
                }
            }
            (hub, attempts)
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    portal.kill();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("hub task"));
    }
    // Restart on the same data: the store must hold every ping a receipt was sent for.
    portal.restart();
    let store = Store::open(&database_url).await.expect("store");
    let mut total_receipts = 0;
    for (hub, attempts) in &results {
        let (counted, _) = stored_pings(&store, hub).await;
        let counted = counted as u64;
        total_receipts += hub.receipts;
        assert!(
            counted >= hub.receipts,
            "{} receipts sent but only {counted} pings stored",
            hub.receipts
        );
        // At most the one ping in flight at the kill may be stored without its receipt.
        assert!(counted <= hub.receipts + 1, "{counted} stored for {} receipts", hub.receipts);
        assert!(*attempts >= hub.receipts);
    }
    assert!(total_receipts > 50, "the load was too light to mean anything: {total_receipts}");
    portal.terminate();
}

/// `tessera-portal` with `args` on the data directory `data`, `stdin` piped in.
pub fn portal_command(data: &std::path::Path, args: &[&str], stdin: &str) -> (i32, String, String) {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tessera-portal"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("tessera-portal");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write");
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn people_and_organizations_are_made_from_the_command_line_and_can_sign_in() {
    let vendor = Vendor::new();
    let mut portal = PortalProcess::start(&vendor);
    let data = portal.data.clone();
    let create = |role: &str, email: &str, org: Option<&str>, password: &str| {
        let mut args = vec!["user", "create", "--role", role, "--email", email, "--name", "Dana"];
        if let Some(org) = org {
            args.extend(["--org", org]);
        }
        portal_command(&data, &args, &format!("{password}\n"))
    };
    let (code, out, err) =
        create("super-admin", "dana@vendor.example", None, "tram lantern quietly");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("created super-admin dana@vendor.example"), "{out}");

    // Each mistake: exit 2 and one line naming it; nothing is made.
    for (role, email, org, password, says) in [
        ("boss", "x@vendor.example", None, "tram lantern quietly", "unknown role"),
        ("super-admin", "dana@vendor.example", None, "tram lantern quietly", "already exists"),
        ("super-admin", "kim@vendor.example", None, "password1234", "too common"),
        ("super-admin", "kim@vendor.example", None, "short", "at least 12"),
        ("super-admin", "not an email", None, "tram lantern quietly", "not an email"),
        ("org-admin", "ops@acme.example", Some("Acme"), "tram lantern quietly", "no organization"),
        ("org-admin", "ops@acme.example", None, "tram lantern quietly", "needs an organization"),
    ] {
        let (code, _, err) = create(role, email, org, password);
        assert_eq!(code, 2, "{role} {email}: {err}");
        assert!(err.contains(says), "{says:?} not in {err}");
        assert!(!err.contains("panicked") && !err.contains(password), "{err}");
    }
    let (code, out, err) = portal_command(&data, &["org", "create", "--name", "Acme"], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("created organization \"Acme\""), "{out}");
    let (code, _, err) =
        create("org-admin", "ops@acme.example", Some("Acme"), "tram lantern quietly");
    assert_eq!(code, 0, "{err}");
    let (code, out, _) =
        portal_command(&data, &["user", "unlock", "--email", "OPS@acme.example"], "");
    assert_eq!(code, 0);
    assert!(out.contains("ops@acme.example: sign-in delays cleared"), "{out}");
    let (code, out, _) = portal_command(
        &data,
        &["user", "reset-second-factor", "--email", "dana@vendor.example"],
        "",
    );
    assert_eq!(code, 0);
    assert!(out.contains("dana@vendor.example: two-step sign-in is off"), "{out}");
    let (code, _, err) =
        portal_command(&data, &["user", "unlock", "--email", "who@acme.example"], "");
    assert_eq!(code, 2);
    assert!(err.contains("no account"), "{err}");

    // The running portal (a process of its own) signs the new person in.
    tessera_testkit::install_crypto();
    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let form = http.get(format!("{}/ui/signin", portal.url)).send().expect("form");
    let cookie = form.headers()["set-cookie"].to_str().expect("cookie").to_owned();
    let token = cookie.split(';').next().expect("pair").split_once('=').expect("=").1.to_owned();
    let signed_in = http
        .post(format!("{}/ui/signin", portal.url))
        .header("cookie", format!("tessera_signin={token}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("email=dana%40vendor.example&password=tram+lantern+quietly&csrf={token}"))
        .send()
        .expect("sign in");
    assert_eq!(signed_in.status(), 303);
    portal.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_backup_taken_under_ping_load_restores_every_acknowledged_ping() {
    use age::secrecy::ExposeSecret;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let vendor = Vendor::new();
    let portal = PortalProcess::start(&vendor);
    let hubs = hubs(&vendor, &portal.url, &portal.api_key, 8).await;
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let keys = tempfile::tempdir().expect("dir");
    let identity_file = keys.path().join("backup.key");
    std::fs::write(
        &identity_file,
        format!("# test identity\n{}\n", identity.to_string().expose_secret()),
    )
    .expect("identity");

    // Hubs ping without pause while the backup is taken.
    let answered = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for mut hub in hubs {
        let (answered, stop, url) = (answered.clone(), stop.clone(), portal.url.clone());
        tasks.push(tokio::spawn(async move {
            let http = crate::helpers::client().build().expect("client");
            while !stop.load(Ordering::Relaxed) {
                if hub.ping(&http, &url).await {
                    answered.fetch_add(1, Ordering::SeqCst);
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = answered.load(Ordering::SeqCst);
    assert!(before > 0, "pings were answered before the backup");
    let live = Store::open(&format!("sqlite://{}", portal.data.join("portal.db").display()))
        .await
        .expect("the live store");
    let entries_before = live.ledger_after(0, 1_000_000).await.expect("ledger").len();
    assert!(entries_before >= 9, "a key and eight registrations are in the ledger");
    // What a backup that crashed would have left: removed by the next one (and at start).
    std::fs::write(portal.data.join("backup-0123456789abcdef.partial"), b"SQLite format 3")
        .expect("leftover");
    let out = keys.path().join("portal.backup");
    let data = portal.data.clone();
    let (out_arg, recipient_arg) = (out.clone(), recipient.clone());
    let (code, stdout, stderr) = tokio::task::spawn_blocking(move || {
        portal_command(
            &data,
            &["backup", "--out", out_arg.to_str().expect("utf-8"), "--recipient", &recipient_arg],
            "",
        )
    })
    .await
    .expect("backup");
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.expect("pinger");
    }
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("encrypted to age1"), "{stdout}");

    // No plaintext copy is left, and the backup is not one.
    let leftovers: Vec<_> = std::fs::read_dir(&portal.data)
        .expect("ls")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let sealed = std::fs::read(&out).expect("backup file");
    assert!(sealed.starts_with(b"age-encryption.org/v1"), "an age file");
    assert!(!sealed.windows(15).any(|w| w == b"SQLite format 3"), "no plaintext database inside");

    // Restored into an empty directory: every ping answered before the backup began is there.
    let restored = tempfile::tempdir().expect("dir");
    let target = restored.path().join("data");
    let restore = |dir: &std::path::Path, key: &std::path::Path| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tessera-portal"))
            .arg("restore")
            .arg(&out)
            .arg("--identity")
            .arg(key)
            .arg("--data-dir")
            .arg(dir)
            .output()
            .expect("restore");
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let stranger = keys.path().join("other.key");
    let other = age::x25519::Identity::generate();
    std::fs::write(&stranger, other.to_string().expose_secret()).expect("other identity");
    let (code, stderr) = restore(&target, &stranger);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("not a backup this identity can open"), "{stderr}");
    assert!(!target.join("portal.db").exists());
    let (code, stderr) = restore(&target, &identity_file);
    assert_eq!(code, Some(0), "{stderr}");
    let (code, stderr) = restore(&target, &identity_file);
    assert_eq!(code, Some(3), "a second restore over the first is refused: {stderr}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(target.join("portal.db")).expect("db").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let store = Store::open(&format!("sqlite://{}", target.join("portal.db").display()))
        .await
        .expect("restored store");
    let restored_entries = store.ledger_after(0, 1_000_000).await.expect("ledger").len();
    assert!(
        restored_entries >= entries_before,
        "{restored_entries} < {entries_before} ledger entries"
    );
    let counted = store.day_pings_total().await.expect("pings");
    assert!(
        counted >= before as i64,
        "{counted} pings restored, {before} were answered before the backup began"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_portals_writing_the_ledger_at_once_never_fork_it() {
    let Some(database) = PgDatabase::fresh().await else { return };
    let database_url = database.url.clone();
    let vendor = Vendor::new();
    // Instances of one portal share the key that tags the ledger's entries: each signs the
    // entries the other wrote.
    let tag_key = vendor.path("ledger-tag.key");
    std::fs::write(&tag_key, hex::encode([7u8; 32])).expect("tag key");
    let config = format!("ledger_tag_key_file = {:?}\n", tag_key.display().to_string());
    let shared = || PortalOptions {
        database_url: Some(database_url.clone()),
        config: Some(config.clone()),
        ..PortalOptions::default()
    };
    let a = portal(&vendor, "a", shared());
    let b = portal(&vendor, "b", shared());
    let hubs = hubs(&vendor, &a.url, &a.api_key, 4).await;
    let ids: Vec<String> = hubs.iter().map(|h| h.claims.id.to_string()).collect();
    // Both instances suspend and reinstate licenses at once: every change is an entry.
    let mut tasks = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        for (url, key) in [(a.url.clone(), a.api_key.clone()), (b.url.clone(), b.api_key.clone())] {
            let id = id.clone();
            tasks.push(tokio::spawn(async move {
                let http = crate::helpers::client().build().expect("client");
                for n in 0..10 {
                    let action = if (n + i) % 2 == 0 { "suspend" } else { "reinstate" };
                    let answer = http
                        .post(format!("{url}/v1/admin/licenses/{id}/{action}"))
                        .bearer_auth(&key)
                        .json(&serde_json::json!({}))
                        .send()
                        .await
                        .expect("action");
                    assert_eq!(answer.status(), 200);
                }
            }));
        }
    }
    for task in tasks {
        task.await.expect("task");
    }
    let text = tokio::task::spawn_blocking(move || {
        let text = b.admin_text("audit");
        drop(b);
        text
    })
    .await
    .expect("export");
    let export = tessera_core::ledger::Export::from_lines(text.lines()).expect("export");
    let trust = tessera_core::TrustSet::parse(&std::fs::read(vendor.trust_path()).expect("trust"))
        .expect("trust");
    let verified = tessera_core::ledger::verify(&export, &trust, None).expect("one chain, no fork");
    // Two API keys made, four registrations, 80 changes: every one of them, once.
    let changes = export
        .entries
        .iter()
        .filter(|(e, _)| e.action.starts_with("license.s") || e.action.starts_with("license.r"))
        .count();
    assert_eq!(changes, 4 + 80, "{verified:?}");
    drop((a, database));
}
