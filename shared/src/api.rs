//! The HTTP contract of our two routes: requests in, responses out, and the one place where
//! errors become statuses and RFC 9457 problem documents.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambda_http::http::{Method, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;

use crate::booking_id::{BookingId, InvalidBookingId};
use crate::config::{Config, DEFAULT_EXTERNAL_ID_CLAIM};
use crate::identity::{self, IdentityError};
use crate::omnilab::{Call, CredentialsError, OmniLab, Stats, UpstreamError};
use crate::query::{InvalidParameter, ListQuery};
use crate::service::{Bookings, CancelError, ListError};

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

    fn method(self) -> Method {
        match self {
            Self::ListBookings => Method::GET,
            Self::CancelBooking => Method::POST,
        }
    }

    /// The `Allow` header of a 405 on this route.
    fn allow(self) -> &'static str {
        match self {
            Self::ListBookings => "GET",
            Self::CancelBooking => "POST",
        }
    }
}

/// Everything a request can end in other than success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    InvalidParameter(#[from] InvalidParameter),
    #[error(transparent)]
    Unauthenticated(#[from] IdentityError),
    #[error("this route does not accept that method")]
    MethodNotAllowed(Route),
    #[error("no such booking for this customer")]
    NotFound,
    #[error("one page of bookings is larger than one response can carry")]
    TooLarge,
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
}

impl From<CancelError> for ApiError {
    fn from(error: CancelError) -> Self {
        match error {
            CancelError::NotFound => Self::NotFound,
            CancelError::Upstream(error) => Self::Upstream(error),
        }
    }
}

