//! Sign-in as production does it: the compiled dev server with `JWT_ISSUER` and `JWT_AUDIENCE`
//! set judges every request as API Gateway's HTTP API JWT authorizer does, before any handler
//! runs. The tokens here are the tests' own, signed by an issuer on loopback
//! (`bookings_tests::issuer`), one case per rule of AWS's page ("Controlling access to HTTP APIs
//! with JWT authorizers": <https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html>).
//! The real OpenID provider's sign-in, through the page in Chromium, is in `account_page`.
//!
//! Every refusal is API Gateway's answer (401 `{"message":"Unauthorized"}` with a
//! `www-authenticate` header, or 403 `{"message":"Forbidden"}`), and a refused request never
//! reaches OmniLab: the sandbox's count of list calls proves it.

use std::time::Duration;

use bookings_tests::dev_server::DevServer;
use bookings_tests::issuer::{AUDIENCE, TestIssuer, now};
use bookings_tests::{DEMO_CUSTOMER, OTHER_CUSTOMER};
use dev_server::authorizer::signing::SigningKey;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// What API Gateway's authorizer writes when a token is refused.
const UNAUTHORIZED: &str = r#"{"message":"Unauthorized"}"#;
const FORBIDDEN: &str = r#"{"message":"Forbidden"}"#;

/// The claim a brand's identity provider writes each customer's OmniLab external id in, for
/// the tests that configure one instead of `sub`.
const EXTERNAL_ID_CLAIM: &str = "omnilab_external_id";

// ------------------------------------------------------------------------------------------------
// A good token, and where the authorizer finds it
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_customer_with_a_good_token_sees_their_bookings_sent_bare_or_after_bearer() {
    let api = SignedApi::start("good-token", &[]).await;
    let token = api.token(&api.issuer.claims(DEMO_CUSTOMER));

    let bearer = api.list(Some(&format!("Bearer {token}"))).await;
    assert_eq!(bearer.status, 200, "{bearer:?}");
    assert_eq!(
        bearer.bookings(),
        10,
        "the demo customer's ten upcoming bookings"
    );

    let bare = api.list(Some(&token)).await;
    assert_eq!(bare.status, 200, "a bare token is a token: {bare:?}");
    let lower = api.list(Some(&format!("bearer {token}"))).await;
    assert_eq!(lower.status, 200, "the scheme in any case: {lower:?}");
}

#[tokio::test]
async fn a_request_without_a_token_is_answered_401_bearer_and_never_reaches_omnilab() {
    let api = SignedApi::start("no-token", &[]).await;
    let answer = api.list(None).await;
    answer.assert_unauthorized(None);
    assert_eq!(
        answer.www_authenticate.as_deref(),
        Some("Bearer"),
        "no token: the bare challenge"
    );
    // x-dev-customer means nothing once an issuer is set.
    let posing = api
        .http
        .get(api.server.url("/bookings"))
        .header("x-dev-customer", OTHER_CUSTOMER)
        .send()
        .await
        .expect("GET /bookings");
    assert_eq!(posing.status(), 401, "x-dev-customer is no sign-in");
    let cancel = api.cancel(None, &sandbox::booking_uuid(1)).await;
    cancel.assert_unauthorized(None);
    assert_eq!(
        api.upstream_calls().await,
        0,
        "no refused request reached OmniLab"
    );
}

