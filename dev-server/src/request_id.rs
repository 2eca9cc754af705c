//! `apigw-requestid` on every answer, as API Gateway sends it: the id support asks a customer
//! for, and the one the handler's log lines carry (the event's `requestContext.requestId`).

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::Response;

/// This request's id, for the handler's event.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// Gives every request through `router` an id of its own, sent back in `apigw-requestid`.
pub fn layer(router: Router) -> Router {
    router.layer(middleware::from_fn(stamp))
}

async fn stamp(mut request: Request, next: Next) -> Response {
    let id = next_id();
    request.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(request).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("apigw-requestid", value);
    }
    response
}

/// Unique within this run and not guessable from the last one: a counter through a hasher
/// keyed at random when the server starts (std's, so no randomness crate for an id).
fn next_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static KEY: std::sync::OnceLock<RandomState> = std::sync::OnceLock::new();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let hash = KEY.get_or_init(RandomState::new).hash_one(n);
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_do_not_repeat() {
        let ids: std::collections::BTreeSet<String> = (0..1000).map(|_| super::next_id()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids.iter().all(|id| id.len() == 16));
    }
}
