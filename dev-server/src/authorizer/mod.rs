//! API Gateway's HTTP API JWT authorizer, in front of our two routes, as AWS documents it
//! (<https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html>,
//! "Authorizing API requests with a JWT authorizer"). A request is judged before any handler
//! runs; a refused one never reaches a handler and costs no call upstream.
//!
//! | step | rule | refused with |
//! |---|---|---|
//! | token | the `Authorization` header, the token alone or after `Bearer ` | 401, `www-authenticate: Bearer` when there is none |
//! | decode | three base64url parts, a JSON header | 401 `invalid_token` |
//! | algorithm | RS256, RS384 or RS512: "only RSA-based algorithms are supported" | 401 `invalid_token` |
//! | key | the header's `kid` names a key of the issuer's `jwks_uri` ([`keys`]) | 401 `invalid_token` |
//! | signature | verified with that key (jsonwebtoken, over aws-lc) | 401 `invalid_token` |
//! | `iss` | equal to the configured issuer, byte for byte (a trailing slash counts) | 401 `invalid_token` |
//! | `aud` / `client_id` | `aud` (a string or an array) holds one of the audiences; `client_id` is read only when the token has no `aud` at all | 401 `invalid_token` |
//! | `exp` | after now, no leeway | 401 `invalid_token` |
//! | `nbf`, `iat` | when present, not after now | 401 `invalid_token` |
//! | scopes | on a route with scopes, `scope` (space-separated) or `scp` (string or array) holds one of them | 403 `{"message":"Forbidden"}` |
//!
//! A 401's body is `{"message":"Unauthorized"}` and its `www-authenticate` header names the
//! error (AWS's own example: `Bearer scope="" error="invalid_token" error_description="the token
//! does not have a valid audience"`). The claims of an accepted token reach the handler as
//! strings ([`claims`]), and the token's scopes only on a route that has scopes.
//!
//! No token, claim or key is ever logged: a refusal logs its kind alone.
//!
//! # Layout
//!
//! - [`Settings`]: issuer, audiences and each route's scopes, from the same values as the
//!   template's `JwtIssuer`, `JwtAudience` and scope parameters.
//! - [`Authorizer::judge`]: the table above.
//! - [`keys`]: discovery, the key cache and its bounded refetch.
//! - [`claims`]: claims as API Gateway writes them into the event.
//! - [`signing`]: an RSA key that signs tokens (the demo sign-in, the tests' issuers).

pub mod claims;
pub mod keys;
pub mod signing;

use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bookings::Route;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};

use keys::KeySet;

/// Where tokens come from and what they must say, per route.
#[derive(Debug, Clone)]
pub struct Settings {
    pub issuer: Issuer,
    /// `aud` (or `client_id`) must be one of these.
    pub audiences: Vec<String>,
    pub scopes: RouteScopes,
}

/// The scopes each route requires (one of them); empty: none, as with no `AuthorizationScopes`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteScopes {
    pub list_bookings: Vec<String>,
    pub cancel_booking: Vec<String>,
}

impl RouteScopes {
    pub fn of(&self, route: Route) -> &[String] {
        match route {
            Route::ListBookings => &self.list_bookings,
            Route::CancelBooking => &self.cancel_booking,
        }
    }
}

/// An issuer URL: `https://`, or `http://` on a loopback address (a local identity provider,
/// the tests, the demo sign-in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuer(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("JWT_ISSUER is not a URL")]
    IssuerNotUrl,
    #[error("JWT_ISSUER must be https:// (http:// only on a loopback address)")]
    IssuerInsecure,
    #[error("JWT_AUDIENCE must name at least one audience")]
    NoAudience,
}

