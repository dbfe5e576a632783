//! The command line, as clap sees it. No logic here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Tessera runner agent: keep the license cache from the hub and decide, offline and fast,
/// whether this runner may run.
///
/// Exit codes: 0 success (and `valid`/`grace` for `check`); 1 internal error; 2 usage error;
/// 3 state file problem; 5 invalid input (trust set, bundle); 6 keystore unavailable; 7 hub
/// unreachable; 8 hub refused; 10 and up: a status other than `valid` or `grace`
/// (docs/RUNNER.md).
#[derive(Debug, Parser)]
#[command(name = "tessera-runner", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// The runner's state directory (the sealed cache). Default: /var/lib/tessera-runner as
    /// root, else $XDG_STATE_HOME/tessera-runner or ~/.local/state/tessera-runner.
    #[arg(long, global = true, value_name = "DIR", env = "TESSERA_RUNNER_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Where the cache key lives: keyutils (the kernel keyring), secret-service, or
    /// systemd-creds (a systemd credential: servers). Recorded at install and used by every
    /// later command; a different one is an error. Default for an install: secret-service
    /// when a D-Bus session is there, else keyutils.
    #[arg(long, global = true, value_name = "BACKEND", env = "TESSERA_RUNNER_KEYSTORE")]
    pub keystore: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Take the bundle and a lease from the hub (or install a bundle file) into the cache.
    Install(InstallArgs),
    /// Renew the bundle and the lease from the hub; a failed refresh keeps the old cache.
    Refresh {
        /// The vendor trust set; needed only when the cache's key was lost (after a reboot
        /// with the kernel keyring).
        #[arg(long, value_name = "FILE", env = "TESSERA_RUNNER_TRUST")]
        trust: Option<PathBuf>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Decide offline whether this runner may run; exit 0 only for `valid` and `grace`.
    Check {
        /// Print one JSON object with "status" and "grace_left_secs".
        #[arg(long)]
        json: bool,
        /// How far the clock may be behind the latest time seen before `clock_rollback`.
        #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = humantime::parse_duration)]
        tolerance: std::time::Duration,
    },
    /// Write a request for a lease, signed with this runner's key, to carry to the hub's
    /// operator (`tessera-hub bundle --request FILE`) where the runner cannot reach the
    /// hub; install the bundle that answers it with `install --bundle`.
    Request {
        /// Where to write the request (`-` for standard output).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// This runner's label, for the hub's operator (default: the hostname).
        #[arg(long, value_name = "LABEL", alias = "name")]
        label: Option<String>,
    },
    /// Give this runner's slot back to the hub (signed), and stop: online, or with `--out`
    /// as a file the hub's operator answers with `tessera-hub bundle --request FILE`.
    Release {
        /// Write the signed release here (`-` for standard output) instead of sending it.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// This runner's label, for the hub's operator (default: the hostname).
        #[arg(long, value_name = "LABEL")]
        label: Option<String>,
    },
    /// Give the slot back where the hub can be reached, then remove the cache, the
    /// enrollment, the keystore entry and the runner key: an installation after this one is
    /// a new runner.
    Uninstall,
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// The hub's runner API, e.g. `http://hub.internal:7480`. The runner token (from
    /// `tessera-hub runner-token`, used up by this install) comes from --token-file or the
    /// TESSERA_RUNNER_TOKEN environment variable, never the command line.
    #[arg(long, value_name = "URL", conflicts_with = "bundle")]
    pub hub: Option<String>,
    /// A file holding the runner token (`-` for standard input).
    #[arg(long, value_name = "FILE", conflicts_with = "bundle")]
    pub token_file: Option<PathBuf>,
    /// This runner's label, for the hub's operator (default: the hostname).
    #[arg(long, value_name = "LABEL", alias = "name")]
    pub label: Option<String>,
    /// A bundle file written by `tessera-hub bundle --request` for this runner's request
    /// (air-gapped install).
    #[arg(long, value_name = "FILE", required_unless_present = "hub")]
    pub bundle: Option<PathBuf>,
    /// The vendor trust set (public keys).
    #[arg(long, value_name = "FILE", env = "TESSERA_RUNNER_TRUST")]
    pub trust: PathBuf,
    /// With --keystore systemd-creds: where to write the new encrypted credential (read by
    /// the units' LoadCredentialEncrypted=tessera-runner:PATH).
    #[arg(long, value_name = "PATH", default_value = "/etc/credstore.encrypted/tessera-runner")]
    pub credential_out: PathBuf,
    /// With --keystore systemd-creds: what the credential is bound to (systemd-creds encrypt
    /// --with-key): auto (the TPM2 and the host key where a TPM2 exists, else the host key),
    /// host, tpm2, host+tpm2.
    #[arg(long, value_name = "KEY", default_value = "auto")]
    pub credential_key: String,
    /// With --keystore systemd-creds: replace an existing credential file.
    #[arg(long)]
    pub force: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}
