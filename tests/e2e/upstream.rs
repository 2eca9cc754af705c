//! When OmniLab or Secrets Manager misbehave: the right status, a log line, and the function
//! keeps serving. Also the token and secret are fetched as rarely as the reference page asks.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bookings::Route;
use bookings_tests::captured::CapturedLogs;
use bookings_tests::{DEMO_CUSTOMER, World, handle, list_event, secrets};
use sandbox::{ClientCredentials, Endpoint, Fault, Sandbox, booking_uuid};

/// The demo customer's list is a `status` problem, and the next one is served again: no
/// failure upstream stops the function.
async fn fails_then_serves(world: &World, status: u16) {
    let answer = world.list(DEMO_CUSTOMER, "").await;
    answer.assert_problem(status, None);
    assert_eq!(world.list(DEMO_CUSTOMER, "").await.status, 200);
}

/// Asserts how many lists OmniLab has served so far (a failure injected in a list's place is
/// not one), and why that many.
#[track_caller]
fn assert_fetched(world: &World, fetches: u64, why: &str) {
    assert_eq!(world.sandbox.counters().fetches, fetches, "{why}");
}

#[tokio::test]
async fn warm_requests_reuse_one_secret_read_and_one_token() {
    let world = World::demo().await;
    for _ in 0..25 {
        assert_eq!(world.list(DEMO_CUSTOMER, "").await.status, 200);
    }
    assert_eq!(world.app.stats().secret_reads, 1);
    assert_eq!(world.app.stats().token_exchanges, 1);
    assert_eq!(world.sandbox.counters().token_exchanges, 1);
    assert_fetched(&world, 25, "one a request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_cold_requests_cause_one_exchange() {
    let world = Arc::new(World::demo().await);
    let requests: Vec<_> = (0..20)
        .map(|_| {
            let world = world.clone();
            tokio::spawn(async move { world.list(DEMO_CUSTOMER, "").await.status })
        })
        .collect();
    for request in requests {
        assert_eq!(request.await.unwrap(), 200);
    }
    assert_eq!(world.sandbox.counters().token_exchanges, 1);
    assert_eq!(world.app.stats().secret_reads, 1);
}

#[tokio::test]
async fn a_401_discards_the_token_and_retries_once() {
    let world = World::demo().await;
    assert_eq!(world.list(DEMO_CUSTOMER, "").await.status, 200);
    world.sandbox.revoke_tokens();
    let answer = world.list(DEMO_CUSTOMER, "").await;
    assert_eq!(answer.status, 200, "{}", answer.raw);
    assert_eq!(world.sandbox.counters().token_exchanges, 2);
    assert_fetched(&world, 3, "the refused call, then its one retry");
    assert_eq!(
        world.app.stats().secret_reads,
        1,
        "the credentials were fine"
    );

    // A token refused even when fresh is an upstream fault, not a loop.
    world.sandbox.inject(Endpoint::Fetch, Fault::Unauthorized);
    world.sandbox.inject(Endpoint::Fetch, Fault::Unauthorized);
    world
        .list(DEMO_CUSTOMER, "")
        .await
        .assert_problem(502, None);
    assert_eq!(
        world.list(DEMO_CUSTOMER, "").await.status,
        200,
        "and it keeps serving"
    );
}

#[tokio::test]
async fn an_expiring_token_is_refreshed_before_it_lapses() {
    let world = World::demo().await;
    world.sandbox.set_token_lifetime(1);
    assert_eq!(world.list(DEMO_CUSTOMER, "").await.status, 200);
    tokio::time::sleep(Duration::from_millis(950)).await;
    assert_eq!(world.list(DEMO_CUSTOMER, "").await.status, 200);
    assert_eq!(world.sandbox.counters().token_exchanges, 2);
    assert_fetched(&world, 2, "no request was sent with the lapsing token");
}

#[tokio::test]
async fn rotated_credentials_are_read_again_once() {
    let world = World::demo().await;
    assert_eq!(world.list(DEMO_CUSTOMER, "").await.status, 200);
    let rotated = ClientCredentials {
        client_secret: "rotated-secret".into(),
        ..Sandbox::default_credentials()
    };
    // The operator rotates: OmniLab accepts only the new secret, Secrets Manager holds it.
    world.rotate_upstream(&rotated);
    secrets::put(&world.secret_id, &rotated).await;
    world.sandbox.revoke_tokens();

    let answer = world.list(DEMO_CUSTOMER, "").await;
    assert_eq!(answer.status, 200, "{}", answer.raw);
    assert_eq!(world.app.stats().secret_reads, 2);
    assert_eq!(world.list(DEMO_CUSTOMER, "").await.status, 200);
    assert_eq!(world.app.stats().secret_reads, 2, "and kept again");
}

/// The demo world once OmniLab accepts only a client secret that Secrets Manager does not hold:
/// the stored credentials are rejected for good.
async fn omnilab_rejecting_the_stored_secret() -> World {
    let world = World::demo().await;
    world.rotate_upstream(&ClientCredentials {
        client_secret: "only-omnilab-knows".into(),
        ..Sandbox::default_credentials()
    });
    world
}

#[tokio::test]
async fn credentials_rejected_for_good_are_a_502_without_a_loop() {
    let world = omnilab_rejecting_the_stored_secret().await;
    let answer = world.list(DEMO_CUSTOMER, "").await;
    answer.assert_problem(502, None);
    assert_eq!(
        world.sandbox.counters().token_exchanges,
        1,
        "the re-read secret was unchanged: no second try"
    );
    assert_eq!(world.app.stats().secret_reads, 2);
    assert_fetched(&world, 0, "no token, so no list");
}

#[tokio::test]
async fn a_500_then_success_is_retried_for_reads() {
    let world = World::quick().await;
    world.sandbox.inject(Endpoint::Fetch, Fault::Status(500));
    world.sandbox.inject(Endpoint::Fetch, Fault::Status(503));
    let answer = world.list(DEMO_CUSTOMER, "").await;
    assert_eq!(answer.status, 200, "{}", answer.raw);
    assert_fetched(&world, 1, "two injected failures, then the real fetch");
}

#[tokio::test]
async fn persistent_500s_are_a_502_and_the_function_keeps_serving() {
    let world = World::quick().await;
    for _ in 0..3 {
        world.sandbox.inject(Endpoint::Fetch, Fault::Status(500));
    }
    fails_then_serves(&world, 502).await;
}

#[tokio::test]
async fn persistent_429_is_a_503() {
    let world = World::quick().await;
    for _ in 0..3 {
        world
            .sandbox
            .inject(Endpoint::Fetch, Fault::RateLimited { retry_after: None });
    }
    let answer = world.list(DEMO_CUSTOMER, "").await;
    answer.assert_problem(503, None);
    assert_eq!(
        answer.header("retry-after"),
        Some("5"),
        "OmniLab gave no hint: our default wait"
    );
    assert_eq!(world.list(DEMO_CUSTOMER, "").await.status, 200);
}

#[tokio::test]
async fn retry_after_is_honoured_only_when_it_fits_the_deadline() {
    let world = World::quick().await;
    world.sandbox.inject(
        Endpoint::Fetch,
        Fault::RateLimited {
            retry_after: Some(1),
        },
    );
    let started = Instant::now();
    assert_eq!(world.list(DEMO_CUSTOMER, "").await.status, 200);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "it waited as OmniLab asked"
    );

    // Three minutes do not fit in a three-second budget: give up at once.
    world.sandbox.inject(
        Endpoint::Fetch,
        Fault::RateLimited {
            retry_after: Some(180),
        },
    );
    let started = Instant::now();
    let answer = world.list(DEMO_CUSTOMER, "").await;
    answer.assert_problem(503, None);
    assert!(started.elapsed() < Duration::from_secs(1));
    // OmniLab's three minutes are passed on, bounded: a customer's page is told a minute.
    assert_eq!(answer.header("retry-after"), Some("60"));

    // A hint that fits the bound is passed on as OmniLab gave it.
    for _ in 0..3 {
        world.sandbox.inject(
            Endpoint::Fetch,
            Fault::RateLimited {
                retry_after: Some(7),
            },
        );
    }
    let answer = world.list(DEMO_CUSTOMER, "").await;
    answer.assert_problem(503, None);
    assert_eq!(answer.header("retry-after"), Some("7"));
}

