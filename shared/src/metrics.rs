//! Each request's figures as CloudWatch Embedded Metric Format (EMF) documents: JSON lines in
//! the function's log that CloudWatch turns into metrics. No API call, no added latency.
//!
//! Three kinds of document, with dimensions from fixed sets only (never a customer or booking):
//! - one per request, by `Route` and by `Route` and `StatusClass`, and when a published version
//!   serves it, by `Route`, `Version` and `StatusClass` too;
//! - one per OmniLab endpoint the request called, by `Endpoint`;
//! - one per endpoint and failure kind that occurred, by `Endpoint` and `Kind`.
//!
//! Every document also carries the Lambda and API Gateway request ids as plain properties, so
//! a metric's data point leads to the request's log lines.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use crate::omnilab::{Endpoint, FailureKind, Tally};

/// The namespace when `METRICS_NAMESPACE` is not set.
pub const DEFAULT_NAMESPACE: &str = "OmniLabBookings";

/// Where the metrics go, and the version they are counted under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The CloudWatch namespace (`METRICS_NAMESPACE`).
    pub namespace: String,
    /// The published function version serving (`AWS_LAMBDA_FUNCTION_VERSION`, digits only);
    /// `None` for `$LATEST` or outside Lambda.
    pub version: Option<String>,
}

impl Settings {
    /// `AWS_LAMBDA_FUNCTION_VERSION` as a version the metrics are counted under: a published
    /// version's number, never `$LATEST` (no deployment judges it) nor anything else.
    pub fn published_version(value: Option<String>) -> Option<String> {
        value.filter(|v| !v.is_empty() && v.len() <= 10 && v.bytes().all(|b| b.is_ascii_digit()))
    }
}

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
    /// Whether the event could not be made into a request (answered 400 before any route ran).
    pub unreadable: bool,
    /// The published version that served it ([`Settings::version`]).
    pub version: Option<&'a str>,
    pub tally: &'a Tally,
}

/// A metric's value in a document.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Figure<'a> {
    Count(u32),
    Milliseconds(f64),
    /// One value per call (EMF's array form): each upstream attempt's time.
    EachMilliseconds(&'a [f64]),
}

/// One EMF document: a JSON object of its `_aws` metadata, dimensions, metrics and request ids.
///
/// Why not a `serde_json::Value`: every warm request writes at least two of these, and
/// building, serializing and dropping their maps cost a tenth of a warm page's CPU. This
/// borrows what it shows and serializes straight to the output, in the same key order.
#[derive(Debug)]
pub struct Document<'a> {
    namespace: &'a str,
    timestamp: u64,
    directives: &'static [Directive],
    dimensions: Vec<(&'static str, &'a str)>,
    metrics: Vec<(&'static str, &'static str, Figure<'a>)>,
    ids: Ids<'a>,
}

/// The request document's directives. By status class too: the answers' count and time. The
/// other figures only by route: split by status class they would triple the stack's custom
/// metrics (each a monthly charge) for no question on-call asks.
const REQUEST: &[Directive] = &[
    Directive {
        dimension_sets: &[&["Route"], &["Route", "StatusClass"]],
        metrics: 2,
    },
    Directive {
        dimension_sets: &[&["Route"]],
        metrics: 17,
    },
];
/// The same, for a published version: the answers' count and time by version as well, which is
/// what a gradual deployment's rollback alarm judges. Why: an alarm over every version goes
/// into ALARM during an OmniLab outage and rolls back the very fix that would help; one over the
/// new version alone compares it with the rest. A version's metrics stop costing once it serves
/// no more.
const REQUEST_BY_VERSION: &[Directive] = &[
    Directive {
        dimension_sets: &[
            &["Route"],
            &["Route", "StatusClass"],
            &["Route", "Version", "StatusClass"],
        ],
        metrics: 2,
    },
    REQUEST[1],
];
const ENDPOINT: &[Directive] = &[Directive {
    dimension_sets: &[&["Endpoint"]],
    metrics: 3,
}];
const FAILURE: &[Directive] = &[Directive {
    dimension_sets: &[&["Endpoint", "Kind"]],
    metrics: 1,
}];

