//! A hub application written in Rust gates its start-up and features on the hub's standing
//! (docs/INTEGRATION.md). The vendor's trust set is compiled in; here, for the test suite,
//! it is read from `VENDOR_TRUST_FILE` instead.
//!
//! ```sh
//! cargo run -p tessera --example hub_start -- /var/lib/tessera-hub/status.sock
//! ```

use std::process::ExitCode;

use tessera::{HubOptions, Status, TrustSet};

fn main() -> ExitCode {
    // In a product: `const VENDOR_TRUST: &str = include_str!("vendor.pub");`
    let Some(trust_text) =
        std::env::var_os("VENDOR_TRUST_FILE").and_then(|p| std::fs::read(p).ok())
    else {
        eprintln!("set VENDOR_TRUST_FILE to the vendor's .pub file");
        return ExitCode::from(2);
    };
    let trust = match TrustSet::parse(&trust_text) {
        Ok(trust) => trust,
        Err(e) => {
            eprintln!("the built-in trust set: {e}");
            return ExitCode::from(70);
        }
    };
    let socket =
        std::env::args().nth(1).unwrap_or_else(|| "/var/lib/tessera-hub/status.sock".into());
    let hub = match tessera::hub_status(
        &HubOptions::new(socket).product("acme-hub"),
        &trust,
        tessera::now(),
    ) {
        Ok(hub) => hub,
        Err(e) => {
            // No answer at all: the license agent is not running, or this user may not ask it.
            eprintln!("cannot ask the license agent ({}): {e}", e.code());
            return ExitCode::from(69);
        }
    };
    println!("license {}: {}", hub.status, hub.reason);
    if !hub.status.permits_running() {
        return ExitCode::from(1);
    }
    if hub.status == Status::Grace {
        println!(
            "warning: the license server has not been reached; {} seconds of grace left",
            hub.grace_left_secs.unwrap_or(0)
        );
    }
    if let Some(license) = &hub.license {
        if license.has_feature("sso") {
            println!("single sign-on enabled");
        }
        println!("up to {} runners", license.runner_limit);
    }
    ExitCode::SUCCESS
}
