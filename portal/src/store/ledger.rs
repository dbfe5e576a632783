//! The audit ledger as stored: entries with their leaf hashes, signed checkpoints, the
//! delegations of the keys that signed them, and the frontier a retention cut left.

use sqlx::Row;
use tessera_core::ledger::Entry;

use super::{Backend, Store, StoreError};

/// A ledger entry to append (its number and hash are given by the store).
#[derive(Debug, Clone)]
pub struct NewEntry {
    /// When, Unix seconds.
    pub at: i64,
    /// Who (pseudonymous).
    pub actor: String,
    /// What was done.
    pub action: String,
    /// What it was done to.
    pub target: String,
    /// The organization concerned, if any.
    pub org_id: Option<String>,
}

/// Which entries [`Store::ledger_page`] answers: every filter given must match.
#[derive(Debug, Clone, Copy, Default)]
pub struct LedgerQuery<'a> {
    /// Of this organization.
    pub org_id: Option<&'a str>,
    /// By this actor (a pseudonymous id).
    pub actor: Option<&'a str>,
    /// Naming this id among its targets.
    pub target: Option<&'a str>,
    /// Of this action.
    pub action: Option<&'a str>,
    /// At or after this moment (Unix seconds).
    pub from: Option<i64>,
    /// At or before this moment.
    pub to: Option<i64>,
    /// Numbered below this (the next page's start), or from the newest.
    pub before: Option<i64>,
    /// At most this many.
    pub limit: i64,
}

/// A stored entry with its hash (hex).
#[derive(Debug, Clone)]
pub struct StoredEntry {
    /// The entry.
    pub entry: Entry,
    /// Its hash, hex.
    pub hash: String,
    /// Its tag (hex; [`tessera_core::ledger::EntryTagKey`]), none when written without a key.
    pub tag: Option<String>,
}

/// What this store handle appended and no checkpoint covers yet, by entry number: the leaf
/// hash it wrote. Kept in memory only (a fact about this process's writes, which the domain
/// compares with the database before signing, so entries removed from the unsigned tail are
/// noticed while the portal runs). Bounded: past [`WRITTEN_KEPT`], the oldest are forgotten.
#[derive(Debug, Default)]
pub struct Written(std::sync::Mutex<WrittenInner>);

#[derive(Debug, Default)]
struct WrittenInner {
    leaves: std::collections::BTreeMap<u64, [u8; 32]>,
    /// The first entry number this handle wrote twice: the first entry there was removed.
    reused: Option<u64>,
}

/// How many unsigned entries a process remembers writing (a portal that may not sign keeps
/// appending; its memory must not grow without end).
pub const WRITTEN_KEPT: usize = 100_000;

impl Written {
    fn inner(&self) -> std::sync::MutexGuard<'_, WrittenInner> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn note(&self, seq: u64, leaf: [u8; 32]) {
        let mut inner = self.inner();
        if inner.leaves.insert(seq, leaf).is_some() {
            inner.reused.get_or_insert(seq);
        }
        while inner.leaves.len() > WRITTEN_KEPT {
            inner.leaves.pop_first();
        }
    }

    /// The entries written after `after`, oldest first.
    pub fn after(&self, after: u64) -> Vec<(u64, [u8; 32])> {
        self.inner().leaves.range(after + 1..).map(|(seq, leaf)| (*seq, *leaf)).collect()
    }

    /// The first entry number this handle wrote at twice (so the entry it wrote first there
    /// was removed from the database), if any.
    pub fn reused(&self) -> Option<u64> {
        self.inner().reused
    }

    /// Forgets the entries up to `size` (a checkpoint covers them now).
    pub fn forget_through(&self, size: u64) {
        let mut inner = self.inner();
        inner.leaves = inner.leaves.split_off(&(size + 1));
    }
}

/// A stored checkpoint.
#[derive(Debug, Clone)]
pub struct StoredCheckpoint {
    /// The tree size it covers.
    pub size: i64,
    /// When it was signed.
    pub signed_at: i64,
    /// The signing key's id.
    pub key_id: String,
    /// The signed note.
    pub note: String,
}

fn decode_hash(text: &str) -> Result<[u8; 32], StoreError> {
    hex::decode(text)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("ledger hash {text:?}")))
}