// ------------------------------------------------------------------------------------------------
// The claims: iss, aud / client_id, exp, nbf, iat
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_issuer_must_match_exactly_and_the_audience_must_be_one_of_the_configured() {
    let api = SignedApi::start("claims", &[]).await;
    let good = api.issuer.claims(DEMO_CUSTOMER);
    let with = |changes: Value| {
        let mut claims = good.clone();
        for (name, value) in changes.as_object().expect("an object") {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(name);
            } else {
                claims[name] = value.clone();
            }
        }
        api.token(&claims)
    };
    let issuer = api.issuer.url.clone();
    let cases = [
        (
            "a trailing slash on iss",
            with(json!({ "iss": format!("{issuer}/") })),
            "the token does not have a valid issuer",
        ),
        (
            "another issuer",
            with(json!({ "iss": "https://evil.example.com" })),
            "the token does not have a valid issuer",
        ),
        (
            "no iss",
            with(json!({ "iss": null })),
            "the token does not have a valid issuer",
        ),
        (
            "another audience",
            with(json!({ "aud": "someone-else" })),
            "the token does not have a valid audience",
        ),
        (
            "aud wrong, client_id right: aud is checked whenever present",
            with(json!({ "aud": "someone-else", "client_id": AUDIENCE })),
            "the token does not have a valid audience",
        ),
        (
            "neither aud nor client_id",
            with(json!({ "aud": null })),
            "the token does not have a valid audience",
        ),
        (
            "no aud, client_id wrong",
            with(json!({ "aud": null, "client_id": "someone-else" })),
            "the token does not have a valid audience",
        ),
        (
            "expired a second ago",
            with(json!({ "exp": now() - 1 })),
            "the token has expired",
        ),
        (
            "no exp",
            with(json!({ "exp": null })),
            "the token has no valid exp claim",
        ),
        (
            "nbf in a minute",
            with(json!({ "nbf": now() + 60 })),
            "the token is not valid yet",
        ),
        (
            "iat in a minute",
            with(json!({ "iat": now() + 60 })),
            "the token was issued in the future",
        ),
    ];
    for (case, token, error) in cases {
        let answer = api.list(Some(&format!("Bearer {token}"))).await;
        assert_eq!(answer.status, 401, "{case}: {answer:?}");
        answer.assert_unauthorized(Some(error));
    }
    assert_eq!(
        api.upstream_calls().await,
        0,
        "no refused token reached OmniLab"
    );

    // Cognito's access tokens: no aud, the app client in client_id.
    let cognito_access = with(json!({ "aud": null, "client_id": AUDIENCE }));
    let answer = api.list(Some(&cognito_access)).await;
    assert_eq!(answer.status, 200, "no aud, client_id right: {answer:?}");
    // aud as an array, one of them ours.
    let several = with(json!({ "aud": ["someone-else", AUDIENCE] }));
    assert_eq!(
        api.list(Some(&several)).await.status,
        200,
        "aud as an array"
    );
}

#[tokio::test]
async fn any_of_the_configured_audiences_is_accepted() {
    let api = SignedApi::start("audiences", &[("JWT_AUDIENCE", "web-app, bookings-api")]).await;
    let mut claims = api.issuer.claims(DEMO_CUSTOMER);
    for audience in ["web-app", AUDIENCE] {
        claims["aud"] = json!(audience);
        let answer = api.list(Some(&api.token(&claims))).await;
        assert_eq!(answer.status, 200, "aud {audience}: {answer:?}");
    }
}

// ------------------------------------------------------------------------------------------------
// The signature: RSA only, a kid that names a key, the bytes as signed
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn only_rsa_signatures_by_a_published_key_are_accepted() {
    let api = SignedApi::start("signatures", &[]).await;
    let claims = api.issuer.claims(DEMO_CUSTOMER);

    // ES256: refused for its algorithm, before any key is looked up.
    let es256 = es256_token("ec-key", &claims);
    let answer = api.list(Some(&es256)).await;
    answer.assert_unauthorized(Some("signing method is invalid"));

    // alg none: a header and claims with no signature at all.
    let none = format!(
        "{}.{}.",
        base64url(&json!({ "alg": "none", "typ": "JWT", "kid": api.key.kid() })),
        base64url(&claims)
    );
    api.list(Some(&none))
        .await
        .assert_unauthorized(Some("signing method is invalid"));
    // HS256 with the public key as the secret: the classic confusion.
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some(api.key.kid().to_owned());
    let confused = jsonwebtoken::encode(
        &hs,
        &claims,
        &EncodingKey::from_secret(serde_json::to_string(api.key.jwk()).unwrap().as_bytes())
            .unwrap(),
    )
    .unwrap();
    api.list(Some(&confused))
        .await
        .assert_unauthorized(Some("signing method is invalid"));

    // No kid.
    let no_kid = api
        .key
        .sign_with(&Header::new(Algorithm::RS256), &claims)
        .unwrap();
    api.list(Some(&no_kid))
        .await
        .assert_unauthorized(Some("token has no kid header"));

    // A flipped bit in the signature.
    let good = api.token(&claims);
    let flipped = flip_signature_bit(&good);
    api.list(Some(&flipped))
        .await
        .assert_unauthorized(Some("signature is invalid"));

    // A forger's key under the published key's kid.
    let forger = TestIssuer::unpublished_key(api.key.kid());
    api.list(Some(&forger.sign(&claims).unwrap()))
        .await
        .assert_unauthorized(Some("signature is invalid"));

    // Claims changed after signing.
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    parts[1] = base64url(&api.issuer.claims(OTHER_CUSTOMER));
    api.list(Some(&parts.join(".")))
        .await
        .assert_unauthorized(Some("signature is invalid"));

    assert_eq!(
        api.upstream_calls().await,
        0,
        "no refused token reached OmniLab"
    );

    // RS384 and RS512 are RSA too.
    for algorithm in [Algorithm::RS384, Algorithm::RS512] {
        let key = api.issuer.new_key_for(&format!("{algorithm:?}"), algorithm);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let answer = api.list(Some(&key.sign(&claims).unwrap())).await;
        assert_eq!(answer.status, 200, "{algorithm:?}: {answer:?}");
    }
}

