//! Deadlines and shared waits, through the compiled binaries, under the Runtime API harness
//! with real `Lambda-Runtime-Deadline-Ms` headers, moto's Secrets Manager and the sandbox over
//! HTTP:
//!
//! - no wait outlives the waiting request's own deadline: not a token exchange, a secret read
//!   or a cancel that another, more patient request has in flight;
//! - a failed token exchange is shared by the requests that waited for it;
//! - the template's placeholder secret is a 503 `not-configured`, logged for the operator, until
//!   the secret is filled in (no restart).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bookings_tests::runtime_api::{Function, RuntimeApi, problem_body};
use bookings_tests::{
    DEMO_CUSTOMER, World, attempt_timeout_ms, cancel_event, list_event, max_concurrency, secrets,
};
use sandbox::{BookingStatus, Endpoint, Fault, Sandbox, booking_uuid};
use serde_json::{Value, json};

const TIMEOUT_TYPE: &str = "tag:omnilab-bookings,2026:upstream-timeout";
const NOT_CONFIGURED_TYPE: &str = "tag:omnilab-bookings,2026:not-configured";

/// The demo customer's `GET /bookings`.
fn list() -> Value {
    list_event(DEMO_CUSTOMER).json()
}

/// The demo customer's cancel of `booking`.
fn cancel(booking: &str) -> Value {
    cancel_event(DEMO_CUSTOMER, booking).json()
}

fn status_of(response: &Value) -> u16 {
    response["statusCode"].as_u64().expect("a status code") as u16
}

