//! The vendor's confirmation before freeing a license's countersigned runner places, in a
//! real headless Chromium: `portal/tests/browser/places.test.mjs` against the real portal
//! binary, on a desktop and a phone. Screenshots land in
//! `target/browser-screenshots/places-*.png`.

use std::time::Duration;

use tessera_core::license::LicenseTerms;
use tessera_core::time::{Clock, SystemClock};
use tessera_testkit::{PortalProcess, Vendor};

use crate::browser::{browser_kit, run_node_tests};
use crate::processes::portal_command;

/// The places a site's runners hold, as the portal's countersigning leaves them (opaque ids).
const PLACES: [&str; 3] = ["3F2A9C41D07B5E18", "8C01E6B2F94A7D35", "D4E7A0193BC6F852"];

#[test]
fn the_runner_places_confirmation_works_in_chromium_on_a_desktop_and_a_phone() {
    let Some((chromium, project)) = browser_kit() else { return };
    let vendor = Vendor::new();
    let portal = PortalProcess::start(&vendor);
    let now = SystemClock.now();
    let mut terms = LicenseTerms::new(
        "Acme Corp".parse().expect("org"),
        "acme-hub".parse().expect("product"),
        3,
        now.saturating_add(Duration::from_secs(365 * 86_400)),
    );
    terms.runner_countersign = true;
    let (claims, text) = vendor.sign(terms, now.saturating_sub(Duration::from_secs(86_400)));
    portal.register(&text);
    // Three runners countersigned (the places a hub's pings would have left), each counted
    // until the grace of its last receipt ends.
    let until = now.as_unix() + 6 * 86_400;
    let connection =
        rusqlite::Connection::open(portal.data.join("portal.db")).expect("the portal's database");
    connection.busy_timeout(Duration::from_secs(10)).expect("busy timeout");
    for (n, place) in PLACES.iter().enumerate() {
        connection
            .execute(
                "INSERT INTO countersigned_runners (license_id, runner_place, until) \
                 VALUES (?1, ?2, ?3)",
                rusqlite::params![claims.id.to_string(), place, until - 3600 * n as i64],
            )
            .expect("a countersigned place");
    }
    drop(connection);
    let password = "tram lantern quietly";
    let args = [
        "user",
        "create",
        "--role",
        "super-admin",
        "--email",
        "dana@vendor.example",
        "--name",
        "Dana",
    ];
    let (code, _, err) = portal_command(&portal.data, &args, &format!("{password}\n"));
    assert_eq!(code, 0, "{err}");
    let screenshots = run_node_tests(
        &project,
        "places.test.mjs",
        &[
            ("PORTAL_URL", portal.url.as_str()),
            ("CHROMIUM", &chromium.to_string_lossy()),
            ("SUPER_EMAIL", "dana@vendor.example"),
            ("PASSWORD", password),
            ("LICENSE_ID", &claims.id.to_string()),
            ("PLACES", &PLACES.join(",")),
        ],
    );
    for device in ["desktop", "phone"] {
        for shot in ["1-license", "2-confirm", "3-freed"] {
            let png = screenshots.join(format!("places-{device}-{shot}.png"));
            assert!(std::fs::metadata(&png).is_ok_and(|m| m.len() > 1000), "{}", png.display());
        }
    }
}
