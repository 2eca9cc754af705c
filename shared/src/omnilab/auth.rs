//! The client-credentials access token: exchanged once, shared by every request of the
//! container, refreshed shortly before it expires or when OmniLab refuses it.

use std::sync::Arc;
#[cfg(feature = "stats")]
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::credentials::{CredentialStore, Credentials};
use super::error::Malformed;
use super::token_table::{Shared, TableError, TokenTable};
use super::transport::{Retry, Transport};
use super::{Call, CredentialsError, Endpoint, UpstreamError};

#[derive(Clone)]
pub(crate) struct AccessToken {
    value: Arc<str>,
    refresh_at: Instant,
}

impl AccessToken {
    pub(crate) fn bearer(&self) -> &str {
        &self.value
    }
}

pub(crate) struct Authenticator {
    token_url: String,
    credentials: CredentialStore,
    /// The fleet's shared token, when `OMNILAB_TOKEN_TABLE` names one.
    table: Option<TokenTable>,
    // Held across the exchange: requests that find the token stale wait for the one exchange
    // in flight instead of starting their own, and take its outcome, failure included.
    state: Mutex<State>,
    #[cfg(feature = "stats")]
    exchanges: AtomicU64,
}

#[derive(Default)]
struct State {
    current: Option<AccessToken>,
    /// The last exchange's failure, answered to every request until the instant it holds, so an
    /// outage costs OmniLab a few calls per container rather than a few per request.
    failed: Option<(UpstreamError, Instant)>,
    /// The token OmniLab last refused, so the shared table's copy of it is not taken again.
    rejected: Option<Arc<str>>,
    /// After the table failed us, this container uses its own token until then.
    table_retry_at: Option<Instant>,
}

/// How long a failed exchange is answered again when OmniLab gave no `Retry-After`.
const FAILURE_MEMORY: Duration = Duration::from_secs(1);
/// The longest `Retry-After` we honour: past this, a stale rate limit would outlast the outage.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
/// How long a container that could not use the shared table keeps to its own token before it
/// tries the table again: one warning per this, not one per request.
const TABLE_RETRY: Duration = Duration::from_secs(30);
/// How often a container waiting for another's exchange looks at the table again: soon at
/// first (an exchange takes tens of milliseconds), then less often.
const FIRST_POLL: Duration = Duration::from_millis(20);
const MAX_POLL: Duration = Duration::from_millis(200);
/// The longest token lifetime we believe. Beyond it, a typo upstream (or a hostile answer)
/// would pin one token for years.
const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);

#[derive(Serialize)]
struct TokenRequest<'a> {
    client_id: &'a str,
    client_secret: &'a str,
    audience: &'a str,
    grant_type: &'static str,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    /// Any JSON number: negative, fractional and huge values are clamped, not trusted.
    #[serde(deserialize_with = "lifetime")]
    expires_in: Duration,
}

fn lifetime<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let seconds = f64::deserialize(deserializer)?;
    Ok(clamp_lifetime(seconds))
}

/// Seconds as OmniLab sent them, into `0..=MAX_LIFETIME`.
fn clamp_lifetime(seconds: f64) -> Duration {
    if seconds.is_nan() || seconds <= 0.0 {
        Duration::ZERO
    } else {
        Duration::from_secs_f64(seconds.min(MAX_LIFETIME.as_secs_f64()))
    }
}

impl Authenticator {
    pub(crate) fn new(
        api_base: &str,
        credentials: CredentialStore,
        table: Option<TokenTable>,
    ) -> Self {
        Self {
            token_url: format!("{api_base}/v1/oauth:token"),
            credentials,
            table,
            state: Mutex::new(State::default()),
            #[cfg(feature = "stats")]
            exchanges: AtomicU64::new(0),
        }
    }

    pub(crate) async fn prepare(&self) {
        self.credentials.prepare().await;
        if let Some(table) = &self.table {
            table.prepare().await;
        }
    }

    #[cfg(feature = "stats")]
    pub(crate) fn exchanges(&self) -> u64 {
        self.exchanges.load(Ordering::Relaxed)
    }

    #[cfg(feature = "stats")]
    pub(crate) fn secret_reads(&self) -> u64 {
        self.credentials.reads()
    }

    pub(crate) async fn token(
        &self,
        transport: &Transport,
        call: &Call,
    ) -> Result<AccessToken, UpstreamError> {
        let mut state = self.state.lock().await;
        let now = Instant::now();
        if let Some(token) = state.current.as_ref().filter(|t| now < t.refresh_at) {
            return Ok(token.clone());
        }
        if let Some((error, until)) = &state.failed
            && now < *until
        {
            return Err(error.clone());
        }
        // Boxed: getting a token (table, secret, exchange) nests futures deep enough to take
        // the handler's future past rustc's layout depth limit in callers that nest it
        // further. One allocation, only when a token is needed.
        match Box::pin(self.obtain(&mut state, transport, call)).await {
            Ok(fresh) => {
                state.current = Some(fresh.clone());
                state.failed = None;
                state.rejected = None;
                Ok(fresh)
            }
            Err(error) => {
                // A request that ran out of its own time learnt nothing about OmniLab: a
                // patient request behind it must still try.
                let callers_own = matches!(
                    error,
                    UpstreamError::Timeout | UpstreamError::Credentials(CredentialsError::Timeout)
                ) && call.spent();
                if !callers_own {
                    state.failed = Some((error.clone(), Instant::now() + failure_memory(&error)));
                }
                Err(error)
            }
        }
    }

