//! The shared table in DynamoDB (`OMNILAB_TOKEN_TABLE`): one item per OmniLab base URL and
//! secret, read and written as [`fleet`](super::fleet)'s protocol asks.
//!
//! | attribute     | type | holds                                                          |
//! |---------------|------|----------------------------------------------------------------|
//! | `pk`          | S    | `<OmniLab base URL> <secret id>`: neither is secret             |
//! | `token`       | S    | the access token (never the client id or secret)               |
//! | `client`      | S    | 16 hex digits: which OmniLab client the token was issued to    |
//! | `refresh_at`  | N    | epoch ms from which a refresh is due                            |
//! | `expires_at`  | N    | epoch ms from which no container sends it                       |
//! | `ttl`         | N    | epoch s, for DynamoDB's TTL to remove lapsed tokens and leases |
//! | `lease_until` | N    | epoch ms until which `lease_owner` is exchanging               |
//! | `lease_owner` | S    | a random id of the container exchanging                        |
//!
//! What the item holds is untrusted input: anything may have written it (an older version of
//! this code, an operator, a bug). [`snapshot`] checks every attribute for type, size and
//! range; whatever fails a check is *unusable* and counts as absent, so the protocol takes it
//! over and the next publish replaces it. A lease is taken only if the item is still exactly
//! as it was read, so what the check judged and what the write's condition sees cannot differ.
//! Reads are strongly consistent, so a token published a moment ago is seen at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use tokio::sync::OnceCell;

use super::credentials::ClientFingerprint;
use super::fleet::{Flaw, LEASE, Snapshot, Table, TableError};
use super::token::{AccessToken, MAX_LIFETIME};
use crate::aws::{AwsConfig, SdkFailure};
use crate::omnilab::Budget;

/// The longest token believed: OmniLab's are well under a kilobyte; a huge one would be sent
/// with every booking call.
pub(crate) const MAX_TOKEN_BYTES: usize = 4096;
/// The largest item believed: what this code writes, with room to spare.
const MAX_ITEM_BYTES: usize = 16 * 1024;
/// Containers' clocks differ a little: times this much past what we would ever write are
/// still believed.
const CLOCK_SKEW: Duration = Duration::from_secs(5);
/// Items without a token (a lease alone) are removed by TTL after this, should a holder die.
const LEASE_TTL: Duration = Duration::from_secs(3600);
/// Past a token's expiry, how long before DynamoDB's TTL may remove it.
const TOKEN_TTL_MARGIN: Duration = Duration::from_secs(120);
/// Generous for a table in the same region (single-digit milliseconds), short enough that an
/// unreachable table costs a request little before it falls back to its own token.
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(500);
const OPERATION_TIMEOUT: Duration = Duration::from_secs(1);
const RETRY_BACKOFF: Duration = Duration::from_millis(25);
/// A release is sent even when the request's own time is up (the function keeps a margin
/// before Lambda's deadline), so the next container need not wait for the lease to lapse.
const RELEASE_TIMEOUT: Duration = Duration::from_millis(250);

/// The attributes the protocol reads, in the order of their expression placeholders.
const TOKEN: usize = 0;
const REFRESH_AT: usize = 1;
const EXPIRES_AT: usize = 2;
const LEASE_UNTIL: usize = 3;
const CLIENT: usize = 5;
const ATTRIBUTES: [&str; 6] = [
    "token",
    "refresh_at",
    "expires_at",
    "lease_until",
    "lease_owner",
    "client",
];
const PLACEHOLDERS: [&str; 6] = ["#tk", "#ra", "#ea", "#lu", "#lo", "#cl"];
/// The condition of a publish or a release: the item still names this container's lease.
const HELD: &str = "#lo = :owner AND #lu = :until";

/// The item as it was read: what a lease write must find unchanged.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Basis {
    Absent,
    Present(Box<[Seen; 6]>),
    /// Present, and too large to add a lease to: a lease replaces it whole.
    Oversized(Box<[Seen; 6]>),
}

