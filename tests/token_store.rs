//! Issue 10: one OmniLab token for the whole fleet. Several processes of the compiled Lambda
//! binaries, each under a Runtime API of its own as Lambda runs containers, share one table in
//! Amazon's DynamoDB Local (`AWS_ENDPOINT_URL_DYNAMODB`), with moto's Secrets Manager and the
//! OmniLab sandbox over HTTP.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::AttributeValue;
use bookings_tests::dynamodb::{self, TokenTable};
use bookings_tests::runtime_api::{Function, RuntimeApi};
use bookings_tests::{DEMO_CUSTOMER, World, secrets};
use futures_util::future::join_all;
use sandbox::gateway::Event;
use sandbox::{Sandbox, booking_uuid};
use serde_json::Value;

/// One Lambda container: a process of `binary` polling a Runtime API of its own.
struct Container {
    runtime: RuntimeApi,
    function: Function,
}

impl Container {
    async fn start(binary: &str, env: &[(&str, String)]) -> Self {
        let runtime = RuntimeApi::start().await;
        let function = Function::spawn(binary, &runtime, env);
        Self { runtime, function }
    }

    async fn ready(&self) {
        self.runtime
            .wait_first_poll(Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("never asked for work: {:#?}", self.function.logs()));
    }

    /// Sends one event and returns the status code the function answered.
    async fn invoke(&self, event: Value) -> u16 {
        let response = self.runtime.invoke(event).await.response();
        response["statusCode"].as_u64().expect("a status code") as u16
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
    let fleet = join_all((0..count).map(|i| Container::start(binaries[i % 2], env))).await;
    join_all(fleet.iter().map(Container::ready)).await;
    fleet
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
        "AWS_ENDPOINT_URL_DYNAMODB is not set: run scripts/test.sh, which starts DynamoDB Local"
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
    later.ready().await;
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
    // A container took the lease for 1.5 s, then died before publishing.
    table
        .put_raw(HashMap::from([
            ("pk".to_owned(), s(&the_key(&world))),
            ("lease_until".to_owned(), n(epoch_ms() + 1500)),
            ("lease_owner".to_owned(), s("a-container-that-died")),
        ]))
        .await;
    let container = Container::start("list-bookings", &fleet_env(&world, &table.name)).await;
    container.ready().await;

    let sent = Instant::now();
    assert_eq!(container.invoke(list()).await, 200);

    let waited = sent.elapsed();
    assert!(
        waited >= Duration::from_millis(1000) && waited < Duration::from_secs(4),
        "waited for the lease to lapse, then exchanged: {waited:?}"
    );
    assert_eq!(exchanges(&world.sandbox), 1);
    assert!(the_item(&table).await.contains_key("token"));
}

#[tokio::test]
async fn an_unreadable_item_is_replaced_and_never_fails_a_request() {
    let (world, table) = world_and_table().await;
    table
        .put_raw(HashMap::from([
            ("pk".to_owned(), s(&the_key(&world))),
            ("token".to_owned(), n(42)),
            ("refresh_at".to_owned(), s("tomorrow")),
            ("lease_until".to_owned(), s("soon")),
        ]))
        .await;
    let container = Container::start("list-bookings", &fleet_env(&world, &table.name)).await;
    container.ready().await;

    assert_eq!(container.invoke(list()).await, 200);

    let item = the_item(&table).await;
    assert!(item["token"].as_s().is_ok(), "repaired: {item:?}");
    assert!(item["refresh_at"].as_n().is_ok(), "repaired: {item:?}");
    let warnings = container
        .logs()
        .into_iter()
        .filter(|l| l.contains("unreadable"))
        .count();
    assert!(warnings >= 1, "{:#?}", container.logs());
}

/// The table unusable in each way the issue names; `env` breaks it.
async fn answers_quickly_without_the_table(
    world: &World,
    env: Vec<(&'static str, String)>,
) -> Container {
    let container = Container::start("list-bookings", &env).await;
    container.ready().await;
    for _ in 0..3 {
        let sent = Instant::now();
        assert_eq!(
            container.invoke(list()).await,
            200,
            "{:#?}",
            container.logs()
        );
        assert!(
            sent.elapsed() < Duration::from_millis(1500),
            "{:?}",
            sent.elapsed()
        );
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
        let function = Function::spawn_with_logs(
            binary,
            &runtime,
            &[("AWS_LAMBDA_LOG_FORMAT", "JSON"), ("RUST_LOG", "trace")],
            &env,
        );
        fleet.push(Container { runtime, function });
    }
    join_all(fleet.iter().map(Container::ready)).await;

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
