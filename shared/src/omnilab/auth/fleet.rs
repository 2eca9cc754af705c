//! The fleet's one token: the lease protocol over the shared table, as a small state machine.
//!
//! Each container that needs a token reads the table and [`decide`]s from what it finds:
//!
//! | the item holds                         | the container                                  |
//! |----------------------------------------|------------------------------------------------|
//! | a fresh token                          | uses it                                        |
//! | a token due for refresh, and a lease   | uses it (another container is refreshing it)   |
//! | a token due for refresh, no lease      | takes the lease, refreshes within a warm refresh's budget ([`Urgency::Due`]), publishes; if that fails, uses the due token |
//! | no usable token, and a live lease      | waits, polling, for as long as the lease lasts (at most [`LEASE`]); then takes the lease if it lapsed, else exchanges a token of its own |
//! | no usable token, no live lease         | takes the lease, exchanges, publishes          |
//!
//! "No usable token" covers an absent, expired or refused token and anything the table's
//! checks find unusable. A lease is taken only if the item is still as it was read, so two
//! containers never both hold it, and whatever was unusable is taken over and replaced rather
//! than waited on. The holder gives the lease back on every path that does not publish, and
//! says why a publish failed ([`Had::unpublished`]) for the container to count it.
//!
//! Why a waiter follows the lease and not a clock of its own: the holder's exchange is what it
//! waits for, and a slow token endpoint (a second or more) is exactly when the fleet is cold
//! together. A waiter that gave up before the holder published would exchange a token of its
//! own: one exchange per container, the table's whole point lost on the day it matters.
//!
//! Why the protocol can never hold the fleet: every loop here is bounded in DynamoDB calls
//! ([`MAX_TABLE_CALLS`], sized for the longest path: a read and a lost lease race, a lease's
//! worth of polls, then the lease, a publish and a release) as well as in time: a lease lasts
//! [`LEASE`], a waiter waits at most that long, and every failure of the table ends in the
//! container's own token: the fleet is never worse off than containers without a table.

use std::future::Future;
use std::time::{Duration, Instant};

use super::credentials::ClientFingerprint;
use super::token::{AccessToken, Freshness};
use crate::aws::SdkFailure;
use crate::every::Every;
use crate::omnilab::{Budget, UpstreamError};

/// How long a lease lasts: well beyond one healthy token exchange (tens to hundreds of
/// milliseconds) and a slow one (a second and a half), short enough that a holder that died
/// costs the fleet little. A waiter waits no longer than this for the holder.
pub(crate) const LEASE: Duration = Duration::from_secs(2);
/// DynamoDB calls one request may make for the token, whatever the item holds: a read and a
/// lease race lost, the polls of a waiter through a whole lease (at 50, 200, 650 ms, then every
/// [`LONGEST_POLL`]: six), then the lease, a publish and a release. (The SDK may repeat each
/// call once after a throttle or a fault.)
pub(crate) const MAX_TABLE_CALLS: u32 = 12;
/// How often a waiter looks again: soon at first (an exchange takes tens to hundreds of
/// milliseconds), then a third as often each time, up to [`LONGEST_POLL`].
const FIRST_POLL: Duration = Duration::from_millis(50);
const POLL_GROWTH: u32 = 3;
const LONGEST_POLL: Duration = Duration::from_millis(500);
/// A read while waiting keeps this many calls in reserve: the lease, a publish, a release.
const HOLDER_CALLS: u32 = 3;
/// A container that uses a due token while another refreshes it looks again after this.
const RECHECK: Duration = Duration::from_secs(1);
/// One warning of each kind per container per this.
pub(crate) const WARN_EVERY: Duration = Duration::from_secs(30);

/// Why the table could not be used.
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

/// What went wrong with an item, by attribute: never its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{attribute}: {problem}")]
pub(crate) struct Flaw {
    pub(crate) attribute: &'static str,
    pub(crate) problem: &'static str,
}

/// The item as one read found it, checked.
#[derive(Debug)]
pub(crate) struct Snapshot<B> {
    /// A well-formed token, fresh, due or expired.
    pub(crate) token: Option<AccessToken>,
    /// A well-formed lease's end, lapsed or not.
    pub(crate) lease_until: Option<Instant>,
    /// Whether the item names a lease at all, usable or not: taking the lease then takes it over.
    pub(crate) leased_before: bool,
    /// The first thing found wrong; the parts it concerns count as absent.
    pub(crate) flaw: Option<Flaw>,
    /// What taking the lease must find unchanged.
    pub(crate) basis: B,
}

