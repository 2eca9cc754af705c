//! The client-credentials access token: exchanged once, shared by every request of the
//! container, refreshed shortly before it expires or when OmniLab refuses it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::credentials::{CredentialStore, Credentials};
use super::transport::{Retry, Transport};
use super::{Call, UpstreamError};

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
    // Held across the exchange: requests that find the token stale wait for the one exchange
    // in flight instead of starting their own.
    current: Mutex<Option<AccessToken>>,
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
    expires_in: u64,
}

impl Authenticator {
    pub(crate) fn new(api_base: &str, credentials: CredentialStore) -> Self {
        Self {
            token_url: format!("{api_base}/v1/oauth:token"),
            credentials,
            current: Mutex::new(None),
            exchanges: AtomicU64::new(0),
        }
    }

    pub(crate) async fn prepare(&self) {
        self.credentials.prepare().await;
    }

    pub(crate) fn exchanges(&self) -> u64 {
        self.exchanges.load(Ordering::Relaxed)
    }

    pub(crate) fn secret_reads(&self) -> u64 {
        self.credentials.reads()
    }

    pub(crate) async fn token(
        &self,
        transport: &Transport,
        call: &Call,
    ) -> Result<AccessToken, UpstreamError> {
        let mut current = self.current.lock().await;
        if let Some(token) = current.as_ref().filter(|t| Instant::now() < t.refresh_at) {
            return Ok(token.clone());
        }
        let fresh = self.exchange(transport, call).await?;
        *current = Some(fresh.clone());
        Ok(fresh)
    }

    /// OmniLab answered 401 to `rejected`: forget it, unless a newer token already replaced it.
    pub(crate) async fn discard(&self, rejected: &AccessToken) {
        let mut current = self.current.lock().await;
        if current
            .as_ref()
            .is_some_and(|t| Arc::ptr_eq(&t.value, &rejected.value))
        {
            *current = None;
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
                tracing::warn!("OmniLab rejected the client credentials; reading the secret again");
                let reread = self.credentials.reread(call, &credentials).await?;
                if *reread == *credentials {
                    return Err(UpstreamError::CredentialsRejected);
                }
                self.request(transport, call, &reread).await
            }
            outcome => outcome,
        }
    }

    async fn request(
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
            .send(call, Retry::Safe, || {
                client.post(&self.token_url).json(&body)
            })
            .await?;
        self.exchanges.fetch_add(1, Ordering::Relaxed);
        match answer.status {
            status if status.is_success() => {}
            StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(UpstreamError::CredentialsRejected);
            }
            status => return Err(UpstreamError::Status(status.as_u16())),
        }
        let token: TokenResponse = answer.json()?;
        if token.access_token.is_empty() {
            return Err(UpstreamError::Decode("empty access_token".into()));
        }
        Ok(AccessToken {
            value: token.access_token.into(),
            refresh_at: refresh_at(Instant::now(), token.expires_in),
        })
    }
}

/// When to stop using a token that lives `expires_in` seconds: a minute early, or a tenth of
/// its life for short-lived tokens, so no request goes out with a token about to lapse.
pub(crate) fn refresh_at(obtained: Instant, expires_in: u64) -> Instant {
    let lifetime = Duration::from_secs(expires_in);
    let margin = (lifetime / 10).min(Duration::from_secs(60));
    obtained + (lifetime - margin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hour_long_token_is_refreshed_a_minute_early() {
        let now = Instant::now();
        assert_eq!(refresh_at(now, 3600), now + Duration::from_secs(3540));
    }

    #[test]
    fn a_short_token_is_refreshed_a_tenth_early() {
        let now = Instant::now();
        assert_eq!(refresh_at(now, 30), now + Duration::from_secs(27));
        assert_eq!(refresh_at(now, 0), now);
    }

    #[test]
    fn a_huge_lifetime_does_not_overflow() {
        let now = Instant::now();
        assert!(refresh_at(now, 10 * 365 * 24 * 3600) > now);
    }
}
