//! A vendor's staff at scale, with the real `tessera` and `tessera-portal`: tens of thousands
//! of licenses issued and registered in one run at the portal's default limits, a run
//! killed half-way and run again, and a portal that asks to slow down.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use tessera_testkit::PortalOptions;

use crate::kit::{Portal, Vendor, cmd, run};

/// An order file of `rows` licenses.
fn orders(dir: &Path, rows: usize) -> std::path::PathBuf {
    let mut csv = String::from("org,product,runners,expires,order_id\n");
    for i in 0..rows {
        csv.push_str(&format!("Customer {},acme-hub,3,2031-12-31,O-{i}\n", i % 97));
    }
    let path = dir.join("orders.csv");
    std::fs::write(&path, csv).expect("orders");
    path
}

fn issue_and_register(vendor: &Vendor, portal: &Portal, orders: &Path, out: &Path) -> Command {
    let mut command = cmd("tessera");
    command
        .args(["issue", "--key"])
        .arg(vendor.key_path())
        .arg("--batch")
        .arg(orders)
        .arg("--out-dir")
        .arg(out)
        .args(["--portal-url", &portal.url, "--register", &portal.url, "--json"])
        .env("TESSERA_API_KEY", &portal.api_key);
    command
}

/// Every license id the portal lists, walking its pages, `pause` before each.
fn listed(portal: &Portal, pause: Duration) -> Vec<String> {
    let mut ids = Vec::new();
    let mut after = String::new();
    loop {
        std::thread::sleep(pause);
        let page = portal.admin_get(&format!("licenses?limit=1000{after}"));
        for license in page["licenses"].as_array().expect("licenses") {
            ids.push(license["id"].as_str().expect("id").to_owned());
        }
        match page["next"].as_str() {
            Some(next) => after = format!("&after={next}"),
            None => return ids,
        }
    }
}

/// The license ids of a batch's manifest.
fn manifest_ids(out: &Path) -> Vec<String> {
    let mut reader = csv::Reader::from_path(out.join("manifest.csv")).expect("manifest");
    reader.records().map(|r| r.expect("row")[1].to_owned()).collect()
}

#[test]
fn twenty_thousand_licenses_are_issued_and_registered_in_one_run_at_default_limits() {
    let vendor = Vendor::keygen();
    let portal = Portal::start(&vendor);
    let dir = tempfile::tempdir().expect("dir");
    let orders = orders(dir.path(), 20_000);
    let out = dir.path().join("licenses");
    let ran = run(&mut issue_and_register(&vendor, &portal, &orders, &out)).ok();
    assert_eq!(ran.json()["issued"].as_u64(), Some(20_000));
    let ids = listed(&portal, Duration::ZERO);
    assert_eq!(ids.len(), 20_000);
    let issued: BTreeSet<String> = manifest_ids(&out).into_iter().collect();
    assert_eq!(issued, ids.into_iter().collect::<BTreeSet<_>>());
}

#[test]
fn a_bulk_run_killed_half_way_is_run_again_without_duplicates() {
    let vendor = Vendor::keygen();
    let portal = Portal::start(&vendor);
    let dir = tempfile::tempdir().expect("dir");
    let orders = orders(dir.path(), 6_000);
    let out = dir.path().join("licenses");
    // Killed at a few points: while issuing, while registering. Counted from the first
    // manifest row, not from the start: unlocking the key takes a while on a loaded machine.
    for delay_ms in [0, 450] {
        let mut child = issue_and_register(&vendor, &portal, &orders, &out)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let started = std::time::Instant::now();
        while !out.join("manifest.csv").exists()
            && started.elapsed() < Duration::from_secs(60)
            && child.try_wait().expect("wait").is_none()
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
    }
    let before = manifest_ids(&out).len();
    let ran = run(&mut issue_and_register(&vendor, &portal, &orders, &out)).ok();
    let json = ran.json();
    assert_eq!(json["skipped"].as_u64(), Some(before as u64), "rows issued before are kept");
    assert_eq!(json["issued"].as_u64(), Some((6_000 - before) as u64));
    let ids = listed(&portal, Duration::ZERO);
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!((ids.len(), unique.len()), (6_000, 6_000));
    let issued: BTreeSet<String> = manifest_ids(&out).into_iter().collect();
    assert_eq!(issued.len(), 6_000);
    assert!(ids.iter().all(|id| issued.contains(id)));
}

#[test]
fn register_waits_out_a_portal_that_asks_to_slow_down() {
    let vendor = Vendor::keygen();
    let options = PortalOptions {
        config: Some("admin_requests_per_second = 1\n".to_owned()),
        ..PortalOptions::default()
    };
    let portal = Portal::start_with(&vendor, options);
    let dir = tempfile::tempdir().expect("dir");
    let orders = orders(dir.path(), 3_000);
    let out = dir.path().join("licenses");
    let issued = run(cmd("tessera")
        .args(["issue", "--key"])
        .arg(vendor.key_path())
        .arg("--batch")
        .arg(&orders)
        .arg("--out-dir")
        .arg(&out))
    .ok();
    assert!(issued.stdout.contains("issued 3000"), "{}", issued.stdout);
    let mut reader = csv::Reader::from_path(out.join("manifest.csv")).expect("manifest");
    let files: Vec<std::path::PathBuf> =
        reader.records().map(|r| out.join(&r.expect("row")[5])).collect();
    // Six batches, four in flight, one request a second allowed: the portal answers 429
    // and the command waits, then finishes.
    let mut register = cmd("tessera");
    register.args(["register", "--portal", &portal.url]).args(&files);
    register.env("TESSERA_API_KEY", &portal.api_key);
    let ran = run(&mut register).ok();
    assert_eq!(ran.stdout.lines().filter(|l| l.contains(": registered (")).count(), 3_000);
    assert_eq!(listed(&portal, Duration::from_millis(1100)).len(), 3_000);
    // Again: every one is already there, nothing is added.
    let again = run(&mut register).ok();
    assert_eq!(again.stdout.lines().filter(|l| l.contains("already registered")).count(), 3_000);
    assert_eq!(listed(&portal, Duration::from_millis(1100)).len(), 3_000);
}
