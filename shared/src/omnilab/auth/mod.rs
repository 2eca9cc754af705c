//! The client-credentials access token: one per container, or the fleet's one through the
//! shared table, obtained in one flight and kept serving for as long as it is valid.
//!
//! # Layout
//!
//! - [`credentials`]: the client credentials, read from Secrets Manager once per container.
//! - [`exchange`]: the OAuth exchange itself, with one re-read of a rotated secret.
//! - [`token`]: a token and its two instants: when a refresh is due, when it expires.
//! - [`fleet`]: the lease protocol that shares one token across containers, over a table trait.
//! - [`table`]: that table in DynamoDB, with every attribute it reads checked.
//! - [`trial`]: candidate credentials tried once, before they go into the secret.
//!
//! This module is the container's cache: which token a request gets, who refreshes it, what a
//! failure is answered with, and when the fleet's table is left for a token of our own.
//!
//! Why a due token is not blocked on: a refresh starts when a fifth of the token's life is left
//! and, while it is under way or failing, every request keeps using the token in hand until it
//! expires. Only a request with no usable token waits for the one exchange in flight.

mod credentials;
mod exchange;
mod fleet;
mod table;
mod token;
mod trial;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub(crate) use credentials::CredentialStore;
pub use credentials::{Credentials, CredentialsSource};
pub(crate) use table::TokenTable;
pub(crate) use token::AccessToken;
pub use trial::{Accepted, try_credentials};

use exchange::Exchange;
use fleet::{Fleet, Had, Miss, Ours, Table, TableError, Urgency, WARN_EVERY};

use super::transport::Transport;
use super::{Budget, CredentialsError, UpstreamError};
use crate::every::Every;

/// How long a failed exchange is answered again when OmniLab gave no `Retry-After`.
const FAILURE_MEMORY: Duration = Duration::from_secs(1);
/// The longest `Retry-After` we honour: past this, a stale rate limit would outlast the outage.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
/// How long a container that could not use the shared table keeps to its own token before it
/// tries the table again: one warning per this, not one per request.
const TABLE_RETRY: Duration = Duration::from_secs(30);
/// How long a container that saw OmniLab refuse a token it had just issued stops replacing
/// refused tokens from the table (see [`Authenticator::refused_fresh`]).
const REFUSAL_MEMORY: Duration = Duration::from_secs(30);
/// The most of a request's time a refresh may take while the token in hand still serves: a slow
/// token endpoint then costs that request a little, never its answer.
const REFRESH_BUDGET: Duration = Duration::from_secs(1);
/// A request that spent this long in the table before its time ran out was failed by the
/// table (its calls take milliseconds), not by its own deadline: the table is left aside.
const SLOW_TABLE: Duration = Duration::from_millis(500);

pub(crate) struct Authenticator {
    exchange: Exchange,
    /// The fleet's shared token, when `OMNILAB_TOKEN_TABLE` names a table.
    fleet: Option<Fleet<TokenTable>>,
    /// How long a token serves before the secret is read again to see whether it still names
    /// the client the token was issued to.
    credentials_max_age: Duration,
    state: Mutex<State>,
    // Held across a refresh: requests with no usable token wait for the one in flight instead
    // of starting their own, and take its outcome, failure included.
    flight: tokio::sync::Mutex<()>,
    /// A refresh that fails is tried again every second or so: one warning per interval.
    unrefreshed: Every,
    /// And the table, once per interval whatever failed in it.
    table_failed: Every,
    /// And a secret that could not be read to check the credentials.
    unchecked: Every,
}

#[derive(Default)]
struct State {
    current: Option<AccessToken>,
    /// From then on, `current` serves only after the secret was read again and still names
    /// the client it was issued to.
    check_at: Option<Instant>,
    /// The last refresh's failure, until the instant it holds: answered to requests with no
    /// usable token, and no refresh is tried before it, so an outage costs OmniLab a few calls
    /// per container rather than a few per request.
    failed: Option<(UpstreamError, Instant)>,
    /// The token OmniLab last refused, so the shared table's copy of it is not taken again.
    rejected: Option<Arc<str>>,
    /// After the table failed us, this container uses its own token until then.
    table_retry_at: Option<Instant>,
    /// OmniLab refused a token our own exchange had just issued: until then, a refused token
    /// from the table is taken for more of the same, not for a revoked one worth replacing.
    refusing_fresh_until: Option<Instant>,
}

