//! Finding licenses by a part of their organization's name (the `org` claim), whatever the
//! case, through an index of trigrams: SQLite's FTS5 `trigram` tokenizer, PostgreSQL's
//! `pg_trgm`. A plain `LIKE '%…%'` reads every row (about 200 ms at a million licenses);
//! the index answers in a few milliseconds.
//!
//! Each database's index is its own SQL, so it is made when the store opens (idempotent),
//! not by the migrations, which are one text for both databases.

use sqlx::Row;

use super::filter::{Bind, Where};
use super::{Backend, Store, StoreError};

/// SQLite: the names' trigrams in an FTS5 table whose rowid is a number of its own
/// (`license_name_rows`): a table keyed by text has no rowid that `VACUUM` keeps, so the
/// index cannot point at the licenses' rowids. Triggers keep both in step with `licenses`
/// whoever writes it (the ping path's day counts touch no name: no trigger fires for them).
const SQLITE_INDEX: [&str; 5] = [
    "CREATE TABLE IF NOT EXISTS license_name_rows (n INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE)",
    "CREATE VIRTUAL TABLE IF NOT EXISTS license_names USING fts5(org, tokenize = 'trigram')",
    "CREATE TRIGGER IF NOT EXISTS license_names_insert AFTER INSERT ON licenses BEGIN \
       INSERT INTO license_name_rows (id) VALUES (new.id); \
       INSERT INTO license_names (rowid, org) \
         SELECT n, new.org FROM license_name_rows WHERE id = new.id; \
     END",
    "CREATE TRIGGER IF NOT EXISTS license_names_delete AFTER DELETE ON licenses BEGIN \
       DELETE FROM license_names \
         WHERE rowid = (SELECT n FROM license_name_rows WHERE id = old.id); \
       DELETE FROM license_name_rows WHERE id = old.id; \
     END",
    "CREATE TRIGGER IF NOT EXISTS license_names_rename AFTER UPDATE OF org ON licenses BEGIN \
       UPDATE license_names SET org = new.org \
         WHERE rowid = (SELECT n FROM license_name_rows WHERE id = old.id); \
     END",
];

/// SQLite: the names of licenses registered before the index was made.
const SQLITE_FILL: [&str; 2] = [
    "INSERT INTO license_name_rows (id) SELECT id FROM licenses \
     WHERE id NOT IN (SELECT id FROM license_name_rows)",
    "INSERT INTO license_names (rowid, org) \
     SELECT r.n, l.org FROM license_name_rows r JOIN licenses l ON l.id = r.id",
];

/// PostgreSQL: a GIN index of trigrams over the names (`pg_trgm` ships with PostgreSQL and
/// is a trusted extension: the database's owner may create it).
const POSTGRES_INDEX: [&str; 2] = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS licenses_org_trigrams ON licenses USING gin (org gin_trgm_ops)",
];

impl Store {
    /// Makes the name index if it is not there yet (on SQLite, filled from the licenses
    /// already registered), in one transaction.
    pub(super) async fn prepare_name_search(&self) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        match self.backend {
            Backend::Sqlite => {
                let there =
                    sqlx::query("SELECT COUNT(*) FROM sqlite_master WHERE name = 'license_names'")
                        .fetch_one(&mut *tx)
                        .await?
                        .try_get::<i64, _>(0)?
                        > 0;
                for statement in SQLITE_INDEX {
                    sqlx::query(statement).execute(&mut *tx).await?;
                }
                if !there {
                    for statement in SQLITE_FILL {
                        sqlx::query(statement).execute(&mut *tx).await?;
                    }
                }
            }
            Backend::Postgres => {
                for statement in POSTGRES_INDEX {
                    sqlx::query(statement).execute(&mut *tx).await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

/// The condition "the license's organization name contains `part`, whatever the case" on
/// `licenses l`, in the dialect of `sql`. `part` is three characters or more: a trigram
/// index finds nothing shorter.
pub(super) fn push_condition(sql: &mut Where, part: &str) {
    match sql.backend {
        Backend::Sqlite => {
            // One FTS5 phrase (quotes doubled): its trigrams in a row, i.e. the substring.
            let phrase = format!("\"{}\"", part.replace('"', "\"\""));
            let n = sql.bind(Bind::Text(phrase));
            sql.push(format!(
                "l.id IN (SELECT r.id FROM license_names \
                 JOIN license_name_rows r ON r.n = license_names.rowid \
                 WHERE license_names MATCH ${n})"
            ));
        }
        Backend::Postgres => {
            let mut pattern = String::from("%");
            for c in part.chars() {
                if matches!(c, '\\' | '%' | '_') {
                    pattern.push('\\');
                }
                pattern.push(c);
            }
            pattern.push('%');
            let n = sql.bind(Bind::Text(pattern));
            sql.push(format!("l.org ILIKE ${n}"));
        }
    }
}
