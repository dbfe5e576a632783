//! The fuzz targets' bodies over every stored seed, on the stable toolchain: what CI runs of
//! the fuzzing (docs/FUZZING.md). The bodies are fuzz/src/lib.rs itself, included here, so
//! what is replayed is what `cargo fuzz` runs. A target in fuzz/fuzz_targets/ without a body,
//! without a row in `CORPORA` or without a stored seed fails here.

#[path = "../../fuzz/src/lib.rs"]
mod targets;

use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

/// Where each target's stored seeds are, from the workspace root.
const CORPORA: [(&str, &[&str]); 4] = [
    ("license", &["crates/tessera-core/tests/vectors/license"]),
    ("key_files", &["crates/tessera-core/tests/vectors/trust", "fuzz/seeds/key_files"]),
    ("signed", &["fuzz/seeds/signed"]),
    ("bodies", &["fuzz/seeds/bodies"]),
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").to_path_buf()
}

/// The files of `dir`, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

/// A stored input as the fuzzer gets it: a test vector without its header (up to the `---`
/// line), any other file as it is.
fn input(path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if path.extension().is_some_and(|ext| ext == "vector") {
        let end =
            bytes.windows(4).position(|w| w == b"---\n").expect("a vector's header ends with ---");
        return bytes[end + 4..].to_vec();
    }
    bytes
}

/// Runs `body` over each file and names the ones it panicked on (the panic itself is printed).
fn replay(name: &str, body: targets::Body, files: &[PathBuf]) -> Vec<String> {
    let mut panicked = Vec::new();
    for path in files {
        let data = input(path);
        if catch_unwind(AssertUnwindSafe(|| body(&data))).is_err() {
            panicked.push(format!("{name} on {}", path.display()));
        }
    }
    panicked
}

#[test]
fn every_fuzz_target_has_a_body_and_stored_seeds() {
    let dir = root().join("fuzz/fuzz_targets");
    let in_files: BTreeSet<String> = files(&dir)
        .iter()
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .map(|path| path.file_stem().expect("a name").to_string_lossy().into_owned())
        .collect();
    let with_body: BTreeSet<String> =
        targets::TARGETS.iter().map(|(name, _)| name.to_string()).collect();
    let with_corpus: BTreeSet<String> = CORPORA.iter().map(|(name, _)| name.to_string()).collect();
    assert_eq!(in_files, with_body, "fuzz/fuzz_targets/ against TARGETS in fuzz/src/lib.rs");
    assert_eq!(in_files, with_corpus, "fuzz/fuzz_targets/ against CORPORA here");
    for name in &in_files {
        // The target runs the body replayed here, not a copy of it.
        let source = std::fs::read_to_string(dir.join(format!("{name}.rs"))).expect("the target");
        assert!(source.contains(&format!("tessera_fuzz::{name}(data)")), "fuzz_targets/{name}.rs");
    }
    for (name, dirs) in CORPORA {
        for corpus in dirs {
            assert!(!files(&root().join(corpus)).is_empty(), "{name}: no stored seed in {corpus}");
        }
    }
}

#[test]
fn every_fuzz_target_runs_over_its_stored_seeds_without_a_panic() {
    let mut panicked = Vec::new();
    let mut replayed = 0;
    for (name, body) in targets::TARGETS {
        let (_, dirs) = CORPORA.iter().find(|(corpus, _)| *corpus == name).expect("a corpus");
        for corpus in *dirs {
            let files = files(&root().join(corpus));
            replayed += files.len();
            panicked.extend(replay(name, body, &files));
        }
    }
    assert!(panicked.is_empty(), "panicked: {panicked:#?}");
    assert!(replayed > 0, "no seed replayed");
}

#[test]
fn the_seed_writer_writes_the_stored_seeds_and_they_replay() {
    // The stored seeds were written by `write_seeds`; written again now (under today's
    // formats), the same files come out and pass too.
    let fresh = tempfile::tempdir().expect("tempdir");
    targets::write_seeds(fresh.path()).expect("seeds written");
    let names = |dir: &Path| -> Vec<String> {
        files(dir)
            .iter()
            .map(|path| path.file_name().expect("a name").to_string_lossy().into_owned())
            .collect()
    };
    let mut panicked = Vec::new();
    for (name, body) in targets::TARGETS {
        let written = fresh.path().join(name);
        if !written.exists() {
            continue;
        }
        assert_eq!(
            names(&written),
            names(&root().join("fuzz/seeds").join(name)),
            "{name}: fuzz/seeds/{name}"
        );
        panicked.extend(replay(name, body, &files(&written)));
    }
    assert!(panicked.is_empty(), "panicked: {panicked:#?}");
}
