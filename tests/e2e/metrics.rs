//! The CloudWatch Embedded Metric Format (EMF) documents the compiled binaries write
//! to stdout after each invocation, under the Runtime API harness with moto's Secrets Manager
//! and the OmniLab sandbox over HTTP. Checked three ways:
//!
//! - against the EMF specification: its JSON schema, `tests/emf/emf.schema.json` (copied
//!   unchanged from the specification page, docs.aws.amazon.com/AmazonCloudWatch/latest/
//!   monitoring/CloudWatch_Embedded_Metric_Format_Specification.html, section "Embedded metric
//!   format example and JSON schema"; see tests/emf/README.md), and the specification's rules
//!   that the schema cannot express (`bookings_tests::emf`);
//! - against the metrics contract: which documents each request writes and their counts, the
//!   fixed dimension values, both request ids on every document, no customer or booking id in
//!   any, and both request ids on every log line the request writes;
//! - against `template.yaml`: every alarm and dashboard metric in the `MetricsNamespace`
//!   parameter's namespace must be one the binaries were seen emitting in this very run, under
//!   that name, with exactly those dimension names and with dimension values they emitted
//!   (`bookings_tests::template_metrics` reads the template).
//!
//! The contract is this module's own; the specification and the template are read in support,
//! where any area's test can hold its functions' metrics to them.
//!
//! Run by scripts/test.sh (moto and the binaries are needed). `DEPLOY_FILES_ROOT` points the
//! template check at a copy of the repository's deploy files, as for tests/e2e/template.rs.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bookings_tests::emf::{self, Observed, Specification};
use bookings_tests::runtime_api::{Function, RuntimeApi};
use bookings_tests::template_metrics::{
    Dimensions, Namespace, Source, TemplateMetric, dashboard_metrics, mismatches, read_template,
    template_metrics,
};
use bookings_tests::{
    DEMO_CUSTOMER, OTHER_CUSTOMER, World, cancel_event, function_env, list_event,
};
use sandbox::gateway::Event;
use sandbox::{Endpoint, Fault, booking_uuid};
use serde_json::{Value, json};
use serde_norway::Value as Yaml;

// ---------------------------------------------------------------------------------------------
// The metrics contract: the documents, their metrics and the dimension values.

/// The namespace when `METRICS_NAMESPACE` is not set.
const DEFAULT_NAMESPACE: &str = "OmniLabBookings";
/// The namespace the cancel-booking process is given, to see that the variable is obeyed.
const CANCEL_NAMESPACE: &str = "OmniLabBookings-e2e/cancel";

const ROUTES: [&str; 2] = ["list-bookings", "cancel-booking"];
const STATUS_CLASSES: [&str; 3] = ["2xx", "4xx", "5xx"];
/// The published versions the cancel-booking container and the list-bookings container of the
/// upstream faults run as (the first list-bookings container runs as `$LATEST`).
const CANCEL_VERSION: &str = "3";
const FAULTS_VERSION: &str = "5";
const ENDPOINTS: [&str; 3] = ["token", "fetchContactBookings", "cancelInteractionBooking"];
const KINDS: [&str; 7] = [
    "timeout",
    "5xx",
    "429",
    "401",
    "4xx",
    "malformed",
    "transport",
];

const TOKEN: &str = "token";
const FETCH: &str = "fetchContactBookings";
const CANCEL: &str = "cancelInteractionBooking";

/// The kinds of document, each with its dimension sets and its metrics (name, unit): a
/// request's, the same served by a published version (counted by `Version` too, for the
/// gradual deployment's rollback alarms), an upstream endpoint's and a failure kind's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Request,
    PublishedRequest,
    Upstream,
    Failure,
}

impl Kind {
    const ALL: [Self; 4] = [
        Self::Request,
        Self::PublishedRequest,
        Self::Upstream,
        Self::Failure,
    ];

    fn is_request(self) -> bool {
        matches!(self, Self::Request | Self::PublishedRequest)
    }

    fn dimension_sets(self) -> Value {
        match self {
            Self::Request => json!([["Route"], ["Route", "StatusClass"]]),
            Self::PublishedRequest => json!([
                ["Route"],
                ["Route", "StatusClass"],
                ["Route", "Version", "StatusClass"]
            ]),
            Self::Upstream => json!([["Endpoint"]]),
            Self::Failure => json!([["Endpoint", "Kind"]]),
        }
    }

