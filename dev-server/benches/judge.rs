//! How long the dev server's JWT check takes to judge a good token once the issuer's key is
//! held: the cost every local request pays (deployed, the check is API Gateway's, and the Lambda
//! binaries do not contain it).
//!
//! `cargo bench -p dev-server --bench judge` prints the median, 99th percentile and worst of
//! 10,000 judgements, and the same for a refused token (a flipped signature bit). The issuer is an
//! in-process server on loopback, fetched once before the clock starts.

use std::time::{Duration, Instant};

use axum::Json;
use axum::http::HeaderValue;
use axum::routing::get;
use bookings::Route;
use dev_server::authorizer::signing::SigningKey;
use dev_server::authorizer::{Authorizer, RouteScopes, Settings};
use jsonwebtoken::Algorithm;
use serde_json::json;

const ROUNDS: usize = 10_000;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let key = SigningKey::generate("bench", Algorithm::RS256).expect("an RSA key");
    let jwks = key.jwks();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let issuer = format!("http://{}", listener.local_addr().expect("an address"));
    let discovery = json!({ "issuer": issuer, "jwks_uri": format!("{issuer}/keys") });
    let router = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { Json(discovery) }),
        )
        .route("/keys", get(move || async move { Json(jwks) }));
    tokio::spawn(async move { axum::serve(listener, router).await });

    let authorizer = Authorizer::new(
        Settings::new(&issuer, "bookings-api", RouteScopes::default()).expect("settings"),
    );
    let now = jiff::Timestamp::now().as_second();
    let token = key
        .sign(&json!({
            "iss": issuer, "aud": "bookings-api", "sub": "9b33d8c1-64bd-4eff-b0e4-d2fb29ecbe83",
            "iat": now, "exp": now + 3600, "scope": "openid bookings/read",
        }))
        .expect("a token");
    let good = HeaderValue::from_str(&format!("Bearer {token}")).expect("a header");
    let (signed, signature) = token.rsplit_once('.').expect("a JWT");
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    let bad = HeaderValue::from_str(&format!("Bearer {signed}.{flipped}{}", &signature[1..]))
        .expect("a header");

    // The first judgement fetches the key set: not counted.
    authorizer
        .judge(Route::ListBookings, Some(&good))
        .await
        .expect("the good token passes");
    for (what, header, passes) in [
        ("a good token", &good, true),
        ("a bad signature", &bad, false),
    ] {
        let mut times = Vec::with_capacity(ROUNDS);
        for _ in 0..ROUNDS {
            let started = Instant::now();
            let verdict = authorizer.judge(Route::ListBookings, Some(header)).await;
            times.push(started.elapsed());
            assert_eq!(verdict.is_ok(), passes, "{what}");
        }
        times.sort();
        let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
        println!(
            "{what:<16} median {:>6.1} µs   p99 {:>6.1} µs   max {:>7.1} µs   ({ROUNDS} judgements, RS256, key held)",
            micros(at(0.5)),
            micros(at(0.99)),
            micros(times[times.len() - 1]),
        );
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
