//! `POST /v1/oauth:token`: the client-credentials exchange, the credentials it accepts, and the
//! tokens it has issued, each until it expires or is revoked.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::router::error;
use crate::state::Sandbox;
use crate::wire::{ClientCredentials, TokenAnswer, TokenRequest};

/// The token endpoint's part of the state.
pub(crate) struct TokenState {
    credentials: ClientCredentials,
    /// How long a token issued from now on lives, in seconds.
    lifetime: u64,
    /// What the token answer says in `expires_in`, when a test wants something odd there.
    expires_in: Option<Value>,
    /// Every token issued since the last revocation, and when it expires.
    live: HashMap<String, Instant>,
    /// Tokens issued ever: each one's number, so that no two are alike.
    issued: u64,
}

impl TokenState {
    pub(crate) fn new(credentials: ClientCredentials) -> Self {
        Self {
            credentials,
            lifetime: 3600,
            expires_in: None,
            live: HashMap::new(),
            issued: 0,
        }
    }

    /// Whether `headers` carry a bearer token issued, unrevoked and unexpired.
    pub(crate) fn accept(&self, headers: &HeaderMap) -> bool {
        let Some(token) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return false;
        };
        self.live
            .get(token)
            .is_some_and(|expires| Instant::now() < *expires)
    }
}

impl Sandbox {
    /// The credentials the sandbox accepts by default.
    pub fn default_credentials() -> ClientCredentials {
        ClientCredentials {
            client_id: "sandbox-client".into(),
            client_secret: "sandbox-secret".into(),
            audience: "https://sandbox.omnilab.test".into(),
        }
    }

    /// From now on only `credentials` get a token, as after a rotation on OmniLab's side.
    pub fn set_credentials(&self, credentials: ClientCredentials) {
        self.lock().token.credentials = credentials;
    }

    pub fn set_token_lifetime(&self, seconds: u64) {
        self.lock().token.lifetime = seconds;
    }

    /// Tokens still live `set_token_lifetime` seconds, but the answer says `expires_in` as given.
    pub fn set_expires_in(&self, expires_in: Value) {
        self.lock().token.expires_in = Some(expires_in);
    }

    /// Every token issued so far stops working, as after a key rotation on OmniLab's side.
    pub fn revoke_tokens(&self) {
        self.lock().token.live.clear();
    }

    /// The tokens issued since the last revocation: for a test to look for them where they
    /// must never appear (a command's output, a log line).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.lock().token.live.keys().cloned().collect()
    }
}

/// The exchange itself: a token for the credentials the sandbox accepts, else OmniLab's error.
pub(crate) fn exchange(sandbox: &Sandbox, body: &[u8]) -> Response {
    let request = serde_json::from_slice::<TokenRequest>(body);
    let mut guard = sandbox.lock();
    guard.counters.token_exchanges += 1;
    let Ok(request) = request else {
        return error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    if request.grant_type != "client_credentials" {
        return error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    let state = &mut guard.token;
    let expected = &state.credentials;
    if request.client_id != expected.client_id
        || request.client_secret != expected.client_secret
        || request.audience != expected.audience
    {
        return error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    state.issued += 1;
    let token = format!("sandbox-token-{}-{:016x}", state.issued, fastrand::u64(..));
    let expires = Instant::now() + Duration::from_secs(state.lifetime);
    state.live.insert(token.clone(), expires);
    let expires_in = state
        .expires_in
        .clone()
        .unwrap_or_else(|| state.lifetime.into());
    drop(guard);
    axum::Json(TokenAnswer {
        access_token: token,
        token_type: "Bearer".into(),
        expires_in,
    })
    .into_response()
}
