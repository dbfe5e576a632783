//! What the portal and a witness say to each other, as C2SP specifies it: a witness's key
//! (`tlog-cosignature`'s Ed25519 cosigner key, written as a signed-note verifier key), its
//! cosignature of a checkpoint, and the body of `tlog-witness`'s `add-checkpoint` request
//! (the witness's last size, a consistency proof from it, the checkpoint).

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::keys::{PublicKey, SigningKey};

/// The signed-note signature type of an Ed25519 cosignature (`cosignature/v1`).
const COSIGNATURE_TYPE: u8 = 0x04;

/// The most consistency proof lines a request may carry (`tlog-witness`).
pub const MAX_PROOF_LINES: usize = 63;

/// A witness's public key: its name and Ed25519 key, written as a verifier key
/// `<name>+<key id, 8 hex digits>+<base64(0x04 ‖ key)>`.
#[derive(Clone, PartialEq, Eq)]
pub struct CosignerKey {
    name: String,
    key: PublicKey,
}

/// Something wrong with a witness key, a cosignature or a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WitnessError {
    /// Not a verifier key of an Ed25519 cosigner.
    #[error("not a witness key (<name>+<key id>+<base64 key>): {0}")]
    Key(&'static str),
    /// No cosignature by the witness's key, or one that does not verify.
    #[error("no valid cosignature by {0}")]
    Cosignature(String),
    /// Not an add-checkpoint request.
    #[error("not an add-checkpoint request: {0}")]
    Request(&'static str),
}

impl CosignerKey {
    /// The key of a witness named `name`.
    pub fn new(name: &str, key: PublicKey) -> Result<CosignerKey, WitnessError> {
        if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+') {
            return Err(WitnessError::Key("the name is empty or has a space or a +"));
        }
        Ok(CosignerKey { name: name.to_owned(), key })
    }

    /// The witness's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The signed-note key id: SHA-256(name ‖ 0x0A ‖ 0x04 ‖ key)\[:4\].
    pub fn key_id(&self) -> [u8; 4] {
        let digest = Sha256::new()
            .chain_update(self.name.as_bytes())
            .chain_update([0x0a, COSIGNATURE_TYPE])
            .chain_update(self.key.as_bytes())
            .finalize();
        [digest[0], digest[1], digest[2], digest[3]]
    }

    /// Checks the cosignature lines a witness answered for the checkpoint text `text`
    /// (its three lines); answers the time the witness signed (Unix seconds). Lines of other
    /// keys are ignored, as the specification asks.
    pub fn verify(&self, text: &str, lines: &str) -> Result<u64, WitnessError> {
        let bad = || WitnessError::Cosignature(self.name.clone());
        for line in lines.lines() {
            let Some((name, signature)) =
                line.strip_prefix("\u{2014} ").and_then(|rest| rest.split_once(' '))
            else {
                continue;
            };
            let Ok(bytes) = STANDARD.decode(signature) else { continue };
            if name != self.name || bytes.len() != 76 || bytes[..4] != self.key_id() {
                continue;
            }
            let mut time = [0u8; 8];
            time.copy_from_slice(&bytes[4..12]);
            let time = u64::from_be_bytes(time);
            let mut signature = [0u8; 64];
            signature.copy_from_slice(&bytes[12..]);
            return match self.key.verify(&cosigned_message(time, text), &signature) {
                Ok(()) if time < (1 << 63) => Ok(time),
                _ => Err(bad()),
            };
        }
        Err(bad())
    }
}

impl fmt::Display for CosignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut key = vec![COSIGNATURE_TYPE];
        key.extend(self.key.as_bytes());
        write!(f, "{}+{}+{}", self.name, hex::encode(self.key_id()), STANDARD.encode(key))
    }
}

impl fmt::Debug for CosignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CosignerKey({self})")
    }
}

impl FromStr for CosignerKey {
    type Err = WitnessError;

    fn from_str(text: &str) -> Result<CosignerKey, WitnessError> {
        // The name and id hold no `+`; the key's base64 may.
        let mut parts = text.trim().splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(WitnessError::Key("three parts joined by +"));
        };
        let key = STANDARD.decode(key).map_err(|_| WitnessError::Key("the key's base64"))?;
        let Some((&COSIGNATURE_TYPE, key)) = key.split_first() else {
            return Err(WitnessError::Key("not an Ed25519 cosigner key (type 0x04)"));
        };
        let key: &[u8; 32] = key.try_into().map_err(|_| WitnessError::Key("32 key bytes"))?;
        let key = PublicKey::from_bytes(key).map_err(|_| WitnessError::Key("not a usable key"))?;
        let parsed = CosignerKey::new(name, key)?;
        if hex::encode(parsed.key_id()) != id {
            return Err(WitnessError::Key("the key id does not match the name and key"));
        }
        Ok(parsed)
    }
}

