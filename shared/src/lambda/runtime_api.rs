//! The runtime loop: ask Lambda's Runtime API for an invocation, answer it, ask again.
//!
//! # Why ours, not lambda_runtime's
//!
//! It is the loop lambda_runtime runs (`run_concurrent`: one loop per
//! `AWS_LAMBDA_MAX_CONCURRENCY` slot, one on classic Lambda), over its own Runtime API client
//! and its `Config` and `Context`, with three of its behaviours changed. Each would be a small
//! patch to lambda_runtime's `runtime.rs`; until then they live here.
//!
//! - **No `_X_AMZN_TRACE_ID`.** One at a time, lambda_runtime sets that environment variable
//!   with `env::set_var` on every invocation, and glibc never frees a replaced value: with a new
//!   trace id each time, memory grows without end. The trace id reaches us in the invocation's
//!   context and as the request's `x-amzn-trace-id` header instead, as lambda_runtime already
//!   does when several run at once. (The AWS SDK reads the variable for Lambda's recursion
//!   detection, which concerns queue and topic triggers, not API Gateway.)
//! - **A bounded backoff on a failed poll.** lambda_runtime polls again at once: with several
//!   slots and a Runtime API that refuses connections, both cores spin and each failure logs a
//!   warning. Here a failed poll waits, doubling from [`FIRST_WAIT`] to [`LONGEST_WAIT`], and
//!   warns at most once per [`WARN_EVERY`].
//! - **A failed answer is not the end.** Sequentially, lambda_runtime returns the error of a
//!   `/response` whose connection dropped, and the process exits: a cold start for the next
//!   request. Here it is a warning, and the loop asks for the next invocation.
//!
//! What lambda_runtime does that we keep: one tracing span per invocation with its
//! `requestId` and `xrayTraceId`, a panic reported as the invocation's error (a bug: the
//! `Errors` alarm should hear of it), a `Context` from the same headers.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use http_body_util::BodyExt;
use lambda_http::http::{HeaderMap, Method, StatusCode};
use lambda_http::lambda_runtime::{Config, Context};
use lambda_runtime_api_client::body::Body;
use lambda_runtime_api_client::{Client, build_request};
use tracing::Instrument;

use super::envelope::Envelope;
use super::event::request_of;
use crate::api::{App, Route};
use crate::every::Every;

/// The first wait after a failed poll.
pub(super) const FIRST_WAIT: Duration = Duration::from_millis(10);
/// The longest: Lambda freezes or ends a container whose Runtime API is gone, so a long wait
/// only delays the next invocation once it is back.
pub(super) const LONGEST_WAIT: Duration = Duration::from_millis(500);
/// At most one warning per kind of failure per this interval.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// Lambda's Runtime API, as every slot's loop shares it.
pub(super) struct RuntimeApi {
    client: Client,
    config: Arc<Config>,
    unpolled: Every,
    unanswered: Every,
}

/// One invocation, as the Runtime API handed it.
struct Invocation {
    id: String,
    context: Context,
    payload: bytes::Bytes,
}

#[derive(Debug, thiserror::Error)]
enum ApiError {
    #[error("the Runtime API could not be reached")]
    Unreachable,
    #[error("the Runtime API answered {0}")]
    Status(StatusCode),
    #[error("the invocation had no request id")]
    NoRequestId,
    #[error("the invocation's event was cut off")]
    CutOff,
}

impl RuntimeApi {
    /// The Runtime API at `AWS_LAMBDA_RUNTIME_API`, as lambda_runtime finds it. Lambda always
    /// sets it; without it (or with no address in it) there is nothing to serve, and the
    /// process says so in one line and exits, where lambda_runtime would panic.
    pub(super) fn from_env(slots: usize) -> Self {
        let endpoint = std::env::var("AWS_LAMBDA_RUNTIME_API")
            .ok()
            .and_then(|address| address.parse::<lambda_http::http::Uri>().ok());
        let client = endpoint.and_then(|endpoint| {
            Client::builder()
                .with_endpoint(endpoint)
                .with_pool_size(slots)
                .build()
                .ok()
        });
        let Some(client) = client else {
            tracing::error!("cannot start: AWS_LAMBDA_RUNTIME_API names no Runtime API");
            std::process::exit(1)
        };
        Self {
            client,
            config: Arc::new(config_from_env()),
            unpolled: Every::new(WARN_EVERY),
            unanswered: Every::new(WARN_EVERY),
        }
    }