/// The shared table, as the protocol needs it.
pub(crate) trait Table: Send + Sync {
    type Basis: Send + Sync;
    type Lease: Send + Sync;

    fn name(&self) -> &str;

    fn read(
        &self,
        budget: &Budget,
    ) -> impl Future<Output = Result<Snapshot<Self::Basis>, TableError>> + Send;

    /// Takes the lease until `until` if the item is still as `basis` found it (`None`: it
    /// changed). With `clear_token`, whatever token the item holds is removed with it.
    fn lease(
        &self,
        budget: &Budget,
        basis: &Self::Basis,
        until: Instant,
        clear_token: bool,
    ) -> impl Future<Output = Result<Option<Self::Lease>, TableError>> + Send;

    /// Replaces the item with `token`, if `lease` is still ours (`false`: it lapsed and was
    /// taken over).
    fn publish(
        &self,
        budget: &Budget,
        lease: &Self::Lease,
        token: &AccessToken,
    ) -> impl Future<Output = Result<bool, TableError>> + Send;

    /// Gives `lease` back, if it is still ours; also when the request's own time is up.
    fn release(
        &self,
        budget: &Budget,
        lease: &Self::Lease,
    ) -> impl Future<Output = Result<(), TableError>> + Send;
}

/// One step of the protocol, decided from one read.
#[derive(Debug)]
pub(crate) enum Step {
    Use(AccessToken),
    /// Due for refresh while another container refreshes it.
    UseWhileRefreshed(AccessToken),
    /// No usable token; another container exchanges until `until`.
    Wait {
        until: Instant,
    },
    /// Nobody is exchanging: take the lease. `due` is the token to use if the refresh fails.
    Lease {
        due: Option<AccessToken>,
    },
}

/// The protocol's one decision. `rejected` is a token OmniLab refused: never used again.
pub(crate) fn decide(
    token: Option<&AccessToken>,
    lease_until: Option<Instant>,
    rejected: Option<&str>,
    now: Instant,
) -> Step {
    let token = token.filter(|t| Some(t.bearer()) != rejected);
    let leased = lease_until.filter(|until| *until > now);
    match (token.map(|t| (t, t.freshness(now))), leased) {
        (Some((t, Freshness::Fresh)), _) => Step::Use(t.clone()),
        (Some((t, Freshness::Due)), Some(_)) => Step::UseWhileRefreshed(t.clone()),
        (Some((t, Freshness::Due)), None) => Step::Lease {
            due: Some(t.clone()),
        },
        (_, Some(until)) => Step::Wait { until },
        (_, None) => Step::Lease { due: None },
    }
}

/// The OmniLab client this container's secret names, as far as it knows.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ours {
    pub(crate) client: ClientFingerprint,
    /// Read from the secret a moment ago: a shared token of another client is then another
    /// client's, to be replaced, rather than a sign that these credentials are stale.
    pub(crate) just_read: bool,
}

/// How much an exchange under the lease matters to the request that makes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Urgency {
    /// The table's token is due but still serves: the request is served with it whatever the
    /// exchange does, so the exchange gets no more time than a warm container's refresh.
    Due,
    /// No usable token: the request waits for this exchange.
    Missing,
}

/// The fleet's token, and the table's failure to take it, if its publish failed.
#[derive(Debug)]
pub(crate) struct Had {
    pub(crate) token: AccessToken,
    /// The token this container exchanged could not be published: the container's to use, and
    /// the table's fault to count and step around.
    pub(crate) unpublished: Option<TableError>,
}

impl Had {
    fn shared(token: AccessToken) -> Self {
        Self {
            token,
            unpublished: None,
        }
    }
}

/// Why the fleet's token was not had.
#[derive(Debug)]
pub(crate) enum Miss {
    /// The table failed: use a token of the container's own, and leave the table alone a while.
    Table(TableError),
    /// The request's own time ran out while it waited for another container's exchange.
    OutOfTime,
    /// Another container's exchange outlasted our patience, or the calls ran out: use a token
    /// of our own this once.
    GaveUp(&'static str),
    /// The table's token was issued to another client than our credentials name, and they
    /// were not read a moment ago: read the secret again and ask again.
    OtherClient,
    /// Our own exchange under the lease failed. `due` is the table's token, still usable.
    Upstream {
        error: UpstreamError,
        due: Option<AccessToken>,
    },
}

/// The fleet's side of the container's token.
pub(crate) struct Fleet<T> {
    table: T,
    unusable: Every,
    impatient: Every,
    other_client: Every,
}

impl<T: Table> Fleet<T> {
    pub(crate) fn new(table: T) -> Self {
        Self {
            table,
            unusable: Every::new(WARN_EVERY),
            impatient: Every::new(WARN_EVERY),
            other_client: Every::new(WARN_EVERY),
        }
    }

