//! `tessera`: the vendor CLI. Parses the command line, calls the libraries, prints, and
//! maps every outcome to an exit code. See `docs/CLI.md`.

mod cli;
mod error;

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use tessera_cli::batch;
use tessera_cli::render::{ClaimsView, VerifyReport};
use tessera_cli::secrets::{self, load_signing_key};
use tessera_cli::terms::RawTerms;
use tessera_core::armor::MAX_ARMORED_LEN;
use tessera_core::fsutil::{WriteOptions, read_capped, write_atomic};
use tessera_core::license::{Expectations, LicenseFile, ProductId, sign};
use tessera_core::time::{Clock, SystemClock, UnixTime};
use tessera_core::trust::{MAX_TRUST_FILE_LEN, TrustSet};

use crate::cli::{AuditCommand, Cli, Command, IssueArgs, KeygenArgs, TermsArgs, VerifyArgs};
use crate::error::{Exit, Failure};

fn main() -> ExitCode {
    let cli = Cli::parse();
    tessera_process::run("tessera", || run(cli))
}

fn run(cli: Cli) -> Result<u8, Failure> {
    match cli.command {
        Command::Keygen(args) => keygen(args),
        Command::Issue(args) => issue(*args),
        Command::Verify(args) => verify(args),
        Command::Audit(AuditCommand::Verify { file, trust }) => audit_verify(&file, &trust),
        Command::Inspect(args) => inspect(&args.file, args.json),
        Command::Pubkey(args) => {
            let key = load_signing_key(&args.key)?;
            if let Some(out) = &args.out {
                let text = tessera_core::keyfile::public(&key);
                write_atomic(out, text.as_bytes(), WriteOptions::PUBLIC_NEW)
                    .map_err(|e| Failure::io(out, e))?;
            }
            emit(&format!("{}\nkey id: {}\n", key.public_key(), key.key_id()))?;
            Ok(0)
        }
        Command::Delegate(args) => delegate(args),
        Command::ActivateOffline(args) => activate_offline(args),
        Command::Register(args) => {
            let key = tessera_cli::secrets::api_key(args.api_key_file.as_deref())?;
            let client =
                tessera_cli::portal::PortalClient::new(&args.portal, &key, args.insecure_http)?;
            let results = register_all(&client, &args.files, "registering")?;
            let mut refused = 0usize;
            for (file, result) in args.files.iter().zip(&results) {
                if result.outcome == "refused" {
                    refused += 1;
                }
                if args.json {
                    emit(&format!("{}\n", serde_json::json!({ "file": file, "result": result })))?;
                } else {
                    emit(&format!("{}: {}\n", file.display(), describe(result)))?;
                }
            }
            refusals(refused, results.len())?;
            Ok(0)
        }
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
    let passphrase = if args.no_passphrase { None } else { Some(secrets::new_passphrase()?) };
    let (_, files) = secrets::write_key_pair(&args.out_dir, passphrase.as_ref(), args.force)?;
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

/// Where the vendor answers an air-gapped hub: the request is checked (signed by the hub key
/// it carries) and answered with an activation signed by a vendor key.
fn activate_offline(args: crate::cli::ActivateOfflineArgs) -> Result<u8, Failure> {
    use tessera_core::activation::{self, ActivationClaims};
    let text =
        read_capped(&args.request, MAX_ARMORED_LEN).map_err(|e| Failure::io(&args.request, e))?;
    let request = activation::open_request(&text).map_err(|e| {
        Failure::new(Exit::Input, format!("activation request {}: {e}", args.request.display()))
    })?;
    if args.valid_days == 0 {
        return Err(Failure::new(Exit::Input, "--valid-days must be at least 1"));
    }
    if args.out.exists() && !args.force {
        return Err(Failure::io(&args.out, std::io::ErrorKind::AlreadyExists.into()));
    }
    let key = load_signing_key(&args.key)?;
    let claims = ActivationClaims::answer(
        &request,
        SystemClock.now(),
        std::time::Duration::from_secs(u64::from(args.valid_days) * 86_400),
    );
    let answer = activation::sign_activation(&claims, &key);
    let options = WriteOptions { overwrite: args.force, ..WriteOptions::PUBLIC_NEW };
    write_atomic(&args.out, answer.as_bytes(), options).map_err(|e| Failure::io(&args.out, e))?;
    if args.json {
        emit_json(&serde_json::json!({
            "license_id": claims.license_id,
            "product": request.product,
            "hub_key_id": claims.hub_key_id,
            "components": request.fingerprint.len(),
            "not_after": claims.not_after,
            "signed_by": key.key_id(),
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
            key.key_id(),
            args.out.display()
        ))?;
    }
    Ok(0)
}

fn delegate(args: crate::cli::DelegateArgs) -> Result<u8, Failure> {
    use tessera_core::delegation::{self, DelegationClaims};
    let portal_text = read_capped(&args.portal_key, MAX_TRUST_FILE_LEN)
        .map_err(|e| Failure::io(&args.portal_key, e))?;
    let portal_set = TrustSet::parse(&portal_text).map_err(|e| {
        Failure::new(Exit::Input, format!("portal key {}: {e}", args.portal_key.display()))
    })?;
    let [portal_key] = portal_set.keys() else {
        return Err(Failure::new(
            Exit::Input,
            format!("portal key {}: expected exactly one public key", args.portal_key.display()),
        ));
    };
    let now = SystemClock.now();
    let not_before = match &args.not_before {
        Some(text) => UnixTime::parse_start(text)
            .map_err(|e| Failure::new(Exit::Input, format!("--not-before: {e}")))?,
        None => now,
    };
    if args.valid_days == 0 {
        return Err(Failure::new(Exit::Input, "--valid-days must be at least 1"));
    }
    if args.out.exists() && !args.force {
        return Err(Failure::io(&args.out, std::io::ErrorKind::AlreadyExists.into()));
    }
    let key = load_signing_key(&args.key)?;
    let claims = DelegationClaims {
        portal_key: portal_key.key.clone(),
        issued_at: now,
        not_before,
        not_after: not_before
            .saturating_add(std::time::Duration::from_secs(u64::from(args.valid_days) * 86_400)),
    };
    let purpose =
        if args.ledger { delegation::Purpose::Ledger } else { delegation::Purpose::Receipts };
    let text = delegation::sign_for(purpose, &claims, &key);
    let options = WriteOptions { overwrite: args.force, ..WriteOptions::PUBLIC_NEW };
    write_atomic(&args.out, text.as_bytes(), options).map_err(|e| Failure::io(&args.out, e))?;
    emit(&format!(
        "delegated portal key {} to sign {} (signed by {}), valid {} through {}\nwritten to: {}\n",
        portal_key.key.key_id(),
        if args.ledger { "audit ledger heads" } else { "receipts" },
        key.key_id(),
        claims.not_before,
        claims.not_after,
        args.out.display()
    ))?;
    Ok(0)
}

fn raw_terms(args: TermsArgs) -> RawTerms {
    RawTerms {
        org: args.org,
        product: args.product,
        runners: args.runners.map(|n| n.to_string()),
        expires: args.expires,
        not_before: args.not_before,
        terminates: args.terminates,
        features: args.features,
        grace_days: args.grace_days.map(|n| n.to_string()),
        ping_interval: args.ping_interval,
        portal_url: args.portal_url,
    }
}

fn issue(args: IssueArgs) -> Result<u8, Failure> {
    let now = SystemClock.now();
    let defaults = raw_terms(args.terms);
    if let (Some(csv), Some(out_dir)) = (&args.batch, &args.out_dir) {
        // Every row, the portal's URL and the API key are checked before the key is unlocked
        // or anything is written.
        let orders = batch::read_orders(csv, &defaults, now)?;
        let client = portal_client(
            args.register.as_deref(),
            args.api_key_file.as_deref(),
            args.insecure_http,
        )?;
        let key = load_signing_key(&args.key)?;
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(orders.len() as u64),
            if std::io::stderr().is_terminal() {
                indicatif::ProgressDrawTarget::stderr()
            } else {
                indicatif::ProgressDrawTarget::hidden()
            },
        );
        let (summary, registration) = match &client {
            None => (batch::issue_batch(&orders, &key, out_dir, now, &|n| bar.inc(n))?, None),
            Some(client) => {
                let (summary, tally) =
                    issue_and_register(client, &orders, &key, out_dir, now, &bar)?;
                (summary, Some(BatchRegistration { portal: client.url().to_owned(), tally }))
            }
        };
        bar.finish_and_clear();
        if args.json {
            #[derive(serde::Serialize)]
            struct Issued<'a> {
                #[serde(flatten)]
                summary: &'a batch::BatchSummary,
                #[serde(skip_serializing_if = "Option::is_none")]
                registration: Option<&'a BatchRegistration>,
            }
            emit_json(&Issued { summary: &summary, registration: registration.as_ref() })?;
        } else {
            let mut text = format!(
                "issued {} licenses, skipped {} already issued; manifest: {}\n",
                summary.issued,
                summary.skipped,
                summary.manifest.display()
            );
            if let Some(BatchRegistration { portal, tally }) = &registration {
                text.push_str(&format!(
                    "registered {} licenses at {portal} ({} of them already registered)\n",
                    tally.registered + tally.already,
                    tally.already
                ));
            }
            emit(&text)?;
        }
        return Ok(0);
    }
    let Some(out) = args.out else {
        return Err(Failure::new(Exit::Input, "give --out FILE or --batch CSV --out-dir DIR"));
    };
    let terms = defaults.resolve()?;
    terms.check(now)?;
    if out.exists() && !args.force {
        return Err(Failure::io(&out, std::io::ErrorKind::AlreadyExists.into()));
    }
    // The portal's URL and the API key are checked before the key is unlocked.
    let client =
        portal_client(args.register.as_deref(), args.api_key_file.as_deref(), args.insecure_http)?;
    let key = load_signing_key(&args.key)?;
    let claims = terms.issue(now)?;
    let text = sign(&claims, &key)?;
    // The license file holds the license key: only its owner reads it.
    let options = WriteOptions { overwrite: args.force, ..WriteOptions::SECRET_NEW };
    write_atomic(&out, text.as_bytes(), options).map_err(|e| Failure::io(&out, e))?;
    let registration = match &client {
        Some(client) => {
            let answer = client.register(&text).map_err(|e| {
                let mut failure = Failure::from(e);
                failure.message = format!(
                    "{} was written but not registered: {}",
                    out.display(),
                    failure.message
                );
                failure
            })?;
            Some(Registered { portal: client.url().to_owned(), answer })
        }
        None => None,
    };
    if args.json {
        #[derive(serde::Serialize)]
        struct Issued<'a> {
            file: &'a Path,
            key_id: String,
            #[serde(flatten)]
            claims: ClaimsView<'a>,
            #[serde(skip_serializing_if = "Option::is_none")]
            registration: Option<&'a Registered>,
        }
        emit_json(&Issued {
            file: &out,
            key_id: key.key_id().to_string(),
            claims: ClaimsView::new(&claims),
            registration: registration.as_ref(),
        })?;
    } else {
        let mut text = format!(
            "license id:  {}\nlicense key: {}\nwritten to:  {}\n",
            claims.id,
            claims.key.expose(),
            out.display()
        );
        if let Some(Registered { portal, answer }) = &registration {
            let already = if answer.registered { "" } else { "already " };
            text.push_str(&format!(
                "registered:  {already}at {portal} as {} ({})\n",
                answer.id, answer.status
            ));
        }
        emit(&text)?;
    }
    Ok(0)
}

