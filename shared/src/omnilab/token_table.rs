//! The fleet's one access token, shared through a DynamoDB table (`OMNILAB_TOKEN_TABLE`), so
//! that a burst of new containers costs OmniLab one token exchange rather than one each.
//!
//! One item per OmniLab base URL and secret:
//!
//! | attribute     | type | holds                                                          |
//! |---------------|------|----------------------------------------------------------------|
//! | `pk`          | S    | `<OmniLab base URL> <secret id>`: neither is secret             |
//! | `token`       | S    | the access token (never the client id or secret)               |
//! | `refresh_at`  | N    | epoch ms after which no container uses it                       |
//! | `ttl`         | N    | epoch s, for DynamoDB's TTL to remove lapsed tokens and leases |
//! | `lease_until` | N    | epoch ms until which `lease_owner` is exchanging               |
//! | `lease_owner` | S    | a random id of the container exchanging                        |
//!
//! Reads are strongly consistent, so a token published a moment ago is seen at once. Every
//! write is conditional: a lease is taken only when no usable token and no live lease exist,
//! and a token is published or a lease released only by the lease's holder.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use tokio::sync::OnceCell;

use super::Call;
use super::sdk::{AwsConfig, SdkFailure};

/// The longest lease: a holder that died mid-exchange holds the fleet back at most this long.
/// A live holder's lease ends with its own deadline, since it cannot exchange past it.
const MAX_LEASE: Duration = Duration::from_secs(10);
/// Items without a token (a lease alone) are removed by TTL after this, should a holder die.
const LEASE_TTL: Duration = Duration::from_secs(3600);
/// Past a token's refresh time, how long before DynamoDB's TTL may remove it.
const TOKEN_TTL_MARGIN: Duration = Duration::from_secs(120);
/// Generous for a table in the same region (single-digit milliseconds), short enough that an
/// unreachable table costs a request little before it falls back to its own token.
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(500);
const OPERATION_TIMEOUT: Duration = Duration::from_secs(1);
const RETRY_BACKOFF: Duration = Duration::from_millis(25);

/// What the table says about the fleet's token.
#[derive(Debug)]
pub(crate) enum Shared {
    /// A token any container may use until `refresh_at`.
    Valid {
        token: Arc<str>,
        refresh_at: Instant,
    },
    /// Another container is exchanging, until `until` at the latest.
    Leased { until: Instant },
    /// Nothing usable and nobody exchanging: whoever takes the lease exchanges.
    Vacant,
}

/// A lease this container holds: the right to exchange and publish.
#[derive(Debug)]
pub(crate) struct Lease {
    until_ms: u64,
}

#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum TableError {
    #[error("DynamoDB could not be used ({0})")]
    Unavailable(SdkFailure),
    #[error("DynamoDB did not answer in time")]
    Timeout,
    /// A write's condition did not hold: another container's token or lease is in the way.
    #[error("the conditional write was refused")]
    ConditionFailed,
}

pub(crate) struct TokenTable {
    name: String,
    key: String,
    owner: String,
    aws: Arc<AwsConfig>,
    client: OnceCell<Client>,
}

