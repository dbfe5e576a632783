//! Finding licenses by a part of their organization's name (the `org` claim), whatever the
//! case. Licenses repeat their customers' names (a million licenses may hold a thousand
//! names), so the trigram index is over the distinct names alone: `customer_names`, one row
//! per name some license holds, indexed by SQLite's FTS5 `trigram` tokenizer or
//! PostgreSQL's `pg_trgm`. A search reads the names that contain the part (thousands of
//! rows at most, not a million), then the licenses of those names through
//! `licenses (org, id)`.
//!
//! Each database's table, index and triggers are its own SQL, so they are made when the
//! store opens (idempotent), not by the migrations, which are one text for both databases.
//! Triggers keep the names in step with `licenses` whoever writes it (the ping path's day
//! counts touch no name: no trigger fires for them).

use sqlx::Row;

use super::filter::{Bind, Where};
use super::{Backend, Store, StoreError};

/// The per-license name index this one replaced (a row per license), dropped if there.
const SQLITE_REPLACED: [&str; 5] = [
    "DROP TRIGGER IF EXISTS license_names_insert",
    "DROP TRIGGER IF EXISTS license_names_delete",
    "DROP TRIGGER IF EXISTS license_names_rename",
    "DROP TABLE IF EXISTS license_names",
    "DROP TABLE IF EXISTS license_name_rows",
];

/// SQLite: the names, numbered by an `INTEGER PRIMARY KEY` (a rowid that `VACUUM` keeps,
/// which the FTS5 index points at), and their trigrams in an FTS5 index that reads the
/// names from that table (`content=`: the names are stored once).
const SQLITE_INDEX: [&str; 7] = [
    "CREATE TABLE IF NOT EXISTS customer_names (n INTEGER PRIMARY KEY, org TEXT NOT NULL UNIQUE)",
    "CREATE VIRTUAL TABLE IF NOT EXISTS customer_name_trigrams USING fts5(org, \
     content = 'customer_names', content_rowid = 'n', columnsize = 0, tokenize = 'trigram')",
    "CREATE TRIGGER IF NOT EXISTS customer_name_indexed AFTER INSERT ON customer_names BEGIN \
       INSERT INTO customer_name_trigrams (rowid, org) VALUES (new.n, new.org); \
     END",
    "CREATE TRIGGER IF NOT EXISTS customer_name_unindexed AFTER DELETE ON customer_names BEGIN \
       INSERT INTO customer_name_trigrams (customer_name_trigrams, rowid, org) \
         VALUES ('delete', old.n, old.org); \
     END",
    "CREATE TRIGGER IF NOT EXISTS customer_name_of_a_new_license AFTER INSERT ON licenses BEGIN \
       INSERT INTO customer_names (org) VALUES (new.org) ON CONFLICT (org) DO NOTHING; \
     END",
    "CREATE TRIGGER IF NOT EXISTS customer_name_of_a_deleted_license AFTER DELETE ON licenses \
     BEGIN \
       DELETE FROM customer_names WHERE org = old.org \
         AND NOT EXISTS (SELECT 1 FROM licenses WHERE org = old.org); \
     END",
    "CREATE TRIGGER IF NOT EXISTS customer_name_of_a_renamed_license AFTER UPDATE OF org \
     ON licenses WHEN old.org <> new.org BEGIN \
       INSERT INTO customer_names (org) VALUES (new.org) ON CONFLICT (org) DO NOTHING; \
       DELETE FROM customer_names WHERE org = old.org \
         AND NOT EXISTS (SELECT 1 FROM licenses WHERE org = old.org); \
     END",
];