    /// OmniLab answered 401 to `rejected`: forget it, unless a newer token already replaced it.
    pub(crate) async fn discard(&self, rejected: &AccessToken) {
        let mut state = self.state.lock().await;
        if state
            .current
            .as_ref()
            .is_some_and(|t| Arc::ptr_eq(&t.value, &rejected.value))
        {
            state.current = None;
            state.rejected = Some(rejected.value.clone());
        }
    }

    /// A new token: the fleet's from the shared table when there is one, else our own.
    async fn obtain(
        &self,
        state: &mut State,
        transport: &Transport,
        call: &Call,
    ) -> Result<AccessToken, UpstreamError> {
        let Some(table) = &self.table else {
            return self.exchange(transport, call).await;
        };
        if state.table_retry_at.is_none_or(|at| Instant::now() >= at) {
            match self.shared(table, state, transport, call).await {
                Ok(token) => return Ok(token),
                Err(Via::Upstream(error)) => return Err(error),
                // Our own deadline, not the table: nothing to learn, no time to fall back.
                Err(Via::Table(TableError::Timeout)) if call.spent() => {
                    return Err(UpstreamError::Timeout);
                }
                Err(Via::Table(error)) => {
                    tracing::warn!(
                        table = %table.name(),
                        %error,
                        "the shared token table could not be used; this container uses its own token for {} s",
                        TABLE_RETRY.as_secs()
                    );
                    state.table_retry_at = Some(Instant::now() + TABLE_RETRY);
                }
            }
        }
        call.record()
            .with(|tally| tally.shared_token_fallbacks += 1);
        self.exchange(transport, call).await
    }

    /// The fleet's token: the table's if it holds a usable one; else, if no other container is
    /// exchanging, ours, exchanged under the table's lease and published; else the one the
    /// exchanging container publishes, waited for within this request's time.
    async fn shared(
        &self,
        table: &TokenTable,
        state: &mut State,
        transport: &Transport,
        call: &Call,
    ) -> Result<AccessToken, Via> {
        let rejected = state.rejected.clone();
        let rejected = rejected.as_deref();
        let mut poll = FIRST_POLL;
        let mut missed = false;
        loop {
            let shared = table.read(call, rejected).await?;
            // One miss per request that found no usable token, however often it looks again.
            if !matches!(shared, Shared::Valid { .. }) && !std::mem::replace(&mut missed, true) {
                call.record().with(|tally| tally.shared_token_misses += 1);
            }
            match shared {
                Shared::Valid { token, refresh_at } => {
                    call.record().with(|tally| tally.shared_token_hits += 1);
                    return Ok(AccessToken {
                        value: token,
                        refresh_at,
                    });
                }
                Shared::Leased { until } => {
                    if call.spent() {
                        return Err(Via::Upstream(UpstreamError::Timeout));
                    }
                    let wait = poll
                        .min(until.saturating_duration_since(Instant::now()))
                        .min(call.remaining())
                        .max(Duration::from_millis(1));
                    tokio::time::sleep(wait).await;
                    poll = (poll * 2).min(MAX_POLL);
                }
                Shared::Vacant => {
                    let Some(lease) = table.lease(call, rejected).await? else {
                        // Another container took the lease or published first: look again.
                        continue;
                    };
                    let outcome = self.exchange(transport, call).await;
                    match &outcome {
                        Ok(token) => {
                            let refresh_in =
                                token.refresh_at.saturating_duration_since(Instant::now());
                            if let Err(error) = table
                                .publish(call, &lease, token.bearer(), refresh_in)
                                .await
                            {
                                // The token is good; only the fleet will not see it.
                                tracing::warn!(table = %table.name(), %error, "the new token could not be published to the shared token table");
                                state.table_retry_at = Some(Instant::now() + TABLE_RETRY);
                            }
                        }
                        Err(_) => {
                            // Best effort: if this fails too, the lease lapses by itself.
                            let _ = table.release(call, &lease).await;
                        }
                    }
                    return outcome.map_err(Via::Upstream);
                }
            }
        }
    }

    async fn exchange(
        &self,
        transport: &Transport,
        call: &Call,
    ) -> Result<AccessToken, UpstreamError> {
        let credentials = self.credentials.get(call).await?;
        match self.request(transport, call, &credentials).await {
            Err(UpstreamError::CredentialsRejected) => {
                match self.credentials.reread(call, &credentials).await? {
                    Some(reread) => {
                        tracing::warn!(
                            "OmniLab rejected the client credentials; trying the secret's newer value"
                        );
                        self.request(transport, call, &reread).await
                    }
                    None => {
                        tracing::error!("OmniLab rejected the client credentials in the secret");
                        Err(UpstreamError::CredentialsRejected)
                    }
                }
            }
            outcome => outcome,
        }
    }