impl TokenTable {
    pub(crate) fn new(name: String, key: String, aws: Arc<AwsConfig>) -> Self {
        Self {
            name,
            key,
            // Only compared with itself: it tells this container's lease from another's.
            owner: format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..)),
            aws,
            client: OnceCell::new(),
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) async fn prepare(&self) {
        self.client().await;
    }

    async fn client(&self) -> &Client {
        self.client
            .get_or_init(|| async {
                let config = aws_sdk_dynamodb::config::Builder::from(self.aws.get().await)
                    .timeout_config(
                        TimeoutConfig::builder()
                            .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                            .operation_timeout(OPERATION_TIMEOUT)
                            .build(),
                    )
                    // One retry, soon: a throttled or flaky table is better given up on
                    // quickly, since the container's own token is always there to fall back
                    // on. (The SDK's default first backoff is up to a second.)
                    .retry_config(
                        RetryConfig::standard()
                            .with_max_attempts(2)
                            .with_initial_backoff(RETRY_BACKOFF),
                    )
                    .build();
                Client::from_conf(config)
            })
            .await
    }

    fn key(&self) -> (String, AttributeValue) {
        ("pk".to_owned(), AttributeValue::S(self.key.clone()))
    }

    /// The fleet's token as the table holds it. `rejected` is a token OmniLab refused: it is
    /// not usable even if the table still holds it.
    pub(crate) async fn read(
        &self,
        call: &Call,
        rejected: Option<&str>,
    ) -> Result<Shared, TableError> {
        let client = self.client().await;
        let (k, v) = self.key();
        let request = client
            .get_item()
            .table_name(&self.name)
            .key(k, v)
            .consistent_read(true)
            .send();
        let output = bounded(call, request).await?;
        Ok(match output.item() {
            None => Shared::Vacant,
            Some(item) => self.interpret(item, rejected, now_ms()),
        })
    }

    fn interpret(
        &self,
        item: &HashMap<String, AttributeValue>,
        rejected: Option<&str>,
        now: u64,
    ) -> Shared {
        let token = item.get("token").map(AttributeValue::as_s);
        let refresh_at = item.get("refresh_at").map(number);
        match (token, refresh_at) {
            (Some(Ok(token)), Some(Some(refresh_at)))
                if !token.is_empty() && refresh_at > now && Some(token.as_str()) != rejected =>
            {
                return Shared::Valid {
                    token: token.as_str().into(),
                    refresh_at: instant_at(refresh_at, now),
                };
            }
            (None, None) | (Some(Ok(_)), Some(Some(_))) => {}
            // Something we did not write: treated as no token, so the next publish replaces it.
            _ => tracing::warn!(
                table = %self.name,
                "the shared token item is unreadable; it will be replaced"
            ),
        }
        match item.get("lease_until").and_then(number) {
            Some(until) if until > now => Shared::Leased {
                until: instant_at(until, now),
            },
            _ => Shared::Vacant,
        }
    }

    /// Takes the lease, if no usable token and no live lease exist. `None`: another container
    /// got there first (its token or its lease is in the table now).
    pub(crate) async fn lease(
        &self,
        call: &Call,
        rejected: Option<&str>,
    ) -> Result<Option<Lease>, TableError> {
        let client = self.client().await;
        let now = now_ms();
        let until = now + millis(call.remaining().min(MAX_LEASE));
        // A lease or a token that is not a number counts as absent, so an unreadable item can
        // be taken over and repaired rather than block the fleet.
        let mut condition = "(attribute_not_exists(lease_until) OR NOT attribute_type(lease_until, :number) OR lease_until <= :now) \
             AND (attribute_not_exists(refresh_at) OR NOT attribute_type(refresh_at, :number) OR refresh_at <= :now"
            .to_owned();
        let (k, v) = self.key();
        let mut request = client
            .update_item()
            .table_name(&self.name)
            .key(k, v)
            .update_expression("SET lease_until = :until, lease_owner = :owner, #ttl = :ttl")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":until", n(until))
            .expression_attribute_values(":owner", AttributeValue::S(self.owner.clone()))
            .expression_attribute_values(":ttl", n((now + millis(LEASE_TTL)) / 1000))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":number", AttributeValue::S("N".to_owned()));
        if let Some(rejected) = rejected {
            condition.push_str(" OR #token = :rejected");
            request = request
                .expression_attribute_names("#token", "token")
                .expression_attribute_values(":rejected", AttributeValue::S(rejected.to_owned()));
        }
        condition.push(')');
        match bounded(call, request.condition_expression(condition).send()).await {
            Ok(_) => Ok(Some(Lease { until_ms: until })),
            Err(TableError::ConditionFailed) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Publishes a fresh token under `lease`. `false`: the lease had lapsed and another
    /// container took over; the token is still good for this container.
    pub(crate) async fn publish(
        &self,
        call: &Call,
        lease: &Lease,
        token: &str,
        refresh_in: Duration,
    ) -> Result<bool, TableError> {
        let client = self.client().await;
        let now = now_ms();
        let (k, v) = self.key();
        let request = client
            .put_item()
            .table_name(&self.name)
            .item(k, v)
            .item("token", AttributeValue::S(token.to_owned()))
            .item("refresh_at", n(now + millis(refresh_in)))
            // The token lapses at most a minute after its refresh time (`auth::refresh_at`).
            .item(
                "ttl",
                n((now + millis(refresh_in + TOKEN_TTL_MARGIN)) / 1000),
            )
            .condition_expression("lease_owner = :owner AND lease_until = :until")
            .expression_attribute_values(":owner", AttributeValue::S(self.owner.clone()))
            .expression_attribute_values(":until", n(lease.until_ms))
            .send();
        match bounded(call, request).await {
            Ok(_) => Ok(true),
            Err(TableError::ConditionFailed) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Gives the lease back after a failed exchange, so the next container need not wait for
    /// it to lapse.
    pub(crate) async fn release(&self, call: &Call, lease: &Lease) -> Result<(), TableError> {
        let client = self.client().await;
        let (k, v) = self.key();
        let request = client
            .update_item()
            .table_name(&self.name)
            .key(k, v)
            .update_expression("REMOVE lease_until, lease_owner")
            .condition_expression("lease_owner = :owner AND lease_until = :until")
            .expression_attribute_values(":owner", AttributeValue::S(self.owner.clone()))
            .expression_attribute_values(":until", n(lease.until_ms))
            .send();
        match bounded(call, request).await {
            Ok(_) | Err(TableError::ConditionFailed) => Ok(()),
            Err(error) => Err(error),
        }
    }
}

/// Runs one DynamoDB call within the request's time, counting it as an upstream round trip.
async fn bounded<T, E>(
    call: &Call,
    request: impl Future<Output = Result<T, SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>>>,
) -> Result<T, TableError>
where
    E: ProvideErrorMetadata,
{
    call.count();
    match tokio::time::timeout(call.remaining(), request).await {
        Err(_) => Err(TableError::Timeout),
        Ok(Ok(output)) => Ok(output),
        Ok(Err(error)) if error.code() == Some("ConditionalCheckFailedException") => {
            Err(TableError::ConditionFailed)
        }
        Ok(Err(error)) => Err(TableError::Unavailable(SdkFailure::of(&error, |raw| {
            raw.status().as_u16()
        }))),
    }
}

fn number(value: &AttributeValue) -> Option<u64> {
    value.as_n().ok().and_then(|text| text.parse().ok())
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, millis)
}

/// The instant on this container's clock of an epoch time another container wrote.
fn instant_at(epoch_ms: u64, now_ms: u64) -> Instant {
    let ahead = Duration::from_millis(epoch_ms.saturating_sub(now_ms));
    let now = Instant::now();
    now.checked_add(ahead).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> TokenTable {
        TokenTable::new("t".into(), "k".into(), Arc::default())
    }

    fn item(pairs: &[(&str, AttributeValue)]) -> HashMap<String, AttributeValue> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    fn s(text: &str) -> AttributeValue {
        AttributeValue::S(text.to_owned())
    }

    #[test]
    fn a_token_before_its_refresh_time_is_valid() {
        let item = item(&[("token", s("abc")), ("refresh_at", n(2_000))]);
        assert!(matches!(
            table().interpret(&item, None, 1_000),
            Shared::Valid { token, .. } if &*token == "abc"
        ));
    }

    #[test]
    fn a_token_past_its_refresh_time_or_rejected_is_not() {
        let item = item(&[("token", s("abc")), ("refresh_at", n(2_000))]);
        assert!(matches!(
            table().interpret(&item, None, 2_000),
            Shared::Vacant
        ));
        assert!(matches!(
            table().interpret(&item, Some("abc"), 1_000),
            Shared::Vacant
        ));
        assert!(matches!(
            table().interpret(&item, Some("older"), 1_000),
            Shared::Valid { .. }
        ));
    }

    #[test]
    fn a_live_lease_is_waited_for_and_a_lapsed_one_is_not() {
        let leased = item(&[("lease_until", n(1_500)), ("lease_owner", s("x"))]);
        assert!(matches!(
            table().interpret(&leased, None, 1_000),
            Shared::Leased { .. }
        ));
        assert!(matches!(
            table().interpret(&leased, None, 1_500),
            Shared::Vacant
        ));
    }

    #[test]
    fn an_unreadable_item_counts_as_no_token() {
        for unreadable in [
            item(&[
                ("token", AttributeValue::N("1".into())),
                ("refresh_at", n(9_999)),
            ]),
            item(&[("token", s("abc")), ("refresh_at", s("tomorrow"))]),
            item(&[("token", s("abc"))]),
            item(&[("lease_until", s("soon"))]),
        ] {
            assert!(
                matches!(table().interpret(&unreadable, None, 1_000), Shared::Vacant),
                "{unreadable:?}"
            );
        }
    }
}
