//! The settings that hold URLs with credentials in them: shown by scheme only.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::Deserialize;

/// A database URL. A PostgreSQL URL may carry a password, so `Debug` and `Display` show
/// only its scheme (a SQLite URL names a file and is shown whole); [`DatabaseUrl::expose`]
/// gives the URL to the one place that connects.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// The whole URL, password included: for opening the store only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL of the SQLite file `portal.db` in `data_dir`.
    pub fn sqlite_in(data_dir: &Path) -> Self {
        DatabaseUrl(format!("sqlite://{}", data_dir.join("portal.db").display()))
    }
}

impl From<String> for DatabaseUrl {
    fn from(url: String) -> Self {
        DatabaseUrl(url)
    }
}

impl FromStr for DatabaseUrl {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(DatabaseUrl(s.to_owned()))
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.starts_with("sqlite:") {
            f.write_str(&self.0)
        } else {
            let scheme = self.0.split_once(':').map_or("", |(scheme, _)| scheme);
            write!(f, "{scheme}://[redacted]")
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// The SMTP relay invitation emails go through: `smtps://host:port` (TLS from the start),
/// `smtp://host:port?tls=required` (STARTTLS), or plain `smtp://host:port` (a relay on the
/// same machine or network only), with `user:password@` when the relay wants them. `Debug`
/// shows the scheme only.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct SmtpUrl(String);

impl SmtpUrl {
    /// The whole URL, credentials included: for the mailer only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for SmtpUrl {
    fn from(url: String) -> Self {
        SmtpUrl(url)
    }
}

impl fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = self.0.split_once(':').map_or("", |(scheme, _)| scheme);
        write!(f, "SmtpUrl({scheme}://[redacted])")
    }
}
