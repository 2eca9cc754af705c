//! OmniLab's Booking API, server to server, and what calling it needs: the client
//! credentials (read from Secrets Manager) and the access token (shared through DynamoDB).
//! The AWS SDK itself, its configuration and its errors, is [`crate::aws`]'s.
//!
//! - [`auth`]: the client-credentials token: the credentials from Secrets Manager, the OAuth
//!   exchange, the container's cache and the fleet's one token in DynamoDB
//!   (`OMNILAB_TOKEN_TABLE`), each in a module of its own; and candidate credentials tried
//!   once before they go into the secret ([`try_credentials`]).
//! - [`budget`]: one request's budget: the time it has left, and the tally of what it spent
//!   upstream.
//! - [`transport`]: deadlines, retries and bounded bodies for every upstream call.
//! - [`client`]: the two Booking API endpoints, typed.
//! - [`error`]: what went wrong upstream (OmniLab, or the credentials' source), with no URL,
//!   body or secret in it.
//! - [`tally`]: what one request cost upstream, for its metrics.
//! - [`request`]: what a fetch asks for, in OmniLab's terms; [`settings`]: what the client is
//!   built from.
//!
//! Nothing here knows our own API's query or configuration: they are translated into these
//! types before they reach the client.

mod auth;
mod budget;
mod client;
mod error;
mod request;
mod settings;
mod tally;
mod transport;

pub use auth::{Accepted, Credentials, CredentialsSource, try_credentials};
pub use budget::Budget;
#[cfg(feature = "stats")]
pub use client::Stats;
pub use client::{FetchedPage, OmniLab};
pub use error::{
    CredentialsError, JsonError, Malformed, Shape, TlsFailure, TransportError, UpstreamError,
};
pub use request::{BookingFilter, ExternalId, Language, PageRequest, Scope};
#[cfg(feature = "test-tls")]
pub use settings::TestTls;
pub use settings::{Settings, UpstreamPolicy};
pub use tally::{Endpoint, EndpointTally, FailureKind, Tally};
