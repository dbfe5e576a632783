//! The ping path on SQLite: two threads, each with its own connection to the portal's
//! database file, in a pipeline. The checker takes every ping that queued up, looks up
//! each one's license and binding (a read snapshot) and checks all their signatures in one
//! batch; the writer takes every checked round that queued up meanwhile and records them in
//! one write transaction — the replay check and last-ping time in one conditional update,
//! the day count — and one commit (one fsync). So the next round's signatures are checked
//! while this round's commit is on its way to disk. Doing the rounds on threads with cached
//! statements skips the async driver's hand-off per statement and per row, which cost more
//! than the SQL itself. Other writers (activation, admin) go through the pool and wait on
//! SQLite's lock for at most one commit.

use std::path::Path;
use std::sync::Mutex;
use std::sync::mpsc as std_mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use tokio::sync::mpsc;

use super::{Door, Judged, MAX_BATCH, PingRequest, VerifiedPing, authenticate, fail_all};
use crate::store::{ActivationRow, LicenseRow, PingRecord, StoreError, day_of};

type Reply = super::Reply<Judged>;

/// The license and its binding, by license id.
const LOOKUP: &str = "SELECT l.id, l.key_sha256, l.org, l.product, l.runners, l.not_before, \
     l.expires_at, l.terminates_at, l.grace_period_secs, l.ping_interval_secs, l.status, \
     l.registered_at, l.status_changed_at, a.fingerprint, a.hub_key, a.activated_at, \
     a.last_ping_at, a.last_hub_time_ms, a.license_id IS NOT NULL \
     FROM licenses l LEFT JOIN activations a ON a.license_id = l.id WHERE l.id = ?1";

/// The replay check and the last-ping time in one statement: counts only a newer call, and
/// only while the license is still bound to the key that signed it.
const TOUCH: &str = "UPDATE activations SET last_ping_at = ?2, last_hub_time_ms = ?3 \
     WHERE license_id = ?1 AND last_hub_time_ms < ?3 AND hub_key = ?4";

/// Why [`TOUCH`] changed nothing (rare: a replay, or a binding reset or replaced between the
/// check and the write).
const BINDING: &str = "SELECT hub_key FROM activations WHERE license_id = ?1";

const COUNT: &str = "INSERT INTO ping_days (license_id, day, pings) VALUES (?1, ?2, 1) \
     ON CONFLICT (license_id, day) DO UPDATE SET pings = ping_days.pings + 1";

/// A checked ping on its way to the writer: what the check found and what to record.
type CheckedPing = (Result<VerifiedPing, Judged>, PingRecord);

/// The queue in front of the ping thread.
pub struct Rounds {
    door: Door<PingRequest, Judged>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Rounds {
    /// Opens two more connections to `file` (already created and migrated by the store) and
    /// starts the checker and the writer.
    pub fn start(file: &Path, rounds: Counter) -> Result<Rounds, StoreError> {
        let reader = open(file)?;
        let writer = open(file)?;
        let (door, receiver) = Door::open();
        let (checked_sender, checked) = std_mpsc::channel();
        let spawn = |name: &str, run: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn(run)
                .map_err(|e| StoreError::Corrupt(format!("cannot start the {name} thread: {e}")))
        };
        let threads = vec![
            spawn("ping-checker", Box::new(move || check(reader, receiver, checked_sender)))?,
            spawn("ping-writer", Box::new(move || write(writer, checked, rounds)))?,
        ];
        Ok(Rounds { door, threads: Mutex::new(threads) })
    }

    pub async fn judge(&self, ping: PingRequest) -> Result<Judged, StoreError> {
        self.door.call(ping).await
    }

    /// Stops taking pings and waits until every queued one is written.
    pub async fn close(&self) {
        // The checker ends when the queue is closed and empty; the writer when the checker
        // is gone and every checked round is written.
        self.door.close();
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|p| p.into_inner()));
        let _ = tokio::task::spawn_blocking(move || {
            for thread in threads {
                let _ = thread.join();
            }
        })
        .await;
    }
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

