//! `tessera-portal`: parses the command line, loads settings, runs the portal library.

mod cli;
mod error;

// Many small allocations per request across worker threads: mimalloc's thread-local heaps
// cost less CPU per ping than glibc malloc (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use tessera_core::time::{Clock, SystemClock, UnixTime};
use tessera_portal::app::Portal;
use tessera_portal::config::{Layer, LogFormat, Settings};
use tessera_portal::domain::Store;
use tessera_portal::domain::{accounts, apikeys};
use tessera_portal::{http, startup};

use crate::cli::{ApiKeyCommand, Cli, Command, OrgCommand, StoreArgs, UserCommand};
use crate::error::{Exit, Failure};

fn fail(exit: Exit, message: impl std::fmt::Display) -> Failure {
    Failure::new(exit, message)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tessera_process::run("tessera-portal", || {
        // mimalloc asks for transparent huge pages; under load it gives memory back and
        // takes it again, and each time the kernel zeroes a whole 2 MiB page: several % of
        // the CPU per ping (BENCHMARKS.md). Small pages cost less here. Best effort: only a
        // tuning.
        #[cfg(target_os = "linux")]
        let _ = rustix::thread::disable_transparent_huge_pages(true);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| fail(Exit::Runtime, format!("cannot start the async runtime: {e}")))?;
        runtime.block_on(run(cli)).map(|()| 0)
    })
}

fn settings(args: &StoreArgs) -> Result<Settings, Failure> {
    let file = match &args.config {
        Some(path) => Layer::from_file(path)?,
        None => Layer::default(),
    };
    Ok(args.layer().over(file).resolve()?)
}

fn init_logging(format: LogFormat) {
    let builder = tessera_process::logging::logs("info");
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

async fn open_store(settings: &Settings) -> Result<Store, Failure> {
    startup::private_data_dir(&settings.data_dir).map_err(|e| {
        fail(Exit::Config, format!("data directory {}: {e}", settings.data_dir.display()))
    })?;
    Ok(Store::open(settings.database_url.expose()).await?)
}

/// The store for a command that changes something, tagging its ledger entries as the
/// running portal does (refused when it cannot, once the ledger has been signed).
async fn open_store_to_change(settings: &Settings) -> Result<Store, Failure> {
    let store = open_store(settings).await?;
    tessera_portal::cli_signing::store_for_changes(settings, store)
        .map_err(|e| fail(Exit::Config, e))
}

async fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Serve(args) => serve(settings(&args)?).await,
        Command::Rollup(args) => {
            let settings = settings(&args)?;
            let store = open_store(&settings).await?;
            let report = store.rollup(SystemClock.now()).await?;
            println!(
                "rolled {} day rows ({} pings) into months",
                report.days_rolled, report.pings_moved
            );
            Ok(())
        }
        Command::ReceiptKey(args) => {
            let settings = settings(&args)?;
            startup::private_data_dir(&settings.data_dir).map_err(|e| {
                fail(Exit::Config, format!("data directory {}: {e}", settings.data_dir.display()))
            })?;
            let key = startup::receipt_key(
                &settings.data_dir,
                settings.receipt_key_file.as_deref(),
                settings.receipt_key_passphrase_file.as_deref(),
            )
            .map_err(|e| fail(Exit::Config, e))?;
            println!("{}\nkey id: {}", key.public_key(), key.key_id());
            // What a tlog witness is configured with to cosign the ledger's checkpoints.
            if let Some(text) =
                settings.ledger_delegation.as_ref().and_then(|p| std::fs::read_to_string(p).ok())
            {
                let origin =
                    tessera_core::ledger::origin_named(&text, settings.ledger_name.as_deref());
                let vkey = tessera_core::ledger::note_verifier_key(&origin, key.public_key());
                println!("ledger origin: {origin}\nledger checkpoint key: {vkey}");
            }
            println!(
                "public key file: {}",
                settings.data_dir.join(startup::RECEIPT_PUB_FILE).display()
            );
            Ok(())
        }
        Command::ApiKey(command) => api_key(command).await,
        Command::User(command) => user(command).await,
        Command::Backup { out, recipient, store } => {
            let settings = settings(&store)?;
            let opened = open_store(&settings).await?;
            let report =
                tessera_portal::backup::backup(&opened, &settings.data_dir, &out, &recipient)
                    .await
                    .map_err(backup_failure)?;
            println!(
                "wrote {} ({} bytes of database, encrypted to {})",
                out.display(),
                report.snapshot_bytes,
                recipient.trim()
            );
            Ok(())
        }
        Command::Restore { file, identity, data_dir } => {
            let data_dir = data_dir.unwrap_or_else(|| std::path::PathBuf::from("."));
            startup::private_data_dir(&data_dir).map_err(|e| {
                fail(Exit::Config, format!("data directory {}: {e}", data_dir.display()))
            })?;
            let bytes = tessera_portal::backup::restore(&file, &identity, &data_dir)
                .map_err(backup_failure)?;
            println!(
                "restored {bytes} bytes into {}; put back receipt.key (or make a new one and have it delegated) before serving",
                data_dir.join("portal.db").display()
            );
            Ok(())
        }
        Command::Org(command) => org(command).await,
    }
}

