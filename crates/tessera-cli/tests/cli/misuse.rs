//! Every mistake a user can make: one clear line, a documented code, no panic, nothing lost.

use crate::helpers::{Sandbox, assert_no_panic};

fn sandbox_with_license() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.keygen();
    sandbox.issue("a.license", &[]);
    sandbox
}

#[test]
fn bad_license_files_are_malformed_with_code_15() {
    let sandbox = sandbox_with_license();
    let text = sandbox.read("a.license");
    sandbox.write("truncated.license", &text[..text.len() / 2]);
    sandbox.write("binary.license", [0u8, 159, 146, 150, 255, 0, 1]);
    sandbox.write("huge.license", vec![b'A'; 1 << 20]);
    sandbox.write("empty.license", "");
    for (file, says) in [
        ("truncated.license", "END"),
        ("binary.license", "not ASCII"),
        ("huge.license", "limit"),
        ("empty.license", "empty"),
        ("keys/signing.pub", "BEGIN TESSERA LICENSE"),
        ("keys/signing.key", "BEGIN TESSERA LICENSE"),
    ] {
        let run = sandbox.run(&["verify", "--trust", "keys/signing.pub", file, "--json"]);
        assert_eq!(run.code, 15, "{file}: {}", run.stdout);
        assert_eq!(run.json()["status"], "malformed");
        assert!(
            run.json()["problem"].as_str().is_some_and(|p| p.contains(says)),
            "{file}: {}",
            run.stdout
        );
        let _ = assert_no_panic(run);
        sandbox.run(&["inspect", file]).fails(15, says);
    }
}

#[test]
fn missing_and_unreadable_files_exit_3() {
    let sandbox = sandbox_with_license();
    sandbox
        .run(&["verify", "--trust", "keys/signing.pub", "nope.license"])
        .fails(3, "nope.license");
    sandbox.run(&["verify", "--trust", "nope.pub", "a.license"]).fails(3, "nope.pub");
    sandbox.run(&["verify", "--trust", "keys/signing.pub", "keys"]).fails(3, "keys");
    sandbox.run(&["inspect", "nope.license"]).fails(3, "nope.license");
    let issue = |key: &str| sandbox.run(&Sandbox::minimal_issue(key, "b.license"));
    issue("nope.key").fails(3, "nope.key");
}

#[test]
fn wrong_kinds_of_key_and_trust_files_are_named() {
    let sandbox = sandbox_with_license();
    let issue = |key: &str| sandbox.run(&Sandbox::minimal_issue(key, "b.license"));
    issue("keys/signing.pub").fails(4, "public key");
    issue("a.license").fails(4, "line 1");
    sandbox.write("junk.key", [0xffu8, 0xfe, 0x00]);
    issue("junk.key").fails(4, "not UTF-8");
    assert!(!sandbox.exists("b.license"));

    sandbox.run(&["verify", "--trust", "keys/signing.key", "a.license"]).fails(5, "secret key");
    sandbox.run(&["verify", "--trust", "a.license", "a.license"]).fails(5, "line 1");
    sandbox.write("huge.pub", vec![b'#'; 1 << 20]);
    sandbox.run(&["verify", "--trust", "huge.pub", "a.license"]).fails(3, "larger than");
}

#[test]
fn bad_terms_are_refused_before_anything_is_written() {
    let sandbox = sandbox_with_license();
    let issue_to = |out: &str, extra: &[&str]| {
        let mut args = vec![
            "issue",
            "--key",
            "keys/signing.key",
            "--org",
            "A",
            "--product",
            "p",
            "--runners",
            "1",
            "--out",
            out,
        ];
        args.extend_from_slice(extra);
        sandbox.run(&args)
    };
    let issue = |extra: &[&str]| issue_to("b.license", extra);
    issue(&["--expires", "31/12/2030"]).fails(5, "expires");
    issue(&["--expires", "2030-02-30"]).fails(5, "expires");
    issue(&["--expires", "2030-01-01", "--not-before", "2031-01-01"]).fails(5, "not_before");
    issue(&["--expires", "2030-01-01", "--terminates", "2029-01-01"]).fails(5, "terminates");
    issue(&["--expires", "2030-01-01", "--ping-interval", "1s"]).fails(5, "ping_interval");
    issue(&["--expires", "2030-01-01", "--portal-url", "ftp://x"]).fails(5, "portal_url");
    issue(&["--expires", "2030-01-01", "--feature", "Bad Name"]).fails(5, "features");
    assert!(!sandbox.exists("b.license"));
    // An existing output file is kept unless --force.
    issue_to("a.license", &["--expires", "2030-01-01"]).fails(6, "--force");
    sandbox.run(&["verify", "--trust", "keys/signing.pub", "a.license"]).ok();
    sandbox
        .run(&["verify", "--trust", "keys/signing.pub", "a.license", "--at", "soon"])
        .fails(5, "--at");
    sandbox
        .run(&["verify", "--trust", "keys/signing.pub", "a.license", "--product", "No Way"])
        .fails(5, "product");
}

#[test]
fn usage_errors_exit_2() {
    let sandbox = Sandbox::new();
    for args in [
        vec!["frobnicate"],
        vec!["verify", "a.license"],
        vec!["issue", "--key", "k", "--org", "A", "--out", "x"],
        vec!["issue", "--key", "k", "--batch", "orders.csv"],
        vec!["keygen"],
        vec![
            "issue",
            "--key",
            "k",
            "--org",
            "A",
            "--product",
            "p",
            "--runners",
            "-3",
            "--expires",
            "2030-01-01",
            "--out",
            "x",
        ],
    ] {
        let run = sandbox.run(&args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        let _ = assert_no_panic(run);
    }
}
