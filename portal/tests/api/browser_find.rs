//! Finding licenses in a real headless Chromium: `portal/tests/browser/find.test.mjs`
//! against the real portal binary, on a desktop and a phone, as staff and as an org-admin.
//! Screenshots land in `target/browser-screenshots/find-*.png`.

use std::path::Path;
use std::time::Duration;

use tessera_core::license::LicenseTerms;
use tessera_core::time::{Clock, SystemClock};
use tessera_testkit::{PortalProcess, Vendor};

use crate::browser::browser_kit;
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
    let screenshots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/browser-screenshots");
    std::fs::create_dir_all(&screenshots).expect("screenshot directory");
    let output = std::process::Command::new("node")
        .args(["--test", "--test-reporter=spec", "find.test.mjs"])
        .current_dir(&project)
        .env("PORTAL_URL", &portal.url)
        .env("CHROMIUM", &chromium)
        .env("SCREENSHOTS", &screenshots)
        .env("SUPER_EMAIL", "dana@vendor.example")
        .env("ORG_ADMIN_EMAIL", "ops@acme.example")
        .env("PASSWORD", password)
        .output()
        .expect("run node (Node.js 20 or later)");
    assert!(
        output.status.success(),
        "browser tests failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    for device in ["desktop", "phone"] {
        for shot in ["staff-2-search", "staff-4-sorted", "org-admin-2-own"] {
            let png = screenshots.join(format!("find-{device}-{shot}.png"));
            assert!(std::fs::metadata(&png).is_ok_and(|m| m.len() > 1000), "{}", png.display());
        }
    }
}
