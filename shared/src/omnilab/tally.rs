//! What one request cost upstream, counted as it happens: the figures its metrics report.

use std::sync::Mutex;
use std::time::Duration;

use reqwest::StatusCode;

use super::UpstreamError;

/// OmniLab's endpoints, as metric dimension values: a fixed set, never a URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Token,
    FetchContactBookings,
    CancelInteractionBooking,
}

impl Endpoint {
    pub const ALL: [Self; 3] = [
        Self::Token,
        Self::FetchContactBookings,
        Self::CancelInteractionBooking,
    ];

    /// Whether `status` is one of this endpoint's ordinary answers rather than a failure: a
    /// cancel refused for the booking's state (409, 422) or of a booking that is gone (404)
    /// says something about the booking, not about OmniLab's health or ours.
    pub(crate) fn answers(self, status: StatusCode) -> bool {
        matches!(
            (self, status.as_u16()),
            (Self::CancelInteractionBooking, 404 | 409 | 422)
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::FetchContactBookings => "fetchContactBookings",
            Self::CancelInteractionBooking => "cancelInteractionBooking",
        }
    }
}

/// How an attempt failed, as a metric dimension value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    Timeout,
    ServerError,
    RateLimited,
    Unauthorized,
    ClientError,
    Malformed,
    Transport,
}

impl FailureKind {
    pub const ALL: [Self; 7] = [
        Self::Timeout,
        Self::ServerError,
        Self::RateLimited,
        Self::Unauthorized,
        Self::ClientError,
        Self::Malformed,
        Self::Transport,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::ServerError => "5xx",
            Self::RateLimited => "429",
            Self::Unauthorized => "401",
            Self::ClientError => "4xx",
            Self::Malformed => "malformed",
            Self::Transport => "transport",
        }
    }

    /// The kind of a failed attempt, `None` for an answer that is not a failure.
    pub(crate) fn of_status(status: StatusCode) -> Option<Self> {
        match status {
            StatusCode::TOO_MANY_REQUESTS => Some(Self::RateLimited),
            StatusCode::UNAUTHORIZED => Some(Self::Unauthorized),
            status if status.is_server_error() => Some(Self::ServerError),
            status if status.is_client_error() => Some(Self::ClientError),
            _ => None,
        }
    }

    pub(crate) fn of_error(error: &UpstreamError) -> Self {
        match error {
            UpstreamError::Timeout => Self::Timeout,
            UpstreamError::Transport(_) => Self::Transport,
            UpstreamError::Malformed(_) => Self::Malformed,
            UpstreamError::RateLimited { .. } => Self::RateLimited,
            UpstreamError::Unauthorized | UpstreamError::CredentialsRejected => Self::Unauthorized,
            UpstreamError::Status(status) if *status >= 500 => Self::ServerError,
            UpstreamError::Status(_)
            | UpstreamError::CancelRefused(_)
            | UpstreamError::Credentials(_) => Self::ClientError,
        }
    }
}

/// EMF takes at most 100 values per metric in one document.
const MAX_DURATIONS: usize = 100;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct EndpointTally {
    pub attempts: u32,
    /// One per attempt, in milliseconds (the first 100).
    pub durations_ms: Vec<f64>,
    /// Indexed like [`FailureKind::ALL`].
    pub failures: [u32; FailureKind::ALL.len()],
}

impl EndpointTally {
    pub fn failed(&self) -> u32 {
        self.failures.iter().sum()
    }
}

