//! The ping path on SQLite: one thread owns one connection to the portal's database file and
//! does each round in one write transaction — look up every ping's license and binding,
//! check all signatures in one batch, update the last-ping times (the replay check), count
//! the day, commit (one fsync). SQLite has one writer at a time anyway; doing the round on
//! one thread with cached statements avoids the async driver's hand-off per statement and
//! per row, which cost more than the SQL itself. Other writers (activation, admin) go
//! through the pool and wait on SQLite's lock for at most a round.

use std::path::Path;
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use tokio::sync::{mpsc, oneshot};

use super::{Judged, MAX_BATCH, PingRequest, authenticate};
use crate::store::{ActivationRow, LicenseRow, StoreError, day_of};

type Reply = oneshot::Sender<Result<Judged, String>>;

/// The license and its binding, by license id.
const LOOKUP: &str = "SELECT l.id, l.key_sha256, l.org, l.product, l.runners, l.not_before, \
     l.expires_at, l.terminates_at, l.grace_period_secs, l.ping_interval_secs, l.status, \
     l.registered_at, l.status_changed_at, a.fingerprint, a.hub_key, a.activated_at, \
     a.last_ping_at, a.last_hub_time_ms, a.license_id IS NOT NULL \
     FROM licenses l LEFT JOIN activations a ON a.license_id = l.id WHERE l.id = ?1";

/// The replay check and the last-ping time in one statement: counts only a newer call.
const TOUCH: &str = "UPDATE activations SET last_ping_at = ?2, last_hub_time_ms = ?3 \
     WHERE license_id = ?1 AND last_hub_time_ms < ?3";

const COUNT: &str = "INSERT INTO ping_days (license_id, day, pings) VALUES (?1, ?2, 1) \
     ON CONFLICT (license_id, day) DO UPDATE SET pings = ping_days.pings + 1";

/// The queue in front of the ping thread.
pub struct Rounds {
    sender: Mutex<Option<mpsc::Sender<(PingRequest, Reply)>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Rounds {
    /// Opens a second connection to `file` (already created and migrated by the store) and
    /// starts the ping thread.
    pub fn start(file: &Path, rounds: Counter) -> Result<Rounds, StoreError> {
        let connection = open(file).map_err(sql)?;
        let (sender, receiver) = mpsc::channel(MAX_BATCH * 8);
        let thread = std::thread::Builder::new()
            .name("ping-rounds".into())
            .spawn(move || serve(connection, receiver, rounds))
            .map_err(|e| StoreError::Corrupt(format!("cannot start the ping thread: {e}")))?;
        Ok(Rounds { sender: Mutex::new(Some(sender)), thread: Mutex::new(Some(thread)) })
    }

    pub async fn judge(&self, ping: PingRequest) -> Result<Judged, StoreError> {
        let stopped = || StoreError::Corrupt("the portal is shutting down".to_owned());
        let sender =
            self.sender.lock().unwrap_or_else(|p| p.into_inner()).clone().ok_or_else(stopped)?;
        let (reply, answer) = oneshot::channel();
        sender.send((ping, reply)).await.map_err(|_| stopped())?;
        drop(sender);
        answer.await.map_err(|_| stopped())?.map_err(StoreError::Corrupt)
    }

    /// Stops taking pings and waits until every queued one is written.
    pub async fn close(&self) {
        self.sender.lock().unwrap_or_else(|p| p.into_inner()).take();
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

fn sql(e: rusqlite::Error) -> StoreError {
    StoreError::Sqlite(e)
}

fn open(file: &Path) -> rusqlite::Result<Connection> {
    let connection = Connection::open_with_flags(
        file,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // As the pool's connections: WAL, and FULL so that a commit is durable before any
    // receipt goes out.
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    connection.busy_timeout(Duration::from_secs(10))?;
    connection.set_prepared_statement_cache_capacity(8);
    Ok(connection)
}

/// The ping thread: a round per wake-up, until every sender is gone and the queue is empty.
fn serve(
    mut connection: Connection,
    mut receiver: mpsc::Receiver<(PingRequest, Reply)>,
    rounds: Counter,
) {
    let mut queued = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = receiver.blocking_recv() {
        queued.push(first);
        while queued.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(next) => queued.push(next),
                Err(_) => break,
            }
        }
        rounds.inc();
        let (pings, replies): (Vec<PingRequest>, Vec<Reply>) = queued.drain(..).unzip();
        let size = pings.len();
        match round(&mut connection, pings) {
            Ok(judged) => {
                for (reply, judged) in replies.into_iter().zip(judged) {
                    let _ = reply.send(Ok(judged));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, size, "a ping round failed");
                for reply in replies {
                    let _ = reply.send(Err(e.to_string()));
                }
            }
        }
    }
}

/// One round in one write transaction. Pings of the same license in one round are judged in
/// order: the replay check sees the earlier one's update.
fn round(connection: &mut Connection, pings: Vec<PingRequest>) -> Result<Vec<Judged>, StoreError> {
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
    let mut looked_up = Vec::with_capacity(pings.len());
    let mut records = Vec::with_capacity(pings.len());
    {
        let mut lookup = tx.prepare_cached(LOOKUP).map_err(sql)?;
        for ping in pings {
            let found = lookup
                .query_row(params![ping.license_id], row_pair)
                .optional()
                .map_err(sql)?
                .transpose()?;
            records.push((ping.license_id, ping.hub_time_ms, ping.at));
            looked_up.push((ping.envelope, found));
        }
    }
    let authenticated = authenticate(looked_up)?;
    let mut judged = Vec::with_capacity(authenticated.len());
    {
        let mut touch = tx.prepare_cached(TOUCH).map_err(sql)?;
        let mut count = tx.prepare_cached(COUNT).map_err(sql)?;
        for (answer, (license_id, hub_time_ms, at)) in authenticated.into_iter().zip(records) {
            judged.push(match answer {
                Err(judged) => judged,
                Ok(ping) => {
                    if touch.execute(params![license_id, at.as_unix(), hub_time_ms]).map_err(sql)?
                        == 1
                    {
                        count.execute(params![license_id, day_of(at)]).map_err(sql)?;
                        Judged::Counted(Box::new(ping))
                    } else {
                        Judged::Stale
                    }
                }
            });
        }
    }
    tx.commit().map_err(sql)?;
    Ok(judged)
}

/// A row of [`LOOKUP`]; an unreadable stored value is an error of the round, not of the ping.
fn row_pair(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<FoundRow, StoreError>> {
    let license = LicenseRow {
        id: row.get(0)?,
        key_sha256: row.get(1)?,
        org: row.get(2)?,
        product: row.get(3)?,
        runners: row.get(4)?,
        not_before: row.get(5)?,
        expires_at: row.get(6)?,
        terminates_at: row.get(7)?,
        grace_period_secs: row.get(8)?,
        ping_interval_secs: row.get(9)?,
        state: match row.get::<_, String>(10)?.parse() {
            Ok(state) => state,
            Err(e) => return Ok(Err(e)),
        },
        registered_at: row.get(11)?,
        status_changed_at: row.get(12)?,
    };
    let activation = if row.get::<_, bool>(18)? {
        Some(ActivationRow {
            license_id: license.id.clone(),
            fingerprint: row.get(13)?,
            hub_key: row.get(14)?,
            activated_at: row.get(15)?,
            last_ping_at: row.get(16)?,
            last_hub_time_ms: row.get(17)?,
        })
    } else {
        None
    };
    Ok(Ok((license, activation)))
}

type FoundRow = (LicenseRow, Option<ActivationRow>);
