//! The whole request path under libFuzzer: API Gateway HTTP API (payload 2.0) event JSON ->
//! `bookings::lambda::request_of` (the runtime loop's own reading) -> `App::handle`, against
//! the sandbox OmniLab on loopback.
//!
//! Input layout: the first byte picks the route (bit 0: list or cancel) and the mode (bit 1):
//! - raw mode: the rest is the event JSON itself (the seeds in `fuzz/corpus/handle` are of this
//!   kind, starting with `0` or `1`, so they are readable);
//! - structured mode: the rest drives `arbitrary` to build an event from the grammar in
//!   `handle/grammar.rs`, whose method, raw path, raw query string, path parameters, claims,
//!   host, body and stage vary, mostly in shapes our validation must look at closely.
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
//! ([`grammar::Text::Hostile`], the `x-forwarded-proto` and host shapes), and they must be
//! answered.
#![no_main]

// A crate root's modules sit beside it, in `fuzz_targets/`, where each file reads as a target of
// its own: the grammar lives under the target it belongs to.
#[path = "handle/grammar.rs"]
mod grammar;

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
use sandbox::{Sandbox, SandboxData};
use serde_json::Value;

use grammar::Event;

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
        let mut config = Config::local(
            format!("http://{addr}"),
            CredentialsSource::Static(Credentials {
                client_id: credentials.client_id,
                client_secret: credentials.client_secret,
                audience: credentials.audience,
            }),
        );
        config.omnilab.policy = UpstreamPolicy {
            attempt_timeout: Duration::from_secs(2),
            base_backoff: Duration::from_millis(5),
            default_budget: Duration::from_secs(5),
            ..UpstreamPolicy::default()
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
