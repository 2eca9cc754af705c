//! openapi.yaml tells the truth: its routes, parameters, status codes, problem types, headers
//! and schemas are what the functions do. Each documented status and problem example is
//! produced here by a real scenario, and each status or problem type a scenario produces is
//! documented.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bookings::config::UpstreamPolicy;
use bookings::{App, Route};
use bookings_tests::{
    Answer, DEMO_CUSTOMER, OTHER_CUSTOMER, World, demo_start, quick_policy, secrets,
};
use lambda_http::http::HeaderMap;
use sandbox::gateway::Event;
use sandbox::{Endpoint, Fault, Localized, SandboxData, booking_uuid};
use serde_json::Value;

fn spec() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml"))
        .expect("openapi.yaml");
    serde_norway::from_str(&text).expect("openapi.yaml is YAML")
}

/// Follows local `$ref`s (`#/components/...`) to what they point at.
fn resolve<'a>(spec: &'a Value, mut value: &'a Value) -> &'a Value {
    while let Some(reference) = value.get("$ref").and_then(Value::as_str) {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{reference}: only local references"));
        value = spec
            .pointer(pointer)
            .unwrap_or_else(|| panic!("{reference} points at nothing"));
    }
    value
}

/// `GET` and `/bookings` for `GET /bookings`.
fn method_and_path(route: Route) -> (&'static str, &'static str) {
    route.key().split_once(' ').expect("a route key")
}

/// The documented operation of a route.
fn operation(spec: &Value, route: Route) -> &Value {
    let (method, path) = method_and_path(route);
    let operation = &spec["paths"][path][method.to_lowercase()];
    assert!(operation.is_object(), "{} is not documented", route.key());
    operation
}

/// The documented responses of a route, `$ref`s resolved, by status code.
fn responses(spec: &Value, route: Route) -> Vec<(u16, &Value)> {
    operation(spec, route)["responses"]
        .as_object()
        .expect("responses")
        .iter()
        .map(|(code, response)| {
            (
                code.parse().expect("numeric status codes"),
                resolve(spec, response),
            )
        })
        .collect()
}

fn documented_statuses(spec: &Value, route: Route) -> BTreeSet<u16> {
    responses(spec, route)
        .into_iter()
        .map(|(code, _)| code)
        .collect()
}

/// The problem documents a response shows as examples (`example` or `examples`).
fn problem_examples<'a>(spec: &'a Value, response: &'a Value) -> Vec<&'a Value> {
    let media = &response["content"]["application/problem+json"];
    let named = media
        .get("examples")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|examples| examples.values())
        .map(|example| &resolve(spec, example)["value"]);
    media.get("example").into_iter().chain(named).collect()
}

/// The value a documented header is pinned to (`schema.const`).
fn header_const<'a>(spec: &'a Value, name: &str) -> &'a str {
    spec["components"]["headers"][name]["schema"]["const"]
        .as_str()
        .unwrap_or_else(|| panic!("components.headers.{name} has a const value"))
}

/// The headers every answer of the functions carries: (name, its `components/headers` entry).
const FUNCTION_HEADERS: [(&str, &str); 2] = [
    ("Cache-Control", "NoStore"),
    ("X-Content-Type-Options", "NoSniff"),
];

/// Statuses that API Gateway itself answers with, before our functions run.
const GATEWAY_ONLY: [u16; 2] = [403, 429];

/// Asserts the answer carries each of [`FUNCTION_HEADERS`] with its documented value.
#[track_caller]
fn assert_function_headers(spec: &Value, what: &str, headers: &HeaderMap) {
    for (name, component) in FUNCTION_HEADERS {
        let expected = header_const(spec, component);
        assert_eq!(
            headers.get(name).and_then(|v| v.to_str().ok()),
            Some(expected),
            "{what}: {name}"
        );
    }
}