/// The EMF documents of one request, in the order they are written.
pub fn documents<'a>(namespace: &'a str, outcome: &Outcome<'a>, ids: Ids<'a>) -> Vec<Document<'a>> {
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
    use Figure::{Count, EachMilliseconds, Milliseconds};
    let (directives, dimensions) = match outcome.version {
        Some(version) => (
            REQUEST_BY_VERSION,
            vec![
                ("Route", outcome.route),
                ("Version", version),
                ("StatusClass", class),
            ],
        ),
        None => (
            REQUEST,
            vec![("Route", outcome.route), ("StatusClass", class)],
        ),
    };
    let mut documents = vec![Document {
        namespace,
        timestamp,
        directives,
        dimensions,
        metrics: vec![
            ("Requests", "Count", Count(1)),
            ("Duration", "Milliseconds", Milliseconds(ms)),
            ("UpstreamCalls", "Count", Count(tally.upstream_calls)),
            ("Retries", "Count", Count(tally.retries)),
            ("TokenExchanges", "Count", Count(token.attempts)),
            (
                "TokenExchangeFailures",
                "Count",
                Count(tally.token_exchange_failures),
            ),
            ("SecretReads", "Count", Count(tally.secret_reads)),
            ("Cancellations", "Count", Count(tally.cancellations)),
            ("SharedTokenHits", "Count", Count(tally.shared_token_hits)),
            (
                "SharedTokenMisses",
                "Count",
                Count(tally.shared_token_misses),
            ),
            (
                "SharedTokenFallbacks",
                "Count",
                Count(tally.shared_token_fallbacks),
            ),
            ("SharedTokenWaits", "Count", Count(tally.shared_token_waits)),
            (
                "SharedTokenTakeovers",
                "Count",
                Count(tally.shared_token_takeovers),
            ),
            (
                "SharedTokenUnusable",
                "Count",
                Count(tally.shared_token_unusable),
            ),
            (
                "SharedTokenOtherClient",
                "Count",
                Count(tally.shared_token_other_client),
            ),
            ("TokenTableCalls", "Count", Count(tally.token_table_calls)),
            (
                "TokenTableFailures",
                "Count",
                Count(tally.token_table_failures),
            ),
            ("ColdStart", "Count", Count(u32::from(outcome.cold_start))),
            (
                "UnreadableRequests",
                "Count",
                Count(u32::from(outcome.unreadable)),
            ),
        ],
        ids,
    }];
    for endpoint in Endpoint::ALL {
        let counts = tally.endpoint(endpoint);
        if counts.attempts == 0 && counts.failed() == 0 {
            continue;
        }
        documents.push(Document {
            namespace,
            timestamp,
            directives: ENDPOINT,
            dimensions: vec![("Endpoint", endpoint.name())],
            metrics: vec![
                ("UpstreamAttempts", "Count", Count(counts.attempts)),
                (
                    "UpstreamDuration",
                    "Milliseconds",
                    EachMilliseconds(&counts.durations_ms),
                ),
                ("UpstreamFailures", "Count", Count(counts.failed())),
            ],
            ids,
        });
        for (kind, &failed) in FailureKind::ALL.iter().zip(&counts.failures) {
            if failed == 0 {
                continue;
            }
            documents.push(Document {
                namespace,
                timestamp,
                directives: FAILURE,
                dimensions: vec![("Endpoint", endpoint.name()), ("Kind", kind.name())],
                metrics: vec![("UpstreamFailures", "Count", Count(failed))],
                ids,
            });
        }
    }
    documents
}

/// One `CloudWatchMetrics` entry: its dimension sets, over the next `metrics` metrics.
#[derive(Clone, Copy, Debug)]
struct Directive {
    dimension_sets: &'static [&'static [&'static str]],
    metrics: usize,
}

impl Serialize for Figure<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match *self {
            Self::Count(count) => serializer.serialize_u32(count),
            Self::Milliseconds(ms) => serializer.serialize_f64(ms),
            Self::EachMilliseconds(each) => each.serialize(serializer),
        }
    }
}

impl Serialize for Document<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        debug_assert_eq!(
            self.directives.iter().map(|d| d.metrics).sum::<usize>(),
            self.metrics.len()
        );
        let mut root = serializer.serialize_map(None)?;
        root.serialize_entry("_aws", &Aws(self))?;
        for (name, value) in &self.dimensions {
            root.serialize_entry(name, value)?;
        }
        for (name, _, value) in &self.metrics {
            root.serialize_entry(name, value)?;
        }
        if let Some(id) = self.ids.request {
            root.serialize_entry("requestId", id)?;
        }
        if let Some(id) = self.ids.api_request {
            root.serialize_entry("apiRequestId", id)?;
        }
        root.end()
    }
}

