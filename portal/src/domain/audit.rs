//! What goes into the audit ledger. Every change made by a person or an API key is recorded
//! here by the rule that makes it (license actions, accounts, API keys); its checkpoints are
//! signed in `domain::ledger_signing`, the tree itself is `tessera_core::ledger`, its SQL
//! `store::ledger`.

use tessera_core::UnixTime;

use crate::store::ledger::NewEntry;
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
