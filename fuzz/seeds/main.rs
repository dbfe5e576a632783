//! Writes seed inputs for the `key_files`, `signed` and `bodies` targets, signed with the keys
//! the targets trust, so fuzzing starts past the signature checks. The committed seeds in
//! `fuzz/seeds/TARGET/` were written by it:
//! `cargo run --manifest-path fuzz/Cargo.toml --bin seeds -- fuzz/seeds`.

use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::args_os().nth(1).expect("usage: seeds OUTPUT_DIRECTORY"));
    tessera_fuzz::write_seeds(&out).expect("seeds written");
    println!("seeds written to {}", out.display());
}