#[tokio::test]
async fn a_key_the_issuer_adds_later_works_at_once_and_unknown_kids_do_not_flood_its_key_set() {
    let api = SignedApi::start("rotation", &[]).await;
    let claims = api.issuer.claims(DEMO_CUSTOMER);
    assert_eq!(api.list(Some(&api.token(&claims))).await.status, 200);
    let after_first = api.issuer.jwks_fetches();
    assert_eq!(after_first, 1, "the first request fetched the key set once");

    // The issuer rotates: a new key, published now. A token signed with it is accepted on its
    // first use, the key set fetched again for the kid it did not know. (The refetch is bounded
    // in time: let the bound pass first, as a rotation hours later would.)
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let rotated = api.issuer.new_key("rotated");
    let answer = api.list(Some(&rotated.sign(&claims).unwrap())).await;
    assert_eq!(answer.status, 200, "a key added later: {answer:?}");
    assert_eq!(api.issuer.jwks_fetches(), after_first + 1);

    // Fifty tokens with kids nobody publishes: refused, and the key set is not fetched fifty
    // times (API Gateway's cache, and ours, refetch at most once in a while).
    let stranger = TestIssuer::unpublished_key("stranger");
    let strangers: Vec<String> = (0..50)
        .map(|n| {
            let mut header = Header::new(Algorithm::RS256);
            header.kid = Some(format!("unknown-{n}"));
            stranger.sign_with(&header, &claims).unwrap()
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let before = api.issuer.jwks_fetches();
    let started = std::time::Instant::now();
    for token in &strangers {
        api.list(Some(token)).await.assert_unauthorized(Some(
            "the kid of the token does not match a key of the issuer",
        ));
    }
    let fetched = api.issuer.jwks_fetches() - before;
    let bound = 1 + u32::try_from(started.elapsed().as_secs()).unwrap_or(u32::MAX);
    assert!(
        (1..=bound).contains(&fetched),
        "fifty unknown kids in {:?} fetched the key set {fetched} times: at most once a second",
        started.elapsed()
    );
    // The known keys still work, from the cache.
    let cached = api.issuer.jwks_fetches();
    assert_eq!(api.list(Some(&api.token(&claims))).await.status, 200);
    assert_eq!(
        api.issuer.jwks_fetches(),
        cached,
        "a known kid is not refetched"
    );
}

#[tokio::test]
async fn the_issuer_down_at_first_is_401_and_the_server_serves_once_it_is_back() {
    let api = SignedApi::start("issuer-down", &[]).await;
    let token = api.token(&api.issuer.claims(DEMO_CUSTOMER));
    api.issuer.set_down(true);
    api.list(Some(&token)).await.assert_unauthorized(Some(
        "the kid of the token does not match a key of the issuer",
    ));
    api.issuer.set_down(false);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let answer = api.list(Some(&token)).await;
    assert_eq!(
        answer.status, 200,
        "served once the issuer is back: {answer:?}"
    );

    // Keys held survive a later outage.
    api.issuer.set_down(true);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        api.list(Some(&token)).await.status,
        200,
        "the held key still judges"
    );
}

// ------------------------------------------------------------------------------------------------
// Not JWTs at all
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn what_is_not_a_jwt_is_401_never_a_panic_nor_a_call_upstream() {
    let api = SignedApi::start("not-jwts", &[]).await;
    let good = api.token(&api.issuer.claims(DEMO_CUSTOMER));
    let header = good.split('.').next().unwrap().to_owned();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "a word",
            "hello".into(),
            "token contains an invalid number of segments",
        ),
        (
            "two segments",
            "a.b".into(),
            "token contains an invalid number of segments",
        ),
        (
            "four segments",
            format!("{good}.x"),
            "token contains an invalid number of segments",
        ),
        ("bad base64", "!!!.???.***".into(), "token is malformed"),
        (
            "a header that is not JSON",
            format!("{}.e30.", base64url_bytes(b"not json")),
            "token is malformed",
        ),
        (
            "claims that are not JSON",
            format!(
                "{header}.{}.{}",
                base64url_bytes(b"[1,2"),
                good.rsplit('.').next().unwrap()
            ),
            "signature is invalid",
        ),
        (
            "20 KB",
            format!("{header}.{}.sig", "A".repeat(20 * 1024)),
            "signature is invalid",
        ),
        (
            "Bearer alone",
            "Bearer".into(),
            "token contains an invalid number of segments",
        ),
        (
            "Basic credentials",
            "Basic dXNlcjpwYXNz".into(),
            "token contains an invalid number of segments",
        ),
    ];
    for (case, token, error) in cases {
        let answer = api.list(Some(&token)).await;
        assert_eq!(answer.status, 401, "{case}: {answer:?}");
        assert_eq!(answer.body, UNAUTHORIZED, "{case}");
        let challenge = answer.www_authenticate.clone().unwrap_or_default();
        assert!(
            challenge.starts_with(r#"Bearer scope="" error="invalid_token""#),
            "{case}: {challenge}"
        );
        answer.assert_unauthorized(Some(error));
    }
    // A header value that is not text.
    let raw = api
        .http
        .get(api.server.url("/bookings"))
        .header(
            "authorization",
            reqwest::header::HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap(),
        )
        .send()
        .await
        .expect("GET /bookings");
    assert_eq!(raw.status(), 401);
    assert_eq!(api.upstream_calls().await, 0, "nothing reached OmniLab");
    // Still serving.
    assert_eq!(api.list(Some(&good)).await.status, 200);
}

