//! License keys: what a customer types or pastes to activate, e.g.
//! `7KQ2M-X9D4R-TT0VA-3HN8P-C5WZE`.
//!
//! 25 symbols of Crockford's base32 (no I, L, O or U, so nothing looks alike) in five groups:
//! 21 random symbols (105 bits) and 4 check symbols (20 bits of a SHA-256 over the others).
//! A mistyped key is caught offline, before any network call, with a chance of about one in
//! a million of slipping through. Reading is forgiving the way Crockford intends: case,
//! dashes and spaces do not matter, and O reads as 0, I and L as 1.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::keys::{RandomError, fill_random};

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const RANDOM_SYMBOLS: usize = 21;
const CHECK_SYMBOLS: usize = 4;
const SYMBOLS: usize = RANDOM_SYMBOLS + CHECK_SYMBOLS;
const CHECK_CONTEXT: &[u8] = b"tessera license key v1\0";

/// Why text is not a license key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LicenseKeyError {
    /// Not 25 symbols.
    #[error("a license key has {SYMBOLS} characters (five groups of five), this has {found}")]
    WrongLength {
        /// How many there are.
        found: usize,
    },
    /// A character outside the key's alphabet.
    #[error("{found:?} cannot appear in a license key")]
    BadCharacter {
        /// The character.
        found: char,
    },
    /// The check symbols do not match.
    #[error("this license key is mistyped: its check characters do not match")]
    Mistyped,
    /// Not in the canonical form.
    #[error("license key is not in canonical form (XXXXX-XXXXX-XXXXX-XXXXX-XXXXX)")]
    NotCanonical,
}

/// A license key. `Debug` shows only its first group; the full text is reachable through
/// [`LicenseKey::expose`] so that it is never logged by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct LicenseKey {
    symbols: [u8; SYMBOLS],
}

impl LicenseKey {
    /// A fresh random key.
    pub fn generate() -> Result<Self, RandomError> {
        let mut random = [0u8; RANDOM_SYMBOLS];
        fill_random(&mut random)?;
        Ok(Self::from_entropy(random))
    }

    /// A key from caller-supplied randomness (the low 5 bits of each byte are used).
    /// [`LicenseKey::generate`] is the normal way in; this one makes test vectors repeatable.
    pub fn from_entropy(random: [u8; RANDOM_SYMBOLS]) -> Self {
        let mut symbols = [0u8; SYMBOLS];
        for (symbol, byte) in symbols.iter_mut().zip(random) {
            *symbol = ALPHABET[usize::from(byte & 31)];
        }
        let check = check_symbols(&symbols[..RANDOM_SYMBOLS]);
        symbols[RANDOM_SYMBOLS..].copy_from_slice(&check);
        LicenseKey { symbols }
    }

    /// Reads a key as a person typed it (see the module docs).
    pub fn parse_lenient(input: &str) -> Result<Self, LicenseKeyError> {
        let mut symbols = [0u8; SYMBOLS];
        let mut count = 0;
        for c in input.chars() {
            if c == '-' || c.is_whitespace() {
                continue;
            }
            let symbol = match c.to_ascii_uppercase() {
                'O' => b'0',
                'I' | 'L' => b'1',
                u @ ('0'..='9' | 'A'..='H' | 'J' | 'K' | 'M' | 'N' | 'P'..='T' | 'V'..='Z') => {
                    u as u8
                }
                _ => return Err(LicenseKeyError::BadCharacter { found: c }),
            };
            if count < SYMBOLS {
                symbols[count] = symbol;
            }
            count += 1;
        }
        if count != SYMBOLS {
            return Err(LicenseKeyError::WrongLength { found: count });
        }
        let check = check_symbols(&symbols[..RANDOM_SYMBOLS]);
        if !bool::from(check.ct_eq(&symbols[RANDOM_SYMBOLS..])) {
            return Err(LicenseKeyError::Mistyped);
        }
        Ok(LicenseKey { symbols })
    }