/// Asserts `response` documents the header `name` and the answer's value is one its schema
/// allows (an `enum` member, or an integer within `minimum`..=`maximum`).
#[track_caller]
fn assert_documented_header(
    spec: &Value,
    what: &str,
    response: &Value,
    name: &str,
    headers: &HeaderMap,
) {
    let documented = resolve(spec, &response["headers"][name]);
    assert!(documented.is_object(), "{what}: {name} is not documented");
    let schema = &documented["schema"];
    let value = headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("{what}: no {name}"));
    if let Some(allowed) = schema["enum"].as_array() {
        assert!(
            allowed.iter().any(|a| a == value),
            "{what}: {name}: {value} not in {allowed:?}"
        );
    } else {
        assert_eq!(schema["type"], "integer", "{what}: {name}");
        let n: u64 = value
            .parse()
            .unwrap_or_else(|_| panic!("{what}: {name}: {value}"));
        let (min, max) = (schema["minimum"].as_u64(), schema["maximum"].as_u64());
        assert!(
            min.is_some_and(|m| n >= m) && max.is_some_and(|m| n <= m),
            "{what}: {name}: {n} outside {min:?}..={max:?}"
        );
    }
}

/// One real answer of `App::handle`, headers kept.
struct Observed {
    scenario: &'static str,
    headers: HeaderMap,
    answer: Answer,
}

async fn observe(
    scenario: &'static str,
    app: &App,
    route: Route,
    method: &str,
    path: &str,
    query: &str,
    customer: Option<&str>,
) -> Observed {
    let mut event = Event::new(method, path).query(query);
    if let Some(customer) = customer {
        event = event.customer(customer);
    }
    let response = app.handle(route, bookings_tests::request(event)).await;
    let headers = response.headers().clone();
    Observed {
        scenario,
        headers,
        answer: Answer::from(response),
    }
}

