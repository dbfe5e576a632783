//! A hostile customer with root on the hub and runner machines, with the real binaries:
//! copies of state directories, more runners than the license allows, saved answers
//! installed again. What each defended case is, and what an offline check cannot prevent,
//! is written in docs/SECURITY.md.

use std::path::Path;
use std::process::Command;

use crate::kit::{Portal, Vendor, hub, hub_at, in_keyring_session, run, runner};
use crate::scenarios::{install, site, stopped_site};

/// `cp -a from to`: a copy of a state directory, as a cloned VM or a restored backup has.
fn copy_dir(from: &Path, to: &Path) {
    let ok = Command::new("cp").arg("-a").arg(from).arg(to).status().expect("cp");
    assert!(ok.success());
}

#[test]
fn a_copied_hub_is_noticed_and_one_copy_is_refused() {
    let vendor = Vendor::keygen();
    let portal = Portal::start(&vendor);
    let (dir, id) = stopped_site(&vendor, &portal, 2);
    let original = dir.path().join("hub");
    let twin = dir.path().join("twin");
    copy_dir(&original, &twin);
    // Both ping, turn about, as two machines would every hour.
    let mut words = Vec::new();
    for _ in 0..3 {
        for state in [&original, &twin] {
            let ran = run(hub(state).args(["ping", "--json"]));
            words.push(ran.status());
        }
    }
    assert!(words.contains(&"cloned".to_owned()), "{words:?}");
    // One copy stays refused (its own state holds the signed `cloned` receipt), the other
    // goes on; the vendor sees it.
    let status = |state: &Path| run(hub(state).args(["status", "--json"])).status();
    let (a, b) = (status(&original), status(&twin));
    assert!((a == "cloned" && b == "valid") || (a == "valid" && b == "cloned"), "{a} / {b}");
    let shown = portal.admin_get(&format!("licenses/{id}"));
    assert!(shown["activation"]["cloned_at"].is_i64(), "{shown}");
    // The documented way back for a hub restored from a backup: the vendor resets the
    // binding, and the hub binds again by itself at its next ping.
    let refused = if a == "cloned" { &original } else { &twin };
    let kept = if a == "cloned" { &twin } else { &original };
    std::fs::remove_dir_all(kept).expect("the other machine is gone");
    portal.admin(&id, "reset-binding");
    assert_eq!(run(hub(refused).args(["ping", "--json"])).status(), "valid");
}

#[test]
fn a_third_runner_machine_is_refused_whatever_it_calls_itself() {
    if !in_keyring_session() {
        return;
    }
    let vendor = Vendor::keygen();
    let portal = Portal::start(&vendor);
    let dir = tempfile::tempdir().expect("dir");
    let (_, daemon) = site(&vendor, &portal, dir.path(), 2);
    install(dir.path(), "r1", &daemon.address, &vendor);
    install(dir.path(), "r2", &daemon.address, &vendor);
    // A third machine, installed under the first one's name with a fresh token.
    let token = run(hub(&dir.path().join("hub")).arg("runner-token")).ok().stdout.trim().to_owned();
    let third = dir.path().join("third");
    run(runner(&third)
        .args(["install", "--hub", &format!("http://{}", daemon.address), "--label", "r1"])
        .arg("--trust")
        .arg(vendor.trust_path())
        .env("TESSERA_RUNNER_TOKEN", &token))
    .fails(8, "runner_limit_exceeded");
    assert_ne!(run(runner(&third).args(["check", "--json"])).status(), "valid");
    // A copy of r1's state directory on another machine: both refresh in turn, as two
    // machines would; the copies fork the hub's chain of r1's calls, and one is refused.
    let r1 = dir.path().join("r1");
    let copy = dir.path().join("r1-copy");
    copy_dir(&r1, &copy);
    let mut refused = Vec::new();
    for _ in 0..3 {
        for state in [&r1, &copy] {
            let ran = run(runner(state).args(["refresh", "--trust"]).arg(vendor.trust_path()));
            if ran.code != 0 {
                assert_eq!(ran.code, 8, "{}", ran.stderr);
                assert!(ran.stderr.contains("cloned"), "{}", ran.stderr);
                refused.push(state.clone());
            }
        }
    }
    assert!(!refused.is_empty(), "neither copy was refused");
    let listed = run(hub(&dir.path().join("hub")).args(["runners", "list", "--json"])).ok().json();
    assert!(
        listed.as_array().expect("runners").iter().any(|r| r["cloned_at"].is_i64()),
        "{listed}"
    );
    assert!(daemon.stop().success());
}

