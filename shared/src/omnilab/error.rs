use std::time::Duration;

use crate::aws::SdkFailure;

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

/// Why the OmniLab credentials could not be had from their source (Secrets Manager).
#[derive(Debug, Clone, thiserror::Error)]
pub enum CredentialsError {
    #[error("Secrets Manager could not be read ({0})")]
    Unavailable(SdkFailure),
    #[error("Secrets Manager did not answer in time")]
    Timeout,
    #[error(
        "the secret is not JSON of the shape {{\"client_id\", \"client_secret\", \"audience\"}} ({0})"
    )]
    Malformed(Shape),
    /// The secret the template creates, not filled in yet.
    #[error("the secret still holds the template's REPLACE_ME placeholders")]
    Placeholder,
}

/// What is wrong with a secret's shape, by field: never a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Shape {
    #[error("not JSON")]
    NotJson,
    #[error("not a JSON object")]
    NotAnObject,
    /// A binary secret (`SecretBinary`): the functions read only `SecretString`.
    #[error("a binary secret, not a string")]
    Binary,
    #[error("missing field {0}")]
    Missing(&'static str),
    #[error("field {0} is not a string")]
    NotAString(&'static str),
    #[error("empty field {0}")]
    Empty(&'static str),
}

/// How an exchange with OmniLab broke before a whole answer arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// Refused or unreachable: the request provably never left.
    #[error("connect")]
    Connect,
    /// The TLS handshake failed: the request never left either, but repeating cannot help.
    #[error("tls: {0}")]
    Tls(TlsFailure),
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

/// Why a TLS handshake with OmniLab failed, in our words: rustls's own messages may quote the
/// names a certificate presented, and nothing of a certificate belongs in a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TlsFailure {
    #[error("the certificate is not valid for OmniLab's host name")]
    NotValidForName,
    #[error("the certificate has expired or is not valid yet")]
    Expired,
    #[error("the certificate is not from a trusted authority")]
    UntrustedIssuer,
    #[error("the certificate was refused")]
    Certificate,
    #[error("the handshake failed")]
    Handshake,
}

impl TlsFailure {
    fn of(error: &rustls::Error) -> Self {
        use rustls::CertificateError as Why;
        match error {
            rustls::Error::InvalidCertificate(why) => match why {
                Why::NotValidForName | Why::NotValidForNameContext { .. } => Self::NotValidForName,
                Why::Expired
                | Why::ExpiredContext { .. }
                | Why::NotValidYet
                | Why::NotValidYetContext { .. } => Self::Expired,
                Why::UnknownIssuer => Self::UntrustedIssuer,
                _ => Self::Certificate,
            },
            _ => Self::Handshake,
        }
    }

    /// The rustls error somewhere in `error`'s chain of sources, told apart.
    fn find(error: &(dyn std::error::Error + 'static)) -> Option<Self> {
        if let Some(tls) = error.downcast_ref::<rustls::Error>() {
            return Some(Self::of(tls));
        }
        // An io::Error's `source` skips the error it wraps (here another io::Error around
        // rustls's): look inside it instead.
        if let Some(inner) = error
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            return Self::find(inner);
        }
        error.source().and_then(Self::find)
    }
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
        } else if let Some(failure) = TlsFailure::find(error) {
            Self::Transport(TransportError::Tls(failure))
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

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::CertificateError;
    use rustls::pki_types::ServerName;

    /// How a certificate failure reaches us from reqwest: rustls's error inside the TLS
    /// stream's io::Error, inside the connector's.
    fn as_reqwest_wraps_it(error: rustls::Error) -> std::io::Error {
        std::io::Error::other(std::io::Error::new(std::io::ErrorKind::InvalidData, error))
    }

    #[test]
    fn each_certificate_failure_is_told_apart_without_its_contents() {
        let presented = "secret-internal-name.example.org";
        let cases = [
            (
                CertificateError::NotValidForNameContext {
                    expected: ServerName::try_from("acme.api.omnilab-dev.21-digital.com")
                        .unwrap()
                        .to_owned(),
                    presented: vec![presented.to_owned()],
                },
                TlsFailure::NotValidForName,
            ),
            (CertificateError::Expired, TlsFailure::Expired),
            (CertificateError::NotValidYet, TlsFailure::Expired),
            (CertificateError::UnknownIssuer, TlsFailure::UntrustedIssuer),
            (CertificateError::BadSignature, TlsFailure::Certificate),
        ];
        for (error, expected) in cases {
            let wrapped = as_reqwest_wraps_it(rustls::Error::InvalidCertificate(error));
            let failure = TlsFailure::find(&wrapped);
            assert_eq!(failure, Some(expected));
            let logged = UpstreamError::Transport(TransportError::Tls(expected)).to_string();
            assert!(logged.contains("tls: "), "{logged}");
            assert!(!logged.contains(presented), "{logged}");
        }
        let alert = as_reqwest_wraps_it(rustls::Error::AlertReceived(
            rustls::AlertDescription::HandshakeFailure,
        ));
        assert_eq!(TlsFailure::find(&alert), Some(TlsFailure::Handshake));
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(TlsFailure::find(&refused), None, "not every failure is TLS");
    }
}
