//! Each request's figures as CloudWatch Embedded Metric Format (EMF) documents: JSON lines in
//! the function's log that CloudWatch turns into metrics. No API call, no added latency.
//!
//! Three kinds of document, with dimensions from fixed sets only (never a customer or booking):
//! - one per request, by `Route` and by `Route` and `StatusClass`;
//! - one per OmniLab endpoint the request called, by `Endpoint`;
//! - one per endpoint and failure kind that occurred, by `Endpoint` and `Kind`.
//!
//! Every document also carries the Lambda and API Gateway request ids as plain properties, so
//! a metric's data point leads to the request's log lines.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use crate::omnilab::{Endpoint, FailureKind, Tally};

/// The namespace when `METRICS_NAMESPACE` is not set.
pub const DEFAULT_NAMESPACE: &str = "OmniLabBookings";

/// The request ids a request's documents carry.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ids<'a> {
    /// Lambda's request id.
    pub request: Option<&'a str>,
    /// API Gateway's `requestContext.requestId`, the one in its access log.
    pub api_request: Option<&'a str>,
}

/// One request, as its metrics see it.
#[derive(Debug)]
pub struct Outcome<'a> {
    /// `list-bookings` or `cancel-booking`.
    pub route: &'static str,
    pub status: u16,
    pub duration: Duration,
    pub cold_start: bool,
    pub tally: &'a Tally,
}

/// The EMF documents of one request, in the order they are written.
pub fn documents(namespace: &str, outcome: &Outcome<'_>, ids: Ids<'_>) -> Vec<Value> {
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64);
    let tally = outcome.tally;
    let token = tally.endpoint(Endpoint::Token);
    let class = match outcome.status {
        200..=299 => "2xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    let ms = outcome.duration.as_secs_f64() * 1000.0;
    let mut documents = vec![document(
        namespace,
        timestamp,
        &[
            // By status class too: the answers' count and time. The other figures only by
            // route: split by status class they would triple the stack's custom metrics (each
            // a monthly charge) for no question on-call asks.
            Directive {
                dimension_sets: &[&["Route"], &["Route", "StatusClass"]],
                metrics: 2,
            },
            Directive {
                dimension_sets: &[&["Route"]],
                metrics: 14,
            },
        ],
        &[("Route", outcome.route), ("StatusClass", class)],
        &[
            ("Requests", "Count", json!(1)),
            ("Duration", "Milliseconds", json!(ms)),
            ("UpstreamCalls", "Count", json!(tally.upstream_calls)),
            ("Retries", "Count", json!(tally.retries)),
            ("TokenExchanges", "Count", json!(token.attempts)),
            (
                "TokenExchangeFailures",
                "Count",
                json!(tally.token_exchange_failures),
            ),
            ("SecretReads", "Count", json!(tally.secret_reads)),
            ("Cancellations", "Count", json!(tally.cancellations)),
            ("SharedTokenHits", "Count", json!(tally.shared_token_hits)),
            (
                "SharedTokenMisses",
                "Count",
                json!(tally.shared_token_misses),
            ),
            (
                "SharedTokenFallbacks",
                "Count",
                json!(tally.shared_token_fallbacks),
            ),
            ("SharedTokenWaits", "Count", json!(tally.shared_token_waits)),
            (
                "SharedTokenTakeovers",
                "Count",
                json!(tally.shared_token_takeovers),
            ),
            (
                "SharedTokenUnusable",
                "Count",
                json!(tally.shared_token_unusable),
            ),
            ("TokenTableCalls", "Count", json!(tally.token_table_calls)),
            ("ColdStart", "Count", json!(u32::from(outcome.cold_start))),
        ],
        ids,
    )];
    for endpoint in Endpoint::ALL {
        let counts = tally.endpoint(endpoint);
        if counts.attempts == 0 && counts.failed() == 0 {
            continue;
        }
        documents.push(document(
            namespace,
            timestamp,
            &[Directive::all(&[&["Endpoint"]], 3)],
            &[("Endpoint", endpoint.name())],
            &[
                ("UpstreamAttempts", "Count", json!(counts.attempts)),
                (
                    "UpstreamDuration",
                    "Milliseconds",
                    json!(counts.durations_ms),
                ),
                ("UpstreamFailures", "Count", json!(counts.failed())),
            ],
            ids,
        ));
        for (kind, &failed) in FailureKind::ALL.iter().zip(&counts.failures) {
            if failed == 0 {
                continue;
            }
            documents.push(document(
                namespace,
                timestamp,
                &[Directive::all(&[&["Endpoint", "Kind"]], 1)],
                &[("Endpoint", endpoint.name()), ("Kind", kind.name())],
                &[("UpstreamFailures", "Count", json!(failed))],
                ids,
            ));
        }
    }
    documents
}