#[test]
fn a_revoked_runner_cannot_be_brought_back_with_anything_saved_before() {
    if !in_keyring_session() {
        return;
    }
    let vendor = Vendor::keygen();
    let portal = Portal::start(&vendor);
    let dir = tempfile::tempdir().expect("dir");
    let (id, daemon) = site(&vendor, &portal, dir.path(), 2);
    install(dir.path(), "r1", &daemon.address, &vendor);
    let (hub_state, r1) = (dir.path().join("hub"), dir.path().join("r1"));
    // The good days: the customer keeps an answer from the hub's operator (never installed)
    // and a copy of the runner's whole state directory.
    let request = dir.path().join("request.txt");
    run(runner(&r1).args(["request", "--label", "r1", "--out"]).arg(&request)).ok();
    let saved = dir.path().join("saved-bundle.json");
    run(hub(&hub_state).args(["bundle", "--request"]).arg(&request).arg("--out").arg(&saved)).ok();
    let saved_dir = dir.path().join("r1-saved");
    copy_dir(&r1, &saved_dir);

    portal.admin(&id, "revoke");
    assert_eq!(run(hub(&hub_state).args(["ping", "--json"])).status(), "revoked");
    run(runner(&r1).arg("refresh")).ok();
    assert_eq!(run(runner(&r1).args(["check", "--json"])).status(), "revoked");

    // The saved answer answers a request the runner's later call superseded: refused,
    // nothing changes.
    let installed = run(runner(&r1)
        .args(["install", "--bundle"])
        .arg(&saved)
        .arg("--trust")
        .arg(vendor.trust_path()));
    assert_ne!(installed.code, 0, "{}", installed.stdout);
    assert_eq!(run(runner(&r1).args(["check", "--json"])).status(), "revoked");
    // The saved state directory put back: the keystore knows a newer cache.
    std::fs::remove_dir_all(&r1).expect("remove");
    copy_dir(&saved_dir, &r1);
    let check = run(runner(&r1).args(["check", "--json"]));
    assert_eq!((check.code, check.status()), (22, "tampered".to_owned()), "{}", check.stdout);
    // Asking the hub again (with the vendor's trust set: the cache's own cannot be trusted
    // now) hears the revocation: the hub grants no lease, and nothing becomes valid.
    run(runner(&r1).args(["refresh", "--trust"]).arg(vendor.trust_path())).fails(17, "revoked");
    assert_ne!(run(runner(&r1).args(["check", "--json"])).status(), "valid");
    assert!(daemon.stop().success());
}

