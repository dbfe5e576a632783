//! The audit ledger's evidence in customers' hands, with the real binaries: every receipt
//! names the ledger's latest signed checkpoint, the hub keeps those heads and exports them
//! (`tessera-hub audit-heads`), and `tessera audit verify --witness` checks a ledger export
//! against them, so that a ledger rewritten after a hub saw its head is caught even when the
//! rewrite was signed again with the portal's own key.

use std::path::{Path, PathBuf};

use tessera_core::ledger::{Checkpoint, Export, Signed};
use tessera_core::merkle::Tree;

use crate::kit::{Portal, Ran, Vendor, cmd, hub, run};
use crate::scenarios::stopped_site;

fn verify(vendor: &Vendor, export: &Path, witness: Option<&Path>) -> Ran {
    let mut command = cmd("tessera");
    command.args(["audit", "verify"]).arg(export).arg("--trust").arg(vendor.trust_path());
    if let Some(witness) = witness {
        command.arg("--witness").arg(witness);
    }
    run(&mut command)
}

/// An export rewritten by an insider who holds the portal's receipt key: entry 1's target
/// changed, every hash recomputed and one checkpoint of the whole forged tree signed again.
fn forged(text: &str, key_file: &Path) -> String {
    let (key, _) = tessera_core::keyfile::load_or_create_plain(key_file).expect("portal key");
    let export = Export::from_lines(text.lines()).expect("export");
    let newest = export.checkpoints.iter().max_by_key(|s| s.checkpoint.size).expect("one");
    let mut lines: Vec<String> =
        text.lines().filter(|l| l.contains("\"kind\":\"delegation\"")).map(str::to_owned).collect();
    let mut tree = Tree::new();
    for (mut entry, _) in export.entries.clone() {
        if entry.seq == 1 {
            entry.target = "someone-else".into();
        }
        let leaf = entry.leaf_hash();
        tree.push(leaf);
        let mut line = serde_json::to_value(&entry).expect("json");
        line["kind"] = serde_json::json!("entry");
        line["hash"] =
            serde_json::json!(leaf.iter().map(|b| format!("{b:02x}")).collect::<String>());
        lines.push(line.to_string());
    }
    let checkpoint = Checkpoint {
        origin: newest.checkpoint.origin.clone(),
        size: tree.size(),
        root: tree.root_at(tree.size()).expect("root"),
    };
    let signed = Signed::parse(&checkpoint.sign(&key), newest.signed_at).expect("note");
    lines.push(signed.to_line());
    lines.push(serde_json::json!({ "kind": "end", "size": tree.size() }).to_string());
    lines.join("\n") + "\n"
}

#[test]
fn a_hubs_ledger_heads_catch_an_export_rewritten_and_signed_again_after_them() {
    let vendor = Vendor::keygen();
    let portal = Portal::start(&vendor);
    let (dir, id) = stopped_site(&vendor, &portal, 2);
    let state = dir.path().join("hub");
    let file = |name: &str, text: &str| -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path
    };
    // The export signs a checkpoint of every change so far; the next receipt names it.
    let first = portal.admin_text("audit");
    assert_eq!(run(hub(&state).args(["ping", "--json"])).status(), "valid");
    let heads = dir.path().join("heads.jsonl");
    let exported = run(hub(&state).args(["audit-heads", "--out"]).arg(&heads));
    assert_eq!(exported.code, 0, "{}", exported.stderr);
    let kept = Export::from_lines(std::fs::read_to_string(&heads).expect("heads").lines())
        .expect("a witness file");
    let signed = Export::from_lines(first.lines()).expect("export");
    let newest = signed.checkpoints.iter().max_by_key(|s| s.checkpoint.size).expect("one");
    // The activation's receipt named a head too: the first of the day stays beside it.
    let held = kept.checkpoints.iter().max_by_key(|s| s.checkpoint.size).expect("a head");
    assert!(kept.checkpoints.len() <= 2, "{:?}", kept.checkpoints);
    assert_eq!(held.note, newest.note, "the head the receipt named");
    let again = run(hub(&state).args(["audit-heads", "--out"]).arg(&heads));
    assert_eq!(again.code, 3, "an export is not replaced without --force: {}", again.stderr);

    // The genuine ledger, grown since, extends what the hub kept.
    portal.admin(&id, "suspend");
    let later = portal.admin_text("audit");
    let genuine = verify(&vendor, &file("later.jsonl", &later), Some(&heads));
    assert_eq!(genuine.code, 0, "{}", genuine.stderr);
    assert!(genuine.stdout.contains("witnessed checkpoints"), "{}", genuine.stdout);

    // Rewritten and signed again with the portal's key: sound on its own, refused against
    // the hub's heads (38).
    let forgery = file("forged.jsonl", &forged(&later, &portal.data.join("receipt.key")));
    let alone = verify(&vendor, &forgery, None);
    assert_eq!(alone.code, 0, "the forgery is consistent on its own: {}", alone.stderr);
    let caught = verify(&vendor, &forgery, Some(&heads));
    assert_eq!(caught.code, 38, "{}", caught.stderr);
    assert!(caught.stderr.contains("a witness holds the checkpoint"), "{}", caught.stderr);
}

