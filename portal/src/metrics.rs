//! Prometheus metrics, served at `/metrics` in the OpenMetrics text format.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The labels of a request count.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route's pattern.
    pub route: &'static str,
    /// The HTTP status.
    pub status: u16,
}

/// A route label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabel {
    /// The route's pattern.
    pub route: &'static str,
}

/// A status label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    /// The status word.
    pub status: &'static str,
}

/// Every metric the portal exports.
pub struct Metrics {
    registry: Registry,
    /// HTTP requests by route and status.
    pub requests: Family<RequestLabels, Counter>,
    /// Request latency by route.
    pub latency: Family<RouteLabel, Histogram>,
    /// Authenticated pings by outcome.
    pub pings: Family<StatusLabel, Counter>,
    /// Signed receipts by status.
    pub receipts: Family<StatusLabel, Counter>,
    /// Group commits of pings.
    pub ping_batches: Counter,
    /// Rollup runs.
    pub rollups: Counter,
    /// Per-day ping rows rolled into months.
    pub rolled_days: Counter,
    /// Re-activations of an existing binding (same host).
    pub rebinds: Counter,
    /// Self-service repairs: re-activations sooner than the rebind limit, within the
    /// license's yearly allowance.
    pub repairs: Counter,
    /// Rows written by usage exports.
    pub export_rows: Counter,
    /// Times the portal refused to sign the audit ledger's checkpoint.
    pub ledger_refusals: Counter,
    /// 1 while the portal refuses to sign the audit ledger's checkpoints, else 0.
    pub ledger_signing_refused: Gauge,
    /// Checkpoints a witness (the checkpoint directory or a tlog witness) did not take.
    pub ledger_witness_failures: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("tessera_portal");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests by route and status", requests.clone());
        let latency = Family::<RouteLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
        });
        registry.register(
            "http_request_duration_seconds",
            "Request latency by route",
            latency.clone(),
        );
        let pings = Family::<StatusLabel, Counter>::default();
        registry.register("pings", "Authenticated pings by outcome", pings.clone());
        let receipts = Family::<StatusLabel, Counter>::default();
        registry.register("receipts", "Signed receipts by status", receipts.clone());
        let ping_batches = Counter::default();
        registry.register("ping_batches", "Group commits of pings", ping_batches.clone());
        let rollups = Counter::default();
        registry.register("rollups", "Rollup runs", rollups.clone());
        let rolled_days = Counter::default();
        registry.register(
            "rolled_days",
            "Per-day ping rows rolled into months",
            rolled_days.clone(),
        );
        let rebinds = Counter::default();
        registry.register(
            "rebinds",
            "Re-activations of an existing binding (same host)",
            rebinds.clone(),
        );
        let repairs = Counter::default();
        registry.register(
            "repairs",
            "Re-activations sooner than the rebind limit, within the yearly allowance",
            repairs.clone(),
        );
        let export_rows = Counter::default();
        registry.register(
            "usage_export_rows",
            "Rows written by usage exports (a disconnected client stops them)",
            export_rows.clone(),
        );
        let ledger_refusals = Counter::default();
        registry.register(
            "ledger_checkpoint_refusals",
            "Times the audit ledger's checkpoint was not signed: the stored ledger does not extend the last one signed",
            ledger_refusals.clone(),
        );
        let ledger_signing_refused = Gauge::default();
        registry.register(
            "ledger_signing_refused",
            "1 while the portal refuses to sign the audit ledger's checkpoints",
            ledger_signing_refused.clone(),
        );
        let ledger_witness_failures = Counter::default();
        registry.register(
            "ledger_witness_failures",
            "Signed ledger checkpoints the checkpoint directory or a tlog witness did not take",
            ledger_witness_failures.clone(),
        );
        Metrics {
            registry,
            ledger_witness_failures,
            ledger_refusals,
            ledger_signing_refused,
            requests,
            latency,
            pings,
            receipts,
            ping_batches,
            rollups,
            rolled_days,
            rebinds,
            repairs,
            export_rows,
        }
    }
}

impl Metrics {
    /// The OpenMetrics text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