/// Where one license was registered and what the portal said.
#[derive(serde::Serialize)]
struct Registered {
    portal: String,
    #[serde(flatten)]
    answer: tessera_cli::portal::Registration,
}

/// Where a batch was registered and what the portal said, counted.
#[derive(serde::Serialize)]
struct BatchRegistration {
    portal: String,
    #[serde(flatten)]
    tally: tessera_cli::portal::Tally,
}

/// The portal `issue --register` registers with, if it does.
fn portal_client(
    register: Option<&str>,
    api_key_file: Option<&Path>,
    insecure_http: bool,
) -> Result<Option<tessera_cli::portal::PortalClient>, Failure> {
    let Some(url) = register else { return Ok(None) };
    let key = tessera_cli::secrets::api_key(api_key_file)?;
    let client = tessera_cli::portal::PortalClient::new(url, &key, insecure_http)?;
    Ok(Some(client))
}

/// Issues a batch and registers it at once: what the manifest already holds (a run before
/// this one) is sent first, then each chunk as soon as it is durable and in the manifest,
/// while the next chunks are issued. The portal makes repeats harmless, so a run cut short
/// is simply run again.
fn issue_and_register(
    client: &tessera_cli::portal::PortalClient,
    orders: &[batch::Order],
    key: &tessera_core::keys::SigningKey,
    out_dir: &Path,
    now: UnixTime,
    bar: &indicatif::ProgressBar,
) -> Result<(batch::BatchSummary, tessera_cli::portal::Tally), Failure> {
    use tessera_cli::portal::{BATCH, Progress, ToRegister};
    let manifest = out_dir.join(batch::MANIFEST_NAME);
    let mut earlier = Vec::new();
    if manifest.exists() {
        let mut reader = csv::Reader::from_path(&manifest)
            .map_err(|e| Failure::new(Exit::Io, format!("{}: {e}", manifest.display())))?;
        for entry in reader.deserialize::<batch::ManifestEntry>() {
            let entry = entry
                .map_err(|e| Failure::new(Exit::Input, format!("{}: {e}", manifest.display())))?;
            earlier.push(out_dir.join(&entry.file));
        }
    }
    // A few chunks queue at most: issuing waits for the portal rather than holding the
    // texts of licenses not yet sent.
    let (send, receive) = std::sync::mpsc::sync_channel::<Vec<ToRegister>>(4);
    let (summary, results) = std::thread::scope(|scope| {
        let registering = scope.spawn(|| {
            tessera_cli::portal::register_stream(
                client,
                receive,
                tessera_cli::portal::CALLS_IN_FLIGHT,
                &|step| {
                    if let Progress::Waiting(pause) = step {
                        bar.set_message(format!(
                            "the portal asks to slow down: waiting {} s",
                            pause.as_secs_f32()
                        ));
                    }
                },
            )
        });
        let earlier_send = send.clone();
        scope.spawn(move || {
            for chunk in earlier.chunks(BATCH) {
                let _ = earlier_send.send(chunk.iter().cloned().map(ToRegister::file).collect());
            }
        });
        let summary =
            batch::issue_batch_then(orders, key, out_dir, now, &|n| bar.inc(n), &|issued| {
                let mut chunk = issued
                    .into_iter()
                    .map(|i| ToRegister { file: out_dir.join(&i.entry.file), text: Some(i.text) })
                    .peekable();
                while chunk.peek().is_some() {
                    let _ = send.send(chunk.by_ref().take(BATCH).collect());
                }
            });
        drop(send);
        let results = registering.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        (summary, results)
    });
    let summary = summary?;
    let results = results.map_err(|e| {
        let mut failure = Failure::from(e);
        failure.message = format!("{} (rerun to continue)", failure.message);
        failure
    })?;
    let tally = tessera_cli::portal::Tally::of(results.iter().map(|(_, result)| result));
    for (file, result) in &results {
        if result.outcome == "refused" {
            tessera_process::note(&format_args!("{}: {}", file.display(), describe(result)));
        }
    }
    refusals(tally.refused, results.len())?;
    Ok((summary, tally))
}