#[test]
fn a_mirror_fed_the_originals_receipts_leases_no_runner() {
    if !in_keyring_session() {
        return;
    }
    let vendor = Vendor::keygen();
    let portal = Portal::start(&vendor);
    let (dir, _) = stopped_site(&vendor, &portal, 2);
    let original = dir.path().join("hub");
    let mirror = dir.path().join("mirror");
    // A second machine: the whole state directory (hub key, receipt, delegation) copied,
    // its own host (another host secret: every component reads differently).
    let elsewhere = dir.path().join("elsewhere").join("host.secret");
    std::fs::create_dir_all(elsewhere.parent().expect("dir")).expect("dir");
    std::fs::write(&elsewhere, format!("{}\n", "5a".repeat(32))).expect("its own host secret");
    let on_mirror = |args: &[&str]| {
        let mut command = hub(&mirror);
        command.env("TESSERA_HUB_HOST_SECRET", &elsewhere).args(args);
        command
    };
    // A runner's request for a lease, answered by the operator's `bundle` (air-gapped).
    let r1 = dir.path().join("r1");
    let request = dir.path().join("request.txt");
    run(runner(&r1).args(["request", "--label", "r1", "--out"]).arg(&request)).ok();
    let bundle = |command: &mut Command, out: &str| {
        run(command.arg("--request").arg(&request).arg("--out").arg(dir.path().join(out)))
    };
    // Fed the original's receipt after each of its pings, the mirror still refuses.
    for _ in 0..2 {
        assert_eq!(run(hub(&original).args(["ping", "--json"])).status(), "valid");
        let _ = std::fs::remove_dir_all(&mirror);
        copy_dir(&original, &mirror);
        let status = run(&mut on_mirror(&["status", "--json"]));
        assert_eq!((status.code, status.status()), (16, "fingerprint_mismatch".to_owned()));
        assert!(status.stdout.contains("another host"), "{}", status.stdout);
        // It answers a runner's request with no lease, and no bundle: its refusal is its
        // own finding, which no signed evidence carries to a runner.
        let refused = bundle(&mut on_mirror(&["bundle"]), "mirror-bundle.json");
        assert_eq!(refused.code, 16, "{}", refused.stderr);
        assert!(refused.stderr.contains("no bundle was written"), "{}", refused.stderr);
        assert!(!dir.path().join("mirror-bundle.json").exists());
    }
    // The original, on its own host, is valid and answers the same request.
    assert_eq!(run(hub(&original).args(["status", "--json"])).status(), "valid");
    bundle(hub(&original).arg("bundle"), "bundle.json").ok();
    // One changed component on the hub's own host is no refusal (the binding's majority):
    // the fingerprint kept with the receipt may differ from this host's in one name.
    let state_file = original.join("state.json");
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state_file).expect("state")).expect("json");
    assert!(state["fingerprint"].is_object(), "{state}");
    let kept = state["fingerprint"].as_object().expect("components").len();
    assert!(kept >= 2, "{state}");
    // ...but the kept fingerprint must be the one the receipt names: an edited one is refused.
    let first =
        state["fingerprint"].as_object().expect("map").keys().next().cloned().expect("a name");
    state["fingerprint"][&first] = serde_json::Value::String("00".repeat(32));
    std::fs::write(&state_file, serde_json::to_vec(&state).expect("json")).expect("write");
    let edited = run(hub(&original).args(["status", "--json"]));
    assert_eq!(edited.status(), "tampered", "{}", edited.stdout);
}

#[test]
fn a_clock_moved_ahead_and_back_is_noticed_and_a_fresh_receipt_settles_an_honest_one() {
    let vendor = Vendor::keygen();
    let portal = Portal::start(&vendor);
    let (dir, _) = stopped_site(&vendor, &portal, 2);
    let state = dir.path().join("hub");
    // Only `status`, with the clock two days ahead (inside the week of grace): kept.
    assert_eq!(run(hub_at("+2d", &state).args(["status", "--json"])).status(), "grace");
    let back = run(hub(&state).args(["status", "--json"]));
    assert_eq!((back.code, back.status()), (21, "clock_rollback".to_owned()), "{}", back.stdout);
    // An honest hub whose clock ran ahead and was set right (NTP): its next ping's receipt
    // is the signed present, and the mark comes back to it.
    assert_eq!(run(hub(&state).args(["ping", "--json"])).status(), "valid");
    assert_eq!(run(hub(&state).args(["status", "--json"])).status(), "valid");
    // A clock set back behind that receipt is still caught.
    assert_eq!(run(hub_at("-1d", &state).args(["status", "--json"])).status(), "clock_rollback");
}

