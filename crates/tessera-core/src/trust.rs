//! The trust set: which vendor public keys a verifier accepts, and when.
//!
//! A trust file is text, one key a line, `#` starts a comment:
//!
//! ```text
//! # Acme signing keys
//! tessera-pub-v1:… not-after=2027-06-30
//! tessera-pub-v1:… not-before=2027-01-01
//! tessera-pub-v1:… distrusted
//! ```
//!
//! A `.pub` file written by `tessera keygen` is a trust file with one key. Windows are checked
//! against the verification time: a key is trusted from `not-before` through `not-after`.
//! A key listed twice with the same window is listed once (trust files that overlap combine
//! cleanly); with different windows it is an error, unless one listing distrusts it, which
//! then wins (so a distrust list can be added to any trust file).

use std::fmt;

use crate::keys::{KeyError, KeyId, PublicKey};
use crate::time::{TimeError, UnixTime};

/// Largest trust file accepted, in bytes.
pub const MAX_TRUST_FILE_LEN: usize = 256 * 1024;

/// One public key and the terms on which it is trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedKey {
    /// The trusted key.
    pub key: PublicKey,
    /// Trusted only from then, if set.
    pub not_before: Option<UnixTime>,
    /// Trusted only until then, if set.
    pub not_after: Option<UnixTime>,
    /// Listed but no longer trusted.
    pub distrusted: bool,
}

impl TrustedKey {
    /// A key trusted without limits.
    pub fn always(key: PublicKey) -> Self {
        TrustedKey { key, not_before: None, not_after: None, distrusted: false }
    }
}

impl fmt::Display for TrustedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.key)?;
        if let Some(t) = self.not_before {
            write!(f, " not-before={t}")?;
        }
        if let Some(t) = self.not_after {
            write!(f, " not-after={t}")?;
        }
        if self.distrusted {
            f.write_str(" distrusted")?;
        }
        Ok(())
    }
}

/// Why a key in a signed file is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Untrusted {
    /// The key is not in the trust set.
    #[error("key {key_id} is not in the trust set")]
    Unknown {
        /// The key.
        key_id: KeyId,
    },
    /// The key is marked distrusted.
    #[error("key {key_id} is distrusted")]
    Distrusted {
        /// The key.
        key_id: KeyId,
    },
    /// The key's window has not started.
    #[error("key {key_id} is trusted only from {not_before}")]
    NotYetTrusted {
        /// The key.
        key_id: KeyId,
        /// When it starts.
        not_before: UnixTime,
    },
    /// The key's window has ended.
    #[error("key {key_id} was trusted only until {not_after}")]
    NoLongerTrusted {
        /// The key.
        key_id: KeyId,
        /// When it ended.
        not_after: UnixTime,
    },
}

/// Why a trust file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// The file passes the size limit.
    #[error("trust file is larger than {MAX_TRUST_FILE_LEN} bytes")]
    TooLarge,
    /// The file is not UTF-8 text.
    #[error("trust file is not UTF-8 text")]
    NotText,
    /// A key line does not decode.
    #[error("line {line}: {source}")]
    Key {
        /// The line number.
        line: usize,
        /// What is wrong with it.
        source: KeyError,
    },
    /// A time option does not parse.
    #[error("line {line}: {source}")]
    Time {
        /// The line number.
        line: usize,
        /// What is wrong with it.
        source: TimeError,
    },
    /// An option the format does not know.
    #[error(
        "line {line}: unknown option {option:?} (expected not-before=, not-after= or distrusted)"
    )]
    UnknownOption {
        /// The line number.
        line: usize,
        /// The option.
        option: String,
    },
    /// A key's window is empty.
    #[error("line {line}: not-before is after not-after")]
    EmptyWindow {
        /// The line number.
        line: usize,
    },
    /// A key listed twice with different windows.
    #[error("key {key_id} is listed twice with different windows")]
    Conflict {
        /// The key.
        key_id: KeyId,
    },
    /// The set holds no key.
    #[error("the trust set holds no key")]
    Empty,
}

