//! The ping path on SQLite: two threads, each with one of the store's ping connections, in
//! a pipeline. The checker takes every ping that queued up, looks up each one's license and
//! binding (a read snapshot) and checks all their signatures in one batch; the writer takes
//! every checked round that queued up meanwhile and records them in one write transaction
//! and one commit (one fsync). So the next round's signatures are checked while this
//! round's commit is on its way to disk. Other writers (activation, admin) go through the
//! pool and wait on SQLite's lock for at most one commit.

use std::path::Path;
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use prometheus_client::metrics::counter::Counter;
use tessera_core::keys::PublicKey;
use tokio::sync::mpsc;

use super::{
    Door, Judged, MAX_BATCH, PingPathError, PingRequest, VerifiedPing, authenticate, fail_all,
};
use crate::limits::RateLimits;
use crate::store::sqlite_pings::{self, PingReader, PingWriter};
use crate::store::{PingOutcome, PingRecord};

type Reply = super::Reply<Judged>;

/// A checked ping on its way to the writer: what the check found, and what to record if it
/// is authentic.
type CheckedPing = Result<(VerifiedPing, PingRecord), Judged>;

/// The queue in front of the checker, and the two threads.
pub struct Rounds {
    door: Door<PingRequest, Judged>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Rounds {
    /// Opens the store's two ping connections to `file` and starts the checker and the
    /// writer.
    pub fn start(
        file: &Path,
        rounds: Counter,
        limits: Arc<RateLimits>,
        receipt_key: PublicKey,
    ) -> Result<Rounds, PingPathError> {
        let (reader, writer) = sqlite_pings::open(file)?;
        let (door, receiver) = Door::open();
        let (checked_sender, checked) = std_mpsc::channel();
        let spawn = |name: &'static str, run: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn(run)
                .map_err(|e| PingPathError::Thread { name, reason: e.to_string() })
        };
        let threads = vec![
            spawn(
                "ping-checker",
                Box::new(move || check(reader, receiver, checked_sender, &limits, &receipt_key)),
            )?,
            spawn("ping-writer", Box::new(move || write(writer, checked, rounds)))?,
        ];
        Ok(Rounds { door, threads: Mutex::new(threads) })
    }

    pub async fn judge(&self, ping: PingRequest) -> Result<Judged, PingPathError> {
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

/// The checker: a round per wake-up, until every sender is gone and the queue is empty.
fn check(
    mut reader: PingReader,
    mut receiver: mpsc::Receiver<(PingRequest, Reply)>,
    checked: std_mpsc::Sender<Vec<(CheckedPing, Reply)>>,
    limits: &RateLimits,
    receipt_key: &PublicKey,
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
        match check_round(&mut reader, pings, limits, receipt_key) {
            Ok(round) => {
                if checked.send(round.into_iter().zip(replies).collect()).is_err() {
                    return;
                }
            }
            Err(e) => fail_all(replies, e, "a ping check round failed"),
        }
    }
}

/// Looks up a round in one read snapshot, then checks its signatures.
fn check_round(
    reader: &mut PingReader,
    pings: Vec<PingRequest>,
    limits: &RateLimits,
    receipt_key: &PublicKey,
) -> Result<Vec<CheckedPing>, PingPathError> {
    let found = reader.lookup(pings.iter().map(|p| p.license_id.as_str()))?;
    let mut calls = Vec::with_capacity(pings.len());
    let round = pings
        .into_iter()
        .zip(found)
        .map(|(mut ping, found)| {
            calls.push(ping.call());
            (ping.envelope, found, ping.hub_time_ms)
        })
        .collect();
    Ok(authenticate(round, limits)?
        .into_iter()
        .zip(calls)
        .map(|(answer, call)| {
            answer.map(|ping| {
                let record = ping.record(call, receipt_key);
                (ping, record)
            })
        })
        .collect())
}

/// The writer: every checked round that queued up meanwhile in one transaction, until the
/// checker is gone.
fn write(
    mut writer: PingWriter,
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
        match write_round(&mut writer, pings) {
            Ok(judged) => {
                for (reply, judged) in replies.into_iter().zip(judged) {
                    let _ = reply.send(Ok(judged));
                }
            }
            Err(e) => fail_all(replies, e, "a ping write round failed"),
        }
    }
}

/// Records the authentic pings of a batch in one write transaction, in order; the others
/// keep the judgement the check gave them.
fn write_round(
    writer: &mut PingWriter,
    pings: Vec<CheckedPing>,
) -> Result<Vec<Judged>, PingPathError> {
    let mut records = Vec::with_capacity(pings.len());
    let held: Vec<Result<VerifiedPing, Judged>> = pings
        .into_iter()
        .map(|ping| {
            ping.map(|(verified, record)| {
                records.push(record);
                verified
            })
        })
        .collect();
    let outcomes = writer.record(&records)?;
    if outcomes.len() != records.len() {
        return Err(PingPathError::Miscounted { asked: records.len(), answered: outcomes.len() });
    }
    let mut outcomes = outcomes.into_iter();
    Ok(held
        .into_iter()
        .map(|ping| match (ping, &mut outcomes) {
            (Err(judged), _) => judged,
            (Ok(verified), outcomes) => {
                verified.judged(outcomes.next().unwrap_or(PingOutcome::NotActivated))
            }
        })
        .collect())
}