// ------------------------------------------------------------------------------------------------
// The claims the handler reads: strings, as API Gateway passes them
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_external_id_comes_from_the_configured_claim_as_a_string() {
    let api = SignedApi::reading_the_external_id_claim("external-id-claim").await;
    let mut claims = api.claims_of_the_demo_customer_as("idp-user-1");
    let answer = api.list(Some(&api.token(&claims))).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.bookings(), 10, "the claim named, not sub");

    // Missing: the authorizer lets the token through (it knows no claim names), the handler
    // answers its own 401 problem naming the claim.
    let missing = api
        .list(Some(&api.token(&api.issuer.claims(DEMO_CUSTOMER))))
        .await;
    assert_eq!(missing.status, 401, "{missing:?}");
    assert_eq!(
        missing.content_type.as_deref(),
        Some("application/problem+json")
    );
    assert_ne!(
        missing.body, UNAUTHORIZED,
        "the handler's answer, not the authorizer's"
    );
    assert_eq!(
        missing.json()["type"],
        json!("tag:omnilab-bookings,2026:unauthenticated"),
        "{}",
        missing.body
    );

    // An array claim reaches the handler as API Gateway writes it, "[a]": an id of nobody's.
    claims[EXTERNAL_ID_CLAIM] = json!([DEMO_CUSTOMER]);
    let array = api.list(Some(&api.token(&claims))).await;
    assert_eq!(array.status, 200, "{array:?}");
    assert_eq!(array.bookings(), 0, "\"[{DEMO_CUSTOMER}]\" has no bookings");

    // The log says which claim was missing, so the brand can fix its identity provider.
    let logs = api.server.stop();
    assert!(
        logs.contains("no `omnilab_external_id` claim"),
        "the missing claim is named in the log: {logs}"
    );
}

#[tokio::test]
async fn a_customer_cancels_their_own_booking_and_not_anothers() {
    let api = SignedApi::start("cancel", &[]).await;
    let mine = api.token(&api.issuer.claims(DEMO_CUSTOMER));
    let theirs = api.token(&api.issuer.claims(OTHER_CUSTOMER));
    let their_booking = api
        .list(Some(&theirs))
        .await
        .first_booking()
        .expect("the other customer has a booking");
    let my_booking = api
        .list(Some(&mine))
        .await
        .first_booking()
        .expect("a booking");

    let refused = api.cancel(Some(&mine), &their_booking).await;
    assert_eq!(
        refused.status, 404,
        "another customer's booking: {refused:?}"
    );
    let cancelled = api.cancel(Some(&mine), &my_booking).await;
    assert_eq!(cancelled.status, 200, "{cancelled:?}");
}

