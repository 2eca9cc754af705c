//! Our two routes over API Gateway's HTTP API: a request in, the customer and their input
//! taken out of it, the use case called, the answer shaped. How errors become answers is in
//! [`problem`].

mod locale;
mod problem;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambda_http::http::{Method, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use tracing::Instrument;

pub use locale::Locale;
use problem::problem_response;
pub use problem::{ApiError, MAX_RETRY_AFTER, Problem, RETRY_AFTER, RETRY_AFTER_NOT_CONFIGURED};

use crate::booking_id::BookingId;
use crate::config::{Config, DEFAULT_EXTERNAL_ID_CLAIM};
use crate::escaped::Escaped;
use crate::identity;
use crate::metrics;
#[cfg(feature = "stats")]
use crate::omnilab::Stats;
use crate::omnilab::{Budget, OmniLab, UpstreamError};
use crate::query::{InvalidParameter, ListQuery, Reason};
use crate::service::Bookings;

/// Lambda stops a function at its deadline; answering a little before it means the caller gets
/// our 504 rather than API Gateway's opaque one.
const DEADLINE_MARGIN: Duration = Duration::from_millis(300);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// `GET /bookings`
    ListBookings,
    /// `POST /bookings/{booking}/cancel`
    CancelBooking,
}

impl Route {
    pub fn key(self) -> &'static str {
        match self {
            Self::ListBookings => "GET /bookings",
            Self::CancelBooking => "POST /bookings/{booking}/cancel",
        }
    }

    /// The route as a metric dimension value: the function's name in the template.
    pub fn name(self) -> &'static str {
        match self {
            Self::ListBookings => "list-bookings",
            Self::CancelBooking => "cancel-booking",
        }
    }

    fn method(self) -> Method {
        match self {
            Self::ListBookings => Method::GET,
            Self::CancelBooking => Method::POST,
        }
    }

    /// The `Allow` header of a 405 on this route.
    pub(super) fn allow(self) -> &'static str {
        match self {
            Self::ListBookings => "GET",
            Self::CancelBooking => "POST",
        }
    }
}

/// The part of an event that could not be made into an HTTP request. A request carrying one
/// (as an extension, set by the runtime loop's event reading) is answered 400 before any route
/// runs: lambda_http's own conversion panics on these, and a panic is an invocation error,
/// which pages on-call and rolls back a canary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unreadable {
    /// Not an HTTP API event (payload format 2.0) at all.
    Event,
    /// `rawPath` is not a URI path.
    Path,
    /// `rawQueryString` is not a URI query: a raw space, quote or angle bracket, say.
    Query,
}

/// The part's name: the problem's `field`.
impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Event => "event",
            Self::Path => "path",
            Self::Query => "query",
        })
    }
}

/// One container's application: cheap to clone, shared by every concurrent request.
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    bookings: Bookings,
    external_id_claim: String,
    metrics: Option<metrics::Settings>,
    /// Whether no request has been served yet: the next one is the container's cold start.
    cold: AtomicBool,
    /// The time a request gets when Lambda gives no deadline (local runs).
    default_budget: Duration,
}

impl App {
    pub fn new(config: Config) -> Self {
        if config.external_id_claim != DEFAULT_EXTERNAL_ID_CLAIM {
            // Whoever can change this claim can read and cancel another customer's bookings.
            tracing::warn!(
                claim = %config.external_id_claim,
                "EXTERNAL_ID_CLAIM is not `sub`: make sure customers cannot change this claim (Cognito custom attributes are writable unless the app client makes them read-only)"
            );
        }
        Self {
            inner: Arc::new(Inner {
                default_budget: config.omnilab.policy.default_budget,
                bookings: Bookings::new(OmniLab::new(config.omnilab)),
                external_id_claim: config.external_id_claim,
                metrics: config.metrics,
                cold: AtomicBool::new(true),
            }),
        }
    }

    /// Starts, in the background, the local set-up the first request would otherwise wait for
    /// (the HTTP client with its TLS roots, the Secrets Manager client), so it overlaps the
    /// runtime's first poll for work. No network. Needs a Tokio runtime.
    pub fn prepare_in_background(&self) {
        let app = self.clone();
        tokio::spawn(async move { app.inner.bookings.omnilab().prepare().await });
    }

    #[cfg(feature = "stats")]
    pub fn stats(&self) -> Stats {
        self.inner.bookings.omnilab().stats()
    }

    /// Serves one request of `route`: always an answer, never a panic or an `Err`.
    pub async fn handle(&self, route: Route, request: Request) -> Response<Body> {
        self.reply(route, request).await.map(Reply::into_body)
    }

    /// [`App::handle`], with the body as it leaves for Lambda's response document: a list
    /// already escaped as a JSON string's contents (see [`Escaped`]). The runtime loop's way in.
    pub async fn reply(&self, route: Route, request: Request) -> Response<Reply> {
        let ids = metrics::Ids {
            request: request
                .lambda_context_ref()
                .map(|context| context.request_id.as_str()),
            api_request: api_request_id(&request),
        };
        // Every line this request logs carries API Gateway's request id (its access log's),
        // next to the Lambda request id the runtime's own span adds.
        let span = tracing::info_span!("request", apiRequestId = ids.api_request.unwrap_or("-"));
        self.respond(route, &request, ids).instrument(span).await
    }

