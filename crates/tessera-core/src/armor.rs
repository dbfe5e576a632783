// Over 500 lines on purpose: the envelope's parser and its writer must agree byte for byte, so
// they are read side by side, with their tests.
//! The signed envelope shared by every Tessera file: licenses, receipts, delegations and
//! offline activations. See `docs/FORMAT.md`.
//!
//! ```text
//! -----BEGIN TESSERA LICENSE-----
//! Version: 1
//! Algorithm: Ed25519
//! Key-Id: 3F2A9C0D11E4B7A2
//! Signature: <base64 of 64 bytes>
//!
//! <base64 of the payload, 64 characters a line>
//! -----END TESSERA LICENSE-----
//! ```
//!
//! The signature covers `context(kind) ‖ payload`, where the payload is exactly the decoded
//! bytes (never a re-serialization) and the context is a per-kind string, so no signature of
//! one kind verifies as another. The payload is JSON
//! `{"v":1,"alg":"Ed25519","kind":…,"key_id":…,"body":{…}}`: version, algorithm, kind and key
//! id are inside the signed bytes and must agree with the header.

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::keys::{BadSignature, KeyId, PublicKey, SigningKey};

/// Largest armored file accepted, in bytes. A license is usually under 2 KiB.
pub const MAX_ARMORED_LEN: usize = 64 * 1024;
/// Format version written and accepted.
pub const VERSION: u32 = 1;
/// The one signature algorithm.
pub const ALGORITHM: &str = "Ed25519";
const LINE_LEN: usize = 64;
const SIGNATURE_B64_LEN: usize = 88;

/// What a signed file is. Each kind has its own armor label and signing context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// A vendor-signed license.
    License,
    /// A portal-signed receipt of an activation or ping.
    Receipt,
    /// The vendor's certification of a portal's receipt key.
    Delegation,
    /// An air-gapped hub's activation request, signed by the hub's own key.
    ActivationRequest,
    /// The vendor's answer to an activation request.
    Activation,
    /// A hub's online activation call to the portal, signed by the hub's own key.
    Activate,
    /// A hub's hourly ping, signed by the hub's own key.
    Ping,
    /// A hub's grant of a runner slot, signed by the hub's own key.
    Lease,
    /// A runner's call to its hub (a lease asked for, renewed or given back), signed by the
    /// runner's own key.
    RunnerCall,
    /// The vendor's statement that a portal key may sign the heads of its audit ledger.
    LedgerDelegation,
    /// A hub agent's answer on its local status socket, signed by the hub's own key
    /// ([`crate::local_status`]).
    LocalStatus,
}

impl Kind {
    /// Every kind, in the order of the enum.
    pub const ALL: [Kind; 11] = [
        Kind::License,
        Kind::Receipt,
        Kind::Delegation,
        Kind::ActivationRequest,
        Kind::Activation,
        Kind::Activate,
        Kind::Ping,
        Kind::Lease,
        Kind::RunnerCall,
        Kind::LedgerDelegation,
        Kind::LocalStatus,
    ];

