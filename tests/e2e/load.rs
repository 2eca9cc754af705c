//! Load and faults through the compiled `list-bookings` binary in concurrent mode: 2,000
//! requests while the sandbox fails on a plan, so each request's contract status is known in
//! advance; and a credential rotation in the middle of a run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bookings_tests::runtime_api::Function;
use bookings_tests::{
    DEMO_CUSTOMER, World, attempt_timeout_ms, list_event, max_concurrency, secrets,
};
use sandbox::{ClientCredentials, Fault, Sandbox};
use serde_json::Value;

/// What OmniLab does to one request's fetches, and the status the contract then promises.
#[derive(Clone, Copy, Debug)]
enum Scenario {
    Fine,
    ServerErrorOnce,
    ServerErrorAlways,
    RateLimitedAlways,
    SlowBeyondTimeout,
    DropOnce,
    DropAlways,
    Malformed,
    UnauthorizedOnce,
    UnauthorizedAlways,
}

const SCENARIOS: [Scenario; 10] = [
    Scenario::Fine,
    Scenario::ServerErrorOnce,
    Scenario::ServerErrorAlways,
    Scenario::RateLimitedAlways,
    Scenario::SlowBeyondTimeout,
    Scenario::DropOnce,
    Scenario::DropAlways,
    Scenario::Malformed,
    Scenario::UnauthorizedOnce,
    Scenario::UnauthorizedAlways,
];

impl Scenario {
    fn fault(self, attempt: u32) -> Option<Fault> {
        match (self, attempt) {
            (Self::Fine, _) => None,
            (Self::ServerErrorOnce, 1) => Some(Fault::Status(500)),
            (Self::ServerErrorOnce, _) => None,
            (Self::ServerErrorAlways, _) => Some(Fault::Status(503)),
            (Self::RateLimitedAlways, _) => Some(Fault::RateLimited { retry_after: None }),
            (Self::SlowBeyondTimeout, _) => Some(Fault::Slow(Duration::from_millis(2500))),
            (Self::DropOnce, 1) => Some(Fault::Drop),
            (Self::DropOnce, _) => None,
            (Self::DropAlways, _) => Some(Fault::Drop),
            (Self::Malformed, _) => Some(Fault::Malformed),
            (Self::UnauthorizedOnce, 1) => Some(Fault::Unauthorized),
            (Self::UnauthorizedOnce, _) => None,
            (Self::UnauthorizedAlways, _) => Some(Fault::Unauthorized),
        }
    }

    fn expected_status(self) -> u16 {
        match self {
            Self::Fine | Self::ServerErrorOnce | Self::DropOnce | Self::UnauthorizedOnce => 200,
            Self::ServerErrorAlways
            | Self::DropAlways
            | Self::Malformed
            | Self::UnauthorizedAlways => 502,
            Self::RateLimitedAlways => 503,
            Self::SlowBeyondTimeout => 504,
        }
    }

    fn from_contact(contact: &str) -> Option<Self> {
        let index: usize = contact
            .strip_prefix("load-")?
            .split('-')
            .next()?
            .parse()
            .ok()?;
        SCENARIOS.get(index).copied()
    }
}

fn log_lines(function: &Function) -> Vec<Value> {
    function
        .logs()
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect()
}