/// `_aws`: `{"Timestamp": …, "CloudWatchMetrics": [{"Namespace", "Dimensions", "Metrics"}…]}`,
/// each directive over its share of the document's metrics, in order.
struct Aws<'d, 'a>(&'d Document<'a>);
struct Entries<'d, 'a>(&'d Document<'a>);
struct Entry<'d> {
    namespace: &'d str,
    directive: &'d Directive,
    metrics: &'d [(&'static str, &'static str, Figure<'d>)],
}
struct Names<'d>(&'d [(&'static str, &'static str, Figure<'d>)]);
struct Name<'d>(&'d str, &'d str);

impl Serialize for Aws<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut aws = serializer.serialize_map(Some(2))?;
        aws.serialize_entry("Timestamp", &self.0.timestamp)?;
        aws.serialize_entry("CloudWatchMetrics", &Entries(self.0))?;
        aws.end()
    }
}

impl Serialize for Entries<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let document = self.0;
        let mut entries = serializer.serialize_seq(Some(document.directives.len()))?;
        let mut rest = &document.metrics[..];
        for directive in document.directives {
            let (these, others) = rest.split_at(directive.metrics.min(rest.len()));
            rest = others;
            entries.serialize_element(&Entry {
                namespace: document.namespace,
                directive,
                metrics: these,
            })?;
        }
        entries.end()
    }
}

impl Serialize for Entry<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut entry = serializer.serialize_map(Some(3))?;
        entry.serialize_entry("Namespace", self.namespace)?;
        entry.serialize_entry("Dimensions", self.directive.dimension_sets)?;
        entry.serialize_entry("Metrics", &Names(self.metrics))?;
        entry.end()
    }
}

impl Serialize for Names<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|(name, unit, _)| Name(name, unit)))
    }
}

impl Serialize for Name<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut metric = serializer.serialize_map(Some(2))?;
        metric.serialize_entry("Name", self.0)?;
        metric.serialize_entry("Unit", self.1)?;
        metric.end()
    }
}