impl Issuer {
    pub fn parse(text: &str) -> Result<Self, SettingsError> {
        let url = reqwest::Url::parse(text).map_err(|_| SettingsError::IssuerNotUrl)?;
        if !secure_or_loopback(&url) {
            return Err(SettingsError::IssuerInsecure);
        }
        // Kept as given, not as the URL parser would print it: `iss` is compared with exactly
        // what the brand configured.
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// OpenID Connect Discovery's location: the issuer, less a trailing slash, then
    /// `/.well-known/openid-configuration`.
    pub fn discovery_url(&self) -> String {
        format!(
            "{}/.well-known/openid-configuration",
            self.0.trim_end_matches('/')
        )
    }
}

/// `https://`, or `http://` to `localhost` or a loopback address.
pub fn secure_or_loopback(url: &reqwest::Url) -> bool {
    match url.scheme() {
        "https" => url.host().is_some(),
        "http" => url.host_str().is_some_and(|host| {
            host.eq_ignore_ascii_case("localhost")
                || host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }),
        _ => false,
    }
}

/// Parses a comma-separated list (the template's `CommaDelimitedList`): items trimmed, empty
/// ones dropped.
pub fn comma_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

impl Settings {
    pub fn new(issuer: &str, audiences: &str, scopes: RouteScopes) -> Result<Self, SettingsError> {
        let audiences = comma_list(audiences);
        if audiences.is_empty() {
            return Err(SettingsError::NoAudience);
        }
        Ok(Self {
            issuer: Issuer::parse(issuer)?,
            audiences,
            scopes,
        })
    }
}

/// What an accepted token hands the handler: the payload 2.0 event's `authorizer.jwt`.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    /// Every claim, as text.
    pub claims: Map<String, Value>,
    /// The token's scopes, on a route that has scopes; `None` elsewhere.
    pub scopes: Option<Vec<String>>,
}

/// Why a token was refused: the kind alone, which is also what the log line says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// No `Authorization` header, or nothing in it.
    NoToken,
    /// A token that API Gateway would not accept, and why.
    Invalid(Invalid),
    /// A valid token without one of the route's scopes.
    Scope,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    Segments,
    Malformed,
    Algorithm,
    NoKid,
    UnknownKid,
    Signature,
    Issuer,
    Audience,
    Expired,
    NoExpiry,
    NotYetValid,
    IssuedInFuture,
}

impl Invalid {
    /// The `error_description` of the `www-authenticate` header.
    pub fn description(self) -> &'static str {
        match self {
            Invalid::Segments => "token contains an invalid number of segments",
            Invalid::Malformed => "token is malformed",
            Invalid::Algorithm => "signing method is invalid",
            Invalid::NoKid => "token has no kid header",
            Invalid::UnknownKid => "the kid of the token does not match a key of the issuer",
            Invalid::Signature => "signature is invalid",
            Invalid::Issuer => "the token does not have a valid issuer",
            Invalid::Audience => "the token does not have a valid audience",
            Invalid::Expired => "the token has expired",
            Invalid::NoExpiry => "the token has no valid exp claim",
            Invalid::NotYetValid => "the token is not valid yet",
            Invalid::IssuedInFuture => "the token was issued in the future",
        }
    }
}

impl Denied {
    /// The kind, for the log line.
    pub fn kind(self) -> &'static str {
        match self {
            Denied::NoToken => "no token",
            Denied::Scope => "scope",
            Denied::Invalid(invalid) => invalid.description(),
        }
    }
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        let (status, body, challenge) = match self {
            Denied::NoToken => (
                StatusCode::UNAUTHORIZED,
                r#"{"message":"Unauthorized"}"#,
                "Bearer".to_owned(),
            ),
            Denied::Invalid(invalid) => (
                StatusCode::UNAUTHORIZED,
                r#"{"message":"Unauthorized"}"#,
                format!(
                    r#"Bearer scope="" error="invalid_token" error_description="{}""#,
                    invalid.description()
                ),
            ),
            Denied::Scope => (
                StatusCode::FORBIDDEN,
                r#"{"message":"Forbidden"}"#,
                r#"Bearer scope="" error="insufficient_scope" error_description="the token does not have a valid scope""#
                    .to_owned(),
            ),
        };
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// The authorizer: settings and the issuer's keys.
pub struct Authorizer {
    settings: Settings,
    keys: KeySet,
}