    /// The document's directives: each with its dimension sets and the names of its metrics.
    /// A request's status class splits only its count and duration: the other figures by
    /// status class would multiply the stack's custom metrics for no question on-call asks.
    fn directives(self) -> Vec<(Value, Vec<&'static str>)> {
        let names = |metrics: &[(&'static str, &'static str)]| -> Vec<&'static str> {
            metrics.iter().map(|(name, _)| *name).collect()
        };
        match self {
            Self::Request | Self::PublishedRequest => vec![
                (self.dimension_sets(), names(&self.metrics()[..2])),
                (json!([["Route"]]), names(&self.metrics()[2..])),
            ],
            _ => vec![(self.dimension_sets(), names(self.metrics()))],
        }
    }

    fn metrics(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::Request | Self::PublishedRequest => &[
                ("Requests", "Count"),
                ("Duration", "Milliseconds"),
                ("UpstreamCalls", "Count"),
                ("Retries", "Count"),
                ("TokenExchanges", "Count"),
                ("TokenExchangeFailures", "Count"),
                ("SecretReads", "Count"),
                ("Cancellations", "Count"),
                ("SharedTokenHits", "Count"),
                ("SharedTokenMisses", "Count"),
                ("SharedTokenFallbacks", "Count"),
                ("SharedTokenWaits", "Count"),
                ("SharedTokenTakeovers", "Count"),
                ("SharedTokenUnusable", "Count"),
                ("SharedTokenOtherClient", "Count"),
                ("TokenTableCalls", "Count"),
                ("TokenTableFailures", "Count"),
                ("ColdStart", "Count"),
                ("UnreadableRequests", "Count"),
            ],
            Self::Upstream => &[
                ("UpstreamAttempts", "Count"),
                ("UpstreamDuration", "Milliseconds"),
                ("UpstreamFailures", "Count"),
            ],
            Self::Failure => &[("UpstreamFailures", "Count")],
        }
    }

    fn of(doc: &Value) -> Option<Self> {
        let sets = &doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"];
        Self::ALL
            .into_iter()
            .find(|kind| *sets == kind.dimension_sets())
    }
}

/// The only values a dimension may take.
fn allowed_values(dimension: &str) -> &'static [&'static str] {
    match dimension {
        "Route" => &ROUTES,
        "StatusClass" => &STATUS_CLASSES,
        "Endpoint" => &ENDPOINTS,
        "Kind" => &KINDS,
        "Version" => &[CANCEL_VERSION, FAULTS_VERSION],
        _ => &[],
    }
}

// ---------------------------------------------------------------------------------------------
// The binaries under the Runtime API, one request at a time.

/// One Lambda container: a process of `binary` polling a Runtime API of its own.
struct Container {
    binary: &'static str,
    namespace: &'static str,
    runtime: RuntimeApi,
    function: Function,
    invoked: u64,
}

impl Container {
    async fn start(binary: &'static str, namespace: &'static str, env: &[(&str, String)]) -> Self {
        let runtime = RuntimeApi::start().await;
        let function = Function::spawn_ready(binary, &runtime, env).await;
        Self {
            binary,
            namespace,
            runtime,
            function,
            invoked: 0,
        }
    }

    /// Sends `event` with API Gateway's request id `api_request_id` and collects what the
    /// function wrote meanwhile: its EMF documents and its log lines.
    async fn send(&mut self, what: &str, event: Event, api_request_id: &str) -> Exchange {
        let event = event.request_id(api_request_id).json();
        // The harness names invocations invoke-0, invoke-1, ... on each Runtime API.
        let request_id = format!("invoke-{}", self.invoked);
        self.invoked += 1;
        let before = self.function.logs().len();
        let response = self.runtime.invoke(event).await.response();
        let lines = self.lines_of(what, before, &request_id).await;
        let mut docs = Vec::new();
        let mut tracing = Vec::new();
        for line in &lines {
            match serde_json::from_str::<Value>(line) {
                Ok(value) if emf::is_document(&value) => docs.push(value),
                Ok(value) if value.get("level").is_some() => tracing.push(value),
                _ => {}
            }
        }
        Exchange {
            what: format!("{what} ({}, {request_id})", self.binary),
            binary: self.binary,
            namespace: self.namespace,
            request_id,
            api_request_id: api_request_id.to_owned(),
            status: response["statusCode"].as_u64().expect("a status code") as u16,
            lines,
            docs,
            tracing,
        }
    }

    /// The lines written since `before`, once the request's documents are all in: the request
    /// document is written first, with the others in the same write, so after it has arrived
    /// the rest follows at once; we wait until 100 ms pass without a new line.
    async fn lines_of(&self, what: &str, before: usize, request_id: &str) -> Vec<String> {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let arrived = self.function.logs()[before..].iter().any(|line| {
                serde_json::from_str::<Value>(line).is_ok_and(|doc| {
                    doc["requestId"] == request_id && Kind::of(&doc).is_some_and(Kind::is_request)
                })
            });
            if arrived {
                break;
            }
            assert!(
                Instant::now() < until,
                "{what}: no request document for {request_id} within 10 s; the log since: {:#?}",
                &self.function.logs()[before..]
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mut seen = self.function.logs().len();
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = self.function.logs().len();
            if now == seen {
                break;
            }
            seen = now;
        }
        self.function.logs()[before..].to_vec()
    }
}

/// One request and what the function wrote for it.
struct Exchange {
    what: String,
    binary: &'static str,
    namespace: &'static str,
    request_id: String,
    api_request_id: String,
    status: u16,
    lines: Vec<String>,
    docs: Vec<Value>,
    tracing: Vec<Value>,
}

