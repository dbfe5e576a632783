//! A runner's gate in the vendor's runner code (docs/INTEGRATION.md): before each job, ask
//! whether this runner may run. Prints one line per check (`valid: reason`), so that the test
//! suite sees the first check of a fresh process as well as later ones; exits 0 when the last
//! check permits running, 1 when it does not, 69 when the check could not be made.
//!
//! ```sh
//! cargo run -p tessera --example runner_gate -- /var/lib/acme-runner/tessera [CHECKS]
//! ```

use std::process::ExitCode;

use tessera::RunnerOptions;

fn main() -> ExitCode {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "/var/lib/tessera-runner".into());
    let checks: u32 = std::env::args().nth(2).and_then(|n| n.parse().ok()).unwrap_or(1);
    // The keystore is the one the runner was installed with (recorded in its state directory).
    let options = RunnerOptions::new(dir);
    let mut permitted = false;
    for _ in 0..checks {
        match tessera::runner_check(&options, tessera::now()) {
            Ok(check) => {
                println!("{}: {}", check.status, check.reason);
                permitted = check.status.permits_running();
            }
            Err(e) => {
                println!("error {}: {e}", e.code());
                return ExitCode::from(69);
            }
        }
    }
    if permitted { ExitCode::SUCCESS } else { ExitCode::from(1) }
}
