//! PostgreSQL for tests: the server named by `TESSERA_TEST_POSTGRES_URL` (CI always sets it),
//! a fresh database per test, dropped afterwards.

use std::io::Write as _;

use sqlx::Connection;

/// The PostgreSQL URL for tests, or None — said loudly, outside the test harness's capture;
/// under CI its absence fails the test.
pub fn postgres_url() -> Option<String> {
    match std::env::var("TESSERA_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must run the PostgreSQL suite: set TESSERA_TEST_POSTGRES_URL"
            );
            let _ = writeln!(
                std::io::stderr(),
                "\n*** PostgreSQL suite NOT RUN: set TESSERA_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres ***\n"
            );
            None
        }
    }
}

/// A fresh, empty database on the test server, dropped (with its connections) when this
/// value is dropped.
#[derive(Debug)]
pub struct PgDatabase {
    base: String,
    name: String,
    /// The database's URL.
    pub url: String,
}

impl PgDatabase {
    /// A fresh database, or None when the suite has no server (see [`postgres_url`]).
    pub async fn fresh() -> Option<PgDatabase> {
        let base = postgres_url()?;
        let name = format!("tessera_test_{}", hex::encode(crate::random_bytes::<8>()));
        let mut admin = sqlx::PgConnection::connect(&base).await.expect("connect to PostgreSQL");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create test database");
        let (prefix, _) = base.rsplit_once('/').expect("postgres URL with a database");
        let url = format!("{prefix}/{name}");
        Some(PgDatabase { base, name, url })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        // From a thread of its own with its own runtime: Drop cannot await, and may run
        // inside another runtime.
        let (base, name) = (self.base.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build()
            else {
                return;
            };
            runtime.block_on(async {
                if let Ok(mut admin) = sqlx::PgConnection::connect(&base).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut admin).await;
                }
            });
        })
        .join();
    }
}