    pub(crate) fn table(&self) -> &T {
        &self.table
    }

    /// The fleet's token: the table's, or one `exchange` makes under the lease and publishes.
    /// `exchange` is told whether a due token still serves meanwhile ([`Urgency`]). A token
    /// issued to another client than `ours` counts as absent (`None`: not known, the table's
    /// token is taken on trust).
    pub(crate) async fn token<F, Fut>(
        &self,
        budget: &Budget,
        rejected: Option<&str>,
        ours: Option<Ours>,
        exchange: F,
    ) -> Result<Had, Miss>
    where
        F: FnOnce(Urgency) -> Fut,
        Fut: Future<Output = Result<AccessToken, UpstreamError>>,
    {
        let mut calls = TableCalls::new(budget);
        let mut waiting_since: Option<Instant> = None;
        let mut poll = FIRST_POLL;
        let mut counted = Counted::default();
        loop {
            // A read while waiting keeps room for taking the lapsed lease afterwards.
            calls.take(if waiting_since.is_some() {
                HOLDER_CALLS
            } else {
                0
            })?;
            let snapshot = self.table.read(budget).await.map_err(Miss::Table)?;
            let now = Instant::now();
            if let Some(flaw) = snapshot.flaw {
                counted.once(budget, Counter::Unusable);
                if self.unusable.due(now) {
                    tracing::warn!(table = %self.table.name(), %flaw, "the shared token item is unusable; it counts as absent and will be replaced");
                }
            }
            let mut token = snapshot.token;
            if let (Some(found), Some(ours)) = (&token, ours)
                && found.of_another_client(ours.client)
            {
                if !ours.just_read {
                    return Err(Miss::OtherClient);
                }
                counted.once(budget, Counter::OtherClient);
                // Not a fault: an operator switched the secret to another client.
                if self.other_client.due(now) {
                    tracing::info!(table = %self.table.name(), "the shared token was issued to another OmniLab client than the secret names; it is replaced");
                }
                token = None;
            }
            let step = decide(token.as_ref(), snapshot.lease_until, rejected, now);
            match step {
                Step::Use(token) => {
                    counted.once(budget, Counter::Hit);
                    return Ok(Had::shared(token));
                }
                Step::UseWhileRefreshed(token) => {
                    counted.once(budget, Counter::Hit);
                    return Ok(Had::shared(token.deferred(now, RECHECK)));
                }
                Step::Wait { until } => {
                    counted.once(budget, Counter::Miss);
                    let since = *waiting_since.get_or_insert_with(|| {
                        counted.once(budget, Counter::Wait);
                        now
                    });
                    // No honest lease outlives this: a lease of another clock, or one renewed
                    // by a holder that never publishes, is not waited on for ever.
                    let give_up = since + LEASE;
                    if now >= give_up {
                        if self.impatient.due(now) {
                            tracing::warn!(table = %self.table.name(), "another container held the token lease for longer than {} ms; this one exchanges its own", LEASE.as_millis());
                        }
                        return Err(Miss::GaveUp("patience"));
                    }
                    if budget.spent() {
                        return Err(Miss::OutOfTime);
                    }
                    // Just past the lease's end, so a lapsed lease is seen as lapsed.
                    let wait = poll
                        .min(until.saturating_duration_since(now) + Duration::from_millis(1))
                        .min(give_up - now)
                        .min(budget.remaining());
                    tokio::time::sleep(wait).await;
                    poll = (poll * POLL_GROWTH).min(LONGEST_POLL);
                }
                Step::Lease { due } => {
                    counted.once(budget, Counter::Miss);
                    // The lease, then a publish and perhaps a release: three calls, or none.
                    calls.take(HOLDER_CALLS - 1)?;
                    let until = now + LEASE.min(budget.remaining());
                    let lease = self
                        .table
                        .lease(budget, &snapshot.basis, until, due.is_none())
                        .await
                        .map_err(Miss::Table)?;
                    let Some(lease) = lease else {
                        // Another container leased or published first: look again.
                        continue;
                    };
                    if snapshot.leased_before {
                        counted.once(budget, Counter::Takeover);
                    }
                    return self.hold(budget, &mut calls, lease, due, exchange).await;
                }
            }
        }
    }