    /// One slot's loop: forever, the next invocation answered by `app`.
    pub(super) async fn run_slot(self: Arc<Self>, app: App, route: Route) {
        tracing::debug!(route = route.key(), "runtime loop polling");
        let mut wait = FIRST_WAIT;
        loop {
            let invocation = match self.next().await {
                Ok(invocation) => invocation,
                Err(error) => {
                    if self.unpolled.due(Instant::now()) {
                        tracing::warn!(%error, wait_ms = wait.as_millis() as u64, "polling for the next invocation failed; polling again");
                    }
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(LONGEST_WAIT);
                    continue;
                }
            };
            wait = FIRST_WAIT;
            let span = tracing::info_span!(
                "Lambda runtime invoke",
                requestId = %invocation.id,
                xrayTraceId = invocation.context.xray_trace_id.as_deref().unwrap_or_default(),
            );
            let invoked = async {
                // The kind and size only: the event holds the customer's token and cookies.
                tracing::debug!(bytes = invocation.payload.len(), "invocation received");
                self.invoke(&app, route, invocation).await;
            };
            invoked.instrument(span).await;
        }
    }

    async fn invoke(&self, app: &App, route: Route, invocation: Invocation) {
        let Invocation {
            id,
            context,
            payload,
        } = invocation;
        let answer = async {
            let request = request_of(&payload, context);
            drop(payload);
            Envelope::of(app.reply(route, request).await)
        };
        let answered =
            crate::telemetry::in_one_write(AssertUnwindSafe(answer).catch_unwind()).await;
        let (path, body, error_type) = match answered {
            Ok(envelope) => (
                format!("/2018-06-01/runtime/invocation/{id}/response"),
                envelope.into_bytes(),
                None,
            ),
            // The panic's message went to stderr with the hook's location; the Runtime API gets
            // the kind only.
            Err(_) => (
                format!("/2018-06-01/runtime/invocation/{id}/error"),
                br#"{"errorType":"Panic","errorMessage":"the handler panicked"}"#.to_vec(),
                Some("Panic"),
            ),
        };
        if let Err(error) = self.post(&path, body, error_type).await
            && self.unanswered.due(Instant::now())
        {
            tracing::warn!(%error, "the answer did not reach the Runtime API; serving on");
        }
    }

    async fn next(&self) -> Result<Invocation, ApiError> {
        let request = build_request()
            .method(Method::GET)
            .uri("/2018-06-01/runtime/invocation/next")
            .body(Body::empty());
        let (parts, body) = self.send(request).await?.into_parts();
        let context = context_of(&parts.headers, &self.config).ok_or(ApiError::NoRequestId)?;
        let payload = body
            .collect()
            .await
            .map_err(|_| ApiError::CutOff)?
            .to_bytes();
        Ok(Invocation {
            id: context.request_id.clone(),
            context,
            payload,
        })
    }

    async fn post(
        &self,
        path: &str,
        body: Vec<u8>,
        error_type: Option<&'static str>,
    ) -> Result<(), ApiError> {
        let mut request = build_request().method(Method::POST).uri(path);
        if let Some(kind) = error_type {
            request = request.header("lambda-runtime-function-error-type", kind);
        }
        let response = self.send(request.body(Body::from(body))).await?;
        // Read to the end, so that the connection goes back to the pool.
        let _ = response.into_body().collect().await;
        Ok(())
    }

    /// Sends one request to the Runtime API: its answer if it is a success, else why not.
    async fn send(
        &self,
        request: Result<lambda_http::http::Request<Body>, lambda_http::http::Error>,
    ) -> Result<lambda_http::http::Response<hyper::body::Incoming>, ApiError> {
        let request = request.map_err(|_| ApiError::Unreachable)?;
        let response = self
            .client
            .call(request)
            .await
            .map_err(|_| ApiError::Unreachable)?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(ApiError::Status(response.status()))
        }
    }
}