/// One attribute as it was read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Seen {
    Missing,
    /// A string or a number, as written: compared for equality.
    Value(AttributeValue),
    /// Any other type: nothing this code writes, so only its type is compared.
    OfType(&'static str),
}

/// A lease this container holds: the right to exchange and publish.
#[derive(Debug)]
pub(crate) struct Lease {
    until_ms: u64,
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

    /// The values of [`HELD`] for `lease`.
    fn held_by(&self, lease: &Lease) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (":owner".to_owned(), AttributeValue::S(self.owner.clone())),
            (":until".to_owned(), n(lease.until_ms)),
        ])
    }
}

impl Table for TokenTable {
    type Basis = Basis;
    type Lease = Lease;

    fn name(&self) -> &str {
        &self.name
    }

    async fn read(&self, budget: &Budget) -> Result<Snapshot<Basis>, TableError> {
        let client = self.client().await;
        let (k, v) = self.key();
        let request = client
            .get_item()
            .table_name(&self.name)
            .key(k, v)
            .consistent_read(true)
            .send();
        let output = bounded(budget.remaining(), request).await?;
        Ok(snapshot(output.item(), now_ms(), Instant::now()))
    }

    async fn lease(
        &self,
        budget: &Budget,
        basis: &Basis,
        until: Instant,
        clear_token: bool,
    ) -> Result<Option<Lease>, TableError> {
        let client = self.client().await;
        let (now, at) = (now_ms(), Instant::now());
        let until_ms = epoch_ms_of(until, now, at);
        let ttl = n((now + millis(LEASE_TTL)) / 1000);
        let (k, v) = self.key();
        let request = if let Basis::Oversized(_) = basis {
            // Nothing of the item is kept: it is replaced whole, so whatever else it held
            // (attributes of someone else's, however large) goes with it.
            let mut values = HashMap::new();
            let condition = unchanged(basis, &mut values);
            // DynamoDB refuses empty maps.
            let names = names_in(&[&condition]);
            let put = client
                .put_item()
                .table_name(&self.name)
                .item(k, v)
                .item("lease_until", n(until_ms))
                .item("lease_owner", AttributeValue::S(self.owner.clone()))
                .item("ttl", ttl)
                .condition_expression(&condition)
                .set_expression_attribute_names((!names.is_empty()).then_some(names))
                .set_expression_attribute_values((!values.is_empty()).then_some(values));
            bounded(budget.remaining(), put.send()).await.map(drop)
        } else {
            let mut update = "SET #lu = :until, #lo = :owner, #ttl = :ttl".to_owned();
            if clear_token {
                update.push_str(" REMOVE #tk, #ra, #ea, #cl");
            }
            let mut values = HashMap::from([
                (":until".to_owned(), n(until_ms)),
                (":owner".to_owned(), AttributeValue::S(self.owner.clone())),
                (":ttl".to_owned(), ttl),
            ]);
            let condition = unchanged(basis, &mut values);
            let request = client
                .update_item()
                .table_name(&self.name)
                .key(k, v)
                .update_expression(&update)
                .condition_expression(&condition)
                .set_expression_attribute_names(Some(names_in(&[&update, &condition])))
                .set_expression_attribute_values(Some(values))
                .send();
            bounded(budget.remaining(), request).await.map(drop)
        };
        match request {
            Ok(()) => Ok(Some(Lease { until_ms })),
            Err(TableError::ConditionFailed) => Ok(None),
            Err(error) => Err(error),
        }
    }

