//! The two Booking API endpoints, typed.

use std::sync::Arc;

use reqwest::{RequestBuilder, StatusCode};
use serde::{Deserialize, Serialize};

use super::auth::{Authenticator, CredentialStore, TokenTable};
use super::request::{BookingFilter, ExternalId, PageRequest};
use super::transport::{Answer, Retry, Transport};
use super::{
    Budget, CredentialsSource, Endpoint, Settings, TransportError, UpstreamError, UpstreamPolicy,
};
use crate::aws::AwsConfig;
use crate::booking_id::BookingId;
use crate::model::BookingPage;

/// The OmniLab client of one container: its connection pool, credentials and token are shared
/// by every request the container serves.
pub struct OmniLab {
    /// Parsed once: reqwest would parse the text again for every request (what that cost a warm
    /// page: docs/performance.md). `None` only if the configured base makes no URL, which the
    /// configuration refuses first.
    fetch_url: Option<reqwest::Url>,
    cancel_url: String,
    transport: Transport,
    auth: Authenticator,
}

/// A successful answer of `fetchContactBookings`, not yet read.
pub struct FetchedPage(Answer);

impl FetchedPage {
    /// The page, its strings borrowed from the answer; one that does not parse counts as a
    /// malformed answer in `budget`'s tally.
    pub fn page(&self, budget: &Budget) -> Result<BookingPage<'_>, UpstreamError> {
        self.0.json(budget)
    }
}

/// Container-wide counters, read by the tests and the benchmark (feature `stats`).
#[cfg(feature = "stats")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub secret_reads: u64,
    pub token_exchanges: u64,
}

impl OmniLab {
    pub fn new(settings: Settings) -> Self {
        let base = &settings.api_base;
        let aws = Arc::new(AwsConfig::default());
        // The item is keyed by what the token is for: this OmniLab and this secret's client.
        let table =
            match (settings.token_table, &settings.credentials) {
                (Some(name), CredentialsSource::SecretsManager { secret_id }) => Some(
                    TokenTable::new(name, format!("{base} {secret_id}"), aws.clone()),
                ),
                _ => None,
            };
        let transport = Transport::new(settings.policy);
        #[cfg(feature = "test-tls")]
        let transport = transport.with_test_tls(settings.test_tls);
        Self {
            fetch_url: reqwest::Url::parse(&format!("{base}/v1/interactions:fetchContactBookings"))
                .ok(),
            cancel_url: format!("{base}/v1/interactions:cancelInteractionBooking"),
            auth: Authenticator::new(
                base,
                CredentialStore::new(settings.credentials, aws),
                table,
                settings.credentials_max_age,
            ),
            transport,
        }
    }

    /// Local set-up that the first request would otherwise wait for.
    pub async fn prepare(&self) {
        let _ = self.transport.client();
        self.auth.prepare().await;
    }

    pub fn policy(&self) -> &UpstreamPolicy {
        self.transport.policy()
    }

    #[cfg(feature = "stats")]
    pub fn stats(&self) -> Stats {
        Stats {
            secret_reads: self.auth.secret_reads(),
            token_exchanges: self.auth.exchanges(),
        }
    }

    /// `GET /v1/interactions:fetchContactBookings`, one page, as OmniLab sent it: the page's
    /// strings are read in place from it ([`FetchedPage::page`]).
    pub async fn fetch_contact_bookings(
        &self,
        budget: &Budget,
        contact: &ExternalId,
        filter: &BookingFilter,
        page: PageRequest,
    ) -> Result<FetchedPage, UpstreamError> {
        let params = filter.query(contact, page);
        let client = self.transport.client()?;
        let url = self
            .fetch_url
            .as_ref()
            .ok_or(UpstreamError::Transport(TransportError::Request))?;
        let answer = self
            .authorized(
                budget,
                Endpoint::FetchContactBookings,
                Retry::Safe,
                |token| client.get(url.clone()).bearer_auth(token).query(&params),
            )
            .await?;
        match answer.status {
            status if status.is_success() => Ok(FetchedPage(answer)),
            status => Err(UpstreamError::Status(status.as_u16())),
        }
    }

    /// `POST /v1/interactions:cancelInteractionBooking`, with the booking value exactly as
    /// OmniLab listed it.
    pub async fn cancel_interaction_booking(
        &self,
        budget: &Budget,
        booking: &BookingId,
    ) -> Result<(), UpstreamError> {
        #[derive(Serialize)]
        struct Cancel<'a> {
            booking: &'a str,
        }
        // OmniLab answers `{}`; we read it to be sure the answer was complete.
        #[derive(Deserialize)]
        struct Cancelled {}

        let client = self.transport.client()?;
        let body = Cancel {
            booking: booking.as_str(),
        };
        let answer = self
            .authorized(
                budget,
                Endpoint::CancelInteractionBooking,
                Retry::OnlyUnsent,
                |token| client.post(&self.cancel_url).bearer_auth(token).json(&body),
            )
            .await?;
        match answer.status {
            status if status.is_success() => {
                answer.json::<Cancelled>(budget)?;
                budget.record().with(|tally| tally.cancellations += 1);
                Ok(())
            }
            // The reference page documents no refusal; these are how an API says "not in this
            // state". A 400 counts only when it names the booking: otherwise it is about our
            // request, a defect of ours.
            StatusCode::CONFLICT | StatusCode::UNPROCESSABLE_ENTITY => {
                Err(UpstreamError::CancelRefused(answer.status.as_u16()))
            }
            StatusCode::BAD_REQUEST if answer.mentions(booking.as_str()) => {
                Err(UpstreamError::CancelRefused(400))
            }
            status => Err(UpstreamError::Status(status.as_u16())),
        }
    }

    /// Sends with the cached token; on a 401, discards it, gets a new one and tries again.
    ///
    /// Why up to three sends: a 401 to a token that came from the shared table, after one to
    /// our own, says only that OmniLab revoked that one too (a rotation on its side revokes
    /// every token at once): the next token is then our own exchange's, or one the fleet
    /// published since. Only a token our own exchange just issued, refused, is a failure, and
    /// then for a while the table's refused tokens are not chased either: OmniLab is refusing
    /// tokens, and each replacement would cost it one more exchange.
    async fn authorized(
        &self,
        budget: &Budget,
        endpoint: Endpoint,
        retry: Retry,
        build: impl Fn(&str) -> RequestBuilder,
    ) -> Result<Answer, UpstreamError> {
        const MAX_SENDS: usize = 3;
        let mut token = self.auth.token(&self.transport, budget).await?;
        for sent in 1..=MAX_SENDS {
            let answer = self
                .transport
                .send(budget, endpoint, retry, || build(token.bearer()))
                .await?;
            if answer.status != StatusCode::UNAUTHORIZED {
                return Ok(answer);
            }
            if sent > 1 && token.issued_here() {
                self.auth.refused_fresh();
                break;
            }
            if sent == MAX_SENDS || (sent > 1 && !self.auth.replacing_refused_shared_tokens()) {
                break;
            }
            tracing::info!(
                shared = !token.issued_here(),
                "OmniLab refused the cached access token; refreshing it"
            );
            self.auth.discard(&token);
            token = self.auth.token(&self.transport, budget).await?;
        }
        Err(UpstreamError::Unauthorized)
    }
}
