//! The two Booking API endpoints, typed.

use reqwest::{RequestBuilder, StatusCode};
use serde::{Deserialize, Serialize};

use super::auth::Authenticator;
use super::credentials::CredentialStore;
use super::transport::{Answer, Retry, Transport};
use super::{Call, UpstreamError};
use crate::config::{Config, UpstreamPolicy};
use crate::identity::ExternalId;
use crate::model::BookingPage;
use crate::query::{ListQuery, Scope};

/// The OmniLab client of one container: its connection pool, credentials and token are shared
/// by every request the container serves.
pub struct OmniLab {
    fetch_url: String,
    cancel_url: String,
    transport: Transport,
    auth: Authenticator,
}

/// Container-wide counters, for the request log and the benchmark.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub secret_reads: u64,
    pub token_exchanges: u64,
}

impl OmniLab {
    pub fn new(config: &Config) -> Self {
        let base = &config.api_base;
        Self {
            fetch_url: format!("{base}/v1/interactions:fetchContactBookings"),
            cancel_url: format!("{base}/v1/interactions:cancelInteractionBooking"),
            transport: Transport::new(config.upstream.clone()),
            auth: Authenticator::new(base, CredentialStore::new(config.credentials.clone())),
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

    pub fn stats(&self) -> Stats {
        Stats {
            secret_reads: self.auth.secret_reads(),
            token_exchanges: self.auth.exchanges(),
        }
    }

    /// `GET /v1/interactions:fetchContactBookings`, one page.
    pub async fn fetch_contact_bookings(
        &self,
        call: &Call,
        customer: &ExternalId,
        query: &ListQuery,
        page_number: u32,
        page_size: u32,
    ) -> Result<BookingPage, UpstreamError> {
        let mut params: Vec<(&str, String)> = vec![("external_id", customer.as_str().to_owned())];
        match &query.scope {
            Scope::AllCampaigns => {}
            Scope::PublicKey(key) => params.push(("public_keys", key.clone())),
            Scope::Interaction(name) => params.push(("interactions", name.clone())),
        }
        // Timestamp's Display is RFC 3339 in UTC with a `Z`, as OmniLab asks.
        if let Some(from) = query.slot_from {
            params.push(("slot_date_range.from", from.to_string()));
        }
        if let Some(to) = query.slot_to {
            params.push(("slot_date_range.to", to.to_string()));
        }
        for status in &query.statuses {
            params.push(("booking_status", status.as_str().to_owned()));
        }
        if let Some(language) = &query.language {
            params.push(("language", language.as_str().to_owned()));
        }
        params.push(("page_size", page_size.to_string()));
        params.push(("page_number", page_number.to_string()));

        let client = self.transport.client()?;
        let answer = self
            .authorized(call, Retry::Safe, |token| {
                client
                    .get(&self.fetch_url)
                    .bearer_auth(token)
                    .query(&params)
            })
            .await?;
        match answer.status {
            status if status.is_success() => answer.json(),
            status => Err(UpstreamError::Status(status.as_u16())),
        }
    }

    /// `POST /v1/interactions:cancelInteractionBooking`, with the booking value exactly as
    /// OmniLab listed it.
    pub async fn cancel_interaction_booking(
        &self,
        call: &Call,
        booking: &str,
    ) -> Result<(), UpstreamError> {
        #[derive(Serialize)]
        struct Cancel<'a> {
            booking: &'a str,
        }
        // OmniLab answers `{}`; we read it to be sure the answer was complete.
        #[derive(Deserialize)]
        struct Cancelled {}

        let client = self.transport.client()?;
        let body = Cancel { booking };
        let answer = self
            .authorized(call, Retry::OnlyUnsent, |token| {
                client.post(&self.cancel_url).bearer_auth(token).json(&body)
            })
            .await?;
        match answer.status {
            status if status.is_success() => answer.json::<Cancelled>().map(drop),
            status => Err(UpstreamError::Status(status.as_u16())),
        }
    }

    /// Sends with the cached token; on a 401, discards it, gets a new one and tries once more.
    async fn authorized(
        &self,
        call: &Call,
        retry: Retry,
        build: impl Fn(&str) -> RequestBuilder,
    ) -> Result<Answer, UpstreamError> {
        let token = self.auth.token(&self.transport, call).await?;
        let answer = self
            .transport
            .send(call, retry, || build(token.bearer()))
            .await?;
        if answer.status != StatusCode::UNAUTHORIZED {
            return Ok(answer);
        }
        tracing::info!("OmniLab refused the cached access token; refreshing it");
        self.auth.discard(&token).await;
        let token = self.auth.token(&self.transport, call).await?;
        let answer = self
            .transport
            .send(call, retry, || build(token.bearer()))
            .await?;
        if answer.status == StatusCode::UNAUTHORIZED {
            return Err(UpstreamError::Unauthorized);
        }
        Ok(answer)
    }
}
