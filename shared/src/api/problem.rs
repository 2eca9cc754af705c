//! The one place where a failure becomes an answer: its status, RFC 9457 problem document
//! and headers, decided together in one match.

use lambda_http::Response;
use lambda_http::http::{StatusCode, header};
use serde::Serialize;

use super::{Reply, Route, response};
use crate::identity::IdentityError;
use crate::omnilab::{CredentialsError, UpstreamError};
use crate::query::InvalidParameter;
use crate::service::{CancelError, ListError};

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
    #[error(transparent)]
    NotCancellable(CancelError),
    #[error("one page of bookings is larger than one response can carry")]
    TooLarge,
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
}

impl From<CancelError> for ApiError {
    fn from(error: CancelError) -> Self {
        match error {
            CancelError::NotFound => Self::NotFound,
            CancelError::NotCancellable(_) => Self::NotCancellable(error),
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
            Self::NotCancellable(_) => (
                StatusCode::CONFLICT,
                "tag:omnilab-bookings,2026:booking-not-cancellable",
                "Booking cannot be cancelled",
                "This booking can no longer be cancelled.".to_owned(),
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
                | UpstreamError::CancelRefused(_)
                | UpstreamError::Transport(_)
                | UpstreamError::Malformed(_)
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

    pub(super) fn log(&self, route: Route) {
        match self {
            Self::Upstream(error) => {
                tracing::error!(route = route.key(), %error, "upstream failure")
            }
            Self::TooLarge => {
                tracing::error!(route = route.key(), error = %self, "upstream failure")
            }
            // The customer's answer, not on-call's problem; but a run of them is worth a look.
            Self::NotCancellable(error) => {
                tracing::warn!(route = route.key(), %error, "cancel refused")
            }
            error => tracing::info!(route = route.key(), %error, "request refused"),
        }
    }
}

pub(super) fn problem_response(error: &ApiError) -> Response<Reply> {
    let problem = error.problem();
    let text = serde_json::to_string(&problem).unwrap_or_default();
    let mut response = response(
        error.status(),
        "application/problem+json",
        Reply::Json(text),
    );
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
