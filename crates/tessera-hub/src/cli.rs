//! The command line, as clap sees it. No logic here.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Tessera hub agent: fingerprint this host, activate the license, keep it validated, serve
/// runners.
///
/// Exit codes: 0 success (and `valid`/`grace` for `status`); 1 internal error; 2 usage
/// error; 3 state directory or file problem; 5 invalid input (trust set, request, answer);
/// 7 portal unreachable; 8 portal refused the call; 10 and up: a status other than `valid`
/// or `grace` (see docs/HUB.md).
#[derive(Debug, Parser)]
#[command(name = "tessera-hub", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// The hub's state directory (license, hub key, receipts; mode 0700). Default:
    /// /var/lib/tessera-hub as root, else $XDG_STATE_HOME/tessera-hub or
    /// ~/.local/state/tessera-hub.
    #[arg(long, global = true, value_name = "DIR", env = "TESSERA_HUB_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// This host's fingerprint secret (made there the first time; keep it with the machine,
    /// outside the state directory). Default: /var/lib/tessera-host/host.secret as root, else
    /// $XDG_DATA_HOME/tessera-host/host.secret or ~/.local/share/tessera-host/host.secret.
    #[arg(long, global = true, value_name = "FILE", env = "TESSERA_HUB_HOST_SECRET")]
    pub host_secret: Option<PathBuf>,
    /// Allow a plain http:// portal on another machine (receipts still verify, but a proxy
    /// sees every call); https, or http to this machine, needs no flag.
    #[arg(long, global = true)]
    pub insecure_http: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show this host's fingerprint: component names, their keyed hashes, what is missing.
    Fingerprint(FingerprintArgs),
    /// Activate the license: online with the portal, or by installing an offline activation.
    Activate(ActivateArgs),
    /// Write an offline activation request to carry to the vendor.
    ActivationRequest(RequestArgs),
    /// Run the daemon: ping the portal on schedule, keep grace, serve runners.
    Run(RunArgs),
    /// Ping the portal once, now, and print the receipt's status (the daemon does this on
    /// its schedule).
    Ping {
        /// Print one JSON object (the hub's status after the ping).
        #[arg(long)]
        json: bool,
    },
    /// Print the hub's status, license, last good receipt, grace left and runners leased.
    Status {
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Make a runner enrollment token (printed once; only its hash is kept). It enrolls one
    /// runner and is then used up.
    RunnerToken,
    /// Answer a runner's request file (`tessera-runner request`) with a bundle and a lease,
    /// to install by hand where the runner cannot reach the hub.
    Bundle(BundleArgs),
    /// List the enrolled runners, or give a runner's slot back.
    #[command(subcommand)]
    Runners(RunnersCommand),
    /// Export the portal's audit ledger heads this hub received in receipts (the newest of
    /// each day for a year), as a file `tessera audit verify --witness` reads.
    AuditHeads(AuditHeadsArgs),
}

#[derive(Debug, Args)]
pub struct AuditHeadsArgs {
    /// Where to write them (`-` for standard output).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Replace FILE if it exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum RunnersCommand {
    /// Every enrolled runner: key id, label, slot, whether a copy of it was seen.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Clear the mark of a copy seen, so the runner may lease again, by its key id. Its slot
    /// stays counted until its lease ends or the runner gives it back.
    Release {
        /// The runner's key id (from `tessera-hub runners list`).
        key_id: String,
    },
    /// Remove a runner that holds no lease: its key must enroll again with a new runner
    /// token.
    Forget {
        /// The runner's key id.
        key_id: String,
    },
}

#[derive(Debug, Args)]
pub struct FingerprintArgs {
    /// The product whose key the components are hashed with; defaults to the installed
    /// license's product.
    #[arg(long, value_name = "PRODUCT")]
    pub product: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TrustArg {
    /// The vendor trust set (public keys); defaults to the one built into this hub.
    #[arg(long, value_name = "FILE", env = "TESSERA_HUB_TRUST")]
    pub trust: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ActivateArgs {
    /// The license file to activate online.
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "offline",
        conflicts_with = "offline"
    )]
    pub license: Option<PathBuf>,
    /// The portal's base URL; defaults to the license's portal URL.
    #[arg(long, value_name = "URL", conflicts_with = "offline")]
    pub portal: Option<String>,
    /// Install the vendor's answer to this hub's offline activation request instead.
    #[arg(long, value_name = "ACTIVATION")]
    pub offline: Option<PathBuf>,
    #[command(flatten)]
    pub trust: TrustArg,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RequestArgs {
    /// The license file.
    #[arg(long, value_name = "FILE")]
    pub license: PathBuf,
    /// Where to write the request (`-` for standard output, to paste as text).
    #[arg(long, value_name = "REQUEST")]
    pub out: PathBuf,
    #[command(flatten)]
    pub trust: TrustArg,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Where runners reach this hub.
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:7480",
        env = "TESSERA_HUB_RUNNER_LISTEN"
    )]
    pub runner_listen: SocketAddr,
    /// How long a runner's lease lasts unless renewed (e.g. 10m).
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = humantime::parse_duration)]
    pub lease_ttl: std::time::Duration,
    /// The local status socket for the vendor's hub application (mode 0660: the hub's user
    /// and group). Default: status.sock in the state directory.
    #[arg(long, value_name = "PATH", env = "TESSERA_HUB_STATUS_SOCKET")]
    pub status_socket: Option<PathBuf>,
    /// Runner API connections open at once.
    #[arg(long, value_name = "N", default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Runner API connections open at once from one address (raise it when many runners
    /// share one address, behind NAT).
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections_per_address: u32,
}

#[derive(Debug, Args)]
pub struct BundleArgs {
    /// The runner's request file (`tessera-runner request --out FILE`).
    #[arg(long, value_name = "FILE")]
    pub request: PathBuf,
    /// How long the lease lasts (e.g. 30d); the runner needs a new bundle after it.
    #[arg(long, value_name = "DURATION", default_value = "30d", value_parser = humantime::parse_duration)]
    pub lease_ttl: std::time::Duration,
    /// Where to write the bundle (JSON).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}
