//! Batching of the ping path. Handlers hand their pings to two tasks; each task takes
//! everything that queued up while its previous round ran: the first looks all of them up
//! with one query and checks all their signatures with one batch verification; the second
//! records the authenticated ones in one transaction with one durable commit. A handler gets
//! its ping's outcome only after that commit, so a receipt is never sent for a ping that
//! could still be lost.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use prometheus_client::metrics::counter::Counter;
use tokio::sync::{mpsc, oneshot};

use tessera_core::armor::Envelope;
use tessera_core::keys::{PublicKey, verify_many};

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

/// A ping to look up and authenticate.
pub struct PingCheck {
    pub license_id: String,
    pub envelope: Envelope,
}

/// What the lookup-and-verify round found for one ping.
pub enum Checked {
    UnknownLicense,
    NotActivated,
    /// Signed by a key other than the bound hub key.
    WrongKey,
    BadSignature,
    Verified(Box<VerifiedPing>),
}

/// An authenticated ping's license, binding and hub key.
pub struct VerifiedPing {
    pub license: LicenseRow,
    pub activation: ActivationRow,
    pub hub_key: PublicKey,
}

/// The ping path's two batchers: look up and verify, then record.
pub struct PingPath {
    pub checks: Batcher<PingCheck, Checked>,
    pub records: Batcher<PingRecord, PingOutcome>,
}

/// One lookup-and-verify round: one query for every license, one batch signature check
/// (on a blocking thread: it is a few milliseconds of arithmetic) for every ping.
async fn check_round(store: Store, checks: Vec<PingCheck>) -> Result<Vec<Checked>, StoreError> {
    let ids: Vec<&str> = checks.iter().map(|c| c.license_id.as_str()).collect();
    let found: HashMap<String, (LicenseRow, Option<ActivationRow>)> = store
        .licenses_with_activations(&ids)
        .await?
        .into_iter()
        .map(|(license, activation)| (license.id.clone(), (license, activation)))
        .collect();
    let mut answers: Vec<Option<Checked>> = Vec::with_capacity(checks.len());
    let mut to_verify: Vec<(usize, PublicKey, Envelope, LicenseRow, ActivationRow)> = Vec::new();
    for (index, check) in checks.into_iter().enumerate() {
        let answer = match found.get(&check.license_id) {
            None => Some(Checked::UnknownLicense),
            Some((_, None)) => Some(Checked::NotActivated),
            Some((license, Some(activation))) => match activation.hub_key.parse::<PublicKey>() {
                Ok(key) if key.key_id() == check.envelope.key_id() => {
                    to_verify.push((
                        index,
                        key,
                        check.envelope,
                        license.clone(),
                        activation.clone(),
                    ));
                    None
                }
                Ok(_) => Some(Checked::WrongKey),
                Err(_) => {
                    return Err(StoreError::Corrupt("a stored hub key does not parse".into()));
                }
            },
        };
        answers.push(answer);
    }
    let verified = tokio::task::spawn_blocking(move || {
        let items: Vec<(&PublicKey, &[u8], &[u8; 64])> = to_verify
            .iter()
            .map(|(_, key, envelope, _, _)| (key, envelope.signed_message(), envelope.signature()))
            .collect();
        let good = verify_many(&items);
        drop(items);
        to_verify.into_iter().zip(good).collect::<Vec<_>>()
    })
    .await
    .map_err(|e| StoreError::Corrupt(format!("signature check failed: {e}")))?;
    for ((index, hub_key, _, license, activation), good) in verified {
        answers[index] = Some(if good {
            Checked::Verified(Box::new(VerifiedPing { license, activation, hub_key }))
        } else {
            Checked::BadSignature
        });
    }
    Ok(answers.into_iter().map(|a| a.unwrap_or(Checked::BadSignature)).collect())
}

impl PingPath {
    pub fn start(store: Store, write_rounds: Counter) -> Self {
        let reader = store.clone();
        let checks = Batcher::start(
            move |checks: Vec<PingCheck>| check_round(reader.clone(), checks),
            Counter::default(),
        );
        let records = Batcher::start(
            move |pings: Vec<PingRecord>| {
                let store = store.clone();
                async move { store.record_pings(&pings).await }
            },
            write_rounds,
        );
        PingPath { checks, records }
    }

    /// Finishes every queued check and ping.
    pub async fn close(&self) {
        self.checks.close().await;
        self.records.close().await;
    }
}
