//! The command line, as clap sees it. No logic here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use clap_complete::Shell;

/// Tessera vendor CLI: make signing keys, issue and check license files.
///
/// Exit codes: 0 success (and `valid`); 1 internal error; 2 usage error; 3 file not found or
/// unreadable; 4 key or passphrase problem; 5 invalid input (date, CSV row, trust file,
/// claim); 6 refused to overwrite an existing file; 10 and up: a license status other than
/// `valid` (see `docs/CLI.md`).
#[derive(Debug, Parser)]
#[command(name = "tessera", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Make a new signing key pair: DIR/signing.key (secret, mode 0600) and DIR/signing.pub.
    Keygen(KeygenArgs),
    /// Sign a license file, or one per row of a CSV file with --batch.
    Issue(Box<IssueArgs>),
    /// Check a license file against trusted public keys and print its status and claims.
    Verify(VerifyArgs),
    /// Show a license file's claims without checking them (marked UNVERIFIED).
    Inspect(InspectArgs),
    /// Print the public key (and key id) of a secret key file.
    Pubkey(PubkeyArgs),
    /// Certify a portal's receipt key with a vendor signing key (a signed delegation).
    Delegate(DelegateArgs),
    /// Answer a hub's offline activation request with a signed activation for that host.
    ActivateOffline(ActivateOfflineArgs),
    /// Upload issued licenses to a portal (it stores only their terms and key hashes).
    Register(RegisterArgs),
    /// The portal's audit ledger, checked offline.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Run the whole job once in a temporary directory: key, license, verification.
    Demo,
    /// Print a shell completion script.
    Completions {
        /// The shell to complete for.
        shell: Shell,
    },
    /// Write man pages for tessera and each subcommand.
    Man {
        /// Directory to write the pages into (created if missing).
        #[arg(long, value_name = "DIR")]
        out_dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check an export of the portal's audit ledger (GET /v1/admin/audit): every entry's
    /// hash, every checkpoint's signature against the vendor's delegation of the key that
    /// signed it (valid when it was signed) and its root against the Merkle tree of the
    /// entries, and that every entry is under the newest checkpoint. Exit 0 when sound;
    /// each kind of fault has its own code (docs/CLI.md).
    Verify {
        /// The export (JSON lines).
        file: PathBuf,
        /// The vendor's public key or trust file; repeat for several.
        #[arg(long, value_name = "FILE", required = true)]
        trust: Vec<PathBuf>,
        /// An earlier export, or the portal's witness file: the ledger must extend its newest
        /// checkpoint (the same first entries, only new ones after them).
        #[arg(long, value_name = "FILE")]
        since: Option<PathBuf>,
        /// Checkpoints a witness kept: the portal's checkpoint directory, a file of
        /// checkpoint lines, or an export. The ledger must extend each one not older than
        /// its retention cut.
        #[arg(long, value_name = "FILE|DIR")]
        witness: Option<PathBuf>,
    },
    /// Check a proof the portal served (GET /v1/admin/audit/inclusion or /consistency): its
    /// checkpoint is one of EXPORT's and signed by a key the vendor delegated; an inclusion
    /// proof leads from the entry it carries to that checkpoint's root; a consistency proof
    /// from the checkpoint of the earlier size in --since. Exit 0 when it holds (docs/CLI.md).
    Proof {
        /// The proof (text).
        file: PathBuf,
        /// The vendor's public key or trust file; repeat for several.
        #[arg(long, value_name = "FILE", required = true)]
        trust: Vec<PathBuf>,
        /// An export of the ledger (GET /v1/admin/audit) taken after the proof: its
        /// checkpoints and delegations vouch for the proof's checkpoint.
        #[arg(long, value_name = "FILE")]
        export: PathBuf,
        /// For a consistency proof: an earlier export, witness file, checkpoint directory or
        /// a hub's heads holding the checkpoint of the earlier size.
        #[arg(long, value_name = "FILE|DIR")]
        since: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Directory for signing.key and signing.pub (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,
    /// Store the secret key unencrypted (otherwise a passphrase is read from
    /// TESSERA_PASSPHRASE or asked for).
    #[arg(long)]
    pub no_passphrase: bool,
    /// Replace existing key files.
    #[arg(long)]
    pub force: bool,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("mode").required(true).args(["out", "batch"])))]
pub struct IssueArgs {
    /// The secret signing key file (see `tessera keygen`).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,

    #[command(flatten)]
    pub terms: TermsArgs,

    /// Write the license to FILE.
    #[arg(long, value_name = "FILE", requires_all = ["org", "product", "runners", "expires"])]
    pub out: Option<PathBuf>,

    /// Issue one license per row of a CSV file (header: org,product,runners,expires and
    /// optionally not_before,terminates,features,grace_days,ping_interval,portal_url,order_id).
    /// Options given on the command line are defaults for empty cells.
    #[arg(long, value_name = "CSV", requires = "out_dir", conflicts_with = "out")]
    pub batch: Option<PathBuf>,

    /// Directory for the licenses and manifest.csv of a batch.
    #[arg(long, value_name = "DIR", requires = "batch")]
    pub out_dir: Option<PathBuf>,

    /// Replace an existing --out file.
    #[arg(long)]
    pub force: bool,