/// Registers `files` with a progress bar on a terminal (four calls in flight: the portal
/// checks signatures on as many cores).
fn register_all(
    client: &tessera_cli::portal::PortalClient,
    files: &[std::path::PathBuf],
    what: &'static str,
) -> Result<Vec<tessera_cli::portal::BatchResult>, Failure> {
    use tessera_cli::portal::Progress;
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(files.len() as u64),
        if std::io::stderr().is_terminal() {
            indicatif::ProgressDrawTarget::stderr()
        } else {
            indicatif::ProgressDrawTarget::hidden()
        },
    );
    bar.set_message(what);
    let results = tessera_cli::portal::register_files(
        client,
        files,
        tessera_cli::portal::CALLS_IN_FLIGHT,
        &|step| match step {
            Progress::Done(n) => {
                bar.set_message(what);
                bar.inc(n);
            }
            Progress::Waiting(pause) => {
                bar.set_message(format!(
                    "the portal asks to slow down: waiting {} s",
                    pause.as_secs_f32()
                ));
                bar.tick();
            }
        },
    );
    bar.finish_and_clear();
    Ok(results?)
}

fn describe(result: &tessera_cli::portal::BatchResult) -> String {
    let id = result.id.as_deref().unwrap_or("-");
    match result.outcome.as_str() {
        "registered" => format!("registered ({id}, {})", result.status),
        "already" => format!("already registered ({id}, {})", result.status),
        _ => format!(
            "refused ({}): {}",
            result.status,
            result.problem.as_deref().unwrap_or("no reason given")
        ),
    }
}

