//! Who is signed in: every API request passes [`Authorizer::judge`], whichever of two ways the
//! server was started.
//!
//! - **The brand's identity provider** (`JWT_ISSUER` and `JWT_AUDIENCE` set, the template's
//!   `JwtIssuer` and `JwtAudience`): a request needs a token from that issuer, judged as API
//!   Gateway judges it. `x-dev-customer` means nothing. The reference page signs in against the
//!   same issuer ([`PageSignIn`], served as `/sign-in.json`).
//! - **The demo sign-in** (neither set): the server is an issuer of its own, with a key made at
//!   start and its discovery document and key set at `/.well-known/`. A request without a token
//!   is given one, for the demo customer or the one `x-dev-customer` names, and that token goes
//!   through the very same check, keys fetched over HTTP from the server itself: so the check
//!   runs every time anyone runs the dev server. A request that brings a token is judged as sent.

use axum::http::HeaderMap;
use bookings::Route;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

use crate::authorizer::signing::{SigningError, SigningKey};
use crate::authorizer::{self, Authorizer, Denied, Grant, Invalid, RouteScopes, Settings};

/// The audience of the demo sign-in's tokens.
pub const DEMO_AUDIENCE: &str = "dev-server";
/// How long a demo token lives: long enough for one request.
const DEMO_TOKEN_SECONDS: u64 = 300;

/// The sign-in the page performs against the brand's issuer: what `/sign-in.json` says.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PageSignIn {
    /// The issuer, for oidc-client-ts's `authority`.
    pub authority: String,
    /// The public app client registered for the page; `None`: the page says it cannot sign in.
    pub client_id: Option<String>,
    /// What the page asks for: `openid` and, by default, every route's scopes.
    pub scope: String,
    /// Which token the page sends: `access` (the default, what AWS recommends with scopes) or `id`.
    pub token: TokenKind,
    /// Extra authorization parameters (Auth0's `audience`, a `resource`).
    pub extra_query_params: serde_json::Map<String, Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    Access,
    Id,
}

pub enum SignIn {
    Issuer {
        authorizer: Authorizer,
        page: PageSignIn,
    },
    Demo {
        authorizer: Authorizer,
        key: SigningKey,
        /// The claim that carries the external ID (`EXTERNAL_ID_CLAIM`).
        claim: String,
    },
}

impl SignIn {
    /// The demo sign-in, for a server reached at `origin` (`http://127.0.0.1:<port>`).
    pub fn demo(origin: &str, claim: String, scopes: RouteScopes) -> Result<Self, DemoError> {
        let settings = Settings::new(origin, DEMO_AUDIENCE, scopes)?;
        let key = SigningKey::generate("dev-server-demo", Algorithm::RS256)?;
        Ok(SignIn::Demo {
            authorizer: Authorizer::new(settings),
            key,
            claim,
        })
    }

    pub fn authorizer(&self) -> &Authorizer {
        match self {
            SignIn::Issuer { authorizer, .. } | SignIn::Demo { authorizer, .. } => authorizer,
        }
    }

    /// The request's grant: its token judged, or in the demo a token made for it and judged.
    pub async fn judge(&self, route: Route, headers: &HeaderMap) -> Result<Grant, Denied> {
        let authorization = headers.get(axum::http::header::AUTHORIZATION);
        match self {
            SignIn::Demo {
                authorizer,
                key,
                claim,
            } if authorization.is_none() => {
                let customer = headers
                    .get("x-dev-customer")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or(sandbox::DEMO_CUSTOMER);
                let token = demo_token(authorizer.settings(), key, claim, customer)
                    .map_err(|_| Denied::Invalid(Invalid::Signature))?;
                let header = axum::http::HeaderValue::from_str(&format!("Bearer {token}"))
                    .map_err(|_| Denied::Invalid(Invalid::Malformed))?;
                authorizer.judge(route, Some(&header)).await
            }
            _ => self.authorizer().judge(route, authorization).await,
        }
    }

    /// `/sign-in.json`: the page's sign-in, or `{"mode": "demo"}`.
    pub fn page(&self) -> Value {
        match self {
            SignIn::Issuer { page, .. } => {
                let mut value = json!(page);
                value["mode"] = json!("oidc");
                value
            }
            SignIn::Demo { .. } => json!({ "mode": "demo" }),
        }
    }

    /// The demo issuer's discovery document and key set; `None` with the brand's issuer.
    pub fn demo_documents(&self) -> Option<(Value, Value)> {
        match self {
            SignIn::Demo {
                authorizer, key, ..
            } => {
                let issuer = authorizer.settings().issuer.as_str();
                let discovery = json!({
                    "issuer": issuer,
                    "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
                    "id_token_signing_alg_values_supported": ["RS256"],
                });
                Some((discovery, key.jwks()))
            }
            SignIn::Issuer { .. } => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Settings(#[from] authorizer::SettingsError),
    #[error(transparent)]
    Key(#[from] SigningError),
}

/// A token of the demo issuer for `customer`, carrying every route's scopes.
fn demo_token(
    settings: &Settings,
    key: &SigningKey,
    claim: &str,
    customer: &str,
) -> Result<String, SigningError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut scopes: Vec<&str> = settings
        .scopes
        .list_bookings
        .iter()
        .chain(&settings.scopes.cancel_booking)
        .map(String::as_str)
        .collect();
    scopes.dedup();
    let mut claims = json!({
        "iss": settings.issuer.as_str(),
        "aud": DEMO_AUDIENCE,
        "sub": customer,
        "iat": now,
        "exp": now + DEMO_TOKEN_SECONDS,
    });
    claims[claim] = json!(customer);
    if !scopes.is_empty() {
        claims["scope"] = json!(scopes.join(" "));
    }
    key.sign(&claims)
}
