//! The whole request path under libFuzzer: API Gateway HTTP API (payload 2.0) event JSON ->
//! `bookings::lambda::request_of` (the runtime loop's own reading) -> `App::handle`, against
//! the sandbox OmniLab on loopback.
//!
//! Input layout: the first byte picks the route (bit 0: list or cancel) and the mode (bit 1):
//! - raw mode: the rest is the event JSON itself (the seeds in `fuzz/corpus/handle` are of this
//!   kind, starting with `0` or `1`, so they are readable);
//! - structured mode: the rest drives `arbitrary` to build an event whose method, raw path,
//!   raw query string, path parameters, claims, host, body and stage vary, mostly in shapes
//!   our validation must look at closely (known parameter names, demo booking ids, claims).
//!
//! What is checked on every input (every one is a request: what cannot be read is marked so):
//! - `App::handle` does not panic (libfuzzer-sys turns any panic into a crash) and answers in
//!   bounded time (the script runs libFuzzer with `-timeout`);
//! - the answer is either 200 `application/json` or an RFC 9457 `application/problem+json`
//!   document whose `status` is the HTTP status (a 400 names its field, a 401 asks for Bearer);
//!   an input that is no event, or whose path or query no URI can hold, is a 400
//!   `unreadable-request`;
//! - a rejection (400, 401, 405, and a 404 for a request that names no valid booking) makes no
//!   upstream call: the sandbox's counters and the app's own stats do not move;
//! - with a healthy sandbox, no 5xx: one would mean we forwarded something OmniLab refuses;
//! - every 200 asked upstream, and every booking in it belongs to the signed-in customer (the
//!   ownership check).
//!
//! lambda_http's own conversion panicked on some hostile events (a raw space or quote in the
//! query, a scheme header that is no scheme, an unparsable host); the grammar keeps making them
//! ([`Text::Hostile`], the `x-forwarded-proto` and host shapes), and they must be answered.
#![no_main]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use bookings::config::UpstreamPolicy;
use bookings::omnilab::{Credentials, CredentialsSource};
use bookings::api::Unreadable;
use bookings::{App, Config, Route};
use lambda_http::lambda_runtime::Context;
use lambda_http::{Body, Request, Response};
use libfuzzer_sys::fuzz_target;
use sandbox::gateway;
use sandbox::{DEMO_CUSTOMER, OTHER_CUSTOMER, Sandbox, SandboxData, booking_uuid};
use serde_json::{Value, json};

struct Harness {
    runtime: tokio::runtime::Runtime,
    sandbox: Sandbox,
    app: App,
}

static HARNESS: OnceLock<Harness> = OnceLock::new();

/// One runtime, one sandbox (demo data, any free loopback port) and one app per process.
fn harness() -> &'static Harness {
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let start = "2024-12-09T00:00:00Z".parse().expect("a timestamp");
        let sandbox = Sandbox::new(SandboxData::demo(start));
        let addr = runtime
            .block_on(sandbox.serve("127.0.0.1:0".parse().expect("an address")))
            .expect("the sandbox binds a loopback port");
        let credentials = Sandbox::default_credentials();
        let config = Config {
            api_base: format!("http://{addr}"),
            credentials: CredentialsSource::Static(Credentials {
                client_id: credentials.client_id,
                client_secret: credentials.client_secret,
                audience: credentials.audience,
            }),
            external_id_claim: "sub".into(),
            token_table: None,
            metrics: None,
            upstream: UpstreamPolicy {
                attempt_timeout: Duration::from_secs(2),
                base_backoff: Duration::from_millis(5),
                default_budget: Duration::from_secs(5),
                ..UpstreamPolicy::default()
            },
        };
        let app = {
            let _entered = runtime.enter();
            App::new(config)
        };
        Harness {
            runtime,
            sandbox,
            app,
        }
    })
}

/// The event as the runtime loop reads it: always a request, counted by what could be read.
fn convert(json: &str) -> Request {
    let request = bookings::lambda::request_of(json.as_bytes(), Context::default());
    match request.extensions().get::<Unreadable>() {
        Some(Unreadable::Event) => tally(Tally::NotAnEvent),
        Some(_) => tally(Tally::Unreadable),
        None => {}
    }
    request
}

/// `HANDLE_FUZZ_STATS` is set (read once: this runs on every input).
fn stats_wanted() -> bool {
    static WANTED: OnceLock<bool> = OnceLock::new();
    *WANTED.get_or_init(|| std::env::var_os("HANDLE_FUZZ_STATS").is_some())
}

