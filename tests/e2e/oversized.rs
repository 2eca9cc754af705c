//! Oversized and hostile input, end to end through `App::handle`: every one is refused naming its
//! field, or served, in bounded time and without a needless upstream call. Also replays the fuzz
//! seeds and every input the fuzzer (scripts/fuzz.sh) ever crashed on.
//!
//! lambda_http cannot hand us a URI longer than 64 KiB: its event conversion panics on one
//! (`failed to build request: ... uri too long`; the Lambda runtime turns that panic into an
//! invocation error, and API Gateway's own request-line limit is far lower anyway). So the 1 MB
//! and 10,000-value cases set the query or path parameters on the request directly, as lambda_http
//! would deliver them if its URI did not limit them, and the largest query lambda_http does pass
//! on goes through the real event path.

use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::time::{Duration, Instant};

use bookings::Route;
use bookings::config::UpstreamPolicy;
use bookings::omnilab::Stats;
use bookings_tests::{Answer, DEMO_CUSTOMER, World, demo_start};
use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::{Request, RequestExt};
use sandbox::gateway::Event;
use sandbox::{
    BookingStatus, Campaign, Counters, Localized, SandboxData, StoredBooking, TicketType,
    booking_uuid,
};

const MB: usize = 1 << 20;
/// A refusal is local work: well under this, even in a debug build on a busy machine.
const REFUSAL_BOUND: Duration = Duration::from_secs(1);
/// An answer that goes upstream once (the secret and token are warm by then).
const ANSWER_BOUND: Duration = Duration::from_secs(2);

/// `GET /bookings` as the demo customer, with these query parameters as lambda_http would
/// parse them from `raw` (repeats kept).
fn list_with_query(raw: &str) -> Request {
    let query: QueryMap = raw.parse().expect("any text parses as a query");
    Event::new("GET", "/bookings")
        .customer(DEMO_CUSTOMER)
        .request()
        .with_query_string_parameters(query)
}

/// `POST /bookings/{booking}/cancel` as the demo customer, `{booking}` set as API Gateway's
/// path parameter.
fn cancel_with_booking(booking: &str) -> Request {
    let mut parameters = std::collections::HashMap::new();
    parameters.insert("booking".to_owned(), booking.to_owned());
    Event::new("POST", "/bookings/x/cancel")
        .customer(DEMO_CUSTOMER)
        .request()
        .with_path_parameters(parameters)
}

/// Serves `request` and says how long the app took.
async fn timed(world: &World, route: Route, request: Request) -> (Answer, Duration) {
    let started = Instant::now();
    let response = world.app.handle(route, request).await;
    (Answer::from(response), started.elapsed())
}

/// Nothing went upstream: no secret read, no token, no fetch, no cancel.
#[track_caller]
fn assert_no_upstream_call(world: &World) {
    assert_eq!(world.sandbox.counters(), Counters::default());
    assert_eq!(world.app.stats(), Stats::default());
}

#[tokio::test]
async fn a_one_megabyte_query_is_refused_naming_the_field() {
    let world = World::demo().await;
    let cases = [
        // One huge value.
        (format!("public_keys={}", "a".repeat(MB)), "public_keys"),
        (format!("page_number={}", "9".repeat(MB)), "page_number"),
        (
            format!(
                "slot_date_range.from=2024-12-10T12:30:00{}Z",
                "0".repeat(MB)
            ),
            "slot_date_range.from",
        ),
        (
            format!("booking_status={}", ",".repeat(MB)),
            "booking_status",
        ),
        // One huge name: echoed back cut to 64 characters.
        (
            format!("{}=1", "n".repeat(MB)),
            &*format!("{}…", "n".repeat(64)),
        ),
        // A known parameter 100,000 times.
        ("page_size=10&".repeat(MB / 13), "page_size"),
    ];
    for (query, field) in &cases {
        assert!(query.len() >= MB - 13, "{}", query.len());
        let (answer, took) = timed(&world, Route::ListBookings, list_with_query(query)).await;
        answer.assert_problem(400, Some(field));
        assert!(answer.raw.len() < 1024, "the answer echoes a short field");
        assert!(took < REFUSAL_BOUND, "{field}: refused after {took:?}");
    }
    assert_no_upstream_call(&world);
}

#[tokio::test]
async fn the_longest_query_lambda_http_passes_on_is_refused_through_the_real_event_path() {
    let world = World::demo().await;
    // Just under lambda_http's 64 KiB URI limit with the scheme, host and path.
    let query = format!("public_keys={}", "k".repeat(60 * 1024));
    let started = Instant::now();
    let answer = Answer::from(
        world
            .app
            .handle(
                Route::ListBookings,
                Event::new("GET", "/bookings")
                    .query(&query)
                    .customer(DEMO_CUSTOMER)
                    .request(),
            )
            .await,
    );
    assert!(started.elapsed() < REFUSAL_BOUND);
    answer.assert_problem(400, Some("public_keys"));
    assert_no_upstream_call(&world);
}

