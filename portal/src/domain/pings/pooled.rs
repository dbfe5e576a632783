//! The ping path over a connection pool (PostgreSQL): two batching tasks. The first looks
//! up every ping that queued up while its previous round ran with one query and checks their
//! signatures with one batch verification; the second records the authentic ones in one
//! transaction with one durable commit. Several portal instances can share the database: the
//! record's conditional update is what decides a replay.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;

use tessera_core::armor::Envelope;
use tessera_core::keys::PublicKey;

use super::{
    Door, Judged, MAX_BATCH, PingPathError, PingRequest, Reply, VerifiedPing, authenticate,
    fail_all,
};
use crate::limits::RateLimits;
use crate::store::{PingOutcome, PingRecord, Store};

/// A queue in front of a task that serves requests in rounds.
pub struct Batcher<Req, Resp> {
    door: Door<Req, Resp>,
    task: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl<Req: Send + 'static, Resp: Send + 'static> Batcher<Req, Resp> {
    /// Starts the task; `serve` answers a round, one response per request, in order.
    pub fn start<F, Fut>(serve: F, rounds: Counter) -> Self
    where
        F: Fn(Vec<Req>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Vec<Resp>, PingPathError>> + Send,
    {
        let (door, mut receiver) = Door::open();
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
                    Ok(responses) => {
                        let e =
                            PingPathError::Miscounted { asked: size, answered: responses.len() };
                        fail_all(replies, e, "a database round failed");
                    }
                    Err(e) => fail_all(replies, e, "a database round failed"),
                }
            }
        });
        Batcher { door, task: tokio::sync::Mutex::new(Some(task)) }
    }

    /// Queues one request and waits for its round.
    pub async fn call(&self, request: Req) -> Result<Resp, PingPathError> {
        self.door.call(request).await
    }

    /// Stops taking requests and waits until every queued one is served.
    pub async fn close(&self) {
        self.door.close();
        if let Some(task) = self.task.lock().await.take() {
            let _ = task.await;
        }
    }
}

/// One lookup-and-verify round: one query for every license, one batch signature check
/// (on a blocking thread: it is a few milliseconds of arithmetic) for every ping.
async fn check_round(
    store: Store,
    checks: Vec<(String, Envelope, i64)>,
    limits: Arc<RateLimits>,
) -> Result<Vec<Result<VerifiedPing, Judged>>, PingPathError> {
    let ids: Vec<&str> = checks.iter().map(|(id, _, _)| id.as_str()).collect();
    let found: HashMap<String, _> = store
        .licenses_with_activations(&ids)
        .await?
        .into_iter()
        .map(|(license, activation)| (license.id.clone(), (license, activation)))
        .collect();
    // Each ping gets its own copy: a license may ping twice in one round.
    let round: Vec<(Envelope, _, i64)> = checks
        .into_iter()
        .map(|(id, envelope, hub_time_ms)| (envelope, found.get(&id).cloned(), hub_time_ms))
        .collect();
    let checked = tokio::task::spawn_blocking(move || authenticate(round, &limits))
        .await
        .map_err(|e| PingPathError::Thread { name: "signature check", reason: e.to_string() })?;
    Ok(checked?)
}

/// The two batchers: look up and verify, then record.
pub struct Rounds {
    checks: Batcher<(String, Envelope, i64), Result<VerifiedPing, Judged>>,
    records: Batcher<PingRecord, PingOutcome>,
    receipt_key: Box<PublicKey>,
}

impl Rounds {
    pub fn start(
        store: Store,
        write_rounds: Counter,
        limits: Arc<RateLimits>,
        receipt_key: PublicKey,
    ) -> Self {
        let reader = store.clone();
        let checks = Batcher::start(
            move |checks: Vec<(String, Envelope, i64)>| {
                check_round(reader.clone(), checks, limits.clone())
            },
            Counter::default(),
        );
        let records = Batcher::start(
            move |pings: Vec<PingRecord>| {
                let store = store.clone();
                async move { Ok::<_, PingPathError>(store.record_pings(&pings).await?) }
            },
            write_rounds,
        );
        Rounds { checks, records, receipt_key: Box::new(receipt_key) }
    }

    pub async fn judge(&self, mut ping: PingRequest) -> Result<Judged, PingPathError> {
        let call = ping.call();
        let verified =
            match self.checks.call((ping.license_id, ping.envelope, ping.hub_time_ms)).await? {
                Ok(verified) => verified,
                Err(judged) => return Ok(judged),
            };
        let outcome = self.records.call(verified.record(call, &self.receipt_key)).await?;
        Ok(verified.judged(outcome))
    }

    /// Finishes every queued check and ping.
    pub async fn close(&self) {
        self.checks.close().await;
        self.records.close().await;
    }
}
