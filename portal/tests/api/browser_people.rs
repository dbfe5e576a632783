//! The people, API key and audit pages in a real headless Chromium:
//! `portal/tests/browser/people.test.mjs` against the real portal binary, as the vendor's
//! staff and a customer's org-admin, on a desktop and a phone screen. Screenshots land in
//! `target/browser-screenshots/people-*.png` for a person to look at.

use tessera_testkit::{PortalProcess, Vendor};

use crate::browser::{browser_kit, run_node_tests};
use crate::processes::portal_command;

/// Makes a person at the portal's command line.
fn person(portal: &PortalProcess, role: &str, email: &str, name: &str, org: Option<&str>) {
    let mut args = vec!["user", "create", "--role", role, "--email", email, "--name", name];
    if let Some(org) = org {
        args.extend(["--org", org]);
    }
    let (code, _, err) = portal_command(&portal.data, &args, &format!("{PASSWORD}\n"));
    assert_eq!(code, 0, "{err}");
}

const PASSWORD: &str = "tram lantern quietly";

#[test]
fn the_people_keys_and_audit_pages_work_in_chromium_for_each_role_and_pass_axe() {
    let Some((chromium, project)) = browser_kit() else { return };
    let vendor = Vendor::new();
    let portal = PortalProcess::start(&vendor);
    let (claims, text) = vendor.license(2, None);
    portal.register(&text);
    for org in ["Acme Corp", "Globex"] {
        let (code, _, err) = portal_command(&portal.data, &["org", "create", "--name", org], "");
        assert_eq!(code, 0, "{err}");
    }
    person(&portal, "super-admin", "dana@vendor.example", "Dana Smith", None);
    person(&portal, "org-admin", "kim@acme.example", "Kim Lee", Some("Acme Corp"));
    person(&portal, "org-admin", "zed@globex.example", "Zed Park", Some("Globex"));
    let screenshots = run_node_tests(
        &project,
        "people.test.mjs",
        &[
            ("PORTAL_URL", portal.url.as_str()),
            ("CHROMIUM", &chromium.to_string_lossy()),
            ("PASSWORD", PASSWORD),
            ("LICENSE_ID", &claims.id.to_string()),
        ],
    );
    for role in ["super-admin", "org-admin"] {
        for screen in ["desktop", "phone"] {
            for page in ["people", "api-keys", "confirm-revoke", "audit"] {
                let png = screenshots.join(format!("people-{role}-{screen}-{page}.png"));
                assert!(std::fs::metadata(&png).is_ok_and(|m| m.len() > 1000), "{}", png.display());
            }
        }
    }
    for shot in [
        "super-admin-desktop-person",
        "super-admin-desktop-confirm-remove",
        "org-admin-phone-conflict",
        "not-found",
    ] {
        let png = screenshots.join(format!("people-{shot}.png"));
        assert!(std::fs::metadata(&png).is_ok_and(|m| m.len() > 1000), "{}", png.display());
    }
}
