//! One OmniLab token for the whole fleet. Several processes of the compiled Lambda
//! binaries, each under a Runtime API of its own as Lambda runs containers, share one table in
//! Amazon's DynamoDB Local (`AWS_ENDPOINT_URL_DYNAMODB`), with moto's Secrets Manager and the
//! OmniLab sandbox over HTTP.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::AttributeValue;
use bookings_tests::dynamodb::{self, TokenTable};
use bookings_tests::faulty_dynamodb::{Fault, FaultyDynamoDb};
use bookings_tests::runtime_api::{Function, Launch, RuntimeApi};
use bookings_tests::{DEMO_CUSTOMER, World, emf, secrets};
use futures_util::future::join_all;
use sandbox::gateway::Event;
use sandbox::{ClientCredentials, Endpoint, Fault as OmniLabFault, Sandbox, booking_uuid};
use serde_json::Value;

/// One Lambda container: a process of `binary` polling a Runtime API of its own.
struct Container {
    runtime: RuntimeApi,
    function: Function,
}

impl Container {
    /// A container of `binary`, once it has asked its Runtime API for work.
    async fn start(binary: &str, env: &[(&str, String)]) -> Self {
        let runtime = RuntimeApi::start().await;
        let function = Function::spawn_ready(binary, &runtime, env).await;
        Self { runtime, function }
    }

    /// Sends one event and returns the status code the function answered.
    async fn invoke(&self, event: Value) -> u16 {
        let response = self.runtime.invoke(event).await.response();
        response["statusCode"].as_u64().expect("a status code") as u16
    }

    /// Lists the demo customer's bookings, which must succeed (`what` names the case, the
    /// logs follow a failure); returns how long the answer took.
    async fn lists_within(&self, limit: Duration, what: &str) -> Duration {
        let sent = Instant::now();
        let status = self.invoke(list()).await;
        let took = sent.elapsed();
        assert_eq!(status, 200, "{what}: {:#?}", self.logs());
        assert!(took < limit, "{what}: {took:?}");
        took
    }

    fn logs(&self) -> Vec<String> {
        self.function.logs()
    }
}

/// The settings the template gives both functions, with the shared table.
fn fleet_env(world: &World, table: &str) -> Vec<(&'static str, String)> {
    vec![
        ("OMNILAB_API_HOST", format!("http://{}", world.sandbox_addr)),
        ("OMNILAB_SECRET_ID", world.secret_id.clone()),
        ("OMNILAB_TOKEN_TABLE", table.to_owned()),
    ]
}

fn with(
    mut env: Vec<(&'static str, String)>,
    key: &'static str,
    value: String,
) -> Vec<(&'static str, String)> {
    env.retain(|(k, _)| *k != key);
    env.push((key, value));
    env
}

fn list() -> Value {
    Event::new("GET", "/bookings")
        .customer(DEMO_CUSTOMER)
        .json()
}

fn cancel(booking: &str) -> Value {
    Event::new("POST", &format!("/bookings/{booking}/cancel"))
        .customer(DEMO_CUSTOMER)
        .json()
}

/// `count` containers, half of each function, started together and ready for work.
async fn fleet(count: usize, env: &[(&str, String)]) -> Vec<Container> {
    let binaries = ["list-bookings", "cancel-booking"];
    join_all((0..count).map(|i| Container::start(binaries[i % 2], env))).await
}

/// The event each container of `fleet()` serves: a list, or a cancel of a booking of its own.
fn event_for(i: usize) -> Value {
    if i.is_multiple_of(2) {
        list()
    } else {
        cancel(&booking_uuid(1 + i as u32 / 2))
    }
}

/// All containers at once, each with its own event; returns the statuses in order.
async fn all_at_once(fleet: &[Container]) -> Vec<u16> {
    join_all(
        fleet
            .iter()
            .enumerate()
            .map(|(i, c)| c.invoke(event_for(i))),
    )
    .await
}

/// What each EMF request document of `container` counted in `metric`, in order.
fn counted(container: &Container, metric: &str) -> Vec<u64> {
    container
        .logs()
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(emf::is_document)
        .filter_map(|document| document.get(metric).and_then(Value::as_u64))
        .collect()
}

fn exchanges(sandbox: &Sandbox) -> u64 {
    sandbox.counters().token_requests
}

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

fn n(value: u128) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn epoch_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis()
}

/// Writes the world's item as something else wrote it: its key and `attributes`, nothing more.
async fn store_item<'a>(
    table: &TokenTable,
    world: &World,
    attributes: impl IntoIterator<Item = (&'a str, AttributeValue)>,
) {
    let mut item: HashMap<String, AttributeValue> = attributes
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
    item.insert("pk".to_owned(), s(&the_key(world)));
    table.put_raw(item).await;
}

/// The table's one item, as text: for checking what it holds and what it never holds.
async fn the_item(table: &TokenTable) -> HashMap<String, AttributeValue> {
    let mut items = table.items().await;
    assert_eq!(items.len(), 1, "one item for the fleet: {items:?}");
    items.remove(0)
}

fn the_key(world: &World) -> String {
    format!("http://{} {}", world.sandbox_addr, world.secret_id)
}

fn require_dynamodb() {
    assert!(
        dynamodb::available(),
        "AWS_ENDPOINT_URL_DYNAMODB is not set: run scripts/test.sh, or scripts/with-emulators.sh cargo test ..."
    );
}

/// A sandbox OmniLab, a secret in moto, and an empty token table of its own.
async fn world_and_table() -> (World, TokenTable) {
    require_dynamodb();
    let world = World::demo().await;
    let table = TokenTable::create().await;
    (world, table)
}

