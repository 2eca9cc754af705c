use std::time::Duration;

use super::CredentialsError;

/// What went wrong upstream. Deliberately carries no upstream body and no URL: those may hold
/// personal data or tokens, and these errors end up in logs.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    #[error("OmniLab answered HTTP {0}")]
    Status(u16),
    #[error("OmniLab is rate limiting us")]
    RateLimited {
        /// OmniLab's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    #[error("OmniLab did not answer in time")]
    Timeout,
    #[error("could not reach OmniLab ({0})")]
    Transport(&'static str),
    #[error("OmniLab sent a body we cannot read ({0})")]
    Decode(String),
    #[error("OmniLab refused a freshly issued access token")]
    Unauthorized,
    #[error("OmniLab rejected the client credentials")]
    CredentialsRejected,
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
}
impl UpstreamError {
    /// A reqwest error, told apart without its `Display`, which would print the URL.
    pub(crate) fn from_reqwest(error: &reqwest::Error) -> Self {
        if error.is_timeout() {
            Self::Timeout
        } else if error.is_connect() {
            Self::Transport("connect")
        } else if error.is_body() || error.is_decode() {
            Self::Transport("body")
        } else {
            Self::Transport("request")
        }
    }

    /// A JSON error, told apart without its `Display`, which may quote the body.
    pub(crate) fn from_json(error: &serde_json::Error) -> Self {
        let kind = match error.classify() {
            serde_json::error::Category::Io => "io",
            serde_json::error::Category::Syntax => "syntax",
            serde_json::error::Category::Data => "unexpected shape",
            serde_json::error::Category::Eof => "truncated",
        };
        Self::Decode(format!(
            "{kind} at line {} column {}",
            error.line(),
            error.column()
        ))
    }
}