    async fn publish(
        &self,
        budget: &Budget,
        lease: &Lease,
        token: &AccessToken,
    ) -> Result<bool, TableError> {
        let client = self.client().await;
        let (now, at) = (now_ms(), Instant::now());
        let expires_at = epoch_ms_of(token.expires_at(), now, at);
        let (k, v) = self.key();
        let request = client
            .put_item()
            .table_name(&self.name)
            .item(k, v)
            .item("token", AttributeValue::S(token.bearer().to_owned()))
            .item("refresh_at", n(epoch_ms_of(token.refresh_at(), now, at)))
            .item("expires_at", n(expires_at))
            .item("ttl", n((expires_at + millis(TOKEN_TTL_MARGIN)) / 1000));
        let request = match token.client() {
            Some(client) => request.item(ATTRIBUTES[CLIENT], AttributeValue::S(client.to_hex())),
            None => request,
        };
        let request = request
            .condition_expression(HELD)
            .set_expression_attribute_names(Some(names_in(&[HELD])))
            .set_expression_attribute_values(Some(self.held_by(lease)))
            .send();
        match bounded(budget.remaining(), request).await {
            Ok(_) => Ok(true),
            Err(TableError::ConditionFailed) => Ok(false),
            Err(error) => Err(error),
        }
    }

    async fn release(&self, _call: &Budget, lease: &Lease) -> Result<(), TableError> {
        let client = self.client().await;
        let (k, v) = self.key();
        let request = client
            .update_item()
            .table_name(&self.name)
            .key(k, v)
            .update_expression("REMOVE #lu, #lo")
            .condition_expression(HELD)
            .set_expression_attribute_names(Some(names_in(&[HELD])))
            .set_expression_attribute_values(Some(self.held_by(lease)))
            .send();
        match bounded(RELEASE_TIMEOUT, request).await {
            Ok(_) | Err(TableError::ConditionFailed) => Ok(()),
            Err(error) => Err(error),
        }
    }
}

/// The item, checked: every attribute for type, size and range. The first flaw found is
/// reported; the parts it concerns count as absent.
pub(crate) fn snapshot(
    item: Option<&HashMap<String, AttributeValue>>,
    now_ms: u64,
    now: Instant,
) -> Snapshot<Basis> {
    let Some(item) = item else {
        return Snapshot {
            token: None,
            lease_until: None,
            leased_before: false,
            flaw: None,
            basis: Basis::Absent,
        };
    };
    // An item this code wrote is a few kilobytes at most. A huge one (an attribute of someone
    // else's, near DynamoDB's 400 KB limit) is taken over whole: a lease that only added to it
    // would be refused for its size, and the item would never be replaced.
    if item_bytes(item) > MAX_ITEM_BYTES {
        return Snapshot {
            token: None,
            lease_until: None,
            leased_before: true,
            flaw: Some(Flaw {
                attribute: "item",
                problem: "too large",
            }),
            basis: Basis::Oversized(Box::new(ATTRIBUTES.map(|name| seen(item.get(name))))),
        };
    }
    let mut flaw = None;
    let token = match token_of(item, now_ms) {
        Ok(token) => token.map(|stored| {
            AccessToken::new(
                stored.text.into(),
                stored.client,
                instant_at(stored.refresh_at, now_ms, now),
                instant_at(stored.expires_at, now_ms, now),
            )
        }),
        Err(found) => {
            flaw = Some(found);
            None
        }
    };
    let lease_until = match lease_of(item, now_ms) {
        Ok(until) => until.map(|until| instant_at(until, now_ms, now)),
        Err(found) => {
            flaw.get_or_insert(found);
            None
        }
    };
    Snapshot {
        token,
        lease_until,
        leased_before: item.contains_key(ATTRIBUTES[LEASE_UNTIL]),
        flaw,
        basis: Basis::Present(Box::new(ATTRIBUTES.map(|name| seen(item.get(name))))),
    }
}

