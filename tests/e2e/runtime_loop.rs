//! What the runtime loop does on a bad day, through the compiled binaries under the Runtime API
//! of `tests/support`: events that lambda_http could not make into a request, a new trace id on
//! every invocation, a Runtime API that refuses connections or drops an answer. Each of these
//! used to be an invocation error, unbounded memory, a spinning loop or a dead process.

use std::time::Duration;

use bookings_tests::runtime_api::{Function, Launch};
use bookings_tests::{DEMO_CUSTOMER, World, function_env, list_event};
use serde_json::{Value, json};

const UNREADABLE: &str = "tag:omnilab-bookings,2026:unreadable-request";

fn body_of(response: &Value) -> Value {
    serde_json::from_str(response["body"].as_str().expect("a text body")).expect("a JSON body")
}

fn json_lines(function: &Function) -> Vec<Value> {
    function
        .logs()
        .iter()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// Bytes no URI may hold, in the query or a header: lambda_http panicked on each while making
/// the request, before our code ran, and the runtime reported an invocation error. Now each is
/// an answer: 400 for what cannot be read, counted; a header nothing reads changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_lambda_http_could_not_read_is_a_400_problem_and_the_function_serves_on() {
    let world = World::demo().await;
    let (runtime, function) = world.deploy("list-bookings", &[]).await;

    let query = |query: &str| list_event(DEMO_CUSTOMER).query(query);
    let unreadable = [
        query(r#"booking_status="CONFIRMED""#).json(),
        query("language=<fr>").json(),
        query("page_size=1 0")
            .header("accept-language", "fr")
            .json(),
        // Not an HTTP API event at all.
        json!({"Records": []}),
        json!("hello"),
    ];
    for (n, event) in unreadable.into_iter().enumerate() {
        let response = runtime.invoke(event).await.response();
        assert_eq!(response["statusCode"], 400, "{n}: {response}");
        assert_eq!(
            response["headers"]["content-type"],
            "application/problem+json"
        );
        let problem = body_of(&response);
        assert_eq!(problem["type"], UNREADABLE, "{n}: {problem}");
        assert_eq!(problem["status"], 400);
        let field = if n < 3 { "query" } else { "event" };
        assert_eq!(problem["field"], field, "{n}: {problem}");
        assert!(problem["detail"].as_str().unwrap().starts_with(field));
        if n == 2 {
            assert_eq!(problem["title"], "Requête illisible");
            assert_eq!(response["headers"]["content-language"], "fr");
        }
    }

    // A scheme header that is no scheme: lambda_http built an absolute URI from it; nothing
    // here reads it.
    let odd_scheme = query("page_size=2")
        .header("x-forwarded-proto", "ht tp")
        .json();
    let response = runtime.invoke(odd_scheme).await.response();
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(body_of(&response)["bookings"].as_array().unwrap().len(), 2);

    // What could not be read never went upstream.
    assert_eq!(world.sandbox.counters().fetches, 1);

    tokio::time::sleep(Duration::from_millis(100)).await;
    let lines = json_lines(&function);
    let counted: Vec<u64> = lines
        .iter()
        .filter(|line| line.get("_aws").is_some() && line["Route"] == "list-bookings")
        .map(|document| document["UnreadableRequests"].as_u64().expect("a count"))
        .collect();
    assert_eq!(
        counted,
        [1, 1, 1, 1, 1, 0],
        "one EMF request document per invocation, the unreadable ones counted"
    );
    let warnings: Vec<&Value> = lines
        .iter()
        .filter(|line| line["fields"]["message"] == "request unreadable")
        .collect();
    assert_eq!(warnings.len(), 5, "{lines:#?}");
    assert!(
        warnings
            .iter()
            .all(|line| line["level"] == "WARN" && !line.to_string().contains("CONFIRMED")),
        "the kind is logged, never the request: {warnings:#?}"
    );
}

/// Lambda gives every invocation a trace id of its own. lambda_runtime put each into the
/// environment with `set_var`, and glibc keeps every replaced value: memory grew with every
/// invocation. Now a container's memory is flat however many it serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stays_flat_though_every_invocation_has_a_new_trace_id() {
    let world = World::demo().await;
    let (runtime, function) = world.deploy("list-bookings", &[]).await;
    // A refusal costs no upstream call: the loop and the runtime crates are what is measured.
    let refused = || list_event(DEMO_CUSTOMER).query("page_size=0").json();
    for _ in 0..2_000 {
        runtime.invoke(refused()).await.response();
    }
    let settled = function.peak_rss_kb().expect("VmHWM");
    const MORE: u64 = 10_000;
    for _ in 0..MORE {
        runtime.invoke(refused()).await.response();
    }
    let after = function.peak_rss_kb().expect("VmHWM");
    // Before, each new trace id kept about 165 bytes: 10,000 of them were 1.6 MB.
    assert!(
        after.saturating_sub(settled) < 400,
        "peak RSS grew from {settled} kB to {after} kB over {MORE} invocations"
    );
}

/// A Runtime API that refuses connections (the container being torn down, say): lambda_runtime
/// polled again at once, every slot, both cores spent and a warning each time; one at a time,
/// its loop returned the error and the process ended. Now the loop waits, longer each time up
/// to a bound, says so once, and polls again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runtime_api_that_refuses_connections_costs_little_and_logs_little() {
    let world = World::demo().await;
    // Bound and closed at once: nothing listens there.
    let refusing = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let mut env = function_env(&world);
    env.push(("AWS_LAMBDA_MAX_CONCURRENCY", "4".into()));
    let concurrent = Launch::of("list-bookings").at(&refusing, &env);
    let classic = Launch::of("list-bookings").at(&refusing, &function_env(&world));
    tokio::time::sleep(Duration::from_secs(3)).await;
    for (mode, mut function) in [("4 slots", concurrent), ("one at a time", classic)] {
        assert!(
            function.child.try_wait().unwrap().is_none(),
            "{mode}: the process polls on"
        );
        let cpu = function.cpu_time().expect("CPU time");
        assert!(
            cpu < Duration::from_millis(300),
            "{mode}: {cpu:?} of CPU in 3 s"
        );
        let warnings = json_lines(&function)
            .into_iter()
            .filter(|line| line["level"] == "WARN")
            .count();
        assert!(
            (1..=2).contains(&warnings),
            "{mode}: {warnings} warnings in 3 s: {:#?}",
            function.logs()
        );
    }
}

/// The connection drops while the function posts its answer: lambda_runtime, one at a time,
/// returned that error from its loop and the process ended (the next request a cold start).
/// Now it is a warning, and the next invocation is served by the same process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_answer_does_not_end_the_process() {
    let world = World::demo().await;
    let (runtime, mut function) = world.deploy("list-bookings", &[]).await;
    let list = || list_event(DEMO_CUSTOMER).query("page_size=1").json();
    assert_eq!(runtime.invoke(list()).await.response()["statusCode"], 200);

    runtime.drop_responses(1);
    let lost = tokio::time::timeout(Duration::from_secs(2), runtime.invoke(list())).await;
    assert!(lost.is_err(), "the dropped answer never arrived");

    assert_eq!(runtime.invoke(list()).await.response()["statusCode"], 200);
    assert!(
        function.child.try_wait().unwrap().is_none(),
        "the same process serves on"
    );
    assert_eq!(
        world.sandbox.counters().token_exchanges,
        1,
        "and keeps its token"
    );
    let warned = json_lines(&function).into_iter().any(|line| {
        line["level"] == "WARN"
            && line["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("did not reach the Runtime API"))
    });
    assert!(warned, "{:#?}", function.logs());
}
