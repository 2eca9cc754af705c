//! openapi.yaml tells the truth: its routes, parameters and status codes are what the
//! functions do. Each documented status is produced here by a real scenario, and each status
//! a scenario produces is documented.

use std::collections::BTreeSet;
use std::time::Duration;

use bookings::Route;
use bookings::sandbox::{Endpoint, Fault, SandboxData, booking_uuid};
use bookings_tests::events::http_api;
use bookings_tests::{
    Answer, DEMO_CUSTOMER, OTHER_CUSTOMER, World, demo_start, quick_policy, secrets,
};
use serde_json::Value;

fn spec() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml"))
        .expect("openapi.yaml");
    serde_norway::from_str(&text).expect("openapi.yaml is YAML")
}

fn documented_statuses(operation: &Value) -> BTreeSet<u16> {
    operation["responses"]
        .as_object()
        .expect("responses")
        .keys()
        .map(|code| code.parse().expect("numeric status codes"))
        .collect()
}

/// Statuses that API Gateway itself answers with, before our functions run.
const GATEWAY_ONLY: [u16; 1] = [429];

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
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(cancel_path, vec!["booking"]);
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

async fn list_status(world: &World, query: &str) -> u16 {
    world.list(DEMO_CUSTOMER, query).await.status
}

async fn anonymous(world: &World, route: Route, path: &str) -> u16 {
    let method = if route == Route::ListBookings {
        "GET"
    } else {
        "POST"
    };
    Answer::from(
        world
            .app
            .handle(route, http_api(method, path, "", None))
            .await,
    )
    .status
}

async fn misconfigured(world: &World, route: Route, path: &str) -> u16 {
    let secret = secrets::create_raw(
        &format!("omnilab/openapi-bad-{}-{}", std::process::id(), path.len()),
        "{}",
    )
    .await;
    let app = world.app_with_secret(&secret);
    let method = if route == Route::ListBookings {
        "GET"
    } else {
        "POST"
    };
    Answer::from(
        app.handle(route, http_api(method, path, "", Some(DEMO_CUSTOMER)))
            .await,
    )
    .status
}

fn failing(world: &World, endpoint: Endpoint, fault: Fault) {
    for _ in 0..3 {
        world.sandbox.inject(endpoint, fault.clone());
    }
}

#[tokio::test]
async fn list_bookings_answers_exactly_the_documented_statuses() {
    let world = World::with(SandboxData::demo(demo_start()), quick_policy()).await;
    let mut seen = BTreeSet::new();
    seen.insert(list_status(&world, "").await);
    seen.insert(list_status(&world, "page_size=0").await);
    seen.insert(anonymous(&world, Route::ListBookings, "/bookings").await);
    seen.insert(misconfigured(&world, Route::ListBookings, "/bookings").await);
    failing(&world, Endpoint::Fetch, Fault::Status(500));
    seen.insert(list_status(&world, "").await);
    failing(
        &world,
        Endpoint::Fetch,
        Fault::RateLimited { retry_after: None },
    );
    seen.insert(list_status(&world, "").await);
    world
        .sandbox
        .inject(Endpoint::Fetch, Fault::Slow(Duration::from_secs(5)));
    seen.insert(list_status(&world, "").await);

    let mut documented = documented_statuses(&spec()["paths"]["/bookings"]["get"]);
    documented.retain(|code| !GATEWAY_ONLY.contains(code));
    assert_eq!(seen, documented);
}

#[tokio::test]
async fn cancel_booking_answers_exactly_the_documented_statuses() {
    let world = World::with(SandboxData::demo(demo_start()), quick_policy()).await;
    let path = |n: u32| format!("/bookings/{}/cancel", booking_uuid(n));
    let mut seen = BTreeSet::new();
    seen.insert(world.cancel(DEMO_CUSTOMER, &booking_uuid(1)).await.status);
    seen.insert(world.cancel(DEMO_CUSTOMER, "not-a-uuid").await.status);
    seen.insert(anonymous(&world, Route::CancelBooking, &path(2)).await);
    seen.insert(world.cancel(OTHER_CUSTOMER, &booking_uuid(2)).await.status);
    seen.insert(misconfigured(&world, Route::CancelBooking, &path(2)).await);
    world.sandbox.inject(Endpoint::Cancel, Fault::Status(500));
    seen.insert(world.cancel(DEMO_CUSTOMER, &booking_uuid(2)).await.status);
    world
        .sandbox
        .inject(Endpoint::Cancel, Fault::RateLimited { retry_after: None });
    seen.insert(world.cancel(DEMO_CUSTOMER, &booking_uuid(2)).await.status);
    world
        .sandbox
        .inject(Endpoint::Cancel, Fault::Slow(Duration::from_secs(5)));
    seen.insert(world.cancel(DEMO_CUSTOMER, &booking_uuid(2)).await.status);

    let mut documented =
        documented_statuses(&spec()["paths"]["/bookings/{booking}/cancel"]["post"]);
    documented.retain(|code| !GATEWAY_ONLY.contains(code));
    assert_eq!(seen, documented);
}

#[test]
fn the_gateway_only_statuses_say_so() {
    let spec = spec();
    let throttled = &spec["components"]["responses"]["Throttled"]["description"];
    assert!(
        throttled
            .as_str()
            .is_some_and(|d| d.to_lowercase().contains("throttl")),
        "{throttled}"
    );
}