/// About the size DynamoDB counts for `item`: names and values, as their bytes.
fn item_bytes(item: &HashMap<String, AttributeValue>) -> usize {
    fn value_bytes(value: &AttributeValue) -> usize {
        match value {
            AttributeValue::S(text) | AttributeValue::N(text) => text.len(),
            AttributeValue::B(blob) => blob.as_ref().len(),
            AttributeValue::Ss(texts) | AttributeValue::Ns(texts) => {
                texts.iter().map(String::len).sum()
            }
            AttributeValue::Bs(blobs) => blobs.iter().map(|b| b.as_ref().len()).sum(),
            AttributeValue::L(values) => values.iter().map(value_bytes).sum::<usize>() + 3,
            AttributeValue::M(map) => item_bytes(map) + 3,
            _ => 1,
        }
    }
    item.iter()
        .map(|(name, value)| name.len() + value_bytes(value))
        .sum()
}

/// A token as the item holds it, checked: its times in epoch milliseconds.
struct Stored<'a> {
    text: &'a str,
    /// `None`: written by a version of this code that did not record the client.
    client: Option<ClientFingerprint>,
    refresh_at: u64,
    expires_at: u64,
}

/// The token with its client and its refresh and expiry times, checked. `Ok(None)`: no token
/// at all.
fn token_of(
    item: &HashMap<String, AttributeValue>,
    now_ms: u64,
) -> Result<Option<Stored<'_>>, Flaw> {
    let latest = now_ms.saturating_add(millis(MAX_LIFETIME + CLOCK_SKEW));
    let time = |index: usize| {
        item.get(ATTRIBUTES[index])
            .map(|value| number_in(index, value, latest))
            .transpose()
    };
    let (refresh_at, expires_at) = (time(REFRESH_AT)?, time(EXPIRES_AT)?);
    let Some(value) = item.get(ATTRIBUTES[TOKEN]) else {
        return match refresh_at.or(expires_at) {
            Some(_) => Err(flaw_of(TOKEN, "missing")),
            None => Ok(None),
        };
    };
    let text = value.as_s().map_err(|_| flaw_of(TOKEN, "not a string"))?;
    if text.is_empty() {
        return Err(flaw_of(TOKEN, "empty"));
    }
    if text.len() > MAX_TOKEN_BYTES {
        return Err(flaw_of(TOKEN, "too long"));
    }
    // What may follow `Bearer ` in a header: visible ASCII, no spaces or controls.
    if !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(flaw_of(TOKEN, "not a bearer token"));
    }
    let refresh_at = refresh_at.ok_or(flaw_of(REFRESH_AT, "missing"))?;
    // Written by a version of this code that had no expiry time: its refresh time is one.
    let expires_at = expires_at.unwrap_or(refresh_at);
    if expires_at < refresh_at {
        return Err(flaw_of(EXPIRES_AT, "before refresh_at"));
    }
    let client = item
        .get(ATTRIBUTES[CLIENT])
        .map(|value| {
            let text = value.as_s().map_err(|_| flaw_of(CLIENT, "not a string"))?;
            ClientFingerprint::parse(text).ok_or(flaw_of(CLIENT, "not 16 hex digits"))
        })
        .transpose()?;
    Ok(Some(Stored {
        text,
        client,
        refresh_at,
        expires_at,
    }))
}

/// The lease's end, checked: never longer than the longest lease this code takes.
fn lease_of(item: &HashMap<String, AttributeValue>, now_ms: u64) -> Result<Option<u64>, Flaw> {
    let latest = now_ms.saturating_add(millis(LEASE + CLOCK_SKEW));
    item.get(ATTRIBUTES[LEASE_UNTIL])
        .map(|value| number_in(LEASE_UNTIL, value, latest))
        .transpose()
}

fn flaw_of(index: usize, problem: &'static str) -> Flaw {
    Flaw {
        attribute: ATTRIBUTES[index],
        problem,
    }
}

/// An epoch-milliseconds whole number no later than `latest`.
fn number_in(index: usize, value: &AttributeValue, latest: u64) -> Result<u64, Flaw> {
    let text = value.as_n().map_err(|_| flaw_of(index, "not a number"))?;
    let number: u64 = text
        .parse()
        .map_err(|_| flaw_of(index, "not a whole number of milliseconds"))?;
    if number > latest {
        return Err(flaw_of(index, "too far ahead"));
    }
    Ok(number)
}