#[tokio::test]
async fn a_slow_upstream_is_a_504_within_the_deadline() {
    let world = World::quick().await;
    assert_eq!(world.list(DEMO_CUSTOMER, "").await.status, 200);
    world
        .sandbox
        .inject(Endpoint::Fetch, Fault::Slow(Duration::from_secs(5)));
    let started = Instant::now();
    world
        .list(DEMO_CUSTOMER, "")
        .await
        .assert_problem(504, None);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(world.list(DEMO_CUSTOMER, "").await.status, 200);
}

#[tokio::test]
async fn malformed_json_is_a_502() {
    let world = World::quick().await;
    world.sandbox.inject(Endpoint::Fetch, Fault::Malformed);
    fails_then_serves(&world, 502).await;
}

#[tokio::test]
async fn a_dropped_connection_is_retried_then_a_502_and_serving_goes_on() {
    let world = World::quick().await;
    world.sandbox.inject(Endpoint::Fetch, Fault::Drop);
    assert_eq!(
        world.list(DEMO_CUSTOMER, "").await.status,
        200,
        "one drop mid-body is retried"
    );
    for _ in 0..3 {
        world.sandbox.inject(Endpoint::Fetch, Fault::Drop);
    }
    fails_then_serves(&world, 502).await;
}

#[tokio::test]
async fn a_failed_cancel_is_not_repeated() {
    let world = World::quick().await;
    let id = booking_uuid(1);
    world.sandbox.inject(Endpoint::Cancel, Fault::Status(500));
    world
        .cancel(DEMO_CUSTOMER, &id)
        .await
        .assert_problem(502, None);
    assert_eq!(
        world.sandbox.counters().cancels,
        0,
        "the injected 500 answered the only attempt"
    );
    assert_eq!(world.cancel(DEMO_CUSTOMER, &id).await.status, 200);
    assert_eq!(world.sandbox.cancel_calls(&id), 1);
}

