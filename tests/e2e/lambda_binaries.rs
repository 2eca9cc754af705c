//! The compiled `list-bookings` and `cancel-booking` binaries, through their real Lambda
//! runtime loop, with API Gateway HTTP API events that carry JWT claims.

use std::time::Duration;

use bookings_tests::runtime_api::{Function, Launch, RuntimeApi};
use bookings_tests::{
    DEMO_CUSTOMER, OTHER_CUSTOMER, World, cancel_event, function_env, list_event, max_concurrency,
};
use sandbox::booking_uuid;
use sandbox::gateway::Event;
use serde_json::Value;

fn body_of(response: &Value) -> Value {
    assert_eq!(response["isBase64Encoded"], false, "{response}");
    serde_json::from_str(response["body"].as_str().expect("a text body")).expect("a JSON body")
}

fn request_lines(logs: &[String]) -> Vec<Value> {
    logs.iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["fields"]["message"] == "request")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_bookings_serves_api_gateway_events_through_the_runtime_loop() {
    let world = World::demo().await;
    let (runtime, function) = world.deploy("list-bookings", &[]).await;

    let event = list_event(DEMO_CUSTOMER).query("booking_status=CONFIRMED&language=fr");
    let response = runtime.invoke(event.json()).await.response();
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(response["headers"]["content-type"], "application/json");
    let body = body_of(&response);
    assert_eq!(body["total_count"], 10);
    assert_eq!(
        body["bookings"][0]["activity"]["title"],
        "Photo avec le Père Noël"
    );

    // The same warm process serves on, with no new secret read or token exchange.
    for _ in 0..5 {
        let event = list_event(OTHER_CUSTOMER).query("page_size=1");
        assert_eq!(
            runtime.invoke(event.json()).await.response()["statusCode"],
            200
        );
    }
    let invalid = list_event(DEMO_CUSTOMER).query("page_size=0");
    let invalid = runtime.invoke(invalid.json()).await.response();
    assert_eq!(invalid["statusCode"], 400);
    assert_eq!(
        invalid["headers"]["content-type"],
        "application/problem+json"
    );
    assert_eq!(body_of(&invalid)["field"], "page_size");
    let anonymous = runtime
        .invoke(Event::new("GET", "/bookings").json())
        .await
        .response();
    assert_eq!(anonymous["statusCode"], 401);
    assert_eq!(world.sandbox.counters().token_exchanges, 1);
    assert_eq!(world.sandbox.counters().fetches, 6);

    // One JSON log line per request: route, status, duration, upstream calls.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let logs = function.logs();
    let lines = request_lines(&logs);
    assert_eq!(lines.len(), 8, "{logs:#?}");
    let first = &lines[0]["fields"];
    assert_eq!(first["route"], "GET /bookings");
    assert_eq!(first["status"], 200);
    assert!(first["duration_ms"].as_f64().is_some());
    assert_eq!(
        first["upstream_calls"], 3,
        "secret read, token exchange, one page"
    );
    assert_eq!(
        lines[1]["fields"]["upstream_calls"], 1,
        "warm: one page, nothing else"
    );
    assert_eq!(
        lines[6]["fields"]["upstream_calls"], 0,
        "bad input costs nothing upstream"
    );
    let secret = sandbox::Sandbox::default_credentials().client_secret;
    assert!(
        logs.iter()
            .all(|l| !l.contains(&secret) && !l.contains("sandbox-token-")),
        "{logs:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_booking_cancels_only_the_callers_own_booking() {
    let world = World::demo().await;
    let (runtime, _function) = world.deploy("cancel-booking", &[]).await;

    let cancel = |booking: &str| runtime.invoke(cancel_event(DEMO_CUSTOMER, booking).json());
    let theirs = booking_uuid(13);
    let refused = cancel(&theirs).await.response();
    assert_eq!(refused["statusCode"], 404, "{refused}");
    assert_eq!(world.sandbox.cancel_calls(&theirs), 0);

    let mine = booking_uuid(1);
    let done = cancel(&mine).await.response();
    assert_eq!(done["statusCode"], 200, "{done}");
    assert_eq!(body_of(&done)["booking_status"], "CANCELLED");
    assert_eq!(world.sandbox.cancel_calls(&mine), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_concurrency_shares_one_token_across_concurrent_invocations() {
    let world = World::demo().await;
    let (runtime, _function) = world.deploy("list-bookings", &[max_concurrency("8")]).await;

    let events = (0..32).map(|_| list_event(DEMO_CUSTOMER).json());
    for response in runtime.invoke_all(events).await {
        assert_eq!(response["statusCode"], 200, "{response}");
    }
    assert_eq!(world.sandbox.counters().token_exchanges, 1);
    assert_eq!(world.sandbox.counters().fetches, 32);
}

#[tokio::test]
async fn a_missing_setting_stops_the_function_with_one_line_naming_it() {
    let runtime = RuntimeApi::start().await;
    let mut function = Function::spawn(
        "list-bookings",
        &runtime,
        &[
            ("OMNILAB_TENANT", "example-brand".into()),
            ("OMNILAB_ENVIRONMENT", "staging".into()),
        ],
    );
    let status = tokio::time::timeout(Duration::from_secs(10), function.child.wait())
        .await
        .expect("the function exits")
        .expect("an exit status");
    assert!(!status.success());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let logs = function.logs();
    assert_eq!(logs.len(), 1, "{logs:#?}");
    assert!(logs[0].contains("OMNILAB_ENVIRONMENT"), "{logs:#?}");
    assert!(
        !logs[0].contains("staging"),
        "the value is not echoed: {logs:#?}"
    );
    assert!(runtime.first_poll().is_none(), "it never asked for work");
}

/// The same binaries under cargo-lambda's own Runtime API emulator, a second implementation of
/// that API beside `support::runtime_api`'s, invoked with `cargo lambda invoke` and an event file
/// carrying JWT claims.
///
/// `cargo lambda watch --only-lambda-apis` serves the Runtime API and starts no function; the
/// test starts the binaries the test command built, as the other tests here do. Left to start
/// them itself, `cargo lambda watch` builds them again for the default members alone, whose
/// dependencies resolve with other features than the workspace's: a second build of the whole
/// dependency tree in target/debug (about 0.3 GB and a minute of the test command), and
/// in target/debug, binaries other than those the tests running beside this one start.
///
/// The emulator serves each function under its name (`/.rt/<name>/2018-06-01/runtime/...`) and
/// answers a poll for a function it has no invocation queue for with 204, which a debug build of
/// lambda_runtime polls past: each function starts once its first invocation is on its way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cargo_lambda_emulator_and_invoke_run_both_functions() {
    let world = World::demo().await;
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let emulator_log =
        std::env::temp_dir().join(format!("cargo-lambda-watch-{}.log", std::process::id()));
    let emulator = tokio::process::Command::new("cargo")
        .current_dir(&workspace)
        .args([
            "lambda",
            "watch",
            "--only-lambda-apis",
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
            &port,
        ])
        .stdout(std::fs::File::create(&emulator_log).unwrap())
        .stderr(std::fs::File::create(emulator_log.with_extension("err")).unwrap())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .expect("cargo lambda is installed (scripts/test.sh puts .venv/bin on PATH)");
    let _stop = StopGroup(emulator.id().expect("a pid"));
    let listening = async {
        while tokio::net::TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap()))
            .await
            .is_err()
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), listening)
        .await
        .unwrap_or_else(|_| panic!("no emulator within 30 s; see {}", emulator_log.display()));
    let runtime_api = |function: &str| format!("http://127.0.0.1:{port}/.rt/{function}");

    let dir = std::env::temp_dir().join(format!("bookings-events-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let invoke = |function: &'static str, event: Value| {
        let file = dir.join(format!("{function}.json"));
        std::fs::write(&file, event.to_string()).unwrap();
        let mut command = tokio::process::Command::new("cargo");
        command
            .current_dir(&workspace)
            .args([
                "lambda",
                "invoke",
                function,
                "--invoke-address",
                "127.0.0.1",
                "--invoke-port",
                &port,
            ])
            .arg("--data-file")
            .arg(&file)
            .kill_on_drop(true);
        async move {
            let output = tokio::time::timeout(Duration::from_secs(30), command.output())
                .await
                .unwrap_or_else(|_| panic!("no answer to {function} within 30 s"))
                .expect("cargo lambda invoke runs");
            serde_json::from_slice::<Value>(&output.stdout).unwrap_or_else(|_| {
                panic!(
                    "{function}: not a JSON answer: {}; {}",
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                )
            })
        }
    };
    let env = function_env(&world);

    let festival = list_event(DEMO_CUSTOMER).query("public_keys=winter-festival");
    let listing = tokio::spawn(invoke("list-bookings", festival.json()));
    let lister = Launch::of("list-bookings").at(&runtime_api("list-bookings"), &env);
    let listed = listing.await.expect("the invocation ends");
    assert_eq!(listed["statusCode"], 200, "{listed} {:#?}", lister.logs());
    assert_eq!(body_of(&listed)["total_count"], 5);

    let mine = booking_uuid(2);
    let cancelling = tokio::spawn(invoke(
        "cancel-booking",
        cancel_event(DEMO_CUSTOMER, &mine).json(),
    ));
    let canceller = Launch::of("cancel-booking").at(&runtime_api("cancel-booking"), &env);
    let cancelled = cancelling.await.expect("the invocation ends");
    assert_eq!(
        cancelled["statusCode"],
        200,
        "{cancelled} {:#?}",
        canceller.logs()
    );
    assert_eq!(world.sandbox.cancel_calls(&mine), 1);

    // The warm list-bookings process serves the next invocation.
    let anonymous = invoke("list-bookings", Event::new("GET", "/bookings").json()).await;
    assert_eq!(anonymous["statusCode"], 401, "{anonymous}");
    assert_eq!(
        request_lines(&lister.logs()).len(),
        2,
        "{:#?}",
        lister.logs()
    );
}

