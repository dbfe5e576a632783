//! Batching of the ping path's database work. Handlers hand their lookups and their
//! authenticated pings to two tasks; each task takes everything that queued up while its
//! previous round ran and serves it with a few statements (one query for all lookups; one
//! transaction, one durable commit, for all pings). A handler gets its ping's outcome only
//! after that commit, so a receipt is never sent for a ping that could still be lost.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use prometheus_client::metrics::counter::Counter;
use tokio::sync::{mpsc, oneshot};

use crate::store::{ActivationRow, LicenseRow, PingOutcome, PingRecord, Store, StoreError};

/// Most requests served in one round.
const MAX_BATCH: usize = 512;

type Reply<T> = oneshot::Sender<Result<T, String>>;
type Queue<Req, Resp> = mpsc::Sender<(Req, Reply<Resp>)>;

/// A queue in front of a task that serves requests in rounds.
pub struct Batcher<Req, Resp> {
    sender: Mutex<Option<Queue<Req, Resp>>>,
    task: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl<Req: Send + 'static, Resp: Send + 'static> Batcher<Req, Resp> {
    /// Starts the task; `serve` answers a round, one response per request, in order.
    pub fn start<F, Fut>(serve: F, rounds: Counter) -> Self
    where
        F: Fn(Vec<Req>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Vec<Resp>, StoreError>> + Send,
    {
        let (sender, mut receiver) = mpsc::channel::<(Req, Reply<Resp>)>(MAX_BATCH * 8);
        let task = tokio::spawn(async move {
            let mut round = Vec::with_capacity(MAX_BATCH);
            while receiver.recv_many(&mut round, MAX_BATCH).await > 0 {
                let (requests, replies): (Vec<Req>, Vec<Reply<Resp>>) = round.drain(..).unzip();
                let size = requests.len();
                rounds.inc();
                match serve(requests).await {
                    Ok(responses) if responses.len() == size => {
                        for (reply, response) in replies.into_iter().zip(responses) {
                            let _ = reply.send(Ok(response));
                        }
                    }
                    Ok(_) => {
                        for reply in replies {
                            let _ = reply
                                .send(Err("a batch answered the wrong number of requests".into()));
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, size, "a database round failed");
                        for reply in replies {
                            let _ = reply.send(Err(e.to_string()));
                        }
                    }
                }
            }
        });
        Batcher { sender: Mutex::new(Some(sender)), task: tokio::sync::Mutex::new(Some(task)) }
    }

    /// Queues one request and waits for its round.
    pub async fn call(&self, request: Req) -> Result<Resp, StoreError> {
        let stopped = || StoreError::Corrupt("the portal is shutting down".to_owned());
        let sender =
            self.sender.lock().unwrap_or_else(|p| p.into_inner()).clone().ok_or_else(stopped)?;
        let (reply, response) = oneshot::channel();
        sender.send((request, reply)).await.map_err(|_| stopped())?;
        response.await.map_err(|_| stopped())?.map_err(StoreError::Corrupt)
    }

    /// Stops taking requests and waits until every queued one is served.
    pub async fn close(&self) {
        self.sender.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(task) = self.task.lock().await.take() {
            let _ = task.await;
        }
    }
}

/// A license and its activation, as the ping path needs them.
pub type LicenseAndActivation = Option<(LicenseRow, Option<ActivationRow>)>;

/// The ping path's two batchers.
pub struct PingPath {
    pub lookups: Batcher<String, LicenseAndActivation>,
    pub records: Batcher<PingRecord, PingOutcome>,
}

impl PingPath {
    pub fn start(store: Store, write_rounds: Counter) -> Self {
        let reader = store.clone();
        let lookups = Batcher::start(
            move |ids: Vec<String>| {
                let store = reader.clone();
                async move {
                    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
                    let found: HashMap<String, (LicenseRow, Option<ActivationRow>)> = store
                        .licenses_with_activations(&refs)
                        .await?
                        .into_iter()
                        .map(|(license, activation)| (license.id.clone(), (license, activation)))
                        .collect();
                    // The same id twice in a round gets the row twice.
                    Ok(ids.iter().map(|id| found.get(id).cloned()).collect())
                }
            },
            Counter::default(),
        );
        let records = Batcher::start(
            move |pings: Vec<PingRecord>| {
                let store = store.clone();
                async move { store.record_pings(&pings).await }
            },
            write_rounds,
        );
        PingPath { lookups, records }
    }

    /// Finishes every queued lookup and ping.
    pub async fn close(&self) {
        self.lookups.close().await;
        self.records.close().await;
    }
}
