//! Tables in Amazon's own engine: DynamoDB Local, reached through the SDK's standard
//! `AWS_ENDPOINT_URL_DYNAMODB` (scripts/test.sh starts it in memory and sets the variable). Each
//! test makes a table of its own, so tests running side by side never see each other's items.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, TableStatus,
};

const ENDPOINT_VAR: &str = "AWS_ENDPOINT_URL_DYNAMODB";
const HOW_TO_START: &str = "run the tests with scripts/test.sh, which starts DynamoDB Local, or one \
     area with `scripts/with-emulators.sh cargo test -p bookings-tests --test e2e -- <area>::`";

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Whether a DynamoDB engine has been named for the tests (`AWS_ENDPOINT_URL_DYNAMODB` is set).
pub fn available() -> bool {
    std::env::var_os(ENDPOINT_VAR).is_some()
}

fn endpoint() -> String {
    std::env::var(ENDPOINT_VAR).unwrap_or_else(|_| {
        panic!("{ENDPOINT_VAR} is not set, so there is no DynamoDB to test against: {HOW_TO_START}")
    })
}

/// A table of its own for one test: partition key `pk` (a string), on demand.
pub struct TokenTable {
    pub name: String,
    client: Client,
}

impl TokenTable {
    /// Creates a fresh table with a unique name and waits until it is ACTIVE.
    pub async fn create() -> TokenTable {
        let endpoint = endpoint();
        // A client per table, not one shared static: each #[tokio::test] has a runtime of its
        // own, and pooled connections do not outlive the runtime that opened them.
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let client = Client::new(&config);
        let name = unique_name("omnilab-token");
        client
            .create_table()
            .table_name(&name)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("pk")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .expect("a complete attribute definition"),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("pk")
                    .key_type(KeyType::Hash)
                    .build()
                    .expect("a complete key schema element"),
            )
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .unwrap_or_else(|error| {
                panic!(
                    "DynamoDB at {endpoint} ({ENDPOINT_VAR}) did not create table {name}: {} \
                     (is DynamoDB Local running? {HOW_TO_START})",
                    DisplayErrorContext(&error)
                )
            });

        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let status = client
                .describe_table()
                .table_name(&name)
                .send()
                .await
                .unwrap_or_else(|error| {
                    panic!(
                        "DynamoDB at {endpoint} ({ENDPOINT_VAR}) did not describe table {name}: {}",
                        DisplayErrorContext(&error)
                    )
                })
                .table
                .and_then(|table| table.table_status);
            if status == Some(TableStatus::Active) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "table {name} at {endpoint} is still {status:?} after 10 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        TokenTable { name, client }
    }

    /// The client the table was made with (DynamoDB Local, through `AWS_ENDPOINT_URL_DYNAMODB`).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Every item in the table (a strongly consistent Scan, all pages).
    pub async fn items(&self) -> Vec<HashMap<String, AttributeValue>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.name)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap_or_else(|error| {
                    panic!("scan of {}: {}", self.name, DisplayErrorContext(&error))
                });
            items.extend(page.items.unwrap_or_default());
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return items,
            }
        }
    }

    /// An unconditional PutItem, for planting what the code under test must cope with
    /// (unreadable or expired items).
    pub async fn put_raw(&self, item: HashMap<String, AttributeValue>) {
        self.client
            .put_item()
            .table_name(&self.name)
            .set_item(Some(item))
            .send()
            .await
            .unwrap_or_else(|error| {
                panic!("put into {}: {}", self.name, DisplayErrorContext(&error))
            });
    }

    /// Deletes the table (DeleteTable).
    pub async fn delete(&self) {
        self.client
            .delete_table()
            .table_name(&self.name)
            .send()
            .await
            .unwrap_or_else(|error| {
                panic!("delete of {}: {}", self.name, DisplayErrorContext(&error))
            });
    }
}

/// A valid name of a table that does not exist (nothing in the tests creates it).
pub fn missing_table_name() -> String {
    unique_name("omnilab-missing")
}

/// `http://127.0.0.1:<port>` of a loopback port that refuses connections: one the system just
/// handed out and that nothing listens on any more.
pub fn unreachable_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let port = listener.local_addr().expect("an address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// `<prefix>-<pid>-<counter>-<nanos>`: 3 to 255 characters of [A-Za-z0-9_.-], unique per run.
fn unique_name(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
