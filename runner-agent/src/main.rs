//! `tessera-runner`: parses the command line and runs the runner library. `check` stays
//! lean: no async runtime, no HTTP client, no logging setup.

mod cli;
mod error;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use tessera_core::activation::Bundle;
use tessera_core::time::SystemClock;
use tessera_process::{Classify as _, Failure};
use tessera_runner::check::Decision;
use tessera_runner::installation;
#[cfg(target_os = "linux")]
use tessera_runner::keystore::credential;
use tessera_runner::keystore::{Backend, OsKeystore};
use tessera_runner::runner::Runner;

use crate::cli::{Cli, Command};
use crate::error::Exit;

fn fail(exit: Exit, message: impl std::fmt::Display) -> Failure {
    Failure::new(exit, message)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tessera_process::run("tessera-runner", || run(cli))
}

fn default_state_dir() -> PathBuf {
    if rustix::process::geteuid().is_root() {
        return PathBuf::from("/var/lib/tessera-runner");
    }
    std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("tessera-runner")
}

/// The runner token: from `--token-file` (`-` for standard input) or the
/// TESSERA_RUNNER_TOKEN environment variable; never from the command line, where other
/// users see it.
fn runner_token(file: Option<&Path>) -> Result<String, Failure> {
    let text = match file {
        Some(path) if path == Path::new("-") => {
            let mut text = String::new();
            std::io::Read::read_to_string(
                &mut std::io::Read::take(std::io::stdin(), 4096),
                &mut text,
            )
            .map_err(|e| fail(Exit::Io, format!("standard input: {e}")))?;
            text
        }
        Some(path) => read_text(path)?,
        None => std::env::var("TESSERA_RUNNER_TOKEN").map_err(|_| {
            fail(
                Exit::Usage,
                "no runner token: give --token-file FILE (or -) or set TESSERA_RUNNER_TOKEN",
            )
        })?,
    };
    Ok(text.trim().to_owned())
}

fn read_text(path: &Path) -> Result<String, Failure> {
    let bytes = tessera_core::fsutil::read_capped(path, 1024 * 1024)
        .map_err(|e| fail(Exit::Io, format!("{}: {e}", path.display())))?;
    String::from_utf8(bytes).map_err(|_| fail(Exit::Input, format!("{}: not text", path.display())))
}

/// The decision on stdout. A reader that has gone (`check | head -c0`) does not turn a
/// refusal into exit 0: the command still ends with the status's own code.
fn print(decision: &Decision, json: bool) -> Result<(), Failure> {
    let line = if json {
        serde_json::to_string(decision).map_err(|e| fail(Exit::Internal, e))?
    } else {
        format!("{}: {}", decision.status, decision.reason)
    };
    tessera_process::print(&format!("{line}\n")).map_err(|e| fail(Exit::Io, format!("stdout: {e}")))
}

/// Runner labels: letters, digits, '.', '-', '_' (as the hub wants them).
fn default_name() -> String {
    let host = sysinfo::System::host_name().unwrap_or_else(|| "runner".into());
    let name: String = host
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '-' })
        .take(64)
        .collect();
    if name.is_empty() { "runner".into() } else { name }
}