/// Everything counted for one request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally {
    /// Indexed like [`Endpoint::ALL`].
    pub endpoints: [EndpointTally; Endpoint::ALL.len()],
    /// Every round trip: Secrets Manager reads, DynamoDB and OmniLab calls alike.
    pub upstream_calls: u32,
    pub retries: u32,
    pub token_exchange_failures: u32,
    pub secret_reads: u32,
    pub cancellations: u32,
    /// Requests that found a usable token in the shared table.
    pub shared_token_hits: u32,
    /// Requests that found none (absent, expired, refused by OmniLab, or unusable).
    pub shared_token_misses: u32,
    /// Requests that used a token of the container's own: the table failed them, or another
    /// container's exchange outlasted their patience.
    pub shared_token_fallbacks: u32,
    /// Requests that waited for another container's exchange.
    pub shared_token_waits: u32,
    /// Leases taken over one that had lapsed or was unusable: a container died mid-exchange.
    pub shared_token_takeovers: u32,
    /// Requests that found an item they could not use (wrong types, sizes or times).
    pub shared_token_unusable: u32,
    /// Requests that found the shared token issued to another OmniLab client than the secret
    /// names (the secret was switched to another client) and replaced it.
    pub shared_token_other_client: u32,
    /// DynamoDB calls made for the shared token (also counted in `upstream_calls`).
    pub token_table_calls: u32,
    /// Requests the shared table failed (a read, lease or publish refused, throttled or too
    /// slow): the container then leaves the table aside for a while.
    pub token_table_failures: u32,
}

impl Tally {
    pub fn endpoint(&self, endpoint: Endpoint) -> &EndpointTally {
        &self.endpoints[endpoint as usize]
    }

    /// How the request got its token from the shared table, in a word for its log line:
    /// `fallback` (a token of the container's own), `waited` (for another container's
    /// exchange), `miss` (it exchanged under the lease) or `hit`; `None` when it did not ask.
    pub fn shared_token(&self) -> Option<&'static str> {
        if self.shared_token_fallbacks > 0 {
            Some("fallback")
        } else if self.shared_token_waits > 0 {
            Some("waited")
        } else if self.shared_token_misses > 0 {
            Some("miss")
        } else if self.shared_token_hits > 0 {
            Some("hit")
        } else {
            None
        }
    }
}

/// The tally of one request, written to by whichever of its tasks makes a call.
#[derive(Debug, Default)]
pub(crate) struct Recorder(Mutex<Tally>);

impl Recorder {
    pub(crate) fn snapshot(&self) -> Tally {
        self.with(|tally| tally.clone())
    }

    pub(crate) fn with<T>(&self, update: impl FnOnce(&mut Tally) -> T) -> T {
        // A panic elsewhere while holding it leaves counts, not a broken invariant.
        let mut tally = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        update(&mut tally)
    }

    pub(crate) fn attempt(
        &self,
        endpoint: Endpoint,
        took: Duration,
        failure: Option<FailureKind>,
        retry: bool,
    ) {
        self.with(|tally| {
            tally.retries += u32::from(retry);
            let counts = &mut tally.endpoints[endpoint as usize];
            counts.attempts += 1;
            if counts.durations_ms.len() < MAX_DURATIONS {
                counts.durations_ms.push(took.as_secs_f64() * 1000.0);
            }
            if let Some(kind) = failure {
                counts.failures[kind as usize] += 1;
            }
        });
    }

    /// A whole answer that turned out unreadable: the attempt counted as sent is a failure.
    pub(crate) fn malformed(&self, endpoint: Endpoint) {
        self.with(|tally| {
            tally.endpoints[endpoint as usize].failures[FailureKind::Malformed as usize] += 1
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_or_vanished_cancel_is_an_answer_and_a_refused_fetch_a_failure() {
        let cancel = Endpoint::CancelInteractionBooking;
        for status in [404, 409, 422] {
            assert!(
                cancel.answers(StatusCode::from_u16(status).unwrap()),
                "{status}"
            );
        }
        assert!(!cancel.answers(StatusCode::BAD_REQUEST));
        assert!(!cancel.answers(StatusCode::INTERNAL_SERVER_ERROR));
        for status in [400, 404, 409] {
            let status = StatusCode::from_u16(status).unwrap();
            assert!(!Endpoint::FetchContactBookings.answers(status));
            assert!(!Endpoint::Token.answers(status));
        }
    }
}