/// What the cache can answer without a refresh.
enum Cached {
    Settled(Result<AccessToken, UpstreamError>),
    /// A fresh token whose client is to be checked against the secret first.
    Check(AccessToken),
    /// A refresh is wanted; the token, if any, still serves meanwhile.
    Refresh(Option<AccessToken>),
}

/// A failed refresh, with the token that may still serve.
struct Failed {
    error: UpstreamError,
    usable: Option<AccessToken>,
    /// The shared table, not OmniLab, spent the time: nothing was learnt about OmniLab, and the
    /// table said so in its own warning.
    table: bool,
}

impl From<UpstreamError> for Failed {
    fn from(error: UpstreamError) -> Self {
        Self {
            error,
            usable: None,
            table: false,
        }
    }
}

impl Authenticator {
    pub(crate) fn new(
        exchange_base: &str,
        credentials: CredentialStore,
        table: Option<TokenTable>,
        credentials_max_age: Duration,
    ) -> Self {
        Self {
            exchange: Exchange::new(exchange_base, credentials),
            fleet: table.map(Fleet::new),
            credentials_max_age,
            state: Mutex::new(State::default()),
            flight: tokio::sync::Mutex::new(()),
            unrefreshed: Every::new(WARN_EVERY),
            table_failed: Every::new(WARN_EVERY),
            unchecked: Every::new(WARN_EVERY),
        }
    }

    pub(crate) async fn prepare(&self) {
        self.exchange.prepare().await;
        if let Some(fleet) = &self.fleet {
            fleet.table().prepare().await;
        }
    }

    #[cfg(feature = "stats")]
    pub(crate) fn exchanges(&self) -> u64 {
        self.exchange.exchanges()
    }

    #[cfg(feature = "stats")]
    pub(crate) fn secret_reads(&self) -> u64 {
        self.exchange.secret_reads()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Never held across an await; a panic while holding it leaves a cache, not a broken
        // invariant.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn cached(&self, now: Instant) -> Cached {
        let state = self.state();
        let usable = state.current.clone().filter(|t| t.usable(now));
        let failing = state.failed.as_ref().filter(|(_, until)| now < *until);
        if let Some(token) = usable.as_ref().filter(|t| now < t.refresh_at()) {
            // While refreshes fail, a check that found another client would only start one more.
            let checked = state.check_at.is_none_or(|at| now < at);
            return match checked || failing.is_some() {
                true => Cached::Settled(Ok(token.clone())),
                false => Cached::Check(token.clone()),
            };
        }
        match failing {
            Some((error, _)) => Cached::Settled(usable.ok_or_else(|| error.clone())),
            None => Cached::Refresh(usable),
        }
    }

    pub(crate) async fn token(
        &self,
        transport: &Transport,
        budget: &Budget,
    ) -> Result<AccessToken, UpstreamError> {
        let arrived = Instant::now();
        let in_hand = match self.cached(arrived) {
            Cached::Settled(answer) => return answer,
            Cached::Refresh(in_hand) => in_hand,
            Cached::Check(token) => Some(token),
        };
        let _flight = match &in_hand {
            // A refresh is under way: the token in hand serves meanwhile.
            Some(token) => match self.flight.try_lock() {
                Ok(flight) => flight,
                Err(_) => return Ok(token.clone()),
            },
            None => self.flight.lock().await,
        };
        // The flight we waited for may have settled it.
        let in_hand = match self.cached(Instant::now()) {
            Cached::Settled(answer) => return answer,
            Cached::Refresh(in_hand) => in_hand,
            Cached::Check(token) => {
                // Boxed, as `obtain` below is, and only when a check is due.
                match Box::pin(self.check(&token, &budget.within(REFRESH_BUDGET))).await {
                    Some(next) => {
                        self.state().check_at = Some(next);
                        return Ok(token);
                    }
                    // Issued to the client the secret named before: replaced like a due token.
                    None => Some(token),
                }
            }
        };
        let within;
        let refresh_budget = match in_hand {
            Some(_) => {
                within = budget.within(REFRESH_BUDGET);
                &within
            }
            None => budget,
        };
        // Boxed: getting a token (table, secret, exchange) nests futures deep enough to take
        // the handler's future past rustc's layout depth limit in callers that nest it
        // further. One allocation, only when a token is needed.
        let outcome = Box::pin(self.obtain(transport, refresh_budget)).await;
        let now = Instant::now();
        let mut state = self.state();
        match outcome {
            Ok(fresh) => {
                state.current = Some(fresh.clone());
                state.check_at = Some(now + self.credentials_max_age);
                state.failed = None;
                state.rejected = None;
                Ok(fresh)
            }
            Err(Failed {
                error,
                usable,
                table,
            }) => {
                // A request that ran out of its own time, or whose time the table spent, learnt
                // nothing about OmniLab: a patient request behind it must still try.
                let callers_own = matches!(
                    error,
                    UpstreamError::Timeout | UpstreamError::Credentials(CredentialsError::Timeout)
                ) && budget.spent();
                if !callers_own && !table {
                    state.failed = Some((error.clone(), now + failure_memory(&error)));
                }
                // Judged at the request's arrival, not after the refresh it waited on: a token
                // that could serve the request then still does (the expiry keeps a margin for
                // the way, no smaller than the refresh's budget for a token of 20 s or more).
                match usable.or(in_hand).filter(|t| t.usable(arrived)) {
                    Some(token) => {
                        // The table's own warning named it; this one would blame OmniLab.
                        if !table && self.unrefreshed.due(now) {
                            tracing::warn!(%error, "the access token could not be refreshed; the current one serves until it expires");
                        }
                        state.current = Some(token.clone());
                        // A check that found another client is tried again after a pause, not
                        // by every request while its replacement keeps failing.
                        state.check_at = Some(match state.check_at {
                            None => now + self.credentials_max_age,
                            Some(at) => at.max(now + credentials::REREAD_INTERVAL),
                        });
                        Ok(token)
                    }
                    None => Err(error),
                }
            }
        }
    }