/// One `CloudWatchMetrics` entry: its dimension sets, over the next `metrics` metrics.
struct Directive {
    dimension_sets: &'static [&'static [&'static str]],
    metrics: usize,
}

impl Directive {
    fn all(dimension_sets: &'static [&'static [&'static str]], metrics: usize) -> Self {
        Self {
            dimension_sets,
            metrics,
        }
    }
}

fn document(
    namespace: &str,
    timestamp: u64,
    directives: &[Directive],
    dimensions: &[(&str, &str)],
    metrics: &[(&str, &str, Value)],
    ids: Ids<'_>,
) -> Value {
    debug_assert_eq!(
        directives.iter().map(|d| d.metrics).sum::<usize>(),
        metrics.len()
    );
    let mut rest = metrics;
    let entries: Vec<Value> = directives
        .iter()
        .map(|directive| {
            let (these, others) = rest.split_at(directive.metrics.min(rest.len()));
            rest = others;
            json!({
                "Namespace": namespace,
                "Dimensions": directive.dimension_sets,
                "Metrics": these
                    .iter()
                    .map(|(name, unit, _)| json!({"Name": name, "Unit": unit}))
                    .collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({"Timestamp": timestamp, "CloudWatchMetrics": entries}),
    );
    for (name, value) in dimensions {
        root.insert((*name).into(), json!(value));
    }
    for (name, _, value) in metrics {
        root.insert((*name).into(), value.clone());
    }
    if let Some(id) = ids.request {
        root.insert("requestId".into(), json!(id));
    }
    if let Some(id) = ids.api_request {
        root.insert("apiRequestId".into(), json!(id));
    }
    Value::Object(root)
}

/// Writes the documents to stdout, one line each, where Lambda hands them to CloudWatch: with
/// the invocation's log lines when they are held for one write (`telemetry::in_one_write`),
/// else at once. The lines are written whole, so concurrent requests' lines never interleave.
pub fn write(documents: &[Value]) {
    let mut text = Vec::with_capacity(1024 * documents.len());
    for document in documents {
        // A `Value` always serializes; metrics are not worth failing a request over anyway.
        let _ = serde_json::to_writer(&mut text, document);
        text.push(b'\n');
    }
    crate::telemetry::emit(&text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_without_upstream_calls_is_one_document() {
        let tally = Tally::default();
        let outcome = Outcome {
            route: "list-bookings",
            status: 400,
            duration: Duration::from_millis(2),
            cold_start: false,
            tally: &tally,
        };
        let docs = documents("Test", &outcome, Ids::default());
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0]["StatusClass"], "4xx");
        assert_eq!(docs[0]["Requests"], 1);
        let directives = docs[0]["_aws"]["CloudWatchMetrics"].as_array().unwrap();
        assert_eq!(directives.len(), 2);
        assert!(directives.iter().all(|d| d["Namespace"] == "Test"));
        assert_eq!(directives[0]["Metrics"].as_array().unwrap().len(), 2);
        assert_eq!(directives[1]["Dimensions"], json!([["Route"]]));
        assert!(docs[0].get("requestId").is_none());
    }
}
