//! `tessera-hub`: parses the command line and runs the hub library.

mod cli;
mod error;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use tessera_core::license::ProductId;
use tessera_core::time::SystemClock;
use tessera_hub::agent::{Hub, Report};
use tessera_hub::daemon::{self, DaemonConfig};
use tessera_hub::slots::LeaseError;
use tessera_hub::state::StateDir;
use tessera_process::{Classify as _, Failure};

use crate::cli::{Cli, Command, RunnersCommand, TrustArg};
use crate::error::Exit;

fn fail(exit: Exit, message: impl std::fmt::Display) -> Failure {
    Failure::new(exit, message)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tessera_process::run("tessera-hub", || {
        let quiet = !matches!(cli.command, Command::Run(_));
        tessera_process::logging::logs(if quiet { "warn" } else { "info" }).init();
        // One thread: the hub pings once an hour and serves a handful of runners.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| fail(Exit::Internal, format!("cannot start the async runtime: {e}")))?;
        runtime.block_on(run(cli))
    })
}

fn default_state_dir() -> PathBuf {
    if rustix::process::geteuid().is_root() {
        return PathBuf::from("/var/lib/tessera-hub");
    }
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("tessera-hub")
}

fn read(path: &Path) -> Result<Vec<u8>, Failure> {
    tessera_core::fsutil::read_capped(path, 1024 * 1024)
        .map_err(|e| fail(Exit::Io, format!("{}: {e}", path.display())))
}

fn trust_bytes(arg: &TrustArg) -> Result<Vec<u8>, Failure> {
    match &arg.trust {
        Some(path) => read(path),
        None if !tessera_hub::BUILTIN_TRUST.is_empty() => {
            Ok(tessera_hub::BUILTIN_TRUST.as_bytes().to_vec())
        }
        None => Err(fail(
            Exit::Input,
            "no trust set: give --trust FILE (or build the hub with TESSERA_HUB_TRUST_FILE)",
        )),
    }
}

/// Writes a command's answer; a reader that has gone does not change the exit code.
fn out(text: &str) -> Result<(), Failure> {
    tessera_process::print(text)
        .map_err(|e| fail(Exit::Io, format!("cannot write to standard output: {e}")))
}

fn print_json(value: &impl serde::Serialize) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).map_err(|e| fail(Exit::Internal, e))?;
    out(&format!("{text}\n"))
}

fn report_text(report: &Report) -> String {
    let mut lines =
        vec![format!("status: {}", report.status), format!("reason: {}", report.reason)];
    if let Some(id) = &report.license_id {
        lines.push(format!(
            "license: {id} ({}, {})",
            report.org.as_deref().unwrap_or("?"),
            report.product.as_deref().unwrap_or("?")
        ));
    }
    lines.push(format!(
        "mode: {}",
        serde_json::to_value(report.mode).unwrap_or_default().as_str().unwrap_or("?")
    ));
    if let Some(portal) = &report.portal {
        lines.push(format!("portal: {portal}"));
    }
    if let Some(t) = report.last_good_receipt {
        lines.push(format!("last good receipt: {t}"));
    }
    if let Some(left) = report.grace_left_secs {
        lines.push(format!(
            "grace left: {}",
            humantime::format_duration(std::time::Duration::from_secs(left))
        ));
    }
    if let Some(f) = &report.last_failure {
        lines.push(format!("last failure: {f}"));
    }
    if let Some(key) = &report.hub_key_id {
        lines.push(format!("hub key id: {key}"));
    }
    lines.push(match report.runner_limit {
        Some(limit) => format!("runners leased: {} of {limit}", report.runners_leased),
        None => format!("runners leased: {}", report.runners_leased),
    });
    lines.join("\n") + "\n"
}