/// `HANDLE_FUZZ_PRINT` is set: print each input as raw-mode event JSON, to save a crash input as
/// a regression (tests/e2e/oversized.rs replays raw-mode inputs only).
fn print_wanted() -> bool {
    static WANTED: OnceLock<bool> = OnceLock::new();
    *WANTED.get_or_init(|| std::env::var_os("HANDLE_FUZZ_PRINT").is_some())
}

/// What the inputs came to, printed every 100,000 requests when `HANDLE_FUZZ_STATS` is set: to
/// see how many reach the app, how many get past validation, how many go upstream.
#[derive(Clone, Copy)]
enum Tally {
    NotAnEvent,
    Unreadable,
    Ok,
    Rejected,
    NotFoundAfterUpstream,
    Upstream,
}

static TALLIES: [AtomicU64; 6] = [const { AtomicU64::new(0) }; 6];

fn tally(what: Tally) {
    TALLIES[what as usize].fetch_add(1, Ordering::Relaxed);
    if matches!(
        what,
        Tally::Ok | Tally::Rejected | Tally::NotFoundAfterUpstream
    ) && stats_wanted()
    {
        let handled: u64 = TALLIES[2..5]
            .iter()
            .map(|t| t.load(Ordering::Relaxed))
            .sum();
        if handled.is_multiple_of(100_000) {
            let [not_event, unreadable, ok, rejected, not_found, upstream] =
                TALLIES.each_ref().map(|t| t.load(Ordering::Relaxed));
            eprintln!(
                "handle: {handled} requests: {ok} ok, {rejected} rejected, {not_found} 404 after \
                 the ownership check; {upstream} went upstream; of the rejected, {not_event} \
                 were no event and {unreadable} had a path or query no URI can hold"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let route = if selector & 1 == 0 {
        Route::ListBookings
    } else {
        Route::CancelBooking
    };
    let json = if selector & 2 == 0 {
        match std::str::from_utf8(rest) {
            Ok(text) => text.to_owned(),
            Err(_) => return,
        }
    } else {
        match Event::arbitrary_take_rest(Unstructured::new(rest)) {
            Ok(event) => event.to_json(route).to_string(),
            Err(_) => return,
        }
    };
    if print_wanted() {
        let raw = if route == Route::ListBookings {
            '0'
        } else {
            '1'
        };
        eprintln!("handle: as a raw-mode input: {raw}{json}");
    }
    check(route, &json, convert(&json));
});

/// Whether the event names a well-formed booking id, read from the event as sent rather than
/// through the app: API Gateway's `{booking}` path parameter, else the raw path's segment
/// before `/cancel` (what local emulators send). `true` when that cannot be told (see below), so
/// that a 404 after an upstream call is not taken for a rejection that called upstream.
fn names_a_booking(event: &str) -> bool {
    // lambda_http accepted this event, but a `Value` may not hold it: a number beyond f64's range
    // in a field lambda_http skips (`"timPOSTch":1733e45600000`) fails the whole parse. Found by
    // the fuzzer: with a valid booking id and a `sub` that does not own it, the app's correct 404
    // after the ownership check was reported as "a 404 rejection called upstream".
    let Ok(event) = serde_json::from_str::<Value>(event) else {
        return true;
    };
    let from_path = || {
        let path = event["rawPath"].as_str()?.trim_end_matches('/');
        let (_, id) = path.strip_suffix("/cancel")?.rsplit_once("/bookings/")?;
        (!id.contains('/')).then_some(id)
    };
    event["pathParameters"]["booking"]
        .as_str()
        .or_else(from_path)
        .is_some_and(|id| bookings::booking_id::BookingId::parse(id).is_ok())
}

/// Sends one request through the app and checks the answer against the oracles above.
fn check(route: Route, event: &str, request: Request) {
    let harness = harness();
    // The same readings the app makes: the `sub` claim, and `{booking}` from the path.
    let customer = bookings::identity::customer(&request, "sub")
        .ok()
        .map(|id| id.as_str().to_owned());
    let names_a_booking = names_a_booking(event);
    let counters_before = harness.sandbox.counters();
    let stats_before = harness.app.stats();
    let response = harness.runtime.block_on(harness.app.handle(route, request));
    let upstream_moved =
        harness.sandbox.counters() != counters_before || harness.app.stats() != stats_before;
    let answer = Answer::read(&response);
    let status = answer.status;

    match status {
        200 => answer.assert_ok(route, customer.as_deref(), &harness.sandbox),
        400 | 401 | 404 | 405 => answer.assert_problem(),
        _ => panic!(
            "status {status} with a healthy sandbox (we forwarded something OmniLab refuses?): {}",
            answer.raw
        ),
    }
    let rejected = matches!(status, 400 | 401 | 405) || (status == 404 && !names_a_booking);
    assert!(
        !(rejected && upstream_moved),
        "a {status} rejection called upstream: {}",
        answer.raw
    );
    if status == 404 {
        assert_eq!(route, Route::CancelBooking, "404 on the list route");
    }
    if status == 200 {
        // Nothing is answered from a cache: every 200 asked OmniLab.
        assert!(
            upstream_moved,
            "a 200 without an upstream call: {}",
            answer.raw
        );
    }
    if upstream_moved {
        tally(Tally::Upstream);
    }
    tally(match status {
        200 => Tally::Ok,
        404 if !rejected => Tally::NotFoundAfterUpstream,
        _ => Tally::Rejected,
    });
}

struct Answer {
    status: u16,
    content_type: String,
    www_authenticate: Option<String>,
    body: Value,
    raw: String,
}

impl Answer {
    fn read(response: &Response<Body>) -> Self {
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let raw = match response.body() {
            Body::Text(text) => text.clone(),
            other => panic!("a non-text body: {other:?}"),
        };
        assert_eq!(
            header("cache-control").as_deref(),
            Some("no-store"),
            "every answer is personal"
        );
        Self {
            status: response.status().as_u16(),
            content_type: header("content-type").unwrap_or_default(),
            www_authenticate: header("www-authenticate"),
            body: serde_json::from_str(&raw)
                .unwrap_or_else(|error| panic!("the body is not JSON ({error}): {raw:?}")),
            raw,
        }
    }

    fn assert_problem(&self) {
        let body = &self.body;
        assert_eq!(
            self.content_type, "application/problem+json",
            "{}",
            self.raw
        );
        assert_eq!(body["status"], self.status, "{}", self.raw);
        assert!(
            body["type"].as_str().is_some_and(|t| t.starts_with("tag:")),
            "{}",
            self.raw
        );
        assert!(
            body["title"].is_string() && body["detail"].is_string(),
            "{}",
            self.raw
        );
        match self.status {
            400 => {
                let field = body["field"].as_str().expect("a 400 names its field");
                assert!(field.chars().count() <= 65, "an echoed field stays short");
                assert!(
                    body["detail"].as_str().is_some_and(|d| d.contains(field)),
                    "{}",
                    self.raw
                );
            }
            401 => assert_eq!(self.www_authenticate.as_deref(), Some("Bearer")),
            _ => {}
        }
    }

    fn assert_ok(&self, route: Route, customer: Option<&str>, sandbox: &Sandbox) {
        assert_eq!(self.content_type, "application/json", "{}", self.raw);
        let customer = customer.expect("a 200 without a sub claim");
        let owner_of = |id: &str| {
            sandbox
                .data()
                .bookings
                .into_iter()
                .find(|b| b.booking.eq_ignore_ascii_case(id))
                .map(|b| b.contact)
        };
        let ids: Vec<&str> = match route {
            Route::ListBookings => {
                let bookings = self.body["bookings"].as_array().expect("a bookings array");
                assert!(self.body["groups"].is_array(), "{}", self.raw);
                for booking in bookings {
                    assert!(
                        booking["activity"]["title"].is_string(),
                        "titles are strings: {}",
                        self.raw
                    );
                }
                bookings
                    .iter()
                    .map(|b| b["booking"].as_str().expect("a booking id"))
                    .collect()
            }
            Route::CancelBooking => {
                assert_eq!(self.body["booking_status"], "CANCELLED", "{}", self.raw);
                vec![
                    self.body["booking"]
                        .as_str()
                        .expect("the cancelled booking"),
                ]
            }
        };
        for id in ids {
            assert_eq!(
                owner_of(id).as_deref(),
                Some(customer),
                "booking {id} answered to someone else"
            );
        }
    }
}

// ---- The structured event ------------------------------------------------------------------

#[derive(Arbitrary, Debug)]
struct Event {
    method: MethodShape,
    path: PathShape,
    query: Vec<QueryPart>,
    /// Appended to the built query as is (percent-encoded or not).
    query_tail: Option<Text>,
    path_parameter: Option<BookingShape>,
    claims: Claims,
    host: HostShape,
    /// lambda_http built an absolute URI from it: `ht tp` made it panic.
    forwarded_proto: Option<Text>,
    stage: Option<String>,
    /// Our routes read no body: plain text only, since a body that is not base64 when the event
    /// says it is only makes lambda_http panic, which the raw mode already finds.
    body: Option<String>,
    cookies: Option<Vec<String>>,
}

/// Mostly well-formed: an arbitrary host header was an IDNA error that lambda_http panicked on.
#[derive(Arbitrary, Debug)]
enum HostShape {
    None,
    Api,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Text {
    Encoded(String),
    Verbatim(String),
    /// A text with a byte no URI may hold, where it was: what made lambda_http panic.
    Hostile(String, Forbidden, u8),
}

/// Bytes that a browser percent-encodes and a URI may not hold raw.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Forbidden {
    Quote,
    Less,
    Greater,
    Space,
    Delete,
    Newline,
}

impl Text {
    fn render(&self) -> String {
        match self {
            Self::Encoded(text) => encode(text),
            Self::Verbatim(text) => text.clone(),
            Self::Hostile(text, byte, at) => {
                let mut text = encode(text);
                let at = usize::from(*at).min(text.len());
                let byte = match byte {
                    Forbidden::Quote => '"',
                    Forbidden::Less => '<',
                    Forbidden::Greater => '>',
                    Forbidden::Space => ' ',
                    Forbidden::Delete => '\u{7f}',
                    Forbidden::Newline => '\n',
                };
                // `encode` writes ASCII only: every index is a char boundary.
                text.insert(at, byte);
                text
            }
        }
    }
}

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[derive(Arbitrary, Debug)]
enum MethodShape {
    Route,
    Get,
    Post,
    Put,
    Delete,
    Options,
    Head,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum PathShape {
    /// `/bookings`, or `/bookings/{booking}/cancel` on the cancel route.
    Route(BookingShape),
    /// `/bookings/{booking}/cancel` on either route.
    Cancel(BookingShape, bool),
    Raw(String),
}

#[derive(Arbitrary, Debug)]
enum BookingShape {
    /// One of the demo bookings: 1..=12 are the demo customer's, 13 and 14 another's.
    Demo(u8),
    DemoUpper(u8),
    Text(Text),
}

impl BookingShape {
    fn render(&self) -> String {
        match self {
            Self::Demo(n) => booking_uuid(1 + u32::from(*n) % 16),
            Self::DemoUpper(n) => booking_uuid(1 + u32::from(*n) % 16).to_ascii_uppercase(),
            Self::Text(text) => text.render(),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct QueryPart {
    name: Name,
    value: QueryValue,
}

#[derive(Arbitrary, Debug)]
enum Name {
    PublicKeys,
    Interactions,
    From,
    To,
    BookingStatus,
    Language,
    PageSize,
    PageNumber,
    All,
    ExternalId,
    Other(Text),
}

impl Name {
    fn render(&self) -> String {
        match self {
            Self::PublicKeys => "public_keys".into(),
            Self::Interactions => "interactions".into(),
            Self::From => "slot_date_range.from".into(),
            Self::To => "slot_date_range.to".into(),
            Self::BookingStatus => "booking_status".into(),
            Self::Language => "language".into(),
            Self::PageSize => "page_size".into(),
            Self::PageNumber => "page_number".into(),
            Self::All => "all".into(),
            Self::ExternalId => "external_id".into(),
            Self::Other(text) => text.render(),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum QueryValue {
    Statuses(Vec<Status>),
    PublicKey(bool),
    Interaction(bool),
    /// Seconds from the demo start, with an offset in minutes.
    Time(i32, i16),
    Number(i64),
    Bool(bool),
    Language(Text),
    Customer(bool),
    Text(Text),
    Empty,
}

#[derive(Arbitrary, Debug)]
enum Status {
    Confirmed,
    Waitlist,
    Cancelled,
    Lower,
    Other(String),
}

impl QueryValue {
    fn render(&self) -> String {
        match self {
            Self::Statuses(statuses) => {
                let names: Vec<String> = statuses
                    .iter()
                    .map(|s| match s {
                        Status::Confirmed => "CONFIRMED".into(),
                        Status::Waitlist => "WAITLIST".into(),
                        Status::Cancelled => "CANCELLED".into(),
                        Status::Lower => "confirmed".into(),
                        Status::Other(text) => encode(text),
                    })
                    .collect();
                names.join(",")
            }
            Self::PublicKey(winter) => if *winter {
                "winter-festival"
            } else {
                "spring-fair"
            }
            .into(),
            Self::Interaction(winter) => if *winter {
                "interactions/0f8d6f4e-3b2a-4c1d-9e8f-7a6b5c4d3e2f"
            } else {
                "interactions/1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
            }
            .into(),
            Self::Time(seconds, offset_minutes) => {
                let instant = 1_733_702_400_i64 + i64::from(*seconds);
                let offset = i64::from(*offset_minutes) % (26 * 60);
                let sign = if offset < 0 { '-' } else { '+' };
                let (h, m) = (offset.abs() / 60, offset.abs() % 60);
                let local = jiff::Timestamp::from_second(instant + offset * 60)
                    .unwrap_or_default()
                    .to_string();
                let local = local.trim_end_matches('Z');
                encode(&format!("{local}{sign}{h:02}:{m:02}"))
            }
            Self::Number(n) => n.to_string(),
            Self::Bool(b) => b.to_string(),
            Self::Language(text) => text.render(),
            Self::Customer(demo) => if *demo { DEMO_CUSTOMER } else { OTHER_CUSTOMER }.into(),
            Self::Text(text) => text.render(),
            Self::Empty => String::new(),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Claims {
    None,
    /// No authorizer section but an empty `jwt`.
    EmptyJwt,
    Demo,
    Other,
    Sub(String),
    Many(Vec<(String, String)>),
}

impl Event {
    fn to_json(&self, route: Route) -> Value {
        let route_method = match route {
            Route::ListBookings => "GET",
            Route::CancelBooking => "POST",
        };
        let method = match &self.method {
            MethodShape::Route => route_method.to_owned(),
            MethodShape::Get => "GET".into(),
            MethodShape::Post => "POST".into(),
            MethodShape::Put => "PUT".into(),
            MethodShape::Delete => "DELETE".into(),
            MethodShape::Options => "OPTIONS".into(),
            MethodShape::Head => "HEAD".into(),
            MethodShape::Other(text) => text.clone(),
        };
        let path = match (&self.path, route) {
            (PathShape::Route(_), Route::ListBookings) => "/bookings".to_owned(),
            (PathShape::Route(booking), Route::CancelBooking)
            | (PathShape::Cancel(booking, false), _) => {
                format!("/bookings/{}/cancel", booking.render())
            }
            (PathShape::Cancel(booking, true), _) => {
                format!("/bookings/{}/cancel/", booking.render())
            }
            (PathShape::Raw(text), _) => text.clone(),
        };
        let mut query: Vec<String> = self
            .query
            .iter()
            .map(|part| format!("{}={}", part.name.render(), part.value.render()))
            .collect();
        if let Some(tail) = &self.query_tail {
            query.push(tail.render());
        }
        let query = query.join("&");
        // The defaults are those of a request to our API that went through the authorizer; the
        // shape changes everything API Gateway could send differently.
        let mut event = gateway::Event::new(&method, &path)
            .route_key(route.key())
            .query(&query)
            .without_header("host")
            .request_id("fuzz")
            .source("203.0.113.7", "fuzz");
        match &self.host {
            HostShape::None => {}
            HostShape::Api => event = event.header("host", gateway::DOMAIN),
            HostShape::Other(host) => event = event.header("host", host),
        }
        if let Some(proto) = &self.forwarded_proto {
            event = event.header("x-forwarded-proto", &proto.render());
        }
        if let Some(stage) = &self.stage {
            event = event.stage(stage);
        }
        // Otherwise `{booking}` is taken from the path, as API Gateway does when the route matched.
        if let Some(booking) = &self.path_parameter {
            event = event.path_parameter("booking", &booking.render());
        }
        if let Some(body) = &self.body {
            event = event.body(body);
        }
        if let Some(cookies) = &self.cookies {
            event = event.cookies(cookies);
        }
        let claims = match &self.claims {
            Claims::None => None,
            Claims::EmptyJwt => Some(json!({})),
            Claims::Demo => Some(json!({ "sub": DEMO_CUSTOMER })),
            Claims::Other => Some(json!({ "sub": OTHER_CUSTOMER })),
            Claims::Sub(sub) => Some(json!({ "sub": sub })),
            Claims::Many(pairs) => Some(Value::Object(
                pairs
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            )),
        };
        if let Some(claims) = claims {
            event = event.claims(claims);
        }
        event.json()
    }
}