fn entry_from_row(row: &sqlx::any::AnyRow) -> Result<StoredEntry, StoreError> {
    let seq: i64 = row.try_get("seq")?;
    Ok(StoredEntry {
        entry: Entry {
            seq: u64::try_from(seq).map_err(|_| StoreError::Corrupt("ledger seq".into()))?,
            at: row.try_get("at")?,
            actor: row.try_get("actor")?,
            action: row.try_get("action")?,
            target: row.try_get("target")?,
            org: row.try_get("org_id")?,
        },
        hash: row.try_get("hash")?,
        tag: row.try_get("tag")?,
    })
}

impl Store {
    /// Appends entries to the chain in one transaction. Writers take turns (SQLite's write
    /// lock; on PostgreSQL a lock on the table), so several portal instances never fork it.
    pub async fn append_ledger(&self, entries: &[NewEntry]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("LOCK TABLE ledger IN EXCLUSIVE MODE").execute(&mut *tx).await?;
        }
        // The last entry, or — every entry cut at retention — the size of what was cut.
        let row = sqlx::query(
            "SELECT COALESCE((SELECT MAX(seq) FROM ledger), (SELECT MAX(size) FROM ledger_frontier), 0)",
        )
        .fetch_one(&mut *tx)
        .await?;
        let mut seq: i64 = row.try_get(0)?;
        let mut leaves = Vec::with_capacity(entries.len());
        for new in entries {
            seq += 1;
            let entry = Entry {
                seq: seq as u64,
                at: new.at,
                actor: new.actor.clone(),
                action: new.action.clone(),
                target: new.target.clone(),
                org: new.org_id.clone(),
            };
            let hash = entry.leaf_hash();
            let tag = self.entry_tags.as_ref().map(|key| hex::encode(key.tag(&hash)));
            sqlx::query(
                "INSERT INTO ledger (seq, at, actor, action, target, org_id, hash, tag) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(seq)
            .bind(new.at)
            .bind(&new.actor)
            .bind(&new.action)
            .bind(&new.target)
            .bind(&new.org_id)
            .bind(hex::encode(hash))
            .bind(tag)
            .execute(&mut *tx)
            .await?;
            leaves.push((seq as u64, hash));
        }
        tx.commit().await?;
        for (seq, leaf) in leaves {
            self.written.note(seq, leaf);
        }
        Ok(())
    }

