//! Finding licenses in a real headless Chromium: `portal/tests/browser/find.test.mjs`
//! against the real portal binary, on a desktop and a phone, as staff and as an org-admin.
//! Screenshots land in `target/browser-screenshots/find-*.png`.

use std::time::Duration;

use tessera_core::license::LicenseTerms;
use tessera_core::time::{Clock, SystemClock};
use tessera_testkit::{PortalProcess, Vendor};

use crate::browser::{browser_kit, run_node_tests};
use crate::processes::portal_command;

#[test]
fn licenses_are_found_sorted_paged_and_downloaded_in_chromium_by_each_role() {
    let Some((chromium, project)) = browser_kit() else { return };
    let vendor = Vendor::new();
    let portal = PortalProcess::start(&vendor);
    let password = "tram lantern quietly";
    let (code, _, err) =
        portal_command(&portal.data, &["org", "create", "--name", "Acme Corp"], "");
    assert_eq!(code, 0, "{err}");
    // 110 of Acme Corp (two pages), 20 of Globex, one named by a spreadsheet formula; end
    // dates spread over two months, so that sorting by them means something.
    let now = SystemClock.now();
    for n in 0..130u64 {
        let org = match n {
            0..110 => "Acme Corp",
            110 => "=Globex Labs",
            _ => "Globex Industries",
        };
        let mut terms = LicenseTerms::new(
            org.parse().expect("org"),
            "acme-hub".parse().expect("product"),
            2,
            now.saturating_add(Duration::from_secs(86_400 * (300 + (n * 7) % 60))),
        );
        terms.grace_period = Duration::from_secs(86_400);
        let (_, text) = vendor.sign(terms, now.saturating_sub(Duration::from_secs(86_400)));
        portal.register(&text);
    }
    for (role, email, org) in [
        ("super-admin", "dana@vendor.example", None),
        ("org-admin", "ops@acme.example", Some("Acme Corp")),
    ] {
        let mut args = vec!["user", "create", "--role", role, "--email", email, "--name", "Dana"];
        if let Some(org) = org {
            args.extend(["--org", org]);
        }
        let (code, _, err) = portal_command(&portal.data, &args, &format!("{password}\n"));
        assert_eq!(code, 0, "{err}");
    }
    let screenshots = run_node_tests(
        &project,
        "find.test.mjs",
        &[
            ("PORTAL_URL", portal.url.as_str()),
            ("CHROMIUM", &chromium.to_string_lossy()),
            ("SUPER_EMAIL", "dana@vendor.example"),
            ("ORG_ADMIN_EMAIL", "ops@acme.example"),
            ("PASSWORD", password),
        ],
    );
    for device in ["desktop", "phone"] {
        for shot in ["staff-2-search", "staff-4-sorted", "staff-10-extend", "org-admin-2-own"] {
            let png = screenshots.join(format!("find-{device}-{shot}.png"));
            assert!(std::fs::metadata(&png).is_ok_and(|m| m.len() > 1000), "{}", png.display());
        }
    }
}
