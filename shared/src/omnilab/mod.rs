//! Everything that talks to OmniLab, server to server.
//!
//! - [`credentials`]: the client credentials, read from Secrets Manager once per container.
//! - [`auth`]: the client-credentials token, cached, shared and refreshed in one flight.
//! - [`token_table`]: the fleet's one token, shared through DynamoDB (`OMNILAB_TOKEN_TABLE`).
//! - [`sdk`]: the AWS SDK's configuration and its errors, safe to log.
//! - [`transport`]: deadlines, retries and bounded bodies for every upstream call.
//! - [`client`]: the two Booking API endpoints, typed.
//! - [`tally`]: what one request cost upstream, for its metrics.
//! - [`request`]: what a fetch asks for, in OmniLab's terms; [`settings`]: what the client is
//!   built from.
//!
//! Nothing here knows our own API's query or configuration: they are translated into these
//! types before they reach the client.

mod auth;
mod client;
mod credentials;
mod error;
mod request;
mod sdk;
mod settings;
mod tally;
mod token_table;
mod transport;

use std::time::{Duration, Instant};

pub use client::OmniLab;
#[cfg(feature = "stats")]
pub use client::Stats;
pub use credentials::{Credentials, CredentialsError, CredentialsSource};
pub use error::{JsonError, Malformed, TransportError, UpstreamError};
pub use request::{BookingFilter, ExternalId, Language, PageRequest, Scope};
pub use sdk::SdkFailure;
pub use settings::{Settings, UpstreamPolicy};
pub use tally::{Endpoint, EndpointTally, FailureKind, Tally};

/// One request's dealings with OmniLab: the time it has left, and how many calls it made.
#[derive(Debug)]
pub struct Call {
    deadline: Instant,
    tally: tally::Recorder,
}

impl Call {
    pub fn new(budget: Duration) -> Self {
        Self {
            deadline: Instant::now() + budget,
            tally: tally::Recorder::default(),
        }
    }

    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Whether this request's own time is up: a timeout then says nothing about the upstream.
    pub(crate) fn spent(&self) -> bool {
        self.remaining().is_zero()
    }

    /// What this request's upstream calls came to, by endpoint and outcome.
    pub fn tally(&self) -> Tally {
        self.tally.snapshot()
    }

    pub(crate) fn record(&self) -> &tally::Recorder {
        &self.tally
    }

    /// Upstream round trips so far (Secrets Manager reads, DynamoDB and OmniLab calls alike).
    pub fn upstream_calls(&self) -> u32 {
        self.tally.with(|tally| tally.upstream_calls)
    }

    fn count(&self) {
        self.tally.with(|tally| tally.upstream_calls += 1);
    }
}
