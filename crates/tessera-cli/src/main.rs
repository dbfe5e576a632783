//! `tessera`: the vendor CLI. Parses the command line, calls the libraries, prints, and
//! maps every outcome to an exit code. See `docs/CLI.md`.

mod cli;
mod error;
mod issuing;
mod registering;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use tessera_cli::audit::verify_export;
use tessera_cli::delegate::{DelegateOrder, Delegated};
use tessera_cli::files::{load_trust, read_for_parser};
use tessera_cli::offline::{AnswerOrder, Answered, answer_request};
use tessera_cli::render::{ClaimsView, VerifyReport};
use tessera_cli::secrets::{self, load_signing_key};
use tessera_core::armor::MAX_ARMORED_LEN;
use tessera_core::delegation::Purpose;
use tessera_core::fsutil::{WriteOptions, write_atomic};
use tessera_core::license::{Expectations, LicenseFile, ProductId};
use tessera_core::time::{Clock, SystemClock, UnixTime};
use tessera_process::{Classify as _, Failure};

use crate::cli::{AuditCommand, Cli, Command, KeygenArgs, VerifyArgs};
use crate::error::Exit;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tessera_process::run("tessera", || run(cli))
}

fn run(cli: Cli) -> Result<u8, Failure> {
    match cli.command {
        Command::Keygen(args) => keygen(args),
        Command::Issue(args) => issuing::issue(*args),
        Command::Verify(args) => verify(args),
        Command::Audit(AuditCommand::Proof { file, trust, export, since }) => {
            audit_proof(&file, &trust, &export, since.as_deref())
        }
        Command::Audit(AuditCommand::Verify { file, trust, since, witness }) => {
            audit_verify(&file, &trust, since.as_deref(), witness.as_deref())
        }
        Command::Inspect(args) => inspect(&args.file, args.json),
        Command::Pubkey(args) => {
            let key = load_signing_key(&args.key).map_err(Exit::failure)?;
            if let Some(out) = &args.out {
                let text = tessera_core::keyfile::public(&key);
                write_atomic(out, text.as_bytes(), WriteOptions::PUBLIC_NEW)
                    .map_err(|e| Exit::io(out, e))?;
            }
            emit(&format!("{}\nkey id: {}\n", key.public_key(), key.key_id()))?;
            Ok(0)
        }
        Command::Delegate(args) => delegate(args),
        Command::ActivateOffline(args) => activate_offline(args),
        Command::Register(args) => registering::register(args),
        Command::Demo => {
            let mut story = Vec::new();
            let result = tessera_cli::demo::run(SystemClock.now(), &mut story);
            emit(&String::from_utf8_lossy(&story))?;
            result.map_err(|e| Failure::new(Exit::Internal, e))?;
            Ok(0)
        }
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "tessera", &mut script);
            emit(&String::from_utf8_lossy(&script))?;
            Ok(0)
        }
        Command::Man { out_dir } => man_pages(&out_dir),
    }
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a message, and the
/// command keeps its own exit code.
fn emit(text: &str) -> Result<(), Failure> {
    tessera_process::print(text)
        .map_err(|e| Failure::new(Exit::Io, format!("cannot write to standard output: {e}")))
}

fn emit_json(value: &impl serde::Serialize) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Failure::new(Exit::Internal, e))?;
    emit(&format!("{text}\n"))
}

fn keygen(args: KeygenArgs) -> Result<u8, Failure> {
    let passphrase = if args.no_passphrase {
        None
    } else {
        Some(secrets::new_passphrase().map_err(Exit::failure)?)
    };
    let (_, files) = secrets::write_key_pair(&args.out_dir, passphrase.as_ref(), args.force)
        .map_err(Exit::failure)?;
    if args.json {
        emit_json(&files)?;
    } else {
        emit(&format!(
            "key id: {}\nsecret key: {}{}\npublic key: {}\n",
            files.key_id,
            files.secret_key_file.display(),
            if files.encrypted { " (encrypted)" } else { " (NOT encrypted)" },
            files.public_key_file.display()
        ))?;
    }
    Ok(0)
}

