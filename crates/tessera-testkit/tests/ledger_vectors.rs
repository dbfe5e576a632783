//! The audit ledger's test vectors (`vectors/ledger/*.vector`), checked twice: recomputed
//! here from docs/FORMAT.md's rules alone (SHA-256, Ed25519 and base64, nothing of the
//! ledger's own code), and remade by `tessera_core`, so that the files, the document and the
//! code cannot drift apart. `TESSERA_WRITE_VECTORS=1` rewrites the files from the code
//! (review the diff: a changed vector is a format change).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use tessera_core::UnixTime;
use tessera_core::delegation::{self, DelegationClaims};
use tessera_core::keys::{PublicKey, SigningKey};
use tessera_core::ledger::{self, Checkpoint, Entry};
use tessera_core::merkle::{Frontier, Tree};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors/ledger")
}

/// A vector file: `name: value` lines, then, after a `---` line, the exact bytes (if any).
struct Vector {
    fields: Vec<(String, String)>,
    body: String,
}

impl Vector {
    fn read(name: &str) -> Vector {
        let text = std::fs::read_to_string(dir().join(name)).expect("vector file");
        let (head, body) = text.split_once("---\n").unwrap_or((&text, ""));
        let fields = head
            .lines()
            .map(|l| {
                let (k, v) = l.split_once(": ").unwrap_or((l.trim_end_matches(':'), ""));
                (k.to_owned(), v.to_owned())
            })
            .collect();
        Vector { fields, body: body.to_owned() }
    }

    fn get(&self, key: &str) -> &str {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{key}"))
    }

    fn opt(&self, key: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    fn all(&self, prefix: &str) -> BTreeMap<String, String> {
        self.fields
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(prefix).map(|rest| (rest.to_owned(), v.clone())))
            .collect()
    }
}

/// Writes `text` as the vector `name`, or checks that the file holds exactly it.
fn settle(name: &str, text: &str) {
    let path = dir().join(name);
    if std::env::var_os("TESSERA_WRITE_VECTORS").is_some() {
        std::fs::create_dir_all(dir()).unwrap();
        std::fs::write(&path, text).unwrap();
    }
    let found = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(found, text, "{name} drifted from the code (TESSERA_WRITE_VECTORS=1 rewrites it)");
}

// ---- FORMAT.md's rules, written out from the document alone ----

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// An entry's canonical bytes: seq and at as 8 big-endian bytes, then each text as an 8-byte
/// big-endian length and its bytes, then 1 or 0 for org's presence.
fn canonical(
    seq: &str,
    at: &str,
    actor: &str,
    action: &str,
    target: &str,
    org: Option<&str>,
) -> Vec<u8> {
    let mut out = seq.parse::<u64>().unwrap().to_be_bytes().to_vec();
    out.extend(at.parse::<i64>().unwrap().to_be_bytes());
    for field in [actor, action, target, org.unwrap_or("")] {
        out.extend((field.len() as u64).to_be_bytes());
        out.extend(field.as_bytes());
    }
    out.push(u8::from(org.is_some()));
    out
}

fn leaf(bytes: &[u8]) -> [u8; 32] {
    sha256(&[&[0], bytes])
}

fn node(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    sha256(&[&[1], left, right])
}

fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

fn mth(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => sha256(&[]),
        1 => leaves[0],
        n => node(&mth(&leaves[..split(n)]), &mth(&leaves[split(n)..])),
    }
}

fn path(m: usize, leaves: &[[u8; 32]]) -> Vec<[u8; 32]> {
    if leaves.len() == 1 {
        return Vec::new();
    }
    let k = split(leaves.len());
    let (mut p, sibling) = if m < k {
        (path(m, &leaves[..k]), mth(&leaves[k..]))
    } else {
        (path(m - k, &leaves[k..]), mth(&leaves[..k]))
    };
    p.push(sibling);
    p
}

fn subproof(m: usize, leaves: &[[u8; 32]], whole: bool) -> Vec<[u8; 32]> {
    let n = leaves.len();
    if m == n {
        return if whole { Vec::new() } else { vec![mth(leaves)] };
    }
    let k = split(n);
    let (mut p, sibling) = if m <= k {
        (subproof(m, &leaves[..k], whole), mth(&leaves[k..]))
    } else {
        (subproof(m - k, &leaves[k..], false), mth(&leaves[..k]))
    };
    p.push(sibling);
    p
}

/// The frontier: the roots of the perfect subtrees of the first n leaves, largest first.
fn frontier(leaves: &[[u8; 32]]) -> Vec<[u8; 32]> {
    let mut out = Vec::new();
    let mut at = 0;
    let n = leaves.len();
    for bit in (0..usize::BITS).rev() {
        let width = 1usize << bit;
        if n & width != 0 {
            out.push(mth(&leaves[at..at + width]));
            at += width;
        }
    }
    out
}