#[tokio::test]
async fn a_one_megabyte_query_event_never_reaches_upstream() {
    // Whatever lambda_http makes of the event (today: a panic on the URI's length, which the
    // Lambda runtime reports as an invocation error), nothing goes upstream and any answer is ours.
    let world = World::demo().await;
    let event = Event::new("GET", "/bookings")
        .query(&format!("public_keys={}", "a".repeat(MB)))
        .customer(DEMO_CUSTOMER)
        .json()
        .to_string();
    let converted = quietly(|| lambda_http::request::from_str(&event));
    if let Some(Ok(request)) = converted {
        let (answer, took) = timed(&world, Route::ListBookings, request).await;
        answer.assert_problem(400, Some("public_keys"));
        assert!(took < REFUSAL_BOUND);
    }
    assert_no_upstream_call(&world);
}

#[tokio::test]
async fn ten_thousand_valid_statuses_are_accepted_and_forwarded_once_each() {
    let world = World::demo().await;
    world.list(DEMO_CUSTOMER, "").await; // Warm: the secret and the token are cached.
    let statuses = ["CONFIRMED", "WAITLIST", "CANCELLED"];
    let repeated: Vec<String> = (0..10_000)
        .map(|i| format!("booking_status={}", statuses[i % 3]))
        .collect();
    let joined: Vec<&str> = (0..10_000).map(|i| statuses[i % 3]).collect();
    for query in [
        repeated.join("&"),
        format!("booking_status={}", joined.join(",")),
        format!("booking_status={}", joined.join("%2C%20")),
    ] {
        let fetches = world.sandbox.counters().fetches;
        let (answer, took) = timed(&world, Route::ListBookings, list_with_query(&query)).await;
        assert_eq!(answer.status, 200, "{}", answer.raw);
        assert!(took < ANSWER_BOUND, "answered after {took:?}");
        assert_eq!(
            answer.body["total_count"], 12,
            "every demo booking of the customer"
        );
        assert_eq!(world.sandbox.counters().fetches, fetches + 1);
        let received = world.sandbox.received();
        let forwarded: Vec<&str> = received
            .last()
            .expect("a fetch")
            .query
            .iter()
            .filter(|(name, _)| name == "booking_status")
            .map(|(_, value)| value.as_str())
            .collect();
        assert_eq!(forwarded, statuses, "deduplicated, in a stable order");
    }
}

#[tokio::test]
async fn ten_thousand_statuses_with_one_invalid_are_refused() {
    let world = World::demo().await;
    let mut values: Vec<&str> = vec!["CONFIRMED"; 10_000];
    values[9_999] = "BOOKED";
    let repeated: Vec<String> = values
        .iter()
        .map(|value| format!("booking_status={value}"))
        .collect();
    for query in [
        repeated.join("&"),
        format!("booking_status={}", values.join(",")),
    ] {
        let (answer, took) = timed(&world, Route::ListBookings, list_with_query(&query)).await;
        answer.assert_problem(400, Some("booking_status"));
        assert!(took < REFUSAL_BOUND, "refused after {took:?}");
    }
    assert_no_upstream_call(&world);
}

#[tokio::test]
async fn a_one_megabyte_booking_id_is_refused_naming_booking() {
    let world = World::demo().await;
    for booking in [
        "a".repeat(MB),
        booking_uuid(1).repeat(MB / 36),
        format!("{}{}", booking_uuid(1), " ".repeat(MB)),
        "/".repeat(MB),
    ] {
        let (answer, took) =
            timed(&world, Route::CancelBooking, cancel_with_booking(&booking)).await;
        answer.assert_problem(400, Some("booking"));
        assert!(took < REFUSAL_BOUND, "refused after {took:?}");
    }
    // The same through the real event path, as long as lambda_http takes it.
    let long = "b".repeat(60 * 1024);
    let answer = world.cancel(DEMO_CUSTOMER, &long).await;
    answer.assert_problem(400, Some("booking"));
    assert_no_upstream_call(&world);
    assert_eq!(world.sandbox.cancel_calls(&long), 0);
}

/// `{"fr":{"fr":…"x"…}}`, `depth` maps deep.
fn nested_language_map(depth: usize) -> String {
    format!("{}\"x\"{}", "{\"fr\":".repeat(depth), "}".repeat(depth))
}

