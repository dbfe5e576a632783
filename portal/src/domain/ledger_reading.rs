//! Reading the audit ledger on the web pages: a page of entries, and of those the ones a
//! caller may read (the vendor every one, an organization's person their organization's).

use crate::domain::authorization::{self, Caller, Operation, Resource};
use crate::store::ledger::{LedgerQuery, StoredEntry};
use crate::store::{Store, StoreError};

/// The entries `query` names, newest first, before the caller's right is applied (see
/// [`readable`]): a page's length and last number say whether more follow.
pub async fn page(store: &Store, query: &LedgerQuery<'_>) -> Result<Vec<StoredEntry>, StoreError> {
    store.ledger_page(query).await
}

/// The entries `caller` may read of `entries`.
pub fn readable(caller: &Caller<'_>, entries: Vec<StoredEntry>) -> Vec<StoredEntry> {
    entries
        .into_iter()
        .filter(|s| {
            let owner = Resource::OwnedBy(Some(s.entry.org.as_deref()));
            authorization::may(caller, Operation::ReadLedgerEntry, owner).is_ok()
        })
        .collect()
}
