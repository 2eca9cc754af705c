//! HTTPS to OmniLab, as production runs it: the sandbox serves TLS under a tenant's
//! host name (`acme.api.omnilab-dev.21-digital.com`, resolved to loopback by the client alone),
//! with a certificate made for the test; the app is configured as the template configures it
//! (tenant and environment) and trusts the test's authority through the `test-tls` feature.
//! Everything else is the production path: rustls with aws-lc, ALPN offering `h2` then
//! `http/1.1`, SNI, reqwest's pool.

use bookings_tests::captured::CapturedLogs;
use bookings_tests::runtime_api::{Function, RuntimeApi};
use bookings_tests::tls::{TENANT_HOST, TlsWorld};
use bookings_tests::{DEMO_CUSTOMER, World, demo_start, quick_policy};
use sandbox::gateway::Event;
use sandbox::tls::{Presented, Protocols};
use sandbox::{BookingStatus, Fault, SandboxData, booking_uuid};

use bookings::config::UpstreamPolicy;

const BOTH: [(Protocols, &str); 2] = [
    (Protocols::H2AndHttp11, "h2"),
    (Protocols::Http11Only, "http/1.1"),
];

/// 420 bookings that OmniLab serves 50 a page: `all=true` fetches page 1, then 8 at once.
fn many_pages() -> SandboxData {
    SandboxData::demo(demo_start()).with_many("many-bookings", 420, demo_start())
}

/// What `all=true` over [`many_pages`] answers over plain HTTP: the reference for HTTPS.
async fn all_pages_over_plain_http() -> bookings_tests::Answer {
    let plain = World::with(many_pages(), UpstreamPolicy::default()).await;
    plain.sandbox.set_max_page_size(50);
    plain.list("many-bookings", "all=true").await
}

async fn world(data: SandboxData, protocols: Protocols) -> TlsWorld {
    TlsWorld::new(data, UpstreamPolicy::default(), Presented::Valid, protocols).await
}

#[tokio::test]
async fn a_list_over_h2_and_over_http_1_1_answers_as_over_plain_http() {
    let plain = World::demo().await;
    let expected = plain.list(DEMO_CUSTOMER, "booking_status=CONFIRMED").await;
    assert_eq!(expected.status, 200, "{}", expected.raw);
    for (protocols, protocol) in BOTH {
        let tls = world(SandboxData::demo(demo_start()), protocols).await;
        let answer = tls
            .world
            .list(DEMO_CUSTOMER, "booking_status=CONFIRMED")
            .await;
        assert_eq!(answer.status, 200, "{protocol}: {}", answer.raw);
        assert_eq!(answer.body, expected.body, "{protocol}");
        let connections = tls.served.connections();
        assert_eq!(connections.len(), 1, "{protocol}: {connections:?}");
        assert_eq!(
            connections[0].server_name.as_deref(),
            Some(TENANT_HOST),
            "SNI names the tenant's host"
        );
        assert_eq!(connections[0].protocol.as_deref(), Some(protocol));
        assert_eq!(
            connections[0].requests, 2,
            "the token exchange and the fetch"
        );
    }
}

#[tokio::test]
async fn all_true_over_h2_fetches_its_pages_at_once_on_one_connection_in_order() {
    let expected = all_pages_over_plain_http().await;
    assert_eq!(expected.booking_ids().len(), 420);

    for (protocols, protocol) in BOTH {
        let tls = world(many_pages(), protocols).await;
        tls.world.sandbox.set_max_page_size(50);
        // Long enough that pages asked for at once are in flight at once.
        tls.world
            .sandbox
            .set_latency(std::time::Duration::from_millis(40));
        let all = tls.world.list("many-bookings", "all=true").await;
        assert_eq!(all.status, 200, "{protocol}: {}", all.raw);
        assert_eq!(
            all.body, expected.body,
            "{protocol}: the same bookings in order"
        );
        assert_eq!(tls.world.sandbox.counters().fetches, 9);

        let connections = tls.served.connections();
        assert!(
            connections
                .iter()
                .all(|c| c.protocol.as_deref() == Some(protocol)),
            "{connections:?}"
        );
        if protocols == Protocols::H2AndHttp11 {
            assert_eq!(connections.len(), 1, "one handshake: {connections:?}");
            assert_eq!(connections[0].requests, 10, "token and 9 pages");
            assert!(
                connections[0].peak_in_flight >= 2,
                "later pages multiplexed on it: {connections:?}"
            );
        } else {
            // HTTP/1.1 carries one request at a time: the concurrent pages open connections
            // of their own (each a full handshake), and all of them are for the tenant.
            assert!(connections.len() > 1, "{connections:?}");
            assert!(connections.iter().all(|c| c.peak_in_flight == 1));
            assert!(
                connections
                    .iter()
                    .all(|c| c.server_name.as_deref() == Some(TENANT_HOST))
            );
        }
    }
}