#[tokio::test]
async fn a_deeply_nested_language_map_from_upstream_is_served_as_a_string() {
    let deep = nested_language_map(50_000);
    let shallow_but_nested = nested_language_map(100);
    let mut data = SandboxData::demo(demo_start());
    data.campaigns.push(Campaign {
        public_key: "deep-campaign".into(),
        name: "interactions/7e57d00d-0000-4000-8000-000000000001".into(),
        timezone: "Europe/Paris".into(),
        // No French: a French title reaches us as the raw language map, as OmniLab sends it.
        languages: vec!["en".into()],
        group_key: "example-brand".into(),
        group_name: "Example Brand".into(),
    });
    let campaign = data.campaigns.len() - 1;
    let stored = |n: u32, activity: &str, title: Localized| StoredBooking {
        contact: DEMO_CUSTOMER.into(),
        campaign,
        activity_id: activity.into(),
        title,
        location_hint: Localized::new(&[("en", "Hall 1")]),
        slot_starting_at: demo_start() + jiff::SignedDuration::from_hours(i64::from(n)),
        slot_duration_in_minutes: Some(30),
        booking_status: BookingStatus::Confirmed,
        booked_at: demo_start(),
        ticket_type: TicketType {
            display_name: "Standard entry".into(),
            has_limited_capacity: true,
        },
        host: None,
        booking: booking_uuid(n),
    };
    // 1: the raw map `{"fr": "<deep>"}` (the nesting inside the French text).
    data.bookings.push(stored(
        101,
        "d1000000-0000-4000-8000-000000000001",
        Localized(vec![("fr".into(), deep.clone())]),
    ));
    // 2: the nesting is the title itself, past serde_json's recursion limit.
    data.bookings.push(stored(
        102,
        "d1000000-0000-4000-8000-000000000002",
        Localized(vec![("en".into(), deep.clone())]),
    ));
    // 3: nested maps within the limit, with no string anywhere a title could be.
    data.bookings.push(stored(
        103,
        "d1000000-0000-4000-8000-000000000003",
        Localized(vec![("en".into(), shallow_but_nested.clone())]),
    ));
    let world = World::with(data, UpstreamPolicy::default()).await;
    world.list(DEMO_CUSTOMER, "page_size=1").await; // Warm: the secret and the token are cached.

    for language in ["fr", "en", "de"] {
        let (answer, took) = timed(
            &world,
            Route::ListBookings,
            Event::new("GET", "/bookings")
                .query(&format!("public_keys=deep-campaign&language={language}"))
                .customer(DEMO_CUSTOMER)
                .request(),
        )
        .await;
        assert_eq!(answer.status, 200, "{language}: {:.300}", answer.raw);
        assert!(took < ANSWER_BOUND, "{language}: answered after {took:?}");
        let bookings = answer.body["bookings"].as_array().expect("bookings");
        assert_eq!(bookings.len(), 3);
        let title = |n: u32| {
            let booking = bookings
                .iter()
                .find(|b| b["booking"] == booking_uuid(n))
                .expect("the booking");
            booking["activity"]["title"]
                .as_str()
                .unwrap_or_else(|| panic!("{language}: title {n} is not a string"))
                .to_owned()
        };
        // The raw map's only entry is the text, however deep the text looks.
        assert_eq!(title(101), deep, "{language}");
        // Too deep to be a language map: the text as it came.
        assert_eq!(title(102), deep, "{language}");
        // A map, but no text in it: never JSON passed off as a title.
        assert!(!title(103).contains('{'), "{language}: {}", title(103));
        for group in answer.body["groups"].as_array().expect("groups") {
            assert!(group["activity_title"].is_string());
        }
    }
}

/// Runs `f` with panics kept quiet; `None` if it panicked.
fn quietly<T>(f: impl FnOnce() -> T) -> Option<T> {
    let hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let outcome = panic::catch_unwind(AssertUnwindSafe(f));
    panic::set_hook(hook);
    outcome.ok()
}

/// The fuzz seeds (fuzz/corpus/handle) and every input the fuzzer crashed on (kept under
/// fuzz/regressions/, which scripts/fuzz.sh makes for the first), in the fuzz target's raw
/// layout: a first byte whose bit 0 picks the route (`0` list, `1` cancel), then the event JSON.
#[tokio::test]
async fn fuzz_seeds_and_crash_inputs_replay_without_a_broken_contract() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut inputs: Vec<_> = ["corpus/handle", "regressions/handle"]
        .iter()
        .filter_map(|dir| std::fs::read_dir(fuzz.join(dir)).ok())
        .flatten()
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 5, "the seeds are there: {inputs:?}");
    let world = World::demo().await;
    for path in inputs {
        let bytes = std::fs::read(&path).expect("a readable input");
        let name = path.display();
        let (&selector, event) = bytes.split_first().expect("a non-empty input");
        assert_eq!(
            selector & 2,
            0,
            "{name}: save crash inputs as event JSON (raw mode)"
        );
        let route = if selector & 1 == 0 {
            Route::ListBookings
        } else {
            Route::CancelBooking
        };
        let event = std::str::from_utf8(event).expect("event JSON is UTF-8");
        let Ok(request) = lambda_http::request::from_str(event) else {
            continue;
        };
        let before = (world.sandbox.counters(), world.app.stats());
        let (answer, took) = timed(&world, route, request).await;
        assert!(took < ANSWER_BOUND, "{name}: answered after {took:?}");
        match answer.status {
            200 => assert_eq!(answer.content_type, "application/json", "{name}"),
            400 | 401 | 404 | 405 => {
                let field = answer.body["field"].as_str().map(str::to_owned);
                answer.assert_problem(answer.status, field.as_deref());
                if answer.status != 404 {
                    let after = (world.sandbox.counters(), world.app.stats());
                    assert_eq!(after, before, "{name}: a refusal called upstream");
                }
            }
            status => panic!("{name}: {status} {}", answer.raw),
        }
    }
}
