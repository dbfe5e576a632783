use crate::helpers::Sandbox;

#[test]
fn keygen_writes_a_0600_secret_key_and_a_public_key_and_prints_the_key_id() {
    let sandbox = Sandbox::new();
    let run = sandbox.keygen();
    let key_id =
        run.stdout.lines().next().and_then(|l| l.strip_prefix("key id: ")).expect("key id line");
    assert_eq!(key_id.len(), 16);
    assert!(sandbox.read("keys/signing.pub").contains(key_id));
    assert!(sandbox.read("keys/signing.key").starts_with("# Tessera secret signing key"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode =
            std::fs::metadata(sandbox.path("keys/signing.key")).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn keygen_refuses_to_overwrite_without_force() {
    let sandbox = Sandbox::new();
    sandbox.keygen();
    let before = sandbox.read("keys/signing.key");
    sandbox.run(&["keygen", "--out-dir", "keys", "--no-passphrase"]).fails(6, "--force");
    assert_eq!(sandbox.read("keys/signing.key"), before, "the old key is untouched");
    sandbox.run(&["keygen", "--out-dir", "keys", "--no-passphrase", "--force"]).ok();
    assert_ne!(sandbox.read("keys/signing.key"), before);
}

#[test]
fn encrypted_keys_take_the_passphrase_from_the_environment() {
    let sandbox = Sandbox::new();
    let run = sandbox
        .run_with_passphrase("hunter2 hunter2", &["keygen", "--out-dir", "keys", "--json"])
        .ok();
    assert_eq!(run.json()["encrypted"], true);
    assert!(sandbox.read("keys/signing.key").contains("TESSERA-ENCRYPTED-KEY-V1:"));
    assert!(!sandbox.read("keys/signing.key").contains("TESSERA-SECRET-KEY-V1:"));

    let mut issue = Sandbox::minimal_issue("keys/signing.key", "a.license");
    issue.push("--force");
    sandbox.run_with_passphrase("hunter2 hunter2", &issue).ok();
    sandbox.run_with_passphrase("wrong", &issue).fails(4, "wrong passphrase");
    // No passphrase and no terminal: a clear error, not a hang.
    sandbox.run(&issue).fails(4, "TESSERA_PASSPHRASE");
    sandbox.run(&["keygen", "--out-dir", "other"]).fails(4, "TESSERA_PASSPHRASE");
    sandbox.run_with_passphrase("", &["keygen", "--out-dir", "other"]).fails(4, "empty passphrase");
    assert!(!sandbox.exists("other/signing.key"));
}

#[test]
fn pubkey_rederives_the_public_key_file() {
    let sandbox = Sandbox::new();
    sandbox.keygen();
    let run = sandbox.run(&["pubkey", "--key", "keys/signing.key", "--out", "again.pub"]).ok();
    assert!(run.stdout.starts_with("tessera-pub-v1:"));
    assert_eq!(sandbox.read("again.pub"), sandbox.read("keys/signing.pub"));
}

#[test]
fn the_key_directory_keygen_makes_is_0700_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = Sandbox::new();
    for (umask, dir) in [("000", "open/keys"), ("022", "usual/keys"), ("077", "closed/keys")] {
        let ran = tessera_testkit::run(
            std::process::Command::new("sh")
                .args(["-c", &format!("umask {umask}; exec \"$0\" \"$@\"")])
                .arg(env!("CARGO_BIN_EXE_tessera"))
                .args(["keygen", "--no-passphrase", "--out-dir", dir])
                .current_dir(sandbox.path("")),
        )
        .ok();
        let mode = |p: &str| {
            std::fs::metadata(sandbox.path(p)).expect("meta").permissions().mode() & 0o777
        };
        assert_eq!(mode(dir), 0o700, "umask {umask}: {}", ran.stdout);
        assert_eq!(mode(&format!("{dir}/signing.key")), 0o600, "umask {umask}");
    }
    // A directory that already exists is the owner's choice: left as it is.
    std::fs::create_dir(sandbox.path("shared")).expect("dir");
    std::fs::set_permissions(sandbox.path("shared"), std::fs::Permissions::from_mode(0o750))
        .expect("chmod");
    sandbox.run(&["keygen", "--no-passphrase", "--out-dir", "shared"]).ok();
    let mode = std::fs::metadata(sandbox.path("shared")).expect("meta").permissions().mode();
    assert_eq!(mode & 0o777, 0o750);
}