/// A secret of its own in the emulator, holding `value`.
async fn secret_holding(label: &str, value: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let name = format!(
        "omnilab/openapi-{label}-{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    secrets::create_raw(&name, value).await
}

/// What the template's created secret holds until an operator fills it in.
const PLACEHOLDERS: &str =
    r#"{"client_id":"REPLACE_ME","client_secret":"REPLACE_ME","audience":"REPLACE_ME"}"#;

/// A contact whose first page (50 bookings) cannot fit in one Lambda response: each title is
/// 20,000 quotes, 80,000 bytes once escaped twice, and appears in the booking and its group.
const TOO_LARGE: &str = "too-large-account";

fn data_with_an_oversized_page() -> SandboxData {
    let mut data = SandboxData::demo(demo_start()).with_many(TOO_LARGE, 50, demo_start());
    let title = Localized::new(&[("en", &"\"".repeat(20_000))]);
    for (n, booking) in data
        .bookings
        .iter_mut()
        .filter(|b| b.contact == TOO_LARGE)
        .enumerate()
    {
        booking.title = title.clone();
        booking.activity_id = format!("activity-{n}");
    }
    data
}

/// Which app a scenario asks: the world's own, one whose secret is malformed or still holds the
/// template's placeholders, or one that waits longer.
#[derive(Clone, Copy)]
enum AppUnderTest {
    World,
    Malformed,
    Placeholders,
    /// The world's secret, with the default upstream policy: reading and rendering a 2 MB page
    /// in a debug build, beside the other tests, may take longer than the quick policy allows.
    Patient,
}

/// One request, after the faults it needs are injected.
struct Case {
    scenario: &'static str,
    via: AppUnderTest,
    path: String,
    query: &'static str,
    customer: Option<String>,
    faults: Vec<(Endpoint, Fault)>,
}

fn case(scenario: &'static str, path: &str, query: &'static str, customer: Option<&str>) -> Case {
    Case {
        scenario,
        via: AppUnderTest::World,
        path: path.to_owned(),
        query,
        customer: customer.map(str::to_owned),
        faults: Vec::new(),
    }
}

impl Case {
    fn via(mut self, via: AppUnderTest) -> Self {
        self.via = via;
        self
    }

    fn after(mut self, times: usize, endpoint: Endpoint, fault: Fault) -> Self {
        self.faults
            .extend(std::iter::repeat_n((endpoint, fault), times));
        self
    }
}

/// Every kind of answer the route gives: each status, and each problem type of each status.
async fn scenarios(route: Route) -> Vec<Observed> {
    let world = World::with(data_with_an_oversized_page(), quick_policy()).await;
    let malformed = world.app_with_secret(&secret_holding("malformed", "{}").await);
    let placeholders = world.app_with_secret(&secret_holding("placeholders", PLACEHOLDERS).await);
    let patient = world.app_with_policy(UpstreamPolicy::default());
    let me = Some(DEMO_CUSTOMER);
    let stray_space = format!(" {DEMO_CUSTOMER}");
    let control = format!("{DEMO_CUSTOMER}\u{1b}[2J");
    let too_long = "x".repeat(257);
    let slow = Fault::Slow(Duration::from_secs(5));
    let limited = Fault::RateLimited { retry_after: None };
    let cases = match route {
        Route::ListBookings => {
            let list = "/bookings";
            vec![
                case("first page", list, "", me),
                case("page_size out of range", list, "page_size=0", me),
                case(
                    "a raw quote in the query",
                    list,
                    r#"booking_status="CONFIRMED""#,
                    me,
                ),
                case("all with page_size", list, "all=true&page_size=10", me),
                case("anonymous", list, "", None),
                case("claim with a space", list, "", Some(&stray_space)),
                case("claim with a control character", list, "", Some(&control)),
                case("claim too long", list, "", Some(&too_long)),
                case("malformed secret", list, "", me).via(AppUnderTest::Malformed),
                case("placeholder secret", list, "", me).via(AppUnderTest::Placeholders),
                case("oversized page", list, "", Some(TOO_LARGE)).via(AppUnderTest::Patient),
                case("upstream error", list, "", me).after(3, Endpoint::Fetch, Fault::Status(500)),
                case("rate limited", list, "", me).after(3, Endpoint::Fetch, limited),
                case("upstream too slow", list, "", me).after(1, Endpoint::Fetch, slow),
            ]
        }
        Route::CancelBooking => {
            let mine = format!("/bookings/{}/cancel", booking_uuid(1));
            let other = &format!("/bookings/{}/cancel", booking_uuid(2));
            world.sandbox.refuse_cancel(&booking_uuid(3), 409);
            let refused = format!("/bookings/{}/cancel", booking_uuid(3));
            vec![
                case("cancel", &mine, "", me),
                case("a booking OmniLab will no longer cancel", &refused, "", me),
                case("not a uuid", "/bookings/not-a-uuid/cancel", "", me),
                case("a query parameter", other, "reason=changed-plans", me),
                case(
                    "a raw space in the query",
                    other,
                    "reason=changed plans",
                    me,
                ),
                case("anonymous", other, "", None),
                case("claim with a space", other, "", Some(&stray_space)),
                case("claim with a control character", other, "", Some(&control)),
                case("someone else's booking", other, "", Some(OTHER_CUSTOMER)),
                case("malformed secret", other, "", me).via(AppUnderTest::Malformed),
                case("placeholder secret", other, "", me).via(AppUnderTest::Placeholders),
                case("upstream error", other, "", me).after(
                    1,
                    Endpoint::Cancel,
                    Fault::Status(500),
                ),
                case("rate limited", other, "", me).after(1, Endpoint::Cancel, limited),
                case("upstream too slow", other, "", me).after(1, Endpoint::Cancel, slow),
            ]
        }
    };
    let (method, _) = method_and_path(route);
    let mut seen = Vec::new();
    for case in cases {
        for (endpoint, fault) in case.faults {
            world.sandbox.inject(endpoint, fault);
        }
        let app = match case.via {
            AppUnderTest::World => &world.app,
            AppUnderTest::Malformed => &malformed,
            AppUnderTest::Placeholders => &placeholders,
            AppUnderTest::Patient => &patient,
        };
        let customer = case.customer.as_deref();
        seen.push(
            observe(
                case.scenario,
                app,
                route,
                method,
                &case.path,
                case.query,
                customer,
            )
            .await,
        );
    }
    seen
}

/// The route's real answers against its documentation: the same statuses, the same problem
/// types under each (every documented example is a real answer, word for word), documented
/// content types and body members, and the documented headers on every answer.
async fn answers_exactly_what_is_documented(route: Route) {
    let spec = spec();
    let observed = scenarios(route).await;
    let documented = responses(&spec, route);

    let seen: BTreeSet<u16> = observed.iter().map(|o| o.answer.status).collect();
    let mut statuses = documented_statuses(&spec, route);
    statuses.retain(|code| !GATEWAY_ONLY.contains(code));
    assert_eq!(seen, statuses, "{}: statuses", route.key());

    let seen_types: BTreeSet<(u16, String)> = observed
        .iter()
        .filter(|o| o.answer.content_type == "application/problem+json")
        .map(|o| {
            let kind = o.answer.body["type"].as_str();
            let kind = kind.unwrap_or_else(|| panic!("{}: {}", o.scenario, o.answer.raw));
            (o.answer.status, kind.to_owned())
        })
        .collect();
    let mut documented_types = BTreeSet::new();
    for (code, response) in &documented {
        for example in problem_examples(&spec, response) {
            assert_eq!(example["status"], *code, "{}: {code} example", route.key());
            let kind = example["type"].as_str().expect("an example's type");
            documented_types.insert((*code, kind.to_owned()));
            assert!(
                observed.iter().any(|o| o.answer.body == *example),
                "{} {code}: no answer is the documented example {example}",
                route.key()
            );
        }
    }
    assert_eq!(
        seen_types,
        documented_types,
        "{}: problem types",
        route.key()
    );

    for o in &observed {
        let what = format!("{} ({})", route.key(), o.scenario);
        let (_, response) = documented
            .iter()
            .find(|(code, _)| *code == o.answer.status)
            .unwrap_or_else(|| panic!("{what}: {} is not documented", o.answer.status));
        let media = &response["content"][&o.answer.content_type];
        assert!(
            media.is_object(),
            "{what}: {} {} is not documented",
            o.answer.status,
            o.answer.content_type
        );
        assert_function_headers(&spec, &what, &o.headers);
        if o.answer.content_type == "application/problem+json" {
            assert_documented_header(&spec, &what, response, "Content-Language", &o.headers);
        }
        if o.answer.status == 503 {
            assert_documented_header(&spec, &what, response, "Retry-After", &o.headers);
        }
        if o.answer.status == 401 {
            assert!(
                response["headers"]["WWW-Authenticate"].is_object(),
                "{what}"
            );
            assert_eq!(
                o.headers.get("www-authenticate").unwrap(),
                "Bearer",
                "{what}"
            );
        }
        let schema = resolve(&spec, &media["schema"]);
        let members: BTreeSet<&str> = o
            .answer
            .body
            .as_object()
            .unwrap_or_else(|| panic!("{what}: {}", o.answer.raw))
            .keys()
            .map(String::as_str)
            .collect();
        let properties: BTreeSet<&str> = schema["properties"]
            .as_object()
            .expect("an object schema")
            .keys()
            .map(String::as_str)
            .collect();
        assert!(
            members.is_subset(&properties),
            "{what}: undocumented members in {members:?}"
        );
        for required in schema["required"].as_array().expect("required members") {
            let required = required.as_str().unwrap();
            assert!(members.contains(required), "{what}: no {required}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_bookings_answers_exactly_what_is_documented() {
    answers_exactly_what_is_documented(Route::ListBookings).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_booking_answers_exactly_what_is_documented() {
    answers_exactly_what_is_documented(Route::CancelBooking).await;
}

#[test]
fn the_documented_routes_are_the_functions_routes() {
    let spec = spec();
    let mut documented: Vec<String> = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| *k != "parameters")
        {
            documented.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    documented.sort();
    let mut ours = vec![
        Route::ListBookings.key().to_owned(),
        Route::CancelBooking.key().to_owned(),
    ];
    ours.sort();
    assert_eq!(documented, ours);
}

#[test]
fn the_documented_query_parameters_are_the_accepted_ones() {
    let spec = spec();
    let documented: BTreeSet<&str> = spec["paths"]["/bookings"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["in"] == "query")
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    let accepted: BTreeSet<&str> = bookings::query::PARAMETERS.into_iter().collect();
    assert_eq!(documented, accepted);
    let cancel_path: Vec<&str> = spec["paths"]["/bookings/{booking}/cancel"]["post"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| resolve(&spec, p))
        .filter(|p| p["in"] != "header")
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(cancel_path, vec!["booking"]);
    // Both routes say the errors' language follows Accept-Language.
    for path in ["/bookings", "/bookings/{booking}/cancel"] {
        let (_, operation) = spec["paths"][path]
            .as_object()
            .unwrap()
            .iter()
            .next()
            .unwrap();
        assert!(
            operation["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| resolve(&spec, p))
                .any(|p| p["in"] == "header" && p["name"] == "Accept-Language"),
            "{path}: Accept-Language"
        );
    }
}

#[tokio::test]
async fn every_documented_example_value_is_accepted() {
    let world = World::demo().await;
    let spec = spec();
    for parameter in spec["paths"]["/bookings"]["get"]["parameters"]
        .as_array()
        .unwrap()
    {
        let Some(example) = parameter["example"].as_str() else {
            continue;
        };
        let name = parameter["name"].as_str().unwrap();
        let query = format!("{name}={}", example.replace(':', "%3A").replace('+', "%2B"));
        let answer = world.list(DEMO_CUSTOMER, &query).await;
        assert_eq!(answer.status, 200, "{query}: {}", answer.raw);
    }
}

#[test]
fn every_documented_function_response_declares_the_no_store_and_nosniff_headers() {
    let spec = spec();
    assert_eq!(header_const(&spec, "NoStore"), "no-store");
    assert_eq!(header_const(&spec, "NoSniff"), "nosniff");
    let mut checked = Vec::new();
    for route in [Route::ListBookings, Route::CancelBooking] {
        for (code, response) in responses(&spec, route) {
            checked.push((route.key(), code, response));
        }
    }
    let not_allowed = &spec["components"]["responses"]["MethodNotAllowed"];
    checked.push(("(any other method)", 405, not_allowed));
    for (route, code, response) in checked {
        for (name, component) in FUNCTION_HEADERS {
            let header = &response["headers"][name];
            if GATEWAY_ONLY.contains(&code) {
                // API Gateway's own answers: neither header is promised, so none is documented.
                assert!(
                    header.is_null(),
                    "{route} {code}: {name} on a gateway answer"
                );
            } else {
                assert_eq!(
                    header["$ref"],
                    format!("#/components/headers/{component}"),
                    "{route} {code}: {name}"
                );
            }
        }
    }
}

#[tokio::test]
async fn a_wrong_method_is_answered_as_documented() {
    let spec = spec();
    let world = World::demo().await;
    let documented = &spec["components"]["responses"]["MethodNotAllowed"];
    let example = &documented["content"]["application/problem+json"]["example"];
    let allowed_values = documented["headers"]["Allow"]["schema"]["enum"]
        .as_array()
        .expect("the Allow values");
    let mut allows = BTreeSet::new();
    for (route, wrong, path) in [
        (Route::ListBookings, "DELETE", "/bookings".to_owned()),
        (
            Route::CancelBooking,
            "GET",
            format!("/bookings/{}/cancel", booking_uuid(1)),
        ),
    ] {
        let what = format!("{wrong} on {}", route.key());
        // Not listed under the operations: through API Gateway another method never gets here.
        assert!(
            !documented_statuses(&spec, route).contains(&405),
            "{what}: the document says 405 is not an operation's answer"
        );
        let o = observe(
            "wrong method",
            &world.app,
            route,
            wrong,
            &path,
            "",
            Some(DEMO_CUSTOMER),
        )
        .await;
        assert_eq!(o.answer.status, 405, "{what}: {}", o.answer.raw);
        assert_eq!(o.answer.body, *example, "{what}");
        assert_eq!(o.answer.content_type, "application/problem+json", "{what}");
        assert_function_headers(&spec, &what, &o.headers);
        // The path's one documented method, and one of the documented Allow values.
        let (_, documented_path) = method_and_path(route);
        let methods: Vec<String> = spec["paths"][documented_path]
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| *k != "parameters")
            .map(|k| k.to_uppercase())
            .collect();
        let allow = o.headers.get("allow").and_then(|v| v.to_str().ok());
        assert_eq!(allow, Some(methods.join(", ").as_str()), "{what}");
        assert!(
            allowed_values
                .iter()
                .any(|v| Some(v.as_str().unwrap()) == allow),
            "{what}: {allow:?} is not a documented Allow value"
        );
        allows.insert(allow.unwrap().to_owned());
    }
    assert_eq!(allows.len(), 2, "each route names its own method");
    assert_eq!(world.sandbox.counters(), Default::default());
}

fn list_parameter<'a>(spec: &'a Value, name: &str) -> &'a Value {
    spec["paths"]["/bookings"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{name} is documented"))
}

#[tokio::test]
async fn the_documented_paging_bounds_are_the_functions_bounds() {
    let spec = spec();
    let world = World::demo().await;
    for name in ["page_size", "page_number"] {
        let schema = &list_parameter(&spec, name)["schema"];
        let minimum = schema["minimum"].as_u64().expect("a documented minimum");
        let maximum = schema["maximum"].as_u64().expect("a documented maximum");
        for accepted in [minimum, maximum] {
            let answer = world
                .list(DEMO_CUSTOMER, &format!("{name}={accepted}"))
                .await;
            assert_eq!(answer.status, 200, "{name}={accepted}: {}", answer.raw);
            assert_eq!(answer.body[name], accepted, "{name}={accepted}");
        }
        for refused in [minimum - 1, maximum + 1] {
            let answer = world
                .list(DEMO_CUSTOMER, &format!("{name}={refused}"))
                .await;
            answer.assert_problem(400, Some(name));
        }
    }
    // The largest page number is u32's: the one the response schema allows too.
    let page_number = &list_parameter(&spec, "page_number")["schema"];
    assert_eq!(page_number["maximum"], u64::from(u32::MAX));
    let schemas = &spec["components"]["schemas"]["BookingList"]["properties"];
    assert_eq!(schemas["page_number"]["maximum"], page_number["maximum"]);
}

#[tokio::test]
async fn all_true_is_refused_with_what_the_document_says_it_cannot_be_combined_with() {
    let spec = spec();
    let world = World::demo().await;
    let all = list_parameter(&spec, "all")["description"]
        .as_str()
        .unwrap();
    for name in ["page_size", "page_number"] {
        assert!(all.contains(&format!("`{name}`")), "`all` names {name}");
        let own = list_parameter(&spec, name)["description"].as_str().unwrap();
        assert!(own.contains("combined with `all=true`"), "{name}: {own}");
        let answer = world
            .list(DEMO_CUSTOMER, &format!("all=true&{name}=10"))
            .await;
        answer.assert_problem(400, Some(name));
    }
    let bad_request = spec["components"]["responses"]["BadRequest"]["description"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        bad_request.contains("`all=true` with `page_number` or with `page_size`"),
        "{bad_request}"
    );
    assert_eq!(
        world.sandbox.counters().fetches,
        0,
        "refused before OmniLab"
    );
}

#[tokio::test]
async fn repeated_statuses_are_one_as_documented() {
    let spec = spec();
    let world = World::demo().await;
    let parameter = list_parameter(&spec, "booking_status");
    let description = parameter["description"].as_str().unwrap();
    assert!(description.contains("deduplicated"), "{description}");
    // Repeats are accepted, so the document must not call them invalid.
    assert_ne!(parameter["schema"]["uniqueItems"], true);
    let once = world.list(DEMO_CUSTOMER, "booking_status=CONFIRMED").await;
    assert_eq!(once.status, 200, "{}", once.raw);
    assert!(!once.booking_ids().is_empty());
    for repeated in [
        "booking_status=CONFIRMED&booking_status=CONFIRMED",
        "booking_status=CONFIRMED,CONFIRMED",
    ] {
        let answer = world.list(DEMO_CUSTOMER, repeated).await;
        assert_eq!(answer.body, once.body, "{repeated}");
        let received = world.sandbox.received();
        let sent: Vec<&str> = received
            .last()
            .unwrap()
            .query
            .iter()
            .filter(|(k, _)| k == "booking_status")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(sent, vec!["CONFIRMED"], "{repeated}: asked OmniLab once");
    }
}

const BIG: &str = "big-account";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_all_true_answer_cut_short_carries_the_documented_next_page() {
    let spec = spec();
    let list_schema = &spec["components"]["schemas"]["BookingList"];
    let schema = &list_schema["properties"]["next_page"];
    assert_eq!(schema["type"], "object");
    let required = list_schema["required"].as_array().unwrap();
    assert!(
        !required.iter().any(|r| r == "next_page"),
        "next_page is optional"
    );
    assert!(schema["description"].is_string() && schema["example"].is_object());

    // Everything fits: no next_page.
    let world = World::demo().await;
    let whole = world.list(DEMO_CUSTOMER, "all=true").await;
    assert_eq!(whole.status, 200, "{}", whole.raw);
    assert!(whole.body.get("next_page").is_none(), "{}", whole.raw);

    // 10,000 of the sandbox's bookings are over 6 MB once escaped into Lambda's response, and
    // within the 100 pages one request may fetch: the answer is cut between pages.
    let data = SandboxData::demo(demo_start()).with_many(BIG, 10_000, demo_start());
    let world = World::with(data, UpstreamPolicy::default()).await;
    let all = world.list(BIG, "all=true").await;
    assert_eq!(all.status, 200, "{}", &all.raw[..all.raw.len().min(300)]);
    let next = all.body["next_page"].as_object().unwrap_or_else(|| {
        panic!(
            "no next_page: {} of {} bookings, {} bytes",
            all.booking_ids().len(),
            all.body["total_count"],
            all.raw.len()
        )
    });
    let properties = schema["properties"].as_object().unwrap();
    let documented: BTreeSet<&String> = properties.keys().collect();
    assert_eq!(next.keys().collect::<BTreeSet<_>>(), documented);
    for name in schema["required"].as_array().unwrap() {
        assert!(next.contains_key(name.as_str().unwrap()), "{name}");
    }
    for (name, value) in next {
        let property = &properties[name];
        assert_eq!(property["type"], "integer", "{name}");
        let value = value
            .as_u64()
            .unwrap_or_else(|| panic!("{name}: {value} is not a whole number"));
        if let Some(minimum) = property["minimum"].as_u64() {
            assert!(value >= minimum, "{name}: {value} < {minimum}");
        }
        if let Some(maximum) = property["maximum"].as_u64() {
            assert!(value <= maximum, "{name}: {value} > {maximum}");
        }
    }
    let members: BTreeSet<&String> = all.body.as_object().unwrap().keys().collect();
    let listed: BTreeSet<&String> = list_schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert!(members.is_subset(&listed), "{members:?}");

    // What the description promises: the first page not in this answer, in pages of that size.
    let (number, size) = (
        next["page_number"].as_u64().unwrap(),
        next["page_size"].as_u64().unwrap(),
    );
    let ids = all.booking_ids();
    assert_eq!(all.body["total_count"], 10_000);
    assert!(
        !ids.is_empty() && ids.len() < 10_000,
        "cut short, not empty"
    );
    assert_eq!(ids.len() as u64, (number - 1) * size, "{next:?}");
    let rest = world
        .list(BIG, &format!("page_number={number}&page_size={size}"))
        .await;
    assert_eq!(rest.status, 200, "{}", rest.raw);
    let following = rest.booking_ids();
    assert_eq!(following.len() as u64, size);
    assert!(
        following.iter().all(|id| !ids.contains(id)),
        "nothing twice"
    );
    let before = world
        .list(BIG, &format!("page_number={}&page_size={size}", number - 1))
        .await;
    assert_eq!(before.booking_ids().last(), ids.last(), "nothing skipped");
}

/// API Gateway's own refusals, as the dev server's JWT check answers them (its model of the
/// authorizer, checked against the real one's documented behaviour in tests/e2e/sign_in.rs):
/// each is documented on both routes with its status, `application/json`, the `GatewayMessage`
/// schema and exactly its body as the example, and never as a problem document.
#[tokio::test]
async fn the_gateways_own_refusals_are_documented_as_they_are_answered() {
    use axum::response::IntoResponse;
    use dev_server::authorizer::{Denied, Invalid};

    let spec = spec();
    let refusals = [
        Denied::NoToken,
        Denied::Invalid(Invalid::Expired),
        Denied::Invalid(Invalid::Signature),
        Denied::Invalid(Invalid::Audience),
        Denied::Scope,
    ];
    for denied in refusals {
        let answer = denied.into_response();
        let status = answer.status().as_u16();
        let headers = answer.headers().clone();
        let body = axum::body::to_bytes(answer.into_body(), 4096)
            .await
            .expect("a body");
        let body: Value = serde_json::from_slice(&body).expect("a JSON body");
        assert_eq!(
            headers.get("content-type").unwrap(),
            "application/json",
            "{denied:?}"
        );
        assert!(headers.contains_key("www-authenticate"), "{denied:?}");
        for route in [Route::ListBookings, Route::CancelBooking] {
            let what = format!("{} {status} ({denied:?})", route.key());
            let responses = responses(&spec, route);
            let (_, response) = responses
                .iter()
                .find(|(code, _)| *code == status)
                .unwrap_or_else(|| panic!("{what}: not documented"));
            let media = &response["content"]["application/json"];
            assert_eq!(
                resolve(&spec, &media["schema"]),
                &spec["components"]["schemas"]["GatewayMessage"],
                "{what}"
            );
            assert_eq!(media["example"], body, "{what}: the documented body");
            if GATEWAY_ONLY.contains(&status) {
                assert!(
                    response["content"]["application/problem+json"].is_null(),
                    "{what}: no function answers it"
                );
            }
        }
    }
}

/// What API Gateway answers that nothing here can produce (its throttling, its 500 when a
/// function fails to answer) is documented as its `{"message": ...}` body, not as ours.
#[test]
fn the_gateways_other_answers_are_documented_as_its_message_bodies() {
    let spec = spec();
    let gateway =
        |name: &str| spec["components"]["responses"][name]["content"]["application/json"].clone();
    for (name, message) in [
        ("Throttled", "Too Many Requests"),
        ("Misconfigured", "Internal Server Error"),
    ] {
        let media = gateway(name);
        assert_eq!(media["example"]["message"], message, "{name}");
        assert_eq!(
            media["schema"]["$ref"], "#/components/schemas/GatewayMessage",
            "{name}"
        );
    }
    assert!(
        spec["components"]["responses"]["Throttled"]["content"]["application/problem+json"]
            .is_null(),
        "no function throttles"
    );
}
