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

/// The trigrams a part is looked up by on SQLite, and the check that makes the answer exact.
///
/// The FTS5 index reads the whole list of rows of every trigram it is asked for; names share
/// words ("Systems", "GmbH"), so most trigrams of a part are in a large share of the names and
/// a phrase of all of them reads nearly every row (45 ms at a million). The rarest two are
/// enough to narrow the candidates to a few; the whole part is then checked on those rows.
#[derive(Debug, Clone)]
pub(crate) struct NameLookup {
    /// The FTS5 query: the rarest trigrams, each a phrase, joined by AND.
    fts: String,
    /// The part as a `LIKE` pattern (`\` escapes), when `LIKE`'s case folding (ASCII only)
    /// is exact for it; `None` for a part with other letters, whose whole phrase is matched.
    like: Option<String>,
}

/// The most trigrams of a part whose rarity is asked (a long part has one per character).
const TRIGRAMS_PROBED: usize = 24;
/// Rows counted per trigram when finding the rarest: past this, a trigram is "common".
/// Above the licenses one customer holds (a name shared by a thousand licenses makes each of
/// its trigrams count a thousand: a cap of 1,000 ties them all); 5,000 counts of seven
/// trigrams read in about 1.5 ms at a million licenses.
const PROBE_CAP: i64 = 5000;

/// `part` as one FTS5 phrase (quotes doubled): its trigrams in a row, i.e. the substring.
fn phrase(part: &str) -> String {
    format!("\"{}\"", part.replace('"', "\"\""))
}

/// `part` as a `LIKE`/`ILIKE` pattern of "contains", its wildcards escaped with `\\`.
fn like_pattern(part: &str) -> String {
    let mut pattern = String::from("%");
    for c in part.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The distinct trigrams of `part`, as the trigram tokenizer cuts it (folded to lower case
/// here only to count each once: the tokenizer folds both sides).
fn trigrams(part: &str) -> Vec<String> {
    let chars: Vec<char> = part.chars().flat_map(char::to_lowercase).collect();
    let mut seen: Vec<String> = Vec::new();
    for window in chars.windows(3) {
        let trigram: String = window.iter().collect();
        if !seen.contains(&trigram) {
            seen.push(trigram);
        }
    }
    seen
}

impl Store {
    /// How `part` (three characters or more) is looked up on this database: on SQLite, its
    /// rarest trigrams, found by counting (up to [`PROBE_CAP`]) the rows of each in one
    /// statement.
    pub(super) async fn name_lookup(&self, part: &str) -> Result<Option<NameLookup>, StoreError> {
        if self.backend != Backend::Sqlite {
            return Ok(None);
        }
        let probed: Vec<String> = trigrams(part).into_iter().take(TRIGRAMS_PROBED).collect();
        let counts: Vec<String> = (1..=probed.len())
            .map(|n| {
                format!(
                    "(SELECT COUNT(*) FROM (SELECT 1 FROM license_names \
                     WHERE license_names MATCH ${n} LIMIT {PROBE_CAP}))"
                )
            })
            .collect();
        let mut query = String::from("SELECT ");
        query.push_str(&counts.join(", "));
        let mut statement = sqlx::query(sqlx::AssertSqlSafe(query));
        for trigram in &probed {
            statement = statement.bind(phrase(trigram));
        }
        let row = statement.fetch_one(&self.pool).await?;
        let mut ranked: Vec<(i64, &String)> = Vec::with_capacity(probed.len());
        for (i, trigram) in probed.iter().enumerate() {
            ranked.push((row.try_get::<i64, _>(i)?, trigram));
        }
        ranked.sort_by_key(|(count, _)| *count);
        if ranked.first().is_none_or(|(count, _)| *count >= PROBE_CAP) {
            // No trigram is rare: two common ones would leave tens of thousands of rows to
            // check, more than the whole phrase costs the index.
            return Ok(Some(NameLookup { fts: phrase(part), like: None }));
        }
        let mut terms: Vec<String> = ranked.iter().take(2).map(|(_, t)| phrase(t)).collect();
        let like = if part.is_ascii() {
            Some(like_pattern(part))
        } else {
            // LIKE folds ASCII letters only: the index's own (Unicode) folding decides.
            terms.push(phrase(part));
            None
        };
        Ok(Some(NameLookup { fts: terms.join(" AND "), like }))
    }
}

/// The condition "the license's organization name contains `part`, whatever the case" on
/// `licenses l`, in the dialect of `sql` (on SQLite through `lookup`, which
/// [`Store::name_lookup`] made for `part`). `part` is three characters or more: a trigram
/// index finds nothing shorter.
pub(super) fn push_condition(sql: &mut Where, part: &str, lookup: Option<&NameLookup>) {
    match (sql.backend, lookup) {
        (Backend::Sqlite, Some(lookup)) => {
            let n = sql.bind(Bind::Text(lookup.fts.clone()));
            sql.push(format!(
                "l.id IN (SELECT r.id FROM license_names \
                 JOIN license_name_rows r ON r.n = license_names.rowid \
                 WHERE license_names MATCH ${n})"
            ));
            if let Some(pattern) = &lookup.like {
                let n = sql.bind(Bind::Text(pattern.clone()));
                sql.push(format!("l.org LIKE ${n} ESCAPE '\\'"));
            }
        }
        (Backend::Sqlite, None) => {
            let n = sql.bind(Bind::Text(phrase(part)));
            sql.push(format!(
                "l.id IN (SELECT r.id FROM license_names \
                 JOIN license_name_rows r ON r.n = license_names.rowid \
                 WHERE license_names MATCH ${n})"
            ));
        }
        (Backend::Postgres, _) => {
            let n = sql.bind(Bind::Text(like_pattern(part)));
            sql.push(format!("l.org ILIKE ${n}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_is_cut_into_its_distinct_trigrams_folded() {
        assert_eq!(trigrams("AbcABC"), vec!["abc", "bca", "cab"]);
        assert_eq!(trigrams("Mü "), vec!["mü "]);
        assert!(trigrams("ab").is_empty());
    }

    #[test]
    fn wildcards_are_escaped_in_a_like_pattern_and_quotes_in_a_phrase() {
        assert_eq!(like_pattern(r"5%_a\b"), r"%5\%\_a\\b%");
        assert_eq!(phrase(r#"say "hi""#), r#""say ""hi""""#);
    }
}
