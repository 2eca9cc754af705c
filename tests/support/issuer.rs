//! An identity provider of the tests' own on loopback: an OpenID discovery document and a key
//! set, with keys the test adds when it likes (a rotation), an outage on order and a count of
//! every fetch. Tokens are signed with [`SigningKey`], the dev server's own key type, so the
//! cryptography is jsonwebtoken's on both sides.
//!
//! ```text
//! let issuer = TestIssuer::start().await;
//! let key = issuer.new_key("k1");
//! let token = key.sign(&issuer.claims(DEMO_CUSTOMER)).unwrap();
//! ```

use std::sync::{Arc, Mutex};

use ::dev_server::authorizer::signing::SigningKey;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

/// The audience the tests' tokens are for (the dev server's `JWT_AUDIENCE`).
pub const AUDIENCE: &str = "bookings-api";

#[derive(Clone)]
pub struct TestIssuer {
    /// `http://127.0.0.1:<port>`, no trailing slash: the `iss` of its tokens.
    pub url: String,
    state: Arc<Mutex<IssuerState>>,
}

#[derive(Default)]
struct IssuerState {
    keys: Vec<Value>,
    down: bool,
    discovery_fetches: u32,
    jwks_fetches: u32,
}

impl TestIssuer {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(IssuerState::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the issuer binds a loopback port");
        let addr = listener.local_addr().expect("an address");
        let url = format!("http://{addr}");
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/keys", get(jwks))
            .with_state((url.clone(), state.clone()));
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self { url, state }
    }

    /// A new RS256 key named `kid`, published in the key set from now on.
    pub fn new_key(&self, kid: &str) -> SigningKey {
        self.new_key_for(kid, Algorithm::RS256)
    }

    pub fn new_key_for(&self, kid: &str, algorithm: Algorithm) -> SigningKey {
        let key = SigningKey::generate(kid, algorithm).expect("an RSA key");
        self.publish(&key);
        key
    }

    /// Adds `key` to the key set.
    pub fn publish(&self, key: &SigningKey) {
        let jwk = serde_json::to_value(key.jwk()).expect("a JWK");
        self.lock().keys.push(jwk);
    }

    /// A made key that the issuer does not publish (a forger's).
    pub fn unpublished_key(kid: &str) -> SigningKey {
        SigningKey::generate(kid, Algorithm::RS256).expect("an RSA key")
    }

    /// Both documents answer 503 while `down`.
    pub fn set_down(&self, down: bool) {
        self.lock().down = down;
    }

    /// How many times the key set was fetched.
    pub fn jwks_fetches(&self) -> u32 {
        self.lock().jwks_fetches
    }

    pub fn discovery_fetches(&self) -> u32 {
        self.lock().discovery_fetches
    }

    /// A good token's claims for `customer` (in `sub`), valid for ten minutes.
    pub fn claims(&self, customer: &str) -> Value {
        let now = now();
        json!({
            "iss": self.url,
            "aud": AUDIENCE,
            "sub": customer,
            "iat": now,
            "exp": now + 600,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, IssuerState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The seconds since the epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

type Shared = (String, Arc<Mutex<IssuerState>>);

async fn discovery(State((url, state)): State<Shared>) -> Response {
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    state.discovery_fetches += 1;
    if state.down {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    Json(json!({
        "issuer": url,
        "jwks_uri": format!("{url}/keys"),
        "authorization_endpoint": format!("{url}/authorize"),
        "token_endpoint": format!("{url}/token"),
    }))
    .into_response()
}

async fn jwks(State((_, state)): State<Shared>) -> Response {
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    state.jwks_fetches += 1;
    if state.down {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    Json(json!({ "keys": state.keys })).into_response()
}
