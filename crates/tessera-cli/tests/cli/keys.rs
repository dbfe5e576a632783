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