    /// One token exchange: a failure, whatever it is, counts in the request's tally.
    async fn request(
        &self,
        transport: &Transport,
        call: &Call,
        credentials: &Credentials,
    ) -> Result<AccessToken, UpstreamError> {
        self.try_request(transport, call, credentials)
            .await
            .inspect_err(|_| {
                call.record()
                    .with(|tally| tally.token_exchange_failures += 1)
            })
    }

    async fn try_request(
        &self,
        transport: &Transport,
        call: &Call,
        credentials: &Credentials,
    ) -> Result<AccessToken, UpstreamError> {
        let body = TokenRequest {
            client_id: &credentials.client_id,
            client_secret: &credentials.client_secret,
            audience: &credentials.audience,
            grant_type: "client_credentials",
        };
        let client = transport.client()?;
        let answer = transport
            .send(call, Endpoint::Token, Retry::Safe, || {
                client.post(&self.token_url).json(&body)
            })
            .await?;
        #[cfg(feature = "stats")]
        self.exchanges.fetch_add(1, Ordering::Relaxed);
        match answer.status {
            status if status.is_success() => {}
            StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(UpstreamError::CredentialsRejected);
            }
            status => return Err(UpstreamError::Status(status.as_u16())),
        }
        let token: TokenResponse = answer.json(call)?;
        if token.access_token.is_empty() {
            call.record().malformed(Endpoint::Token);
            return Err(UpstreamError::Malformed(Malformed::EmptyToken));
        }
        Ok(AccessToken {
            value: token.access_token.into(),
            refresh_at: refresh_at(Instant::now(), token.expires_in),
        })
    }
}

/// Why the shared token could not be had: the table (fall back on our own token) or OmniLab.
enum Via {
    Table(TableError),
    Upstream(UpstreamError),
}

impl From<TableError> for Via {
    fn from(error: TableError) -> Self {
        Self::Table(error)
    }
}

/// How long other requests are answered with `error` instead of exchanging again.
fn failure_memory(error: &UpstreamError) -> Duration {
    match error {
        UpstreamError::RateLimited {
            retry_after: Some(wait),
        } => (*wait).clamp(FAILURE_MEMORY, MAX_RETRY_AFTER),
        // Credentials OmniLab refused are not worth trying again before the secret may be
        // read again.
        UpstreamError::CredentialsRejected => super::credentials::REREAD_INTERVAL,
        _ => FAILURE_MEMORY,
    }
}

/// When to stop using a token that lives `lifetime`: a minute early, or a tenth of its life for
/// short-lived tokens, so no request goes out with a token about to lapse.
pub(crate) fn refresh_at(obtained: Instant, lifetime: Duration) -> Instant {
    let lifetime = lifetime.min(MAX_LIFETIME);
    let margin = (lifetime / 10).min(Duration::from_secs(60));
    obtained.checked_add(lifetime - margin).unwrap_or(obtained)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn an_hour_long_token_is_refreshed_a_minute_early() {
        let now = Instant::now();
        assert_eq!(refresh_at(now, secs(3600)), now + secs(3540));
    }

    #[test]
    fn a_short_token_is_refreshed_a_tenth_early() {
        let now = Instant::now();
        assert_eq!(refresh_at(now, secs(30)), now + secs(27));
        assert_eq!(refresh_at(now, Duration::ZERO), now);
    }

    #[test]
    fn a_huge_lifetime_does_not_overflow() {
        let now = Instant::now();
        assert!(refresh_at(now, secs(10 * 365 * 24 * 3600)) > now);
        assert!(refresh_at(now, Duration::MAX) <= now + MAX_LIFETIME);
    }

    #[test]
    fn any_expires_in_is_clamped() {
        let parse = |expires_in: &str| {
            let body = format!(r#"{{"access_token":"t","expires_in":{expires_in}}}"#);
            serde_json::from_str::<TokenResponse>(&body).map(|t| t.expires_in)
        };
        assert_eq!(parse("3600").unwrap(), secs(3600));
        assert_eq!(parse("18446744073709551615").unwrap(), MAX_LIFETIME);
        assert_eq!(parse("1e308").unwrap(), MAX_LIFETIME);
        assert_eq!(parse("-5").unwrap(), Duration::ZERO);
        assert_eq!(parse("-9223372036854775808").unwrap(), Duration::ZERO);
        assert_eq!(parse("1.5").unwrap(), Duration::from_millis(1500));
        assert!(parse(r#""3600""#).is_err(), "a string is not a lifetime");
    }

    #[test]
    fn a_rate_limit_is_remembered_for_its_retry_after_within_bounds() {
        let limited = |wait| UpstreamError::RateLimited {
            retry_after: Some(wait),
        };
        assert_eq!(failure_memory(&limited(secs(7))), secs(7));
        assert_eq!(failure_memory(&limited(secs(3600))), MAX_RETRY_AFTER);
        assert_eq!(failure_memory(&limited(Duration::ZERO)), FAILURE_MEMORY);
        assert_eq!(failure_memory(&UpstreamError::Status(503)), FAILURE_MEMORY);
    }
}