    /// Exchanges under `lease`, then publishes, or gives the lease back on every other path.
    async fn hold<F, Fut>(
        &self,
        budget: &Budget,
        calls: &mut TableCalls<'_>,
        lease: T::Lease,
        due: Option<AccessToken>,
        exchange: F,
    ) -> Result<Had, Miss>
    where
        F: FnOnce(Urgency) -> Fut,
        Fut: Future<Output = Result<AccessToken, UpstreamError>>,
    {
        let urgency = match due {
            Some(_) => Urgency::Due,
            None => Urgency::Missing,
        };
        match exchange(urgency).await {
            Ok(token) => {
                calls.take(1)?;
                // `Ok(false)`: our lease lapsed and another container took over; the token is
                // still good for this one.
                let unpublished = self.table.publish(budget, &lease, &token).await.err();
                if unpublished.is_some() {
                    self.release(budget, calls, &lease).await;
                }
                Ok(Had { token, unpublished })
            }
            Err(error) => {
                self.release(budget, calls, &lease).await;
                Err(Miss::Upstream { error, due })
            }
        }
    }

    /// Best effort: a lease that cannot be given back lapses by itself within [`LEASE`].
    async fn release(&self, budget: &Budget, calls: &mut TableCalls<'_>, lease: &T::Lease) {
        if calls.take(0).is_ok() {
            let _ = self.table.release(budget, lease).await;
        }
    }
}

/// The request's DynamoDB calls for the token, counted and capped at [`MAX_TABLE_CALLS`].
struct TableCalls<'a> {
    budget: &'a Budget,
    left: u32,
}

impl<'a> TableCalls<'a> {
    fn new(budget: &'a Budget) -> Self {
        Self {
            budget,
            left: MAX_TABLE_CALLS,
        }
    }

    /// Counts one call, if `keep` more would still be left after it.
    fn take(&mut self, keep: u32) -> Result<(), Miss> {
        if self.left < 1 + keep {
            return Err(Miss::GaveUp("calls"));
        }
        self.left -= 1;
        self.budget.count();
        self.budget
            .record()
            .with(|tally| tally.token_table_calls += 1);
        Ok(())
    }
}

#[derive(Clone, Copy)]
enum Counter {
    Hit,
    Miss,
    Wait,
    Takeover,
    Unusable,
    OtherClient,
}

/// Each counter at most once per request, however often the loop goes round.
#[derive(Default)]
struct Counted(u8);