/// Exit 8 when the portal refused some licenses (each was named on its own line).
fn refusals(refused: usize, total: usize) -> Result<(), Failure> {
    if refused == 0 {
        return Ok(());
    }
    Err(Failure::new(
        Exit::Refused,
        format!(
            "the portal refused {refused} of {total} licenses (listed above); the others are registered"
        ),
    ))
}

/// Reads a file that the parser caps itself: one byte past the cap is enough for it to say
/// "too large" without reading a huge file whole.
fn read_for_parser(path: &Path, cap: usize) -> Result<Vec<u8>, Failure> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| Failure::io(path, e))?;
    let mut bytes = Vec::new();
    file.take(cap as u64 + 1).read_to_end(&mut bytes).map_err(|e| Failure::io(path, e))?;
    Ok(bytes)
}

/// The largest audit export read (a million entries is ~250 MB of JSON lines).
const MAX_AUDIT_EXPORT: usize = 2 * 1024 * 1024 * 1024;

fn audit_verify(file: &Path, trust: &[std::path::PathBuf]) -> Result<u8, Failure> {
    use std::io::BufRead;
    use tessera_core::ledger::{self, Export};
    let trust = load_trust(trust)?;
    let opened = std::fs::File::open(file).map_err(|e| Failure::io(file, e))?;
    if opened.metadata().map(|m| m.len()).unwrap_or(0) > MAX_AUDIT_EXPORT as u64 {
        return Err(Failure::new(
            Exit::Input,
            format!("{}: larger than an audit export can be", file.display()),
        ));
    }
    let lines = std::io::BufReader::new(opened)
        .lines()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Failure::io(file, e))?;
    let export = Export::from_lines(&lines)
        .map_err(|e| Failure::new(Exit::Input, format!("{} {e}", file.display())))?;
    match ledger::verify(&export, &trust) {
        Ok(verified) => {
            emit(&format!(
                "sound: {} entries, {} signed heads; {} entries after the last signed head\n",
                verified.entries, verified.heads, verified.unsigned_tail
            ))?;
            if verified.starts_after > 0 {
                emit(&format!(
                    "the chain starts after the signed checkpoint at entry {}: older entries were cut at retention\n",
                    verified.starts_after
                ))?;
            }
            Ok(0)
        }
        Err(e) => Err(Failure::new(Exit::Tampered, format!("{}: {e}", file.display()))),
    }
}

