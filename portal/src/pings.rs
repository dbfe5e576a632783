//! Group commit of pings: handlers hand authenticated pings to one writer task, which
//! records everything that queued up while the previous commit was running in a single
//! transaction. Each handler gets its ping's outcome only after that commit is durable, so
//! a receipt is never sent for a ping that could still be lost.

use prometheus_client::metrics::counter::Counter;
use tokio::sync::{mpsc, oneshot};

use crate::store::{PingOutcome, PingRecord, Store, StoreError};

/// Most pings in one transaction.
const MAX_BATCH: usize = 512;

type Reply = oneshot::Sender<Result<PingOutcome, String>>;

/// The handle handlers use to record pings.
pub struct PingBatcher {
    sender: std::sync::Mutex<Option<mpsc::Sender<(PingRecord, Reply)>>>,
    writer: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl PingBatcher {
    /// Starts the writer task.
    pub fn start(store: Store, batches: Counter) -> Self {
        let (sender, receiver) = mpsc::channel(MAX_BATCH * 8);
        let writer = tokio::spawn(write_batches(store, receiver, batches));
        PingBatcher {
            sender: std::sync::Mutex::new(Some(sender)),
            writer: tokio::sync::Mutex::new(Some(writer)),
        }
    }

    /// Records one ping durably; returns once its transaction has committed.
    pub async fn record(&self, ping: PingRecord) -> Result<PingOutcome, StoreError> {
        let sender = self.sender.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let Some(sender) = sender else {
            return Err(StoreError::Corrupt("the portal is shutting down".to_owned()));
        };
        let (reply, outcome) = oneshot::channel();
        sender
            .send((ping, reply))
            .await
            .map_err(|_| StoreError::Corrupt("the ping writer stopped".to_owned()))?;
        outcome
            .await
            .map_err(|_| StoreError::Corrupt("the ping writer stopped".to_owned()))?
            .map_err(StoreError::Corrupt)
    }

    /// Stops taking pings and waits until every queued one is written.
    pub async fn close(&self) {
        self.sender.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(writer) = self.writer.lock().await.take() {
            let _ = writer.await;
        }
    }
}

async fn write_batches(
    store: Store,
    mut receiver: mpsc::Receiver<(PingRecord, Reply)>,
    batches: Counter,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (records, replies): (Vec<PingRecord>, Vec<Reply>) = batch.drain(..).unzip();
        let result = store.record_pings(&records).await;
        batches.inc();
        match result {
            Ok(outcomes) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(Ok(outcome));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, pings = records.len(), "recording pings failed");
                for reply in replies {
                    let _ = reply.send(Err(e.to_string()));
                }
            }
        }
    }
}
