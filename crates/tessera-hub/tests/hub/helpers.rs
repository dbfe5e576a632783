//! The hub's own fixtures over the shared test kit: a vendor with a license registered on a
//! real `tessera-portal` process, and hubs (the library) on simulated hosts with an
//! injected clock.

use std::path::PathBuf;
use std::sync::Arc;

use tessera_core::fingerprint::HostSecret;
use tessera_core::license::Claims;
use tessera_hub::agent::Hub;
use tessera_hub::host::HostComponents;
use tessera_hub::state::StateDir;
pub use tessera_testkit::{PortalOptions, TestClock, Vendor};

/// A portal process whose per-license ping limit is lifted (some tests ping one license back
/// to back) and that lets a hub re-activate at once (some tests do that more than once a
/// day; the limit itself is shown by the portal's and the end-to-end tests).
pub fn portal(vendor: &Vendor) -> tessera_testkit::PortalProcess {
    let options = PortalOptions {
        config: Some("pings_per_minute = 1000000\nrebind_every_secs = 0\n".to_owned()),
        ..PortalOptions::default()
    };
    tessera_testkit::PortalProcess::start_with(vendor, options)
}

/// An HTTP client.
pub fn http() -> reqwest::Client {
    tessera_testkit::http_client().build().expect("client")
}

/// A vendor, a portal process and a license for two runners registered on it.
pub struct Registered {
    pub vendor: Vendor,
    pub portal: tessera_testkit::PortalProcess,
    pub claims: Claims,
    pub license: String,
}

impl Registered {
    pub fn new() -> Self {
        let vendor = Vendor::new();
        let portal = portal(&vendor);
        let (claims, license) = vendor.license(2, Some(&portal.url));
        portal.register(&license);
        Registered { vendor, portal, claims, license }
    }

    /// A hub on host `seed`, activated with the license.
    pub async fn activated_hub(&self, seed: &str) -> TestHub {
        let hub = TestHub::new(host(seed));
        hub.hub
            .activate(self.license.as_bytes(), self.vendor.trust_text().as_bytes(), None)
            .await
            .expect("activate");
        hub
    }
}

/// A simulated host: the test kit's fixed raw components for `seed`.
pub fn host(seed: &str) -> HostComponents {
    let values = tessera_testkit::host_values(seed);
    let secret = HostSecret::from_bytes(tessera_testkit::host_secret(seed));
    HostComponents::from_values(values.iter().map(|(name, value)| (*name, value.as_str())), secret)
}

/// A hub on `host` with its own state directory.
pub struct TestHub {
    pub hub: Arc<Hub>,
    pub clock: Arc<TestClock>,
    pub dir: tempfile::TempDir,
}

impl TestHub {
    pub fn new(host: HostComponents) -> Self {
        let dir = tempfile::tempdir().expect("state dir");
        let clock = TestClock::now_real();
        let state = StateDir::open(&dir.path().join("state")).expect("open state");
        TestHub { hub: Arc::new(Hub::new(state, host, clock.clone())), clock, dir }
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }
}