    /// The label in the BEGIN/END lines.
    pub fn label(self) -> &'static str {
        match self {
            Kind::License => "LICENSE",
            Kind::Receipt => "RECEIPT",
            Kind::Delegation => "DELEGATION",
            Kind::ActivationRequest => "ACTIVATION REQUEST",
            Kind::Activation => "ACTIVATION",
            Kind::Activate => "ACTIVATE",
            Kind::Ping => "PING",
            Kind::Lease => "LEASE",
            Kind::RunnerCall => "RUNNER CALL",
            Kind::LedgerDelegation => "LEDGER DELEGATION",
            Kind::LocalStatus => "LOCAL STATUS",
        }
    }

    /// The `kind` field inside the payload.
    pub fn name(self) -> &'static str {
        match self {
            Kind::License => "license",
            Kind::Receipt => "receipt",
            Kind::Delegation => "delegation",
            Kind::ActivationRequest => "activation_request",
            Kind::Activation => "activation",
            Kind::Activate => "activate",
            Kind::Ping => "ping",
            Kind::Lease => "lease",
            Kind::RunnerCall => "runner_call",
            Kind::LedgerDelegation => "ledger_delegation",
            Kind::LocalStatus => "local_status",
        }
    }

    /// The domain-separation context signed in front of the payload.
    pub fn context(self) -> &'static [u8] {
        match self {
            Kind::License => b"tessera license v1\0",
            Kind::Receipt => b"tessera receipt v1\0",
            Kind::Delegation => b"tessera delegation v1\0",
            Kind::ActivationRequest => b"tessera activation request v1\0",
            Kind::Activation => b"tessera activation v1\0",
            Kind::Activate => b"tessera activate v1\0",
            Kind::Ping => b"tessera ping v1\0",
            Kind::Lease => b"tessera lease v2\0",
            Kind::RunnerCall => b"tessera runner call v1\0",
            Kind::LedgerDelegation => b"tessera ledger delegation v1\0",
            Kind::LocalStatus => b"tessera local status v1\0",
        }
    }

    /// The largest payload accepted, in bytes (base64 in the compact form). A hub's status
    /// answer carries a license, receipt, delegation and activation, each up to a file's
    /// limit.
    pub fn max_len(self) -> usize {
        match self {
            Kind::LocalStatus => 4 * MAX_ARMORED_LEN,
            _ => MAX_ARMORED_LEN,
        }
    }

    fn begin_line(self) -> String {
        format!("-----BEGIN TESSERA {}-----", self.label())
    }

    fn end_line(self) -> String {
        format!("-----END TESSERA {}-----", self.label())
    }

    /// Whether `line` is this kind's BEGIN (or END) line, without allocating.
    fn is_armor_line(self, line: &str, word: &str) -> bool {
        line.strip_prefix("-----")
            .and_then(|l| l.strip_prefix(word))
            .and_then(|l| l.strip_prefix(" TESSERA "))
            .and_then(|l| l.strip_suffix("-----"))
            == Some(self.label())
    }
}

/// Why a file is not a well-formed Tessera file. Every variant maps to `malformed`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// The file passes the size limit of its kind.
    #[error("file is larger than the {max}-byte limit")]
    TooLarge {
        /// The limit in bytes.
        max: usize,
    },
    /// The file is empty.
    #[error("file is empty")]
    Empty,
    /// The file is not ASCII text.
    #[error("file is not ASCII text (binary data?)")]
    NotText,
    /// The file has CR LF line endings.
    #[error("file has Windows line endings (CR LF); convert it to LF line endings")]
    CarriageReturn,
    /// The first line is not a Tessera BEGIN line.
    #[error("not a Tessera file: the first line must be `-----BEGIN TESSERA {expected}-----`")]
    NotArmored {
        /// The label expected.
        expected: &'static str,
    },
    /// The file is a Tessera file of another kind.
    #[error("this is a Tessera {found}, not a {expected}")]
    WrongKind {
        /// The label expected.
        expected: &'static str,
        /// The label found.
        found: String,
    },
    /// A header line is missing or out of order.
    #[error("line {line}: expected the `{expected}` header")]
    BadHeader {
        /// The line number.
        line: usize,
        /// The header expected there.
        expected: &'static str,
    },
    /// The format version is not one this build reads.
    #[error("unsupported format version {0:?} (this build reads version {VERSION})")]
    UnsupportedVersion(String),
    /// The signature algorithm is not Ed25519.
    #[error("unsupported signature algorithm {0:?} (this build knows {ALGORITHM})")]
    UnsupportedAlgorithm(String),
    /// The key id header is not 16 upper-case hex digits.
    #[error("line 4: key id is not 16 upper-case hex digits")]
    BadKeyId,
    /// The signature header is not canonical base64 of 64 bytes.
    #[error("line 5: signature is not canonical base64 of 64 bytes")]
    BadSignatureEncoding,
    /// No empty line after the headers.
    #[error("line 6: expected an empty line after the headers")]
    MissingBlankLine,
    /// The file has no payload lines.
    #[error("the file holds no payload")]
    EmptyPayload,
    /// A payload line has the wrong length.
    #[error("line {line}: payload lines must be exactly {LINE_LEN} characters but the last")]
    BadLineLength {
        /// The line number.
        line: usize,
    },
    /// A payload line is not canonical base64.
    #[error("line {line}: payload is not canonical base64")]
    BadPayloadEncoding {
        /// The line number.
        line: usize,
    },
    /// The END line is missing.
    #[error("the `-----END TESSERA {expected}-----` line is missing (file truncated?)")]
    MissingEnd {
        /// The label expected.
        expected: &'static str,
    },
    /// Something follows the END line.
    #[error("line {line}: unexpected data after the END line")]
    TrailingData {
        /// The first line after it.
        line: usize,
    },
    /// The payload is not the JSON its kind requires.
    #[error("signed payload is not valid: {0}")]
    Payload(String),
    /// The payload disagrees with a header.
    #[error("signed payload says {field} {inside:?} but the header says {outside:?}")]
    HeaderMismatch {
        /// The field that disagrees.
        field: &'static str,
        /// Its value in the payload.
        inside: String,
        /// Its value in the header.
        outside: String,
    },
}