#[test]
fn a_status_run_by_root_leaves_the_state_file_to_the_hubs_own_user() {
    use std::os::unix::fs::MetadataExt;
    let vendor = Vendor::keygen();
    let portal = Portal::start(&vendor);
    let (dir, _) = stopped_site(&vendor, &portal, 2);
    let state = dir.path().join("hub");
    let file = state.join("state.json");
    // The hub's own user (here `nobody`) owns its state; root (`sudo tessera-hub status`)
    // reads it with a clock that would move the high-water mark.
    let chown = run(Command::new("chown").arg("-R").arg("65534").arg(&state));
    if chown.code != 0 {
        // Giving a file away needs root: CI runs as root.
        assert!(std::env::var_os("CI").is_none(), "chown failed: {}", chown.stderr);
        eprintln!("\n!!! NOT RUN: chown needs root here: {}\n", chown.stderr);
        return;
    }
    // Root's commands that write (a runner token) give the file back to the hub's user.
    run(hub(&state).arg("runner-token")).ok();
    assert_eq!(std::fs::metadata(&file).expect("state").uid(), 65534, "root took state.json");
    let before = std::fs::read(&file).expect("state");
    assert_eq!(run(hub_at("+2h", &state).args(["status", "--json"])).status(), "grace");
    // Root's own `status`, without the hub's `--host-secret`, judges the host with the
    // secret recorded at activation, not root's default one, and makes no stray secret.
    let roots_default = Path::new("/var/lib/tessera-host/host.secret");
    let existed = roots_default.exists();
    let mut by_root = hub_at("+2h", &state);
    by_root.env_remove("TESSERA_HUB_HOST_SECRET");
    let shown = run(by_root.args(["status", "--json"]));
    assert_eq!(shown.status(), "grace", "{}", shown.stdout);
    assert_eq!(roots_default.exists(), existed, "status made a host secret");
    let meta = std::fs::metadata(&file).expect("state");
    assert_eq!(meta.uid(), 65534, "the state file was taken from the hub's user");
    assert_eq!(std::fs::read(&file).expect("state"), before, "a status by another user wrote");
    // The hub's own user keeps the mark (here: root owning the file again).
    run(Command::new("chown").arg("-R").arg("0").arg(&state)).ok();
    assert_eq!(run(hub_at("+2h", &state).args(["status", "--json"])).status(), "grace");
    assert_ne!(std::fs::read(&file).expect("state"), before, "the owner's status keeps the mark");
}

#[test]
fn a_hub_that_refuses_by_its_own_clock_writes_no_refusal_bundle() {
    if !in_keyring_session() {
        return;
    }
    let vendor = Vendor::keygen();
    let portal = Portal::start(&vendor);
    let (dir, _) = stopped_site(&vendor, &portal, 2);
    let state = dir.path().join("hub");
    let r1 = dir.path().join("r1");
    let request = dir.path().join("request.txt");
    run(runner(&r1).args(["request", "--label", "r1", "--out"]).arg(&request)).ok();
    // A clock set a day behind the hub's receipt is this host's own finding: the receipt
    // a bundle would carry still says `valid`, so a runner would judge it `valid` and drop
    // its request. No bundle, the status's exit code, and a sentence saying why.
    let bundle = dir.path().join("bundle.json");
    let answered = run(hub_at("-1d", &state)
        .args(["bundle", "--request"])
        .arg(&request)
        .arg("--out")
        .arg(&bundle));
    assert_eq!(answered.code, 21, "{}", answered.stderr);
    assert!(answered.stderr.contains("no bundle was written"), "{}", answered.stderr);
    assert!(!bundle.exists(), "a bundle was written for a local refusal");
    // With the clock right, the same hub answers with a lease.
    let again = dir.path().join("request-2.txt");
    run(runner(&r1).args(["request", "--label", "r1", "--out"]).arg(&again)).ok();
    run(hub(&state).args(["bundle", "--request"]).arg(&again).arg("--out").arg(&bundle)).ok();
    assert!(bundle.exists());
}

#[test]
fn a_hub_put_back_to_before_its_revocation_is_refused_at_its_next_ping() {
    let vendor = Vendor::keygen();
    let portal = Portal::start(&vendor);
    let (dir, id) = stopped_site(&vendor, &portal, 2);
    let hub_state = dir.path().join("hub");
    let saved = dir.path().join("hub-saved");
    copy_dir(&hub_state, &saved);
    portal.admin(&id, "revoke");
    assert_eq!(run(hub(&hub_state).args(["ping", "--json"])).status(), "revoked");
    // Root restores the state from before: offline, the hub believes its last receipt (the
    // limit docs/SECURITY.md names: until the grace period ends)...
    std::fs::remove_dir_all(&hub_state).expect("remove");
    copy_dir(&saved, &hub_state);
    assert_eq!(run(hub(&hub_state).args(["status", "--json"])).status(), "valid");
    // ...but its next ping hears the truth again.
    let ping = run(hub(&hub_state).args(["ping", "--json"]));
    assert_ne!(ping.status(), "valid", "{}", ping.stdout);
    assert_ne!(ping.code, 0);
}

