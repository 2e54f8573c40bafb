//! Prometheus metrics of the OSS front-end: requests, errors, bytes and latency per operation.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpLabels {
    op: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    op: &'static str,
    code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ByteLabels {
    op: &'static str,
    direction: &'static str,
}

/// The front-end's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    requests: Family<OpLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    bytes: Family<ByteLabels, Counter>,
    latency: Family<OpLabels, Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("coffer_oss");
        let requests = Family::<OpLabels, Counter>::default();
        let errors = Family::<ErrorLabels, Counter>::default();
        let bytes = Family::<ByteLabels, Counter>::default();
        let latency = Family::<OpLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        registry.register("requests", "Requests by operation", requests.clone());
        registry.register(
            "errors",
            "Error responses by operation and OSS code",
            errors.clone(),
        );
        registry.register(
            "bytes",
            "Body bytes received and sent by operation",
            bytes.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time to the response head by operation",
            latency.clone(),
        );
        Self {
            registry,
            requests,
            errors,
            bytes,
            latency,
        }
    }

    /// Records one answered request.
    pub fn observe(&self, op: &'static str, error_code: Option<&'static str>, seconds: f64) {
        self.requests.get_or_create(&OpLabels { op }).inc();
        if let Some(code) = error_code {
            self.errors.get_or_create(&ErrorLabels { op, code }).inc();
        }
        self.latency
            .get_or_create(&OpLabels { op })
            .observe(seconds);
    }

    /// Counts body bytes (`direction` is `in` or `out`).
    pub fn bytes(&self, op: &'static str, direction: &'static str, n: u64) {
        self.bytes
            .get_or_create(&ByteLabels { op, direction })
            .inc_by(n);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