// ------------------------------------------------------------------------------------------------
// Scopes (the template's ListBookingsScopes / CancelBookingScopes)
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_scoped_route_needs_one_of_its_scopes_in_scope_or_scp() {
    let api =
        SignedApi::with_route_scopes("scopes", "bookings/read,bookings/admin", "bookings/cancel")
            .await;
    let claims = api.issuer.claims(DEMO_CUSTOMER);
    let booking = sandbox::booking_uuid(1);

    let scoped = |scopes: Value| {
        let mut claims = claims.clone();
        let object = claims.as_object_mut().unwrap();
        object.extend(scopes.as_object().unwrap().clone());
        api.token(&claims)
    };

    // No scope at all (an ID token): 403 on both routes.
    let unscoped = api.token(&claims);
    api.list(Some(&unscoped)).await.assert_forbidden();
    api.cancel(Some(&unscoped), &booking)
        .await
        .assert_forbidden();
    // A reader may not cancel, a canceller may not list.
    let reader = scoped(json!({ "scope": "openid bookings/read" }));
    api.cancel(Some(&reader), &booking).await.assert_forbidden();
    let canceller = scoped(json!({ "scp": "bookings/cancel" }));
    api.list(Some(&canceller)).await.assert_forbidden();
    // A scope's name inside another's is not that scope.
    let lookalike = scoped(json!({ "scp": "bookings/reader" }));
    api.list(Some(&lookalike)).await.assert_forbidden();
    assert_eq!(api.upstream_calls().await, 0, "no 403 reached OmniLab");

    // One of the route's scopes, among others, space-separated as OAuth writes them.
    assert_eq!(api.list(Some(&reader)).await.status, 200);
    // Okta and Entra ID write `scp`, as an array or a string.
    let admin = scoped(json!({ "scp": ["bookings/admin"] }));
    assert_eq!(api.list(Some(&admin)).await.status, 200, "scp array");
    assert_eq!(api.cancel(Some(&canceller), &booking).await.status, 200);
}

// ------------------------------------------------------------------------------------------------
// Logs, and the demo sign-in
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn no_token_claim_or_key_reaches_the_logs() {
    let api = SignedApi::reading_the_external_id_claim("log-safety").await;
    let claims = api.claims_of_the_demo_customer_as("idp-user-secret-sub");
    let good = api.token(&claims);
    let bad = flip_signature_bit(&good);
    let forged = TestIssuer::unpublished_key("forged").sign(&claims).unwrap();
    assert_eq!(api.list(Some(&good)).await.status, 200);
    assert_eq!(api.list(Some(&bad)).await.status, 401);
    assert_eq!(api.list(Some(&forged)).await.status, 401);
    assert_eq!(api.list(Some("garbage-token-value")).await.status, 401);

    let SignedApi { server, key, .. } = api;
    let logs = server.stop();
    assert_eq!(
        logs.matches("the JWT check refused the request").count(),
        3,
        "each refusal is logged, by kind: {logs}"
    );
    let signature = good.rsplit('.').next().unwrap();
    let payload = good.split('.').nth(1).unwrap();
    let modulus = key.jwk().to_owned();
    let modulus = serde_json::to_value(modulus).unwrap()["n"]
        .as_str()
        .unwrap()
        .to_owned();
    for (what, secret) in [
        ("a token's signature", signature),
        ("a token's claims", payload),
        ("a sub claim", "idp-user-secret-sub"),
        ("a token that is not a JWT", "garbage-token-value"),
        ("the key", &modulus[..40]),
    ] {
        assert!(!logs.contains(secret), "{what} reached the logs");
    }
}