    /// Reads only the canonical form, as stored in signed files.
    pub fn parse_canonical(input: &str) -> Result<Self, LicenseKeyError> {
        let key = Self::parse_lenient(input)?;
        // Canonical: five groups of five upper-case symbols joined by single dashes.
        let canonical = input.len() == SYMBOLS + 4
            && input
                .bytes()
                .enumerate()
                .all(|(i, b)| if i % 6 == 5 { b == b'-' } else { key.symbols[i - i / 6] == b });
        if !canonical {
            return Err(LicenseKeyError::NotCanonical);
        }
        Ok(key)
    }

    /// The canonical text, `XXXXX-XXXXX-XXXXX-XXXXX-XXXXX`. It is a credential: show it to
    /// the person it belongs to, never to logs.
    pub fn expose(&self) -> String {
        let mut out = String::with_capacity(SYMBOLS + 4);
        for (i, group) in self.symbols.chunks(5).enumerate() {
            if i > 0 {
                out.push('-');
            }
            out.extend(group.iter().map(|&b| char::from(b)));
        }
        out
    }

    /// SHA-256 of the canonical text: what the portal stores instead of the key.
    pub fn digest(&self) -> [u8; 32] {
        Sha256::digest(self.expose().as_bytes()).into()
    }
}

fn check_symbols(random: &[u8]) -> [u8; CHECK_SYMBOLS] {
    let digest = Sha256::new().chain_update(CHECK_CONTEXT).chain_update(random).finalize();
    let mut check = [0u8; CHECK_SYMBOLS];
    for (symbol, byte) in check.iter_mut().zip(digest.iter()) {
        *symbol = ALPHABET[usize::from(byte & 31)];
    }
    check
}

impl fmt::Debug for LicenseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let first: String = self.symbols[..5].iter().map(|&b| char::from(b)).collect();
        write!(f, "LicenseKey({first}-…)")
    }
}

impl Serialize for LicenseKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.expose())
    }
}

impl<'de> Deserialize<'de> for LicenseKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        LicenseKey::parse_canonical(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_back_in_any_spelling() {
        let key = LicenseKey::generate().expect("random");
        let text = key.expose();
        assert_eq!(text.len(), 29);
        assert_eq!(LicenseKey::parse_canonical(&text), Ok(key.clone()));
        let sloppy = text.to_lowercase().replace('-', " ").replace('0', "o").replace('1', "l");
        assert_eq!(LicenseKey::parse_lenient(&sloppy), Ok(key.clone()));
        assert_eq!(LicenseKey::parse_canonical(&sloppy), Err(LicenseKeyError::NotCanonical));
    }

    #[test]
    fn every_single_substitution_and_adjacent_swap_is_caught() {
        // A fixed key keeps this deterministic: a 20-bit check misses one typo in a million.
        let key = LicenseKey::from_entropy(*b"tessera-license-keys!");
        let symbols = key.symbols;
        let mut missed = 0;
        for i in 0..SYMBOLS {
            for &replacement in ALPHABET {
                if replacement == symbols[i] {
                    continue;
                }
                let mut typo = symbols;
                typo[i] = replacement;
                let text: String = typo.iter().map(|&b| char::from(b)).collect();
                if LicenseKey::parse_lenient(&text).is_ok() {
                    missed += 1;
                }
            }
        }
        for i in 0..SYMBOLS - 1 {
            let mut swapped = symbols;
            swapped.swap(i, i + 1);
            if swapped != symbols {
                let text: String = swapped.iter().map(|&b| char::from(b)).collect();
                if LicenseKey::parse_lenient(&text).is_ok() {
                    missed += 1;
                }
            }
        }
        assert_eq!(missed, 0);
    }

    #[test]
    fn wrong_length_and_characters_are_named() {
        assert_eq!(
            LicenseKey::parse_lenient("ABCDE-FGHJK"),
            Err(LicenseKeyError::WrongLength { found: 10 })
        );
        assert_eq!(
            LicenseKey::parse_lenient("ABCDE-FGHJK-MNPQR-STVWX-YZ01U"),
            Err(LicenseKeyError::BadCharacter { found: 'U' })
        );
    }

    #[test]
    fn debug_never_shows_the_whole_key() {
        let key = LicenseKey::generate().expect("random");
        let debug = format!("{key:?}");
        assert!(!debug.contains(&key.expose()[6..]));
    }
}