async fn run(cli: Cli) -> Result<u8, Failure> {
    let dir =
        StateDir::open(&cli.state_dir.unwrap_or_else(default_state_dir)).map_err(Exit::failure)?;
    let mut hub = Hub::on_this_host(dir, Arc::new(SystemClock));
    if let Some(path) = cli.host_secret {
        hub = hub.with_host_secret(path);
    }
    hub.allow_insecure_http(cli.insecure_http);
    // Only what starts or keeps the hub's identity makes a missing host secret; `status`,
    // `bundle` and the runner commands (often run by root for the hub's user) read the one
    // recorded at activation and never make a stray one.
    hub.allow_new_host_secret(matches!(
        cli.command,
        Command::Fingerprint(_)
            | Command::Activate(_)
            | Command::ActivationRequest(_)
            | Command::Run(_)
            | Command::Ping { .. }
    ));
    match cli.command {
        Command::Fingerprint(args) => {
            let product: ProductId = match args.product {
                Some(p) => p.parse().map_err(|e| fail(Exit::Input, format!("--product: {e}")))?,
                None => {
                    let license = hub.dir().license().map_err(|_| {
                        fail(
                            Exit::Input,
                            "no license installed: give --product to hash the components with",
                        )
                    })?;
                    tessera_core::LicenseFile::parse(&license)
                        .and_then(|f| f.unverified_claims())
                        .map_err(|e| fail(Exit::Io, format!("installed license: {e}")))?
                        .product
                }
            };
            let report = hub
                .host()
                .map_err(Exit::failure)?
                .report(&product)
                .map_err(|e| fail(Exit::Internal, e))?;
            if args.json {
                print_json(&report)?;
            } else {
                let mut text = format!("product: {}\n", report.product);
                for (name, hash) in &report.components {
                    text.push_str(&format!("{name:<14} {hash}\n"));
                }
                for name in &report.missing {
                    text.push_str(&format!("{name:<14} (missing)\n"));
                }
                out(&text)?;
            }
            Ok(0)
        }
        Command::Activate(args) => {
            let report_receipt = if let Some(path) = &args.offline {
                let claims = hub.install_offline(&read(path)?).map_err(Exit::failure)?;
                if !args.json {
                    out(&format!(
                        "offline activation installed for license {}, valid through {}\n",
                        claims.license_id, claims.not_after
                    ))?;
                }
                None
            } else {
                let license_path = args
                    .license
                    .as_deref()
                    .ok_or_else(|| fail(Exit::Usage, "--license is required"))?;
                let license = read(license_path)?;
                let trust = trust_bytes(&args.trust)?;
                let receipt = hub
                    .activate(&license, &trust, args.portal.as_deref())
                    .await
                    .map_err(Exit::failure)?;
                Some(receipt)
            };
            let report = hub.status().map_err(Exit::failure)?;
            if args.json {
                print_json(&report)?;
            } else if let Some(receipt) = report_receipt {
                out(&format!(
                    "activated license {} at portal time {}; next ping by {}\n",
                    receipt.license_id, receipt.portal_time, receipt.next_ping_by
                ))?;
            }
            Ok(0)
        }
        Command::ActivationRequest(args) => {
            let license = read(&args.license)?;
            let trust = trust_bytes(&args.trust)?;
            let request = hub.activation_request(&license, &trust).map_err(Exit::failure)?;
            if args.out == Path::new("-") {
                out(&request)?;
            } else {
                tessera_core::fsutil::write_atomic(
                    &args.out,
                    request.as_bytes(),
                    tessera_core::fsutil::WriteOptions::SECRET_REPLACE,
                )
                .map_err(|e| fail(Exit::Io, format!("{}: {e}", args.out.display())))?;
                tessera_process::note(&format_args!(
                    "request written to {}: carry it to the vendor, then run \
                     `tessera-hub activate --offline ANSWER`",
                    args.out.display()
                ));
            }
            Ok(0)
        }
        Command::Run(args) => {
            let config = DaemonConfig {
                runner_listen: args.runner_listen,
                lease_ttl: args.lease_ttl,
                max_connections: args.max_connections as usize,
                max_connections_per_address: args.max_connections_per_address as usize,
                status_socket: Some(
                    args.status_socket
                        .unwrap_or_else(|| tessera_hub::local::default_socket(hub.dir().root())),
                ),
                ..DaemonConfig::default()
            };
            // Before the listener announces itself: a SIGTERM right after start is graceful.
            let shutdown = tessera_http_server::shutdown_signal()
                .map_err(|e| fail(Exit::Io, format!("signal handlers: {e}")))?;
            daemon::run(Arc::new(hub), config, shutdown).await.map_err(|e| fail(Exit::Io, e))?;
            Ok(0)
        }
        Command::Ping { json } => {
            let receipt = hub.ping().await.map_err(Exit::failure)?;
            let report = hub.status().map_err(Exit::failure)?;
            if json {
                print_json(&report)?;
            } else {
                out(&format!(
                    "the portal answered {} at {}; next ping by {}\n",
                    receipt.status, receipt.portal_time, receipt.next_ping_by
                ))?;
            }
            Ok(if report.status.permits_running() { 0 } else { report.status.exit_code() })
        }
        Command::Status { json } => {
            let report = hub.status().map_err(Exit::failure)?;
            if json {
                print_json(&report)?;
            } else {
                out(&report_text(&report))?;
            }
            Ok(if report.status.permits_running() { 0 } else { report.status.exit_code() })
        }
        Command::Bundle(args) => {
            // The answer spends the request and commits the slot: first make sure it can be
            // written, or the runner would have to ask again for nothing.
            writable(&args.out)?;
            let answer = hub
                .bundle_for_request(&read(&args.request)?, args.lease_ttl)
                .map_err(Exit::failure)?;
            // Under runner_countersign a new runner's key is countersigned now, if the portal
            // can be reached: the bundle carries that receipt.
            let answer = hub.countersigned(answer).await;
            if answer.released {
                tessera_process::note(&format_args!(
                    "the request is the runner's signed release: its slot is given back; no \
                     bundle to write"
                ));
                return Ok(0);
            }
            let bundle = &answer.bundle;
            let text = serde_json::to_vec_pretty(bundle).map_err(|e| fail(Exit::Internal, e))?;
            tessera_core::fsutil::write_atomic(
                &args.out,
                &text,
                tessera_core::fsutil::WriteOptions::SECRET_REPLACE,
            )
            .map_err(|e| fail(Exit::Io, format!("{}: {e}", args.out.display())))?;
            let Some(until) = answer.lease_ends else {
                tessera_process::note(&format_args!(
                    "bundle written to {}: it carries the hub's refusal; install it on the \
                     runner (`tessera-runner install --bundle`) so that the runner stops",
                    args.out.display()
                ));
                return Err(Exit::failure(LeaseError::NotRunnable(bundle.status)));
            };
            // The lease's own end: it is shorter than --lease-ttl when the hub's grace (or
            // offline window) ends sooner.
            tessera_process::note(&format_args!(
                "bundle written to {} (lease until {until})",
                args.out.display()
            ));
            Ok(0)
        }
        Command::Runners(RunnersCommand::List { json }) => {
            let runners = hub.runners().map_err(Exit::failure)?;
            let limit = hub.runner_limit().unwrap_or(0);
            if json {
                print_json(&runners)?;
            } else {
                let mut text = String::new();
                for r in &runners {
                    let slot = match (r.holds_slot, r.lease_until) {
                        (true, Some(until)) => format!("slot until {until}"),
                        _ => "no slot".to_owned(),
                    };
                    let copy = r.cloned_at.map(|t| format!("  COPY SEEN {t}")).unwrap_or_default();
                    let portal = r
                        .countersign
                        .map(|c| format!("  {}", c.describe(limit, r.countersigned_until)))
                        .unwrap_or_default();
                    text.push_str(&format!("{}  {:<24} {slot}{copy}{portal}\n", r.key_id, r.label));
                }
                out(&text)?;
            }
            Ok(0)
        }
        Command::Runners(RunnersCommand::Release { key_id }) => {
            let held = hub.release_runner(&key_id).map_err(Exit::failure)?;
            out(&match held {
                Some(until) => format!(
                    "cleared the copy mark of runner {key_id}; its slot stays counted, and its \
                     key bound to the machine its lease names, until that lease ends at {until} \
                     or the runner gives it back there (`tessera-runner release`)\n"
                ),
                None => format!("cleared the copy mark of runner {key_id}; it holds no slot\n"),
            })?;
            Ok(0)
        }
        Command::Runners(RunnersCommand::Forget { key_id }) => {
            hub.forget_runner(&key_id).map_err(Exit::failure)?;
            out(&format!(
                "removed runner {key_id}; it must enroll again with a new runner token\n"
            ))?;
            Ok(0)
        }
        Command::AuditHeads(args) => {
            let heads =
                tessera_hub::heads::read(&hub.dir().ledger_heads_path()).map_err(Exit::failure)?;
            if heads.is_empty() {
                return Err(fail(
                    Exit::Input,
                    "no audit ledger head received yet: the portal names one in its receipts once it has signed its ledger (ping, then try again)",
                ));
            }
            let text: String = heads.iter().map(|s| s.to_line() + "\n").collect();
            if args.out == Path::new("-") {
                out(&text)?;
            } else {
                let options =
                    tessera_core::fsutil::WriteOptions { mode: 0o644, overwrite: args.force };
                tessera_core::fsutil::write_atomic(&args.out, text.as_bytes(), options).map_err(
                    |e| match e.kind() {
                        std::io::ErrorKind::AlreadyExists => fail(
                            Exit::Io,
                            format!("{} exists: give --force to replace it", args.out.display()),
                        ),
                        _ => fail(Exit::Io, format!("{}: {e}", args.out.display())),
                    },
                )?;
                tessera_process::note(&format_args!(
                    "{} audit ledger heads written to {} (check an export with `tessera audit verify EXPORT --witness {}`)",
                    heads.len(),
                    args.out.display(),
                    args.out.display()
                ));
            }
            Ok(0)
        }
        Command::RunnerToken => {
            let token = hub.create_runner_token().map_err(Exit::failure)?;
            out(&format!("{token}\n"))?;
            tessera_process::note(
                &"this token is shown once; give it to the runner (`tessera-runner install --token`)",
            );
            Ok(0)
        }
    }
}

/// Whether a file can be written at `path` (its directory takes a new file), tried with a
/// file of our own that is removed at once.
fn writable(path: &std::path::Path) -> Result<(), Failure> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    let probe = dir.join(format!(".tessera-hub-probe-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|e| fail(Exit::Io, format!("{}: cannot write there: {e}", path.display())))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}