/// A password from standard input (one line) when it is not a terminal; else asked for
/// twice on the terminal.
fn read_password() -> Result<accounts::Password, Failure> {
    use std::io::{BufRead, IsTerminal};
    if !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| fail(Exit::Usage, format!("reading the password from stdin: {e}")))?;
        return Ok(accounts::Password::new(line.trim_end_matches(['\r', '\n'])));
    }
    let first = rpassword::prompt_password("Password: ")
        .map_err(|e| fail(Exit::Usage, format!("reading the password: {e}")))?;
    let second = rpassword::prompt_password("Password again: ")
        .map_err(|e| fail(Exit::Usage, format!("reading the password: {e}")))?;
    if first != second {
        return Err(fail(Exit::Usage, "the two passwords differ"));
    }
    Ok(accounts::Password::new(first))
}

fn backup_failure(e: tessera_portal::backup::BackupError) -> Failure {
    use tessera_portal::backup::BackupError;
    let exit = match &e {
        BackupError::Recipient(_) | BackupError::Identity { .. } => Exit::Usage,
        BackupError::NotSqlite | BackupError::NotEmpty(_) => Exit::Config,
        BackupError::Store(_) => Exit::Database,
        _ => Exit::Runtime,
    };
    fail(exit, e)
}

fn account_failure(e: accounts::AccountError) -> Failure {
    match e {
        accounts::AccountError::Store(e) => e.into(),
        other => fail(Exit::Usage, other),
    }
}

async fn user(command: UserCommand) -> Result<(), Failure> {
    let now = SystemClock.now();
    match command {
        UserCommand::Create { role, email, name, org, store } => {
            let role: accounts::Role = role.parse().map_err(account_failure)?;
            let settings = settings(&store)?;
            let store = open_store_to_change(&settings).await?;
            let org_id = match &org {
                Some(name) => Some(
                    store
                        .organization_named(name)
                        .await?
                        .ok_or_else(|| {
                            fail(
                                Exit::Usage,
                                format!("no organization {name:?} (tessera-portal org create)"),
                            )
                        })?
                        .id,
                ),
                None => None,
            };
            let password = read_password()?;
            let new = accounts::NewUser {
                email: &email,
                name: &name,
                role,
                org_id: org_id.as_deref(),
                password: &password,
            };
            let user = accounts::create_user(&store, &new, now).await.map_err(account_failure)?;
            sign_change(&settings, &store).await;
            println!("created {} {} ({})", user.role, user.email, user.id);
            Ok(())
        }
        UserCommand::Unlock { email, store } => {
            let settings = settings(&store)?;
            let store = open_store_to_change(&settings).await?;
            let user = find_user(&store, &email).await?;
            accounts::clear_signin_delays(&store, &user).await.map_err(account_failure)?;
            cli_record(&store, "user.unlocked", &user).await?;
            sign_change(&settings, &store).await;
            println!("{}: sign-in delays cleared", user.email);
            Ok(())
        }
        UserCommand::ResetSecondFactor { email, store } => {
            let settings = settings(&store)?;
            let store = open_store_to_change(&settings).await?;
            let user = find_user(&store, &email).await?;
            let ended =
                accounts::reset_second_factor(&store, &user).await.map_err(account_failure)?;
            cli_record(&store, "user.second_factor_reset", &user).await?;
            sign_change(&settings, &store).await;
            println!("{}: two-step sign-in is off, {ended} sessions ended", user.email);
            Ok(())
        }
        UserCommand::SignOut { email, store } => {
            let settings = settings(&store)?;
            let store = open_store_to_change(&settings).await?;
            let user = find_user(&store, &email).await?;
            let ended = accounts::end_sessions_of(&store, &user).await.map_err(account_failure)?;
            cli_record(&store, "user.signed_out_everywhere", &user).await?;
            sign_change(&settings, &store).await;
            println!("{}: {ended} sessions ended", user.email);
            Ok(())
        }
    }
}

/// Signs the change just made at the command line, as the running portal would (the
/// witness file's rule, the same witnesses): a refusal is said on stderr and the change
/// stays made (docs/OPERATIONS.md).
async fn sign_change(settings: &Settings, store: &Store) {
    use tessera_portal::domain::ledger_signing::Signing;
    let signed =
        tessera_portal::cli_signing::sign_after_change(settings, store, SystemClock.now()).await;
    match signed {
        Ok(Some(Signing::Refused(why))) => eprintln!(
            "warning: the change is recorded in the audit ledger but its checkpoint is NOT signed: {why} (docs/OPERATIONS.md)"
        ),
        Err(e) => eprintln!(
            "warning: the change is recorded in the audit ledger but its checkpoint is not signed: {e}"
        ),
        Ok(_) => {}
    }
}