/// The public keys a verifier accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustSet {
    keys: Vec<TrustedKey>,
}

impl TrustSet {
    /// An empty trust set.
    pub fn new() -> Self {
        TrustSet::default()
    }

    /// A trust set of one key trusted without limits.
    pub fn single(key: PublicKey) -> Self {
        TrustSet { keys: vec![TrustedKey::always(key)] }
    }

    /// The keys, in file order.
    pub fn keys(&self) -> &[TrustedKey] {
        &self.keys
    }

    /// Whether it holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Adds a key; see the module docs for how repeated keys combine.
    pub fn add(&mut self, entry: TrustedKey) -> Result<(), TrustError> {
        match self.keys.iter_mut().find(|k| k.key == entry.key) {
            None => self.keys.push(entry),
            Some(existing) if entry.distrusted || existing.distrusted => existing.distrusted = true,
            Some(existing)
                if existing.not_before == entry.not_before
                    && existing.not_after == entry.not_after => {}
            Some(existing) => return Err(TrustError::Conflict { key_id: existing.key.key_id() }),
        }
        Ok(())
    }

    /// Adds every key of `other`.
    pub fn extend(&mut self, other: TrustSet) -> Result<(), TrustError> {
        other.keys.into_iter().try_for_each(|k| self.add(k))
    }

    /// The public key named `key_id`, if it is trusted at `now`.
    pub fn lookup(&self, key_id: KeyId, now: UnixTime) -> Result<&PublicKey, Untrusted> {
        let entry = self
            .keys
            .iter()
            .find(|k| k.key.key_id() == key_id)
            .ok_or(Untrusted::Unknown { key_id })?;
        if entry.distrusted {
            return Err(Untrusted::Distrusted { key_id });
        }
        if let Some(not_before) = entry.not_before.filter(|t| now < *t) {
            return Err(Untrusted::NotYetTrusted { key_id, not_before });
        }
        if let Some(not_after) = entry.not_after.filter(|t| now > *t) {
            return Err(Untrusted::NoLongerTrusted { key_id, not_after });
        }
        Ok(&entry.key)
    }

    /// Parses a trust file (see the module docs). An empty trust set is an error: it
    /// would refuse everything, which is never what the caller meant.
    pub fn parse(bytes: &[u8]) -> Result<TrustSet, TrustError> {
        if bytes.len() > MAX_TRUST_FILE_LEN {
            return Err(TrustError::TooLarge);
        }
        let text = std::str::from_utf8(bytes).map_err(|_| TrustError::NotText)?;
        // A byte-order mark is how some Windows editors save UTF-8: not part of the first key.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut set = TrustSet::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let content = raw.split('#').next().unwrap_or_default().trim();
            if content.is_empty() {
                continue;
            }
            let mut words = content.split_whitespace();
            let key: PublicKey = words
                .next()
                .unwrap_or_default()
                .parse()
                .map_err(|source| TrustError::Key { line, source })?;
            let mut entry = TrustedKey::always(key);
            for option in words {
                let time = |value: &str, end: bool| {
                    let parsed =
                        if end { UnixTime::parse_end(value) } else { UnixTime::parse_start(value) };
                    parsed.map_err(|source| TrustError::Time { line, source })
                };
                if option == "distrusted" {
                    entry.distrusted = true;
                } else if let Some(value) = option.strip_prefix("not-before=") {
                    entry.not_before = Some(time(value, false)?);
                } else if let Some(value) = option.strip_prefix("not-after=") {
                    entry.not_after = Some(time(value, true)?);
                } else {
                    return Err(TrustError::UnknownOption { line, option: option.to_owned() });
                }
            }
            if let (Some(a), Some(b)) = (entry.not_before, entry.not_after)
                && a > b
            {
                return Err(TrustError::EmptyWindow { line });
            }
            set.add(entry)?;
        }
        if set.is_empty() {
            return Err(TrustError::Empty);
        }
        Ok(set)
    }
}