impl Authorizer {
    pub fn new(settings: Settings) -> Self {
        Self {
            keys: KeySet::new(settings.issuer.clone()),
            settings,
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The module's table, for a request to `route` carrying `authorization`.
    pub async fn judge(
        &self,
        route: Route,
        authorization: Option<&HeaderValue>,
    ) -> Result<Grant, Denied> {
        let token = token(authorization)?;
        let kid = signed_by(token)?;
        let key = self
            .keys
            .key(&kid.kid)
            .await
            .ok_or(Denied::Invalid(Invalid::UnknownKid))?;
        let mut validation = Validation::new(kid.algorithm);
        // jsonwebtoken checks the signature alone; every claim is judged below, by AWS's rules
        // (its own defaults differ: 60 s of leeway, `aud` required).
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.leeway = 0;
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|error| {
                Denied::Invalid(match error.kind() {
                    jsonwebtoken::errors::ErrorKind::InvalidSignature => Invalid::Signature,
                    _ => Invalid::Malformed,
                })
            })?
            .claims;
        judge_claims(&self.settings, route, &claims, now())
    }
}

/// The seconds since the epoch, as `exp`, `nbf` and `iat` count them.
fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The token of an `Authorization` header: all of it, or what follows `Bearer ` (the scheme in
/// any case, as RFC 9110 has auth schemes).
fn token(authorization: Option<&HeaderValue>) -> Result<&str, Denied> {
    let value = authorization.ok_or(Denied::NoToken)?;
    let value = value
        .to_str()
        .map_err(|_| Denied::Invalid(Invalid::Malformed))?;
    let token = match value.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("bearer ") => &value[7..],
        _ => value,
    };
    let token = token.trim();
    if token.is_empty() {
        return Err(Denied::NoToken);
    }
    Ok(token)
}

struct SignedBy {
    kid: String,
    algorithm: Algorithm,
}

/// The token's algorithm and `kid`, from its header, before any key is looked for.
fn signed_by(token: &str) -> Result<SignedBy, Denied> {
    if token.split('.').count() != 3 {
        return Err(Denied::Invalid(Invalid::Segments));
    }
    // Read as JSON first: jsonwebtoken's own header type refuses an algorithm it does not
    // know (`none`), which is an algorithm refusal here, not a malformed token.
    let header = token.split('.').next().unwrap_or_default();
    let header: Value = raw_header(header).ok_or(Denied::Invalid(Invalid::Malformed))?;
    let algorithm = match header.get("alg").and_then(Value::as_str) {
        Some("RS256") => Algorithm::RS256,
        Some("RS384") => Algorithm::RS384,
        Some("RS512") => Algorithm::RS512,
        _ => return Err(Denied::Invalid(Invalid::Algorithm)),
    };
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .ok_or(Denied::Invalid(Invalid::NoKid))?;
    Ok(SignedBy {
        kid: kid.to_owned(),
        algorithm,
    })
}

/// The header as plain JSON (jsonwebtoken reads it again, typed, when it verifies).
fn raw_header(part: &str) -> Option<Value> {
    let bytes = base64url_decode(part)?;
    serde_json::from_slice::<Value>(&bytes)
        .ok()
        .filter(Value::is_object)
}

/// base64url without padding (RFC 7515 §2), refusing anything else.
pub(crate) fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    fn sextet(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        } as u32)
    }
    let bytes = text.as_bytes();
    if bytes.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= sextet(c)? << (18 - 6 * i);
        }
        let produced = chunk.len() - 1;
        out.extend_from_slice(&n.to_be_bytes()[1..1 + produced]);
    }
    Some(out)
}

