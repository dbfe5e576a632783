//! Opening the database (creating and migrating it, the SQLite file private to the
//! portal), its write transactions, and the whole-file operations of SQLite: a consistent
//! copy, and the soundness check of a copy before it replaces the database.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::AnyPool;
use sqlx::any::{AnyPoolOptions, install_default_drivers};

use super::{Backend, MIGRATOR, Store, StoreError, pings};

/// Makes the SQLite file (and its WAL and shared-memory files, which SQLite creates with the
/// database file's mode) readable by the portal's user only: it holds the API key table
/// and the license table. Creates an empty file with mode 0600 if there is none yet.
fn private_database_files(file: &Path) -> Result<(), StoreError> {
    let io = |e: std::io::Error| StoreError::Files(format!("{}: {e}", file.display()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(file).map_err(io)?;
    #[cfg(unix)]
    for suffix in ["", "-wal", "-shm"] {
        use std::os::unix::fs::PermissionsExt;
        let path = PathBuf::from(format!("{}{suffix}", file.display()));
        match std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
    }
    Ok(())
}

/// The file a `sqlite:` URL names, as sqlx reads it; none for an in-memory database.
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let options: sqlx::sqlite::SqliteConnectOptions = url.parse().ok()?;
    let file = options.get_filename();
    let memory = url.contains(":memory:") || url.contains("mode=memory");
    (!memory && !file.as_os_str().is_empty()).then(|| file.to_path_buf())
}

impl Store {
    /// Opens (creating and migrating if needed) the database at `url`: `sqlite://PATH` or
    /// `postgres://…`.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
            return Err(StoreError::UnsupportedUrl { scheme: scheme.chars().take(20).collect() });
        };
        let sqlite_file = match backend {
            Backend::Sqlite => sqlite_file(url),
            Backend::Postgres => None,
        };
        if let Some(file) = &sqlite_file {
            private_database_files(file)?;
        }
        let pool = match backend {
            Backend::Sqlite => {
                let url =
                    if url.contains('?') { url.to_owned() } else { format!("{url}?mode=rwc") };
                AnyPoolOptions::new()
                    .max_connections(8)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            // WAL lets readers run beside the writer; FULL makes every commit
                            // durable before the receipt goes out.
                            sqlx::query("PRAGMA journal_mode = WAL").execute(&mut *conn).await?;
                            sqlx::query("PRAGMA synchronous = FULL").execute(&mut *conn).await?;
                            sqlx::query("PRAGMA busy_timeout = 10000").execute(&mut *conn).await?;
                            sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *conn).await?;
                            // What is deleted is overwritten, not left in free pages: an
                            // erased person's name and email must not stay in the file.
                            sqlx::query("PRAGMA secure_delete = ON").execute(&mut *conn).await?;
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await?
            }
            Backend::Postgres => {
                AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(url)
                    .await?
            }
        };
        MIGRATOR.run(&pool).await?;
        let ping_source = match (&sqlite_file, backend) {
            (_, Backend::Postgres) => pings::PingSource::Postgres(Box::new(url.parse()?)),
            (Some(file), Backend::Sqlite) => pings::PingSource::Sqlite(file.clone()),
            (None, Backend::Sqlite) => pings::PingSource::None,
        };
        let store = Store {
            pool,
            backend,
            sqlite_file,
            ping_source,
            entry_tags: None,
            written: Default::default(),
        };
        if backend == Backend::Postgres {
            store.leave_room_for_ping_updates().await?;
        }
        store.prepare_name_search().await?;
        let moved = store.move_day_rows().await?;
        if moved > 0 {
            tracing::info!(rows = moved, "day counts moved from ping_days into the licenses");
        }
        Ok(store)
    }

    /// PostgreSQL only: each counted ping rewrites its license's row (the day counts). Pages
    /// of `licenses` filled only to 70 % leave room for the new version of a row on its own
    /// page, where PostgreSQL can make the update without new index entries (a HOT update),
    /// instead of one new entry in every index of the table per ping. Applies to pages
    /// written from now on (`VACUUM FULL licenses` repacks older ones; docs/OPERATIONS.md).
    /// Not a migration: the migrations are one text for both stores.
    async fn leave_room_for_ping_updates(&self) -> Result<(), StoreError> {
        let options: Option<String> = sqlx::query_scalar(
            "SELECT array_to_string(reloptions, ',') FROM pg_class \
             WHERE oid = 'licenses'::regclass",
        )
        .fetch_one(&self.pool)
        .await?;
        if !options.unwrap_or_default().split(',').any(|o| o == "fillfactor=70") {
            sqlx::query("ALTER TABLE licenses SET (fillfactor = 70)").execute(&self.pool).await?;
        }
        Ok(())
    }

    /// A transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads first and writes later can fail
    /// with "database is locked" when another writer got in between, without waiting.
    pub(crate) async fn begin_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Writes a consistent copy of the SQLite database to `path` (a new file) while others
    /// read and write: `VACUUM INTO` reads in one transaction.
    pub async fn snapshot_into(&self, path: &Path) -> Result<(), StoreError> {
        let text = path
            .to_str()
            .ok_or_else(|| StoreError::Files(format!("{}: not a UTF-8 path", path.display())))?;
        // A string literal in SQL: quotes doubled (VACUUM INTO takes no bound value).
        let literal = format!("'{}'", text.replace('\'', "''"));
        sqlx::query(sqlx::AssertSqlSafe(format!("VACUUM INTO {literal}")))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// SQLite or PostgreSQL.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The SQLite database file, unless the store is PostgreSQL or in memory.
    pub fn sqlite_file(&self) -> Option<&Path> {
        self.sqlite_file.as_deref()
    }

    /// This store, tagging the ledger entries it appends with `key` (derived from the
    /// portal's receipt key: [`tessera_core::ledger::EntryTagKey::derive`]).
    pub fn with_entry_tags(mut self, key: tessera_core::ledger::EntryTagKey) -> Store {
        self.entry_tags = Some(std::sync::Arc::new(key));
        self
    }

    /// The key this handle tags ledger entries with, if any.
    pub fn entry_tags(&self) -> Option<&tessera_core::ledger::EntryTagKey> {
        self.entry_tags.as_deref()
    }

    /// The ledger entries this handle appended that no checkpoint covers yet.
    pub fn written(&self) -> &super::ledger::Written {
        &self.written
    }

    /// Where the ping path opens its own connections.
    pub fn ping_source(&self) -> &pings::PingSource {
        &self.ping_source
    }

    /// The connection pool.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Whether the database answers.
    pub async fn ping_database(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// Whether the file at `path` is a sound copy of the portal's SQLite database: it passes
/// SQLite's integrity check and holds the portal's tables. Why not, otherwise.
pub fn check_sqlite_copy(path: &Path) -> Result<(), String> {
    let unsound = |e: rusqlite::Error| e.to_string();
    let connection =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(unsound)?;
    let verdict: String =
        connection.query_row("PRAGMA integrity_check", [], |row| row.get(0)).map_err(unsound)?;
    if verdict != "ok" {
        return Err(verdict);
    }
    connection
        .query_row("SELECT COUNT(*) FROM licenses", [], |row| row.get::<_, i64>(0))
        .map_err(unsound)?;
    Ok(())
}