/// An envelope as a JSON object, for HTTP bodies: the same signed bytes without the armor.
/// `payload` and `signature` are canonical standard base64.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Compact {
    /// The signing key's id.
    pub key_id: KeyId,
    /// The payload, base64.
    pub payload: String,
    /// The signature over the kind's context and the payload, base64.
    pub signature: String,
}

/// A parsed, not yet verified, signed file.
#[derive(Debug, Clone)]
pub struct Envelope {
    kind: Kind,
    key_id: KeyId,
    signature: [u8; 64],
    /// `context ‖ payload`: exactly the signed message, kept contiguous so that verifying
    /// copies nothing.
    signed: Vec<u8>,
}

#[derive(Serialize)]
struct WrapperOut<'a, T> {
    v: u32,
    alg: &'a str,
    kind: &'a str,
    key_id: KeyId,
    body: &'a T,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WrapperIn<'a, T> {
    v: u32,
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(borrow)]
    kind: Cow<'a, str>,
    key_id: KeyId,
    body: T,
}

impl Envelope {
    /// Signs `body` as a `kind` file with `key` and returns the armored text.
    pub fn seal<T: Serialize>(kind: Kind, key: &SigningKey, body: &T) -> String {
        Self::sign_body(kind, key, body).to_armored()
    }

    /// Signs arbitrary payload bytes. [`Envelope::seal`] is the normal way in; this one
    /// exists so that tests can sign payloads the sealer would never write.
    pub fn sign_payload(kind: Kind, key: &SigningKey, payload: &[u8]) -> Envelope {
        let mut signed = Vec::with_capacity(kind.context().len() + payload.len());
        signed.extend_from_slice(kind.context());
        signed.extend_from_slice(payload);
        let signature = key.sign(&signed);
        Envelope { kind, key_id: key.key_id(), signature, signed }
    }

    /// Parses armored bytes strictly. Nothing is verified yet.
    pub fn parse(kind: Kind, bytes: &[u8]) -> Result<Envelope, FormatError> {
        if bytes.len() > MAX_ARMORED_LEN {
            return Err(FormatError::TooLarge { max: MAX_ARMORED_LEN });
        }
        if bytes.is_empty() {
            return Err(FormatError::Empty);
        }
        if !bytes.is_ascii() {
            return Err(FormatError::NotText);
        }
        if bytes.contains(&b'\r') {
            return Err(FormatError::CarriageReturn);
        }
        // Lines stay bytes: the payload goes straight to the base64 decoder, and only the
        // short header lines become text (they are ASCII, checked above).
        let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        fn text(line: &[u8]) -> &str {
            std::str::from_utf8(line).unwrap_or_default()
        }
        let mut lines = body.split(|&b| b == b'\n');

        let first = text(lines.next().unwrap_or_default());
        if !kind.is_armor_line(first, "BEGIN") {
            return Err(
                match first
                    .strip_prefix("-----BEGIN TESSERA ")
                    .and_then(|rest| rest.strip_suffix("-----"))
                {
                    Some(found) => FormatError::WrongKind {
                        expected: kind.label(),
                        found: found.chars().take(40).collect(),
                    },
                    None => FormatError::NotArmored { expected: kind.label() },
                },
            );
        }
        let mut header = |line: usize, name: &'static str| {
            lines
                .next()
                .and_then(|l| text(l).strip_prefix(name))
                .ok_or(FormatError::BadHeader { line, expected: name.trim_end_matches(": ") })
        };
        let version = header(2, "Version: ")?;
        if version != "1" {
            return Err(FormatError::UnsupportedVersion(version.chars().take(20).collect()));
        }
        let algorithm = header(3, "Algorithm: ")?;
        if algorithm != ALGORITHM {
            return Err(FormatError::UnsupportedAlgorithm(algorithm.chars().take(20).collect()));
        }
        let key_id: KeyId = header(4, "Key-Id: ")?.parse().map_err(|_| FormatError::BadKeyId)?;
        let signature_b64 = header(5, "Signature: ")?;
        let mut signature = [0u8; 64];
        if signature_b64.len() != SIGNATURE_B64_LEN
            || STANDARD.decode_slice(signature_b64, &mut signature) != Ok(64)
        {
            return Err(FormatError::BadSignatureEncoding);
        }
        if lines.next() != Some(&b""[..]) {
            return Err(FormatError::MissingBlankLine);
        }

