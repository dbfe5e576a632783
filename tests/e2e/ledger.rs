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
    assert_eq!(kept.checkpoints.len(), 1);
    assert_eq!(kept.checkpoints[0].note, newest.note, "the head the receipt named");
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
