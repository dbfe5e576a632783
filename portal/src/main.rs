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
use tessera_portal::domain::apikeys;
use tessera_portal::store::Store;
use tessera_portal::{http, startup};

use crate::cli::{ApiKeyCommand, Cli, Command, StoreArgs};
use crate::error::{Exit, Failure};

fn fail(exit: Exit, message: impl std::fmt::Display) -> Failure {
    Failure::new(exit, message)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tessera_bin::run("tessera-portal", || {
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
    let filter = tracing_subscriber::EnvFilter::try_from_env("TESSERA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
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
            let key = startup::load_or_create_receipt_key(&settings.data_dir)
                .map_err(|e| fail(Exit::Config, e))?;
            println!("{}\nkey id: {}", key.public_key(), key.key_id());
            println!(
                "public key file: {}",
                settings.data_dir.join(startup::RECEIPT_PUB_FILE).display()
            );
            Ok(())
        }
        Command::ApiKey(command) => api_key(command).await,
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
            let store = open_store(&settings(&store)?).await?;
            let key = apikeys::create(&store, &scopes, &label, expires, now)
                .await
                .map_err(|e| fail(Exit::Config, e))?;
            println!("{}", key.expose());
            eprintln!(
                "API key {} with scopes {}: shown once, only its hash is stored",
                key.row.id, key.row.scopes
            );
            Ok(())
        }
        ApiKeyCommand::List { store } => {
            let store = open_store(&settings(&store)?).await?;
            for key in store.list_api_keys().await? {
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
            let store = open_store(&settings(&store)?).await?;
            if store.revoke_api_key(&id, now).await? {
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
    let shutdown = tessera_serve::shutdown_signal().map_err(|e| fail(Exit::Runtime, e))?;
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
    http::serve(portal, listener, tls, shutdown).await.map_err(runtime)?;
    tracing::info!("portal stopped");
    Ok(())
}