/// Records a change made at the command line to a person's account.
async fn cli_record(store: &Store, action: &str, user: &accounts::UserRow) -> Result<(), Failure> {
    use tessera_portal::domain::audit::{Actor, record};
    let org = user.org_id.as_deref();
    Ok(record(store, &Actor::CommandLine, action, &user.id, org, SystemClock.now()).await?)
}

async fn find_user(store: &Store, email: &str) -> Result<accounts::UserRow, Failure> {
    let found = accounts::person_by_email(store, email).await.map_err(account_failure)?;
    found.ok_or_else(|| fail(Exit::Usage, format!("no account with the email {email:?}")))
}

async fn org(command: OrgCommand) -> Result<(), Failure> {
    match command {
        OrgCommand::Create { name, store } => {
            let settings = settings(&store)?;
            let store = open_store_to_change(&settings).await?;
            let org = accounts::create_organization(&store, &name, SystemClock.now())
                .await
                .map_err(account_failure)?;
            sign_change(&settings, &store).await;
            println!("created organization {:?} ({})", org.name, org.id);
            Ok(())
        }
    }
}

async fn api_key(command: ApiKeyCommand) -> Result<(), Failure> {
    let now = SystemClock.now();
    match command {
        ApiKeyCommand::Create { scope, label, expires, store } => {
            let scopes = apikeys::parse_scopes(&scope)
                .map_err(|e| fail(Exit::Usage, format!("--scope: {e}")))?;
            let expires = expires
                .map(|text| {
                    UnixTime::parse_end(&text)
                        .map_err(|e| fail(Exit::Usage, format!("--expires: {e}")))
                })
                .transpose()?;
            let settings = settings(&store)?;
            let store = open_store_to_change(&settings).await?;
            let key = apikeys::create(&store, &scopes, &label, expires, now)
                .await
                .map_err(|e| fail(Exit::Config, e))?;
            sign_change(&settings, &store).await;
            println!("{}", key.expose());
            eprintln!(
                "API key {} with scopes {}: shown once, only its hash is stored",
                key.row.id, key.row.scopes
            );
            Ok(())
        }
        ApiKeyCommand::List { store } => {
            let settings = settings(&store)?;
            let store = open_store(&settings).await?;
            for key in apikeys::all(&store).await? {
                let state = match (key.revoked_at, key.expires_at) {
                    (Some(_), _) => "revoked".to_owned(),
                    (None, Some(t)) if t < now.as_unix() => "expired".to_owned(),
                    (None, Some(t)) => format!(
                        "expires {}",
                        UnixTime::from_unix(t).map(|t| t.to_string()).unwrap_or_default()
                    ),
                    (None, None) => "active".to_owned(),
                };
                println!("{}  {:<18} {:<20} {}", key.id, key.scopes, state, key.label);
            }
            Ok(())
        }
        ApiKeyCommand::Revoke { id, store } => {
            let settings = settings(&store)?;
            let store = open_store_to_change(&settings).await?;
            let actor = tessera_portal::domain::audit::Actor::CommandLine;
            if apikeys::revoke(&store, &actor, &id, now).await? {
                sign_change(&settings, &store).await;
                println!("revoked {id}");
                Ok(())
            } else {
                Err(fail(Exit::Config, format!("no active API key {id:?}")))
            }
        }
    }
}

async fn serve(settings: Settings) -> Result<(), Failure> {
    init_logging(settings.log_format);
    let listener = std::net::TcpListener::bind(settings.listen)
        .map_err(|e| fail(Exit::Config, format!("cannot listen on {}: {e}", settings.listen)))?;
    let address = listener.local_addr().map_err(|e| fail(Exit::Runtime, e))?;
    let tls = settings.tls.clone();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let portal = Portal::start(settings, clock).await?;
    // Before the address is announced: a SIGTERM right after start stops the portal
    // gracefully instead of killing it.
    let shutdown = tessera_http_server::shutdown_signal().map_err(|e| fail(Exit::Runtime, e))?;
    let missing = portal.missing();
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(%address, scheme, ready = missing.is_empty(), receipt_key = %portal.receipt_key.key_id(), "portal listening");
    // Tests and scripts read the bound address (useful with port 0) from this line.
    println!("listening on {address}");
    let tls = match tls {
        Some((cert, key)) => {
            Some(http::tls_config(&cert, &key).map_err(|e| fail(Exit::Config, e))?)
        }
        None => None,
    };
    let runtime = |e| fail(Exit::Runtime, e);
    listener.set_nonblocking(true).map_err(runtime)?;
    let listener = tokio::net::TcpListener::from_std(listener).map_err(runtime)?;
    http::serve(portal.clone(), listener, tls, shutdown).await.map_err(runtime)?;
    // The entries of the last minutes are signed before the portal goes.
    if let Err(e) = portal.sign_ledger_head().await {
        tracing::error!(error = %e, "signing the audit ledger's checkpoint at shutdown failed");
    }
    tracing::info!("portal stopped");
    Ok(())
}