impl Counted {
    fn once(&mut self, budget: &Budget, counter: Counter) {
        let bit = 1 << counter as u8;
        if self.0 & bit != 0 {
            return;
        }
        self.0 |= bit;
        budget.record().with(|tally| match counter {
            Counter::Hit => tally.shared_token_hits += 1,
            Counter::Miss => tally.shared_token_misses += 1,
            Counter::Wait => tally.shared_token_waits += 1,
            Counter::Takeover => tally.shared_token_takeovers += 1,
            Counter::Unusable => tally.shared_token_unusable += 1,
            Counter::OtherClient => tally.shared_token_other_client += 1,
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::{Arc, Mutex};

    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// A token fresh for `fresh`, then due for `due`.
    fn token(value: &str, now: Instant, fresh: Duration, due: Duration) -> AccessToken {
        AccessToken::new(value.into(), None, now + fresh, now + fresh + due)
    }

    // ---- decide: one test per transition, no table at all ----

    #[test]
    fn a_fresh_token_is_used_whatever_the_lease() {
        let now = Instant::now();
        let t = token("a", now, ms(1000), ms(1000));
        for lease in [None, Some(now + ms(500)), Some(now - ms(1))] {
            assert!(
                matches!(decide(Some(&t), lease, None, now), Step::Use(u) if u.bearer() == "a")
            );
        }
    }

    #[test]
    fn a_due_token_is_used_while_another_container_refreshes_it() {
        let now = Instant::now();
        let t = token("a", now - ms(10), ms(5), ms(1000));
        assert!(matches!(
            decide(Some(&t), Some(now + ms(500)), None, now),
            Step::UseWhileRefreshed(_)
        ));
    }

    #[test]
    fn a_due_token_with_no_lease_is_refreshed_under_one_and_kept_as_the_fallback() {
        let now = Instant::now();
        let t = token("a", now - ms(10), ms(5), ms(1000));
        for lapsed in [None, Some(now), Some(now - ms(1))] {
            assert!(matches!(
                decide(Some(&t), lapsed, None, now),
                Step::Lease { due: Some(d) } if d.bearer() == "a"
            ));
        }
    }

    #[test]
    fn no_usable_token_and_a_live_lease_means_waiting_for_it() {
        let now = Instant::now();
        let expired = token("a", now - ms(100), ms(10), ms(10));
        let until = now + ms(300);
        for token in [None, Some(&expired)] {
            assert!(
                matches!(decide(token, Some(until), None, now), Step::Wait { until: u } if u == until)
            );
        }
    }

    #[test]
    fn no_usable_token_and_no_live_lease_means_taking_the_lease() {
        let now = Instant::now();
        let expired = token("a", now - ms(100), ms(10), ms(10));
        for token in [None, Some(&expired)] {
            for lease in [None, Some(now - ms(5))] {
                assert!(matches!(
                    decide(token, lease, None, now),
                    Step::Lease { due: None }
                ));
            }
        }
    }

    #[test]
    fn a_refused_token_is_never_used_again_even_if_fresh() {
        let now = Instant::now();
        let t = token("refused", now, ms(1000), ms(1000));
        assert!(matches!(
            decide(Some(&t), None, Some("refused"), now),
            Step::Lease { due: None }
        ));
        assert!(matches!(
            decide(Some(&t), None, Some("older"), now),
            Step::Use(_)
        ));
    }

    // ---- the protocol over an in-memory table ----

    /// The item, as the fake table holds it; `version` is the basis a lease write checks.
    #[derive(Default)]
    struct Item {
        version: u64,
        token: Option<AccessToken>,
        lease: Option<(u64, Instant)>,
        flaw: Option<Flaw>,
    }

    #[derive(Default)]
    struct FakeTable {
        item: Mutex<Item>,
        calls: AtomicU32,
        fail_reads: bool,
        fail_publish: bool,
        /// Every lease write is refused as if another container always got there first.
        always_contended: bool,
        /// The first lease write is refused: another container took the lease just before.
        first_lease_lost: std::sync::atomic::AtomicBool,
        releases: AtomicU32,
    }

    impl FakeTable {
        fn item(&self) -> std::sync::MutexGuard<'_, Item> {
            self.item.lock().unwrap()
        }

        /// The token the item holds now.
        fn published(&self) -> Option<String> {
            self.item().token.as_ref().map(|t| t.bearer().to_owned())
        }
    }

    impl Table for FakeTable {
        type Basis = u64;
        type Lease = u64;

        fn name(&self) -> &str {
            "fake"
        }

        async fn read(&self, _: &Budget) -> Result<Snapshot<u64>, TableError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.fail_reads {
                return Err(TableError::Timeout);
            }
            let item = self.item();
            Ok(Snapshot {
                token: item.token.clone(),
                lease_until: item.lease.map(|(_, until)| until),
                leased_before: item.lease.is_some() || item.flaw.is_some(),
                flaw: item.flaw,
                basis: item.version,
            })
        }

        async fn lease(
            &self,
            _: &Budget,
            basis: &u64,
            until: Instant,
            clear_token: bool,
        ) -> Result<Option<u64>, TableError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let mut item = self.item();
            if self.first_lease_lost.swap(false, Ordering::SeqCst) {
                item.version += 1;
                item.lease = Some((999, Instant::now() + LEASE));
                return Ok(None);
            }
            if self.always_contended || item.version != *basis {
                return Ok(None);
            }
            item.version += 1;
            item.lease = Some((item.version, until));
            item.flaw = None;
            if clear_token {
                item.token = None;
            }
            Ok(Some(item.version))
        }

        async fn publish(
            &self,
            _: &Budget,
            lease: &u64,
            token: &AccessToken,
        ) -> Result<bool, TableError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.fail_publish {
                return Err(TableError::Timeout);
            }
            let mut item = self.item();
            if item.lease.map(|(owner, _)| owner) != Some(*lease) {
                return Ok(false);
            }
            item.version += 1;
            *item = Item {
                version: item.version,
                token: Some(token.clone()),
                ..Item::default()
            };
            Ok(true)
        }

