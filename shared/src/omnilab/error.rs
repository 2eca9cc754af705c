use std::time::Duration;

use super::CredentialsError;

/// What went wrong upstream. Deliberately carries no upstream body and no URL: those may hold
/// personal data or tokens, and these errors end up in logs.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    #[error("OmniLab answered HTTP {0}")]
    Status(u16),
    /// The cancel endpoint refused this booking for its state (409, 422, or a 400 naming it):
    /// an answer about the booking, not a failure of ours or OmniLab's.
    #[error("OmniLab refused to cancel the booking (HTTP {0})")]
    CancelRefused(u16),
    #[error("OmniLab is rate limiting us")]
    RateLimited {
        /// OmniLab's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    #[error("OmniLab did not answer in time")]
    Timeout,
    #[error("could not reach OmniLab ({0})")]
    Transport(TransportError),
    #[error("OmniLab sent a body we cannot read ({0})")]
    Malformed(Malformed),
    #[error("OmniLab refused a freshly issued access token")]
    Unauthorized,
    #[error("OmniLab rejected the client credentials")]
    CredentialsRejected,
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
}

/// How an exchange with OmniLab broke before a whole answer arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// Refused or unreachable: the request provably never left.
    #[error("connect")]
    Connect,
    /// The answer started and was cut off.
    #[error("body")]
    Dropped,
    /// Anything else that failed in sending.
    #[error("request")]
    Request,
    /// The HTTP client itself could not be built.
    #[error("client")]
    Client,
}

/// An answer that arrived whole but cannot be what OmniLab documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("body too large")]
    TooLarge,
    #[error("{kind} at line {line} column {column}")]
    Json {
        kind: JsonError,
        line: usize,
        column: usize,
    },
    #[error("empty access_token")]
    EmptyToken,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    #[error("io")]
    Io,
    #[error("syntax")]
    Syntax,
    #[error("unexpected shape")]
    Shape,
    #[error("truncated")]
    Truncated,
}

impl UpstreamError {
    /// A reqwest error, told apart without its `Display`, which would print the URL.
    pub(crate) fn from_reqwest(error: &reqwest::Error) -> Self {
        if error.is_timeout() {
            Self::Timeout
        } else if error.is_connect() {
            Self::Transport(TransportError::Connect)
        } else if error.is_body() || error.is_decode() {
            Self::Transport(TransportError::Dropped)
        } else {
            Self::Transport(TransportError::Request)
        }
    }

    /// A JSON error, told apart without its `Display`, which may quote the body.
    pub(crate) fn from_json(error: &serde_json::Error) -> Self {
        let kind = match error.classify() {
            serde_json::error::Category::Io => JsonError::Io,
            serde_json::error::Category::Syntax => JsonError::Syntax,
            serde_json::error::Category::Data => JsonError::Shape,
            serde_json::error::Category::Eof => JsonError::Truncated,
        };
        Self::Malformed(Malformed::Json {
            kind,
            line: error.line(),
            column: error.column(),
        })
    }
}
