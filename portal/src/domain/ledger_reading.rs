//! Reading the audit ledger: on the web pages, a page of entries and of those the ones a
//! caller may read (the vendor every one, an organization's person their organization's);
//! for the admin API's export, what it holds around its entries and the entries in pages.

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

/// What an export of the whole ledger holds around its entries: the `head` lines (the
/// delegations of the keys that signed checkpoints, the frontier a retention cut left), the
/// entries after `start` up to `upto` (streamed in pages: [`entries_after`]), and the `tail`
/// lines (every checkpoint, then the `end` line naming `upto`).
pub struct ExportPlan {
    /// The lines before the entries.
    pub head: String,
    /// The lines after them.
    pub tail: String,
    /// The entries start after this number (the size a retention cut removed).
    pub start: i64,
    /// And end at this one.
    pub upto: i64,
}

/// The export's plan: entries up to the newest checkpoint (those appended while it streams
/// wait for the next one), unless the portal `refused` to sign or never signed: then every
/// entry, so that `tessera audit verify` names what is wrong.
pub async fn export_plan(store: &Store, refused: bool) -> Result<ExportPlan, StoreError> {
    use serde_json::json;
    let size = store.ledger_size().await?;
    let (checkpoints, delegations) = store.ledger_checkpoints().await?;
    let newest = checkpoints.iter().map(|c| c.size).max().unwrap_or(0);
    let upto = if refused || checkpoints.is_empty() { size } else { newest.min(size) };
    let mut head = String::new();
    for text in &delegations {
        head.push_str(&json!({ "kind": "delegation", "text": text }).to_string());
        head.push('\n');
    }
    let start = match store.ledger_frontier().await? {
        Some((size, hashes)) => {
            let hashes: Vec<String> = hashes.iter().map(hex::encode).collect();
            head.push_str(
                &json!({ "kind": "frontier", "size": size, "hashes": hashes }).to_string(),
            );
            head.push('\n');
            size
        }
        None => 0,
    };
    let mut tail = String::new();
    for checkpoint in &checkpoints {
        let line = json!({ "kind": "checkpoint", "signed_at": checkpoint.signed_at, "note": checkpoint.note });
        tail.push_str(&line.to_string());
        tail.push('\n');
    }
    // The last line says where the export ends, so a download cut short is named as such.
    tail.push_str(&json!({ "kind": "end", "size": upto }).to_string());
    tail.push('\n');
    Ok(ExportPlan { head, tail, start, upto })
}

/// The entries after number `after`, oldest first, at most `limit`.
pub async fn entries_after(
    store: &Store,
    after: i64,
    limit: i64,
) -> Result<Vec<StoredEntry>, StoreError> {
    store.ledger_after(after, limit).await
}