/// Writes the documents to stdout, one line each, where Lambda hands them to CloudWatch: with
/// the invocation's log lines when they are held for one write (`telemetry::in_one_write`),
/// else at once. The lines are written whole, so concurrent requests' lines never interleave.
pub fn write(documents: &[Document<'_>]) {
    let mut text = Vec::with_capacity(1024 * documents.len());
    for document in documents {
        // Plain data always serializes; metrics are not worth failing a request over anyway.
        let _ = serde_json::to_writer(&mut text, document);
        text.push(b'\n');
    }
    crate::telemetry::emit(&text);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::omnilab::EndpointTally;
    use serde_json::{Value, json};

    #[test]
    fn a_request_without_upstream_calls_is_one_document() {
        let tally = Tally::default();
        let outcome = Outcome {
            route: "list-bookings",
            status: 400,
            duration: Duration::from_millis(2),
            cold_start: false,
            unreadable: false,
            version: None,
            tally: &tally,
        };
        let docs: Vec<Value> = documents("Test", &outcome, Ids::default())
            .iter()
            .map(|document| serde_json::to_value(document).unwrap())
            .collect();
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

    /// A gradual deployment's rollback alarm judges the new version alone: its answers are
    /// counted by version too, and `$LATEST` (never deployed gradually) is not.
    #[test]
    fn a_published_version_counts_its_answers_by_version_too() {
        let tally = Tally::default();
        let outcome = |version| Outcome {
            route: "cancel-booking",
            status: 502,
            duration: Duration::from_millis(2),
            cold_start: false,
            unreadable: false,
            version,
            tally: &tally,
        };
        let doc = serde_json::to_value(&documents("Test", &outcome(Some("7")), Ids::default())[0])
            .unwrap();
        assert_eq!(doc["Version"], "7");
        assert_eq!(doc["StatusClass"], "5xx");
        let directives = doc["_aws"]["CloudWatchMetrics"].as_array().unwrap();
        assert_eq!(
            directives[0]["Dimensions"],
            json!([
                ["Route"],
                ["Route", "StatusClass"],
                ["Route", "Version", "StatusClass"]
            ])
        );
        assert_eq!(directives[0]["Metrics"][0]["Name"], "Requests");
        assert_eq!(directives[1]["Dimensions"], json!([["Route"]]));

        let doc =
            serde_json::to_value(&documents("Test", &outcome(None), Ids::default())[0]).unwrap();
        assert!(doc.get("Version").is_none());
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Route"], ["Route", "StatusClass"]])
        );
        for (value, version) in [
            (Some("12"), Some("12")),
            (Some("$LATEST"), None),
            (Some(""), None),
            (Some("1 "), None),
            (Some("12345678901"), None),
            (None, None),
        ] {
            assert_eq!(
                Settings::published_version(value.map(str::to_owned)).as_deref(),
                version,
                "{value:?}"
            );
        }
    }

    /// The lines CloudWatch reads, byte for byte: key order included, as the documents were
    /// written when they were built as `serde_json::Value`s.
    #[test]
    fn the_documents_are_written_exactly_as_emf_lines() {
        let mut tally = Tally {
            upstream_calls: 3,
            retries: 1,
            ..Tally::default()
        };
        tally.endpoints[Endpoint::FetchContactBookings as usize] = EndpointTally {
            attempts: 2,
            durations_ms: vec![12.5, 3.0],
            failures: [0, 1, 0, 0, 0, 0, 0],
        };
        let outcome = Outcome {
            route: "list-bookings",
            status: 200,
            duration: Duration::from_micros(15_250),
            cold_start: true,
            unreadable: false,
            version: None,
            tally: &tally,
        };
        let ids = Ids {
            request: Some("req-1"),
            api_request: Some("api-1"),
        };
        let docs = documents("Test", &outcome, ids);
        let mut written = Vec::new();
        for document in &docs {
            serde_json::to_writer(&mut written, document).unwrap();
            written.push(b'\n');
        }
        let lines: Vec<&str> = std::str::from_utf8(&written).unwrap().lines().collect();
        let timestamp = docs[0].timestamp;
        let counts = [
            "UpstreamCalls",
            "Retries",
            "TokenExchanges",
            "TokenExchangeFailures",
            "SecretReads",
            "Cancellations",
            "SharedTokenHits",
            "SharedTokenMisses",
            "SharedTokenFallbacks",
            "SharedTokenWaits",
            "SharedTokenTakeovers",
            "SharedTokenUnusable",
            "SharedTokenOtherClient",
            "TokenTableCalls",
            "TokenTableFailures",
            "ColdStart",
            "UnreadableRequests",
        ];
        let names = |list: &[&str], unit: &str| -> String {
            list.iter()
                .map(|name| format!(r#"{{"Name":"{name}","Unit":"{unit}"}}"#))
                .collect::<Vec<_>>()
                .join(",")
        };
        let values = [3, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]
            .iter()
            .zip(counts)
            .map(|(value, name)| format!(r#""{name}":{value}"#))
            .collect::<Vec<_>>()
            .join(",");
        let ids = r#""requestId":"req-1","apiRequestId":"api-1""#;
        assert_eq!(
            lines,
            [
                format!(
                    r#"{{"_aws":{{"Timestamp":{timestamp},"CloudWatchMetrics":[{{"Namespace":"Test","Dimensions":[["Route"],["Route","StatusClass"]],"Metrics":[{{"Name":"Requests","Unit":"Count"}},{{"Name":"Duration","Unit":"Milliseconds"}}]}},{{"Namespace":"Test","Dimensions":[["Route"]],"Metrics":[{}]}}]}},"Route":"list-bookings","StatusClass":"2xx","Requests":1,"Duration":15.25,{values},{ids}}}"#,
                    names(&counts, "Count")
                ),
                format!(
                    r#"{{"_aws":{{"Timestamp":{timestamp},"CloudWatchMetrics":[{{"Namespace":"Test","Dimensions":[["Endpoint"]],"Metrics":[{{"Name":"UpstreamAttempts","Unit":"Count"}},{{"Name":"UpstreamDuration","Unit":"Milliseconds"}},{{"Name":"UpstreamFailures","Unit":"Count"}}]}}]}},"Endpoint":"fetchContactBookings","UpstreamAttempts":2,"UpstreamDuration":[12.5,3.0],"UpstreamFailures":1,{ids}}}"#
                ),
                format!(
                    r#"{{"_aws":{{"Timestamp":{timestamp},"CloudWatchMetrics":[{{"Namespace":"Test","Dimensions":[["Endpoint","Kind"]],"Metrics":[{{"Name":"UpstreamFailures","Unit":"Count"}}]}}]}},"Endpoint":"fetchContactBookings","Kind":"5xx","UpstreamFailures":1,{ids}}}"#
                ),
            ]
        );
    }
}
