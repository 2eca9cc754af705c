//! Candidate credentials tried before they go into the secret: one token exchange with the
//! functions' own exchange code, and nothing kept (no secret read or written, no table, no
//! cache). What `check-credentials` runs.
//!
//! Why exactly one attempt, where the functions retry a 5xx or a dropped connection: the
//! operator is there to run it again, and an exchange OmniLab counts against the client is
//! better not multiplied by a tool that only asks a question.

use std::sync::Arc;
use std::time::Duration;

use super::credentials::{CredentialStore, Credentials, CredentialsSource};
use super::exchange::Exchange;
use crate::omnilab::transport::Transport;
use crate::omnilab::{Budget, UpstreamError, UpstreamPolicy};

/// OmniLab's answer to candidate credentials it accepted: what the token it issued is worth,
/// never the token itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// The lifetime OmniLab gave the token, clamped as the functions clamp it.
    pub lifetime: Duration,
}

/// One token exchange at `api_base` for `candidate`, within `timeout`. The token is dropped.
pub async fn try_credentials(
    api_base: &str,
    candidate: Credentials,
    timeout: Duration,
) -> Result<Accepted, UpstreamError> {
    let policy = UpstreamPolicy {
        attempt_timeout: timeout,
        max_attempts: 1,
        ..UpstreamPolicy::default()
    };
    let transport = Transport::new(policy);
    // A fixed source: no Secrets Manager client is built, and nothing is read from AWS.
    let source = CredentialStore::new(CredentialsSource::Static(candidate), Arc::default());
    let exchange = Exchange::new(api_base, source);
    let issued = exchange.once(&transport, &Budget::new(timeout)).await?;
    Ok(Accepted {
        lifetime: issued.lifetime,
    })
}