    /// Reads the secret again to see whether `token` was issued to the client it names. `Some`:
    /// it was, or the secret could not tell; the instant of the next check. `None`: the secret
    /// now names another client.
    async fn check(&self, token: &AccessToken, budget: &Budget) -> Option<Instant> {
        // Paced by `check_at` already: the secret is read whenever a check is due.
        match self.exchange.reread_client(budget, Duration::ZERO).await {
            Ok((ours, _)) if token.of_another_client(ours) => {
                tracing::info!(
                    "the secret names another OmniLab client than the current token's; it is replaced"
                );
                None
            }
            Ok(_) => Some(Instant::now() + self.credentials_max_age),
            Err(error) => {
                if self.unchecked.due(Instant::now()) {
                    tracing::warn!(%error, "the secret could not be read to check the credentials; the current token serves meanwhile");
                }
                Some(Instant::now() + credentials::REREAD_INTERVAL)
            }
        }
    }

    /// The client the credentials in hand name. `None` before this container needed them: a
    /// cold container takes the table's token on trust rather than read the secret for it, and
    /// checks it against the secret after [`Authenticator::credentials_max_age`] as every token.
    /// With `reread`, the secret is read again first (`None`: it could not be).
    async fn ours(&self, budget: &Budget, reread: bool) -> Option<Ours> {
        let (client, read_at) = match reread {
            // Many requests may find the same item: one read per interval is enough for all.
            true => self
                .exchange
                .reread_client(budget, credentials::REREAD_INTERVAL)
                .await
                .ok()?,
            false => self.exchange.known_client().await?,
        };
        Some(Ours {
            client,
            just_read: read_at.elapsed() < credentials::REREAD_INTERVAL,
        })
    }

    /// OmniLab answered 401 to `rejected`: forget it, unless a newer token already replaced it.
    pub(crate) fn discard(&self, rejected: &AccessToken) {
        let mut state = self.state();
        if state.current.as_ref().is_some_and(|t| t.same(rejected)) {
            state.current = None;
            state.rejected = Some(rejected.bearer().into());
        }
    }

    /// OmniLab refused a token our own exchange issued: it is refusing tokens, not revoking
    /// old ones. Remembered for [`REFUSAL_MEMORY`].
    pub(crate) fn refused_fresh(&self) {
        self.state().refusing_fresh_until = Some(Instant::now() + REFUSAL_MEMORY);
    }

    /// Whether a refused token from the table is worth replacing: not while OmniLab refuses
    /// even the tokens it has just issued (each replacement would be one more exchange).
    pub(crate) fn replacing_refused_shared_tokens(&self) -> bool {
        self.state()
            .refusing_fresh_until
            .is_none_or(|until| Instant::now() >= until)
    }

