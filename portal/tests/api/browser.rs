//! The web pages in a real headless Chromium: `portal/tests/browser/ui.test.mjs` (Node's test
//! runner, playwright-core, axe-core) against the real portal binary. Screenshots land in
//! `target/browser-screenshots/` for a person to look at.

use std::path::{Path, PathBuf};

use tessera_testkit::{PortalProcess, Vendor};

use crate::processes::portal_command;

/// Chromium and the test project's packages, or None — said loudly, and a failure under CI
/// (`.ci/run` installs both).
pub(crate) fn browser_kit() -> Option<(PathBuf, PathBuf)> {
    let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let chromium = std::env::var_os("TESSERA_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    let packages = project.join("node_modules/playwright-core");
    if chromium.exists() && packages.exists() {
        return Some((chromium, project));
    }
    let message = format!(
        "browser tests need Chromium at {} (apt-get install chromium) and the test packages \
         (cd {} && npm ci)",
        chromium.display(),
        project.display()
    );
    assert!(std::env::var_os("CI").is_none(), "{message}");
    eprintln!("\n!!! NOT RUN: {message}\n");
    None
}

/// Runs the browser test file `file` of `project` with Node's test runner, `env` set and
/// `SCREENSHOTS` pointing at `target/browser-screenshots/`, which it answers; any failure
/// fails the calling test with Node's output.
pub(crate) fn run_node_tests(project: &Path, file: &str, env: &[(&str, &str)]) -> PathBuf {
    let screenshots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/browser-screenshots");
    std::fs::create_dir_all(&screenshots).expect("screenshot directory");
    let output = std::process::Command::new("node")
        .args(["--test", "--test-reporter=spec", file])
        .current_dir(project)
        .envs(env.iter().copied())
        .env("SCREENSHOTS", &screenshots)
        .output()
        .expect("run node (Node.js 20 or later)");
    assert!(
        output.status.success(),
        "browser tests failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    screenshots
}

#[test]
fn the_pages_work_in_chromium_for_staff_and_customers_and_pass_axe() {
    let Some((chromium, project)) = browser_kit() else { return };
    let vendor = Vendor::new();
    let portal = PortalProcess::start(&vendor);
    let (claims, text) = vendor.license(2, None);
    portal.register(&text);
    let password = "tram lantern quietly";
    let (code, _, err) =
        portal_command(&portal.data, &["org", "create", "--name", "Acme Corp"], "");
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = portal_command(
        &portal.data,
        &[
            "user",
            "create",
            "--role",
            "super-admin",
            "--email",
            "dana@vendor.example",
            "--name",
            "Dana Smith",
        ],
        &format!("{password}\n"),
    );
    assert_eq!(code, 0, "{err}");
    let upload = portal.data.join("upload.license");
    std::fs::write(&upload, vendor.license(3, None).1).expect("a license file to upload");
    let screenshots = run_node_tests(
        &project,
        "ui.test.mjs",
        &[
            ("PORTAL_URL", portal.url.as_str()),
            ("CHROMIUM", &chromium.to_string_lossy()),
            ("SUPER_EMAIL", "dana@vendor.example"),
            ("UPLOAD_FILE", &upload.to_string_lossy()),
            ("PASSWORD", password),
            ("LICENSE_ID", &claims.id.to_string()),
        ],
    );
    for shot in ["01-sign-in", "05-license", "08-registered-by-upload", "13-customer-license"] {
        let png = screenshots.join(format!("{shot}.png"));
        assert!(std::fs::metadata(&png).is_ok_and(|m| m.len() > 1000), "{}", png.display());
    }
}
