//! `tessera issue --register`, one license and a batch, against a real portal: a line saying
//! what was registered where (in `--json`, an object), and never the API key.

use std::path::Path;
use std::process::Command;

use crate::kit::{Portal, Ran, Vendor, cmd, run};

fn issue(vendor: &Vendor, portal: &Portal, args: &[&str]) -> Command {
    let mut command = cmd("tessera");
    command
        .args(["issue", "--key"])
        .arg(vendor.key_path())
        .args(["--register", &portal.url])
        .args(args)
        .env("TESSERA_API_KEY", &portal.api_key);
    command
}

fn one(vendor: &Vendor, portal: &Portal, out: &Path, json: bool) -> Ran {
    let mut command = issue(
        vendor,
        portal,
        &[
            "--org",
            "Acme Corp",
            "--product",
            "acme-hub",
            "--runners",
            "2",
            "--expires",
            "2030-12-31",
        ],
    );
    command.arg("--out").arg(out);
    if json {
        command.arg("--json");
    }
    run(&mut command).ok()
}

fn no_secret(ran: &Ran, portal: &Portal) {
    for said in [&ran.stdout, &ran.stderr] {
        assert!(!said.contains(&portal.api_key), "the API key was shown: {said}");
    }
}

#[test]
fn issuing_one_license_with_register_says_what_was_registered_where() {
    let vendor = Vendor::keygen();
    let portal = Portal::start(&vendor);
    let dir = tempfile::tempdir().expect("dir");
    let ran = one(&vendor, &portal, &dir.path().join("a.license"), false);
    no_secret(&ran, &portal);
    let id = ran
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("license id:"))
        .expect("license id line")
        .trim()
        .to_owned();
    let registered = portal.admin_get(&format!("licenses/{id}"));
    assert_eq!(registered["license"]["id"], id.as_str(), "{registered}");
    let line = ran
        .stdout
        .lines()
        .find(|line| line.starts_with("registered:"))
        .unwrap_or_else(|| panic!("no registered line: {}", ran.stdout));
    assert_eq!(line, format!("registered:  at {} as {id} (valid)", portal.url));

    let ran = one(&vendor, &portal, &dir.path().join("b.license"), true);
    no_secret(&ran, &portal);
    let json = ran.json();
    let registration = &json["registration"];
    assert_eq!(registration["portal"], portal.url.as_str(), "{json}");
    assert_eq!(registration["id"], json["id"], "{json}");
    assert_eq!(registration["registered"], true, "{json}");
    assert_eq!(registration["status"], "valid", "{json}");
}

#[test]
fn issuing_a_batch_with_register_says_how_many_were_registered_where() {
    let vendor = Vendor::keygen();
    let portal = Portal::start(&vendor);
    let dir = tempfile::tempdir().expect("dir");
    let orders = dir.path().join("orders.csv");
    let out = dir.path().join("licenses");
    let batch = |json: bool| {
        let mut command = issue(&vendor, &portal, &[]);
        command.arg("--batch").arg(&orders).arg("--out-dir").arg(&out);
        if json {
            command.arg("--json");
        }
        let ran = run(&mut command).ok();
        no_secret(&ran, &portal);
        ran
    };
    std::fs::write(
        &orders,
        "org,product,runners,expires\nA,acme-hub,1,2030-12-31\nB,acme-hub,1,2030-12-31\n",
    )
    .expect("orders");
    let ran = batch(false);
    assert_eq!(
        ran.stdout.lines().nth(1),
        Some(
            format!("registered 2 licenses at {} (0 of them already registered)", portal.url)
                .as_str()
        ),
        "{}",
        ran.stdout
    );
    // One more row: the two of the first run are sent again (the portal has them) with it.
    std::fs::write(
        &orders,
        "org,product,runners,expires\nA,acme-hub,1,2030-12-31\nB,acme-hub,1,2030-12-31\nC,acme-hub,1,2030-12-31\n",
    )
    .expect("orders");
    let json = batch(true).json();
    assert_eq!(json["issued"], 1, "{json}");
    assert_eq!(
        json["registration"],
        serde_json::json!({ "portal": portal.url, "registered": 1, "already": 2, "refused": 0 }),
    );
    assert_eq!(portal.admin_get("licenses")["licenses"].as_array().map(Vec::len), Some(3));
}

#[test]
fn a_portal_url_with_a_password_is_refused_before_anything_is_written() {
    let vendor = Vendor::keygen();
    let portal = Portal::start(&vendor);
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("a.license");
    let with_password = portal.url.replacen("://", "://vendor:hunter2@", 1);
    let ran = run(cmd("tessera")
        .args(["issue", "--key"])
        .arg(vendor.key_path())
        .args(["--org", "A", "--product", "p", "--runners", "1", "--expires", "2030-12-31"])
        .args(["--register", &with_password, "--out"])
        .arg(&out)
        .env("TESSERA_API_KEY", &portal.api_key))
    .fails(5, "password");
    assert!(!ran.stderr.contains("hunter2"), "{}", ran.stderr);
    assert!(!out.exists(), "a license was written that cannot be registered this way");

    let orders = dir.path().join("orders.csv");
    std::fs::write(&orders, "org,product,runners,expires\nA,p,1,2030-12-31\n").expect("orders");
    let out_dir = dir.path().join("licenses");
    let ran = run(cmd("tessera")
        .args(["issue", "--key"])
        .arg(vendor.key_path())
        .arg("--batch")
        .arg(&orders)
        .arg("--out-dir")
        .arg(&out_dir)
        .args(["--register", &with_password])
        .env("TESSERA_API_KEY", &portal.api_key))
    .fails(5, "password");
    assert!(!ran.stderr.contains("hunter2"), "{}", ran.stderr);
    assert!(!out_dir.exists(), "a batch was issued that cannot be registered this way");
}
