//! The portal's settings, in layers: built-in defaults, then an optional TOML file, then
//! `TESSERA_*` environment variables and command-line flags (clap reads both; a flag wins
//! over its variable). Every setting is documented in docs/OPERATIONS.md.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

mod urls;

pub use urls::{DatabaseUrl, SmtpUrl};

/// How long sessions last.
#[derive(Debug, Clone, Copy)]
pub struct SessionRules {
    /// A session unused this long ends.
    pub idle_secs: i64,
    /// A session ends this long after sign-in, used or not.
    pub max_secs: i64,
}

/// A C2SP `tlog-witness` the portal asks to cosign its ledger checkpoints.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerWitness {
    /// Its submission prefix (`add-checkpoint` is under it).
    pub url: String,
    /// Its key, as a signed-note verifier key `<name>+<key id>+<base64 key>`.
    pub key: String,
}

/// Settings as given by one layer; `None` leaves the layer below in force.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    /// `listen`: the address and port.
    pub listen: Option<SocketAddr>,
    /// `data_dir`: the SQLite file and receipt key.
    pub data_dir: Option<PathBuf>,
    /// `database_url`: SQLite or PostgreSQL.
    pub database_url: Option<DatabaseUrl>,
    /// `trust`: the vendor trust files.
    #[serde(default)]
    pub trust: Vec<PathBuf>,
    /// `delegation`: the delegation file.
    pub delegation: Option<PathBuf>,
    /// `ledger_delegation`: the vendor's ledger delegation of the receipt key.
    pub ledger_delegation: Option<PathBuf>,
    /// `ledger_name`: this portal's name in its ledger's origin, for a vendor with several.
    pub ledger_name: Option<String>,
    /// `ledger_checkpoint_dir`: a directory (backup or WORM storage) that receives a file
    /// per signed ledger checkpoint.
    pub ledger_checkpoint_dir: Option<PathBuf>,
    /// `ledger_witnesses`: C2SP tlog witnesses asked to cosign each checkpoint.
    #[serde(default)]
    pub ledger_witnesses: Vec<LedgerWitness>,
    /// `tls_cert`: the PEM certificate chain for HTTPS.
    pub tls_cert: Option<PathBuf>,
    /// `tls_key`: the PEM private key for HTTPS.
    pub tls_key: Option<PathBuf>,
    /// `log_format`: `text` or `json`.
    pub log_format: Option<LogFormat>,
    /// `rollup_every_secs`: how often the rollup runs.
    pub rollup_every_secs: Option<u64>,
    /// `max_body_bytes`: the request body limit.
    pub max_body_bytes: Option<usize>,
    /// `max_batch_body_bytes`: the body limit of a batch registration.
    pub max_batch_body_bytes: Option<usize>,
    /// `clock_skew_secs`: how far a hub's call time may be from the portal's.
    pub clock_skew_secs: Option<u64>,
    /// `activations_per_minute`: per registered license.
    pub activations_per_minute: Option<u32>,
    /// `pings_per_minute`: per license.
    pub pings_per_minute: Option<u32>,
    /// `admin_requests_per_second`: per API key.
    pub admin_requests_per_second: Option<u32>,
    /// `auth_failures_per_minute`: failed admin authentications, all together.
    pub auth_failures_per_minute: Option<u32>,
    /// `unknown_activations_per_minute`: activations with unknown license keys, all together.
    pub unknown_activations_per_minute: Option<u32>,
    /// `refused_pings_per_second`: refused pings, all together.
    pub refused_pings_per_second: Option<u32>,
    /// `header_read_timeout_secs`: the time a connection has to send a request's headers.
    pub header_read_timeout_secs: Option<u64>,
    /// `max_connections`: connections open at once.
    pub max_connections: Option<usize>,
    /// `max_connections_per_address`: connections open at once from one address.
    pub max_connections_per_address: Option<usize>,
    /// `body_read_timeout_secs`: the time a request's body has to arrive whole.
    pub body_read_timeout_secs: Option<u64>,
    /// `rebind_every_secs`: how often one binding may be re-activated from its own host.
    pub rebind_every_secs: Option<i64>,
    /// `repairs_per_year`: re-activations sooner than that, allowed per license and year.
    pub repairs_per_year: Option<i64>,
    /// `public_url`: the address people use for the web pages.
    pub public_url: Option<String>,
    /// `session_idle_secs`: a web session unused this long ends.
    pub session_idle_secs: Option<i64>,
    /// `session_max_secs`: a web session ends this long after sign-in.
    pub session_max_secs: Option<i64>,
    /// `customer_reset_every_secs`: how often an org-admin may reset one license's binding.
    pub customer_reset_every_secs: Option<i64>,
    /// `require_second_factor_for_super_admins`.
    pub require_second_factor_for_super_admins: Option<bool>,
    /// `smtp_url`: the SMTP relay for invitation and email-change links.
    pub smtp_url: Option<SmtpUrl>,
    /// `keep_ended_licenses_days`: how long an ended license is kept.
    pub keep_ended_licenses_days: Option<i64>,
    /// `keep_ledger_days`: how long an audit ledger entry is kept.
    pub keep_ledger_days: Option<i64>,
    /// `receipt_key_file`: the receipt key's file.
    pub receipt_key_file: Option<PathBuf>,
    /// `receipt_key_passphrase_file`: the passphrase of an encrypted receipt key.
    pub receipt_key_passphrase_file: Option<PathBuf>,
    /// `ledger_tag_key_file`: the key that tags audit ledger entries, shared by every
    /// instance of one portal.
    pub ledger_tag_key_file: Option<PathBuf>,
    /// `smtp_from`: the sender of the portal's emails.
    pub smtp_from: Option<String>,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Plain text lines.
    #[default]
    Text,
    /// One JSON object a line.
    Json,
}