fn seen(value: Option<&AttributeValue>) -> Seen {
    match value {
        None => Seen::Missing,
        Some(value @ (AttributeValue::S(_) | AttributeValue::N(_))) => Seen::Value(value.clone()),
        Some(AttributeValue::B(_)) => Seen::OfType("B"),
        Some(AttributeValue::Bool(_)) => Seen::OfType("BOOL"),
        Some(AttributeValue::Bs(_)) => Seen::OfType("BS"),
        Some(AttributeValue::L(_)) => Seen::OfType("L"),
        Some(AttributeValue::M(_)) => Seen::OfType("M"),
        Some(AttributeValue::Ns(_)) => Seen::OfType("NS"),
        Some(AttributeValue::Null(_)) => Seen::OfType("NULL"),
        Some(AttributeValue::Ss(_)) => Seen::OfType("SS"),
        // A type newer than this SDK knows: the item cannot be matched, so it is never leased
        // and the container falls back to its own token.
        Some(_) => Seen::OfType("?"),
    }
}

/// A condition that holds only while the item is as `basis` found it, its values added to
/// `values`.
fn unchanged(basis: &Basis, values: &mut HashMap<String, AttributeValue>) -> String {
    let seen = match basis {
        Basis::Absent => return "attribute_not_exists(pk)".to_owned(),
        Basis::Present(seen) | Basis::Oversized(seen) => seen,
    };
    let mut terms = vec!["attribute_exists(pk)".to_owned()];
    for (i, seen) in seen.iter().enumerate() {
        let name = PLACEHOLDERS[i];
        terms.push(match seen {
            Seen::Missing => format!("attribute_not_exists({name})"),
            Seen::Value(value) => {
                values.insert(format!(":seen{i}"), value.clone());
                format!("{name} = :seen{i}")
            }
            Seen::OfType(kind) => {
                values.insert(format!(":type{i}"), AttributeValue::S((*kind).to_owned()));
                format!("attribute_type({name}, :type{i})")
            }
        });
    }
    terms.join(" AND ")
}

/// The `#name` placeholders the expressions use, and only those: DynamoDB refuses unused ones.
fn names_in(expressions: &[&str]) -> HashMap<String, String> {
    let mut names: HashMap<String, String> = PLACEHOLDERS
        .iter()
        .zip(ATTRIBUTES)
        .filter(|(placeholder, _)| expressions.iter().any(|e| e.contains(*placeholder)))
        .map(|(placeholder, name)| ((*placeholder).to_owned(), name.to_owned()))
        .collect();
    if expressions.iter().any(|e| e.contains("#ttl")) {
        names.insert("#ttl".to_owned(), "ttl".to_owned());
    }
    names
}

