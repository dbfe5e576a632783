//! The exchange on the hub agent's local status socket (`tessera-hub run --status-socket`),
//! where the vendor's own hub application asks how the hub stands (the SDK's `hub_status`).
//! See `docs/HUB.md` ("The hub application's status socket").
//!
//! The application writes one [`LocalRequest`] line holding a fresh nonce; the agent answers
//! one [`LocalAnswer`] line: its [`LocalStatus`] signed with the hub key (the key the
//! portal's receipt or the vendor's offline activation names), echoing the nonce and the
//! kernel's [`BootId`]. So a recorded answer (another nonce), an answer from another hub
//! (another key) or one relayed from another machine (another boot id) is told apart from
//! this hub's own answer to this question. An agent that holds no license answers
//! [`Unsigned`]: only a "no" can be believed from it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::activation::Bundle;
use crate::armor::{Compact, Envelope, FormatError, Kind};
use crate::keys::{KeyId, SigningKey};
use crate::receipt::Nonce;
use crate::status::Status;
use crate::time::UnixTime;

/// Where Linux shows the id it draws at each boot: the same for every process and container
/// on one running kernel, different on any other machine (or after a reboot).
const BOOT_ID_PATH: &str = "/proc/sys/kernel/random/boot_id";

/// The running kernel's boot id: what binds an answer to the machine that asked.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct BootId(uuid::Uuid);

impl BootId {
    /// This machine's: `Ok(None)` where the kernel does not show one (no `/proc`), an error
    /// where it could not be read (a process out of file descriptors): never `None` for a
    /// passing failure, which the other side would take for another machine. Read once per
    /// process: a running kernel keeps its boot id.
    pub fn of_this_machine() -> std::io::Result<Option<BootId>> {
        static READ: std::sync::OnceLock<BootId> = std::sync::OnceLock::new();
        if let Some(id) = READ.get() {
            return Ok(Some(*id));
        }
        let id = BootId::read(std::path::Path::new(BOOT_ID_PATH))?;
        Ok(id.map(|id| *READ.get_or_init(|| id)))
    }

    /// The boot id the file at `path` shows; `Ok(None)` where there is no such file or it
    /// shows no boot id.
    fn read(path: &std::path::Path) -> std::io::Result<Option<BootId>> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(text.trim().parse().ok()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Text that is not a boot id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a boot id is a UUID (8-4-4-4-12 hex digits)")]
pub struct BadBootId;

impl FromStr for BootId {
    type Err = BadBootId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Only the hyphenated form the kernel writes: one spelling per id.
        if s.len() != 36 {
            return Err(BadBootId);
        }
        uuid::Uuid::try_parse(s).map(BootId).map_err(|_| BadBootId)
    }
}

impl fmt::Display for BootId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl fmt::Debug for BootId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BootId({self})")
    }
}

serde_via_str!(BootId);

/// What the application writes first: one JSON line, then it closes its side for writing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalRequest {
    /// The exchange's format: [`LocalStatus::VERSION`].
    pub version: u32,
    /// Fresh for every request: the signed answer echoes it.
    pub nonce: Nonce,
}

/// The agent's answer: one JSON line, exactly one of `signed` and `unsigned`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalAnswer {
    /// The exchange's format: [`LocalStatus::VERSION`].
    pub version: u32,
    /// A [`LocalStatus`] signed with the hub key (kind `local_status`).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::present")]
    pub signed: Option<Compact>,
    /// The agent holds no license (or cannot read its state): nothing to sign with.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::present")]
    pub unsigned: Option<Unsigned>,
}

impl LocalAnswer {
    /// `status`, signed with the hub key.
    pub fn signed(status: &LocalStatus, hub_key: &SigningKey) -> Self {
        LocalAnswer {
            version: LocalStatus::VERSION,
            signed: Some(Envelope::sign_body(Kind::LocalStatus, hub_key, status).to_compact()),
            unsigned: None,
        }
    }

    /// An answer with no evidence behind it.
    pub fn unsigned(status: Status, reason: String) -> Self {
        LocalAnswer {
            version: LocalStatus::VERSION,
            signed: None,
            unsigned: Some(Unsigned { status, reason }),
        }
    }
}

/// An agent's word without evidence: believed only when it says no.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unsigned {
    /// The agent's status word.
    #[serde(deserialize_with = "crate::status::tolerant")]
    pub status: Status,
    /// One sentence for people.
    pub reason: String,
}