/// The settings in force.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The address and port to listen on.
    pub listen: SocketAddr,
    /// The SQLite file's and receipt key's directory.
    pub data_dir: PathBuf,
    /// The database.
    pub database_url: DatabaseUrl,
    /// The vendor trust files.
    pub trust: Vec<PathBuf>,
    /// The delegation file.
    pub delegation: Option<PathBuf>,
    /// The vendor's ledger delegation of the receipt key.
    pub ledger_delegation: Option<PathBuf>,
    /// This portal's name in its ledger's origin (`tessera.ledger/<vendor key id>/<name>`),
    /// for a vendor that runs several portals, each its own ledger; none: the vendor's one.
    pub ledger_name: Option<String>,
    /// Where a file per signed ledger checkpoint goes (an operator's backup or WORM storage).
    pub ledger_checkpoint_dir: Option<PathBuf>,
    /// The C2SP tlog witnesses asked to cosign each ledger checkpoint.
    pub ledger_witnesses: Vec<LedgerWitness>,
    /// The PEM certificate chain and private key, for HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// How logs are written.
    pub log_format: LogFormat,
    /// How often the rollup runs, in seconds.
    pub rollup_every_secs: u64,
    /// The request body limit.
    pub max_body_bytes: usize,
    /// The body limit of a batch registration (up to 1,000 licenses).
    pub max_batch_body_bytes: usize,
    /// How far a hub's call time may be from the portal's, in seconds.
    pub clock_skew_secs: u64,
    /// The rate limits.
    pub limits: Limits,
    /// Seconds a connection has to send a request's headers (also closes idle keep-alive
    /// connections) and to finish a TLS handshake.
    pub header_read_timeout_secs: u64,
    /// Connections open at once; when all are taken, the oldest idle one is closed for a
    /// newcomer.
    pub max_connections: usize,
    /// Connections open at once from one source address (IPv6: one /64); one more is closed
    /// at once.
    pub max_connections_per_address: usize,
    /// Seconds a request's body has to arrive whole after its headers (408 beyond).
    pub body_read_timeout_secs: u64,
    /// The least time between two re-activations of one binding on the same host.
    pub rebind_every_secs: i64,
    /// Re-activations sooner than `rebind_every_secs` allowed per license and year: the
    /// self-service repairs of a hub whose state was lost more than once a day.
    pub repairs_per_year: i64,
    /// Cookies carry `Secure`: the portal serves TLS, or `public_url` is https (behind a
    /// TLS proxy).
    pub secure_cookies: bool,
    /// The receipt key's file when not `receipt.key` in the data directory (plain or
    /// encrypted), and the file holding an encrypted key's passphrase.
    pub receipt_key_file: Option<PathBuf>,
    /// The file holding an encrypted receipt key's passphrase.
    pub receipt_key_passphrase_file: Option<PathBuf>,
    /// The file holding the key that tags audit ledger entries (64 hex digits), for several
    /// instances on one database; without it, the key is derived from the receipt key.
    pub ledger_tag_key_file: Option<PathBuf>,
    /// Days an audit ledger entry is kept: 7 years.
    pub keep_ledger_days: i64,
    /// Days a license (its bindings, counts) is kept after its contract ended: 7 years.
    pub keep_ended_licenses_days: i64,
    /// The SMTP relay and the sender of invitation emails, when set.
    pub smtp: Option<(SmtpUrl, String)>,
    /// The address people use for the web pages (invitation links), when set.
    pub public_url: Option<String>,
    /// How long web sessions last.
    pub sessions: SessionRules,
    /// Super-admins must turn on a second factor before they can use any page.
    pub require_second_factor_for_super_admins: bool,
    /// The least time between two resets of one license's binding by its customer.
    pub customer_reset_every_secs: i64,
}

