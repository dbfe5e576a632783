//! The pipeline's two threads, each with a connection of its own: the checker takes every
//! ping that queued up, looks the round up and checks it (`check.rs`); the writer takes
//! every checked round that queued up meanwhile and records them with one commit
//! (`write.rs`). So the next round's signatures are checked while this round's commit is on
//! its way to disk. Other writers (activation, admin) go through the store's pool and wait
//! for at most one commit.

use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use prometheus_client::metrics::counter::Counter;
use tokio::sync::{mpsc, oneshot};

use super::check::{Checked, check};
use super::proof::ReceiptKeys;
use super::write::write_round;
use super::{Judged, MAX_BATCH, PingPathError, PingRequest};
use crate::limits::RateLimits;
use crate::store::Store;
use crate::store::pings::{PingReader, PingSource, PingWriter};

/// Where a round's answer to one ping goes.
type Reply = oneshot::Sender<Result<Judged, PingPathError>>;

/// The queue in front of the checker, and the two threads.
pub struct PingPath {
    sender: Mutex<Option<mpsc::Sender<(PingRequest, Reply)>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl PingPath {
    /// Starts the checker and the writer on connections of their own to the store's
    /// database; `rounds` counts group commits; `limits` holds the per-license allowance
    /// that authentic pings count against; `receipt_keys` are the keys whose receipts a
    /// hub may show as proof of its place in a forgotten chain.
    pub fn start(
        store: &Store,
        rounds: Counter,
        limits: Arc<RateLimits>,
        receipt_keys: ReceiptKeys,
    ) -> Result<PingPath, PingPathError> {
        let (sender, receiver) = mpsc::channel(MAX_BATCH * 8);
        let (checked_sender, checked) = std_mpsc::channel();
        let source = store.ping_source().clone();
        let checker = spawn("ping-checker", source.clone(), PingSource::reader, move |reader| {
            check_rounds(reader, receiver, checked_sender, &limits, &receipt_keys);
        })?;
        let writer = spawn("ping-writer", source, PingSource::writer, move |writer| {
            write_rounds(writer, checked, rounds);
        })?;
        Ok(PingPath {
            sender: Mutex::new(Some(sender)),
            threads: Mutex::new(vec![checker, writer]),
        })
    }

    /// Judges and records one ping; answers after its round's commit.
    pub async fn judge(&self, ping: PingRequest) -> Result<Judged, PingPathError> {
        let sender = self
            .sender
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or(PingPathError::ShuttingDown)?;
        let (reply, answer) = oneshot::channel();
        sender.send((ping, reply)).await.map_err(|_| PingPathError::ShuttingDown)?;
        // Only the path's own sender may keep the queue open once it is closed.
        drop(sender);
        answer.await.map_err(|_| PingPathError::ShuttingDown)?
    }

    /// Stops taking pings and waits until every queued one is written.
    pub async fn close(&self) {
        // The checker ends when the queue is closed and empty; the writer when the checker
        // is gone and every checked round is written.
        self.sender.lock().unwrap_or_else(|p| p.into_inner()).take();
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|p| p.into_inner()));
        let _ = tokio::task::spawn_blocking(move || {
            for thread in threads {
                let _ = thread.join();
            }
        })
        .await;
    }
}

/// Starts a thread that opens its connection with `open` (on the thread: a PostgreSQL
/// connection belongs to the runtime it is made on) and runs `run` with it; waits until the
/// connection is open, so that a database that cannot be opened stops the start.
fn spawn<C: Send + 'static + ?Sized>(
    name: &'static str,
    source: PingSource,
    open: fn(&PingSource) -> Result<Box<C>, crate::store::StoreError>,
    run: impl FnOnce(Box<C>) + Send + 'static,
) -> Result<JoinHandle<()>, PingPathError> {
    let (opened, ready) = std_mpsc::channel();
    let thread = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || match open(&source) {
            Ok(connection) => {
                let _ = opened.send(Ok(()));
                run(connection);
            }
            Err(e) => {
                let _ = opened.send(Err(e));
            }
        })
        .map_err(|e| PingPathError::Thread { name, reason: e.to_string() })?;
    match ready.recv() {
        Ok(Ok(())) => Ok(thread),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => Err(PingPathError::Thread { name, reason: "it ended at start".to_owned() }),
    }
}

/// Answers every ping of a failed round with the failure (logged once, not per ping).
fn fail_all(replies: Vec<Reply>, error: PingPathError, what: &str) {
    tracing::error!(%error, size = replies.len(), "{what}");
    for reply in replies {
        let _ = reply.send(Err(error.clone()));
    }
}

/// The checker: a round per wake-up, until every sender is gone and the queue is empty.
fn check_rounds(
    mut reader: Box<dyn PingReader>,
    mut receiver: mpsc::Receiver<(PingRequest, Reply)>,
    checked: std_mpsc::Sender<Vec<(Checked, Reply)>>,
    limits: &RateLimits,
    receipt_keys: &ReceiptKeys,
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
        let found = {
            let ids: Vec<&str> = pings.iter().map(|p| p.license_id.as_str()).collect();
            reader.lookup(&ids)
        };
        let round = found.and_then(|found| check(pings, found, limits, receipt_keys));
        match round {
            Ok(round) => {
                if checked.send(round.into_iter().zip(replies).collect()).is_err() {
                    return;
                }
            }
            Err(e) => fail_all(replies, e.into(), "a ping check round failed"),
        }
    }
}

/// The writer: every checked round that queued up meanwhile in one transaction, until the
/// checker is gone.
fn write_rounds(
    mut writer: Box<dyn PingWriter>,
    checked: std_mpsc::Receiver<Vec<(Checked, Reply)>>,
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
        let (pings, replies): (Vec<Checked>, Vec<Reply>) = batch.into_iter().unzip();
        match write_round(writer.as_mut(), pings) {
            Ok(judged) => {
                for (reply, judged) in replies.into_iter().zip(judged) {
                    let _ = reply.send(Ok(judged));
                }
            }
            Err(e) => fail_all(replies, e.into(), "a ping write round failed"),
        }
    }
}