/// PostgreSQL: the names with a GIN index of their trigrams (`pg_trgm` ships with
/// PostgreSQL and is a trusted extension: the database's owner may create it). Licenses are
/// registered and deleted many to a statement: those triggers run once a statement, over
/// its rows; a rename (one license) once a row, and only when `org` is written, which the
/// ping path never does.
///
/// A name goes when its last license goes. Under READ COMMITTED a check "no license has
/// this name" cannot see a license of that name being registered at the same moment, so the
/// two take the name's row in turn: a registration holds it `FOR KEY SHARE` (registrations
/// share it, none waits for another), a deletion takes it `FOR UPDATE` and only then checks,
/// in a statement of its own (a fresh snapshot that sees the registration, once committed).
const POSTGRES_INDEX: [&str; 10] = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    // The per-license index this one replaced, dropped if there.
    "DROP INDEX IF EXISTS licenses_org_trigrams",
    "CREATE TABLE IF NOT EXISTS customer_names (org TEXT PRIMARY KEY)",
    "CREATE INDEX IF NOT EXISTS customer_name_trigrams ON customer_names \
     USING gin (org gin_trgm_ops)",
    "CREATE OR REPLACE FUNCTION customer_names_gained() RETURNS trigger \
     LANGUAGE plpgsql AS $body$ \
     BEGIN \
       PERFORM 1 FROM customer_names WHERE org IN (SELECT org FROM new_licenses) \
         FOR KEY SHARE; \
       INSERT INTO customer_names (org) SELECT DISTINCT org FROM new_licenses \
         ON CONFLICT (org) DO NOTHING; \
       RETURN NULL; \
     END $body$",
    "CREATE OR REPLACE FUNCTION customer_names_maybe_gone() RETURNS trigger \
     LANGUAGE plpgsql AS $body$ \
     BEGIN \
       PERFORM 1 FROM customer_names WHERE org IN (SELECT org FROM old_licenses) FOR UPDATE; \
       DELETE FROM customer_names c WHERE c.org IN (SELECT org FROM old_licenses) \
         AND NOT EXISTS (SELECT 1 FROM licenses l WHERE l.org = c.org); \
       RETURN NULL; \
     END $body$",
    "CREATE OR REPLACE FUNCTION customer_names_renamed() RETURNS trigger \
     LANGUAGE plpgsql AS $body$ \
     BEGIN \
       PERFORM 1 FROM customer_names WHERE org = NEW.org FOR KEY SHARE; \
       INSERT INTO customer_names (org) VALUES (NEW.org) ON CONFLICT (org) DO NOTHING; \
       PERFORM 1 FROM customer_names WHERE org = OLD.org FOR UPDATE; \
       DELETE FROM customer_names WHERE org = OLD.org \
         AND NOT EXISTS (SELECT 1 FROM licenses WHERE org = OLD.org); \
       RETURN NULL; \
     END $body$",
    "CREATE OR REPLACE TRIGGER customer_names_of_new_licenses AFTER INSERT ON licenses \
     REFERENCING NEW TABLE AS new_licenses FOR EACH STATEMENT \
     EXECUTE FUNCTION customer_names_gained()",
    "CREATE OR REPLACE TRIGGER customer_names_of_deleted_licenses AFTER DELETE ON licenses \
     REFERENCING OLD TABLE AS old_licenses FOR EACH STATEMENT \
     EXECUTE FUNCTION customer_names_maybe_gone()",
    "CREATE OR REPLACE TRIGGER customer_name_of_a_renamed_license AFTER UPDATE OF org \
     ON licenses FOR EACH ROW WHEN (OLD.org IS DISTINCT FROM NEW.org) \
     EXECUTE FUNCTION customer_names_renamed()",
];

/// The names of the licenses registered before the table was made (the triggers on SQLite
/// index each).
const FILL: &str = "INSERT INTO customer_names (org) SELECT DISTINCT org FROM licenses";