fn load_trust(paths: &[std::path::PathBuf]) -> Result<TrustSet, Failure> {
    let mut trust = TrustSet::new();
    for path in paths {
        let bytes = read_capped(path, MAX_TRUST_FILE_LEN).map_err(|e| Failure::io(path, e))?;
        let set = TrustSet::parse(&bytes).map_err(|e| {
            Failure::new(Exit::Input, format!("trust file {}: {e}", path.display()))
        })?;
        trust.extend(set).map_err(|e| {
            Failure::new(Exit::Input, format!("trust file {}: {e}", path.display()))
        })?;
    }
    Ok(trust)
}

fn verify(args: VerifyArgs) -> Result<u8, Failure> {
    let trust = load_trust(&args.trust)?;
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
    let bytes = read_for_parser(&args.file, MAX_ARMORED_LEN)?;
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
    let bytes = read_for_parser(path, MAX_ARMORED_LEN)?;
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
    std::fs::create_dir_all(out_dir).map_err(|e| Failure::io(out_dir, e))?;
    let command = Cli::command();
    let mut pages = vec![("tessera".to_owned(), command.clone())];
    for sub in command.get_subcommands() {
        let name = format!("tessera-{}", sub.get_name());
        pages.push((name.clone(), sub.clone().name(name)));
    }
    for (name, page) in pages {
        let path = out_dir.join(format!("{name}.1"));
        let mut text = Vec::new();
        clap_mangen::Man::new(page).render(&mut text).map_err(|e| Failure::io(&path, e))?;
        std::fs::write(&path, text).map_err(|e| Failure::io(&path, e))?;
    }
    emit(&format!("man pages written to {}\n", out_dir.display()))?;
    Ok(0)
}