/// Waits until `ready` holds, for at most `limit`.
async fn wait_for(what: &str, limit: Duration, ready: impl Fn() -> bool) {
    let until = Instant::now() + limit;
    while !ready() {
        assert!(Instant::now() < until, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// 1. No wait outlives the waiting request's own deadline.

/// The acceptance bound: a request with a 2 s deadline answers within this of being sent.
const SHORT_DEADLINE: Duration = Duration::from_secs(2);
const SHORT_ANSWER_BOUND: Duration = Duration::from_millis(2500);

/// Four requests at a time, each attempt allowed 9 s: a slow step of A's succeeds, and only
/// B's own deadline can end B's wait for it.
const RACING: [(&str, &str); 2] = [max_concurrency("4"), attempt_timeout_ms("9000")];

/// The deadline of a request with time to spare.
const PATIENT_DEADLINE: Duration = Duration::from_secs(10);

/// Sends `event` with `deadline`: its answer, and how long that took from being sent.
async fn timed(runtime: &RuntimeApi, event: Value, deadline: Duration) -> (Value, Duration) {
    let sent = Instant::now();
    let response = runtime
        .invoke_with_deadline(event, deadline)
        .await
        .response();
    (response, sent.elapsed())
}

/// [`timed`] in a task of its own, for a test that goes on while that request waits.
fn timed_in_background(
    runtime: &Arc<RuntimeApi>,
    event: Value,
    deadline: Duration,
) -> tokio::task::JoinHandle<(Value, Duration)> {
    let runtime = runtime.clone();
    tokio::spawn(async move { timed(&runtime, event, deadline).await })
}

/// A patient request A (10 s deadline) and a short one B (2 s), one after the other.
struct Race {
    /// A's answer and how long it took, once A is done.
    a: tokio::task::JoinHandle<(Value, Duration)>,
    b: Value,
    b_took: Duration,
}

/// Sends A, waits until `a_is_inside` says A holds the slow step and `settle` more, then sends
/// B, which needs the same step. Returns once B has answered; A may still be running.
async fn race(
    runtime: &Arc<RuntimeApi>,
    event: impl Fn() -> Value,
    step: &str,
    a_is_inside: impl Fn() -> bool,
    settle: Duration,
) -> Race {
    let a = timed_in_background(runtime, event(), PATIENT_DEADLINE);
    wait_for(step, Duration::from_secs(5), a_is_inside).await;
    tokio::time::sleep(settle).await;

    let (b, b_took) = timed(runtime, event(), SHORT_DEADLINE).await;
    eprintln!("B answered {} after {b_took:?}", status_of(&b));
    Race { a, b, b_took }
}

impl Race {
    /// Waits for A, which had time for its slow `step`: a 200. Returns how long A took.
    async fn a_is_served(self, step: &str) -> Duration {
        let (a, took) = self.a.await.expect("A's task");
        assert_eq!(status_of(&a), 200, "A had time for its slow {step}: {a}");
        took
    }

    /// B answered the timeout problem at its own deadline rather than waiting out A's `step`.
    fn assert_b_gave_up_at_its_deadline(&self, step: &str) {
        let body = problem_body(&self.b, 504..=504);
        assert_eq!(body["type"], TIMEOUT_TYPE, "{body}");
        assert!(
            self.b_took < SHORT_ANSWER_BOUND,
            "B (2 s deadline) answered after {:?}: it waited for {step}",
            self.b_took
        );
    }
}

/// The demo world, where OmniLab's `endpoint` takes `delay` to answer its next `times` requests.
async fn slow_at(endpoint: Endpoint, delay: Duration, times: usize) -> World {
    let world = World::demo().await;
    for _ in 0..times {
        world.sandbox.inject(endpoint, Fault::Slow(delay));
    }
    world
}

/// Request A (10 s deadline) is in the middle of a token exchange that takes 8 s; request B
/// (2 s deadline) needs the same token and waits for that exchange, as single flight says, but
/// only until its own deadline: a 504 within about 2 s, not after A's 8 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_deadline_does_not_wait_out_a_longer_requests_token_exchange() {
    let world = slow_at(Endpoint::Token, Duration::from_secs(8), 4).await;
    // One attempt may take 9 s: A's slow exchange succeeds; nothing but B's deadline ends B's wait.
    let (runtime, function) = world.deploy("list-bookings", &RACING).await;

    // A is inside its exchange once the sandbox holds its token request.
    let race = race(
        &runtime,
        list,
        "A's token request",
        || world.sandbox.counters().token_requests >= 1,
        Duration::from_millis(100),
    )
    .await;
    race.assert_b_gave_up_at_its_deadline("A's exchange");
    assert_eq!(
        world.sandbox.counters().token_requests,
        1,
        "B waited for A's exchange rather than starting its own"
    );

    let a_took = race.a_is_served("exchange").await;
    assert!(
        a_took >= Duration::from_secs(7),
        "A really was held up by the slow token endpoint ({a_took:?}), so B's wait was real"
    );
    assert_eq!(world.sandbox.counters().token_exchanges, 1);
    // The process serves on, on A's token.
    let after = runtime.invoke(list()).await.response();
    assert_eq!(status_of(&after), 200, "{after}");
    assert_eq!(world.sandbox.counters().token_requests, 1);
    drop(function);
}

/// One request alone, a 2 s deadline and a token endpoint that hangs for 8 s with attempts
/// allowed 8 s: the deadline, not the attempt timeout, ends it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_request_with_a_hanging_token_endpoint_answers_504_by_its_deadline() {
    let world = slow_at(Endpoint::Token, Duration::from_secs(8), 4).await;
    let (runtime, _function) = world
        .deploy("list-bookings", &[attempt_timeout_ms("8000")])
        .await;

    let (response, took) = timed(&runtime, list(), SHORT_DEADLINE).await;
    eprintln!("answered {} after {took:?}", status_of(&response));
    let body = problem_body(&response, 504..=504);
    assert_eq!(body["type"], TIMEOUT_TYPE, "{body}");
    assert!(took < SHORT_ANSWER_BOUND, "answered after {took:?}");
    assert_eq!(world.sandbox.counters().token_exchanges, 0);
}

/// A Secrets Manager whose first `GetSecretValue` takes `first_delay`; every call answers the
/// sandbox's credentials. Returns its URL and its call count.
async fn slow_secrets_manager(first_delay: Duration) -> (String, Arc<AtomicUsize>) {
    let body = json!({
        "ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:omnilab/slow-AbCdEf",
        "Name": "omnilab/slow",
        "VersionId": "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111",
        "SecretString": secrets::secret_string(&Sandbox::default_credentials()),
        "VersionStages": ["AWSCURRENT"],
        "CreatedDate": 1_733_745_600,
    });
    secrets::fake_secrets_manager(body.to_string(), first_delay).await
}

/// The settings that have a function read its secret from [`slow_secrets_manager`] at
/// `endpoint`.
fn the_slow_secret_at(endpoint: &str) -> [(&'static str, &str); 2] {
    [
        ("OMNILAB_SECRET_ID", "omnilab/slow"),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", endpoint),
    ]
}

/// The same for the secret: A's read takes 7 s; B, cold too, waits for that read (one read per
/// container) but answers 504 at its own deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_deadline_does_not_wait_out_a_longer_requests_secret_read() {
    let world = World::demo().await;
    let (endpoint, reads) = slow_secrets_manager(Duration::from_secs(7)).await;
    let mut settings = the_slow_secret_at(&endpoint).to_vec();
    settings.push(max_concurrency("4"));
    let (runtime, _function) = world.deploy("list-bookings", &settings).await;

    let race = race(
        &runtime,
        list,
        "A's secret read",
        || reads.load(Ordering::SeqCst) >= 1,
        Duration::from_millis(100),
    )
    .await;
    race.assert_b_gave_up_at_its_deadline("A's secret read");
    assert_eq!(
        reads.load(Ordering::SeqCst),
        1,
        "B started no read of its own"
    );

    race.a_is_served("read").await;
    assert_eq!(reads.load(Ordering::SeqCst), 1, "one read per container");
}

/// And for a cancel: A's cancel of booking 1 takes 7 s at OmniLab; B cancels the same booking,
/// shares A's cancel in flight (no second upstream cancel), and answers 504 at its deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_deadline_does_not_wait_out_a_longer_requests_cancel_of_the_same_booking() {
    let world = slow_at(Endpoint::Cancel, Duration::from_secs(7), 1).await;
    let (runtime, _function) = world.deploy("cancel-booking", &RACING).await;
    let mine = booking_uuid(1);

    // A has found its booking (one page) and is sending the cancel, which the sandbox holds.
    let race = race(
        &runtime,
        || cancel(&mine),
        "A's ownership check",
        || world.sandbox.counters().fetches >= 1,
        Duration::from_millis(300),
    )
    .await;
    assert_eq!(
        world.sandbox.cancel_calls(&mine),
        0,
        "A's cancel is still held"
    );
    race.assert_b_gave_up_at_its_deadline("A's cancel");
    assert_eq!(
        world.sandbox.counters().fetches,
        2,
        "B checked ownership itself, then waited for A's cancel"
    );

    race.a_is_served("cancel").await;
    assert_eq!(
        world.sandbox.cancel_calls(&mine),
        1,
        "one upstream cancel for both requests"
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Single flight shares failures.

/// Ten cold requests at once while OmniLab's token endpoint answers 503: one exchange (with its
/// retries) fails, and every request waiting for it takes that failure instead of trying its
/// own: three token requests, not thirty. A second later, OmniLab back, the process serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_cold_requests_share_one_failed_token_exchange() {
    let world = World::demo().await;
    for _ in 0..40 {
        world.sandbox.inject(Endpoint::Token, Fault::Status(503));
    }
    let (runtime, _function) = world
        .deploy("list-bookings", &[max_concurrency("10")])
        .await;

    for response in runtime.invoke_all((0..10).map(|_| list())).await {
        problem_body(&response, 500..=599);
    }
    let counters = world.sandbox.counters();
    assert!(
        (1..=3).contains(&counters.token_requests),
        "one exchange with its retries, shared by all ten requests: {} token requests",
        counters.token_requests
    );
    assert_eq!(counters.token_exchanges, 0, "every one was answered 503");
    assert_eq!(counters.fetches, 0, "no token, no fetch");

    // The failure is remembered for a second only: once OmniLab is back, so are we.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    world.sandbox.clear_faults();
    let response = runtime.invoke(list()).await.response();
    assert_eq!(status_of(&response), 200, "{response}");
    assert_eq!(world.sandbox.counters().token_exchanges, 1);
}

// ---------------------------------------------------------------------------------------------
// 3. The template's placeholder secret.

const PLACEHOLDER: &str =
    r#"{"client_id":"REPLACE_ME","client_secret":"REPLACE_ME","audience":"REPLACE_ME"}"#;

/// The ERROR lines of the (JSON) logs.
fn error_lines(logs: &[String]) -> Vec<String> {
    logs.iter()
        .filter(|line| {
            serde_json::from_str::<Value>(line).is_ok_and(|json| json["level"] == "ERROR")
        })
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_placeholder_secret_is_a_503_until_filled_in_without_a_restart() {
    let world = World::demo().await;
    let name = format!(
        "omnilab/placeholder-binary-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    );
    let arn = secrets::create_raw(&name, PLACEHOLDER).await;
    let (runtime, mut function) = world
        .deploy("list-bookings", &[("OMNILAB_SECRET_ID", &arn)])
        .await;

    // The first request reads the secret: the placeholder.
    let first_sent = Instant::now();
    let response = runtime.invoke(list()).await.response();
    let body = problem_body(&response, 503..=503);
    assert_eq!(body["type"], NOT_CONFIGURED_TYPE, "{body}");
    assert_eq!(
        world.sandbox.counters().token_requests,
        0,
        "the placeholder is never sent to OmniLab"
    );
    wait_for(
        "an ERROR line naming the secret",
        Duration::from_secs(2),
        || {
            error_lines(&function.logs())
                .iter()
                .any(|line| line.contains(&arn) && line.contains("put-secret-value"))
        },
    )
    .await;

    // The operator fills it in. For the rest of the 5 s, the process does not re-read it on
    // every request (a re-read would find the real credentials and answer 200)...
    secrets::put(&arn, &Sandbox::default_credentials()).await;
    let mut answers = Vec::new();
    loop {
        let sent = Instant::now();
        let response = runtime.invoke(list()).await.response();
        let took = sent.elapsed();
        let at = sent.duration_since(first_sent);
        let status = status_of(&response);
        answers.push((at, status));
        if status == 200 {
            break;
        }
        let body = problem_body(&response, 503..=503);
        assert_eq!(body["type"], NOT_CONFIGURED_TYPE, "{body}");
        assert!(
            took < Duration::from_millis(500),
            "the remembered placeholder answers at once, not after {took:?}"
        );
        assert!(
            at < Duration::from_millis(6500),
            "still 503 {at:?} after the first read: {answers:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // ...and then takes it, in the same process.
    let (filled_at, _) = *answers.last().expect("an answer");
    assert!(
        filled_at >= Duration::from_millis(4500),
        "the secret was re-read before 5 s had passed: {answers:?}"
    );
    assert!(
        answers.len() >= 10,
        "requests kept coming during the 5 s: {answers:?}"
    );
    assert!(
        function.child.try_wait().expect("a status").is_none(),
        "the same process, not a restart"
    );
    assert_eq!(world.sandbox.counters().token_exchanges, 1);
    let again = runtime.invoke(list()).await.response();
    assert_eq!(status_of(&again), 200, "{again}");
    assert_eq!(
        world.sandbox.counters().token_exchanges,
        1,
        "warm from now on"
    );
}

/// A request with a 2 s deadline, then a patient one (10 s) right behind it: the first runs out
/// of its own time (504), the second is served (200).
async fn a_short_request_times_out_and_a_patient_one_is_served(runtime: &RuntimeApi) {
    let short = runtime
        .invoke_with_deadline(list(), SHORT_DEADLINE)
        .await
        .response();
    assert_eq!(status_of(&short), 504, "{short}");
    let patient = runtime
        .invoke_with_deadline(list(), PATIENT_DEADLINE)
        .await
        .response();
    assert_eq!(status_of(&patient), 200, "{patient}");
}

/// A request that runs out of its own time tells us nothing about OmniLab: the patient
/// request right behind it must still be served, not handed the first one's timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_deadlines_timeout_is_not_shared_with_a_patient_request() {
    let world = slow_at(Endpoint::Token, Duration::from_millis(1800), 1).await;
    let (runtime, _function) = world.deploy("list-bookings", &[]).await;
    a_short_request_times_out_and_a_patient_one_is_served(&runtime).await;
    assert_eq!(
        world.sandbox.counters().token_requests,
        2,
        "the patient request exchanged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_deadlines_secret_timeout_is_not_shared_with_a_patient_request() {
    let world = World::demo().await;
    let (endpoint, reads) = slow_secrets_manager(Duration::from_millis(1800)).await;
    let settings = the_slow_secret_at(&endpoint);
    let (runtime, _function) = world.deploy("list-bookings", &settings).await;
    a_short_request_times_out_and_a_patient_one_is_served(&runtime).await;
    assert_eq!(
        reads.load(Ordering::SeqCst),
        2,
        "the patient request read the secret"
    );
}

// ---------------------------------------------------------------------------------------------
// A shared cancel keeps each caller's own deadline.

/// The cancel-booking binary with managed concurrency, OmniLab taking 3 s to cancel.
async fn a_slow_cancel() -> (World, Arc<RuntimeApi>, Function) {
    let world = slow_at(Endpoint::Cancel, Duration::from_secs(3), 1).await;
    let (runtime, function) = world
        .deploy("cancel-booking", &[max_concurrency("4")])
        .await;
    (world, runtime, function)
}

/// A (2 s deadline) starts the cancel; B (10 s) joins it 0.3 s later. The cancel runs to its
/// own bound, not A's deadline: A answers 504 at its own deadline, B the cancel OmniLab made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_cancel_is_not_cut_short_by_the_first_callers_deadline() {
    let (world, runtime, _function) = a_slow_cancel().await;
    let mine = booking_uuid(1);
    let a = timed_in_background(&runtime, cancel(&mine), SHORT_DEADLINE);
    wait_for("A's ownership check", Duration::from_secs(5), || {
        world.sandbox.counters().fetches >= 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let b = runtime
        .invoke_with_deadline(cancel(&mine), PATIENT_DEADLINE)
        .await
        .response();

    let (a, a_took) = a.await.expect("A's task");
    assert_eq!(status_of(&a), 504, "A ran out of its own time: {a}");
    assert!(a_took < SHORT_ANSWER_BOUND, "A answered after {a_took:?}");
    assert_eq!(status_of(&b), 200, "B got the cancel OmniLab made: {b}");
    assert_eq!(world.sandbox.cancel_calls(&mine), 1, "one upstream cancel");
    assert_eq!(
        world.sandbox.status_of(&mine),
        Some(BookingStatus::Cancelled)
    );
}

/// A (2 s) starts the cancel and gives up; B, sent after A's 504 while OmniLab is still at it,
/// is not handed A's timeout: it waits for the same cancel and answers 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_that_gave_up_does_not_leave_the_next_one_its_timeout() {
    let (world, runtime, _function) = a_slow_cancel().await;
    let mine = booking_uuid(1);
    let a = runtime
        .invoke_with_deadline(cancel(&mine), SHORT_DEADLINE)
        .await
        .response();
    assert_eq!(status_of(&a), 504, "{a}");

    let b = runtime
        .invoke_with_deadline(cancel(&mine), PATIENT_DEADLINE)
        .await
        .response();

    assert_eq!(status_of(&b), 200, "{b}");
    assert_eq!(world.sandbox.cancel_calls(&mine), 1, "one upstream cancel");
}
