//! An access token and the two instants that govern it: when to start replacing it, and when
//! to stop sending it.
//!
//! A refresh starts when a fifth of the token's life is left, so that a token endpoint that is
//! down for a while (minutes, for an hour-long token) goes unnoticed: until its expiry, the
//! token in hand keeps serving while the refresh is tried again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::credentials::ClientFingerprint;

/// The longest token lifetime we believe. Beyond it, a typo upstream (or a hostile answer, or
/// an item in the shared table) would pin one token for years.
pub(crate) const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// A token is not sent in its last moments, so that it does not lapse on the way.
const MAX_EXPIRY_MARGIN: Duration = Duration::from_secs(5);

#[derive(Clone, Debug)]
pub(crate) struct AccessToken {
    value: Arc<str>,
    /// From then on a refresh is due; the token still serves while it is tried.
    refresh_at: Instant,
    /// From then on the token is not sent.
    expires_at: Instant,
    /// Whether this container's own exchange issued it, rather than the shared table.
    issued_here: bool,
    /// The client it was issued to; `None`: a shared item that does not say.
    client: Option<ClientFingerprint>,
}

/// Where a token stands at one instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Freshness {
    Fresh,
    /// Past its refresh time, not yet expired: usable while a replacement is sought.
    Due,
    Expired,
}

impl AccessToken {
    /// A token OmniLab issued to `client` at `obtained` to live `lifetime` (clamped to
    /// [`MAX_LIFETIME`]).
    pub(crate) fn issued(
        value: Arc<str>,
        client: ClientFingerprint,
        obtained: Instant,
        lifetime: Duration,
    ) -> Self {
        let lifetime = lifetime.min(MAX_LIFETIME);
        let margin = (lifetime / 20).min(MAX_EXPIRY_MARGIN);
        Self {
            value,
            refresh_at: obtained + lifetime * 4 / 5,
            expires_at: obtained + (lifetime - margin),
            issued_here: true,
            client: Some(client),
        }
    }

    /// A token whose times and client were decided elsewhere (the shared table). `refresh_at`
    /// is brought within `expires_at`.
    pub(crate) fn new(
        value: Arc<str>,
        client: Option<ClientFingerprint>,
        refresh_at: Instant,
        expires_at: Instant,
    ) -> Self {
        Self {
            value,
            refresh_at: refresh_at.min(expires_at),
            expires_at,
            issued_here: false,
            client,
        }
    }

    pub(crate) fn bearer(&self) -> &str {
        &self.value
    }

    /// Whether our own exchange issued it: OmniLab refusing it then says something about our
    /// credentials, where refusing the table's copy may only mean it was revoked since.
    pub(crate) fn issued_here(&self) -> bool {
        self.issued_here
    }

    pub(crate) fn client(&self) -> Option<ClientFingerprint> {
        self.client
    }

    /// Whether it is known to have been issued to another client than `ours`.
    pub(crate) fn of_another_client(&self, ours: ClientFingerprint) -> bool {
        self.client.is_some_and(|client| client != ours)
    }

    pub(crate) fn refresh_at(&self) -> Instant {
        self.refresh_at
    }

    pub(crate) fn expires_at(&self) -> Instant {
        self.expires_at
    }

    pub(crate) fn freshness(&self, now: Instant) -> Freshness {
        if now < self.refresh_at {
            Freshness::Fresh
        } else if now < self.expires_at {
            Freshness::Due
        } else {
            Freshness::Expired
        }
    }

    /// Whether it may still be sent at `now`, fresh or due.
    pub(crate) fn usable(&self, now: Instant) -> bool {
        now < self.expires_at
    }

    /// The same token, not to be refreshed by this container before `now + wait`: another
    /// container is refreshing it, or a refresh just failed.
    pub(crate) fn deferred(mut self, now: Instant, wait: Duration) -> Self {
        self.refresh_at = (now + wait).min(self.expires_at);
        self
    }

    /// Whether `other` is this very token (the same exchange's answer), not merely equal text.
    pub(crate) fn same(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.value, &other.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn token(obtained: Instant, lifetime: Duration) -> AccessToken {
        AccessToken::issued(
            "t".into(),
            ClientFingerprint::parse("0123456789abcdef").unwrap(),
            obtained,
            lifetime,
        )
    }

    #[test]
    fn an_hour_long_token_is_refreshed_with_a_fifth_left_and_sent_until_just_before_expiry() {
        let now = Instant::now();
        let token = token(now, secs(3600));
        assert_eq!(token.refresh_at(), now + secs(2880));
        assert_eq!(token.expires_at(), now + secs(3595));
        assert_eq!(token.freshness(now + secs(2879)), Freshness::Fresh);
        assert_eq!(token.freshness(now + secs(2880)), Freshness::Due);
        assert_eq!(token.freshness(now + secs(3594)), Freshness::Due);
        assert_eq!(token.freshness(now + secs(3595)), Freshness::Expired);
    }

    #[test]
    fn a_short_token_keeps_a_twentieth_as_its_margin() {
        let now = Instant::now();
        let token = token(now, secs(20));
        assert_eq!(token.refresh_at(), now + secs(16));
        assert_eq!(token.expires_at(), now + secs(19));
        let zero = self::token(now, Duration::ZERO);
        assert_eq!(zero.freshness(now), Freshness::Expired);
    }

    #[test]
    fn a_huge_lifetime_does_not_overflow() {
        let now = Instant::now();
        assert!(token(now, Duration::MAX).expires_at() <= now + MAX_LIFETIME);
        assert!(token(now, secs(10 * 365 * 24 * 3600)).refresh_at() > now);
    }

    #[test]
    fn a_deferred_token_is_not_refreshed_before_the_wait_nor_kept_past_expiry() {
        let now = Instant::now();
        let due = token(now, secs(10)); // due from 8 s, expires at 9.5 s
        let later = now + secs(8);
        let deferred = due.clone().deferred(later, secs(1));
        assert_eq!(deferred.freshness(later), Freshness::Fresh);
        assert_eq!(deferred.refresh_at(), later + secs(1));
        let near_expiry = due.deferred(later, secs(60));
        assert_eq!(near_expiry.refresh_at(), near_expiry.expires_at());
    }

    #[test]
    fn times_from_elsewhere_keep_refresh_within_expiry() {
        let now = Instant::now();
        let token = AccessToken::new("t".into(), None, now + secs(10), now + secs(5));
        assert_eq!(token.refresh_at(), now + secs(5));
    }
}