impl fmt::Display for TrustSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for key in &self.keys {
            writeln!(f, "{key}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SigningKey;

    fn public(seed: u8) -> PublicKey {
        SigningKey::from_seed(&[seed; 32]).public_key().clone()
    }

    fn t(s: &str) -> UnixTime {
        s.parse().expect("time")
    }

    #[test]
    fn windows_and_distrust_are_honoured() {
        let text = format!(
            "# vendor keys\n{} not-after=2026-12-31\n{} not-before=2027-01-01 # new\n{} distrusted\n",
            public(1),
            public(2),
            public(3)
        );
        let set = TrustSet::parse(text.as_bytes()).expect("parse");
        let (a, b, c) = (public(1).key_id(), public(2).key_id(), public(3).key_id());
        assert!(set.lookup(a, t("2026-12-31T23:59:59Z")).is_ok());
        assert!(matches!(set.lookup(a, t("2027-01-01")), Err(Untrusted::NoLongerTrusted { .. })));
        assert!(matches!(set.lookup(b, t("2026-12-31")), Err(Untrusted::NotYetTrusted { .. })));
        assert!(set.lookup(b, t("2027-01-01")).is_ok());
        assert!(matches!(set.lookup(c, t("2027-01-01")), Err(Untrusted::Distrusted { .. })));
        let unknown = public(4).key_id();
        assert!(matches!(set.lookup(unknown, t("2027-01-01")), Err(Untrusted::Unknown { .. })));
        assert_eq!(TrustSet::parse(set.to_string().as_bytes()), Ok(set));
    }

    #[test]
    fn a_byte_order_mark_and_windows_line_endings_are_read() {
        let text =
            format!("\u{feff}# vendor keys\r\n{}\r\n{} distrusted\r\n", public(1), public(2));
        let set = TrustSet::parse(text.as_bytes()).expect("parse");
        assert!(set.lookup(public(1).key_id(), t("2027-01-01")).is_ok());
        assert!(matches!(
            set.lookup(public(2).key_id(), t("2027-01-01")),
            Err(Untrusted::Distrusted { .. })
        ));
    }

    #[test]
    fn distrust_wins_when_sets_are_merged() {
        let mut set = TrustSet::single(public(1));
        let distrust =
            TrustSet::parse(format!("{} distrusted", public(1)).as_bytes()).expect("parse");
        set.extend(distrust).expect("merge");
        assert!(matches!(
            set.lookup(public(1).key_id(), t("2027-01-01")),
            Err(Untrusted::Distrusted { .. })
        ));
    }

    #[test]
    fn an_identical_repeat_is_one_key() {
        let good = public(1).to_string();
        let set = TrustSet::parse(format!("{good}\n{good}\n").as_bytes()).expect("repeat");
        assert_eq!(set.keys().len(), 1);
        let windowed = format!("{good} not-after=2027-01-01");
        let mut set = TrustSet::parse(windowed.as_bytes()).expect("trust");
        set.extend(TrustSet::parse(windowed.as_bytes()).expect("trust")).expect("same window");
        assert_eq!(set.keys().len(), 1);
    }

    #[test]
    fn bad_trust_files_name_the_line() {
        let good = public(1).to_string();
        let cases = [
            (format!("{good}\nnonsense\n"), "line 2"),
            (format!("{good} not-after=soon"), "line 1"),
            (format!("{good} trusted"), "unknown option"),
            (format!("{good} not-before=2027-02-01 not-after=2027-01-01"), "not-before is after"),
            (format!("{good} not-after=2027-01-01\n{good} not-after=2028-01-01"), "listed twice"),
            ("# only a comment\n".to_owned(), "no key"),
        ];
        for (text, expected) in cases {
            let err = TrustSet::parse(text.as_bytes()).expect_err(&text).to_string();
            assert!(err.contains(expected), "{err:?} should mention {expected:?}");
        }
    }
}