impl From<ListError> for ApiError {
    fn from(error: ListError) -> Self {
        match error {
            ListError::TooLarge => Self::TooLarge,
            ListError::Upstream(error) => Self::Upstream(error),
        }
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    /// The offending request field, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

// Problem types are `tag:` URIs (RFC 4151): stable identifiers that need no web page.
const UNAVAILABLE: (&str, &str, &str) = (
    "tag:omnilab-bookings,2026:upstream-unavailable",
    "Bookings are temporarily unavailable",
    "The booking service is busy. Try again shortly.",
);
const TIMEOUT: (&str, &str, &str) = (
    "tag:omnilab-bookings,2026:upstream-timeout",
    "Bookings took too long",
    "The booking service did not answer in time. Try again shortly.",
);
const UPSTREAM_ERROR: (&str, &str, &str) = (
    "tag:omnilab-bookings,2026:upstream-error",
    "The booking service failed",
    "The booking service answered with an error. Try again shortly.",
);

impl ApiError {
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.problem().status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// What the caller is told, status included, decided in one match. Upstream details stay
    /// in our logs: the caller learns only which kind of failure it was.
    pub fn problem(&self) -> Problem {
        let fixed =
            |status: StatusCode, (kind, title, detail): (&'static str, &'static str, &str)| {
                (status, kind, title, detail.to_owned(), None)
            };
        let (status, kind, title, detail, field) = match self {
            Self::InvalidParameter(error) => (
                StatusCode::BAD_REQUEST,
                "tag:omnilab-bookings,2026:invalid-parameter",
                "Invalid request parameter",
                error.to_string(),
                Some(error.field.clone()),
            ),
            Self::Unauthenticated(_) => fixed(
                StatusCode::UNAUTHORIZED,
                (
                    "tag:omnilab-bookings,2026:unauthenticated",
                    "Not signed in",
                    "Sign in to see your bookings.",
                ),
            ),
            Self::MethodNotAllowed(_) => (
                StatusCode::METHOD_NOT_ALLOWED,
                "tag:omnilab-bookings,2026:method-not-allowed",
                "Method not allowed",
                self.to_string(),
                None,
            ),
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                "tag:omnilab-bookings,2026:booking-not-found",
                "Booking not found",
                "You have no booking with this id.".to_owned(),
                Some("booking".to_owned()),
            ),
            Self::TooLarge => (
                StatusCode::BAD_GATEWAY,
                "tag:omnilab-bookings,2026:response-too-large",
                "Too much to answer at once",
                "These bookings do not fit in one response. Ask for a smaller page_size."
                    .to_owned(),
                Some("page_size".to_owned()),
            ),
            Self::Upstream(error) => match error {
                UpstreamError::RateLimited { .. }
                | UpstreamError::Credentials(CredentialsError::Unavailable(_)) => {
                    fixed(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE)
                }
                UpstreamError::Timeout | UpstreamError::Credentials(CredentialsError::Timeout) => {
                    fixed(StatusCode::GATEWAY_TIMEOUT, TIMEOUT)
                }
                UpstreamError::Credentials(CredentialsError::Placeholder) => fixed(
                    StatusCode::SERVICE_UNAVAILABLE,
                    (
                        "tag:omnilab-bookings,2026:not-configured",
                        "Bookings are not set up yet",
                        "This service has no OmniLab credentials yet. The operators have been told.",
                    ),
                ),
                UpstreamError::Credentials(CredentialsError::Malformed(_)) => fixed(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    (
                        "tag:omnilab-bookings,2026:misconfigured",
                        "Bookings are misconfigured",
                        "This service is not set up correctly. The operators have been told.",
                    ),
                ),
                UpstreamError::Status(_)
                | UpstreamError::Transport(_)
                | UpstreamError::Decode(_)
                | UpstreamError::Unauthorized
                | UpstreamError::CredentialsRejected => {
                    fixed(StatusCode::BAD_GATEWAY, UPSTREAM_ERROR)
                }
            },
        };
        Problem {
            kind,
            title,
            status: status.as_u16(),
            detail,
            field,
        }
    }

    fn log(&self, route: Route) {
        match self {
            Self::Upstream(error) => {
                tracing::error!(route = route.key(), %error, "upstream failure")
            }
            Self::TooLarge => {
                tracing::error!(route = route.key(), error = %self, "upstream failure")
            }
            error => tracing::info!(route = route.key(), %error, "request refused"),
        }
    }
}

/// Why the function could not start.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct StartupError(#[from] crate::config::ConfigError);

/// One container's application: cheap to clone, shared by every concurrent request.
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    bookings: Bookings,
    external_id_claim: String,
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
                bookings: Bookings::new(OmniLab::new(&config)),
                external_id_claim: config.external_id_claim,
            }),
        }
    }

    /// The Lambda start-up: configuration from the environment, or one log line naming the
    /// variable that is wrong.
    pub fn from_env() -> Result<Self, StartupError> {
        Config::from_env()
            .map(Self::new)
            .map_err(StartupError::from)
            .inspect_err(|error| tracing::error!(%error, "cannot start"))
    }

    /// Starts, in the background, the local set-up the first request would otherwise wait for
    /// (the HTTP client with its TLS roots, the Secrets Manager client), so it overlaps the
    /// runtime's first poll for work. No network. Needs a Tokio runtime.
    pub fn prepare_in_background(&self) {
        let app = self.clone();
        tokio::spawn(async move { app.inner.bookings.omnilab().prepare().await });
    }

    pub fn stats(&self) -> Stats {
        self.inner.bookings.omnilab().stats()
    }

    /// Serves one request of `route`: always an answer, never a panic or an `Err`.
    pub async fn handle(&self, route: Route, request: Request) -> Response<Body> {
        let started = Instant::now();
        let budget = self.budget(&request);
        let call = Call::new(budget);
        let work = async {
            match route {
                Route::ListBookings => self.list(&call, &request).await,
                Route::CancelBooking => self.cancel(&call, &request).await,
            }
        };
        // The one bound on every wait inside (a token or secret another request is fetching, a
        // cancel of the same booking in flight): none outlives this request's deadline.
        let outcome = tokio::time::timeout(budget, work)
            .await
            .unwrap_or(Err(ApiError::Upstream(UpstreamError::Timeout)));
        let response = outcome.unwrap_or_else(|error| {
            error.log(route);
            problem_response(&error)
        });
        tracing::info!(
            route = route.key(),
            status = response.status().as_u16(),
            duration_ms = started.elapsed().as_secs_f64() * 1000.0,
            upstream_calls = call.upstream_calls(),
            "request"
        );
        response
    }

    async fn list(&self, call: &Call, request: &Request) -> Result<Response<Body>, ApiError> {
        check_method(Route::ListBookings, request)?;
        let customer = identity::customer(request, &self.inner.external_id_claim)?;
        let query = ListQuery::parse(query_pairs(request))?;
        let list = self.inner.bookings.list(call, &customer, &query).await?;
        Ok(response(StatusCode::OK, "application/json", list))
    }

    async fn cancel(&self, call: &Call, request: &Request) -> Result<Response<Body>, ApiError> {
        check_method(Route::CancelBooking, request)?;
        let customer = identity::customer(request, &self.inner.external_id_claim)?;
        if let Some((name, _)) = query_pairs(request).next() {
            return Err(InvalidParameter::new(name, "is not accepted by this route").into());
        }
        let id = booking_param(request)
            .ok_or(ApiError::NotFound)
            .and_then(|text| {
                BookingId::parse(text)
                    .map_err(|_| InvalidParameter::new("booking", InvalidBookingId::REASON).into())
            })?;
        let cancelled = self.inner.bookings.cancel(call, &customer, &id).await?;
        Ok(json_response(StatusCode::OK, &cancelled))
    }

    /// The time this request may spend: up to Lambda's deadline (less a margin), or the
    /// configured default where there is none (local runs).
    fn budget(&self, request: &Request) -> Duration {
        let default = self.inner.bookings.omnilab().policy().default_budget;
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

/// A Lambda function serving `route`: the whole `main` of each binary.
///
/// Logging first, then the configuration (a bad setting is logged, naming the variable, and the
/// process exits: a runtime loop without config would only fail every request), then one
/// runtime loop per `AWS_LAMBDA_MAX_CONCURRENCY` slot (one on classic Lambda), all sharing the
/// app: its HTTP connections, credentials and token.
pub async fn serve(route: Route) -> Result<(), lambda_http::Error> {
    crate::telemetry::init();
    let Ok(app) = App::from_env() else {
        std::process::exit(1);
    };
    app.prepare_in_background();
    lambda_http::run_concurrent(lambda_http::service_fn(move |request| {
        let app = app.clone();
        async move { Ok::<_, lambda_http::Error>(app.handle(route, request).await) }
    }))
    .await
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
pub fn booking_param(request: &Request) -> Option<&str> {
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

fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    match serde_json::to_string(body) {
        Ok(text) => response(status, "application/json", text),
        Err(error) => {
            tracing::error!(%error, "response did not serialize");
            response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "application/problem+json",
                String::new(),
            )
        }
    }
}

fn problem_response(error: &ApiError) -> Response<Body> {
    let problem = error.problem();
    let text = serde_json::to_string(&problem).unwrap_or_default();
    let mut response = response(error.status(), "application/problem+json", text);
    let headers = response.headers_mut();
    match error {
        ApiError::Unauthenticated(_) => {
            headers.insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        // RFC 9110: a 405 says which methods the route does take.
        ApiError::MethodNotAllowed(route) => {
            headers.insert(
                header::ALLOW,
                header::HeaderValue::from_static(route.allow()),
            );
        }
        _ => {}
    }
    response
}

// Text bodies: API Gateway passes them through, where binary ones would travel base64-encoded.
fn response(status: StatusCode, content_type: &'static str, body: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(body));
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
