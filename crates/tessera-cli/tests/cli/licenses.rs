use crate::helpers::Sandbox;

#[test]
fn issue_then_verify_is_valid_and_prints_id_and_key() {
    let sandbox = Sandbox::new();
    sandbox.keygen();
    let issued = sandbox.issue("acme.license", &[]);
    let id = issued.stdout.lines().find_map(|l| l.strip_prefix("license id:  ")).expect("id line");
    let key =
        issued.stdout.lines().find_map(|l| l.strip_prefix("license key: ")).expect("key line");
    assert_eq!(key.len(), 29);
    let run = sandbox.run(&["verify", "--trust", "keys/signing.pub", "acme.license"]).ok();
    assert!(run.stdout.starts_with("status: valid\n"), "{}", run.stdout);
    assert!(run.stdout.contains(id) && run.stdout.contains("Acme Corp"));
    // The file holds the license key: only its owner reads it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(sandbox.path("acme.license")).expect("meta").permissions();
        assert_eq!(mode.mode() & 0o777, 0o600);
    }
}

#[test]
fn issue_json_is_one_object_with_every_claim() {
    let sandbox = Sandbox::new();
    sandbox.keygen();
    let run = sandbox.issue(
        "a.license",
        &[
            "--json",
            "--feature",
            "sso",
            "--feature",
            "audit,reports",
            "--not-before",
            "2026-01-01",
            "--terminates",
            "2031-06-30",
            "--grace-days",
            "3",
            "--ping-interval",
            "30m",
            "--portal-url",
            "https://portal.example.com",
        ],
    );
    let json = run.json();
    assert_eq!(json["file"], "a.license");
    assert_eq!(json["runners"], 5);
    assert_eq!(json["features"], serde_json::json!(["audit", "reports", "sso"]));
    assert_eq!(json["not_before"], "2026-01-01T00:00:00Z");
    assert_eq!(json["expires_at"], "2030-12-31T23:59:59Z");
    assert_eq!(json["terminates_at"], "2031-06-30T23:59:59Z");
    assert_eq!(json["grace_period_secs"], 3 * 86_400);
    assert_eq!(json["ping_interval_secs"], 1800);
    assert!(json["id"].as_str().is_some_and(|id| id.len() == 36));
}

#[test]
fn verify_exit_codes_follow_the_status() {
    let sandbox = Sandbox::new();
    sandbox.keygen();
    sandbox.issue("a.license", &["--not-before", "2026-01-01", "--terminates", "2031-06-30"]);
    let trust = ["verify", "--trust", "keys/signing.pub", "a.license"];
    let at = |when: &str| {
        let mut args = trust.to_vec();
        args.extend(["--at", when, "--json"]);
        sandbox.run(&args)
    };
    let cases = [
        ("2027-01-01", 0, "valid"),
        ("2025-12-31", 12, "not_yet_valid"),
        ("2031-01-01", 10, "expired"),
        ("2031-07-01", 11, "terminated"),
    ];
    for (when, code, status) in cases {
        let run = at(when);
        assert_eq!(run.code, code, "{when}: {}", run.stdout);
        assert_eq!(run.json()["status"], status);
    }

    let mut wrong_product = trust.to_vec();
    wrong_product.extend(["--product", "other"]);
    assert_eq!(sandbox.run(&wrong_product).code, 24);

    // Another vendor's key: unknown_key.
    sandbox.run(&["keygen", "--out-dir", "stranger", "--no-passphrase"]).ok();
    let run = sandbox.run(&["verify", "--trust", "stranger/signing.pub", "a.license", "--json"]);
    assert_eq!((run.code, run.json()["status"].as_str()), (14, Some("unknown_key")));
    assert!(run.json()["claims"].is_null(), "claims are never shown unverified by verify");

    // One byte of the payload changed: bad_signature.
    let text = sandbox.read("a.license");
    let payload_at = text.find("\n\n").expect("blank line") + 10;
    let mut bytes = text.into_bytes();
    bytes[payload_at] = if bytes[payload_at] == b'A' { b'B' } else { b'A' };
    sandbox.write("tampered.license", &bytes);
    let run = sandbox.run(&["verify", "--trust", "keys/signing.pub", "tampered.license", "--json"]);
    assert_eq!((run.code, run.json()["status"].as_str()), (13, Some("bad_signature")));
    let run = sandbox.run(&["verify", "--trust", "keys/signing.pub", "tampered.license"]);
    assert!(run.stdout.starts_with("status: bad_signature ("), "{}", run.stdout);
}

#[test]
fn several_trust_files_and_distrust_combine() {
    let sandbox = Sandbox::new();
    sandbox.keygen();
    sandbox.issue("a.license", &[]);
    sandbox.run(&["keygen", "--out-dir", "new", "--no-passphrase"]).ok();
    let verify = |trusts: &[&str]| {
        let mut args = vec!["verify", "a.license", "--json"];
        for t in trusts {
            args.extend(["--trust", t]);
        }
        sandbox.run(&args).json()["status"].as_str().map(str::to_owned)
    };
    assert_eq!(verify(&["new/signing.pub", "keys/signing.pub"]).as_deref(), Some("valid"));
    let public = sandbox.read("keys/signing.pub");
    let key_line = public.lines().find(|l| l.starts_with("tessera-pub-v1:")).expect("key line");
    sandbox.write("distrust.txt", format!("{key_line} distrusted\n"));
    assert_eq!(verify(&["keys/signing.pub", "distrust.txt"]).as_deref(), Some("unknown_key"));
}

#[test]
fn inspect_shows_claims_marked_unverified() {
    let sandbox = Sandbox::new();
    sandbox.keygen();
    sandbox.issue("a.license", &[]);
    let run = sandbox.run(&["inspect", "a.license"]).ok();
    assert!(run.stdout.starts_with("UNVERIFIED"), "{}", run.stdout);
    assert!(run.stdout.contains("Acme Corp"));
    let run = sandbox.run(&["inspect", "a.license", "--json"]).ok();
    assert_eq!(run.json()["verified"], false);
    assert_eq!(run.json()["claims"]["org"], "Acme Corp");
}

#[test]
fn completions_man_pages_and_the_demo_work() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&["completions", "bash"]).ok();
    assert!(run.stdout.contains("_tessera") && run.stdout.contains("keygen"));
    sandbox.run(&["completions", "zsh"]).ok();
    sandbox.run(&["man", "--out-dir", "man"]).ok();
    for page in ["tessera.1", "tessera-issue.1", "tessera-verify.1", "tessera-keygen.1"] {
        assert!(sandbox.read(&format!("man/{page}")).contains(".TH"), "{page}");
    }
    let run = sandbox.run(&["demo"]).ok();
    assert!(run.stdout.contains("verify today: valid"), "{}", run.stdout);
    assert!(run.stdout.contains("Temporary files removed"));
}
