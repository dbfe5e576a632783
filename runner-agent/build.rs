//! The runner's `check` is a short process started before every job: at each start a
//! position-independent executable spends ~0.15 ms relocating (about 10,000 relative
//! relocations, some 45 copy-on-write page faults), which is most of the difference from
//! `minisign -Vm`. Link the `tessera-runner` binary as a fixed-address executable on
//! Linux/glibc. Shared libraries, heap and stack stay randomized; the binary's own image
//! does not (docs/RUNNER.md, "Start-up cost").

use std::env;

fn main() {
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let libc = env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && libc == "gnu" {
        println!("cargo:rustc-link-arg-bin=tessera-runner=-no-pie");
    }
}
