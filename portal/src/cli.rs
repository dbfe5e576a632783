//! The `tessera-portal` command line, as clap sees it. No logic here.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use tessera_portal::config::{DatabaseUrl, Layer, LogFormat};

/// Tessera portal: activations and hourly pings from hubs, signed receipts, usage counts.
///
/// Settings come from flags, then TESSERA_* environment variables, then the --config TOML
/// file, then defaults (docs/OPERATIONS.md lists them all). Exit codes: 0 success, 1
/// runtime failure, 2 usage error, 3 configuration error, 4 database error.
#[derive(Debug, Parser)]
#[command(name = "tessera-portal", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the hub and admin APIs until SIGTERM or Ctrl-C.
    Serve(Box<StoreArgs>),
    /// Roll per-day ping counts older than 90 days into monthly counts, now.
    Rollup(Box<StoreArgs>),
    /// Manage admin API keys.
    #[command(subcommand)]
    ApiKey(ApiKeyCommand),
    /// Manage the people who sign in to the web pages.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage customer organizations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Write an encrypted backup of the SQLite store while the portal serves (for PostgreSQL,
    /// pg_dump piped through age: docs/OPERATIONS.md).
    Backup {
        /// The backup file to write (encrypted).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// The age public key (age1…) to encrypt to; its identity is kept off the portal.
        #[arg(long, value_name = "AGE_PUBLIC_KEY")]
        recipient: String,
        #[command(flatten)]
        store: Box<StoreArgs>,
    },
    /// Restore a backup into an empty data directory (as its portal.db).
    Restore {
        /// The backup file.
        file: PathBuf,
        /// The age identity file (AGE-SECRET-KEY-1…) the backup was encrypted to.
        #[arg(long, value_name = "FILE")]
        identity: PathBuf,
        /// The data directory to restore into [default: .].
        #[arg(long, env = "TESSERA_DATA_DIR", value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Print the receipt key's public key (making the key on first use), for `tessera delegate`.
    ReceiptKey(Box<StoreArgs>),
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Make a key and print it once; only its SHA-256 is stored.
    Create {
        /// Comma-separated scopes: read, write, revoke.
        #[arg(long, value_name = "SCOPES")]
        scope: String,
        /// A note saying who or what uses the key.
        #[arg(long, default_value = "")]
        label: String,
        /// Last day the key works (YYYY-MM-DD or RFC 3339).
        #[arg(long, value_name = "DATE")]
        expires: Option<String>,
        #[command(flatten)]
        store: Box<StoreArgs>,
    },
    /// List keys (never their secrets).
    List {
        #[command(flatten)]
        store: Box<StoreArgs>,
    },
    /// Revoke a key by its id.
    Revoke {
        /// The key id (the 16 hex digits after `tsk_`).
        id: String,
        #[command(flatten)]
        store: Box<StoreArgs>,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Make an account. The password is read from standard input when it is not a terminal
    /// (one line), else asked for twice; never from an argument.
    Create {
        /// super-admin (the vendor's staff) or org-admin (a customer's administrator).
        #[arg(long)]
        role: String,
        #[arg(long)]
        email: String,
        /// The person's name as shown in the portal.
        #[arg(long)]
        name: String,
        /// The organization's name (org-admin only).
        #[arg(long, value_name = "NAME")]
        org: Option<String>,
        #[command(flatten)]
        store: Box<StoreArgs>,
    },
    /// Clear the sign-in delays that failed attempts put on an account.
    Unlock {
        #[arg(long)]
        email: String,
        #[command(flatten)]
        store: Box<StoreArgs>,
    },
    /// Turn off an account's two-step sign-in (a person who lost their authenticator and
    /// recovery codes, such as a sole super-admin); ends their sessions.
    ResetSecondFactor {
        #[arg(long)]
        email: String,
        #[command(flatten)]
        store: Box<StoreArgs>,
    },
    /// End every session of an account (sign out everywhere).
    SignOut {
        #[arg(long)]
        email: String,
        #[command(flatten)]
        store: Box<StoreArgs>,
    },
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Make an organization; unassigned licenses whose org claim is exactly its name become
    /// its own.
    Create {
        /// The name, exactly as licenses give it in their org claim.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        store: Box<StoreArgs>,
    },
}

#[derive(Debug, Args, Clone)]
pub struct StoreArgs {
    /// A TOML config file.
    #[arg(long, env = "TESSERA_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "TESSERA_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Directory for the SQLite store and the receipt key [default: .].
    #[arg(long, env = "TESSERA_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// postgres://… to use PostgreSQL instead of the SQLite file in the data directory.
    #[arg(long, env = "TESSERA_DATABASE_URL", value_name = "URL", hide_env_values = true)]
    pub database_url: Option<DatabaseUrl>,
    /// The vendor's public keys (trust files); repeat for several.
    #[arg(long, env = "TESSERA_TRUST", value_name = "FILE", value_delimiter = ',')]
    pub trust: Vec<PathBuf>,
    /// The vendor-signed delegation of this portal's receipt key (`tessera delegate`).
    #[arg(long, env = "TESSERA_DELEGATION", value_name = "FILE")]
    pub delegation: Option<PathBuf>,
    /// The vendor-signed ledger delegation of the receipt key (`tessera delegate --ledger`),
    /// to sign the audit ledger's heads.
    #[arg(long, env = "TESSERA_LEDGER_DELEGATION", value_name = "FILE")]
    pub ledger_delegation: Option<PathBuf>,
    /// A directory (backup or WORM storage) that receives a file per signed ledger
    /// checkpoint.
    #[arg(long, env = "TESSERA_LEDGER_CHECKPOINT_DIR", value_name = "DIR")]
    pub ledger_checkpoint_dir: Option<PathBuf>,
    /// PEM certificate chain: serve HTTPS directly (with --tls-key).
    #[arg(long, env = "TESSERA_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, env = "TESSERA_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Log format.
    #[arg(long, env = "TESSERA_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
}

impl StoreArgs {
    /// The flag-and-environment layer of the settings.
    pub fn layer(&self) -> Layer {
        Layer {
            listen: self.listen,
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            trust: self.trust.clone(),
            delegation: self.delegation.clone(),
            ledger_delegation: self.ledger_delegation.clone(),
            ledger_checkpoint_dir: self.ledger_checkpoint_dir.clone(),
            tls_cert: self.tls_cert.clone(),
            tls_key: self.tls_key.clone(),
            log_format: self.log_format,
            ..Layer::default()
        }
    }
}