#[tokio::test]
async fn a_cancel_over_h2_and_over_http_1_1() {
    for (protocols, protocol) in BOTH {
        let tls = world(SandboxData::demo(demo_start()), protocols).await;
        let id = booking_uuid(1);
        let answer = tls.world.cancel(DEMO_CUSTOMER, &id).await;
        assert_eq!(answer.status, 200, "{protocol}: {}", answer.raw);
        assert_eq!(answer.body["booking_status"], "CANCELLED");
        assert_eq!(
            tls.world.sandbox.status_of(&id),
            Some(BookingStatus::Cancelled)
        );
        let connections = tls.served.connections();
        assert_eq!(connections.len(), 1, "{protocol}: {connections:?}");
        assert_eq!(connections[0].protocol.as_deref(), Some(protocol));
    }
}

#[tokio::test]
async fn warm_requests_reuse_one_connection() {
    for (protocols, protocol) in BOTH {
        let tls = world(SandboxData::demo(demo_start()), protocols).await;
        for _ in 0..5 {
            assert_eq!(
                tls.world.list(DEMO_CUSTOMER, "page_size=5").await.status,
                200
            );
        }
        assert_eq!(
            tls.world
                .cancel(DEMO_CUSTOMER, &booking_uuid(2))
                .await
                .status,
            200
        );
        let connections = tls.served.connections();
        assert_eq!(
            connections.len(),
            1,
            "{protocol}: one handshake for every request: {connections:?}"
        );
        assert_eq!(
            connections[0].requests, 8,
            "the token, 5 fetches, and the cancel's own fetch (is it the customer's?) and cancel"
        );
    }
}

/// A certificate the client must refuse: the request is a 502, OmniLab is never sent anything,
/// the handshake is not retried (it would fail the same way), and the log says what kind of
/// TLS failure it was without a word of the certificate.
async fn refused(presented: Presented, kind: &str) {
    let (captured, _guard) = CapturedLogs::start();
    let tls = TlsWorld::new(
        SandboxData::demo(demo_start()),
        quick_policy(),
        presented,
        Protocols::H2AndHttp11,
    )
    .await;
    let answer = tls.world.list(DEMO_CUSTOMER, "").await;
    answer.assert_problem(502, None);
    assert!(tls.served.connections().is_empty(), "{presented:?}");
    assert_eq!(
        refused_handshakes(&tls, 1).await,
        1,
        "{presented:?}: one handshake, not retried"
    );
    assert_eq!(tls.world.sandbox.counters().token_requests, 0);

    let logs = captured.text();
    let line = logs
        .lines()
        .find(|line| line.contains("upstream failure"))
        .unwrap_or_else(|| panic!("{presented:?}: no failure logged: {logs}"));
    assert!(
        line.contains(&format!("tls: {kind}")),
        "{presented:?}: {line}"
    );
    for text in [logs.as_str(), answer.raw.as_str()] {
        for detail in [
            "another-tenant.example.org",
            "Nobody's root",
            "OmniLab Bookings tests",
            "BEGIN CERTIFICATE",
            "NotValidForName",
            "UnknownIssuer",
        ] {
            assert!(!text.contains(detail), "{presented:?}: {detail} in {text}");
        }
    }
    // The function keeps serving: the failure memory lapses and the next request tries again.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    tls.world
        .list(DEMO_CUSTOMER, "")
        .await
        .assert_problem(502, None);
    assert_eq!(refused_handshakes(&tls, 2).await, 2);
}