#[tokio::test]
async fn a_missing_secret_is_a_clear_failure_not_a_crash() {
    let world = World::demo().await;
    let list = |app: bookings::App| async move {
        handle(&app, Route::ListBookings, list_event(DEMO_CUSTOMER)).await
    };
    list(world.app_with_secret("omnilab/does-not-exist"))
        .await
        .assert_problem(503, None);

    let malformed = format!("omnilab/malformed-{}", std::process::id());
    let malformed = secrets::create_raw(&malformed, "not json").await;
    list(world.app_with_secret(&malformed))
        .await
        .assert_problem(500, None);
    assert_eq!(world.sandbox.counters(), Default::default());
}

#[tokio::test]
async fn no_secret_token_or_upstream_body_in_any_answer_or_log_line() {
    let (captured, _guard) = CapturedLogs::start();

    let world = World::quick().await;
    let mut answers = Vec::new();
    answers.push(world.list(DEMO_CUSTOMER, "").await);
    world.sandbox.revoke_tokens();
    answers.push(world.list(DEMO_CUSTOMER, "").await);
    for fault in [Fault::Status(500), Fault::Status(500), Fault::Status(500)] {
        world.sandbox.inject(Endpoint::Fetch, fault);
    }
    answers.push(world.list(DEMO_CUSTOMER, "").await);
    world.sandbox.inject(Endpoint::Fetch, Fault::Status(400));
    answers.push(world.list(DEMO_CUSTOMER, "").await);
    world.sandbox.inject(Endpoint::Fetch, Fault::Malformed);
    answers.push(world.list(DEMO_CUSTOMER, "").await);
    answers.push(world.cancel(DEMO_CUSTOMER, &booking_uuid(1)).await);
    world.rotate_upstream(&ClientCredentials {
        client_secret: "never-stored-anywhere".into(),
        ..Sandbox::default_credentials()
    });
    world.sandbox.revoke_tokens();
    answers.push(world.list(DEMO_CUSTOMER, "").await);
    assert_eq!(
        answers.iter().map(|a| a.status).collect::<Vec<_>>(),
        vec![200, 200, 502, 502, 502, 200, 502]
    );

    let logs = captured.text();
    assert!(
        logs.contains("upstream failure"),
        "failures are logged: {logs}"
    );
    assert!(logs.contains("status=502"), "{logs}");
    let secret = Sandbox::default_credentials().client_secret;
    for (what, text) in std::iter::once(("logs", logs.as_str()))
        .chain(answers.iter().map(|a| ("answer", a.raw.as_str())))
    {
        assert!(!text.contains(&secret), "client secret in {what}: {text}");
        assert!(
            !text.contains("never-stored-anywhere"),
            "client secret in {what}"
        );
        assert!(
            !text.contains("sandbox-token-"),
            "access token in {what}: {text}"
        );
        assert!(
            !text.contains("invalid_client") && !text.contains("injected"),
            "upstream body in {what}: {text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_concurrent_requests_during_a_token_outage_share_one_failed_exchange() {
    let world = Arc::new(World::quick().await);
    for _ in 0..40 {
        world.sandbox.inject(Endpoint::Token, Fault::Status(503));
    }
    let requests: Vec<_> = (0..10)
        .map(|_| {
            let world = world.clone();
            tokio::spawn(async move { world.list(DEMO_CUSTOMER, "").await })
        })
        .collect();
    for request in requests {
        request.await.unwrap().assert_problem(502, None);
    }
    assert_eq!(
        world.sandbox.counters().token_requests,
        3,
        "one exchange and its two retries, whose failure every waiting request shared"
    );
    // The failure is remembered only briefly: once OmniLab is back, so are we.
    world.sandbox.clear_faults();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(world.list(DEMO_CUSTOMER, "").await.status, 200);
}

#[tokio::test]
async fn a_rate_limited_token_endpoint_is_left_alone_for_its_retry_after() {
    let world = World::quick().await;
    for _ in 0..3 {
        world.sandbox.inject(
            Endpoint::Token,
            Fault::RateLimited {
                retry_after: Some(2),
            },
        );
    }
    world
        .list(DEMO_CUSTOMER, "")
        .await
        .assert_problem(503, None);
    let calls = world.sandbox.counters().token_requests;
    world.sandbox.clear_faults();
    // Within OmniLab's Retry-After, nobody asks again.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    world
        .list(DEMO_CUSTOMER, "")
        .await
        .assert_problem(503, None);
    assert_eq!(world.sandbox.counters().token_requests, calls);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(world.list(DEMO_CUSTOMER, "").await.status, 200);
}

#[tokio::test]
async fn any_expires_in_is_survived() {
    for expires_in in [
        serde_json::json!(18446744073709551615u64),
        serde_json::json!(1e300),
        serde_json::json!(-3600),
        serde_json::json!(0.5),
    ] {
        let world = World::demo().await;
        world.sandbox.set_expires_in(expires_in.clone());
        for _ in 0..2 {
            let answer = world.list(DEMO_CUSTOMER, "").await;
            assert_eq!(
                answer.status, 200,
                "expires_in {expires_in}: {}",
                answer.raw
            );
        }
    }
}

#[tokio::test]
async fn the_templates_placeholder_secret_is_a_503_until_it_is_filled_in() {
    let world = World::demo().await;
    let name = format!("omnilab/placeholder-{}", std::process::id());
    let placeholder = secrets::create_raw(
        &name,
        r#"{"client_id":"REPLACE_ME","client_secret":"REPLACE_ME","audience":"REPLACE_ME"}"#,
    )
    .await;
    let app = world.app_with_secret(&placeholder);
    let list = || handle(&app, Route::ListBookings, list_event(DEMO_CUSTOMER));
    let answer = list().await;
    answer.assert_problem(503, None);
    assert_eq!(
        answer.body["type"],
        "tag:omnilab-bookings,2026:not-configured"
    );
    // An operator has to act: asking again in seconds would help nobody.
    assert_eq!(answer.header("retry-after"), Some("300"));
    assert_eq!(
        world.sandbox.counters().token_requests,
        0,
        "nothing sent to OmniLab"
    );

    // The operator fills it in. The placeholder is not re-read on every request meanwhile...
    secrets::put(&placeholder, &Sandbox::default_credentials()).await;
    for _ in 0..5 {
        list().await.assert_problem(503, None);
    }
    assert_eq!(app.stats().secret_reads, 1);
    // ...but a few seconds later it takes effect, with no redeploy.
    tokio::time::sleep(Duration::from_millis(5100)).await;
    let answer = list().await;
    assert_eq!(answer.status, 200, "{}", answer.raw);
    assert_eq!(app.stats().secret_reads, 2);
}

#[tokio::test]
async fn rejected_credentials_are_not_retried_on_every_request() {
    let world = omnilab_rejecting_the_stored_secret().await;
    for _ in 0..10 {
        world
            .list(DEMO_CUSTOMER, "")
            .await
            .assert_problem(502, None);
    }
    assert_eq!(
        world.sandbox.counters().token_requests,
        1,
        "a misconfigured deployment does not turn every request into a token call"
    );
    assert_eq!(world.app.stats().secret_reads, 2, "nor into a secret read");
}