/// Stops cargo-lambda's emulator (its process group), however the test ends.
struct StopGroup(u32);

impl Drop for StopGroup {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .arg("--")
            .arg(format!("-{}", self.0))
            .status();
    }
}

/// A claim other than `sub` is a risk the operator must have ruled out (a claim the customer can
/// change lets them read and cancel anyone's bookings): the function says so at start, before
/// any invocation, and then reads the customer from that claim.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_other_than_sub_is_warned_about_at_start() {
    let world = World::demo().await;
    let is_claim_warning = |line: &String| {
        serde_json::from_str::<Value>(line)
            .is_ok_and(|json| json["level"] == "WARN" && line.contains("EXTERNAL_ID_CLAIM"))
    };

    // With `sub`, no such warning.
    let (_runtime, function) = world.deploy("list-bookings", &[]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let logs = function.logs();
    assert!(!logs.iter().any(is_claim_warning), "{logs:#?}");
    drop(function);

    // It starts despite the warning.
    let (runtime, function) = world
        .deploy(
            "list-bookings",
            &[("EXTERNAL_ID_CLAIM", "custom:external_id")],
        )
        .await;
    let until = std::time::Instant::now() + Duration::from_secs(2);
    while !function.logs().iter().any(is_claim_warning) {
        assert!(
            std::time::Instant::now() < until,
            "no WARN line about EXTERNAL_ID_CLAIM before the first invocation: {:#?}",
            function.logs()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let logs = function.logs();
    assert!(
        request_lines(&logs).is_empty(),
        "logged before any invocation: {logs:#?}"
    );
    assert_eq!(
        logs.iter().filter(|l| is_claim_warning(l)).count(),
        1,
        "{logs:#?}"
    );

    // The customer is whoever that claim names, whatever `sub` says.
    let event = list_event(OTHER_CUSTOMER).claim("custom:external_id", DEMO_CUSTOMER);
    let response = runtime.invoke(event.json()).await.response();
    assert_eq!(response["statusCode"], 200, "{response}");
    let asked: Vec<String> = world
        .sandbox
        .received()
        .iter()
        .flat_map(|r| {
            r.values("external_id")
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(asked, [DEMO_CUSTOMER], "{asked:?}");
    let without = runtime
        .invoke(list_event(DEMO_CUSTOMER).json())
        .await
        .response();
    assert_eq!(
        without["statusCode"], 401,
        "`sub` alone is not the configured claim: {without}"
    );
}

/// An external ID with stray whitespace or control characters is refused, never trimmed or
/// passed on: OmniLab would be asked about somebody else, or nobody.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_with_stray_whitespace_or_control_characters_is_a_401_with_no_upstream_call() {
    let world = World::demo().await;
    let (runtime, _list) = world.deploy("list-bookings", &[]).await;
    let (cancel_runtime, _cancel) = world.deploy("cancel-booking", &[]).await;

    let unauthenticated = |response: &Value| {
        assert_eq!(response["statusCode"], 401, "{response}");
        assert_eq!(
            response["headers"]["www-authenticate"], "Bearer",
            "{response}"
        );
        assert_eq!(
            body_of(response)["type"],
            "tag:omnilab-bookings,2026:unauthenticated",
            "{response}"
        );
    };
    let spaced = format!(" {DEMO_CUSTOMER}");
    for claim in [
        spaced.clone(),
        format!("{DEMO_CUSTOMER} "),
        format!("{DEMO_CUSTOMER}\n"),
        "demo\u{0}x".to_owned(),
        // The same id with a zero-width space, and reversed on screen.
        format!("{DEMO_CUSTOMER}\u{200B}"),
        format!("\u{202E}{DEMO_CUSTOMER}"),
    ] {
        let response = runtime.invoke(list_event(&claim).json()).await.response();
        unauthenticated(&response);
    }
    let mine = booking_uuid(1);
    for claim in [spaced, "demo\u{0}x".to_owned()] {
        let event = cancel_event(&claim, &mine).json();
        let response = cancel_runtime.invoke(event).await.response();
        unauthenticated(&response);
    }
    let counters = world.sandbox.counters();
    assert_eq!(counters.fetches, 0, "OmniLab was asked about nobody");
    assert_eq!(counters.cancels, 0);
    assert_eq!(counters.token_requests, 0);
    assert_eq!(world.sandbox.cancel_calls(&mine), 0);

    // The same event with the claim as stored reaches OmniLab: the refusals were the claim's.
    let response = runtime
        .invoke(list_event(DEMO_CUSTOMER).json())
        .await
        .response();
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(world.sandbox.counters().fetches, 1);
}

/// Threads of the function process now (`/proc/<pid>/task`).
fn threads(function: &Function) -> usize {
    let pid = function.child.id().expect("the function runs");
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("its /proc entry")
        .count()
}

/// A classic container (one request at a time) runs on a current-thread runtime; with
/// `AWS_LAMBDA_MAX_CONCURRENCY` above 1 it gets worker threads. Both serve.
#[tokio::test]
async fn a_classic_container_runs_on_one_thread_and_a_concurrent_one_on_workers() {
    let world = World::demo().await;
    let mut counts = Vec::new();
    for concurrency in [None, Some("4")] {
        let settings: Vec<_> = concurrency.map(max_concurrency).into_iter().collect();
        let (runtime, function) = world.deploy("list-bookings", &settings).await;
        let response = runtime
            .invoke(list_event(DEMO_CUSTOMER).json())
            .await
            .response();
        assert_eq!(response["statusCode"], 200, "{concurrency:?}: {response}");
        counts.push(threads(&function));
    }
    let (classic, concurrent) = (counts[0], counts[1]);
    // A current-thread runtime: the main thread, and the blocking pool's threads the clients'
    // DNS lookups and file reads started; a multi-threaded one adds a worker per core.
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    assert!(
        concurrent >= classic + workers,
        "classic {classic} threads, concurrent {concurrent}, {workers} cores"
    );
}