/// What the agent signs: the signed evidence of the hub's standing, for the application to
/// check itself rather than take the agent's word, the agent's own view beside it, and what
/// binds the answer to this request on this machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalStatus {
    /// The request's nonce, echoed.
    pub nonce: Nonce,
    /// The boot id of the kernel the agent runs on; absent where it shows none.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::present")]
    pub boot_id: Option<BootId>,
    /// The agent's own status (informative: the application decides from the evidence).
    #[serde(deserialize_with = "crate::status::tolerant")]
    pub status: Status,
    /// The agent's reason, one sentence for people.
    pub reason: String,
    /// The license, receipt and delegation (or offline activation) and the hub key, whose
    /// secret half signed this answer.
    pub evidence: Bundle,
    /// The latest time the hub has seen: a clock set back below it is `clock_rollback`.
    pub high_water: UnixTime,
    /// Runners holding a lease now.
    pub runners_leased: usize,
}

impl LocalStatus {
    /// The format of the exchange ([`LocalRequest::version`], [`LocalAnswer::version`]).
    pub const VERSION: u32 = 2;
}

/// Why a signed answer is not this hub's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LocalStatusError {
    /// Not a well-formed answer.
    #[error("malformed: {0}")]
    Malformed(#[from] FormatError),
    /// Not signed by the hub key the answer shows (so not by the key the receipt names).
    #[error("the answer is signed by key {signed_by}, not by the hub key it shows ({shown})")]
    BadSignature {
        /// The key that signed it.
        signed_by: KeyId,
        /// The hub key the answer shows.
        shown: KeyId,
    },
}

/// Opens a signed answer and checks that the hub key it shows signed it. That key is bound
/// to the license by the receipt or activation inside, which the caller verifies.
pub fn open_signed(compact: &Compact) -> Result<LocalStatus, LocalStatusError> {
    let envelope = Envelope::from_compact(Kind::LocalStatus, compact)?;
    // The key that must have signed is inside: read, then checked before anything is used.
    let status: LocalStatus = envelope.open()?;
    let shown = status.evidence.hub_key.key_id();
    if envelope.key_id() != shown || envelope.verify_signature(&status.evidence.hub_key).is_err() {
        return Err(LocalStatusError::BadSignature { signed_by: envelope.key_id(), shown });
    }
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(hub: &SigningKey) -> LocalStatus {
        LocalStatus {
            nonce: Nonce::from_bytes([9; 16]),
            boot_id: "d27147c2-e28a-432d-b2a8-d9b5da9570c8".parse().ok(),
            status: Status::Valid,
            reason: String::new(),
            evidence: Bundle {
                status: Status::Valid,
                license: "a license".into(),
                receipt: None,
                delegation: None,
                activation: None,
                hub_key: hub.public_key().clone(),
                lease: None,
                named_receipt: None,
            },
            high_water: UnixTime::EPOCH,
            runners_leased: 1,
        }
    }

    #[test]
    fn a_signed_answer_opens_only_when_the_hub_key_it_shows_signed_it() {
        let hub = SigningKey::from_seed(&[1; 32]);
        let other = SigningKey::from_seed(&[2; 32]);
        let answer = LocalAnswer::signed(&status(&hub), &hub);
        let compact = answer.signed.expect("signed");
        assert_eq!(open_signed(&compact), Ok(status(&hub)));

        // Another hub's key signing this hub's evidence.
        let forged = LocalAnswer::signed(&status(&hub), &other).signed.expect("signed");
        assert!(matches!(open_signed(&forged), Err(LocalStatusError::BadSignature { .. })));
        // One byte of the signed payload changed.
        let mut edited = compact.clone();
        edited.payload = edited.payload.replacen("ey", "eZ", 1);
        assert!(open_signed(&edited).is_err());
        // The signature of another kind never verifies as an answer.
        let lease = Envelope::sign_body(Kind::Lease, &hub, &status(&hub)).to_compact();
        assert!(open_signed(&lease).is_err());
    }

    #[test]
    fn this_machine_shows_one_boot_id_and_only_the_kernel_spelling_parses() {
        let id = BootId::of_this_machine()
            .expect("/proc/sys/kernel/random/boot_id read")
            .expect("/proc/sys/kernel/random/boot_id");
        assert_eq!(BootId::of_this_machine().expect("read"), Some(id));
        assert_eq!(id.to_string().parse(), Ok(id));
        assert_eq!("d27147c2e28a432db2a8d9b5da9570c8".parse::<BootId>(), Err(BadBootId));
        assert_eq!("not a boot id".parse::<BootId>(), Err(BadBootId));
    }

    #[test]
    fn a_boot_id_that_cannot_be_read_is_an_error_not_another_machine() {
        let dir = tempfile::tempdir().expect("dir");
        // A directory where the file should be: the read fails (as out of descriptors would).
        assert!(BootId::read(dir.path()).is_err());
        assert_eq!(BootId::read(&dir.path().join("absent")).expect("no file"), None);
        let file = dir.path().join("boot_id");
        std::fs::write(&file, "d27147c2-e28a-432d-b2a8-d9b5da9570c8\n").expect("write");
        assert_eq!(
            BootId::read(&file).expect("read"),
            "d27147c2-e28a-432d-b2a8-d9b5da9570c8".parse().ok()
        );
    }
}