/// The sandbox's count of refused handshakes once it reaches `expected` (the server learns of
/// the client's alert a moment after the client has given up), or after two seconds.
async fn refused_handshakes(tls: &TlsWorld, expected: u64) -> u64 {
    for _ in 0..100 {
        if tls.served.refused() >= expected {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tls.served.refused()
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused() {
    refused(
        Presented::ForAnotherHost,
        "the certificate is not valid for OmniLab's host name",
    )
    .await;
}

#[tokio::test]
async fn an_expired_certificate_is_refused() {
    refused(
        Presented::Expired,
        "the certificate has expired or is not valid yet",
    )
    .await;
}

#[tokio::test]
async fn a_certificate_from_an_untrusted_authority_is_refused() {
    refused(
        Presented::Untrusted,
        "the certificate is not from a trusted authority",
    )
    .await;
}

/// A connection broken under `all=true`'s concurrent pages: the pages in flight on it fail, are
/// retried on a new connection (a new handshake) within the deadline, and the answer is whole
/// and in order.
async fn broken_mid_all_true(protocols: Protocols, fault: Fault) {
    let expected = all_pages_over_plain_http().await;
    assert_eq!(expected.booking_ids().len(), 420);

    let tls = world(many_pages(), protocols).await;
    tls.world.sandbox.set_max_page_size(50);
    tls.world
        .sandbox
        .set_latency(std::time::Duration::from_millis(20));
    // The fourth fetch of this contact: page 1 and two later pages have started before it.
    let planned = fault.clone();
    tls.world
        .sandbox
        .set_fault_plan(move |_, n| (n == 4).then(|| planned.clone()));
    let started = std::time::Instant::now();
    let all = tls.world.list("many-bookings", "all=true").await;
    assert_eq!(all.status, 200, "{fault:?}: {}", all.raw);
    assert_eq!(all.body, expected.body, "{fault:?}: whole and in order");
    assert!(
        started.elapsed() < UpstreamPolicy::default().default_budget,
        "within the deadline"
    );
    let connections = tls.served.connections();
    if protocols == Protocols::H2AndHttp11 {
        // At least one new handshake after the break. Sometimes two: the pages retried at once
        // find no connection in the pool, and the client cannot know before ALPN that one h2
        // connection would carry them all, so two may race to open one (the spare idles out).
        assert!(
            connections.len() >= 2
                && connections[1..]
                    .iter()
                    .all(|c| c.protocol.as_deref() == Some("h2")),
            "{fault:?}: the broken connection and the one after it: {connections:?}"
        );
    }
    let requests: u64 = connections.iter().map(|c| c.requests).sum();
    assert!(
        requests > 10,
        "the token, 9 pages and the page fetched again: {connections:?}"
    );
}

#[tokio::test]
async fn a_connection_reset_mid_all_true_is_retried_over_h2() {
    broken_mid_all_true(Protocols::H2AndHttp11, Fault::Reset).await;
}

#[tokio::test]
async fn a_connection_reset_mid_all_true_is_retried_over_http_1_1() {
    broken_mid_all_true(Protocols::Http11Only, Fault::Reset).await;
}

#[tokio::test]
async fn an_h2_goaway_mid_all_true_is_retried() {
    broken_mid_all_true(Protocols::H2AndHttp11, Fault::GoAway).await;
}

/// The compiled binary, as Lambda runs it, over HTTPS: the test-only trust and address come
/// through the two `TEST_ONLY_OMNILAB_*` variables that only a `test-tls` build reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_reaches_omnilab_over_https_and_keeps_its_connection() {
    let tls = world(SandboxData::demo(demo_start()), Protocols::H2AndHttp11).await;
    let runtime = RuntimeApi::start().await;
    let function = Function::spawn("list-bookings", &runtime, &tls.function_env());
    for _ in 0..3 {
        let event = Event::new("GET", "/bookings")
            .customer(DEMO_CUSTOMER)
            .json();
        let response = runtime.invoke(event).await.response();
        assert_eq!(
            response["statusCode"],
            200,
            "{response} {:?}",
            function.logs()
        );
    }
    let connections = tls.served.connections();
    assert_eq!(connections.len(), 1, "{connections:?}");
    assert_eq!(connections[0].protocol.as_deref(), Some("h2"));
    assert_eq!(connections[0].server_name.as_deref(), Some(TENANT_HOST));
    assert_eq!(connections[0].requests, 4);
}

/// The deployed binaries must trust only the Mozilla roots and DNS: the release build (what
/// `sam build` and the pipeline build: no `test-tls`) does not even contain the test-only
/// variables' names. The test builds do, so this check can tell the two apart.
#[test]
fn only_test_builds_can_be_told_to_trust_another_authority() {
    let profile = std::env::var("BOOKINGS_BIN_PROFILE").unwrap_or_else(|_| "debug".into());
    for name in ["list-bookings", "cancel-booking"] {
        let binary = std::fs::read(bookings_tests::runtime_api::binary(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let found = binary
            .windows(b"TEST_ONLY_OMNILAB_".len())
            .any(|w| w == b"TEST_ONLY_OMNILAB_");
        assert_eq!(
            found,
            profile != "release",
            "{name} ({profile}): the test-only TLS variables {}",
            if found {
                "are compiled in"
            } else {
                "are missing"
            }
        );
    }
}