#[test]
fn proofs_the_portal_serves_are_checked_offline_and_a_changed_one_is_refused() {
    let vendor = Vendor::keygen();
    let portal = Portal::start(&vendor);
    let (claims, license) = vendor.license(2, None);
    portal.register(&license);
    let id = claims.id.to_string();
    let dir = tempfile::tempdir().expect("dir");
    let file = |name: &str, text: &str| -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path
    };
    let earlier = file("earlier.jsonl", &portal.admin_text("audit"));
    let old = Export::from_lines(std::fs::read_to_string(&earlier).expect("text").lines())
        .expect("export")
        .entries
        .len();
    portal.admin(&id, "suspend");
    portal.admin(&id, "reinstate");
    let export = file("export.jsonl", &portal.admin_text("audit"));
    let check = |proof: &Path, export: &Path, since: Option<&Path>| {
        let mut command = cmd("tessera");
        command.args(["audit", "proof"]).arg(proof).arg("--trust").arg(vendor.trust_path());
        command.arg("--export").arg(export);
        if let Some(since) = since {
            command.arg("--since").arg(since);
        }
        run(&mut command)
    };

    let inclusion = portal.admin_text("audit/inclusion?seq=2");
    let holds = check(&file("inclusion.tlog-proof", &inclusion), &export, None);
    assert_eq!(holds.code, 0, "{}", holds.stderr);
    assert!(holds.stdout.contains("holds: entry 2 is in the checkpoint"), "{}", holds.stdout);
    // The entry it carries changed (another actor): the proof no longer leads to the root.
    let lines: Vec<&str> = inclusion.lines().collect();
    let extra = lines[1].strip_prefix("extra ").expect("extra line");
    let mut bytes = base64_decode(extra);
    let last = bytes.len() - 2;
    bytes[last] ^= 1;
    let changed = inclusion.replace(extra, &base64_encode(&bytes));
    let refused = check(&file("changed.tlog-proof", &changed), &export, None);
    assert_eq!(refused.code, 40, "{}", refused.stderr);
    assert!(refused.stderr.contains("the proof does not hold"), "{}", refused.stderr);
    // Its checkpoint is newer than the export it is checked with: nothing vouches for it.
    let unknown = check(&file("inclusion.tlog-proof", &inclusion), &earlier, None);
    assert_eq!(unknown.code, 32, "{}", unknown.stderr);

    let consistency = portal.admin_text(&format!("audit/consistency?old={old}"));
    let proof = file("consistency.txt", &consistency);
    let extends = check(&proof, &export, Some(&earlier));
    assert_eq!(extends.code, 0, "{}", extends.stderr);
    assert!(
        extends.stdout.contains(&format!("extends the earlier one of {old}")),
        "{}",
        extends.stdout
    );
    let alone = check(&proof, &export, None);
    assert_eq!(alone.code, 37, "the earlier checkpoint is needed: {}", alone.stderr);
    // Against an earlier checkpoint of the same size with another root (a forged history).
    let forged_earlier =
        forged(&std::fs::read_to_string(&earlier).expect("text"), &portal.data.join("receipt.key"));
    let forked = check(&proof, &export, Some(&file("forged-earlier.jsonl", &forged_earlier)));
    assert_eq!(forked.code, 40, "{}", forked.stderr);
    let junk = check(&file("junk.txt", "not a proof\n"), &export, None);
    assert_eq!(junk.code, 5, "{}", junk.stderr);
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text).expect("base64")
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
