//! The second factor: time-based one-time codes (RFC 6238: HMAC-SHA-1, 30-second steps, 6
//! digits, as authenticator apps compute them), and one-time recovery codes stored hashed.
//! A code is accepted for the step before, now, or after (clocks drift), and once only.

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use tessera_core::UnixTime;
use tessera_core::keys::{RandomError, fill_random};

/// Seconds in a time step.
pub const STEP_SECS: i64 = 30;
/// Recovery codes made when the second factor is turned on.
pub const RECOVERY_CODES: usize = 10;

/// A fresh secret: 20 random bytes (160 bits, RFC 4226's recommendation), base32.
pub fn new_secret() -> Result<String, RandomError> {
    let mut bytes = [0u8; 20];
    fill_random(&mut bytes)?;
    Ok(BASE32_NOPAD.encode(&bytes))
}

/// The 6-digit code of `secret` (base32) at time step `step`; None when the secret does not
/// decode.
pub fn code_at(secret: &str, step: i64) -> Option<u32> {
    let key = BASE32_NOPAD.decode(secret.as_bytes()).ok()?;
    let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(&key).ok()?;
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let word = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    Some(word % 1_000_000)
}

/// The time step of `now`.
pub fn step_of(now: UnixTime) -> i64 {
    now.as_unix().div_euclid(STEP_SECS)
}

/// The step whose code `typed` is, among the one before now, now and the one after; None
/// when it is none of them (or not six digits).
pub fn matching_step(secret: &str, typed: &str, now: UnixTime) -> Option<i64> {
    let typed: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    if typed.len() != 6 || !typed.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let typed: u32 = typed.parse().ok()?;
    let now = step_of(now);
    // Every candidate is computed, so the time taken does not tell which one matched.
    let mut found = None;
    for step in [now - 1, now, now + 1] {
        if code_at(secret, step).is_some_and(|code| code == typed) {
            found = Some(step);
        }
    }
    found
}

/// The `otpauth://` address an authenticator app reads (typed in, or as a QR code).
pub fn otpauth_uri(secret: &str, email: &str) -> String {
    let escape = |text: &str| -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    format!(
        "otpauth://totp/Tessera%20portal:{}?secret={secret}&issuer=Tessera%20portal&digits=6&period=30",
        escape(email)
    )
}

/// Fresh recovery codes (`xxxxx-xxxxx`, 50 random bits each), to show once.
pub fn recovery_codes() -> Result<Vec<String>, RandomError> {
    let mut bytes = [0u8; 7 * RECOVERY_CODES];
    fill_random(&mut bytes)?;
    Ok(bytes
        .chunks_exact(7)
        .map(|chunk| {
            let text = data_encoding::BASE32_NOPAD.encode(chunk).to_lowercase();
            format!("{}-{}", &text[..5], &text[5..10])
        })
        .collect())
}

/// The stored form of a recovery code: SHA-256 of it as typed without spaces or dashes,
/// lower-cased.
pub fn recovery_digest(code: &str) -> String {
    let clean: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    hex::encode(Sha256::digest(clean.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238, appendix B: the SHA-1 key "12345678901234567890" (8 digits there; the
    /// last 6 here).
    #[test]
    fn codes_match_the_rfc_6238_test_vectors() {
        let secret = BASE32_NOPAD.encode(b"12345678901234567890");
        for (time, eight) in [
            (59i64, 94287082u32),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ] {
            assert_eq!(code_at(&secret, time / STEP_SECS), Some(eight % 1_000_000), "{time}");
        }
    }

    #[test]
    fn a_code_matches_within_one_step_only() {
        let secret = new_secret().expect("secret");
        let now = UnixTime::from_unix(1_800_000_000).expect("t");
        let step = step_of(now);
        let code = |s| format!("{:06}", code_at(&secret, s).expect("code"));
        assert_eq!(matching_step(&secret, &code(step), now), Some(step));
        assert_eq!(matching_step(&secret, &code(step - 1), now), Some(step - 1));
        assert_eq!(matching_step(&secret, &code(step + 1), now), Some(step + 1));
        assert_eq!(matching_step(&secret, &code(step - 3), now), None);
        assert_eq!(matching_step(&secret, "12345", now), None);
        assert_eq!(matching_step(&secret, "abcdef", now), None);
    }

    #[test]
    fn recovery_codes_are_distinct_and_hash_as_typed_loosely() {
        let codes = recovery_codes().expect("codes");
        assert_eq!(codes.len(), RECOVERY_CODES);
        let unique: std::collections::BTreeSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), RECOVERY_CODES);
        let code = &codes[0];
        assert_eq!(recovery_digest(code), recovery_digest(&code.to_uppercase().replace('-', " ")));
    }
}
