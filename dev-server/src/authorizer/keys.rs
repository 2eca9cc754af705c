//! The issuer's signing keys: found through its OpenID discovery document, cached, fetched again
//! when a token names a `kid` we do not hold.
//!
//! # Why these rules
//!
//! API Gateway "can cache the public key for two hours"
//! (<https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html>),
//! so keys are kept for [`CACHE_FOR`] and then fetched again on the next token. A key the issuer
//! adds (a rotation) must work on the first token signed with it, so an unknown `kid` fetches the
//! set again at once — but a stream of made-up `kid`s must not turn every request into a fetch
//! from the identity provider, so such fetches are at most one per [`REFETCH_AT_MOST_EVERY`].
//! A failed fetch keeps the keys we had: the IdP being down refuses only tokens whose key we
//! never saw, and the server goes on serving.
//!
//! One lock over one [`State`], held across a fetch: requests that arrive during it wait for its
//! keys instead of starting fetches of their own.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use serde::Deserialize;
use tokio::sync::Mutex;

use super::Issuer;

/// How long a fetched key set is trusted before it is fetched again.
pub const CACHE_FOR: Duration = Duration::from_secs(2 * 60 * 60);
/// The shortest time between two fetches caused by unknown `kid`s.
pub const REFETCH_AT_MOST_EVERY: Duration = Duration::from_secs(1);
/// One fetch (discovery or key set) may take this long.
const FETCH_TIMEOUT: Duration = Duration::from_secs(3);
/// A discovery document or key set larger than this is refused.
const MAX_DOCUMENT: usize = 512 * 1024;

/// Why the keys could not be fetched: a kind, never a body or a key.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("the request failed ({0})")]
    Request(&'static str),
    #[error("it answered HTTP {0}")]
    Status(u16),
    #[error("its answer is larger than {MAX_DOCUMENT} bytes")]
    TooLarge,
    #[error("its answer is not the JSON expected")]
    Malformed,
    #[error("its jwks_uri is not https:// (or http:// on loopback)")]
    InsecureJwksUri,
}

pub struct KeySet {
    issuer: Issuer,
    http: reqwest::Client,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    keys: HashMap<String, Arc<DecodingKey>>,
    /// When the keys above were fetched.
    fetched: Option<Instant>,
    /// When a fetch was last tried, successful or not.
    tried: Option<Instant>,
}

#[derive(Deserialize)]
struct Discovery {
    jwks_uri: String,
    issuer: Option<String>,
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<serde_json::Value>,
}

impl KeySet {
    pub fn new(issuer: Issuer) -> Self {
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            // The issuer's documents come from where the issuer says, never from a redirect.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self {
            issuer,
            http,
            state: Mutex::new(State::default()),
        }
    }

    /// The key named `kid`, fetching the set when it is stale or does not hold `kid` (within the
    /// bound on how often); `None` when the issuer has no such key.
    pub async fn key(&self, kid: &str) -> Option<Arc<DecodingKey>> {
        let mut state = self.state.lock().await;
        let fresh = state.fetched.is_some_and(|at| at.elapsed() < CACHE_FOR);
        if fresh && let Some(key) = state.keys.get(kid) {
            return Some(key.clone());
        }
        let may_fetch = !fresh
            || state
                .tried
                .is_none_or(|at| at.elapsed() >= REFETCH_AT_MOST_EVERY);
        if may_fetch {
            state.tried = Some(Instant::now());
            match self.fetch().await {
                Ok(keys) => {
                    tracing::info!(keys = keys.len(), "fetched the issuer's signing keys");
                    state.keys = keys;
                    state.fetched = Some(Instant::now());
                }
                Err(error) => {
                    tracing::warn!(%error, "could not fetch the issuer's signing keys; keeping the ones held");
                }
            }
        }
        state.keys.get(kid).cloned()
    }

    async fn fetch(&self) -> Result<HashMap<String, Arc<DecodingKey>>, FetchError> {
        let discovery: Discovery = self.get_json(&self.issuer.discovery_url()).await?;
        if discovery.issuer.as_deref() != Some(self.issuer.as_str()) {
            // API Gateway compares `iss` with the configured issuer, not with this document; but
            // a mismatch here is how a missing or extra trailing slash usually shows itself.
            tracing::warn!(
                configured = self.issuer.as_str(),
                discovered = discovery.issuer.as_deref().unwrap_or(""),
                "the discovery document names another issuer than JWT_ISSUER: tokens whose iss is the discovered one will be refused"
            );
        }
        let jwks_uri =
            reqwest::Url::parse(&discovery.jwks_uri).map_err(|_| FetchError::Malformed)?;
        if !super::secure_or_loopback(&jwks_uri) {
            return Err(FetchError::InsecureJwksUri);
        }
        let jwks: Jwks = self.get_json(jwks_uri.as_str()).await?;
        Ok(jwks
            .keys
            .iter()
            .filter_map(|key| {
                let kid = key.get("kid")?.as_str()?;
                // RSA keys only: API Gateway supports RSA-based algorithms alone.
                if key.get("kty")?.as_str()? != "RSA" {
                    return None;
                }
                let n = key.get("n")?.as_str()?;
                let e = key.get("e")?.as_str()?;
                let decoding = DecodingKey::from_rsa_components(n, e).ok()?;
                Some((kid.to_owned(), Arc::new(decoding)))
            })
            .collect())
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, FetchError> {
        let mut response = self
            .http
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|error| {
                FetchError::Request(if error.is_timeout() {
                    "timed out"
                } else if error.is_connect() {
                    "could not connect"
                } else {
                    "no answer"
                })
            })?;
        if !response.status().is_success() {
            return Err(FetchError::Status(response.status().as_u16()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|_| FetchError::Request("the answer broke off"))?
        {
            if body.len() + chunk.len() > MAX_DOCUMENT {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|_| FetchError::Malformed)
    }
}
