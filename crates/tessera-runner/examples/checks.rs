//! The runner code of a busy product: `Runner::check` before every job, many times, in one
//! process. Prints one line per status seen (`valid 50000`), then each reason that was not
//! `valid` or `grace` once. The test suite runs two of these beside a stream of refreshes
//! (crates/tessera-runner/tests/runner/concurrency.rs).
//!
//! ```sh
//! cargo run -p tessera-runner --example checks -- /var/lib/tessera-runner keyutils 1000
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use tessera_core::time::SystemClock;
use tessera_runner::keystore::{Backend, OsKeystore};
use tessera_runner::runner::Runner;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, keystore, count] = args.as_slice() else {
        eprintln!("usage: checks STATE_DIR KEYSTORE COUNT");
        return ExitCode::from(2);
    };
    let (Ok(backend), Ok(count)) = (keystore.parse::<Backend>(), count.parse::<u64>()) else {
        eprintln!("usage: checks STATE_DIR KEYSTORE COUNT");
        return ExitCode::from(2);
    };
    let dir = Path::new(dir);
    let keystore = match OsKeystore::open(backend, &Runner::account(dir)) {
        Ok(keystore) => keystore,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(6);
        }
    };
    let runner = Runner::new(dir, Arc::new(keystore), Arc::new(SystemClock));
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    let mut reasons: BTreeMap<String, String> = BTreeMap::new();
    for _ in 0..count {
        let (word, reason) = match runner.check() {
            Ok(decision) => (decision.status.to_string(), decision.reason),
            Err(e) => ("error".to_owned(), e.to_string()),
        };
        *seen.entry(word.clone()).or_default() += 1;
        if word != "valid" && word != "grace" {
            reasons.entry(word).or_insert(reason);
        }
    }
    for (word, n) in &seen {
        println!("{word} {n}");
    }
    for (word, reason) in &reasons {
        println!("reason {word}: {reason}");
    }
    ExitCode::SUCCESS
}
