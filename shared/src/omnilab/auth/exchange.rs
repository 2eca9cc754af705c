//! The OAuth client-credentials exchange (`POST /v1/oauth:token`), with one re-read of the
//! secret when OmniLab refuses the credentials (they may have been rotated).

#[cfg(feature = "stats")]
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde::{Deserialize, Serialize};

use super::credentials::{ClientFingerprint, CredentialStore, Credentials};
use super::token::{AccessToken, MAX_LIFETIME};
use crate::omnilab::error::CredentialsError;
use crate::omnilab::error::Malformed;
use crate::omnilab::transport::{Retry, Transport};
use crate::omnilab::{Budget, Endpoint, UpstreamError};

/// A token OmniLab issued, and the lifetime it gave it (clamped, as every lifetime is).
pub(crate) struct Issued {
    pub(crate) token: AccessToken,
    pub(crate) lifetime: Duration,
}

pub(crate) struct Exchange {
    token_url: String,
    credentials: CredentialStore,
    #[cfg(feature = "stats")]
    exchanges: AtomicU64,
}

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

impl Exchange {
    pub(crate) fn new(api_base: &str, credentials: CredentialStore) -> Self {
        Self {
            token_url: format!("{api_base}/v1/oauth:token"),
            credentials,
            #[cfg(feature = "stats")]
            exchanges: AtomicU64::new(0),
        }
    }

    pub(crate) async fn prepare(&self) {
        self.credentials.prepare().await;
    }

    #[cfg(feature = "stats")]
    pub(crate) fn exchanges(&self) -> u64 {
        self.exchanges.load(Ordering::Relaxed)
    }

    #[cfg(feature = "stats")]
    pub(crate) fn secret_reads(&self) -> u64 {
        self.credentials.reads()
    }

    /// A new token from OmniLab, for the credentials in the secret.
    pub(crate) async fn token(
        &self,
        transport: &Transport,
        budget: &Budget,
    ) -> Result<AccessToken, UpstreamError> {
        let credentials = self.credentials.get(budget).await?;
        let issued = match self.request(transport, budget, &credentials).await {
            Err(UpstreamError::CredentialsRejected) => {
                match self.credentials.reread(budget, &credentials).await? {
                    Some(reread) => {
                        tracing::warn!(
                            "OmniLab rejected the client credentials; trying the secret's newer value"
                        );
                        self.request(transport, budget, &reread).await
                    }
                    None => {
                        tracing::error!("OmniLab rejected the client credentials in the secret");
                        Err(UpstreamError::CredentialsRejected)
                    }
                }
            }
            outcome => outcome,
        };
        issued.map(|issued| issued.token)
    }

    /// The client the credentials in hand name and when they were read; `None` before they
    /// were needed.
    pub(crate) async fn known_client(&self) -> Option<(ClientFingerprint, Instant)> {
        let (credentials, read_at) = self.credentials.known().await?;
        Some((credentials.fingerprint(), read_at))
    }

    /// The client the secret names, read again unless it was less than `unless_within` ago
    /// ([`CredentialStore::refresh`]), and when it was read.
    pub(crate) async fn reread_client(
        &self,
        budget: &Budget,
        unless_within: Duration,
    ) -> Result<(ClientFingerprint, Instant), CredentialsError> {
        let (credentials, read_at) = self.credentials.refresh(budget, unless_within).await?;
        Ok((credentials.fingerprint(), read_at))
    }

    /// One exchange for the credentials the source holds, and no second: OmniLab's refusal is
    /// the answer, the source is not read again. What `check-credentials` asks of a candidate.
    pub(crate) async fn once(
        &self,
        transport: &Transport,
        budget: &Budget,
    ) -> Result<Issued, UpstreamError> {
        let credentials = self.credentials.get(budget).await?;
        self.request(transport, budget, &credentials).await
    }

    /// One token exchange: a failure, whatever it is, counts in the request's tally.
    async fn request(
        &self,
        transport: &Transport,
        budget: &Budget,
        credentials: &Credentials,
    ) -> Result<Issued, UpstreamError> {
        self.try_request(transport, budget, credentials)
            .await
            .inspect_err(|_| {
                budget
                    .record()
                    .with(|tally| tally.token_exchange_failures += 1)
            })
    }

    async fn try_request(
        &self,
        transport: &Transport,
        budget: &Budget,
        credentials: &Credentials,
    ) -> Result<Issued, UpstreamError> {
        let body = TokenRequest {
            client_id: &credentials.client_id,
            client_secret: &credentials.client_secret,
            audience: &credentials.audience,
            grant_type: "client_credentials",
        };
        let client = transport.client()?;
        let answer = transport
            .send(budget, Endpoint::Token, Retry::Safe, || {
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
        let token: TokenResponse = answer.json(budget)?;
        if token.access_token.is_empty() {
            budget.record().malformed(Endpoint::Token);
            return Err(UpstreamError::Malformed(Malformed::EmptyToken));
        }
        Ok(Issued {
            token: AccessToken::issued(
                token.access_token.into(),
                credentials.fingerprint(),
                Instant::now(),
                token.expires_in,
            ),
            lifetime: token.expires_in,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_expires_in_is_clamped() {
        let parse = |expires_in: &str| {
            let body = format!(r#"{{"access_token":"t","expires_in":{expires_in}}}"#);
            serde_json::from_str::<TokenResponse>(&body).map(|t| t.expires_in)
        };
        assert_eq!(parse("3600").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse("18446744073709551615").unwrap(), MAX_LIFETIME);
        assert_eq!(parse("1e308").unwrap(), MAX_LIFETIME);
        assert_eq!(parse("-5").unwrap(), Duration::ZERO);
        assert_eq!(parse("-9223372036854775808").unwrap(), Duration::ZERO);
        assert_eq!(parse("1.5").unwrap(), Duration::from_millis(1500));
        assert!(parse(r#""3600""#).is_err(), "a string is not a lifetime");
    }
}