/// Runs one DynamoDB call within `timeout`. (The fleet counts its calls.)
async fn bounded<T, E>(
    timeout: Duration,
    request: impl Future<Output = Result<T, SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>>>,
) -> Result<T, TableError>
where
    E: ProvideErrorMetadata,
{
    match tokio::time::timeout(timeout, request).await {
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

/// The instant on this container's clock of an epoch time another container wrote (`now` if
/// it is past).
fn instant_at(epoch_ms: u64, now_ms: u64, now: Instant) -> Instant {
    let ahead = Duration::from_millis(epoch_ms.saturating_sub(now_ms));
    now.checked_add(ahead).unwrap_or(now)
}

/// The epoch time of an instant on this container's clock.
fn epoch_ms_of(instant: Instant, now_ms: u64, now: Instant) -> u64 {
    now_ms.saturating_add(millis(instant.saturating_duration_since(now)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::omnilab::auth::fleet::Flaw;

    const NOW: u64 = 1_800_000_000_000;

    fn item(pairs: &[(&str, AttributeValue)]) -> HashMap<String, AttributeValue> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    fn s(text: &str) -> AttributeValue {
        AttributeValue::S(text.to_owned())
    }

    fn check(pairs: &[(&str, AttributeValue)]) -> Snapshot<Basis> {
        snapshot(Some(&item(pairs)), NOW, Instant::now())
    }

    #[test]
    fn a_token_with_its_times_is_read_as_written() {
        let at = Instant::now();
        let read = snapshot(
            Some(&item(&[
                ("token", s("abc")),
                ("refresh_at", n(NOW + 2_000)),
                ("expires_at", n(NOW + 3_000)),
                ("lease_until", n(NOW + 500)),
            ])),
            NOW,
            at,
        );
        assert_eq!(read.flaw, None);
        let token = read.token.expect("a token");
        assert_eq!(token.bearer(), "abc");
        assert_eq!(token.refresh_at(), at + Duration::from_secs(2));
        assert_eq!(token.expires_at(), at + Duration::from_secs(3));
        assert_eq!(read.lease_until, Some(at + Duration::from_millis(500)));
        assert_eq!(
            token.client(),
            None,
            "an item of an older version names no client"
        );
        let named = check(&[
            ("token", s("abc")),
            ("refresh_at", n(NOW + 2_000)),
            ("client", s("0123456789abcdef")),
        ]);
        assert_eq!(
            named.token.and_then(|t| t.client()).map(|c| c.to_hex()),
            Some("0123456789abcdef".to_owned())
        );
    }

    #[test]
    fn an_item_of_an_older_version_expires_at_its_refresh_time() {
        let read = check(&[("token", s("abc")), ("refresh_at", n(NOW + 2_000))]);
        assert_eq!(read.flaw, None);
        let token = read.token.expect("a token");
        assert_eq!(token.refresh_at(), token.expires_at());
    }

    #[test]
    fn no_item_and_an_empty_item_hold_nothing_and_nothing_wrong() {
        let none = snapshot(None, NOW, Instant::now());
        assert!(none.token.is_none() && none.lease_until.is_none() && none.flaw.is_none());
        assert_eq!(none.basis, Basis::Absent);
        let empty = check(&[]);
        assert!(empty.token.is_none() && empty.flaw.is_none());
    }

    #[test]
    fn every_kind_of_unusable_token_is_named_and_counts_as_absent() {
        let future = n(NOW + 60_000);
        type Attributes<'a> = Vec<(&'a str, AttributeValue)>;
        let cases: Vec<(Attributes, &str, &str)> = vec![
            (
                vec![("token", n(42)), ("refresh_at", future.clone())],
                "token",
                "not a string",
            ),
            (
                vec![("token", s("")), ("refresh_at", future.clone())],
                "token",
                "empty",
            ),
            (
                vec![
                    ("token", s(&"x".repeat(MAX_TOKEN_BYTES + 1))),
                    ("refresh_at", future.clone()),
                ],
                "token",
                "too long",
            ),
            // Someone else's attribute, near DynamoDB's item limit: the item is taken over whole.
            (
                vec![
                    ("token", s("abc")),
                    ("refresh_at", future.clone()),
                    ("notes", s(&"x".repeat(390 * 1024))),
                ],
                "item",
                "too large",
            ),
            (
                vec![
                    ("token", s("abc\r\nX-Injected: 1")),
                    ("refresh_at", future.clone()),
                ],
                "token",
                "not a bearer token",
            ),
            (vec![("refresh_at", future.clone())], "token", "missing"),
            (vec![("token", s("abc"))], "refresh_at", "missing"),
            (
                vec![("token", s("abc")), ("refresh_at", s("tomorrow"))],
                "refresh_at",
                "not a number",
            ),
            (
                vec![
                    ("token", s("abc")),
                    ("refresh_at", AttributeValue::N("1e30".into())),
                ],
                "refresh_at",
                "not a whole number of milliseconds",
            ),
            (
                vec![
                    ("token", s("abc")),
                    ("refresh_at", AttributeValue::N("-5".into())),
                ],
                "refresh_at",
                "not a whole number of milliseconds",
            ),
            (
                vec![
                    ("token", s("abc")),
                    ("refresh_at", n(NOW + 25 * 3600 * 1000)),
                ],
                "refresh_at",
                "too far ahead",
            ),
            (
                vec![
                    ("token", s("abc")),
                    ("refresh_at", future.clone()),
                    ("expires_at", n(NOW + 1_000)),
                ],
                "expires_at",
                "before refresh_at",
            ),
            (
                vec![
                    ("token", s("abc")),
                    ("refresh_at", future.clone()),
                    ("client", n(42)),
                ],
                "client",
                "not a string",
            ),
            (
                vec![
                    ("token", s("abc")),
                    ("refresh_at", future.clone()),
                    ("client", s("client-id-in-clear")),
                ],
                "client",
                "not 16 hex digits",
            ),
        ];
        for (pairs, attribute, problem) in cases {
            let read = check(&pairs);
            assert!(read.token.is_none(), "{attribute}: {problem}");
            assert_eq!(read.flaw, Some(Flaw { attribute, problem }));
        }
    }

    #[test]
    fn a_lease_longer_than_any_this_code_takes_is_unusable() {
        for until in [
            n(NOW + 10 * 3600 * 1000),
            AttributeValue::N("1e30".into()),
            s("soon"),
        ] {
            let read = check(&[("lease_until", until)]);
            assert_eq!(read.lease_until, None);
            assert_eq!(read.flaw.map(|f| f.attribute), Some("lease_until"));
        }
        let ours = check(&[("lease_until", n(NOW + 2_000))]);
        assert!(ours.lease_until.is_some() && ours.flaw.is_none());
    }

    #[test]
    fn a_flawed_lease_does_not_spoil_a_good_token() {
        let read = check(&[
            ("token", s("abc")),
            ("refresh_at", n(NOW + 2_000)),
            ("lease_until", AttributeValue::Bool(true)),
        ]);
        assert!(read.token.is_some());
        assert_eq!(read.lease_until, None);
        assert!(read.flaw.is_some());
    }

    #[test]
    fn a_lease_is_conditioned_on_the_item_being_exactly_as_read() {
        let mut values = HashMap::new();
        assert_eq!(
            unchanged(&Basis::Absent, &mut values),
            "attribute_not_exists(pk)"
        );
        assert!(values.is_empty());

        let read = check(&[
            ("token", n(42)),
            ("refresh_at", AttributeValue::N("1e30".into())),
            ("lease_until", AttributeValue::L(vec![])),
        ]);
        let condition = unchanged(&read.basis, &mut values);
        assert_eq!(
            condition,
            "attribute_exists(pk) AND #tk = :seen0 AND #ra = :seen1 AND attribute_not_exists(#ea) \
             AND attribute_type(#lu, :type3) AND attribute_not_exists(#lo) \
             AND attribute_not_exists(#cl)"
        );
        assert_eq!(values[":seen0"], n(42));
        assert_eq!(values[":seen1"], AttributeValue::N("1e30".into()));
        assert_eq!(values[":type3"], s("L"));
    }

    #[test]
    fn only_the_placeholders_an_expression_uses_are_named() {
        let names = names_in(&[
            "SET #lu = :until, #lo = :owner, #ttl = :ttl",
            "attribute_not_exists(pk)",
        ]);
        let mut keys: Vec<_> = names.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["#lo", "#lu", "#ttl"]);
    }

    #[test]
    fn epoch_times_and_instants_convert_both_ways() {
        let now = Instant::now();
        let later = instant_at(NOW + 1_500, NOW, now);
        assert_eq!(epoch_ms_of(later, NOW, now), NOW + 1_500);
        assert_eq!(instant_at(NOW - 10, NOW, now), now, "a past time is now");
    }
}
