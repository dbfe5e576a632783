//! The shared test kit: fixtures and process harnesses that every Tessera test crate uses
//! (as a dev-dependency), so that none writes its own copy.
//!
//! - [`process`]: the real binaries of the workspace, run quietly, with what they said;
//!   clock travel through libfaketime; background daemons.
//! - [`vendor`]: a vendor with a signing key, its trust file, licenses and delegations.
//! - [`portal`]: a real `tessera-portal` process with a receipt key, a delegation and an
//!   admin API key, that can be stopped and started again on the same port.
//! - [`postgres`]: a fresh PostgreSQL database per test, dropped afterwards.
//! - [`scene`]: a licensed site (portal, hub agents, a runner) for the in-process checks.
//! - [`clock`]: a clock the test sets.
//! - [`docs`]: a doc that shows an example file shows it verbatim.
//! - [`session`]: re-running a test inside a session of a real OS keystore.
//! - [`slow`]: slow and idle clients, for the servers' connection limits.
//! - [`tlog_witness`]: a C2SP transparency log witness, for the portal's audit ledger.
//! - [`user`]: a fresh user for one test (as root).
//!
//! A test that needs a tool that is missing says so loudly and, under CI, fails.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

pub mod clock;
pub mod docs;
pub mod portal;
pub mod postgres;
pub mod process;
pub mod scene;
pub mod session;
pub mod slow;
pub mod tlog_witness;
pub mod user;
pub mod vendor;

pub use clock::TestClock;
pub use docs::assert_doc_shows;
pub use portal::{PortalOptions, PortalProcess};
pub use postgres::{PgDatabase, postgres_url};
pub use process::{Daemon, Ran, at, command, eventually, have, run, workspace_binary};
pub use scene::Scene;
pub use session::{Keystore, in_keystore_session};
pub use tlog_witness::TestWitness;
pub use user::FreshUser;
pub use vendor::Vendor;

/// An HTTP client builder (rustls needs its crypto provider picked first).
pub fn http_client() -> reqwest::ClientBuilder {
    install_crypto();
    reqwest::Client::builder()
}

/// Picks rustls's ring provider for this process (harmless when already picked).
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The raw host components of a simulated hub machine named `seed`: the same seed gives the
/// same host.
pub fn host_values(seed: &str) -> Vec<(&'static str, String)> {
    vec![
        ("machine_id", format!("{seed}-machine")),
        ("hostname", format!("{seed}-host")),
        ("cpu_model", "Test CPU x2".to_owned()),
        ("mac_addresses", format!("{seed}:00:00:00:00:01")),
        ("root_disk", format!("{seed}-disk")),
    ]
}

/// The fingerprint secret of the simulated hub machine named `seed`: the same machine keeps
/// it whatever its components do.
pub fn host_secret(seed: &str) -> [u8; 32] {
    let mut secret = [0x5au8; 32];
    for (i, byte) in seed.bytes().enumerate() {
        secret[i % 32] = secret[i % 32].rotate_left(3) ^ byte;
    }
    secret
}

/// `N` random bytes.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    tessera_core::keys::fill_random(&mut bytes).expect("random");
    bytes
}