#[test]
fn tessera_audit_verify_checks_the_portals_ledger_and_names_what_was_changed() {
    let vendor = Vendor::keygen();
    let portal = crate::kit::Portal::start(&vendor);
    let (claims, license) = vendor.license(2, None);
    portal.register(&license);
    let id = claims.id.to_string();
    portal.admin(&id, "suspend");
    portal.admin(&id, "reinstate");
    let dir = tempfile::tempdir().expect("dir");
    let export = dir.path().join("audit.jsonl");
    let text = portal.admin_text("audit");
    std::fs::write(&export, &text).expect("export");
    let verify = |file: &std::path::Path| {
        let mut command = crate::kit::cmd("tessera");
        command.args(["audit", "verify"]).arg(file).arg("--trust").arg(vendor.trust_path());
        run(&mut command)
    };
    let sound = verify(&export);
    assert_eq!(sound.code, 0, "{}", sound.stderr);
    assert!(sound.stdout.contains("sound: 4 entries"), "{}", sound.stdout);
    assert!(sound.stdout.contains("the newest covers all 4 entries"), "{}", sound.stdout);

    // Each kind of edit of the export, named.
    let lines: Vec<&str> = text.lines().collect();
    let entry_at = |seq: u64| {
        lines
            .iter()
            .position(|l| {
                l.contains("\"kind\":\"entry\"") && l.contains(&format!("\"seq\":{seq},"))
            })
            .expect("entry")
    };
    let write = |name: &str, lines: &[String]| {
        let path = dir.path().join(name);
        std::fs::write(&path, lines.join("\n")).expect("write");
        path
    };
    let owned: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    let mut changed = owned.clone();
    changed[entry_at(3)] = changed[entry_at(3)].replace("license.suspended", "license.reinstated");
    let mut removed = owned.clone();
    removed.remove(entry_at(2));
    let mut reordered = owned.clone();
    reordered.swap(entry_at(3), entry_at(4));
    for (name, lines, says) in [
        ("changed", changed, "entry 3 was changed"),
        ("removed", removed, "entry 2 is missing"),
        ("reordered", reordered, "entry 3 is missing"),
    ] {
        let bad = verify(&write(name, &lines));
        assert_eq!(bad.code, 9, "{name}: {}", bad.stderr);
        assert!(bad.stderr.contains(says), "{name}: {}", bad.stderr);
    }
    // An entry rewritten with its hash recomputed, every checkpoint removed, an entry
    // appended with a valid hash, the newest entry removed, the oldest removed: each its code.
    let entry_of = |line: &str| -> (tessera_core::ledger::Entry, serde_json::Value) {
        let mut value: serde_json::Value = serde_json::from_str(line).expect("json");
        let object = value.as_object_mut().expect("object");
        object.remove("kind");
        object.remove("hash");
        (serde_json::from_value(value.clone()).expect("entry"), value)
    };
    let line_of = |entry: &tessera_core::ledger::Entry| {
        let mut value = serde_json::to_value(entry).expect("json");
        value["kind"] = serde_json::json!("entry");
        let hash: String = entry.leaf_hash().iter().map(|b| format!("{b:02x}")).collect();
        value["hash"] = serde_json::json!(hash);
        value.to_string()
    };
    let mut rewritten = owned.clone();
    let (mut third, _) = entry_of(&owned[entry_at(3)]);
    third.action = "license.reinstated".into();
    rewritten[entry_at(3)] = line_of(&third);
    let unsigned_checkpoints: Vec<String> =
        owned.iter().filter(|l| !l.contains("\"kind\":\"checkpoint\"")).cloned().collect();
    let mut appended = owned.clone();
    let (mut fifth, _) = entry_of(&owned[entry_at(4)]);
    fifth.seq = 5;
    appended.insert(entry_at(4) + 1, line_of(&fifth));
    let mut newest_gone = owned.clone();
    newest_gone.remove(entry_at(4));
    let mut oldest_gone = owned.clone();
    oldest_gone.remove(entry_at(1));
    for (name, lines, code, says) in [
        ("rewritten", rewritten, 30, "the first 4 entries are not those signed"),
        ("no-checkpoint", unsigned_checkpoints, 31, "no signed checkpoint"),
        ("appended", appended, 33, "entries 5 to 5 are covered by no signed checkpoint"),
        ("newest-gone", newest_gone, 34, "the newest were removed"),
        ("oldest-gone", oldest_gone, 35, "no retention cut entry records their removal"),
    ] {
        let bad = verify(&write(name, &lines));
        assert_eq!(bad.code, code, "{name}: {}", bad.stderr);
        assert!(bad.stderr.contains(says), "{name}: {}", bad.stderr);
    }
    // An export cut short, at a line's end or in the middle of one (a download stopped, a
    // disk full): named as such, not as a tampered ledger.
    let at_a_line = owned[..entry_at(3)].join("\n") + "\n";
    let mid_line = at_a_line.clone() + &owned[entry_at(3)][..20];
    for (name, text, says) in [
        ("cut-at-a-line", at_a_line, "it has no end line"),
        ("cut-mid-line", mid_line, "stops in the middle"),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        let bad = verify(&path);
        assert_eq!(bad.code, 41, "{name}: {}", bad.stderr);
        assert!(
            bad.stderr.contains("cut short") && bad.stderr.contains(says),
            "{name}: {}",
            bad.stderr
        );
    }
    // An end line that says more than the export holds: lines were removed.
    let mut says_more = owned.clone();
    let last = says_more.last_mut().expect("end line");
    assert!(last.contains("\"kind\":\"end\""), "{last}");
    *last = last.replace("\"size\":4", "\"size\":5");
    let bad = verify(&write("end-says-more", &says_more));
    assert_eq!(bad.code, 41, "{}", bad.stderr);
    assert!(bad.stderr.contains("its end line says 5 entries, it holds 4"), "{}", bad.stderr);

    // A later export extends this one; this one does not extend the later.
    portal.admin(&id, "suspend");
    let later = dir.path().join("later.jsonl");
    std::fs::write(&later, portal.admin_text("audit")).expect("later");
    let since = |file: &std::path::Path, earlier: &std::path::Path| {
        let mut command = crate::kit::cmd("tessera");
        command.args(["audit", "verify"]).arg(file).arg("--trust").arg(vendor.trust_path());
        run(command.arg("--since").arg(earlier))
    };
    let extends = since(&later, &export);
    assert_eq!(extends.code, 0, "{}", extends.stderr);
    assert!(
        extends.stdout.contains("extends the earlier checkpoint of 4 entries"),
        "{}",
        extends.stdout
    );
    let shrunk = since(&export, &later);
    assert_eq!(shrunk.code, 36, "{}", shrunk.stderr);
    assert!(shrunk.stderr.contains("entries were removed"), "{}", shrunk.stderr);
    // The checkpoints a witness kept: the later export extends the earlier's; the earlier
    // export falls short of the later's (38), and a witness file without one is 39.
    let witnessed = |file: &std::path::Path, kept: &std::path::Path| {
        let mut command = crate::kit::cmd("tessera");
        command.args(["audit", "verify"]).arg(file).arg("--trust").arg(vendor.trust_path());
        run(command.arg("--witness").arg(kept))
    };
    let extends = witnessed(&later, &export);
    assert_eq!(extends.code, 0, "{}", extends.stderr);
    assert!(extends.stdout.contains("witnessed checkpoints"), "{}", extends.stdout);
    let behind = witnessed(&export, &later);
    assert_eq!(behind.code, 38, "{}", behind.stderr);
    assert!(behind.stderr.contains("a witness holds the checkpoint"), "{}", behind.stderr);
    // Sound alone, the export is named against the file it disagrees with.
    let against = format!("{} against {}", export.display(), later.display());
    assert!(behind.stderr.contains(&against), "{}", behind.stderr);
    let empty = write("empty-witness", &[String::new()]);
    assert_eq!(witnessed(&later, &empty).code, 39);

    // Another vendor's key vouches for none of its checkpoints.
    let other = Vendor::keygen();
    let mut command = crate::kit::cmd("tessera");
    command.args(["audit", "verify"]).arg(&export).arg("--trust").arg(other.trust_path());
    let stranger = run(&mut command);
    assert_eq!(stranger.code, 32, "{}", stranger.stderr);
    assert!(
        stranger.stderr.contains("no delegation from a trusted vendor key"),
        "{}",
        stranger.stderr
    );
    let junk = write("junk", &["not json".to_owned()]);
    let refused = verify(&junk);
    assert_eq!(refused.code, 5, "{}", refused.stderr);
    assert!(refused.stderr.contains("line 1"), "{}", refused.stderr);
}