    /// The table failed this request (a read, a lease or a publish): counted, said once per
    /// interval naming the table, and left aside for [`TABLE_RETRY`], after which it is tried
    /// again. Meanwhile this container exchanges its own token, as it would without a table.
    fn leave_table(&self, budget: &Budget, table: &str, error: &TableError) {
        budget
            .record()
            .with(|tally| tally.token_table_failures += 1);
        let now = Instant::now();
        self.state().table_retry_at = Some(now + TABLE_RETRY);
        if self.table_failed.due(now) {
            tracing::warn!(
                table,
                %error,
                "the shared token table could not be used; this container uses its own token for {} s",
                TABLE_RETRY.as_secs()
            );
        }
    }

    /// A new token: the fleet's from the shared table when there is one, else our own.
    async fn obtain(&self, transport: &Transport, budget: &Budget) -> Result<AccessToken, Failed> {
        // A cold container that finds the fleet's token due refreshes it under the lease as a
        // warm one refreshes its own: within [`REFRESH_BUDGET`], the due token serving the
        // request whatever the exchange does.
        let refreshing = budget.within(REFRESH_BUDGET);
        let exchange = |urgency: Urgency| {
            let budget = match urgency {
                Urgency::Due => &refreshing,
                Urgency::Missing => budget,
            };
            self.exchange.token(transport, budget)
        };
        let Some(fleet) = &self.fleet else {
            return Ok(exchange(Urgency::Missing).await?);
        };
        let (use_table, rejected) = {
            let state = self.state();
            let use_table = state.table_retry_at.is_none_or(|at| Instant::now() >= at);
            (use_table, state.rejected.clone())
        };
        if use_table {
            let asked = Instant::now();
            let ours = self.ours(budget, false).await;
            let mut outcome = fleet
                .token(budget, rejected.as_deref(), ours, exchange)
                .await;
            if let Err(Miss::OtherClient) = outcome {
                // The secret may have been switched since our credentials were read. If it
                // cannot be read now, the table's token is taken on trust (`None`) rather than
                // replaced with a token of a client that may be the old one.
                let ours = self.ours(budget, true).await;
                outcome = fleet
                    .token(budget, rejected.as_deref(), ours, exchange)
                    .await;
            }
            match outcome {
                Ok(Had { token, unpublished }) => {
                    match unpublished {
                        // Throttled: the next holder's publish will likely land; leaving the
                        // table aside now would make every container exchange its own.
                        Some(TableError::Unavailable(failure)) if failure.throttled() => {
                            budget
                                .record()
                                .with(|tally| tally.token_table_failures += 1);
                            if self.table_failed.due(Instant::now()) {
                                tracing::warn!(table = %fleet.table().name(), error = %failure, "the new token could not be published to the shared token table (throttled); the next holder's publish replaces it");
                            }
                        }
                        Some(error) => self.leave_table(budget, fleet.table().name(), &error),
                        None => {}
                    }
                    return Ok(token);
                }
                Err(Miss::Upstream { error, due }) => {
                    return Err(Failed {
                        error,
                        usable: due,
                        table: false,
                    });
                }
                // Our own deadline, not the table's: nothing to learn, no time to fall back.
                Err(Miss::OutOfTime) => return Err(UpstreamError::Timeout.into()),
                Err(Miss::Table(TableError::Timeout))
                    if budget.spent() && asked.elapsed() < SLOW_TABLE =>
                {
                    return Err(UpstreamError::Timeout.into());
                }
                Err(Miss::Table(error)) => {
                    self.leave_table(budget, fleet.table().name(), &error);
                    // The table spent the time: OmniLab is not to blame, and nothing was
                    // learnt about it.
                    if budget.spent() {
                        return Err(Failed {
                            error: UpstreamError::Timeout,
                            usable: None,
                            table: true,
                        });
                    }
                }
                // Only after a fresh read of the secret, and none happened: as a give-up.
                Err(Miss::OtherClient) => {}
                // The fleet warned, once per interval.
                Err(Miss::GaveUp(why)) => {
                    tracing::debug!(
                        why,
                        "the fleet's token was not had; this request exchanges its own"
                    );
                }
            }
        }
        budget
            .record()
            .with(|tally| tally.shared_token_fallbacks += 1);
        Ok(exchange(Urgency::Missing).await?)
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
        UpstreamError::CredentialsRejected => credentials::REREAD_INTERVAL,
        _ => FAILURE_MEMORY,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
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