fn count(lines: &[Value], message: &str) -> usize {
    lines
        .iter()
        .filter(|l| l["fields"]["message"] == message)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_requests_through_faults_each_get_their_contract_status() {
    let world = World::demo().await;
    world.sandbox.set_fault_plan(|contact, attempt| {
        Scenario::from_contact(contact).and_then(|s| s.fault(attempt))
    });
    let (runtime, function) = world
        .deploy(
            "list-bookings",
            &[attempt_timeout_ms("800"), max_concurrency("16")],
        )
        .await;
    let pid = function.child.id();

    const REQUESTS: usize = 2_000;
    let started = Instant::now();
    let mut peak_after_warmup = 0;
    let mut results = Vec::with_capacity(REQUESTS);
    for wave in 0..(REQUESTS / 200) {
        let calls: Vec<_> = (0..200)
            .map(|i| {
                let n = wave * 200 + i;
                let scenario = SCENARIOS[n % SCENARIOS.len()];
                let runtime = runtime.clone();
                tokio::spawn(async move {
                    let contact = format!("load-{}-{n}", n % SCENARIOS.len());
                    let event = list_event(&contact).query("page_size=10").json();
                    let status = runtime.invoke(event).await.response()["statusCode"]
                        .as_u64()
                        .unwrap_or(0) as u16;
                    (scenario, status)
                })
            })
            .collect();
        for call in calls {
            results.push(call.await.unwrap());
        }
        if wave == 1 {
            peak_after_warmup = function.peak_rss_kb().unwrap_or(0);
        }
    }
    let elapsed = started.elapsed();
    let wrong: Vec<_> = results
        .iter()
        .filter(|(s, status)| s.expected_status() != *status)
        .collect();
    assert!(
        wrong.is_empty(),
        "{} requests got another status, e.g. {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(5)]
    );
    assert_eq!(results.len(), REQUESTS);
    assert_eq!(
        function.child.id(),
        pid,
        "the same process served every request"
    );
    assert!(runtime.init_errors().is_empty());
    let peak_at_end = function.peak_rss_kb().unwrap_or(0);
    assert!(
        peak_at_end <= peak_after_warmup + 4 * 1024,
        "memory grew: {peak_after_warmup} kB -> {peak_at_end} kB"
    );

    tokio::time::sleep(Duration::from_millis(200)).await;
    let lines = log_lines(&function);
    let requests = count(&lines, "request");
    let upstream_calls: u64 = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "request")
        .filter_map(|l| l["fields"]["upstream_calls"].as_u64())
        .sum();
    let retries = count(&lines, "retrying OmniLab call");
    let refreshes = count(
        &lines,
        "OmniLab refused the cached access token; refreshing it",
    );
    println!(
        "load: {requests} requests in {:.1} s, {retries} retries, {refreshes} token refreshes, {upstream_calls} upstream calls, \
         {} token exchanges, peak memory {:.1} MB -> {:.1} MB",
        elapsed.as_secs_f64(),
        world.sandbox.counters().token_exchanges,
        peak_after_warmup as f64 / 1024.0,
        peak_at_end as f64 / 1024.0,
    );
    assert_eq!(requests, REQUESTS);
    assert_eq!(
        refreshes,
        REQUESTS / SCENARIOS.len() * 2,
        "one per 401-once and one per 401-always request"
    );
    assert!(
        retries >= REQUESTS / SCENARIOS.len() * 6,
        "every failing-then-retried request logged its retries"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_rotation_mid_load_loses_no_request() {
    let world = World::demo().await;
    let (runtime, _function) = world.deploy("list-bookings", &[max_concurrency("8")]).await;
    let rotated = ClientCredentials {
        client_secret: "rotated-mid-load".into(),
        ..Sandbox::default_credentials()
    };
    // Eight clients keep requesting until told to stop; the rotation lands in the middle.
    let statuses = Arc::new(std::sync::Mutex::new(Vec::<u64>::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let (runtime, statuses, stop) = (runtime.clone(), statuses.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let event = list_event(DEMO_CUSTOMER).query("page_size=5").json();
                    let status = runtime.invoke(event).await.response()["statusCode"]
                        .as_u64()
                        .unwrap_or(0);
                    statuses.lock().unwrap().push(status);
                }
            })
        })
        .collect();
    let served = || statuses.lock().unwrap().len();
    while served() < 200 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The operator's rotation: the new secret version first, then OmniLab switches over.
    secrets::put(&world.secret_id, &rotated).await;
    world.rotate_upstream(&rotated);
    world.sandbox.revoke_tokens();
    let at_rotation = served();
    while served() < at_rotation + 200 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }
    let statuses = statuses.lock().unwrap().clone();
    assert!(statuses.len() >= 400);
    assert!(
        statuses.iter().all(|s| *s == 200),
        "{:?}",
        statuses.iter().filter(|s| **s != 200).collect::<Vec<_>>()
    );
    assert!(
        world.sandbox.counters().token_exchanges >= 2,
        "the rotation really happened mid-run"
    );
}