    async fn respond(
        &self,
        route: Route,
        request: &Request,
        ids: metrics::Ids<'_>,
    ) -> Response<Reply> {
        let started = Instant::now();
        let cold_start = self.inner.cold.swap(false, Ordering::Relaxed);
        let time = self.time_for(request);
        let budget = Budget::new(time);
        let work = async {
            if let Some(&unreadable) = request.extensions().get::<Unreadable>() {
                return Err(ApiError::Unreadable(unreadable));
            }
            match route {
                Route::ListBookings => self.list(&budget, request).await,
                Route::CancelBooking => self.cancel(&budget, request).await,
            }
        };
        // The one bound on every wait inside (a token or secret another request is fetching, a
        // cancel of the same booking in flight): none outlives this request's deadline.
        let outcome = tokio::time::timeout(time, work)
            .await
            .unwrap_or(Err(ApiError::Upstream(UpstreamError::Timeout)));
        let (response, problem) = match outcome {
            Ok(response) => (response, None),
            Err(error) => {
                error.log(route);
                let locale = Locale::negotiate(request.headers().get(header::ACCEPT_LANGUAGE));
                (problem_response(&error, locale), Some(error))
            }
        };
        let duration = started.elapsed();
        let tally = budget.tally();
        let unreadable = matches!(problem, Some(ApiError::Unreadable(_)));
        let problem = problem.as_ref().map(ApiError::kind);
        tracing::info!(
            route = route.key(),
            status = response.status().as_u16(),
            problem,
            duration_ms = duration.as_secs_f64() * 1000.0,
            upstream_calls = tally.upstream_calls,
            token_table_calls = tally.token_table_calls,
            shared_token = tally.shared_token(),
            "request"
        );
        if let Some(settings) = &self.inner.metrics {
            let outcome = metrics::Outcome {
                route: route.name(),
                status: response.status().as_u16(),
                duration,
                cold_start,
                unreadable,
                version: settings.version.as_deref(),
                tally: &tally,
            };
            metrics::write(&metrics::documents(&settings.namespace, &outcome, ids));
        }
        response
    }

    async fn list(&self, budget: &Budget, request: &Request) -> Result<Response<Reply>, ApiError> {
        check_method(Route::ListBookings, request)?;
        let customer = identity::customer(request, &self.inner.external_id_claim)?;
        let query = ListQuery::parse(query_pairs(request))?;
        let list = self.inner.bookings.list(budget, &customer, &query).await?;
        Ok(response(
            StatusCode::OK,
            "application/json",
            Reply::Escaped(list),
        ))
    }

    async fn cancel(
        &self,
        budget: &Budget,
        request: &Request,
    ) -> Result<Response<Reply>, ApiError> {
        check_method(Route::CancelBooking, request)?;
        let customer = identity::customer(request, &self.inner.external_id_claim)?;
        if let Some((name, _)) = query_pairs(request).next() {
            return Err(InvalidParameter::new(name, Reason::NotOnThisRoute).into());
        }
        let id = booking_param(request)
            .ok_or(ApiError::NotFound)
            .and_then(|text| {
                BookingId::parse(text)
                    .map_err(|_| InvalidParameter::new("booking", Reason::BookingId).into())
            })?;
        let cancelled = self.inner.bookings.cancel(budget, &customer, &id).await?;
        Ok(json_response(StatusCode::OK, &cancelled))
    }

    /// The time this request may spend: up to Lambda's deadline (less a margin), or the
    /// configured default where there is none (local runs).
    fn time_for(&self, request: &Request) -> Duration {
        let default = self.inner.default_budget;
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        match request.lambda_context_ref().map(|context| context.deadline) {
            // Real Lambda deadlines are epoch milliseconds in the future. Some local emulators
            // (cargo lambda watch) send a bare duration instead, which reads as long past.
            Some(deadline) if deadline > now_ms => Duration::from_millis(deadline - now_ms)
                .saturating_sub(DEADLINE_MARGIN)
                .min(default),
            _ => default,
        }
    }
}

/// API Gateway's own id of the request (`requestContext.requestId`), when it sent one.
fn api_request_id(request: &Request) -> Option<&str> {
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => context.request_id.as_deref(),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

fn check_method(route: Route, request: &Request) -> Result<(), ApiError> {
    (request.method() == route.method())
        .then_some(())
        .ok_or(ApiError::MethodNotAllowed(route))
}

/// The query as it was sent, repeats included (lambda_http parses `rawQueryString`).
fn query_pairs(request: &Request) -> impl Iterator<Item = (&str, &str)> {
    request
        .query_string_parameters_ref()
        .into_iter()
        .flat_map(|map| map.iter())
}

/// `{booking}` from API Gateway's path parameters, or from the raw path where there are none
/// (local Lambda emulators do not match routes).
fn booking_param(request: &Request) -> Option<&str> {
    if let Some(value) = request
        .path_parameters_ref()
        .and_then(|p| p.first("booking"))
    {
        return Some(value);
    }
    request
        .raw_http_path()
        .trim_end_matches('/')
        .strip_suffix("/cancel")?
        .rsplit_once("/bookings/")
        .map(|(_, id)| id)
        .filter(|id| !id.contains('/'))
}

fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Reply> {
    match serde_json::to_string(body) {
        Ok(text) => response(status, "application/json", Reply::Json(text)),
        Err(error) => {
            tracing::error!(%error, "response did not serialize");
            response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "application/problem+json",
                Reply::Json(String::new()),
            )
        }
    }
}

/// An answer's body, as JSON text or as a list already escaped for Lambda's response document.
///
/// Either way a text body: API Gateway passes it through, where a binary one would travel
/// base64-encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    Json(String),
    Escaped(Escaped),
}

impl Reply {
    /// The body of an HTTP response: JSON text.
    pub fn into_body(self) -> Body {
        Body::Text(match self {
            Self::Json(text) => text,
            Self::Escaped(escaped) => escaped.unescape(),
        })
    }
}

pub(super) fn response(
    status: StatusCode,
    content_type: &'static str,
    body: Reply,
) -> Response<Reply> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    // A customer's bookings are personal: no shared cache may keep them.
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    response
}