#[tokio::test]
async fn eight_cold_containers_cost_omnilab_one_token_exchange() {
    let (world, table) = world_and_table().await;
    let fleet = fleet(8, &fleet_env(&world, &table.name)).await;

    let statuses = all_at_once(&fleet).await;

    assert_eq!(statuses, vec![200; 8], "every container answers");
    assert_eq!(exchanges(&world.sandbox), 1, "one exchange for the fleet");
    // What the table holds: the token and its times, never the client's id or secret.
    let item = the_item(&table).await;
    let credentials = Sandbox::default_credentials();
    let text = format!("{item:?}");
    assert!(!text.contains(&credentials.client_id) && !text.contains(&credentials.client_secret));
    assert_eq!(item.get("pk"), Some(&s(&the_key(&world))));
    assert!(
        item.get("token")
            .and_then(|t| t.as_s().ok())
            .is_some_and(|t| !t.is_empty())
    );
    assert!(
        !item.contains_key("lease_owner"),
        "the lease was given up: {item:?}"
    );
    // ...and no log line holds the token: only the table's name and outcomes may appear.
    let token = item["token"].as_s().expect("a string");
    for container in &fleet {
        for line in container.logs() {
            assert!(!line.contains(token.as_str()), "{line}");
        }
    }
}

#[tokio::test]
async fn a_container_started_later_reads_no_secret_and_exchanges_nothing() {
    let (world, table) = world_and_table().await;
    let env = fleet_env(&world, &table.name);
    let first = fleet(2, &env).await;
    assert_eq!(all_at_once(&first).await, vec![200, 200]);
    assert_eq!(exchanges(&world.sandbox), 1);

    // A Secrets Manager that would answer, and counts: the new container must not need it.
    let body = serde_json::json!({
        "ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:counted-AbCdEf",
        "Name": "counted",
        "SecretString": secrets::secret_string(&Sandbox::default_credentials()),
    });
    let (counted, reads) = secrets::fake_secrets_manager(body.to_string(), Duration::ZERO).await;
    let later = Container::start(
        "list-bookings",
        &with(env, "AWS_ENDPOINT_URL_SECRETS_MANAGER", counted),
    )
    .await;
    assert_eq!(later.invoke(list()).await, 200);

    assert_eq!(reads.load(Ordering::SeqCst), 0, "no secret read");
    assert_eq!(exchanges(&world.sandbox), 1, "no token exchange");
}

#[tokio::test]
async fn a_revoked_token_is_replaced_once_for_the_whole_fleet() {
    let (world, table) = world_and_table().await;
    let fleet = fleet(6, &fleet_env(&world, &table.name)).await;
    assert_eq!(all_at_once(&fleet).await, vec![200; 6]);
    let before = the_item(&table).await["token"].clone();

    world.sandbox.revoke_tokens();
    let statuses = all_at_once(&fleet).await;

    assert_eq!(statuses, vec![200; 6], "every container recovers");
    assert_eq!(
        exchanges(&world.sandbox),
        2,
        "one new exchange across all containers"
    );
    assert_ne!(
        the_item(&table).await["token"],
        before,
        "the table holds the new token"
    );
}

#[tokio::test]
async fn the_refresh_before_expiry_happens_once_for_the_fleet() {
    require_dynamodb();
    let world = World::demo().await;
    // 2 s tokens are refreshed a tenth early, after 1.8 s.
    world.sandbox.set_token_lifetime(2);
    let table = TokenTable::create().await;
    let fleet = fleet(6, &fleet_env(&world, &table.name)).await;
    assert_eq!(all_at_once(&fleet).await, vec![200; 6]);
    assert_eq!(exchanges(&world.sandbox), 1);

    tokio::time::sleep(Duration::from_millis(1900)).await;
    let statuses = all_at_once(&fleet).await;

    assert_eq!(statuses, vec![200; 6]);
    assert_eq!(
        exchanges(&world.sandbox),
        2,
        "one refresh, not one per container"
    );
}

#[tokio::test]
async fn when_the_lease_holder_dies_another_container_takes_over() {
    let (world, table) = world_and_table().await;
    // A container took the lease for 0.8 s, then died before publishing. (A lease longer than
    // a waiter's patience ends in a token of the waiter's own: see the bad-day tests below.)
    store_item(
        &table,
        &world,
        [
            ("lease_until", n(epoch_ms() + 800)),
            ("lease_owner", s("a-container-that-died")),
        ],
    )
    .await;
    let container = Container::start("list-bookings", &fleet_env(&world, &table.name)).await;

    let waited = container
        .lists_within(Duration::from_millis(1500), "after the dead holder's lease")
        .await;
    assert!(
        waited >= Duration::from_millis(500),
        "waited for the lease to lapse, then exchanged: {waited:?}"
    );
    assert_eq!(exchanges(&world.sandbox), 1);
    assert!(the_item(&table).await.contains_key("token"));
}

#[tokio::test]
async fn an_unreadable_item_is_replaced_and_never_fails_a_request() {
    let (world, table) = world_and_table().await;
    store_item(
        &table,
        &world,
        [
            ("token", n(42)),
            ("refresh_at", s("tomorrow")),
            ("lease_until", s("soon")),
        ],
    )
    .await;
    let container = Container::start("list-bookings", &fleet_env(&world, &table.name)).await;

    assert_eq!(container.invoke(list()).await, 200);

    let item = the_item(&table).await;
    assert!(item["token"].as_s().is_ok(), "repaired: {item:?}");
    assert!(item["refresh_at"].as_n().is_ok(), "repaired: {item:?}");
    // The warning names what was wrong, never what the item held.
    let warnings: Vec<String> = container
        .logs()
        .into_iter()
        .filter(|l| l.contains("the shared token item is unusable"))
        .collect();
    assert_eq!(warnings.len(), 1, "{:#?}", container.logs());
    assert!(
        warnings[0].contains("refresh_at: not a number"),
        "{}",
        warnings[0]
    );
}