/// The claim rules of the module's table, on a token whose signature is good, at `now`.
pub fn judge_claims(
    settings: &Settings,
    route: Route,
    claims: &Map<String, Value>,
    now: f64,
) -> Result<Grant, Denied> {
    let invalid = |why| Err(Denied::Invalid(why));
    if claims.get("iss").and_then(Value::as_str) != Some(settings.issuer.as_str()) {
        return invalid(Invalid::Issuer);
    }
    let audience_ok = match claims.get("aud") {
        // AWS: "API Gateway validates client_id only if aud is not present".
        None => claims
            .get("client_id")
            .and_then(Value::as_str)
            .is_some_and(|id| settings.audiences.iter().any(|a| a == id)),
        Some(Value::String(aud)) => settings.audiences.iter().any(|a| a == aud),
        Some(Value::Array(auds)) => auds
            .iter()
            .filter_map(Value::as_str)
            .any(|aud| settings.audiences.iter().any(|a| a == aud)),
        Some(_) => false,
    };
    if !audience_ok {
        return invalid(Invalid::Audience);
    }
    match claims.get("exp").and_then(Value::as_f64) {
        None => return invalid(Invalid::NoExpiry),
        Some(exp) if exp <= now => return invalid(Invalid::Expired),
        Some(_) => {}
    }
    if let Some(nbf) = claims.get("nbf") {
        match nbf.as_f64() {
            Some(nbf) if nbf <= now => {}
            _ => return invalid(Invalid::NotYetValid),
        }
    }
    if let Some(iat) = claims.get("iat") {
        match iat.as_f64() {
            Some(iat) if iat <= now => {}
            _ => return invalid(Invalid::IssuedInFuture),
        }
    }
    let required = settings.scopes.of(route);
    let scopes = if required.is_empty() {
        None
    } else {
        let held = token_scopes(claims);
        if !held.iter().any(|scope| required.contains(scope)) {
            return Err(Denied::Scope);
        }
        Some(held)
    };
    Ok(Grant {
        claims: claims::as_event_claims(claims),
        scopes,
    })
}

