//! The JSON bodies that arrive over HTTP and a runner's cache file (`tessera_fuzz::bodies`).
//! The body is in `src/lib.rs`, where the stable test suite replays the stored seeds too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tessera_fuzz::bodies(data));