/// Rate limits (per minute or second, with a burst of the same size); see
/// [`crate::limits`] for what each counts.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Per registered license.
    pub activations_per_minute: u32,
    /// Per license, counting only pings whose signature verified.
    pub pings_per_minute: u32,
    /// Per API key.
    pub admin_requests_per_second: u32,
    /// Failed admin authentications, all together.
    pub auth_failures_per_minute: u32,
    /// Activations with license keys the portal does not know, all together.
    pub unknown_activations_per_minute: u32,
    /// Refused pings, all together.
    pub refused_pings_per_second: u32,
}

/// A settings problem, named for the user.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The config file does not parse.
    #[error("config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A setting's value is not acceptable.
    #[error("{0}")]
    Invalid(String),
}

impl Layer {
    /// Reads a TOML config file.
    pub fn from_file(path: &Path) -> Result<Layer, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        toml::from_str(&text)
            .map_err(|e| ConfigError::Parse { path: path.to_owned(), message: e.to_string() })
    }

    /// `self` over `below`: each setting given here wins.
    pub fn over(self, below: Layer) -> Layer {
        Layer {
            listen: self.listen.or(below.listen),
            data_dir: self.data_dir.or(below.data_dir),
            database_url: self.database_url.or(below.database_url),
            trust: if self.trust.is_empty() { below.trust } else { self.trust },
            delegation: self.delegation.or(below.delegation),
            ledger_delegation: self.ledger_delegation.or(below.ledger_delegation),
            ledger_name: self.ledger_name.or(below.ledger_name),
            ledger_checkpoint_dir: self.ledger_checkpoint_dir.or(below.ledger_checkpoint_dir),
            ledger_witnesses: if self.ledger_witnesses.is_empty() {
                below.ledger_witnesses
            } else {
                self.ledger_witnesses
            },
            tls_cert: self.tls_cert.or(below.tls_cert),
            tls_key: self.tls_key.or(below.tls_key),
            log_format: self.log_format.or(below.log_format),
            rollup_every_secs: self.rollup_every_secs.or(below.rollup_every_secs),
            max_body_bytes: self.max_body_bytes.or(below.max_body_bytes),
            max_batch_body_bytes: self.max_batch_body_bytes.or(below.max_batch_body_bytes),
            clock_skew_secs: self.clock_skew_secs.or(below.clock_skew_secs),
            activations_per_minute: self.activations_per_minute.or(below.activations_per_minute),
            pings_per_minute: self.pings_per_minute.or(below.pings_per_minute),
            admin_requests_per_second: self
                .admin_requests_per_second
                .or(below.admin_requests_per_second),
            auth_failures_per_minute: self
                .auth_failures_per_minute
                .or(below.auth_failures_per_minute),
            unknown_activations_per_minute: self
                .unknown_activations_per_minute
                .or(below.unknown_activations_per_minute),
            refused_pings_per_second: self
                .refused_pings_per_second
                .or(below.refused_pings_per_second),
            header_read_timeout_secs: self
                .header_read_timeout_secs
                .or(below.header_read_timeout_secs),
            max_connections: self.max_connections.or(below.max_connections),
            max_connections_per_address: self
                .max_connections_per_address
                .or(below.max_connections_per_address),
            body_read_timeout_secs: self.body_read_timeout_secs.or(below.body_read_timeout_secs),
            rebind_every_secs: self.rebind_every_secs.or(below.rebind_every_secs),
            repairs_per_year: self.repairs_per_year.or(below.repairs_per_year),
            public_url: self.public_url.or(below.public_url),
            session_idle_secs: self.session_idle_secs.or(below.session_idle_secs),
            session_max_secs: self.session_max_secs.or(below.session_max_secs),
            customer_reset_every_secs: self
                .customer_reset_every_secs
                .or(below.customer_reset_every_secs),
            require_second_factor_for_super_admins: self
                .require_second_factor_for_super_admins
                .or(below.require_second_factor_for_super_admins),
            smtp_url: self.smtp_url.or(below.smtp_url),
            keep_ended_licenses_days: self
                .keep_ended_licenses_days
                .or(below.keep_ended_licenses_days),
            keep_ledger_days: self.keep_ledger_days.or(below.keep_ledger_days),
            receipt_key_file: self.receipt_key_file.or(below.receipt_key_file),
            receipt_key_passphrase_file: self
                .receipt_key_passphrase_file
                .or(below.receipt_key_passphrase_file),
            ledger_tag_key_file: self.ledger_tag_key_file.or(below.ledger_tag_key_file),
            smtp_from: self.smtp_from.or(below.smtp_from),
        }
    }

    /// Fills the defaults and checks what must hold together.
    pub fn resolve(self) -> Result<Settings, ConfigError> {
        if let Some(name) = &self.ledger_name
            && !tessera_core::ledger::is_ledger_name(name)
        {
            return Err(ConfigError::Invalid(
                "ledger_name: 1 to 63 lower-case letters, digits, '-' or '.'".to_owned(),
            ));
        }
        let data_dir = self.data_dir.unwrap_or_else(|| PathBuf::from("."));
        let database_url = self.database_url.unwrap_or_else(|| DatabaseUrl::sqlite_in(&data_dir));
        let tls = match (self.tls_cert, self.tls_key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => {
                return Err(ConfigError::Invalid(
                    "give both tls_cert and tls_key (or neither, for plain HTTP behind a proxy)"
                        .to_owned(),
                ));
            }
        };
        let secure_cookies = match self.public_url.as_deref() {
            None => tls.is_some(),
            Some(url) if url.starts_with("https://") => true,
            Some(url) if url.starts_with("http://") => tls.is_some(),
            Some(url) => {
                return Err(ConfigError::Invalid(format!(
                    "public_url {url:?}: give the https:// (or http://) address people use"
                )));
            }
        };
        let smtp = match (self.smtp_url, self.smtp_from) {
            // An emailed link is built from public_url alone, never from what a request
            // says its Host is (anyone can say any): no relay without it.
            (Some(_), Some(_)) if self.public_url.is_none() => {
                return Err(ConfigError::Invalid(
                    "smtp_url needs public_url: the links in the portal's emails (invitations, \
                     password resets, email changes) are built from it alone"
                        .to_owned(),
                ));
            }
            (Some(url), Some(from)) => Some((url, from)),
            (None, None) => None,
            _ => {
                return Err(ConfigError::Invalid(
                    "give both smtp_url and smtp_from (or neither: invitation links are then sent by hand)"
                        .to_owned(),
                ));
            }
        };
        let positive = |name: &str, value: u32| {
            if value == 0 {
                Err(ConfigError::Invalid(format!("{name} must be at least 1")))
            } else {
                Ok(value)
            }
        };
        let limits = Limits {
            activations_per_minute: positive(
                "activations_per_minute",
                self.activations_per_minute.unwrap_or(10),
            )?,
            pings_per_minute: positive("pings_per_minute", self.pings_per_minute.unwrap_or(30))?,
            admin_requests_per_second: positive(
                "admin_requests_per_second",
                self.admin_requests_per_second.unwrap_or(50),
            )?,
            auth_failures_per_minute: positive(
                "auth_failures_per_minute",
                self.auth_failures_per_minute.unwrap_or(30),
            )?,
            unknown_activations_per_minute: positive(
                "unknown_activations_per_minute",
                self.unknown_activations_per_minute.unwrap_or(60),
            )?,
            refused_pings_per_second: positive(
                "refused_pings_per_second",
                self.refused_pings_per_second.unwrap_or(100),
            )?,
        };
        Ok(Settings {
            listen: self.listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            data_dir,
            database_url,
            trust: self.trust,
            delegation: self.delegation,
            ledger_delegation: self.ledger_delegation,
            ledger_name: self.ledger_name,
            ledger_checkpoint_dir: self.ledger_checkpoint_dir,
            ledger_witnesses: self.ledger_witnesses,
            tls,
            log_format: self.log_format.unwrap_or_default(),
            rollup_every_secs: self.rollup_every_secs.unwrap_or(3600).max(1),
            max_body_bytes: self.max_body_bytes.unwrap_or(64 * 1024),
            max_batch_body_bytes: self.max_batch_body_bytes.unwrap_or(4 * 1024 * 1024),
            clock_skew_secs: self.clock_skew_secs.unwrap_or(300),
            limits,
            header_read_timeout_secs: self.header_read_timeout_secs.unwrap_or(10).max(1),
            max_connections: self.max_connections.unwrap_or(1024).max(1),
            max_connections_per_address: self.max_connections_per_address.unwrap_or(64).max(1),
            body_read_timeout_secs: self.body_read_timeout_secs.unwrap_or(30).max(1),
            rebind_every_secs: self.rebind_every_secs.unwrap_or(86_400).max(0),
            repairs_per_year: self.repairs_per_year.unwrap_or(4).max(0),
            secure_cookies,
            public_url: self.public_url.clone(),
            keep_ended_licenses_days: self.keep_ended_licenses_days.unwrap_or(7 * 365 + 2).max(1),
            keep_ledger_days: self.keep_ledger_days.unwrap_or(7 * 365 + 2).max(1),
            receipt_key_file: self.receipt_key_file.clone(),
            receipt_key_passphrase_file: self.receipt_key_passphrase_file.clone(),
            ledger_tag_key_file: self.ledger_tag_key_file.clone(),
            smtp,
            require_second_factor_for_super_admins: self
                .require_second_factor_for_super_admins
                .unwrap_or(false),
            customer_reset_every_secs: self.customer_reset_every_secs.unwrap_or(30 * 86_400).max(0),
            sessions: SessionRules {
                idle_secs: self.session_idle_secs.unwrap_or(2 * 3600).max(60),
                max_secs: self.session_max_secs.unwrap_or(12 * 3600).max(60),
            },
        })
    }
}

#[cfg(test)]
mod tests;