/// The table unusable in each way the issue names; `env` breaks it.
async fn answers_quickly_without_the_table(
    world: &World,
    env: Vec<(&'static str, String)>,
) -> Container {
    let container = Container::start("list-bookings", &env).await;
    for attempt in ["first", "second", "third"] {
        container
            .lists_within(Duration::from_millis(1500), attempt)
            .await;
    }
    // Its own token, as before the table existed: one exchange, then the cache.
    assert_eq!(exchanges(&world.sandbox), 1);
    let warnings: Vec<String> = container
        .logs()
        .into_iter()
        .filter(|line| line.contains("shared token table could not be used"))
        .collect();
    assert_eq!(
        warnings.len(),
        1,
        "one warning, not one per request: {warnings:#?}"
    );
    container
}

#[tokio::test]
async fn an_unreachable_table_never_fails_a_request() {
    require_dynamodb();
    let world = World::demo().await;
    let env = with(
        fleet_env(&world, "omnilab-token-unreachable"),
        "AWS_ENDPOINT_URL_DYNAMODB",
        dynamodb::unreachable_endpoint(),
    );
    answers_quickly_without_the_table(&world, env).await;
}

#[tokio::test]
async fn a_table_named_but_absent_never_fails_a_request() {
    require_dynamodb();
    let world = World::demo().await;
    let missing = dynamodb::missing_table_name();
    let container = answers_quickly_without_the_table(&world, fleet_env(&world, &missing)).await;
    let warning = container
        .logs()
        .into_iter()
        .find(|line| line.contains("shared token table could not be used"))
        .expect("a warning");
    assert!(
        warning.contains(&missing) && warning.contains("ResourceNotFoundException"),
        "{warning}"
    );
}

#[tokio::test]
async fn even_at_trace_no_log_line_holds_a_token_the_table_shared() {
    let (world, table) = world_and_table().await;
    let env = fleet_env(&world, &table.name);
    let mut fleet = Vec::new();
    for binary in ["list-bookings", "cancel-booking"] {
        let runtime = RuntimeApi::start().await;
        let function = Launch::of(binary)
            .logs(&[("AWS_LAMBDA_LOG_FORMAT", "JSON"), ("RUST_LOG", "trace")])
            .under(&runtime, &env);
        fleet.push(Container { runtime, function });
    }

    // Every path that touches the table: miss, lease, publish, wait, hit, then a revocation.
    assert_eq!(all_at_once(&fleet).await, vec![200, 200]);
    let first = the_item(&table).await["token"]
        .as_s()
        .expect("a token")
        .clone();
    world.sandbox.revoke_tokens();
    assert_eq!(all_at_once(&fleet).await, vec![200, 200]);
    let second = the_item(&table).await["token"]
        .as_s()
        .expect("a token")
        .clone();
    assert_ne!(first, second);

    let credentials = Sandbox::default_credentials();
    let lines: Vec<String> = fleet.iter().flat_map(Container::logs).collect();
    assert!(
        lines.iter().any(|line| line.contains(r#""level":"DEBUG""#)),
        "the level took effect: {lines:#?}"
    );
    for line in &lines {
        for secret in [&first, &second, &credentials.client_secret] {
            assert!(!line.contains(secret.as_str()), "{line}");
        }
    }
}

// ---- The table on a bad day is never worse than no table ----

/// The most DynamoDB calls one request makes for its token (`fleet::MAX_TABLE_CALLS`); the
/// SDK may repeat a throttled or failed call once.
const MAX_TABLE_CALLS: u32 = 12;

/// `env` with DynamoDB reached through `front`.
fn through(
    env: Vec<(&'static str, String)>,
    front: &FaultyDynamoDb,
) -> Vec<(&'static str, String)> {
    with(env, "AWS_ENDPOINT_URL_DYNAMODB", front.endpoint.clone())
}

/// All containers at once, each with its own event; each answer's status and time.
async fn timed_all_at_once(fleet: &[Container]) -> Vec<(u16, Duration)> {
    join_all(fleet.iter().enumerate().map(|(i, c)| async move {
        let sent = Instant::now();
        let status = c.invoke(event_for(i)).await;
        (status, sent.elapsed())
    }))
    .await
}

/// Every answer is a 200, and none took `limit` or longer.
#[track_caller]
fn assert_all_ok_within(answers: &[(u16, Duration)], limit: Duration, what: &str) {
    assert!(
        answers.iter().all(|(status, _)| *status == 200),
        "{what}: {answers:?}"
    );
    let slowest = answers.iter().map(|(_, took)| *took).max();
    assert!(
        slowest.is_some_and(|slowest| slowest < limit),
        "{what}: slowest {slowest:?}"
    );
}

/// The table's item is sane again: a short string token, times within a day, no lease.
fn assert_repaired(item: &HashMap<String, AttributeValue>, what: &str) {
    let token = item.get("token").and_then(|t| t.as_s().ok());
    assert!(
        token.is_some_and(|t| !t.is_empty() && t.len() < 4096),
        "{what}: the token is not repaired"
    );
    let day_ahead = epoch_ms() + 24 * 3600 * 1000;
    for time in ["refresh_at", "expires_at"] {
        let value = item.get(time).and_then(|t| t.as_n().ok());
        assert!(
            value
                .and_then(|v| v.parse::<u128>().ok())
                .is_some_and(|v| v <= day_ahead),
            "{what}: {time} is {value:?}"
        );
    }
    assert!(!item.contains_key("lease_until"), "{what}: a lease remains");
}

#[tokio::test]
async fn every_kind_of_unusable_item_is_taken_over_and_repaired_by_the_next_request() {
    require_dynamodb();
    let world = World::demo().await;
    let future = || n(epoch_ms() + 600_000);
    let cases: Vec<(&str, Vec<(&str, AttributeValue)>)> = vec![
        (
            "a token of the wrong type",
            vec![("token", n(42)), ("refresh_at", future())],
        ),
        (
            "an empty token",
            vec![("token", s("")), ("refresh_at", future())],
        ),
        (
            "no token but a future refresh time",
            vec![("refresh_at", future())],
        ),
        (
            "a 300 KB token",
            vec![
                ("token", s(&"t".repeat(300 * 1024))),
                ("refresh_at", future()),
            ],
        ),
        (
            "a token that would split a header",
            vec![("token", s("abc\r\nX-Forged: 1")), ("refresh_at", future())],
        ),
        (
            "a refresh time a year ahead",
            vec![
                ("token", s("abc")),
                ("refresh_at", n(epoch_ms() + 365 * 24 * 3600 * 1000)),
            ],
        ),
        (
            "a refresh time of 1e30",
            vec![
                ("token", s("abc")),
                ("refresh_at", AttributeValue::N("1e30".into())),
            ],
        ),
        (
            "a lease of 1e30",
            vec![
                ("lease_until", AttributeValue::N("1e30".into())),
                ("lease_owner", s("x")),
            ],
        ),
        (
            "a lease ten hours long",
            vec![
                ("lease_until", n(epoch_ms() + 10 * 3600 * 1000)),
                ("lease_owner", s("x")),
            ],
        ),
        (
            "a lease that is a list",
            vec![("lease_until", AttributeValue::L(vec![n(1)]))],
        ),
    ];
    let count = cases.len();
    join_all(cases.into_iter().map(|(what, attributes)| {
        let world = &world;
        async move {
            let table = TokenTable::create().await;
            let front = FaultyDynamoDb::start().await;
            store_item(&table, world, attributes).await;
            let env = through(fleet_env(world, &table.name), &front);
            let container = Container::start("list-bookings", &env).await;

            container.lists_within(Duration::from_secs(2), what).await;
            assert!(
                front.total_calls() <= MAX_TABLE_CALLS,
                "{what}: {} DynamoDB calls",
                front.total_calls()
            );
            assert_repaired(&the_item(&table).await, what);
            // Repaired for the next container too: it reads the token and exchanges nothing.
            let next = Container::start("cancel-booking", &env).await;
            assert_eq!(next.invoke(cancel(&booking_uuid(1))).await, 200, "{what}");
        }
    }))
    .await;
    assert_eq!(
        exchanges(&world.sandbox),
        count as u64,
        "one exchange per repaired item"
    );
}

/// Eight cold containers at once, with `operation` meeting `fault` for `lasting` and the token
/// endpoint taking 300 ms: every request answers 200, none slowly, and OmniLab sees at most one
/// exchange per container (what it would see with no table at all).
async fn a_cold_burst_of_eight_survives(operation: &'static str, fault: Fault, lasting: Duration) {
    a_cold_burst_of_eight_costs_at_most(operation, fault, lasting, 8).await;
}

/// [`a_cold_burst_of_eight_survives`], with OmniLab seeing at most `exchanges`.
async fn a_cold_burst_of_eight_costs_at_most(
    operation: &'static str,
    fault: Fault,
    lasting: Duration,
    at_most: u64,
) {
    require_dynamodb();
    let world = World::demo().await;
    for _ in 0..16 {
        world.sandbox.inject(
            Endpoint::Token,
            OmniLabFault::Slow(Duration::from_millis(300)),
        );
    }
    let table = TokenTable::create().await;
    let front = FaultyDynamoDb::start().await;
    let fleet = fleet(8, &through(fleet_env(&world, &table.name), &front)).await;

    front.fail(operation, fault, lasting);
    let answers = timed_all_at_once(&fleet).await;

    let what = format!("{operation} {fault:?} for {lasting:?}");
    println!(
        "{what}: {} exchanges, {} DynamoDB calls",
        exchanges(&world.sandbox),
        front.total_calls()
    );
    assert_all_ok_within(&answers, Duration::from_secs(3), &what);
    assert!(
        exchanges(&world.sandbox) <= at_most,
        "{what}: {} exchanges",
        exchanges(&world.sandbox)
    );
    assert!(
        front.total_calls() <= 8 * 2 * MAX_TABLE_CALLS,
        "{what}: {} DynamoDB calls",
        front.total_calls()
    );
    // One warning of each kind per container, not one per poll.
    for container in &fleet {
        let logs = container.logs();
        let warnings = logs
            .iter()
            .filter(|l| l.contains(r#""level":"WARN""#))
            .count();
        assert!(warnings <= 3, "{what}: {logs:#?}");
    }
}

#[tokio::test]
async fn a_cold_burst_survives_a_throttled_publish() {
    let fault = Fault::Throttle("ProvisionedThroughputExceededException");
    a_cold_burst_of_eight_costs_at_most("PutItem", fault, Duration::from_millis(600), 3).await;
}

#[tokio::test]
async fn a_cold_burst_survives_throttled_leases() {
    let fault = Fault::Throttle("ThrottlingException");
    a_cold_burst_of_eight_survives("UpdateItem", fault, Duration::from_millis(600)).await;
}

#[tokio::test]
async fn a_cold_burst_survives_throttled_reads() {
    let fault = Fault::Throttle("ProvisionedThroughputExceededException");
    a_cold_burst_of_eight_survives("GetItem", fault, Duration::from_millis(600)).await;
}

#[tokio::test]
async fn a_cold_burst_survives_reads_slower_than_their_timeout() {
    let fault = Fault::Delay(Duration::from_millis(1200));
    a_cold_burst_of_eight_survives("GetItem", fault, Duration::from_secs(2)).await;
}

#[tokio::test]
async fn a_cold_burst_survives_publishes_slower_than_their_timeout() {
    let fault = Fault::Delay(Duration::from_millis(1200));
    a_cold_burst_of_eight_survives("PutItem", fault, Duration::from_secs(2)).await;
}

#[tokio::test]
async fn when_the_lease_holder_is_killed_mid_exchange_the_others_go_on_within_a_lease() {
    let (world, table) = world_and_table().await;
    // The first exchange hangs for 3 s: the holder is killed in the middle of it.
    world
        .sandbox
        .inject(Endpoint::Token, OmniLabFault::Slow(Duration::from_secs(3)));
    let env = fleet_env(&world, &table.name);
    let mut holder = Container::start("list-bookings", &env).await;
    let others = fleet(7, &env).await;

    {
        let pending = holder.runtime.invoke(list());
        tokio::pin!(pending);
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            tokio::select! {
                _ = &mut pending => panic!("the holder answered before it was killed"),
                () = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
            // Killed once its token request is on the wire, under the lease.
            let items = table.items().await;
            let leased = items.iter().any(|item| item.contains_key("lease_owner"));
            if leased && world.sandbox.counters().token_requests >= 1 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the holder never exchanged: {items:?}"
            );
        }
    }
    holder
        .function
        .child
        .start_kill()
        .expect("the holder is killed");

    let answers = timed_all_at_once(&others).await;
    // At most a waiter's patience and an exchange, not a Lambda deadline (10 s).
    assert_all_ok_within(&answers, Duration::from_secs(3), "after the kill");
    assert!(
        exchanges(&world.sandbox) <= 8,
        "{} exchanges",
        exchanges(&world.sandbox)
    );
}

#[tokio::test]
async fn a_token_endpoint_down_at_refresh_time_goes_unnoticed_until_expiry() {
    let (world, table) = world_and_table().await;
    // 20 s tokens: a refresh is due from 16 s, the token is sent until 19 s.
    world.sandbox.set_token_lifetime(20);
    let fleet = fleet(4, &fleet_env(&world, &table.name)).await;
    let issued = Instant::now();
    assert_eq!(all_at_once(&fleet).await, vec![200; 4]);
    assert_eq!(exchanges(&world.sandbox), 1);

    // From 18 s on, the token endpoint is down.
    tokio::time::sleep_until((issued + Duration::from_millis(18_000)).into()).await;
    for _ in 0..200 {
        world
            .sandbox
            .inject(Endpoint::Token, OmniLabFault::Status(503));
    }
    let before = exchanges(&world.sandbox);
    let mut rounds = 0;
    while issued.elapsed() < Duration::from_millis(18_800) {
        let answers = timed_all_at_once(&fleet).await;
        assert!(
            answers.iter().all(|(status, _)| *status == 200),
            "round {rounds}: {answers:?}"
        );
        rounds += 1;
    }
    // The first round tries the refresh (up to 1 s of its time): on a busy machine it may be
    // the only one. Every round before expiry answered 200.
    assert!(rounds >= 1, "{rounds} rounds");
    // The refresh was tried, and not once per request: each container tries at most once a
    // second (3 attempts each), whichever of them holds the lease.
    let tried = exchanges(&world.sandbox) - before;
    assert!(
        (1..=4 * 3).contains(&tried),
        "{tried} token requests in {rounds} rounds"
    );
}

#[tokio::test]
async fn omnilab_refusing_every_token_costs_a_bounded_number_of_exchanges() {
    let (world, table) = world_and_table().await;
    let env = fleet_env(&world, &table.name);
    let fleet: Vec<Container> =
        join_all((0..4).map(|_| Container::start("list-bookings", &env))).await;
    let statuses = join_all(fleet.iter().map(|c| c.invoke(list()))).await;
    assert_eq!(statuses, vec![200; 4]);
    let before = exchanges(&world.sandbox);

    for _ in 0..1000 {
        world
            .sandbox
            .inject(Endpoint::Fetch, OmniLabFault::Unauthorized);
    }
    let rounds = 5;
    for _ in 0..rounds {
        let statuses = join_all(fleet.iter().map(|c| c.invoke(list()))).await;
        assert_eq!(statuses, vec![502; 4]);
    }
    let replaced = exchanges(&world.sandbox) - before;
    println!("OmniLab refusing every token: {replaced} exchanges in {rounds} rounds of 4");
    // At most two replacements per round for the whole fleet, never one per refused request:
    // the container that sees the refusal first replaces the token under the lease; the others
    // read the replacement and, when it is refused too (a table's token is not taken for a
    // fresh one: it may have been revoked since it was published), replace it once more.
    assert!(
        (1..=2 * rounds).contains(&replaced),
        "{replaced} token exchanges for {} refused requests in {rounds} rounds",
        rounds * 4
    );
}

// ---- The fleet cold together on a slow or busy day, and a revocation after it ----

/// Two CPU-bound processes beside the fleet, for as long as this lives: a machine as busy as
/// Lambda's hosts can be when containers start together.
struct Busy(Vec<std::process::Child>);

impl Busy {
    fn start() -> Self {
        Self(
            (0..2)
                .map(|_| {
                    std::process::Command::new("sh")
                        .args(["-c", "while :; do :; done"])
                        .spawn()
                        .expect("a busy loop")
                })
                .collect(),
        )
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Eight cold containers at once with a token endpoint slower than `latency`: the holder's
/// exchange is waited for, not raced. (Before, a container that lost the lease race ran out
/// of table calls while waiting and exchanged its own: 8 exchanges at 1.5 s.)
async fn a_slow_token_endpoint_is_shared(latency: Duration, busy: bool, at_most: u64) {
    require_dynamodb();
    let world = World::demo().await;
    for _ in 0..16 {
        world
            .sandbox
            .inject(Endpoint::Token, OmniLabFault::Slow(latency));
    }
    let table = TokenTable::create().await;
    let fleet = fleet(8, &fleet_env(&world, &table.name)).await;
    let _busy = busy.then(Busy::start);

    let answers = timed_all_at_once(&fleet).await;

    let what = format!("token endpoint at {latency:?}, busy machine: {busy}");
    println!(
        "{what}: {} exchanges; slowest answer {:?}",
        exchanges(&world.sandbox),
        answers.iter().map(|(_, took)| *took).max()
    );
    assert_all_ok_within(&answers, latency + Duration::from_secs(3), &what);
    assert!(
        exchanges(&world.sandbox) <= at_most,
        "{what}: {} exchanges",
        exchanges(&world.sandbox)
    );
}

#[tokio::test]
async fn eight_cold_containers_share_one_token_from_a_token_endpoint_that_takes_1_5_s() {
    a_slow_token_endpoint_is_shared(Duration::from_millis(1500), false, 2).await;
}

#[tokio::test]
async fn eight_cold_containers_share_one_token_on_a_busy_machine() {
    a_slow_token_endpoint_is_shared(Duration::from_millis(300), true, 2).await;
}

/// OmniLab revokes every token, twice in a row (a rotation on its side): most containers hold
/// a token that is refused, and the table's token they turn to next was revoked too. Before,
/// that second refusal was taken for "OmniLab refused a freshly issued access token" and
/// answered 502; a container alone would have exchanged and answered 200. Now the table's copy
/// is not taken for fresh: the next token is the fleet's new one or the container's own.
#[tokio::test]
async fn after_omnilab_revokes_every_token_no_request_fails_whatever_token_each_held() {
    let (world, table) = world_and_table().await;
    let fleet = fleet(8, &fleet_env(&world, &table.name)).await;
    assert_eq!(all_at_once(&fleet).await, vec![200; 8]);
    assert_eq!(exchanges(&world.sandbox), 1);

    // The first revocation: one container replaces the fleet's token; the others still hold
    // the old one, and the table the new.
    world.sandbox.revoke_tokens();
    assert_eq!(fleet[0].invoke(event_for(0)).await, 200);
    assert_eq!(exchanges(&world.sandbox), 2);

    // The second, before the others served again.
    world.sandbox.revoke_tokens();
    let statuses = join_all(
        fleet
            .iter()
            .enumerate()
            .skip(1)
            .map(|(i, c)| c.invoke(event_for(i))),
    )
    .await;

    println!(
        "after two revocations: {statuses:?}, {} exchanges in all",
        exchanges(&world.sandbox)
    );
    assert_eq!(
        statuses,
        vec![200; 7],
        "no request fails after a revocation"
    );
    assert!(
        exchanges(&world.sandbox) <= 4,
        "{} exchanges",
        exchanges(&world.sandbox)
    );
    assert_eq!(fleet[0].invoke(event_for(0)).await, 200, "nor later");
}

// ---- A due token serves; a refresh never stands between a request and its answer ----

/// The fleet's token is due (not expired) and the token endpoint hangs. A warm container
/// answers at once with the token in hand; a cold one used to take the lease and exchange with
/// its whole budget: 504 at a 4 s deadline while a valid token sat in the table. Now it refreshes
/// as a warm one does, within a second, and answers with the due token.
#[tokio::test]
async fn a_cold_container_with_the_fleets_due_token_is_served_while_the_token_endpoint_hangs() {
    let (world, table) = world_and_table().await;
    let env = fleet_env(&world, &table.name);
    let warm = Container::start("list-bookings", &env).await;
    assert_eq!(warm.invoke(list()).await, 200);
    assert_eq!(exchanges(&world.sandbox), 1);

    // The item's refresh time passes; its expiry is still an hour away.
    let key = HashMap::from([("pk".to_owned(), s(&the_key(&world)))]);
    table
        .client()
        .update_item()
        .table_name(&table.name)
        .set_key(Some(key))
        .update_expression("SET refresh_at = :past")
        .expression_attribute_values(":past", n(epoch_ms() - 1000))
        .send()
        .await
        .expect("the item made due");
    for _ in 0..10 {
        world
            .sandbox
            .inject(Endpoint::Token, OmniLabFault::Slow(Duration::from_secs(10)));
    }

    let cold = Container::start("cancel-booking", &env).await;
    let sent = Instant::now();
    let response = cold
        .runtime
        .invoke_with_deadline(cancel(&booking_uuid(1)), Duration::from_secs(4))
        .await
        .response();
    let took = sent.elapsed();
    println!(
        "a cold container with a due token: {} in {took:?}",
        response["statusCode"]
    );
    assert_eq!(response["statusCode"], 200, "{response}");
    assert!(took < Duration::from_millis(2500), "{took:?}");
}

/// A 20 s token, a request at 18.65 s (the token is sent until 19 s) and a token endpoint
/// answering 500: the refresh's retries outlast 19 s. The token was usable when the request
/// arrived, and OmniLab still takes it (it lives 20 s): the request is served with it. Before,
/// the token was judged against the clock after the failed refresh, and the request got 502.
#[tokio::test]
async fn a_token_usable_when_the_request_arrived_serves_it_whatever_the_refresh_did() {
    let (world, table) = world_and_table().await;
    world.sandbox.set_token_lifetime(20);
    let container = Container::start("list-bookings", &fleet_env(&world, &table.name)).await;
    let issued = Instant::now();
    assert_eq!(container.invoke(list()).await, 200);

    tokio::time::sleep_until((issued + Duration::from_millis(18_650)).into()).await;
    for _ in 0..50 {
        world
            .sandbox
            .inject(Endpoint::Token, OmniLabFault::Status(500));
    }
    assert_eq!(container.invoke(list()).await, 200);
}

// ---- The table slow or refusing at refresh time: bounded, counted, named, healed ----

fn warnings(container: &Container, containing: &str) -> usize {
    container
        .logs()
        .iter()
        .filter(|line| line.contains(r#""level":"WARN""#) && line.contains(containing))
        .count()
}

/// Every DynamoDB call takes 0.6 s when a 20 s token falls due: the table spends the
/// refresh's second. Before, the warning blamed OmniLab ("did not answer in time"), the table
/// was not put aside, and the next refresh went back to it. Now the table is named, counted and
/// left aside, the token in hand serves, and the next refresh is the container's own exchange.
#[tokio::test]
async fn a_slow_table_at_refresh_time_is_named_counted_and_left_aside() {
    let (world, table) = world_and_table().await;
    world.sandbox.set_token_lifetime(20);
    let front = FaultyDynamoDb::start().await;
    let container = Container::start(
        "list-bookings",
        &through(fleet_env(&world, &table.name), &front),
    )
    .await;
    let issued = Instant::now();
    assert_eq!(container.invoke(list()).await, 200);

    // Due from 16 s: every DynamoDB call now takes 0.6 s.
    tokio::time::sleep_until((issued + Duration::from_millis(16_200)).into()).await;
    for operation in ["GetItem", "UpdateItem", "PutItem"] {
        front.fail(
            operation,
            Fault::Delay(Duration::from_millis(600)),
            Duration::from_secs(30),
        );
    }
    let sent = Instant::now();
    assert_eq!(container.invoke(list()).await, 200);
    assert!(
        sent.elapsed() < Duration::from_millis(1600),
        "{:?}",
        sent.elapsed()
    );
    let calls = front.total_calls();

    // The next request refreshes with the container's own exchange: the table is aside.
    assert_eq!(container.invoke(list()).await, 200);
    assert_eq!(
        front.total_calls(),
        calls,
        "no table call while it is aside"
    );
    assert_eq!(exchanges(&world.sandbox), 2);

    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(counted(&container, "TokenTableFailures"), [0, 1, 0]);
    assert_eq!(
        warnings(&container, "the shared token table could not be used"),
        1
    );
    assert_eq!(
        warnings(&container, "could not be refreshed"),
        0,
        "OmniLab was not to blame: {:#?}",
        container.logs()
    );
}

/// The functions' role may read the table but not write it (a policy mistake): every publish
/// is refused. Before, every exchange cost four table calls and a lease that blocked the other
/// containers, for ever, counted nowhere. Now the refusal is counted and the table left aside:
/// a revocation later costs each container one exchange and no table call.
#[tokio::test]
async fn a_table_that_refuses_writes_is_counted_and_left_aside() {
    let (world, table) = world_and_table().await;
    let front = FaultyDynamoDb::start().await;
    let fleet = fleet(4, &through(fleet_env(&world, &table.name), &front)).await;
    front.fail(
        "PutItem",
        Fault::Refuse("AccessDeniedException"),
        Duration::from_secs(60),
    );

    assert_eq!(all_at_once(&fleet).await, vec![200; 4]);
    assert!(
        exchanges(&world.sandbox) <= 4,
        "{}",
        exchanges(&world.sandbox)
    );

    // Each container meets the refusal at most once, then leaves the table aside (one that lost
    // the lease race and exchanged its own, unpublished, has not met it yet: its next refresh
    // does, in four calls). Before, every exchange cost four calls, round after round.
    let mut rounds = Vec::new();
    for _ in 0..2 {
        world.sandbox.revoke_tokens();
        let before = (exchanges(&world.sandbox), front.total_calls());
        assert_eq!(all_at_once(&fleet).await, vec![200; 4]);
        let after = (exchanges(&world.sandbox), front.total_calls());
        rounds.push((after.0 - before.0, after.1 - before.1));
    }
    println!("a table refusing writes: (exchanges, table calls) per revocation round: {rounds:?}");
    for (exchanged, _) in &rounds {
        assert_eq!(
            *exchanged, 4,
            "one exchange each, as without a table: {rounds:?}"
        );
    }
    assert!(rounds[0].1 <= 4 * 4, "{rounds:?}");
    assert_eq!(
        rounds[1].1, 0,
        "no table call once every container left it aside: {rounds:?}"
    );

    tokio::time::sleep(Duration::from_millis(100)).await;
    let refusals: u64 = fleet
        .iter()
        .flat_map(|c| counted(c, "TokenTableFailures"))
        .sum();
    assert!((1..=4).contains(&refusals), "{refusals} refusals counted");
}

/// An item near DynamoDB's 400 KB limit (an attribute of someone else's): a lease that adds to
/// it is refused for its size. Before, every container backed off and the item was never
/// replaced: sharing off for good. Now it is taken over whole and replaced.
#[tokio::test]
async fn an_item_near_dynamodbs_size_limit_is_replaced() {
    let (world, table) = world_and_table().await;
    // 40 bytes short of the limit (names and values count): a lease's three attributes do not
    // fit in what is left.
    let key = the_key(&world);
    let room = 400 * 1024 - "pk".len() - key.len() - "notes".len() - 40;
    store_item(&table, &world, [("notes", s(&"x".repeat(room)))]).await;
    let env = fleet_env(&world, &table.name);
    let fleet = fleet(2, &env).await;

    assert_eq!(all_at_once(&fleet).await, vec![200, 200]);
    let item = the_item(&table).await;
    assert!(!item.contains_key("notes"), "the item was replaced whole");
    assert_repaired(&item, "after an oversized item");

    let later = Container::start("list-bookings", &env).await;
    let before = exchanges(&world.sandbox);
    assert_eq!(later.invoke(list()).await, 200);
    assert_eq!(exchanges(&world.sandbox), before, "the fleet shares again");
}

// ---- The secret switched to another OmniLab client ----

/// Another OmniLab client than the sandbox's default: what an operator switches the secret to.
fn another_client() -> ClientCredentials {
    ClientCredentials {
        client_id: "another-client".into(),
        client_secret: "another-secret".into(),
        audience: "https://sandbox.omnilab.test".into(),
    }
}

/// The credentials are checked against the secret after a second, the shortest setting.
const CHECKED_EVERY: Duration = Duration::from_millis(1000);

fn checked_every_second(env: Vec<(&'static str, String)>) -> Vec<(&'static str, String)> {
    with(
        env,
        "OMNILAB_CREDENTIALS_MAX_AGE_MS",
        CHECKED_EVERY.as_millis().to_string(),
    )
}

fn text_of<'a>(item: &'a HashMap<String, AttributeValue>, attribute: &str) -> &'a str {
    item[attribute].as_s().expect("a string attribute")
}

/// The operator puts another client's credentials into the secret; OmniLab issues tokens to
/// it, and the old client's tokens stay valid until they expire, as OmniLab's do. Before, the
/// fleet kept the old client's token for its whole life (up to a day): the item is keyed by
/// the secret's name, not by what it holds. Now every token records its client, each container
/// reads the secret again after OMNILAB_CREDENTIALS_MAX_AGE_MS, and the first to see the switch
/// replaces the item: one exchange for the fleet, counted as SharedTokenOtherClient.
#[tokio::test]
async fn a_secret_switched_to_another_client_is_followed_by_the_fleet_within_its_max_age() {
    let (world, table) = world_and_table().await;
    let env = checked_every_second(fleet_env(&world, &table.name));
    let fleet = fleet(2, &env).await;
    assert_eq!(all_at_once(&fleet).await, vec![200, 200]);
    assert_eq!(exchanges(&world.sandbox), 1);
    let before = the_item(&table).await;
    let old_client = text_of(&before, "client").to_owned();
    assert_eq!(old_client.len(), 16, "16 hex digits: {old_client}");
    assert!(
        !old_client.contains("sandbox"),
        "never the client id itself"
    );

    secrets::put(&world.secret_id, &another_client()).await;
    world.rotate_upstream(&another_client());
    tokio::time::sleep(CHECKED_EVERY + Duration::from_millis(200)).await;
    for (i, container) in fleet.iter().enumerate() {
        assert_eq!(container.invoke(event_for(i)).await, 200);
    }

    assert_eq!(
        exchanges(&world.sandbox),
        2,
        "one exchange for the whole fleet"
    );
    let after = the_item(&table).await;
    assert_ne!(text_of(&after, "client"), old_client);
    assert_ne!(text_of(&after, "token"), text_of(&before, "token"));
    let replaced: u64 = fleet
        .iter()
        .flat_map(|c| counted(c, "SharedTokenOtherClient"))
        .sum();
    assert_eq!(
        replaced, 1,
        "counted once, by the container that replaced it"
    );
    for container in &fleet {
        assert_eq!(warnings(container, "client"), 0, "a switch is not a fault");
    }
}

/// Without the table, the same check: after its max age a container reads the secret again,
/// keeps its token if the client is the same (no exchange), and exchanges one for the new
/// client if not. Before, the old client's token served until it expired.
#[tokio::test]
async fn without_the_table_a_container_follows_a_switched_secret_within_its_max_age() {
    let world = World::demo().await;
    let container = Container::start(
        "list-bookings",
        &checked_every_second(bookings_tests::function_env(&world)),
    )
    .await;
    assert_eq!(container.invoke(list()).await, 200);
    let wait = CHECKED_EVERY + Duration::from_millis(200);

    tokio::time::sleep(wait).await;
    assert_eq!(container.invoke(list()).await, 200);
    assert_eq!(
        exchanges(&world.sandbox),
        1,
        "the same client: the token is kept"
    );
    assert_eq!(
        counted(&container, "SecretReads"),
        [1, 1],
        "and the secret was read again"
    );

    secrets::put(&world.secret_id, &another_client()).await;
    world.rotate_upstream(&another_client());
    tokio::time::sleep(wait).await;
    assert_eq!(container.invoke(list()).await, 200);
    assert_eq!(container.invoke(list()).await, 200);
    assert_eq!(
        exchanges(&world.sandbox),
        2,
        "one exchange for the new client"
    );
    let noticed = container
        .logs()
        .iter()
        .filter(|line| line.contains("names another OmniLab client"))
        .count();
    assert_eq!(noticed, 1);
}

/// An item written by the version before this one names no client: it is used as it is (a
/// deploy does not cost the fleet a token), and the next publish records the client.
#[tokio::test]
async fn an_item_that_names_no_client_is_used_as_it_is() {
    let (world, table) = world_and_table().await;
    let env = fleet_env(&world, &table.name);
    let first = fleet(1, &env).await;
    assert_eq!(all_at_once(&first).await, vec![200]);
    let mut item = the_item(&table).await;
    item.remove("client")
        .expect("this version records the client");
    table.put_raw(item).await;

    let later = fleet(1, &env).await;
    assert_eq!(all_at_once(&later).await, vec![200]);
    assert_eq!(exchanges(&world.sandbox), 1, "no exchange");
    assert_eq!(counted(&later[0], "SharedTokenHits"), [1]);
    assert_eq!(counted(&later[0], "SharedTokenOtherClient"), [0]);
}
