//! The license parser and verifier on arbitrary bytes (`tessera_fuzz::license`).
//! The body is in `src/lib.rs`, where the stable test suite replays the stored seeds too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tessera_fuzz::license(data));