        async fn release(&self, _: &Budget, lease: &u64) -> Result<(), TableError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.releases.fetch_add(1, Ordering::SeqCst);
            let mut item = self.item();
            if item.lease.map(|(owner, _)| owner) == Some(*lease) {
                item.version += 1;
                item.lease = None;
            }
            Ok(())
        }
    }

    fn budget() -> Budget {
        Budget::new(Duration::from_secs(5))
    }

    async fn fresh(value: &str) -> Result<AccessToken, UpstreamError> {
        Ok(AccessToken::new(
            value.into(),
            None,
            Instant::now() + Duration::from_secs(60),
            Instant::now() + Duration::from_secs(70),
        ))
    }

    async fn unavailable() -> Result<AccessToken, UpstreamError> {
        Err(UpstreamError::Status(503))
    }

    /// The token the fleet hands a container that never exchanges one of its own.
    async fn the_tables_token<T: Table>(fleet: &Fleet<T>, budget: &Budget) -> AccessToken {
        fleet
            .token(budget, None, None, |_| never())
            .await
            .unwrap()
            .token
    }

    async fn never() -> Result<AccessToken, UpstreamError> {
        panic!("no exchange was due")
    }

    #[tokio::test]
    async fn an_absent_item_is_leased_exchanged_and_published_in_three_calls() {
        let fleet = Fleet::new(FakeTable::default());
        let budget = budget();
        let token = fleet
            .token(&budget, None, None, |_| fresh("new"))
            .await
            .unwrap()
            .token;
        assert_eq!(token.bearer(), "new");
        let item = fleet.table.item();
        assert_eq!(item.token.as_ref().map(AccessToken::bearer), Some("new"));
        assert!(item.lease.is_none());
        assert_eq!(fleet.table.calls.load(Ordering::SeqCst), 3);
        let tally = budget.tally();
        assert_eq!((tally.token_table_calls, tally.upstream_calls), (3, 3));
        assert_eq!((tally.shared_token_misses, tally.shared_token_hits), (1, 0));
    }

    #[tokio::test]
    async fn a_valid_token_costs_one_read_and_no_exchange() {
        let fleet = Fleet::new(FakeTable::default());
        fleet.table.item().token = Some(token("t", Instant::now(), ms(10_000), ms(10_000)));
        let budget = budget();
        let token = the_tables_token(&fleet, &budget).await;
        assert_eq!(token.bearer(), "t");
        assert_eq!(budget.tally().token_table_calls, 1);
        assert_eq!(budget.tally().shared_token_hits, 1);
    }

    #[tokio::test]
    async fn a_due_token_leased_by_another_is_used_and_looked_at_again_a_second_later() {
        let fleet = Fleet::new(FakeTable::default());
        let now = Instant::now();
        {
            let mut item = fleet.table.item();
            item.token = Some(token("due", now - ms(10), ms(1), ms(10_000)));
            item.lease = Some((99, now + ms(1500)));
        }
        let token = the_tables_token(&fleet, &budget()).await;
        assert_eq!(token.bearer(), "due");
        assert_eq!(token.freshness(Instant::now()), Freshness::Fresh);
        assert!(token.refresh_at() <= Instant::now() + RECHECK);
    }

    #[tokio::test]
    async fn a_due_token_whose_refresh_fails_is_handed_back_with_the_error() {
        let fleet = Fleet::new(FakeTable::default());
        let now = Instant::now();
        fleet.table.item().token = Some(token("due", now - ms(10), ms(1), ms(10_000)));
        let miss = fleet
            .token(&budget(), None, None, |_| unavailable())
            .await
            .unwrap_err();
        assert!(matches!(
            miss,
            Miss::Upstream { error: UpstreamError::Status(503), due: Some(d) } if d.bearer() == "due"
        ));
        let item = fleet.table.item();
        assert!(item.lease.is_none(), "the lease is given back");
        assert_eq!(
            item.token.as_ref().map(AccessToken::bearer),
            Some("due"),
            "a due token stays for the others"
        );
        assert_eq!(fleet.table.releases.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn an_unusable_item_is_taken_over_counted_and_replaced() {
        let fleet = Fleet::new(FakeTable::default());
        fleet.table.item().flaw = Some(Flaw {
            attribute: "lease_until",
            problem: "out of range",
        });
        let budget = budget();
        let token = fleet
            .token(&budget, None, None, |_| fresh("repaired"))
            .await
            .unwrap()
            .token;
        assert_eq!(token.bearer(), "repaired");
        let item = fleet.table.item();
        assert!(item.flaw.is_none());
        assert_eq!(
            item.token.as_ref().map(AccessToken::bearer),
            Some("repaired")
        );
        let tally = budget.tally();
        assert_eq!(
            (tally.shared_token_unusable, tally.shared_token_takeovers),
            (1, 1)
        );
    }

    fn client(hex: &str) -> ClientFingerprint {
        ClientFingerprint::parse(hex).unwrap()
    }

    fn ours(hex: &str, just_read: bool) -> Ours {
        Ours {
            client: client(hex),
            just_read,
        }
    }

    /// A fresh token in the table, issued to the client `hex`.
    fn issued_to(fleet: &Fleet<FakeTable>, hex: &str) {
        let now = Instant::now();
        fleet.table.item().token = Some(AccessToken::new(
            "theirs".into(),
            Some(client(hex)),
            now + ms(10_000),
            now + ms(20_000),
        ));
    }

    #[tokio::test]
    async fn a_token_of_another_client_is_replaced_once_the_secret_was_just_read() {
        let fleet = Fleet::new(FakeTable::default());
        issued_to(&fleet, "00000000000000aa");
        let ours = ours("00000000000000bb", true);
        let budget = budget();
        let had = fleet
            .token(&budget, None, Some(ours), |_| fresh("ours"))
            .await
            .unwrap();
        let tally = budget.tally();
        let replaced = (
            had.token.bearer(),
            fleet.table.published(),
            tally.shared_token_other_client,
        );
        assert_eq!(replaced, ("ours", Some("ours".to_owned()), 1));
        assert_eq!(
            tally.shared_token_hits, 0,
            "another client's token is no hit"
        );
    }

    #[tokio::test]
    async fn a_token_of_another_client_sends_stale_credentials_back_to_the_secret() {
        let fleet = Fleet::new(FakeTable::default());
        issued_to(&fleet, "00000000000000aa");
        let stale = ours("00000000000000bb", false);
        let miss = fleet
            .token(&budget(), None, Some(stale), |_| never())
            .await
            .unwrap_err();
        assert!(matches!(miss, Miss::OtherClient), "{miss:?}");
        assert_eq!(
            fleet.table.calls.load(Ordering::SeqCst),
            1,
            "one read, no lease"
        );
    }

    #[tokio::test]
    async fn a_token_of_our_client_or_of_no_recorded_client_is_used() {
        for recorded in [Some("00000000000000bb"), None] {
            let fleet = Fleet::new(FakeTable::default());
            let now = Instant::now();
            fleet.table.item().token = Some(AccessToken::new(
                "shared".into(),
                recorded.map(client),
                now + ms(10_000),
                now + ms(20_000),
            ));
            let ours = ours("00000000000000bb", true);
            let budget = budget();
            let had = fleet
                .token(&budget, None, Some(ours), |_| never())
                .await
                .unwrap();
            assert_eq!(had.token.bearer(), "shared", "{recorded:?}");
            assert_eq!(budget.tally().shared_token_other_client, 0);
        }
    }

    #[tokio::test]
    async fn a_lapsed_lease_is_taken_over() {
        let fleet = Fleet::new(FakeTable::default());
        fleet.table.item().lease = Some((7, Instant::now() - ms(1)));
        let budget = budget();
        fleet
            .token(&budget, None, None, |_| fresh("t"))
            .await
            .unwrap();
        assert_eq!(budget.tally().shared_token_takeovers, 1);
        assert_eq!(budget.tally().shared_token_waits, 0);
    }

    /// Another container, holding the lease, publishes `value` after `delay`.
    fn publish_after(fleet: &Arc<Fleet<FakeTable>>, delay: Duration, value: &'static str) {
        let publisher = fleet.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let mut item = publisher.table.item();
            item.version += 1;
            item.lease = None;
            item.token = Some(token(value, Instant::now(), ms(10_000), ms(1)));
        });
    }

    #[tokio::test]
    async fn a_waiter_takes_the_token_the_holder_publishes() {
        let fleet = Arc::new(Fleet::new(FakeTable::default()));
        fleet.table.item().lease = Some((7, Instant::now() + ms(1500)));
        publish_after(&fleet, ms(60), "published");
        let budget = budget();
        let started = Instant::now();
        let token = the_tables_token(&fleet, &budget).await;
        assert_eq!(token.bearer(), "published");
        assert!(started.elapsed() < ms(500), "{:?}", started.elapsed());
        let tally = budget.tally();
        assert_eq!(
            (
                tally.shared_token_waits,
                tally.shared_token_misses,
                tally.shared_token_hits
            ),
            (1, 1, 1)
        );
        assert!(tally.token_table_calls <= 4, "{tally:?}");
    }

    /// Eight containers cold at once with a token endpoint that takes 1.5 s: seven lose the
    /// lease race. One that lost it has spent two calls already; it must still wait for the
    /// holder's publish, not give up on a count of calls and exchange a token of its own.
    #[tokio::test]
    async fn a_container_that_lost_the_lease_race_waits_for_a_slow_holder() {
        let fleet = Arc::new(Fleet::new(FakeTable {
            first_lease_lost: true.into(),
            ..FakeTable::default()
        }));
        publish_after(&fleet, ms(1500), "holders");
        let budget = budget();
        let started = Instant::now();
        let token = the_tables_token(&fleet, &budget).await;
        assert_eq!(token.bearer(), "holders");
        let waited = started.elapsed();
        assert!(waited >= ms(1500) && waited < ms(2100), "{waited:?}");
        let calls = fleet.table.calls.load(Ordering::SeqCst);
        assert!(calls <= MAX_TABLE_CALLS, "{calls}");
        assert_eq!(budget.tally().shared_token_waits, 1);
    }

    #[tokio::test]
    async fn a_lease_that_outlasts_a_lease_ends_in_a_token_of_our_own_within_bounded_calls() {
        let fleet = Fleet::new(FakeTable::default());
        fleet.table.item().lease = Some((7, Instant::now() + Duration::from_secs(60)));
        let budget = budget();
        let started = Instant::now();
        let miss = fleet
            .token(&budget, None, None, |_| never())
            .await
            .unwrap_err();
        let waited = started.elapsed();
        assert!(matches!(miss, Miss::GaveUp("patience")), "{miss:?}");
        assert!(waited >= LEASE && waited < LEASE + ms(300), "{waited:?}");
        assert!(budget.tally().token_table_calls <= MAX_TABLE_CALLS);
    }

    #[tokio::test]
    async fn a_waiter_whose_holder_vanishes_takes_the_lapsed_lease_itself() {
        let fleet = Fleet::new(FakeTable::default());
        fleet.table.item().lease = Some((7, Instant::now() + ms(200)));
        let budget = budget();
        let token = fleet
            .token(&budget, None, None, |_| fresh("ours"))
            .await
            .unwrap()
            .token;
        assert_eq!(token.bearer(), "ours");
        assert_eq!(fleet.table.published().as_deref(), Some("ours"));
        let tally = budget.tally();
        assert_eq!(
            (tally.shared_token_waits, tally.shared_token_takeovers),
            (1, 1)
        );
    }

    #[tokio::test]
    async fn a_failed_publish_gives_the_lease_back_and_keeps_the_token() {
        let fleet = Fleet::new(FakeTable {
            fail_publish: true,
            ..FakeTable::default()
        });
        let had = fleet
            .token(&budget(), None, None, |_| fresh("t"))
            .await
            .unwrap();
        assert_eq!(had.token.bearer(), "t");
        assert!(
            matches!(had.unpublished, Some(TableError::Timeout)),
            "the table's failure is reported, for the container to count and step around"
        );
        assert!(fleet.table.item().lease.is_none(), "released");
        assert_eq!(fleet.table.releases.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failed_exchange_gives_the_lease_back() {
        let fleet = Fleet::new(FakeTable::default());
        let miss = fleet
            .token(&budget(), None, None, |_| unavailable())
            .await
            .unwrap_err();
        assert!(matches!(miss, Miss::Upstream { due: None, .. }));
        assert!(fleet.table.item().lease.is_none());
    }

    #[tokio::test]
    async fn an_unreadable_table_is_a_table_miss() {
        let fleet = Fleet::new(FakeTable {
            fail_reads: true,
            ..FakeTable::default()
        });
        let miss = fleet
            .token(&budget(), None, None, |_| never())
            .await
            .unwrap_err();
        assert!(matches!(miss, Miss::Table(TableError::Timeout)));
    }

    #[tokio::test]
    async fn endless_contention_costs_at_most_the_call_cap() {
        let fleet = Fleet::new(FakeTable {
            always_contended: true,
            ..FakeTable::default()
        });
        let budget = budget();
        let miss = fleet
            .token(&budget, None, None, |_| never())
            .await
            .unwrap_err();
        assert!(matches!(miss, Miss::GaveUp("calls")), "{miss:?}");
        let calls = fleet.table.calls.load(Ordering::SeqCst);
        assert!(calls <= MAX_TABLE_CALLS, "{calls}");
        assert_eq!(budget.tally().token_table_calls, calls);
    }
}