    /// The tree's size: the last entry's number, or the size cut when none is held.
    pub async fn ledger_size(&self) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COALESCE((SELECT MAX(seq) FROM ledger), (SELECT MAX(size) FROM ledger_frontier), 0)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get(0)?)
    }

    /// The last entry of the oldest run of entries all made before `before`: the entry
    /// before the first one made at or after it (or the newest entry when every one is
    /// older); none when the ledger is empty. An entry dated in the past appended at the end
    /// is not such a run's end.
    pub async fn ledger_last_before(&self, before: i64) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query(
            "SELECT COALESCE((SELECT MIN(seq) - 1 FROM ledger WHERE at >= $1), \
             (SELECT MAX(seq) FROM ledger))",
        )
        .bind(before)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<Option<i64>, _>(0)?)
    }

    /// The frontier a retention cut left: its size and hashes (none: nothing was cut).
    pub async fn ledger_frontier(&self) -> Result<Option<(i64, Vec<[u8; 32]>)>, StoreError> {
        let row = sqlx::query("SELECT size, hashes FROM ledger_frontier WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let hashes: String = row.try_get(1)?;
        let hashes =
            hashes.split_whitespace().map(decode_hash).collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Some((row.try_get(0)?, hashes)))
    }

    /// Deletes entries through `seq` and the checkpoints older than it, and keeps `frontier`
    /// (the hashes standing for the first `seq` entries), in one transaction. Answers the
    /// entries deleted.
    pub async fn cut_ledger(&self, seq: i64, frontier: &[[u8; 32]]) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let cut = sqlx::query("DELETE FROM ledger WHERE seq <= $1")
            .bind(seq)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM ledger_checkpoints WHERE size < $1")
            .bind(seq)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM ledger_frontier").execute(&mut *tx).await?;
        let hashes: Vec<String> = frontier.iter().map(hex::encode).collect();
        sqlx::query("INSERT INTO ledger_frontier (id, size, hashes) VALUES (1, $1, $2)")
            .bind(seq)
            .bind(hashes.join(" "))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(cut)
    }

    /// The size of the newest stored checkpoint (none: never signed).
    pub async fn last_checkpoint_size(&self) -> Result<Option<i64>, StoreError> {
        let row =
            sqlx::query("SELECT MAX(size) FROM ledger_checkpoints").fetch_one(&self.pool).await?;
        Ok(row.try_get::<Option<i64>, _>(0)?)
    }

    /// Stores a signed checkpoint and the delegation of the key that signed it.
    pub async fn insert_checkpoint(
        &self,
        checkpoint: &StoredCheckpoint,
        delegation: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO ledger_delegations (key_id, text) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(&checkpoint.key_id)
        .bind(delegation)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO ledger_checkpoints (size, signed_at, key_id, note) \
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(checkpoint.size)
        .bind(checkpoint.signed_at)
        .bind(&checkpoint.key_id)
        .bind(&checkpoint.note)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces the note of the stored checkpoint of `size` signed by `key_id` with `note`
    /// (the same checkpoint with witnesses' cosignature lines added).
    pub async fn cosign_checkpoint(
        &self,
        size: i64,
        key_id: &str,
        note: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE ledger_checkpoints SET note = $1 WHERE size = $2 AND key_id = $3")
            .bind(note)
            .bind(size)
            .bind(key_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Entries after `after`, oldest first, at most `limit` (for the export).
    pub async fn ledger_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<StoredEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, at, actor, action, target, org_id, hash, tag FROM ledger WHERE seq > $1 \
             ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(entry_from_row).collect()
    }

    /// Entries newest first, before `before` (or from the newest), at most `limit`,
    /// matching every filter given.
    pub async fn ledger_page(
        &self,
        query: &LedgerQuery<'_>,
    ) -> Result<Vec<StoredEntry>, StoreError> {
        enum Bind {
            Text(String),
            Time(i64),
        }
        let mut conditions = vec!["seq < $1".to_owned()];
        let mut binds: Vec<Bind> = Vec::new();
        let mut add = |condition: &str, bind: Bind| {
            binds.push(bind);
            conditions.push(condition.replace('?', &format!("${}", binds.len() + 1)));
        };
        let texts = [
            ("org_id = ?", query.org_id),
            ("actor = ?", query.actor),
            ("action = ?", query.action),
        ];
        for (condition, value) in texts {
            if let Some(value) = value {
                add(condition, Bind::Text(value.to_owned()));
            }
        }
        if let Some(target) = query.target {
            // Targets are ids separated by spaces: a whole-word match.
            add("(' ' || target || ' ') LIKE ?", Bind::Text(format!("% {target} %")));
        }
        if let Some(from) = query.from {
            add("at >= ?", Bind::Time(from));
        }
        if let Some(to) = query.to {
            add("at <= ?", Bind::Time(to));
        }
        let sql = format!(
            "SELECT seq, at, actor, action, target, org_id, hash, tag FROM ledger WHERE {} \
             ORDER BY seq DESC LIMIT ${}",
            conditions.join(" AND "),
            binds.len() + 2
        );
        let mut sql_query =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(query.before.unwrap_or(i64::MAX));
        for bind in binds {
            sql_query = match bind {
                Bind::Text(text) => sql_query.bind(text),
                Bind::Time(at) => sql_query.bind(at),
            };
        }
        let rows = sql_query.bind(query.limit).fetch_all(&self.pool).await?;
        rows.iter().map(entry_from_row).collect()
    }

    /// The signed checkpoint of `size` entries, or the newest when `size` is `None` (the
    /// first stored, when two keys signed the same size).
    pub async fn ledger_checkpoint(
        &self,
        size: Option<i64>,
    ) -> Result<Option<StoredCheckpoint>, StoreError> {
        let row = sqlx::query(
            "SELECT size, signed_at, key_id, note FROM ledger_checkpoints \
             WHERE size = COALESCE($1, (SELECT MAX(size) FROM ledger_checkpoints)) \
             ORDER BY signed_at, key_id LIMIT 1",
        )
        .bind(size)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(StoredCheckpoint {
                size: r.try_get(0)?,
                signed_at: r.try_get(1)?,
                key_id: r.try_get(2)?,
                note: r.try_get(3)?,
            })
        })
        .transpose()
    }

    /// Every signed checkpoint, smallest first, and every delegation that signed one.
    pub async fn ledger_checkpoints(
        &self,
    ) -> Result<(Vec<StoredCheckpoint>, Vec<String>), StoreError> {
        let checkpoints = sqlx::query(
            "SELECT size, signed_at, key_id, note FROM ledger_checkpoints ORDER BY size, key_id",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(StoredCheckpoint {
                size: r.try_get(0)?,
                signed_at: r.try_get(1)?,
                key_id: r.try_get(2)?,
                note: r.try_get(3)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        let delegations = sqlx::query("SELECT text FROM ledger_delegations ORDER BY key_id, text")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>(0))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((checkpoints, delegations))
    }
}
