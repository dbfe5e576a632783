//! Every other signed kind on arbitrary bytes (`tessera_fuzz::signed`).
//! The body is in `src/lib.rs`, where the stable test suite replays the stored seeds too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tessera_fuzz::signed(data));
