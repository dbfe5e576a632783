//! An honest site after something went back in time: the portal's database restored from a
//! backup (or its VM rolled back to a snapshot), whose hubs re-sync by themselves with the
//! receipts it signed since; a hub whose state was lost more than once a day, which repairs
//! itself within its license's yearly allowance. A real copy of a hub is still refused.
//! What each path does is in docs/OPERATIONS.md.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tessera_testkit::PortalOptions;

use crate::kit::{Portal, Vendor, hub, run};
use crate::scenarios::{site, stopped_site};

/// `cp -a from to`.
fn copy(from: &Path, to: &Path) {
    let ok = Command::new("cp").arg("-a").arg(from).arg(to).status().expect("cp");
    assert!(ok.success());
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs()
}

/// Waits until the wall clock is past second `after`: the portal signs in whole seconds,
/// and a receipt signed after the backup must carry a later time than the pings it holds.
fn wait_past(after: u64) {
    while unix_now() <= after {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The database files of a stopped portal (the SQLite file and whatever WAL it left).
fn database_files(data: &Path) -> Vec<PathBuf> {
    ["portal.db", "portal.db-wal", "portal.db-shm"]
        .iter()
        .map(|name| data.join(name))
        .filter(|path| path.exists())
        .collect()
}

/// Stops the portal and copies its database files into `to`: a cold backup.
fn back_up(portal: &mut Portal, to: &Path) {
    assert!(portal.terminate().expect("running").success());
    std::fs::create_dir_all(to).expect("backup dir");
    for file in database_files(&portal.data) {
        copy(&file, &to.join(file.file_name().expect("name")));
    }
    portal.restart();
}

/// Stops the portal, puts the backup's database files in place of its own, starts it.
fn restore(portal: &mut Portal, from: &Path) {
    assert!(portal.terminate().expect("running").success());
    for file in database_files(&portal.data) {
        std::fs::remove_file(file).expect("remove");
    }
    for file in std::fs::read_dir(from).expect("backup").flatten() {
        copy(&file.path(), &portal.data.join(file.file_name()));
    }
    portal.restart();
}

fn ping(state: &Path) -> String {
    run(hub(state).args(["ping", "--json"])).status()
}

/// The value of `tessera_portal_pings_total{status="…"}` on the portal's `/metrics`.
fn pings_metric(portal: &Portal, status: &str) -> u64 {
    let text = reqwest::blocking::get(format!("{}/metrics", portal.url))
        .expect("metrics")
        .text()
        .expect("metrics text");
    let prefix = format!("tessera_portal_pings_total{{status=\"{status}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map_or(0, |value| value.trim().parse().expect("a count"))
}

#[test]
fn a_portal_restored_from_a_backup_resyncs_its_hubs_and_still_refuses_a_copy() {
    let vendor = Vendor::keygen();
    let mut portal = Portal::start(&vendor);
    let (dir, id) = stopped_site(&vendor, &portal, 2);
    let state = dir.path().join("hub");
    assert_eq!(ping(&state), "valid");

    // The backup, and, of the same moment, a copy of the hub's state directory (a cloned
    // VM): it holds the receipt the backup's chain ends with.
    let backup = dir.path().join("backup");
    back_up(&mut portal, &backup);
    let twin = dir.path().join("twin");
    copy(&state, &twin);
    let taken = unix_now();

    // The hub goes on pinging after the backup, then the portal's database is restored.
    wait_past(taken);
    assert_eq!(ping(&state), "valid");
    assert_eq!(ping(&state), "valid");
    restore(&mut portal, &backup);

    // The hub holds a receipt the restored chain never saw, signed after its last ping:
    // it re-syncs by itself, and the portal counts and says so.
    assert_eq!(ping(&state), "valid");
    assert_eq!(pings_metric(&portal, "resynced"), 1);
    assert_eq!(ping(&state), "valid");
    let shown = portal.admin_get(&format!("licenses/{id}"));
    assert!(shown["activation"]["cloned_at"].is_null(), "{shown}");

    // The copy holds only the receipt of the backup's last ping, which the re-sync moved
    // past: it is a copy, refused, and stays refused; the hub goes on.
    assert_eq!(ping(&twin), "cloned");
    assert_eq!(ping(&state), "valid");
    assert_eq!(ping(&twin), "cloned");
    assert_eq!(ping(&state), "valid");
    assert_eq!(pings_metric(&portal, "resynced"), 1, "the copy never re-synced");
    let shown = portal.admin_get(&format!("licenses/{id}"));
    assert!(shown["activation"]["cloned_at"].is_i64(), "{shown}");
}

#[test]
fn a_copy_that_pinged_after_the_backup_gains_nothing_from_a_restore() {
    // Two copies of one hub both ping after the backup; the portal is restored. Whichever
    // re-syncs first, the other one's receipt is older than that re-sync: one is refused.
    let vendor = Vendor::keygen();
    let mut portal = Portal::start(&vendor);
    let (dir, _) = stopped_site(&vendor, &portal, 2);
    let state = dir.path().join("hub");
    assert_eq!(ping(&state), "valid");
    let twin = dir.path().join("twin");
    copy(&state, &twin);
    let backup = dir.path().join("backup");
    back_up(&mut portal, &backup);
    wait_past(unix_now());
    assert_eq!(ping(&state), "valid");
    let words_before = [ping(&twin), ping(&state)];
    restore(&mut portal, &backup);
    let mut words = Vec::new();
    for _ in 0..2 {
        words.push(ping(&state));
        words.push(ping(&twin));
    }
    assert!(words.contains(&"cloned".to_owned()), "{words_before:?} then {words:?}");
    let last = [&words[2], &words[3]];
    assert!(
        last.contains(&&"valid".to_owned()) && last.contains(&&"cloned".to_owned()),
        "{words:?}"
    );
}

/// Damages the hub's `state.json` (a crash on a disk that lied, a bad repair).
fn damage(state: &Path) {
    std::fs::write(state.join("state.json"), b"{not json").expect("damage");
}

/// A ping whose activation again is refused as `cloned` (exit 25; the log says why).
fn refused_cloned(state: &Path) {
    let ran = run(hub(state).args(["ping", "--json"])).no_panic();
    assert_eq!(ran.code, 25, "{}", ran.stderr);
    assert!(ran.stderr.contains("cloned"), "{}", ran.stderr);
}

#[test]
fn a_hub_whose_state_was_lost_twice_in_a_day_repairs_itself_within_its_allowance() {
    let vendor = Vendor::keygen();
    let options = PortalOptions {
        config: Some("repairs_per_year = 1\n".to_owned()),
        ..PortalOptions::default()
    };
    let mut portal = Portal::start_with(&vendor, options);
    let (dir, id) = stopped_site(&vendor, &portal, 2);
    let state = dir.path().join("hub");
    assert_eq!(ping(&state), "valid");
    // Lost once: the hub activates again on its own host (one re-activation a day), with
    // the host secret it was activated with, even when run without `--host-secret` (so
    // with another default): the secret's recorded path is not in the damaged file.
    damage(&state);
    let mut bare = hub(&state);
    bare.env_remove("TESSERA_HUB_HOST_SECRET")
        .env("HOME", dir.path())
        .env("XDG_DATA_HOME", dir.path().join("elsewhere"));
    let repaired = run(bare.args(["ping", "--json"]));
    assert_eq!(repaired.status(), "valid", "{}", repaired.stderr);
    // Lost again the same day: a repair, within the license's allowance (one a year here),
    // counted and shown to the vendor.
    damage(&state);
    assert_eq!(ping(&state), "valid");
    assert_eq!(ping(&state), "valid");
    let shown = portal.admin_get(&format!("licenses/{id}"));
    assert_eq!(shown["activation"]["rebinds"], 2, "{shown}");
    assert_eq!(shown["activation"]["repairs"], 1, "{shown}");
    assert!(shown["activation"]["repaired_at"].is_i64(), "{shown}");
    assert!(shown["activation"]["cloned_at"].is_null(), "{shown}");

    // A third time, past the allowance: refused as `cloned`, and the hub says so.
    damage(&state);
    refused_cloned(&state);
    assert_eq!(run(hub(&state).args(["status", "--json"])).status(), "cloned");
    // It keeps asking at each ping, and binds again as soon as the portal allows it (a day
    // after the last re-activation; here the limit is lowered, as the day passing would).
    refused_cloned(&state);
    std::fs::write(
        portal.data.join("portal.toml"),
        "repairs_per_year = 1\nrebind_every_secs = 0\n",
    )
    .expect("config");
    portal.restart();
    assert_eq!(ping(&state), "valid");
    assert_eq!(ping(&state), "valid");
}

/// `tessera-hub activate` with the license and trust set a hub's state directory holds.
fn activate(state: &Path, license_from: &Path, vendor: &Vendor) -> String {
    run(hub(state)
        .args(["activate", "--json", "--license"])
        .arg(license_from.join("license.license"))
        .arg("--trust")
        .arg(vendor.trust_path()))
    .status()
}

#[test]
fn two_hubs_sharing_a_host_that_take_turns_re_activating_are_never_both_valid() {
    // Two hubs installed on one host (here: the same test machine and host secret; on two
    // machines sharing the host secret it is the same), each with its own key, taking turns
    // to re-activate. The day the rebind limit waits for is lowered to nothing, as the days
    // passing would.
    let vendor = Vendor::keygen();
    let options = PortalOptions {
        config: Some("rebind_every_secs = 0\n".to_owned()),
        ..PortalOptions::default()
    };
    let portal = Portal::start_with(&vendor, options);
    let (dir, id) = stopped_site(&vendor, &portal, 2);
    let first = dir.path().join("hub");
    let second = dir.path().join("second");
    assert_eq!(ping(&first), "valid");

    // The second re-activates: the first is answered with a signed `cloned` at its next
    // ping (exit 25, kept as its receipt), not an unsigned refusal it could ride its grace
    // on; the vendor sees the fork.
    assert_eq!(activate(&second, &first, &vendor), "valid");
    assert_eq!(ping(&first), "cloned");
    assert_eq!(run(hub(&first).args(["status", "--json"])).status(), "cloned");
    assert_eq!(ping(&second), "valid");
    let shown = portal.admin_get(&format!("licenses/{id}"));
    assert!(shown["activation"]["cloned_at"].is_i64(), "{shown}");
    assert_eq!(shown["activation"]["forks"], 1, "{shown}");

    // The first takes its turn: now the second is the one refused, and counted.
    assert_eq!(activate(&first, &first, &vendor), "valid");
    assert_eq!(ping(&second), "cloned");
    assert_eq!(ping(&first), "valid");
    assert_eq!(ping(&second), "cloned");
    let shown = portal.admin_get(&format!("licenses/{id}"));
    assert_eq!(shown["activation"]["forks"], 2, "{shown}");

    // An honest site reinstalls its hub once (a new key on the same host) and never runs
    // the old one again: it stays valid, and nothing is marked.
    let honest = tempfile::tempdir().expect("dir");
    std::fs::remove_file(vendor.path("acme.license")).expect("the first site's license");
    let (honest_id, daemon) = site(&vendor, &portal, honest.path(), 2);
    assert!(daemon.stop().success());
    let old = honest.path().join("hub");
    let reinstalled = honest.path().join("reinstalled");
    assert_eq!(activate(&reinstalled, &old, &vendor), "valid");
    for _ in 0..3 {
        assert_eq!(ping(&reinstalled), "valid");
    }
    let shown = portal.admin_get(&format!("licenses/{honest_id}"));
    assert!(shown["activation"]["cloned_at"].is_null(), "{shown}");
    assert_eq!(shown["activation"]["forks"], 0, "{shown}");
}

#[test]
fn a_hub_reinstalled_after_the_backup_binds_again_by_itself_on_the_restored_portal() {
    // After the backup, the site reinstalls its hub (a new key on the same host). The
    // restored portal knows only the old key; the new hub's ping shows a receipt the portal
    // signed for its key after the binding's last ping, is told to activate again, and does.
    let vendor = Vendor::keygen();
    let options = PortalOptions {
        config: Some("rebind_every_secs = 0\n".to_owned()),
        ..PortalOptions::default()
    };
    let mut portal = Portal::start_with(&vendor, options);
    let dir = tempfile::tempdir().expect("dir");
    let (id, daemon) = site(&vendor, &portal, dir.path(), 2);
    assert!(daemon.stop().success());
    let old = dir.path().join("hub");
    assert_eq!(ping(&old), "valid");
    let backup = dir.path().join("backup");
    back_up(&mut portal, &backup);
    wait_past(unix_now());

    let reinstalled = dir.path().join("reinstalled");
    assert_eq!(activate(&reinstalled, &old, &vendor), "valid");
    assert_eq!(ping(&reinstalled), "valid");
    restore(&mut portal, &backup);

    assert_eq!(ping(&reinstalled), "valid");
    assert_eq!(ping(&reinstalled), "valid");
    let shown = portal.admin_get(&format!("licenses/{id}"));
    assert!(shown["activation"]["cloned_at"].is_null(), "{shown}");
}