/// Where the vendor answers an air-gapped hub (`tessera_cli::offline`).
fn activate_offline(args: crate::cli::ActivateOfflineArgs) -> Result<u8, Failure> {
    let order = AnswerOrder {
        request: &args.request,
        key: &args.key,
        out: &args.out,
        valid_days: args.valid_days,
        force: args.force,
        license: args.license.as_deref(),
        uncounted_runners: args.uncounted_runners,
    };
    let Answered { request, claims, signed_by, countersign } =
        answer_request(&order, SystemClock.now()).map_err(Exit::failure)?;
    // Said whatever the output format: the vendor gave up the portal's count knowingly.
    if countersign != Some(false) {
        let whose = match countersign {
            Some(_) => "this license's runners are counted by the portal (runner_countersign), but",
            None => {
                "--uncounted-runners without --license: whether or not the portal counts this license's runners,"
            }
        };
        tessera_process::note(&format!(
            "tessera: note: {whose} the air-gapped hub's leases are not counted by the portal: \
             they stand alone, bounded by the activation's window (through {})",
            claims.not_after
        ));
    }
    if args.json {
        emit_json(&serde_json::json!({
            "license_id": claims.license_id,
            "product": request.product,
            "hub_key_id": claims.hub_key_id,
            "components": request.fingerprint.len(),
            "not_after": claims.not_after,
            "signed_by": signed_by,
            "out": args.out,
        }))?;
    } else {
        emit(&format!(
            "activated license {} ({}) for hub key {} on a host of {} components, \
             valid through {}\nsigned by {}; written to: {}\n",
            claims.license_id,
            request.product,
            claims.hub_key_id,
            request.fingerprint.len(),
            claims.not_after,
            signed_by,
            args.out.display()
        ))?;
    }
    Ok(0)
}

fn delegate(args: crate::cli::DelegateArgs) -> Result<u8, Failure> {
    let order = DelegateOrder {
        key: &args.key,
        portal_key: &args.portal_key,
        out: &args.out,
        valid_days: args.valid_days,
        not_before: args.not_before.as_deref(),
        purpose: if args.ledger { Purpose::Ledger } else { Purpose::Receipts },
        force: args.force,
    };
    let Delegated { claims, signed_by } =
        tessera_cli::delegate::delegate(&order, SystemClock.now()).map_err(Exit::failure)?;
    emit(&format!(
        "delegated portal key {} to sign {} (signed by {}), valid {} through {}\nwritten to: {}\n",
        claims.portal_key.key_id(),
        if args.ledger { "audit ledger heads" } else { "receipts" },
        signed_by,
        claims.not_before,
        claims.not_after,
        args.out.display()
    ))?;
    Ok(0)
}

fn audit_verify(
    file: &Path,
    trust: &[PathBuf],
    since: Option<&Path>,
    witness: Option<&Path>,
) -> Result<u8, Failure> {
    let trust = load_trust(trust).map_err(Exit::failure)?;
    let verified = verify_export(file, &trust, since, witness).map_err(Exit::failure)?;
    emit(&format!(
        "sound: {} entries, {} signed checkpoints; the newest covers all {} entries\n",
        verified.entries, verified.checkpoints, verified.size
    ))?;
    if verified.starts_after > 0 {
        emit(&format!(
            "entries 1 to {} were cut at retention (a cut entry records it)\n",
            verified.starts_after
        ))?;
    }
    if let Some(size) = verified.extends {
        emit(&format!("extends the earlier checkpoint of {size} entries\n"))?;
    }
    if witness.is_some() {
        emit(&format!(
            "extends all {} witnessed checkpoints not older than the cut ({} older, not compared)\n",
            verified.witnessed, verified.witnessed_before_cut
        ))?;
    }
    Ok(0)
}