        // Find the END line first, so that a truncated file is called truncated rather
        // than blamed on its last, partial line.
        let rest: Vec<&[u8]> = lines.collect();
        let end_index = rest
            .iter()
            .position(|l| kind.is_armor_line(text(l), "END"))
            .ok_or(FormatError::MissingEnd { expected: kind.label() })?;
        if end_index + 1 != rest.len() {
            return Err(FormatError::TrailingData { line: end_index + 8 });
        }
        let payload_lines = &rest[..end_index];
        if payload_lines.is_empty() {
            return Err(FormatError::EmptyPayload);
        }
        let mut signed = Vec::with_capacity(kind.context().len() + body.len() * 3 / 4);
        signed.extend_from_slice(kind.context());
        for (index, line) in payload_lines.iter().enumerate() {
            let line_no = index + 7;
            // Every line is full but the last, which may be short or padded.
            let is_last = index + 1 == payload_lines.len();
            let full = line.len() == LINE_LEN && !line.ends_with(b"=");
            if line.is_empty() || line.len() > LINE_LEN || (!is_last && !full) {
                return Err(FormatError::BadLineLength { line: line_no });
            }
            STANDARD
                .decode_vec(line, &mut signed)
                .map_err(|_| FormatError::BadPayloadEncoding { line: line_no })?;
        }
        Ok(Envelope { kind, key_id, signature, signed })
    }

    /// Reads the JSON form strictly, with the same size limit as armored files.
    pub fn from_compact(kind: Kind, compact: &Compact) -> Result<Envelope, FormatError> {
        if compact.payload.len() > kind.max_len() {
            return Err(FormatError::TooLarge { max: kind.max_len() });
        }
        let mut signature = [0u8; 64];
        if compact.signature.len() != SIGNATURE_B64_LEN
            || STANDARD.decode_slice(&compact.signature, &mut signature) != Ok(64)
        {
            return Err(FormatError::BadSignatureEncoding);
        }
        let mut signed = Vec::with_capacity(kind.context().len() + compact.payload.len());
        signed.extend_from_slice(kind.context());
        STANDARD
            .decode_vec(&compact.payload, &mut signed)
            .map_err(|_| FormatError::BadPayloadEncoding { line: 1 })?;
        if signed.len() == kind.context().len() {
            return Err(FormatError::EmptyPayload);
        }
        Ok(Envelope { kind, key_id: compact.key_id, signature, signed })
    }

    /// The JSON form of this envelope.
    pub fn to_compact(&self) -> Compact {
        Compact {
            key_id: self.key_id,
            payload: STANDARD.encode(self.payload()),
            signature: STANDARD.encode(self.signature),
        }
    }

    /// Signs `body` as a `kind` envelope with `key`, without armoring it.
    pub fn sign_body<T: Serialize>(kind: Kind, key: &SigningKey, body: &T) -> Envelope {
        let wrapper = WrapperOut {
            v: VERSION,
            alg: ALGORITHM,
            kind: kind.name(),
            key_id: key.key_id(),
            body,
        };
        // Serializing plain structs of strings and integers into a Vec cannot fail.
        let payload = serde_json::to_vec(&wrapper).unwrap_or_default();
        Self::sign_payload(kind, key, &payload)
    }

    /// The kind of file.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The key id named in the header (and, once opened, inside the payload).
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The exact payload bytes the signature covers (without the context).
    pub fn payload(&self) -> &[u8] {
        &self.signed[self.kind.context().len()..]
    }

    /// The exact message the signature covers: `context ‖ payload`.
    pub fn signed_message(&self) -> &[u8] {
        &self.signed
    }

    /// The Ed25519 signature.
    pub fn signature(&self) -> &[u8; 64] {
        &self.signature
    }

    /// Checks the signature with `key`. Does not check that `key` is trusted.
    pub fn verify_signature(&self, key: &PublicKey) -> Result<(), BadSignature> {
        if key.key_id() != self.key_id {
            return Err(BadSignature);
        }
        key.verify(&self.signed, &self.signature)
    }

    /// Decodes the payload's body strictly, checking that the signed version, algorithm,
    /// kind and key id agree with the header. Call after [`Envelope::verify_signature`]
    /// unless the result is shown as unverified.
    pub fn open<T: DeserializeOwned>(&self) -> Result<T, FormatError> {
        // One UTF-8 check of the whole payload, then a parser that need not check each string.
        let payload = std::str::from_utf8(self.payload())
            .map_err(|_| FormatError::Payload("not UTF-8".to_owned()))?;
        let wrapper: WrapperIn<'_, T> =
            serde_json::from_str(payload).map_err(|e| FormatError::Payload(e.to_string()))?;
        let mismatch = |field, inside: String, outside: String| {
            Err(FormatError::HeaderMismatch { field, inside, outside })
        };
        if wrapper.v != VERSION {
            return mismatch("version", wrapper.v.to_string(), VERSION.to_string());
        }
        if wrapper.alg != ALGORITHM {
            return mismatch("algorithm", wrapper.alg.into_owned(), ALGORITHM.to_owned());
        }
        if wrapper.kind != self.kind.name() {
            return mismatch("kind", wrapper.kind.into_owned(), self.kind.name().to_owned());
        }
        if wrapper.key_id != self.key_id {
            return mismatch("key id", wrapper.key_id.to_string(), self.key_id.to_string());
        }
        Ok(wrapper.body)
    }

    /// The armored text of this envelope.
    pub fn to_armored(&self) -> String {
        let payload = STANDARD.encode(self.payload());
        let mut out = String::with_capacity(payload.len() + payload.len() / LINE_LEN + 256);
        out.push_str(&self.kind.begin_line());
        out.push_str("\nVersion: 1\nAlgorithm: ");
        out.push_str(ALGORITHM);
        out.push_str("\nKey-Id: ");
        out.push_str(&self.key_id.to_string());
        out.push_str("\nSignature: ");
        STANDARD.encode_string(self.signature, &mut out);
        out.push_str("\n\n");
        for chunk in payload.as_bytes().chunks(LINE_LEN) {
            // base64 output is ASCII, so every chunk is valid UTF-8.
            out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
            out.push('\n');
        }
        out.push_str(&self.kind.end_line());
        out.push('\n');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        n: u32,
    }

    fn key() -> SigningKey {
        SigningKey::from_seed(&[11u8; 32])
    }

    #[test]
    fn sealed_files_parse_verify_and_open() {
        let text = Envelope::seal(Kind::Receipt, &key(), &Body { n: 7 });
        let env = Envelope::parse(Kind::Receipt, text.as_bytes()).expect("parse");
        assert_eq!(env.key_id(), key().key_id());
        env.verify_signature(key().public_key()).expect("verify");
        assert_eq!(env.open::<Body>().expect("open"), Body { n: 7 });
        assert_eq!(env.to_armored(), text, "armoring is canonical");
    }

    #[test]
    fn a_signature_of_one_kind_never_verifies_as_another() {
        let text = Envelope::seal(Kind::Receipt, &key(), &Body { n: 7 });
        for kind in Kind::ALL {
            if kind == Kind::Receipt {
                continue;
            }
            let relabelled = text.replace("TESSERA RECEIPT", &format!("TESSERA {}", kind.label()));
            let env = Envelope::parse(kind, relabelled.as_bytes()).expect("parse");
            assert!(env.verify_signature(key().public_key()).is_err(), "{kind:?}");
            assert!(env.open::<Body>().is_err(), "{kind:?}");
        }
        assert!(matches!(
            Envelope::parse(Kind::License, text.as_bytes()),
            Err(FormatError::WrongKind { .. })
        ));
    }

    #[test]
    fn a_final_newline_is_optional_but_nothing_else_may_follow() {
        let text = Envelope::seal(Kind::License, &key(), &Body { n: 1 });
        let trimmed = text.trim_end_matches('\n');
        assert!(Envelope::parse(Kind::License, trimmed.as_bytes()).is_ok());
        assert!(Envelope::parse(Kind::License, format!("{text}\n").as_bytes()).is_err());
        assert!(Envelope::parse(Kind::License, format!("{text}x").as_bytes()).is_err());
    }
}