/// What an Ed25519 cosignature signs: `cosignature/v1\ntime <time>\n` and the checkpoint's
/// text.
fn cosigned_message(time: u64, text: &str) -> Vec<u8> {
    format!("cosignature/v1\ntime {time}\n{text}").into_bytes()
}

/// A witness's cosignature line of the checkpoint text `text` at `time` (for a witness; the
/// test kit's is one).
pub fn cosign(name: &str, key: &SigningKey, text: &str, time: u64) -> String {
    let cosigner = CosignerKey { name: name.to_owned(), key: key.public_key().clone() };
    let mut bytes = cosigner.key_id().to_vec();
    bytes.extend(time.to_be_bytes());
    bytes.extend(key.sign(&cosigned_message(time, text)));
    format!("\u{2014} {name} {}\n", STANDARD.encode(bytes))
}

/// The body of an `add-checkpoint` request: `old <size>`, the proof's hashes one a line,
/// an empty line, the signed note.
pub fn add_checkpoint_body(old: u64, proof: &[[u8; 32]], note: &str) -> String {
    let mut body = format!("old {old}\n");
    for hash in proof {
        body.push_str(&STANDARD.encode(hash));
        body.push('\n');
    }
    body.push('\n');
    body.push_str(note);
    body
}

/// Reads an `add-checkpoint` request body: the old size, the proof, the signed note.
pub fn parse_add_checkpoint(body: &str) -> Result<(u64, Vec<[u8; 32]>, &str), WitnessError> {
    let (head, note) = body.split_once("\n\n").ok_or(WitnessError::Request("no empty line"))?;
    let mut lines = head.split('\n');
    let old = lines
        .next()
        .and_then(|l| l.strip_prefix("old "))
        .filter(|s| *s == "0" || (!s.starts_with('0') && s.bytes().all(|b| b.is_ascii_digit())))
        .and_then(|s| s.parse().ok())
        .ok_or(WitnessError::Request("the old size line"))?;
    let proof = lines
        .map(|line| {
            STANDARD
                .decode(line)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or(WitnessError::Request("a proof line"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if proof.len() > MAX_PROOF_LINES {
        return Err(WitnessError::Request("more than 63 proof lines"));
    }
    Ok((old, proof, note))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cosignature_verifies_by_its_key_only_and_the_key_round_trips() {
        let key = SigningKey::from_seed(&[7; 32]);
        let cosigner = CosignerKey::new("witness.example/w1", key.public_key().clone()).expect("k");
        let text =
            "tessera.ledger/0011223344556677\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
        let line = cosign("witness.example/w1", &key, text, 1_800_000_000);
        assert_eq!(cosigner.verify(text, &line), Ok(1_800_000_000));
        assert!(cosigner.verify(&text.replace('5', "6"), &line).is_err());
        let other = CosignerKey::new(
            "witness.example/w1",
            SigningKey::from_seed(&[8; 32]).public_key().clone(),
        )
        .expect("k");
        assert!(other.verify(text, &line).is_err());
        let written = cosigner.to_string();
        assert_eq!(written.parse::<CosignerKey>(), Ok(cosigner.clone()));
        assert!(written.replacen("+", "+0", 1).parse::<CosignerKey>().is_err());
        // A key whose base64 holds a `+` reads (only the first two separate).
        let plus = (0u8..=255)
            .map(|seed| {
                CosignerKey::new("w", SigningKey::from_seed(&[seed; 32]).public_key().clone())
                    .expect("k")
            })
            .find(|k| k.to_string().matches('+').count() > 2)
            .expect("a key with a + in its base64");
        assert_eq!(plus.to_string().parse::<CosignerKey>(), Ok(plus.clone()));
        assert!("a+b".parse::<CosignerKey>().is_err());
        // The request body round-trips.
        let body = add_checkpoint_body(3, &[[1; 32], [2; 32]], "note\n\n\u{2014} sig\n");
        assert_eq!(
            parse_add_checkpoint(&body),
            Ok((3, vec![[1; 32], [2; 32]], "note\n\n\u{2014} sig\n"))
        );
        assert!(parse_add_checkpoint("old 03\n\nnote").is_err());
    }
}
