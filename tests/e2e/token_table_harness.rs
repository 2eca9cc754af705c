//! The DynamoDB Local harness (support/dynamodb.rs) does what the token store's tests rely on, for
//! real against Amazon's engine: a fresh table, items in and out, a conditional write refused as on
//! AWS, and the two ways to fail (a missing table, an endpoint nobody answers on).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::AttributeValue;
use bookings_tests::dynamodb::{self, TokenTable};

fn item(pk: &str, token: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(pk.to_owned())),
        ("token".to_owned(), AttributeValue::S(token.to_owned())),
        ("expires_at".to_owned(), AttributeValue::N("1".to_owned())),
    ])
}

#[tokio::test]
async fn a_fresh_table_keeps_what_is_put_and_goes_when_deleted() {
    assert!(
        dynamodb::available(),
        "AWS_ENDPOINT_URL_DYNAMODB is not set: run the tests with scripts/test.sh, which starts \
         DynamoDB Local, or one area with `scripts/with-emulators.sh cargo test ...`"
    );
    let table = TokenTable::create().await;
    assert!(table.items().await.is_empty(), "a fresh table is empty");

    table.put_raw(item("omnilab#a", "first")).await;
    table.put_raw(item("omnilab#a", "second")).await; // unconditional: replaces
    table
        .put_raw(HashMap::from([(
            "pk".to_owned(),
            AttributeValue::S("omnilab#unreadable".to_owned()),
        )]))
        .await;

    let got = table
        .client()
        .get_item()
        .table_name(&table.name)
        .key("pk", AttributeValue::S("omnilab#a".to_owned()))
        .consistent_read(true)
        .send()
        .await
        .expect("GetItem")
        .item
        .expect("the item is there");
    assert_eq!(got, item("omnilab#a", "second"));
    assert_eq!(table.items().await.len(), 2);

    table.delete().await;
    let error = table
        .client()
        .describe_table()
        .table_name(&table.name)
        .send()
        .await
        .expect_err("the table is gone");
    assert_eq!(error.code(), Some("ResourceNotFoundException"), "{error:?}");
}

#[tokio::test]
async fn a_conditional_write_on_a_taken_key_fails_with_conditional_check_failed() {
    let table = TokenTable::create().await;
    let put_if_absent = |token: &'static str| {
        table
            .client()
            .put_item()
            .table_name(&table.name)
            .set_item(Some(item("omnilab#lock", token)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
    };
    put_if_absent("first").await.expect("the key is free");
    let error = put_if_absent("second").await.expect_err("the key is taken");
    assert_eq!(
        error.code(),
        Some("ConditionalCheckFailedException"),
        "{error:?}"
    );
    assert_eq!(table.items().await, vec![item("omnilab#lock", "first")]);
    table.delete().await;
}

#[tokio::test]
async fn a_missing_table_and_an_unreachable_endpoint_fail_differently() {
    let table = TokenTable::create().await;

    let missing = dynamodb::missing_table_name();
    assert!((3..=255).contains(&missing.len()), "{missing}");
    let error = table
        .client()
        .get_item()
        .table_name(&missing)
        .key("pk", AttributeValue::S("omnilab#a".to_owned()))
        .send()
        .await
        .expect_err("no such table");
    assert_eq!(error.code(), Some("ResourceNotFoundException"), "{error:?}");

    let unreachable = table
        .client()
        .config()
        .to_builder()
        .endpoint_url(dynamodb::unreachable_endpoint())
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(5))
                .build(),
        )
        .build();
    let error = aws_sdk_dynamodb::Client::from_conf(unreachable)
        .get_item()
        .table_name(&table.name)
        .key("pk", AttributeValue::S("omnilab#a".to_owned()))
        .send()
        .await
        .expect_err("nobody listens");
    assert!(matches!(error, SdkError::DispatchFailure(_)), "{error:?}");
    table.delete().await;
}