#[tokio::test]
async fn the_demo_sign_in_judges_its_own_tokens_and_refuses_a_forged_one() {
    let server = DevServer::demo("demo-sign-in");
    let http = reqwest::Client::new();
    let get = |headers: &[(&str, &str)]| {
        let mut request = http.get(server.url("/bookings?booking_status=CONFIRMED&all=true"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        async move { Reply::read(request.send().await.expect("GET /bookings")).await }
    };
    let demo = get(&[]).await;
    assert_eq!(demo.status, 200, "{demo:?}");
    assert_eq!(demo.bookings(), 10);
    let other = get(&[("x-dev-customer", OTHER_CUSTOMER)]).await;
    assert_eq!(other.status, 200);
    assert_ne!(
        other.first_booking(),
        demo.first_booking(),
        "x-dev-customer switches"
    );

    // The demo issuer's documents are real ones.
    let discovery = json_at(&http, &server.url("/.well-known/openid-configuration")).await;
    assert_eq!(discovery["issuer"], json!(server.base));

    // A token brought along is judged as sent: one signed by a stranger's key is refused.
    let now = now();
    let forged = TestIssuer::unpublished_key("demo")
        .sign(&json!({
            "iss": server.base, "aud": "dev-server", "sub": DEMO_CUSTOMER,
            "iat": now, "exp": now + 60,
        }))
        .unwrap();
    let answer = get(&[("authorization", &format!("Bearer {forged}"))]).await;
    assert_eq!(answer.status, 401, "{answer:?}");
}

#[tokio::test]
async fn the_page_is_told_how_to_sign_in_as_configured() {
    let api = SignedApi::start(
        "page-settings",
        &[
            ("OIDC_CLIENT_ID", "bookings-page"),
            ("OIDC_TOKEN", "id"),
            (
                "OIDC_EXTRA_PARAMS",
                "audience=https://api.example-brand.com",
            ),
            ("LIST_SCOPES", "bookings/read"),
            ("CANCEL_SCOPES", "bookings/cancel,bookings/read"),
        ],
    )
    .await;
    let settings = json_at(&api.http, &api.server.url("/sign-in.json")).await;
    assert_eq!(
        settings,
        json!({
            "mode": "oidc",
            "authority": api.issuer.url,
            "client_id": "bookings-page",
            // openid, then each route scope once.
            "scope": "openid bookings/read bookings/cancel",
            "token": "id",
            "extra_query_params": { "audience": "https://api.example-brand.com" },
        })
    );
    // The page's sign-in library, from this machine's npm install.
    let library = api
        .http
        .get(api.server.url("/vendor/oidc-client-ts.js"))
        .send()
        .await
        .expect("GET the library");
    assert_eq!(library.status(), 200);
    assert!(library.text().await.unwrap().contains("UserManager"));
}

// ------------------------------------------------------------------------------------------------
// The harness
// ------------------------------------------------------------------------------------------------

/// A dev server that trusts one test issuer, its first key, and a client.
struct SignedApi {
    issuer: TestIssuer,
    key: SigningKey,
    server: DevServer,
    http: reqwest::Client,
}

impl SignedApi {
    /// `JWT_ISSUER` the test issuer, `JWT_AUDIENCE` [`AUDIENCE`], `EXTERNAL_ID_CLAIM` `sub`,
    /// then `env` over them.
    async fn start(name: &str, env: &[(&str, &str)]) -> Self {
        let issuer = TestIssuer::start().await;
        let key = issuer.new_key("k1");
        let mut settings = vec![
            ("JWT_ISSUER", issuer.url.as_str()),
            ("JWT_AUDIENCE", AUDIENCE),
            ("EXTERNAL_ID_CLAIM", "sub"),
        ];
        for (name, value) in env {
            settings.retain(|(set, _)| set != name);
            settings.push((name, value));
        }
        let server = DevServer::start(&format!("sign-in-{name}"), &settings);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        Self {
            issuer,
            key,
            server,
            http,
        }
    }

    /// [`SignedApi::start`] with scopes on the routes, as the template's `ListBookingsScopes` and
    /// `CancelBookingScopes` set them: each comma-separated, one of them needed.
    async fn with_route_scopes(name: &str, list: &str, cancel: &str) -> Self {
        Self::start(name, &[("LIST_SCOPES", list), ("CANCEL_SCOPES", cancel)]).await
    }

    /// [`SignedApi::start`] with the external id read from [`EXTERNAL_ID_CLAIM`], not `sub`.
    async fn reading_the_external_id_claim(name: &str) -> Self {
        Self::start(name, &[("EXTERNAL_ID_CLAIM", EXTERNAL_ID_CLAIM)]).await
    }

    /// The claims of the identity provider's user `sub`, whose external id is the demo customer.
    fn claims_of_the_demo_customer_as(&self, sub: &str) -> Value {
        let mut claims = self.issuer.claims(sub);
        claims[EXTERNAL_ID_CLAIM] = json!(DEMO_CUSTOMER);
        claims
    }

    fn token(&self, claims: &Value) -> String {
        self.key.sign(claims).expect("a signed token")
    }

    async fn list(&self, authorization: Option<&str>) -> Reply {
        let url = self
            .server
            .url("/bookings?booking_status=CONFIRMED&all=true");
        send(self.http.get(url), authorization).await
    }

    async fn cancel(&self, authorization: Option<&str>, booking: &str) -> Reply {
        let url = self.server.url(&format!("/bookings/{booking}/cancel"));
        send(self.http.post(url), authorization).await
    }

    /// Every call the dev server's OmniLab sandbox has served (token, fetch, cancel).
    async fn upstream_calls(&self) -> u64 {
        let counters: Value = self
            .http
            .get(self.server.url("/_sandbox/counters"))
            .send()
            .await
            .expect("GET /_sandbox/counters")
            .json()
            .await
            .expect("the sandbox's counts");
        ["token_requests", "fetches", "cancels"]
            .iter()
            .map(|name| counters[name].as_u64().expect("a count"))
            .sum()
    }
}

/// `request`, with `Authorization: <authorization>` when there is one, sent and read.
async fn send(mut request: reqwest::RequestBuilder, authorization: Option<&str>) -> Reply {
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    Reply::read(request.send().await.expect("a request to the dev server")).await
}

/// The JSON document at `url`.
async fn json_at(http: &reqwest::Client, url: &str) -> Value {
    let answer = http.get(url).send().await;
    let answer = answer.unwrap_or_else(|e| panic!("GET {url}: {e}"));
    answer
        .json()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: not JSON: {e}"))
}

/// An answer, read.
#[derive(Debug)]
struct Reply {
    status: u16,
    www_authenticate: Option<String>,
    content_type: Option<String>,
    body: String,
}

impl Reply {
    async fn read(response: reqwest::Response) -> Self {
        let headers = response.headers();
        let header = |name: &str| Some(headers.get(name)?.to_str().ok()?.to_owned());
        Self {
            status: response.status().as_u16(),
            www_authenticate: header("www-authenticate"),
            content_type: header("content-type"),
            body: response.text().await.expect("a body"),
        }
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    fn bookings(&self) -> usize {
        self.json()["bookings"].as_array().expect("bookings").len()
    }

    fn first_booking(&self) -> Option<String> {
        self.json()["bookings"][0]["booking"]
            .as_str()
            .map(str::to_owned)
    }

    /// API Gateway's 401; `error`: the `error_description` it names.
    fn assert_unauthorized(&self, error: Option<&str>) {
        assert_eq!(self.status, 401, "{self:?}");
        assert_eq!(self.body, UNAUTHORIZED);
        let expected = match error {
            None => "Bearer".to_owned(),
            Some(error) => {
                format!(r#"Bearer scope="" error="invalid_token" error_description="{error}""#)
            }
        };
        assert_eq!(self.www_authenticate.as_deref(), Some(expected.as_str()));
    }

    fn assert_forbidden(&self) {
        assert_eq!(self.status, 403, "{self:?}");
        assert_eq!(self.body, FORBIDDEN);
    }
}

fn base64url(value: &Value) -> String {
    base64url_bytes(value.to_string().as_bytes())
}

/// Base64url without padding, as JWTs write their segments (RFC 7515, appendix C).
fn base64url_bytes(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, b| (n << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// The token with one bit of its signature's first byte flipped (the base64url character
/// changed to its neighbour in the alphabet, which changes the decoded bytes).
fn flip_signature_bit(token: &str) -> String {
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let mut signature = signature.as_bytes().to_vec();
    signature[0] = match signature[0] {
        b'A' => b'B',
        _ => b'A',
    };
    format!("{signed}.{}", String::from_utf8(signature).unwrap())
}

/// A token signed with ES256 by a key the issuer does not know as RSA: aws-lc makes the key,
/// jsonwebtoken signs.
fn es256_token(kid: &str, claims: &Value) -> String {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .expect("an EC key");
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_der(pkcs8.as_ref()))
        .expect("an ES256 token")
}