impl Store {
    /// Makes the names' table, index and triggers if they are not there yet (the table
    /// filled from the licenses already registered), in one transaction.
    pub(super) async fn prepare_name_search(&self) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let there = match self.backend {
            Backend::Sqlite => {
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' \
                 AND name = 'customer_names'"
            }
            Backend::Postgres => {
                "SELECT COUNT(*) FROM pg_class WHERE oid = to_regclass('customer_names')"
            }
        };
        let there = sqlx::query(there).fetch_one(&mut *tx).await?.try_get::<i64, _>(0)? > 0;
        let statements: Vec<&str> = match self.backend {
            Backend::Sqlite => SQLITE_REPLACED.iter().chain(&SQLITE_INDEX).copied().collect(),
            Backend::Postgres => POSTGRES_INDEX.to_vec(),
        };
        for statement in statements {
            sqlx::query(statement).execute(&mut *tx).await?;
        }
        if !there {
            sqlx::query(FILL).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// The most names a search binds into its query as values; a part found in more names
/// (a common word among tens of thousands of customers) is looked up again inside the
/// query instead, which stays within every database's limit of bound values.
const NAMES_BOUND: usize = 1000;

/// The names that contain a part, as [`Store::name_lookup`] found them.
#[derive(Debug, Clone)]
pub(crate) struct NameMatches {
    /// These names, every one ([`NAMES_BOUND`] at most), or `None` when there are more:
    /// the query looks them up itself.
    names: Option<Vec<String>>,
    /// The names are at least [`COMMON_SHARE`] of all names.
    common: bool,
}

/// The share of all names (one in this many) from which a part is common. On SQLite, which
/// keeps no statistics, the licenses of a common part are then read in the page's own order
/// and the names checked on each, not fetched by name and sorted: at a million licenses
/// "gmbh" (143 of 1,000 names) would fetch and sort 143,000 licenses a page, where walking
/// finds its 100 within the first thousand or so. Below a hundredth of the names (10,000
/// licenses at a million) fetching is the cheaper; the count always fetches, by name.
const COMMON_SHARE: usize = 100;

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

/// The names containing the part bound as `$n`, in the dialect of `backend`: on SQLite a
/// phrase of FTS5 (its own Unicode case folding), on PostgreSQL an `ILIKE` pattern (the
/// database's).
fn names_containing(backend: Backend, n: usize) -> String {
    match backend {
        Backend::Sqlite => format!(
            "SELECT org FROM customer_name_trigrams WHERE customer_name_trigrams MATCH ${n}"
        ),
        Backend::Postgres => format!("SELECT org FROM customer_names WHERE org ILIKE ${n}"),
    }
}

/// `part` as `names_containing` binds it on `backend`.
fn bound_part(backend: Backend, part: &str) -> String {
    match backend {
        Backend::Sqlite => phrase(part),
        Backend::Postgres => like_pattern(part),
    }
}

impl Store {
    /// The names that contain `part` (three characters or more: a trigram index finds
    /// nothing shorter), whatever the case.
    pub(super) async fn name_lookup(&self, part: &str) -> Result<NameMatches, StoreError> {
        let query = format!(
            "SELECT found.org, (SELECT COUNT(*) FROM customer_names) FROM ({} LIMIT {}) found",
            names_containing(self.backend, 1),
            NAMES_BOUND + 1
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(query))
            .bind(bound_part(self.backend, part))
            .fetch_all(&self.pool)
            .await?;
        let all = match rows.first() {
            Some(row) => usize::try_from(row.try_get::<i64, _>(1)?).unwrap_or(usize::MAX),
            None => 0,
        };
        let common = rows.len().saturating_mul(COMMON_SHARE) >= all && !rows.is_empty();
        if rows.len() > NAMES_BOUND {
            return Ok(NameMatches { names: None, common });
        }
        let names = rows.iter().map(|row| row.try_get::<String, _>(0)).collect::<Result<_, _>>()?;
        Ok(NameMatches { names: Some(names), common })
    }
}

/// The condition "the license's organization name contains `part`, whatever the case" on
/// `licenses l`, given the names [`Store::name_lookup`] found for `part`.
pub(super) fn push_condition(sql: &mut Where, part: &str, matches: &NameMatches) {
    // SQLite uses no index for a column written `+l.org`: a common part's licenses are then
    // read in the order of the page ([`COMMON_SHARE`]).
    let column = if matches.common && sql.walks_common_names && sql.backend == Backend::Sqlite {
        "+l.org"
    } else {
        "l.org"
    };
    match &matches.names {
        Some(names) if names.is_empty() => sql.push("1 = 0".to_owned()),
        Some(names) => {
            let placeholders: Vec<String> = names
                .iter()
                .map(|name| format!("${}", sql.bind(Bind::Text(name.clone()))))
                .collect();
            sql.push(format!("{column} IN ({})", placeholders.join(", ")));
        }
        None => {
            let n = sql.bind(Bind::Text(bound_part(sql.backend, part)));
            sql.push(format!("{column} IN ({})", names_containing(sql.backend, n)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_are_escaped_in_a_like_pattern_and_quotes_in_a_phrase() {
        assert_eq!(like_pattern(r"5%_a\b"), r"%5\%\_a\\b%");
        assert_eq!(phrase(r#"say "hi""#), r#""say ""hi""""#);
    }

    #[test]
    fn many_names_are_looked_up_inside_the_query_and_few_are_bound() {
        let few = NameMatches { names: Some(vec!["Acme".into(), "ACME".into()]), common: false };
        let mut sql = Where::new(Backend::Postgres);
        push_condition(&mut sql, "acme", &few);
        assert_eq!(sql.clause(), " WHERE (l.org IN ($1, $2))");
        let mut none = Where::new(Backend::Sqlite);
        push_condition(&mut none, "acme", &NameMatches { names: Some(Vec::new()), common: false });
        assert_eq!(none.clause(), " WHERE (1 = 0)");
        let mut many = Where::new(Backend::Sqlite);
        push_condition(&mut many, "gmbh", &NameMatches { names: None, common: true });
        assert!(many.clause().contains("customer_name_trigrams MATCH $1"), "{}", many.clause());
        assert!(many.clause().starts_with(" WHERE (l.org IN"), "fetched by name when counted");
    }

    #[test]
    fn a_common_part_is_walked_on_sqlite_when_the_page_walks() {
        let common = NameMatches { names: Some(vec!["Acme".into()]), common: true };
        for (backend, walks, column) in [
            (Backend::Sqlite, true, "+l.org"),
            (Backend::Sqlite, false, "l.org"),
            (Backend::Postgres, true, "l.org"),
        ] {
            let mut sql = Where::new(backend);
            sql.walks_common_names = walks;
            push_condition(&mut sql, "acme", &common);
            assert_eq!(sql.clause(), format!(" WHERE ({column} IN ($1))"));
        }
    }
}