/// The scopes a token holds: `scope` (RFC 8693's space-separated string) and `scp` (a string
/// or an array, as Okta and Entra ID write it).
fn token_scopes(claims: &Map<String, Value>) -> Vec<String> {
    let mut scopes = Vec::new();
    for name in ["scope", "scp"] {
        match claims.get(name) {
            Some(Value::String(text)) => {
                scopes.extend(text.split(' ').filter(|s| !s.is_empty()).map(str::to_owned));
            }
            Some(Value::Array(items)) => {
                scopes.extend(items.iter().filter_map(Value::as_str).map(str::to_owned));
            }
            _ => {}
        }
    }
    scopes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: f64 = 1_800_000_000.0;

    fn settings(scopes: RouteScopes) -> Settings {
        Settings::new(
            "https://auth.example-brand.com/",
            "bookings, web-client",
            scopes,
        )
        .unwrap()
    }

    fn claims(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    fn good() -> Value {
        json!({
            "iss": "https://auth.example-brand.com/",
            "aud": "bookings",
            "sub": "9b33d8c1",
            "exp": NOW + 60.0,
            "iat": NOW - 1.0,
        })
    }

    fn with(mut value: Value, name: &str, claim: Value) -> Map<String, Value> {
        value[name] = claim;
        claims(value)
    }

    fn without(mut value: Value, name: &str) -> Map<String, Value> {
        value.as_object_mut().unwrap().remove(name);
        claims(value)
    }

    fn verdict(claims: &Map<String, Value>) -> Result<Grant, Denied> {
        judge_claims(
            &settings(RouteScopes::default()),
            Route::ListBookings,
            claims,
            NOW,
        )
    }

    #[test]
    fn a_good_token_hands_over_its_claims_as_text_and_no_scopes() {
        let grant = verdict(&claims(good())).unwrap();
        assert_eq!(grant.claims["exp"], json!("1800000060.0"));
        assert_eq!(grant.claims["sub"], json!("9b33d8c1"));
        assert_eq!(grant.scopes, None);
    }

    #[test]
    fn the_issuer_must_match_exactly() {
        for iss in [
            json!("https://auth.example-brand.com"),
            json!("https://auth.example-brand.com//"),
            json!("HTTPS://auth.example-brand.com/"),
            json!(["https://auth.example-brand.com/"]),
        ] {
            assert_eq!(
                verdict(&with(good(), "iss", iss.clone())),
                Err(Denied::Invalid(Invalid::Issuer)),
                "{iss}"
            );
        }
        assert_eq!(
            verdict(&without(good(), "iss")),
            Err(Denied::Invalid(Invalid::Issuer))
        );
    }

    #[test]
    fn aud_is_checked_whenever_present_and_client_id_only_without_it() {
        let audience = Err(Denied::Invalid(Invalid::Audience));
        assert!(verdict(&with(good(), "aud", json!("web-client"))).is_ok());
        assert!(verdict(&with(good(), "aud", json!(["other", "bookings"]))).is_ok());
        assert_eq!(verdict(&with(good(), "aud", json!("other"))), audience);
        assert_eq!(verdict(&with(good(), "aud", json!([]))), audience);
        // A wrong aud is not rescued by a right client_id.
        let mut wrong_aud = good();
        wrong_aud["aud"] = json!("other");
        assert_eq!(
            verdict(&with(wrong_aud, "client_id", json!("bookings"))),
            audience
        );
        // No aud: client_id decides (a Cognito access token).
        let no_aud = without(good(), "aud");
        assert_eq!(verdict(&no_aud), audience);
        assert!(
            verdict(&with(
                Value::Object(no_aud.clone()),
                "client_id",
                json!("bookings")
            ))
            .is_ok()
        );
        assert_eq!(
            verdict(&with(Value::Object(no_aud), "client_id", json!("other"))),
            audience
        );
    }

    #[test]
    fn times_have_no_leeway() {
        assert_eq!(
            verdict(&with(good(), "exp", json!(NOW))),
            Err(Denied::Invalid(Invalid::Expired))
        );
        assert!(verdict(&with(good(), "exp", json!(NOW + 1.0))).is_ok());
        assert_eq!(
            verdict(&without(good(), "exp")),
            Err(Denied::Invalid(Invalid::NoExpiry))
        );
        assert_eq!(
            verdict(&with(good(), "exp", json!("1900000000"))),
            Err(Denied::Invalid(Invalid::NoExpiry))
        );
        assert_eq!(
            verdict(&with(good(), "nbf", json!(NOW + 1.0))),
            Err(Denied::Invalid(Invalid::NotYetValid))
        );
        assert!(verdict(&with(good(), "nbf", json!(NOW))).is_ok());
        assert_eq!(
            verdict(&with(good(), "iat", json!(NOW + 1.0))),
            Err(Denied::Invalid(Invalid::IssuedInFuture))
        );
        assert!(verdict(&without(good(), "iat")).is_ok());
    }

    #[test]
    fn a_scoped_route_needs_one_of_its_scopes_in_scope_or_scp() {
        let scoped = settings(RouteScopes {
            list_bookings: vec!["bookings/read".into()],
            cancel_booking: vec!["bookings/cancel".into(), "bookings/admin".into()],
        });
        let judge = |route, claims: &Map<String, Value>| judge_claims(&scoped, route, claims, NOW);
        let token = with(good(), "scope", json!("openid bookings/read"));
        assert_eq!(
            judge(Route::ListBookings, &token).unwrap().scopes,
            Some(vec!["openid".to_owned(), "bookings/read".to_owned()])
        );
        assert_eq!(judge(Route::CancelBooking, &token), Err(Denied::Scope));
        let okta = with(good(), "scp", json!(["bookings/admin"]));
        assert!(judge(Route::CancelBooking, &okta).is_ok());
        let entra = with(good(), "scp", json!("bookings/cancel other"));
        assert!(judge(Route::CancelBooking, &entra).is_ok());
        assert_eq!(
            judge(Route::ListBookings, &claims(good())),
            Err(Denied::Scope)
        );
    }

    #[test]
    fn the_token_comes_bare_or_after_bearer() {
        let header = |text: &str| HeaderValue::from_str(text).unwrap();
        assert_eq!(token(Some(&header("Bearer a.b.c"))), Ok("a.b.c"));
        assert_eq!(token(Some(&header("bearer a.b.c"))), Ok("a.b.c"));
        assert_eq!(token(Some(&header("a.b.c"))), Ok("a.b.c"));
        assert_eq!(token(None), Err(Denied::NoToken));
        assert_eq!(token(Some(&header("Bearer "))), Err(Denied::NoToken));
        let bytes = HeaderValue::from_bytes(b"Bearer \xff").unwrap();
        assert_eq!(
            token(Some(&bytes)),
            Err(Denied::Invalid(Invalid::Malformed))
        );
    }

    #[test]
    fn the_header_names_an_rsa_algorithm_and_a_kid() {
        let part = |header: Value| {
            let text = header.to_string();
            let mut encoded = String::new();
            const ALPHABET: &[u8] =
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            for chunk in text.as_bytes().chunks(3) {
                let n = chunk
                    .iter()
                    .enumerate()
                    .fold(0u32, |n, (i, &b)| n | (b as u32) << (16 - 8 * i));
                for i in 0..=chunk.len() {
                    encoded.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
                }
            }
            format!("{encoded}.e30.c2ln")
        };
        let refused = |header: Value| signed_by(&part(header)).err();
        assert_eq!(refused(json!({"alg": "RS256", "kid": "k"})), None);
        assert_eq!(refused(json!({"alg": "RS512", "kid": "k"})), None);
        for alg in ["none", "HS256", "ES256", "PS256", "EdDSA"] {
            assert_eq!(
                refused(json!({"alg": alg, "kid": "k"})),
                Some(Denied::Invalid(Invalid::Algorithm)),
                "{alg}"
            );
        }
        assert_eq!(
            refused(json!({"alg": "RS256"})),
            Some(Denied::Invalid(Invalid::NoKid))
        );
        // Not three segments, or a header that is not base64url JSON.
        for (token, invalid) in [
            ("a.b", Invalid::Segments),
            ("not-a-jwt", Invalid::Segments),
            ("%%%.e30.c2ln", Invalid::Malformed),
            ("bm90IGpzb24.e30.c2ln", Invalid::Malformed),
        ] {
            assert_eq!(
                signed_by(token).err(),
                Some(Denied::Invalid(invalid)),
                "{token}"
            );
        }
    }

    #[test]
    fn issuers_are_https_or_loopback() {
        assert!(Issuer::parse("https://auth.example-brand.com/").is_ok());
        assert!(Issuer::parse("http://127.0.0.1:9000").is_ok());
        assert!(Issuer::parse("http://localhost:9000/realms/x").is_ok());
        assert!(Issuer::parse("http://[::1]:9000").is_ok());
        assert_eq!(
            Issuer::parse("http://auth.example-brand.com/"),
            Err(SettingsError::IssuerInsecure)
        );
        assert_eq!(
            Issuer::parse("http://10.0.0.1/"),
            Err(SettingsError::IssuerInsecure)
        );
        assert_eq!(
            Issuer::parse("auth.example-brand.com"),
            Err(SettingsError::IssuerNotUrl)
        );
        assert_eq!(
            Issuer::parse("https://auth.example-brand.com/")
                .unwrap()
                .discovery_url(),
            "https://auth.example-brand.com/.well-known/openid-configuration"
        );
        assert_eq!(
            Settings::new("https://a.example/", " , ", RouteScopes::default()).err(),
            Some(SettingsError::NoAudience)
        );
    }
}