/// The invocation's context from the poll's headers, as lambda_runtime's `Context::new` reads
/// them, without its panics: `None` only without a request id, which nothing can be answered
/// without. A missing or unreadable deadline is 0, which the app reads as none.
fn context_of(headers: &HeaderMap, config: &Arc<Config>) -> Option<Context> {
    let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let request_id = text("lambda-runtime-aws-request-id").filter(|id| !id.is_empty())?;
    if let Ok(context) = Context::new(request_id, config.clone(), &fill_deadline(headers)) {
        return Some(context);
    }
    // A client context or Cognito identity that is not the JSON it should be: the rest still
    // serves an HTTP API request, which reads neither.
    let mut context = Context::default();
    context.request_id = request_id.to_owned();
    context.deadline = deadline_ms(headers);
    context.invoked_function_arn = text("lambda-runtime-invoked-function-arn")
        .unwrap_or_default()
        .to_owned();
    context.xray_trace_id = text("lambda-runtime-trace-id").map(str::to_owned);
    context.env_config = config.clone();
    Some(context)
}

fn deadline_ms(headers: &HeaderMap) -> u64 {
    headers
        .get("lambda-runtime-deadline-ms")
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse().ok())
        .unwrap_or(0)
}

/// The headers with a deadline `Context::new` can read (it panics on a missing one).
fn fill_deadline(headers: &HeaderMap) -> std::borrow::Cow<'_, HeaderMap> {
    if headers
        .get("lambda-runtime-deadline-ms")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|text| text.parse::<u64>().is_ok())
    {
        return std::borrow::Cow::Borrowed(headers);
    }
    let mut filled = headers.clone();
    filled.insert(
        "lambda-runtime-deadline-ms",
        lambda_http::http::HeaderValue::from_static("0"),
    );
    std::borrow::Cow::Owned(filled)
}

/// lambda_runtime's `Config::from_env`, without its panics: the function's name, memory and
/// version, which Lambda always sets; defaults where a local runner does not.
fn config_from_env() -> Config {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    Config {
        function_name: var("AWS_LAMBDA_FUNCTION_NAME"),
        memory: var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").parse().unwrap_or(0),
        version: var("AWS_LAMBDA_FUNCTION_VERSION"),
        log_stream: var("AWS_LAMBDA_LOG_STREAM_NAME"),
        log_group: var("AWS_LAMBDA_LOG_GROUP_NAME"),
    }
}

#[cfg(test)]
mod tests {
    use lambda_http::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn a_context_is_read_as_lambda_runtime_reads_it() {
        let config = Arc::new(Config::default());
        let context = context_of(
            &headers(&[
                ("lambda-runtime-aws-request-id", "r-1"),
                ("lambda-runtime-deadline-ms", "1700000000000"),
                ("lambda-runtime-trace-id", "Root=1-abc"),
            ]),
            &config,
        )
        .unwrap();
        assert_eq!(context.request_id, "r-1");
        assert_eq!(context.deadline, 1_700_000_000_000);
        assert_eq!(context.xray_trace_id.as_deref(), Some("Root=1-abc"));
    }

    /// What would make lambda_runtime's `Context::new` panic or fail is served all the same.
    #[test]
    fn a_context_without_a_deadline_or_with_a_bad_client_context_still_serves() {
        let config = Arc::new(Config::default());
        for pairs in [
            &[("lambda-runtime-aws-request-id", "r-1")][..],
            &[
                ("lambda-runtime-aws-request-id", "r-1"),
                ("lambda-runtime-deadline-ms", "soon"),
            ],
            &[
                ("lambda-runtime-aws-request-id", "r-1"),
                ("lambda-runtime-deadline-ms", "5"),
                ("lambda-runtime-client-context", "{not json"),
            ],
        ] {
            let context = context_of(&headers(pairs), &config).expect("a context");
            assert_eq!(context.request_id, "r-1", "{pairs:?}");
        }
        assert!(context_of(&headers(&[]), &config).is_none());
        assert!(context_of(&headers(&[("lambda-runtime-aws-request-id", "")]), &config).is_none());
    }
}