impl Exchange {
    fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &Value> {
        self.docs.iter().filter(move |d| Kind::of(d) == Some(kind))
    }

    /// The request document (the contract checks there is exactly one).
    fn request(&self) -> &Value {
        self.docs
            .iter()
            .find(|d| Kind::of(d).is_some_and(Kind::is_request))
            .unwrap_or_else(|| panic!("{}: no request document", self.what))
    }

    fn upstream(&self, endpoint: &str) -> &Value {
        self.of_kind(Kind::Upstream)
            .find(|d| d["Endpoint"] == endpoint)
            .unwrap_or_else(|| {
                panic!(
                    "{}: no upstream document for {endpoint}: {:#?}",
                    self.what, self.docs
                )
            })
    }

    fn endpoints(&self) -> BTreeSet<String> {
        self.of_kind(Kind::Upstream)
            .map(|d| text(&d["Endpoint"]))
            .collect()
    }

    /// (endpoint, kind) → UpstreamFailures, from the failure documents.
    fn failures(&self) -> BTreeMap<(String, String), f64> {
        self.of_kind(Kind::Failure)
            .map(|d| {
                (
                    (text(&d["Endpoint"]), text(&d["Kind"])),
                    number(d, "UpstreamFailures"),
                )
            })
            .collect()
    }

    #[track_caller]
    fn assert_status(&self, status: u16) {
        assert_eq!(self.status, status, "{}: {:#?}", self.what, self.lines);
    }

    #[track_caller]
    fn assert_counts(&self, doc: &Value, expected: &[(&str, f64)]) {
        for (name, want) in expected {
            assert_eq!(
                doc[*name].as_f64(),
                Some(*want),
                "{}: {name} should be {want} in {doc}",
                self.what
            );
        }
    }

    /// [`Exchange::assert_counts`] of the request document.
    #[track_caller]
    fn assert_request_counts(&self, expected: &[(&str, f64)]) {
        self.assert_counts(self.request(), expected);
    }

    /// A cold start: the container's first request, which read the secret and exchanged a token.
    #[track_caller]
    fn assert_cold_start(&self) {
        self.assert_request_counts(&[
            ("ColdStart", 1.0),
            ("SecretReads", 1.0),
            ("TokenExchanges", 1.0),
        ]);
    }

    /// A warm container's request, on the secret and token it holds.
    #[track_caller]
    fn assert_warm(&self) {
        self.assert_request_counts(&[
            ("ColdStart", 0.0),
            ("SecretReads", 0.0),
            ("TokenExchanges", 0.0),
        ]);
    }

    /// OmniLab's fetch alone was called: one request's first attempt and its retries,
    /// `attempts` in all, of which `failures` failed as `kind`.
    #[track_caller]
    fn assert_only_fetched(&self, attempts: f64, kind: &str, failures: f64) {
        self.assert_request_counts(&[("Retries", attempts - 1.0), ("UpstreamCalls", attempts)]);
        self.assert_endpoints(&[FETCH]);
        self.assert_upstream(FETCH, attempts, failures);
        self.assert_failures(&[(FETCH, kind, failures)]);
    }

    #[track_caller]
    fn assert_endpoints(&self, expected: &[&str]) {
        let expected: BTreeSet<String> = expected.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            self.endpoints(),
            expected,
            "{}: upstream documents {:#?}",
            self.what,
            self.docs
        );
    }

    #[track_caller]
    fn assert_failures(&self, expected: &[(&str, &str, f64)]) {
        let expected: BTreeMap<(String, String), f64> = expected
            .iter()
            .map(|(e, k, n)| ((e.to_string(), k.to_string()), *n))
            .collect();
        assert_eq!(
            self.failures(),
            expected,
            "{}: failure documents {:#?}",
            self.what,
            self.docs
        );
    }

    /// The upstream document of `endpoint`: its attempts, failures, one duration an attempt.
    #[track_caller]
    fn assert_upstream(&self, endpoint: &str, attempts: f64, failures: f64) {
        let doc = self.upstream(endpoint);
        self.assert_counts(
            doc,
            &[
                ("UpstreamAttempts", attempts),
                ("UpstreamFailures", failures),
            ],
        );
        assert_eq!(
            durations(doc).len() as f64,
            attempts,
            "{}: one UpstreamDuration per attempt: {doc}",
            self.what
        );
    }
}