/// The checker: a round per wake-up, until every sender is gone and the queue is empty.
fn check(
    mut connection: Connection,
    mut receiver: mpsc::Receiver<(PingRequest, Reply)>,
    checked: std_mpsc::Sender<Vec<(CheckedPing, Reply)>>,
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
        let (pings, replies): (Vec<PingRequest>, Vec<Reply>) = queued.drain(..).unzip();
        match check_round(&mut connection, pings) {
            Ok(round) => {
                if checked.send(round.into_iter().zip(replies).collect()).is_err() {
                    return;
                }
            }
            Err(e) => fail_all(replies, &e, "a ping check round failed"),
        }
    }
}

/// Looks up a round in one read snapshot, then checks its signatures.
fn check_round(
    connection: &mut Connection,
    pings: Vec<PingRequest>,
) -> Result<Vec<CheckedPing>, StoreError> {
    let mut looked_up = Vec::with_capacity(pings.len());
    let mut records = Vec::with_capacity(pings.len());
    {
        let snapshot = connection.transaction()?;
        let mut lookup = snapshot.prepare_cached(LOOKUP)?;
        for ping in pings {
            let found = lookup.query_row(params![ping.license_id], row_pair).optional()?;
            records.push(PingRecord {
                license_id: ping.license_id,
                hub_time_ms: ping.hub_time_ms,
                at: ping.at,
            });
            looked_up.push((ping.envelope, found));
        }
    }
    Ok(authenticate(looked_up)?.into_iter().zip(records).collect())
}

/// The writer: every checked round that queued up meanwhile in one transaction, until the
/// checker is gone.
fn write(
    mut connection: Connection,
    checked: std_mpsc::Receiver<Vec<(CheckedPing, Reply)>>,
    rounds: Counter,
) {
    while let Ok(first) = checked.recv() {
        let mut batch = first;
        while batch.len() < MAX_BATCH * 4 {
            match checked.try_recv() {
                Ok(more) => batch.extend(more),
                Err(_) => break,
            }
        }
        rounds.inc();
        let (pings, replies): (Vec<CheckedPing>, Vec<Reply>) = batch.into_iter().unzip();
        match write_round(&mut connection, pings) {
            Ok(judged) => {
                for (reply, judged) in replies.into_iter().zip(judged) {
                    let _ = reply.send(Ok(judged));
                }
            }
            Err(e) => fail_all(replies, &e, "a ping write round failed"),
        }
    }
}

/// Records the authentic pings of a batch in one write transaction, in order: the replay
/// check of a license's second ping in a batch sees the first one's update.
fn write_round(
    connection: &mut Connection,
    pings: Vec<CheckedPing>,
) -> Result<Vec<Judged>, StoreError> {
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut judged = Vec::with_capacity(pings.len());
    {
        let mut touch = tx.prepare_cached(TOUCH)?;
        let mut count = tx.prepare_cached(COUNT)?;
        let mut binding = tx.prepare_cached(BINDING)?;
        for (answer, PingRecord { license_id, hub_time_ms, at }) in pings {
            let ping = match answer {
                Err(judged_already) => {
                    judged.push(judged_already);
                    continue;
                }
                Ok(ping) => ping,
            };
            let key = &ping.activation.hub_key;
            let touched = touch.execute(params![license_id, at.as_unix(), hub_time_ms, key])?;
            judged.push(if touched == 1 {
                count.execute(params![license_id, day_of(at)])?;
                Judged::Counted(Box::new(ping))
            } else {
                let bound: Option<String> =
                    binding.query_row(params![license_id], |row| row.get(0)).optional()?;
                match bound {
                    None => Judged::NotActivated,
                    Some(bound) if bound != *key => Judged::WrongKey,
                    Some(_) => Judged::Stale,
                }
            });
        }
    }
    tx.commit()?;
    Ok(judged)
}

/// A row of [`LOOKUP`]; an unreadable stored value is an error of the round, not of the ping.
fn row_pair(row: &rusqlite::Row<'_>) -> rusqlite::Result<(LicenseRow, Option<ActivationRow>)> {
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
        state: row.get::<_, String>(10)?.parse().map_err(|e: StoreError| {
            rusqlite::Error::FromSqlConversionFailure(10, rusqlite::types::Type::Text, e.into())
        })?,
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
    Ok((license, activation))
}
