//! Secrets are never arguments: no option of any binary takes a key, token or password by
//! value (other users can read the process list and the shell's history); the portal's API
//! key comes from the environment, a file or standard input.

use std::io::Write;
use std::process::Stdio;

use crate::kit::{Portal, Vendor, cmd, run};

/// The subcommands `binary help` lists, with their own subcommands (`api-key create`).
fn commands(binary: &str, path: &[String]) -> Vec<Vec<String>> {
    let ran = run(cmd(binary).args(path).arg("--help")).ok();
    let mut found = vec![path.to_vec()];
    let Some((_, listed)) = ran.stdout.split_once("Commands:\n") else { return found };
    for line in listed.lines().take_while(|l| l.starts_with("  ")) {
        // A command's line starts at two spaces; its wrapped description goes deeper.
        if line.starts_with("   ") {
            continue;
        }
        let name = line.split_whitespace().next().expect("a command name");
        if name == "help" {
            continue;
        }
        let mut sub = path.to_vec();
        sub.push(name.to_owned());
        found.extend(commands(binary, &sub));
    }
    found
}

#[test]
fn no_option_of_any_binary_takes_a_secret_by_value() {
    // Options whose name says they carry a secret; each must take a FILE (or nothing).
    let secret_words = ["api-key", "token", "password", "passphrase", "secret", "license-key"];
    let mut seen = 0;
    for binary in ["tessera", "tessera-portal", "tessera-hub", "tessera-runner"] {
        for path in commands(binary, &[]) {
            let help = run(cmd(binary).args(&path).arg("--help")).ok().stdout;
            for line in help.lines().map(str::trim_start).filter(|l| l.starts_with('-')) {
                let words: Vec<&str> = line.split_whitespace().take(3).collect();
                let Some(long) = words.iter().find(|w| w.starts_with("--")) else { continue };
                let name = long.trim_end_matches(',').trim_start_matches("--");
                if !secret_words.iter().any(|w| name.contains(w)) {
                    continue;
                }
                seen += 1;
                let value = words.iter().skip_while(|w| !w.starts_with("--")).nth(1);
                let takes_file = match value {
                    None => true,
                    Some(v) if !v.starts_with('<') => true, // the help text, no value
                    Some(v) => matches!(*v, "<FILE>" | "<PATH>" | "<DIR>"),
                };
                assert!(
                    takes_file,
                    "`{binary} {}` takes a secret as an argument: {line}",
                    path.join(" ")
                );
            }
        }
    }
    // The scan found the options it guards (--api-key-file, --token-file, --host-secret):
    // a help format it cannot read would otherwise pass it silently.
    assert!(seen >= 3, "the help scan found only {seen} secret options");
}

#[test]
fn the_api_key_comes_from_a_file_or_standard_input_and_never_an_argument() {
    let vendor = Vendor::new();
    let portal = Portal::start(&vendor);
    let license = vendor.issue("a.license", 1, &["--portal-url", &portal.url]);

    // The old flag is gone: an argument that names it is a usage error (clap's, exit 2)
    // before anything is sent.
    let refused = run(cmd("tessera")
        .args(["register", "--portal", &portal.url, "--api-key", &portal.api_key])
        .arg(&license))
    .no_panic();
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("unexpected argument '--api-key'"), "{}", refused.stderr);

    // Without a key: one sentence naming both ways to give it.
    run(cmd("tessera")
        .env_remove("TESSERA_API_KEY")
        .args(["register", "--portal", &portal.url])
        .arg(&license))
    .fails(5, "TESSERA_API_KEY");

    // An empty file is named.
    let empty = vendor.path("empty-key.txt");
    std::fs::write(&empty, "\n").expect("write");
    run(cmd("tessera")
        .env_remove("TESSERA_API_KEY")
        .args(["register", "--portal", &portal.url, "--api-key-file"])
        .arg(&empty)
        .arg(&license))
    .fails(5, "holds no API key");

    // From standard input.
    let mut child = cmd("tessera")
        .env_remove("TESSERA_API_KEY")
        .args(["register", "--json", "--portal", &portal.url, "--api-key-file", "-"])
        .arg(&license)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    writeln!(child.stdin.take().expect("stdin"), "{}", portal.api_key).expect("write key");
    let output = child.wait_with_output().expect("wait");
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{said}{}", String::from_utf8_lossy(&output.stderr));
    assert!(said.contains("\"registered\""), "{said}");
    assert!(!said.contains(&portal.api_key), "the key was printed: {said}");
}