/// An upstream document's `UpstreamDuration` values, one an attempt (none if it has none).
fn durations(doc: &Value) -> Vec<Value> {
    doc["UpstreamDuration"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

#[track_caller]
fn number(doc: &Value, name: &str) -> f64 {
    doc[name]
        .as_f64()
        .unwrap_or_else(|| panic!("{name} is not a number in {doc}"))
}

/// Checks every exchange against the specification and the contract, and records what it
/// emitted.
struct Checker {
    specification: Specification,
    /// Customer and booking ids: none may appear in any document.
    private: Vec<String>,
    observed: Observed,
    exchanges: usize,
    documents: usize,
}

impl Checker {
    /// Sends `event` to `container` under an API Gateway request id of its own, asserts the
    /// answer's `status` and checks what the function wrote for it; returns the exchange for
    /// the scenario's own assertions.
    async fn exchange(
        &mut self,
        container: &mut Container,
        what: &str,
        event: Event,
        status: u16,
    ) -> Exchange {
        self.exchanges += 1;
        let api_request_id = format!("apigw-{:04}-Zq3xT", self.exchanges);
        let exchange = container.send(what, event, &api_request_id).await;
        exchange.assert_status(status);
        self.check(&exchange);
        exchange
    }

    #[track_caller]
    fn check(&mut self, ex: &Exchange) {
        let what = &ex.what;
        self.documents += ex.docs.len();
        // Metric lines are plain JSON objects, never inside a tracing line (not even escaped).
        for line in &ex.lines {
            let parsed = serde_json::from_str::<Value>(line).ok();
            let emf = parsed.as_ref().is_some_and(emf::is_document);
            assert!(
                emf || !line.contains("_aws"),
                "{what}: an EMF document inside another line: {line}"
            );
            assert!(
                !emf || parsed.as_ref().is_some_and(|v| v.get("level").is_none()),
                "{what}: an EMF document with a log level: {line}"
            );
        }
        assert_eq!(
            ex.docs
                .iter()
                .filter(|d| Kind::of(d).is_some_and(Kind::is_request))
                .count(),
            1,
            "{what}: exactly one request document: {:#?}",
            ex.docs
        );
        let mut upstream = BTreeSet::new();
        let mut failures = BTreeSet::new();
        for doc in &ex.docs {
            self.check_document(ex, doc);
            match Kind::of(doc) {
                Some(Kind::Upstream) => assert!(
                    upstream.insert(text(&doc["Endpoint"])),
                    "{what}: two upstream documents for one endpoint: {:#?}",
                    ex.docs
                ),
                Some(Kind::Failure) => assert!(
                    failures.insert((text(&doc["Endpoint"]), text(&doc["Kind"]))),
                    "{what}: two failure documents for one endpoint and kind: {:#?}",
                    ex.docs
                ),
                _ => {}
            }
            self.observed.record(doc);
        }

        // The request document against the request and the other documents.
        let request = ex.request();
        let route = match ex.binary {
            "list-bookings" => "list-bookings",
            _ => "cancel-booking",
        };
        assert_eq!(request["Route"], route, "{what}: {request}");
        let class = format!("{}xx", ex.status / 100);
        assert_eq!(request["StatusClass"], class.as_str(), "{what}: {request}");
        assert_eq!(number(request, "Requests"), 1.0, "{what}: {request}");
        assert!(
            number(request, "Duration") > 0.0,
            "{what}: Duration > 0: {request}"
        );
        let attempts: f64 = ex
            .of_kind(Kind::Upstream)
            .map(|d| number(d, "UpstreamAttempts"))
            .sum();
        // No token table in these runs: the round trips are the secret reads and the attempts.
        assert_eq!(
            number(request, "UpstreamCalls"),
            number(request, "SecretReads") + attempts,
            "{what}: UpstreamCalls is the secret reads plus the OmniLab attempts: {:#?}",
            ex.docs
        );
        let token_attempts = ex
            .of_kind(Kind::Upstream)
            .find(|d| d["Endpoint"] == TOKEN)
            .map_or(0.0, |d| number(d, "UpstreamAttempts"));
        assert_eq!(
            number(request, "TokenExchanges"),
            token_attempts,
            "{what}: TokenExchanges is the token endpoint's attempts: {:#?}",
            ex.docs
        );
        assert!(number(request, "Retries") <= attempts, "{what}: {request}");
        // Each endpoint's failures are its failure documents' sum, and a failure document
        // belongs to an endpoint that was called.
        for doc in ex.of_kind(Kind::Upstream) {
            let endpoint = text(&doc["Endpoint"]);
            let by_kind: f64 = ex
                .failures()
                .iter()
                .filter(|((e, _), _)| *e == endpoint)
                .map(|(_, n)| n)
                .sum();
            assert_eq!(
                number(doc, "UpstreamFailures"),
                by_kind,
                "{what}: {endpoint}'s failures by kind: {:#?}",
                ex.docs
            );
            let durations = durations(doc);
            assert_eq!(
                durations.len() as f64,
                number(doc, "UpstreamAttempts").min(100.0),
                "{what}: one UpstreamDuration value per attempt: {doc}"
            );
            assert!(
                durations
                    .iter()
                    .all(|d| d.as_f64().is_some_and(|d| d >= 0.0)),
                "{what}: {doc}"
            );
        }
        for (endpoint, _) in ex.failures().keys() {
            assert!(
                upstream.contains(endpoint),
                "{what}: failures of {endpoint} without its upstream document: {:#?}",
                ex.docs
            );
        }

        // Correlation: every log line of the request carries both request ids in its spans.
        assert!(
            ex.tracing
                .iter()
                .any(|l| l["fields"]["message"] == "request"),
            "{what}: no request log line: {:#?}",
            ex.lines
        );
        for line in &ex.tracing {
            let spans = line["spans"].as_array().cloned().unwrap_or_default();
            let carries = |key: &str, id: &str| spans.iter().any(|span| span[key] == id);
            assert!(
                carries("requestId", &ex.request_id) && carries("apiRequestId", &ex.api_request_id),
                "{what}: a log line without requestId {} and apiRequestId {} in its spans: {line}",
                ex.request_id,
                ex.api_request_id
            );
        }
    }

    #[track_caller]
    fn check_document(&self, ex: &Exchange, doc: &Value) {
        let what = &ex.what;
        let problems = self.specification.problems(doc);
        assert!(
            problems.is_empty(),
            "{what}: not a valid EMF document: {problems:#?}\n{doc:#}"
        );
        let directives = doc["_aws"]["CloudWatchMetrics"]
            .as_array()
            .expect("checked");
        let kind = Kind::of(doc)
            .unwrap_or_else(|| panic!("{what}: dimension sets of no document kind: {doc}"));
        let layout: Vec<(Value, Vec<String>)> = directives
            .iter()
            .map(|directive| {
                assert_eq!(directive["Namespace"], ex.namespace, "{what}: {doc}");
                let names = directive["Metrics"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|m| text(&m["Name"]))
                    .collect();
                (directive["Dimensions"].clone(), names)
            })
            .collect();
        let expected_layout: Vec<(Value, Vec<String>)> = kind
            .directives()
            .into_iter()
            .map(|(sets, names)| (sets, names.into_iter().map(String::from).collect()))
            .collect();
        assert_eq!(
            layout, expected_layout,
            "{what}: {kind:?} document's directives: {doc}"
        );
        let metrics: Vec<(String, String)> = directives
            .iter()
            .flat_map(|directive| directive["Metrics"].as_array().cloned().unwrap_or_default())
            .map(|m| (text(&m["Name"]), text(&m["Unit"])))
            .collect();
        let expected: Vec<(String, String)> = kind
            .metrics()
            .iter()
            .map(|(n, u)| (n.to_string(), u.to_string()))
            .collect();
        assert_eq!(
            metrics, expected,
            "{what}: {kind:?} document's metrics: {doc}"
        );

        // Both request ids; besides them only `_aws`, the dimensions and the metrics.
        assert_eq!(doc["requestId"], ex.request_id.as_str(), "{what}: {doc}");
        assert_eq!(
            doc["apiRequestId"],
            ex.api_request_id.as_str(),
            "{what}: {doc}"
        );
        let dimensions: BTreeSet<String> = kind
            .dimension_sets()
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|set| set.as_array().cloned().unwrap_or_default())
            .map(|name| text(&name))
            .collect();
        let mut members: BTreeSet<String> = dimensions.clone();
        members.extend(kind.metrics().iter().map(|(n, _)| n.to_string()));
        members.extend(["_aws", "requestId", "apiRequestId"].map(String::from));
        let found: BTreeSet<String> = doc.as_object().expect("checked").keys().cloned().collect();
        assert_eq!(found, members, "{what}: the document's members: {doc}");
        for name in &dimensions {
            let value = doc[name.as_str()].as_str().unwrap_or_default();
            assert!(
                allowed_values(name).contains(&value),
                "{what}: {name}={value} is not one of the contract's {:?}: {doc}",
                allowed_values(name)
            );
        }
        let text = doc.to_string();
        for private in &self.private {
            assert!(
                !text
                    .to_ascii_lowercase()
                    .contains(&private.to_ascii_lowercase()),
                "{what}: a document contains {private}: {doc}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The scenarios, and the template read against what they emitted.

fn list(query: &str) -> Event {
    list_event(DEMO_CUSTOMER).query(query)
}

fn cancel(booking: &str) -> Event {
    cancel_event(DEMO_CUSTOMER, booking)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binaries_metrics_follow_the_specification_the_contract_and_the_template() {
    let started = Instant::now();
    let world = World::demo().await;
    let theirs: Vec<String> = world
        .sandbox
        .data()
        .bookings
        .iter()
        .filter(|b| b.contact == OTHER_CUSTOMER)
        .map(|b| b.booking.clone())
        .collect();
    assert!(!theirs.is_empty());
    let unknown = "00000000-0000-4000-8000-000000000000";
    let mut private = vec![
        DEMO_CUSTOMER.to_owned(),
        OTHER_CUSTOMER.to_owned(),
        unknown.to_owned(),
    ];
    private.extend(
        world
            .sandbox
            .data()
            .bookings
            .iter()
            .map(|b| b.booking.clone()),
    );
    let mut checker = Checker {
        specification: Specification::load(),
        private,
        observed: Observed::default(),
        exchanges: 0,
        documents: 0,
    };

    // --- list-bookings, the namespace by default -----------------------------------------
    let env = function_env(&world);
    let mut list_fn = Container::start("list-bookings", DEFAULT_NAMESPACE, &env).await;

    // A cold start with a token exchange.
    let cold = checker
        .exchange(&mut list_fn, "cold list", list(""), 200)
        .await;
    cold.assert_cold_start();
    cold.assert_request_counts(&[
        ("Requests", 1.0),
        ("TokenExchangeFailures", 0.0),
        ("UpstreamCalls", 3.0),
        ("Retries", 0.0),
        ("Cancellations", 0.0),
    ]);
    assert_eq!(cold.request()["StatusClass"], "2xx");
    // $LATEST, as a local run or `sam local`: never deployed gradually, not counted by version.
    assert!(cold.request().get("Version").is_none(), "{:#?}", cold.docs);
    cold.assert_endpoints(&[TOKEN, FETCH]);
    cold.assert_upstream(TOKEN, 1.0, 0.0);
    cold.assert_upstream(FETCH, 1.0, 0.0);
    cold.assert_failures(&[]);

    // The same container again: warm, on the cached secret and token.
    let warm = checker
        .exchange(&mut list_fn, "warm list", list(""), 200)
        .await;
    warm.assert_warm();
    warm.assert_request_counts(&[("UpstreamCalls", 1.0), ("Retries", 0.0)]);
    warm.assert_endpoints(&[FETCH]);
    warm.assert_upstream(FETCH, 1.0, 0.0);
    warm.assert_failures(&[]);

    // A bad query parameter: refused before anything goes upstream.
    let bad = checker
        .exchange(&mut list_fn, "400 list", list("page_size=lots"), 400)
        .await;
    assert_eq!(bad.docs.len(), 1, "one document only: {:#?}", bad.docs);
    assert_eq!(bad.request()["StatusClass"], "4xx");
    bad.assert_request_counts(&[("UpstreamCalls", 0.0), ("ColdStart", 0.0), ("Retries", 0.0)]);

    // OmniLab's fetch answers 500 three times: a 502 after two retries.
    for _ in 0..3 {
        world.sandbox.inject(Endpoint::Fetch, Fault::Status(500));
    }
    let failed = checker
        .exchange(&mut list_fn, "502 list", list(""), 502)
        .await;
    assert_eq!(failed.request()["StatusClass"], "5xx");
    failed.assert_request_counts(&[("TokenExchanges", 0.0)]);
    failed.assert_only_fetched(3.0, "5xx", 3.0);

    // --- cancel-booking, a namespace of its own ------------------------------------------
    let mut env = function_env(&world);
    env.push(("METRICS_NAMESPACE", CANCEL_NAMESPACE.into()));
    // Served by a published version, as through the `live` alias.
    env.push(("AWS_LAMBDA_FUNCTION_VERSION", CANCEL_VERSION.into()));
    let mut cancel_fn = Container::start("cancel-booking", CANCEL_NAMESPACE, &env).await;

    // Another customer's booking: 404, nothing cancelled.
    let foreign = checker
        .exchange(
            &mut cancel_fn,
            "404 cancel of another's booking",
            cancel(&theirs[0]),
            404,
        )
        .await;
    assert_eq!(foreign.request()["Route"], "cancel-booking");
    assert_eq!(foreign.request()["StatusClass"], "4xx");
    assert_eq!(foreign.request()["Version"], CANCEL_VERSION);
    foreign.assert_cold_start();
    foreign.assert_request_counts(&[("Cancellations", 0.0)]);
    foreign.assert_endpoints(&[TOKEN, FETCH]);
    foreign.assert_failures(&[]);

    // A booking that does not exist: the same 404.
    let missing = checker
        .exchange(
            &mut cancel_fn,
            "404 cancel of no booking",
            cancel(unknown),
            404,
        )
        .await;
    assert_eq!(missing.request()["StatusClass"], "4xx");
    missing.assert_request_counts(&[("Cancellations", 0.0), ("ColdStart", 0.0)]);
    missing.assert_endpoints(&[FETCH]);
    assert_eq!(world.sandbox.counters().cancels, 0);

    // A cancel of the caller's own booking.
    let done = checker
        .exchange(&mut cancel_fn, "200 cancel", cancel(&booking_uuid(1)), 200)
        .await;
    assert_eq!(done.request()["StatusClass"], "2xx");
    done.assert_request_counts(&[("Cancellations", 1.0), ("Retries", 0.0)]);
    done.assert_endpoints(&[FETCH, CANCEL]);
    done.assert_upstream(CANCEL, 1.0, 0.0);
    done.assert_failures(&[]);

    // OmniLab's cancel answers 500: never repeated, a 502.
    world.sandbox.inject(Endpoint::Cancel, Fault::Status(500));
    let refused = checker
        .exchange(&mut cancel_fn, "502 cancel", cancel(&booking_uuid(2)), 502)
        .await;
    assert_eq!(refused.request()["StatusClass"], "5xx");
    refused.assert_request_counts(&[("Cancellations", 0.0), ("Retries", 0.0)]);
    refused.assert_upstream(CANCEL, 1.0, 1.0);
    refused.assert_failures(&[(CANCEL, "5xx", 1.0)]);

    // --- list-bookings with short attempts: every other failure kind ---------------------
    let mut env = function_env(&world);
    env.push(("OMNILAB_TIMEOUT_MS", "1000".into()));
    env.push(("AWS_LAMBDA_FUNCTION_VERSION", FAULTS_VERSION.into()));
    let mut faults_fn = Container::start("list-bookings", DEFAULT_NAMESPACE, &env).await;

    // The first token exchange answers 503 and is retried.
    world.sandbox.inject(Endpoint::Token, Fault::Status(503));
    let token = checker
        .exchange(&mut faults_fn, "token 503 then 200", list(""), 200)
        .await;
    token.assert_request_counts(&[
        ("ColdStart", 1.0),
        ("TokenExchanges", 2.0),
        ("TokenExchangeFailures", 0.0),
        ("Retries", 1.0),
    ]);
    token.assert_upstream(TOKEN, 2.0, 1.0);
    token.assert_failures(&[(TOKEN, "5xx", 1.0)]);

    // Failures that a retry, or a fresh token, gets over.
    for (what, fault, kind) in [
        (
            "fetch 429 then 200",
            Fault::RateLimited { retry_after: None },
            "429",
        ),
        ("fetch dropped then 200", Fault::Drop, "transport"),
    ] {
        world.sandbox.inject(Endpoint::Fetch, fault);
        let ex = checker.exchange(&mut faults_fn, what, list(""), 200).await;
        ex.assert_only_fetched(2.0, kind, 1.0);
    }
    world.sandbox.inject(Endpoint::Fetch, Fault::Unauthorized);
    let refreshed = checker
        .exchange(&mut faults_fn, "fetch 401, a new token, 200", list(""), 200)
        .await;
    refreshed.assert_request_counts(&[("TokenExchanges", 1.0), ("TokenExchangeFailures", 0.0)]);
    refreshed.assert_endpoints(&[TOKEN, FETCH]);
    refreshed.assert_upstream(TOKEN, 1.0, 0.0);
    refreshed.assert_upstream(FETCH, 2.0, 1.0);
    refreshed.assert_failures(&[(FETCH, "401", 1.0)]);

    // Failures that end the request.
    for (what, fault, kind, status) in [
        ("fetch 400", Fault::Status(400), "4xx", 502),
        ("fetch malformed", Fault::Malformed, "malformed", 502),
        (
            "fetch timeout",
            Fault::Slow(Duration::from_millis(2500)),
            "timeout",
            504,
        ),
    ] {
        world.sandbox.inject(Endpoint::Fetch, fault);
        let ex = checker
            .exchange(&mut faults_fn, what, list(""), status)
            .await;
        assert_eq!(ex.request()["StatusClass"], "5xx");
        assert_eq!(ex.request()["Version"], FAULTS_VERSION);
        ex.assert_only_fetched(1.0, kind, 1.0);
    }

    // --- the template, against what was emitted ------------------------------------------
    let template = read_template();
    let metrics = template_metrics(&template, DEFAULT_NAMESPACE);
    let problems = mismatches(&metrics, &checker.observed);
    assert!(
        problems.is_empty(),
        "template.yaml reads metrics the functions do not emit ({} problems):\n- {}\n\nemitted: {:#?}",
        problems.len(),
        problems.join("\n- "),
        checker.observed
    );
    let ours = |source: Source| {
        metrics
            .iter()
            .filter(|m| m.source == source && m.namespace == Namespace::Parameter)
            .count()
    };
    assert!(
        ours(Source::Alarm) > 0 && ours(Source::Dashboard) > 0,
        "no alarm or no dashboard metric in the MetricsNamespace namespace: {metrics:#?}"
    );
    // ... and the check is not blind: a renamed metric, dimension or value is caught, and so
    // is a dimension the functions never add.
    let mutations: [fn(&mut TemplateMetric); 4] = [
        |m| m.metric.push('s'),
        |m| m.dimensions[0].0.push('s'),
        |m| m.dimensions[0].1.push('s'),
        |m| m.dimensions.push(("Stage".into(), "prod".into())),
    ];
    for mutate in mutations {
        for source in [Source::Alarm, Source::Dashboard] {
            let mut changed = metrics.clone();
            let one = changed
                .iter_mut()
                .find(|m| {
                    m.source == source
                        && m.namespace == Namespace::Parameter
                        && !m.dimensions.is_empty()
                })
                .expect("counted above");
            mutate(one);
            let name = one.name.clone();
            let problems = mismatches(&changed, &checker.observed);
            assert!(
                problems.len() == 1 && problems[0].contains(&name),
                "a changed {name} went unnoticed: {problems:#?}"
            );
        }
    }

    eprintln!(
        "{} requests, {} documents, {} (metric, dimension set) pairs emitted, {} template metrics checked, in {:?}",
        checker.exchanges,
        checker.documents,
        checker.observed.pairs(),
        metrics.len(),
        started.elapsed()
    );
    drop((list_fn, cancel_fn, faults_fn));
}

// ---------------------------------------------------------------------------------------------
// The checks themselves, on documents made up here: no binary, no emulator.

#[test]
fn the_specification_check_refuses_what_cloudwatch_would_refuse() {
    let specification = Specification::load();
    let now = emf::now_ms();
    let good = json!({
        "_aws": {"Timestamp": now, "CloudWatchMetrics": [{
            "Namespace": "Test", "Dimensions": [["Route"]],
            "Metrics": [{"Name": "Requests", "Unit": "Count"}, {"Name": "Times", "Unit": "Milliseconds"}],
        }]},
        "Route": "list-bookings", "Requests": 1, "Times": [1.5, 2.0],
    });
    assert_eq!(specification.problems(&good), Vec::<String>::new());
    let broken = |change: fn(&mut Value)| {
        let mut doc = good.clone();
        change(&mut doc);
        specification.problems(&doc)
    };
    // The schema's own rules.
    let schema_breaks: [fn(&mut Value); 7] = [
        |d| drop(d["_aws"].as_object_mut().unwrap().remove("Timestamp")),
        |d| d["_aws"]["Timestamp"] = json!("now"),
        |d| d["_aws"]["CloudWatchMetrics"][0]["Namespace"] = json!(""),
        |d| d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = json!([]),
        |d| {
            let names: Vec<String> = (0..31).map(|i| format!("D{i}")).collect();
            d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = json!([names]);
        },
        |d| d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = json!("Requests"),
        |d| {
            let metric = &mut d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0];
            drop(metric.as_object_mut().unwrap().remove("Name"));
        },
    ];
    for (i, change) in schema_breaks.into_iter().enumerate() {
        assert!(
            !broken(change).is_empty(),
            "schema rule {i} was not applied"
        );
    }
    // The rules beyond it: one problem each.
    let rule_breaks: [fn(&mut Value); 7] = [
        |d| drop(d.as_object_mut().unwrap().remove("Route")),
        |d| d["Route"] = json!(7),
        |d| drop(d.as_object_mut().unwrap().remove("Requests")),
        |d| d["Requests"] = json!("1"),
        |d| d["Times"] = json!((0..101).collect::<Vec<_>>()),
        |d| d["Times"] = json!([1, "2"]),
        |d| d["_aws"]["Timestamp"] = json!(emf::now_ms() - 120_000),
    ];
    for (i, change) in rule_breaks.into_iter().enumerate() {
        let problems = broken(change);
        assert_eq!(problems.len(), 1, "rule {i}: {problems:?}");
    }
}

#[test]
fn the_dashboard_rows_are_read_as_cloudwatch_reads_them() {
    let body: Yaml = serde_norway::from_str(
        r#"!Sub
          - |
            {"widgets": [
              {"type": "text", "properties": {"markdown": "${MetricsNamespace} ${!Literal}"}},
              {"type": "metric", "properties": {"title": "T", "metrics": [
                ["${MetricsNamespace}", "UpstreamFailures", "Endpoint", "token", "Kind", "5xx", {"label": "a"}],
                [".", ".", ".", ".", ".", "429"],
                ["...", "401"],
                [{"expression": "m1 * 2"}],
                ["AWS/Lambda", "Errors", "FunctionName", "${Fn}"],
                ["${Ns}", "Requests", "Route", "list-bookings"]
              ]}}
            ]}
          - Ns: !Ref MetricsNamespace
        "#,
    )
    .expect("YAML");
    let metrics = dashboard_metrics("D", &body);
    let rows: Vec<(Namespace, String, Dimensions)> = metrics
        .iter()
        .map(|m| (m.namespace.clone(), m.metric.clone(), m.dimensions.clone()))
        .collect();
    let dims = |pairs: &[(&str, &str)]| -> Dimensions {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(
        rows,
        vec![
            (
                Namespace::Parameter,
                "UpstreamFailures".into(),
                dims(&[("Endpoint", "token"), ("Kind", "5xx")])
            ),
            (
                Namespace::Parameter,
                "UpstreamFailures".into(),
                dims(&[("Endpoint", "token"), ("Kind", "429")])
            ),
            (
                Namespace::Parameter,
                "UpstreamFailures".into(),
                dims(&[("Endpoint", "token"), ("Kind", "401")])
            ),
            (
                Namespace::Literal("AWS/Lambda".into()),
                "Errors".into(),
                dims(&[("FunctionName", "<Fn>")])
            ),
            (
                Namespace::Parameter,
                "Requests".into(),
                dims(&[("Route", "list-bookings")])
            ),
        ]
    );
    assert!(
        metrics[0].name.contains("widget 1 \"T\", metrics[0]"),
        "{}",
        metrics[0].name
    );
}