    /// Also register what was issued with this portal (see `tessera register`).
    #[arg(long, value_name = "URL")]
    pub register: Option<String>,

    /// A file holding the admin API key for --register (scope write), `-` for standard
    /// input; without it the key comes from the TESSERA_API_KEY environment variable. The
    /// key itself is never an argument: other users can read the process list.
    #[arg(long, value_name = "FILE", requires = "register")]
    pub api_key_file: Option<PathBuf>,

    /// Allow a plain http:// --register URL to another machine (the API key travels in
    /// the clear).
    #[arg(long, requires = "register")]
    pub insecure_http: bool,

    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DelegateArgs {
    /// The vendor's secret signing key file.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The portal's receipt public key file (`receipt.pub` in its data directory).
    #[arg(long, value_name = "FILE")]
    pub portal_key: PathBuf,
    /// Where to write the delegation.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// How many days the delegation is valid.
    #[arg(long, value_name = "DAYS", default_value_t = 365)]
    pub valid_days: u32,
    /// First day of validity (YYYY-MM-DD or RFC 3339); defaults to now.
    #[arg(long, value_name = "DATE")]
    pub not_before: Option<String>,
    /// Let the key sign the heads of the portal's audit ledger (a LEDGER DELEGATION, the
    /// portal's --ledger-delegation) instead of receipts.
    #[arg(long)]
    pub ledger: bool,
    /// Replace an existing --out file.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ActivateOfflineArgs {
    /// The request file the hub wrote (`tessera-hub activation-request`).
    #[arg(value_name = "REQUEST")]
    pub request: PathBuf,
    /// The vendor's secret signing key file.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Where to write the activation.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// How many days the hub may run on this activation without a portal.
    #[arg(long, value_name = "DAYS", default_value_t = 365)]
    pub valid_days: u32,
    /// The license file the request is for: read to learn whether the portal counts its
    /// runners (`runner_countersign`), which an air-gapped hub's are not.
    #[arg(long, value_name = "FILE", required_unless_present = "uncounted_runners")]
    pub license: Option<PathBuf>,
    /// Answer a license whose runners the portal counts (`runner_countersign`): the
    /// air-gapped hub's leases are not counted (they stand alone, bounded by the
    /// activation's window).
    #[arg(long)]
    pub uncounted_runners: bool,
    /// Replace an existing --out file.
    #[arg(long)]
    pub force: bool,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// License files to register.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    #[arg(
        long,
        value_name = "URL",
        help = "The portal's base URL, e.g. https://portal.example.com"
    )]
    pub portal: String,
    /// A file holding the admin API key (scope write), `-` for standard input; without it
    /// the key comes from the TESSERA_API_KEY environment variable. The key itself is never
    /// an argument: other users can read the process list.
    #[arg(long, value_name = "FILE")]
    pub api_key_file: Option<PathBuf>,
    /// Allow a plain http:// portal URL to another machine (the API key travels in the
    /// clear).
    #[arg(long)]
    pub insecure_http: bool,
    /// Print one JSON object per license.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args, Default)]
pub struct TermsArgs {
    /// The customer organization.
    #[arg(long)]
    pub org: Option<String>,
    /// The product id, e.g. acme-hub (a-z, 0-9, '-', '_', '.').
    #[arg(long)]
    pub product: Option<String>,
    /// How many runners may run at once.
    #[arg(long, value_name = "N")]
    pub runners: Option<u32>,
    /// Last day of validity (YYYY-MM-DD, valid through 23:59:59 UTC) or an RFC 3339 time.
    #[arg(long, value_name = "DATE")]
    pub expires: Option<String>,
    /// First day of validity (YYYY-MM-DD or RFC 3339); defaults to now.
    #[arg(long, value_name = "DATE")]
    pub not_before: Option<String>,
    /// Hard stop after expiry (YYYY-MM-DD or RFC 3339): `terminated` after it.
    #[arg(long, value_name = "DATE")]
    pub terminates: Option<String>,
    /// A feature (entitlement); repeat or separate with commas.
    #[arg(long = "feature", value_name = "NAME", value_delimiter = ',')]
    pub features: Vec<String>,
    /// Days the hub keeps working without reaching the portal [default: 7].
    #[arg(long, value_name = "DAYS")]
    pub grace_days: Option<u32>,
    /// How often the hub pings the portal, e.g. 1h, 30m [default: 1h].
    #[arg(long, value_name = "DURATION")]
    pub ping_interval: Option<String>,
    #[arg(
        long,
        value_name = "URL",
        help = "The vendor portal's URL, e.g. https://portal.example.com"
    )]
    pub portal_url: Option<String>,
    /// The portal counts runner keys too: a runner runs only when the portal's receipt
    /// countersigns its key, at most --runners of them (for a batch: every license).
    #[arg(long)]
    pub runner_countersign: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The license file.
    pub file: PathBuf,
    /// A trusted public key or trust file; repeat for several.
    #[arg(long, value_name = "FILE", required = true)]
    pub trust: Vec<PathBuf>,
    /// Check as of this time (RFC 3339 or YYYY-MM-DD) instead of now.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Require the license to be for this product.
    #[arg(long)]
    pub product: Option<String>,
    /// Print one JSON object with a "status" field.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The license file.
    pub file: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PubkeyArgs {
    /// The secret signing key file.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Also write the public key file here.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}
