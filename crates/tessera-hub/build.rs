//! Compiles a vendor trust set into the hub when `TESSERA_HUB_TRUST_FILE` names one, so a
//! vendor can ship a hub that needs no `--trust`.

use std::path::PathBuf;
use std::{env, fs};

fn main() {
    println!("cargo:rerun-if-env-changed=TESSERA_HUB_TRUST_FILE");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("builtin_trust.pub");
    let text = match env::var_os("TESSERA_HUB_TRUST_FILE") {
        Some(path) => {
            println!("cargo:rerun-if-changed={}", PathBuf::from(&path).display());
            fs::read_to_string(&path)
                .expect("TESSERA_HUB_TRUST_FILE must name a readable trust file")
        }
        None => String::new(),
    };
    fs::write(out, text).expect("write the built-in trust set");
}