fn audit_proof(
    file: &Path,
    trust: &[PathBuf],
    export: &Path,
    since: Option<&Path>,
) -> Result<u8, Failure> {
    use tessera_cli::audit::{ProofChecked, check_proof};
    let trust = load_trust(trust).map_err(Exit::failure)?;
    emit(&match check_proof(file, &trust, export, since).map_err(Exit::failure)? {
        ProofChecked::Included { seq, size, signed_at } => format!(
            "holds: entry {seq} is in the checkpoint of {size} entries signed at {signed_at}\n"
        ),
        ProofChecked::Consistent { old, size, signed_at } => format!(
            "holds: the checkpoint of {size} entries signed at {signed_at} extends the earlier one of {old}\n"
        ),
    })?;
    Ok(0)
}

fn verify(args: VerifyArgs) -> Result<u8, Failure> {
    let trust = load_trust(&args.trust).map_err(Exit::failure)?;
    let at = match &args.at {
        Some(text) => UnixTime::parse_start(text)
            .map_err(|e| Failure::new(Exit::Input, format!("--at: {e}")))?,
        None => SystemClock.now(),
    };
    let product = match &args.product {
        Some(p) => {
            Some(p.parse::<ProductId>().map_err(|e| Failure::new(Exit::Input, format!("--{e}")))?)
        }
        None => None,
    };
    let bytes = read_for_parser(&args.file, MAX_ARMORED_LEN).map_err(Exit::failure)?;
    let expect = Expectations { product, fingerprint: None };
    let verdict = tessera_core::verify(&bytes, &trust, at, &expect);
    let report = VerifyReport::new(&verdict, at);
    if args.json {
        emit_json(&report)?;
    } else {
        emit(&report.to_text())?;
    }
    Ok(verdict.status().exit_code())
}

fn inspect(path: &Path, json: bool) -> Result<u8, Failure> {
    let bytes = read_for_parser(path, MAX_ARMORED_LEN).map_err(Exit::failure)?;
    let parsed =
        LicenseFile::parse(&bytes).and_then(|file| Ok((file.key_id(), file.unverified_claims()?)));
    let (key_id, claims) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            let status = tessera_core::Status::Malformed;
            if json {
                emit_json(
                    &serde_json::json!({ "status": status, "verified": false, "problem": e.to_string() }),
                )?;
            } else {
                tessera_process::say(
                    "tessera",
                    &format_args!("{}: malformed license: {e}", path.display()),
                );
            }
            return Ok(status.exit_code());
        }
    };
    let view = ClaimsView::new(&claims);
    if json {
        emit_json(&serde_json::json!({ "verified": false, "key_id": key_id, "claims": view }))?;
    } else {
        emit(&format!(
            "UNVERIFIED: signature not checked (use `tessera verify --trust KEY.pub` to check it)\n  {:<14}{key_id}\n{}",
            "signed by",
            view.to_text()
        ))?;
    }
    Ok(0)
}

fn man_pages(out_dir: &Path) -> Result<u8, Failure> {
    std::fs::create_dir_all(out_dir).map_err(|e| Exit::io(out_dir, e))?;
    let command = Cli::command();
    let mut pages = vec![("tessera".to_owned(), command.clone())];
    for sub in command.get_subcommands() {
        let name = format!("tessera-{}", sub.get_name());
        pages.push((name.clone(), sub.clone().name(name)));
    }
    for (name, page) in pages {
        let path = out_dir.join(format!("{name}.1"));
        let mut text = Vec::new();
        clap_mangen::Man::new(page).render(&mut text).map_err(|e| Exit::io(&path, e))?;
        std::fs::write(&path, text).map_err(|e| Exit::io(&path, e))?;
    }
    emit(&format!("man pages written to {}\n", out_dir.display()))?;
    Ok(0)
}