fn hexes(hashes: &[[u8; 32]]) -> String {
    hashes.iter().map(hex::encode).collect::<Vec<_>>().join(" ")
}

fn unhex(text: &str) -> [u8; 32] {
    hex::decode(text).unwrap().try_into().unwrap()
}

/// The leaves of the tree vectors: leaf i is the leaf hash of i as 4 big-endian bytes.
fn counted_leaves(n: usize) -> Vec<[u8; 32]> {
    (0..n as u32).map(|i| leaf(&i.to_be_bytes())).collect()
}

// ---- the vectors ----

/// A vector's name and an entry's fields: seq, at, actor, action, target, org.
type EntryCase =
    (&'static str, u64, i64, &'static str, &'static str, &'static str, Option<&'static str>);

const ENTRIES: [EntryCase; 3] = [
    (
        "entry-with-org",
        1,
        1_800_000_000,
        "3f2a9c0e5b7d41e8a6c2f09b1d3e5a7c",
        "license.suspended",
        "01a21f71-a800-73b6-a526-5846d17e8f4b",
        Some("7e595e9019d5123c2696424bac254b29"),
    ),
    ("entry-without-org", 1_000_000, 1_800_086_400, "key:K1", "api_key.revoked", "", None),
    ("entry-cut", 12, 2_020_000_000, "portal", "ledger.cut", "seq:1-10 count:10", None),
];

#[test]
fn entries() {
    for (name, seq, at, actor, action, target, org) in ENTRIES {
        let entry = Entry {
            seq,
            at,
            actor: actor.into(),
            action: action.into(),
            target: target.into(),
            org: org.map(Into::into),
        };
        let mut text = format!(
            "about: the canonical bytes and leaf hash of an entry (FORMAT.md, section 12)\nseq: {seq}\nat: {at}\nactor: {actor}\naction: {action}\ntarget: {target}\n"
        );
        if let Some(org) = org {
            text += &format!("org: {org}\n");
        }
        text += &format!(
            "bytes: {}\nleaf: {}\n",
            hex::encode(entry.bytes()),
            hex::encode(entry.leaf_hash())
        );
        let file = format!("{name}.vector");
        settle(&file, &text);
        // From the document.
        let v = Vector::read(&file);
        let bytes = canonical(
            v.get("seq"),
            v.get("at"),
            v.get("actor"),
            v.get("action"),
            v.get("target"),
            v.opt("org"),
        );
        assert_eq!(hex::encode(&bytes), v.get("bytes"), "{name}");
        assert_eq!(hex::encode(leaf(&bytes)), v.get("leaf"), "{name}");
    }
}

#[test]
fn tree_roots_frontiers_and_proofs() {
    const N: usize = 13;
    let leaves = counted_leaves(N);
    let mut text = format!(
        "about: leaf i is the leaf hash of i as 4 big-endian bytes; roots and frontiers at every size, inclusion and consistency proofs (RFC 9162)\nleaves: {N}\n"
    );
    let mut tree = Tree::new();
    let mut front = Frontier::new();
    text += &format!("root 0: {}\n", hex::encode(tree.root_at(0).unwrap()));
    for (i, l) in leaves.iter().enumerate() {
        tree.push(*l);
        front.push(*l);
        text += &format!(
            "root {}: {}\nfrontier {}: {}\n",
            i + 1,
            hex::encode(front.root()),
            i + 1,
            hexes(front.hashes())
        );
    }
    for (index, size) in [(0, 1), (0, 8), (5, 8), (7, 13), (12, 13), (3, 6)] {
        text += &format!(
            "inclusion {index} {size}: {}\n",
            hexes(&tree.inclusion(index, size).unwrap())
        );
    }
    for (old, new) in [(1, 2), (3, 7), (4, 8), (6, 8), (7, 13), (8, 13), (12, 13)] {
        text +=
            &format!("consistency {old} {new}: {}\n", hexes(&tree.consistency(old, new).unwrap()));
    }
    settle("tree.vector", &text);
    // From the document.
    let v = Vector::read("tree.vector");
    let n: usize = v.get("leaves").parse().unwrap();
    let leaves = counted_leaves(n);
    for (size, root) in v.all("root ") {
        let size: usize = size.parse().unwrap();
        assert_eq!(hex::encode(mth(&leaves[..size])), root, "root {size}");
    }
    for (size, hashes) in v.all("frontier ") {
        let size: usize = size.parse().unwrap();
        assert_eq!(hexes(&frontier(&leaves[..size])), hashes, "frontier {size}");
    }
    for (at, proof) in v.all("inclusion ") {
        let (index, size) = at.split_once(' ').unwrap();
        let (index, size): (usize, usize) = (index.parse().unwrap(), size.parse().unwrap());
        assert_eq!(hexes(&path(index, &leaves[..size])), proof, "inclusion {at}");
    }
    for (at, proof) in v.all("consistency ") {
        let (old, new) = at.split_once(' ').unwrap();
        let (old, new): (usize, usize) = (old.parse().unwrap(), new.parse().unwrap());
        assert_eq!(hexes(&subproof(old, &leaves[..new], true)), proof, "consistency {at}");
    }
}

/// The vendor and portal keys of the vectors: seeds of repeated bytes, for vectors only.
fn keys() -> (SigningKey, SigningKey) {
    (SigningKey::from_seed(&[0x11; 32]), SigningKey::from_seed(&[0x44; 32]))
}

#[test]
fn ledger_delegation_and_checkpoint() {
    let (vendor, portal) = keys();
    let t = |s| UnixTime::from_unix(s).unwrap();
    let claims = DelegationClaims {
        portal_key: portal.public_key().clone(),
        issued_at: t(1_800_000_000),
        not_before: t(1_800_000_000),
        not_after: t(2_115_360_000),
    };
    let armored = delegation::sign_for(delegation::Purpose::Ledger, &claims, &vendor);
    let payload = tessera_core::armor::Envelope::parse(
        tessera_core::armor::Kind::LedgerDelegation,
        armored.as_bytes(),
    )
    .unwrap()
    .payload()
    .to_vec();
    let text = format!(
        "about: a LEDGER DELEGATION: the vendor key (seed 0x11 repeated) lets the portal key (seed 0x44 repeated) sign checkpoints\nvendor-public: {}\nvendor-key-id: {}\nportal-public: {}\npayload: {}\n---\n{armored}",
        vendor.public_key(),
        vendor.key_id(),
        portal.public_key(),
        String::from_utf8(payload).unwrap(),
    );
    settle("ledger-delegation.vector", &text);
    let leaves = counted_leaves(13);
    let origin = ledger::origin_for(&armored);
    let checkpoint = Checkpoint { origin: origin.clone(), size: 13, root: mth(&leaves) };
    let note = checkpoint.sign(&portal);
    let text = format!(
        "about: a checkpoint of the 13-leaf tree of tree.vector, signed by the portal key of ledger-delegation.vector (a C2SP signed note)\norigin: {origin}\nsize: 13\nroot: {}\nnote-key-id: {}\n---\n{note}",
        hex::encode(mth(&leaves)),
        hex::encode(ledger::note_key_id(&origin, portal.public_key())),
    );
    settle("checkpoint.vector", &text);

    // From the document: the delegation's payload and signature (FORMAT.md, sections 1 and
    // 3) ...
    let v = Vector::read("ledger-delegation.vector");
    let vendor_key: PublicKey = v.get("vendor-public").parse().unwrap();
    let id = sha256(&[b"tessera key id v1\0", vendor_key.as_bytes()]);
    assert_eq!(hex::encode_upper(&id[..8]), v.get("vendor-key-id"));
    let lines: Vec<&str> = v.body.lines().collect();
    assert_eq!(lines[0], "-----BEGIN TESSERA LEDGER DELEGATION-----");
    assert_eq!(lines[3], format!("Key-Id: {}", v.get("vendor-key-id")));
    let signature: [u8; 64] =
        STANDARD.decode(lines[4].strip_prefix("Signature: ").unwrap()).unwrap().try_into().unwrap();
    let payload = STANDARD.decode(lines[6..lines.len() - 1].concat()).unwrap();
    assert_eq!(String::from_utf8(payload.clone()).unwrap(), v.get("payload"));
    let mut signed = b"tessera ledger delegation v1\0".to_vec();
    signed.extend(&payload);
    vendor_key.verify(&signed, &signature).expect("the vendor signed it");
    let body: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(body["kind"], "ledger_delegation");
    assert_eq!(body["body"]["portal_key"], v.get("portal-public"));
    // ... and the checkpoint's note.
    let c = Vector::read("checkpoint.vector");
    assert_eq!(c.get("origin"), format!("tessera.ledger/{}", v.get("vendor-key-id")));
    let text = format!(
        "{}\n{}\n{}\n",
        c.get("origin"),
        c.get("size"),
        STANDARD.encode(unhex(c.get("root")))
    );
    assert_eq!(hex::encode(mth(&counted_leaves(13))), c.get("root"));
    let portal_key: PublicKey = v.get("portal-public").parse().unwrap();
    let key_id = &sha256(&[c.get("origin").as_bytes(), &[0x0a, 0x01], portal_key.as_bytes()])[..4];
    assert_eq!(hex::encode(key_id), c.get("note-key-id"));
    let (note_text, signature_line) = c.body.split_once("\n\n").unwrap();
    assert_eq!(format!("{note_text}\n"), text);
    let signature = STANDARD
        .decode(
            signature_line
                .strip_prefix(&format!("\u{2014} {} ", c.get("origin")))
                .unwrap()
                .trim_end(),
        )
        .unwrap();
    assert_eq!(&signature[..4], key_id);
    portal_key.verify(text.as_bytes(), &signature[4..].try_into().unwrap()).expect("signed");
}

#[test]
fn retention_cut() {
    // Ten entries, then the cut entry (11) recording the removal of 1 to 10.
    let entries: Vec<Entry> = (1..=11u64)
        .map(|seq| Entry {
            seq,
            at: 1_800_000_000 + seq as i64,
            actor: if seq == 11 { "portal".into() } else { "3f2a9c0e".into() },
            action: if seq == 11 { "ledger.cut".into() } else { "license.suspended".into() },
            target: if seq == 11 { ledger::cut_target(1, 10) } else { format!("license-{seq}") },
            org: None,
        })
        .collect();
    let mut cut = Frontier::new();
    entries[..10].iter().for_each(|e| cut.push(e.leaf_hash()));
    let mut whole = cut.clone();
    whole.push(entries[10].leaf_hash());
    let mut text = "about: entries 1 to 10 cut at retention: entry i (i <= 10) is actor 3f2a9c0e, action license.suspended, target license-<i>, at 1800000000 + i, no org; entry 11 records the cut; the frontier stands for 1 to 10\n".to_owned();
    text += &format!(
        "cut-target: {}\nfrontier 10: {}\nroot 11: {}\n",
        entries[10].target,
        hexes(cut.hashes()),
        hex::encode(whole.root())
    );
    settle("retention-cut.vector", &text);
    // From the document.
    let v = Vector::read("retention-cut.vector");
    let leaves: Vec<[u8; 32]> = (1..=11u64)
        .map(|seq| {
            let (actor, action, target) = if seq == 11 {
                ("portal", "ledger.cut", v.get("cut-target").to_owned())
            } else {
                ("3f2a9c0e", "license.suspended", format!("license-{seq}"))
            };
            leaf(&canonical(
                &seq.to_string(),
                &(1_800_000_000 + seq).to_string(),
                actor,
                action,
                &target,
                None,
            ))
        })
        .collect();
    assert_eq!(v.get("cut-target"), "seq:1-10 count:10");
    assert_eq!(hexes(&frontier(&leaves[..10])), v.get("frontier 10"));
    // The root from the frontier and the entries after it: right to left.
    let hashes: Vec<[u8; 32]> = v.get("frontier 10").split(' ').map(unhex).collect();
    let mut subtrees = hashes.clone();
    subtrees.push(leaves[10]);
    let root = subtrees
        .iter()
        .rev()
        .skip(1)
        .fold(*subtrees.last().unwrap(), |right, left| node(left, &right));
    assert_eq!(hex::encode(root), v.get("root 11"));
    assert_eq!(root, mth(&leaves));
}

#[test]
fn cosignature() {
    let witness = SigningKey::from_seed(&[0x55; 32]);
    let name = "witness.example/w1";
    let c = Vector::read("checkpoint.vector");
    let (text, _) = c.body.split_once("\n\n").unwrap();
    let text = format!("{text}\n");
    let line = ledger::witness::cosign(name, &witness, &text, 1_900_000_000);
    let key = ledger::witness::CosignerKey::new(name, witness.public_key().clone()).unwrap();
    let out = format!(
        "about: a witness (seed 0x55 repeated) cosigns checkpoint.vector's checkpoint at time 1900000000 (C2SP tlog-cosignature, Ed25519)\nname: {name}\ntime: 1900000000\nverifier-key: {key}\nline: {}\n",
        line.trim_end()
    );
    settle("cosignature.vector", &out);
    // From the document.
    let v = Vector::read("cosignature.vector");
    let vkey = v.get("verifier-key");
    let mut parts = vkey.splitn(3, '+');
    let (vname, vid, vkey) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
    assert_eq!(vname, v.get("name"));
    let typed = STANDARD.decode(vkey).unwrap();
    assert_eq!(typed[0], 0x04);
    let public = PublicKey::from_bytes(&typed[1..].try_into().unwrap()).unwrap();
    let id = &sha256(&[vname.as_bytes(), &[0x0a, 0x04], public.as_bytes()])[..4];
    assert_eq!(hex::encode(id), vid);
    let bytes = STANDARD
        .decode(v.get("line").strip_prefix(&format!("\u{2014} {vname} ")).unwrap())
        .unwrap();
    assert_eq!(&bytes[..4], id);
    assert_eq!(u64::from_be_bytes(bytes[4..12].try_into().unwrap()).to_string(), v.get("time"));
    let message = format!("cosignature/v1\ntime {}\n{text}", v.get("time"));
    public.verify(message.as_bytes(), &bytes[12..].try_into().unwrap()).expect("cosigned");
}
