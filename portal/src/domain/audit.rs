//! What goes into the audit ledger, and when its head is signed. Every change made by a
//! person or an API key is recorded here by the rule that makes it (license actions,
//! accounts, API keys); the chain itself is `tessera_core::ledger`, its SQL `store::ledger`.

use tessera_core::UnixTime;
use tessera_core::keys::SigningKey;
use tessera_core::ledger::Head;

use crate::store::ledger::{NewEntry, StoredHead};
use crate::store::{Store, StoreError};

/// Who made a change, as the ledger names them: pseudonymous ids only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A person, by their random id.
    Person(String),
    /// An API key, by its public id.
    Key(String),
    /// Someone at the portal machine's command line.
    CommandLine,
    /// The portal itself (sign-in delays it imposed, retention).
    Portal,
}

impl Actor {
    /// The actor's pseudonymous id, as the ledger records it.
    pub fn id(&self) -> String {
        match self {
            Actor::Person(id) => id.clone(),
            Actor::Key(id) => format!("key:{id}"),
            Actor::CommandLine => "cli".to_owned(),
            Actor::Portal => "portal".to_owned(),
        }
    }
}

/// Appends one entry: `action` (a dotted word such as `license.suspended`) on `target` (ids,
/// space-separated), concerning organization `org_id` when there is one.
pub async fn record(
    store: &Store,
    actor: &Actor,
    action: &str,
    target: &str,
    org_id: Option<&str>,
    now: UnixTime,
) -> Result<(), StoreError> {
    let entry = NewEntry {
        at: now.as_unix(),
        actor: actor.id(),
        action: action.to_owned(),
        target: target.to_owned(),
        org_id: org_id.map(str::to_owned),
    };
    let appended = store.append_ledger(std::slice::from_ref(&entry)).await;
    if let Err(e) = &appended {
        // The change itself is done; its record is not: say so loudly.
        tracing::error!(error = %e, action, "the audit ledger could not record a change");
    }
    appended
}

/// Whether a ledger delegation's window holds `now`: a head signed outside it would not
/// verify, so none is signed (the vendor renews the delegation; the portal says so).
fn covers(delegation: &str, now: UnixTime) -> bool {
    use tessera_core::armor::{Envelope, Kind};
    let covered = Envelope::parse(Kind::LedgerDelegation, delegation.as_bytes())
        .ok()
        .and_then(|e| e.open::<tessera_core::delegation::DelegationClaims>().ok())
        .is_some_and(|c| c.not_before <= now && now <= c.not_after);
    if !covered {
        tracing::error!(
            "the ledger delegation does not cover now: ledger heads are not signed until it is renewed (tessera delegate --ledger)"
        );
    }
    covered
}

/// Cuts the entries made before `before` (retention), keeping the chain verifiable: a head
/// signed at the last entry cut becomes the checkpoint the held chain starts after. Nothing
/// is cut without a ledger delegation to sign that checkpoint. Answers the entries cut.
pub async fn cut(
    store: &Store,
    key: &SigningKey,
    delegation: Option<&str>,
    before: UnixTime,
    now: UnixTime,
) -> Result<u64, StoreError> {
    let Some((seq, hash)) = store.ledger_last_before(before.as_unix()).await? else {
        return Ok(0);
    };
    if !store.has_head_at(seq).await? {
        let Some(delegation) = delegation else {
            tracing::warn!(
                "ledger entries past retention kept: no ledger delegation to sign the checkpoint"
            );
            return Ok(0);
        };
        store_signed_head(store, key, delegation, seq, hash, now).await?;
    }
    store.cut_ledger(seq).await
}

/// Signs the chain's head with the portal's key when it moved since the last signed head.
/// Needs the delegation of that key (the export carries it); without one, nothing is signed.
pub async fn sign_head(
    store: &Store,
    key: &SigningKey,
    delegation: Option<&str>,
    now: UnixTime,
) -> Result<bool, StoreError> {
    let Some((seq, hash)) = store.ledger_head().await? else { return Ok(false) };
    let Some(delegation) = delegation else { return Ok(false) };
    if seq <= store.last_signed_seq().await? || !covers(delegation, now) {
        return Ok(false);
    }
    store_signed_head(store, key, delegation, seq, hash, now).await?;
    Ok(true)
}

/// Signs the head at `seq` (whose entry hash is `hash`) with the portal's key and keeps it
/// with the delegation that vouches for the key.
async fn store_signed_head(
    store: &Store,
    key: &SigningKey,
    delegation: &str,
    seq: i64,
    hash: [u8; 32],
    now: UnixTime,
) -> Result<(), StoreError> {
    let head = Head { seq: seq as u64, hash, signed_at: now };
    let stored = StoredHead {
        seq,
        hash: hex::encode(hash),
        signed_at: now.as_unix(),
        key_id: key.key_id().to_string(),
        signature: hex::encode(head.sign(key)),
    };
    store.insert_head(&stored, delegation).await
}