fn run(cli: Cli) -> Result<u8, Failure> {
    let dir = cli.state_dir.unwrap_or_else(default_state_dir);
    let asked = match &cli.keystore {
        Some(name) => Some(
            name.parse::<Backend>().map_err(|e| fail(Exit::Usage, format!("--keystore: {e}")))?,
        ),
        None => None,
    };
    // The keystore recorded at install, whatever this process's environment.
    let backend = installation::backend_for(&dir, asked).map_err(Exit::failure)?;
    if !matches!(cli.command, Command::Check { .. }) {
        std::fs::create_dir_all(&dir)
            .map_err(|e| fail(Exit::Io, format!("{}: {e}", dir.display())))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| fail(Exit::Io, format!("{}: {e}", dir.display())))?;
        }
    }
    #[allow(unused_mut)]
    let mut keystore = OsKeystore::open(backend, &Runner::account(&dir)).map_err(Exit::failure)?;
    #[cfg(target_os = "linux")]
    if let Command::Install(args) = &cli.command {
        keystore = keystore.with_credential_out(credential::Out {
            path: args.credential_out.clone(),
            with_key: args.credential_key.clone(),
            force: args.force,
        });
    }
    if matches!(cli.command, Command::Install(_)) {
        keystore.ready_to_install().map_err(Exit::failure)?;
    }
    let runner = Runner::new(&dir, Arc::new(keystore), Arc::new(SystemClock));
    match cli.command {
        Command::Check { json, tolerance } => {
            let decision = runner.with_tolerance(tolerance).check().map_err(Exit::failure)?;
            print(&decision, json)?;
            Ok(decision.exit_code())
        }
        Command::Install(args) => {
            let trust = read_text(&args.trust)?;
            let decision = match (&args.bundle, &args.hub) {
                (Some(path), _) => {
                    let text = read_text(path)?;
                    let bundle: Bundle = serde_json::from_str(&text).map_err(|e| {
                        fail(Exit::Input, format!("{}: not a bundle: {e}", path.display()))
                    })?;
                    runner.install_bundle(&bundle, &trust).map_err(Exit::failure)?
                }
                (None, Some(hub)) => {
                    let token = runner_token(args.token_file.as_deref())?;
                    let label = args.label.clone().unwrap_or_else(default_name);
                    runner.install_from_hub(hub, &token, &label, &trust).map_err(Exit::failure)?
                }
                _ => {
                    return Err(fail(
                        Exit::Usage,
                        "give --hub URL (with a runner token), or --bundle FILE",
                    ));
                }
            };
            print(&decision, args.json)?;
            // Installed, but what it says (a hub's refusal carried by a bundle) lets nothing
            // run: the exit code says so too.
            Ok(if decision.status.permits_running() { 0 } else { decision.exit_code() })
        }
        Command::Request { out, label } => {
            let label = label.unwrap_or_else(default_name);
            let text = runner.request(&label).map_err(Exit::failure)?;
            if out == Path::new("-") {
                print!("{text}");
            } else {
                tessera_core::fsutil::write_atomic(
                    &out,
                    text.as_bytes(),
                    tessera_core::fsutil::WriteOptions::SECRET_REPLACE,
                )
                .map_err(|e| fail(Exit::Io, format!("{}: {e}", out.display())))?;
                eprintln!(
                    "request written to {}: the hub's operator answers it with `tessera-hub \
                     bundle --request FILE`; install the answer with `install --bundle`",
                    out.display()
                );
            }
            Ok(0)
        }
        Command::Release { out: None, .. } => {
            runner.release().map_err(Exit::failure)?;
            println!("gave this runner's slot back to the hub");
            Ok(0)
        }
        Command::Release { out: Some(out), label } => {
            let label = label.unwrap_or_else(default_name);
            let text = runner.release_request(&label).map_err(Exit::failure)?;
            if out == Path::new("-") {
                print!("{text}");
            } else {
                tessera_core::fsutil::write_atomic(
                    &out,
                    text.as_bytes(),
                    tessera_core::fsutil::WriteOptions::SECRET_REPLACE,
                )
                .map_err(|e| fail(Exit::Io, format!("{}: {e}", out.display())))?;
                eprintln!(
                    "release written to {}: this runner has stopped; the hub's operator gives \
                     its slot back with `tessera-hub bundle --request FILE`",
                    out.display()
                );
            }
            Ok(0)
        }
        Command::Refresh { trust, json } => {
            let trust = trust.as_deref().map(read_text).transpose()?;
            let decision = runner.refresh(trust.as_deref()).map_err(Exit::failure)?;
            print(&decision, json)?;
            Ok(0)
        }
        Command::Uninstall => {
            // A runner installed from a hub gives its slot back first (signed with its key),
            // so that its replacement need not wait for the lease to end. A hub that cannot be
            // reached keeps the slot counted until then: say so, and uninstall all the same.
            if dir.join("enrollment.json").exists()
                && let Err(e) = runner.release()
            {
                eprintln!(
                    "tessera-runner: the hub was not told ({e}): this runner's slot stays \
                     counted there until its lease ends"
                );
            }
            runner.forget().map_err(Exit::failure)?;
            println!("removed the cache of {} and its keystore entry", dir.display());
            Ok(0)
        }
    }
}
