//! The AWS SDK's configuration, loaded once per container for every AWS client we build, and
//! its errors reduced to what is safe to log.

use std::fmt;

use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use tokio::sync::OnceCell;

/// aws-config's resolved settings (region, credentials, endpoints), shared by the Secrets
/// Manager and DynamoDB clients.
#[derive(Default)]
pub(crate) struct AwsConfig(OnceCell<aws_config::SdkConfig>);

impl AwsConfig {
    pub(crate) async fn get(&self) -> &aws_config::SdkConfig {
        self.0
            .get_or_init(|| async {
                let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
                // Lambda hands the role's credentials over in environment variables. Taking them
                // from there skips building the default chain's providers, ~5 ms of a cold start
                // (docs/performance.md); without them, the default chain decides as usual.
                if std::env::var_os("AWS_ACCESS_KEY_ID").is_some() {
                    loader = loader.credentials_provider(
                        aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
                    );
                }
                if let Some(client) = http_client() {
                    loader = loader.http_client(client);
                }
                loader.load().await
            })
            .await
    }
}

/// The SDK's default HTTPS client, trusting the Mozilla roots compiled into the binary (those
/// OmniLab's client trusts) instead of the system's CA store.
///
/// Why: the default reads and parses the system store when the client is first built, on the
/// cold-start path: on this machine 3.0 of the 5.0 ms of CPU a start-up cost (`perf stat` of the
/// release binary; Debian's store is a bundle and a directory of ~150 files; Amazon Linux's is
/// a bundle or two, less but of the same kind). AWS's endpoints chain to Amazon Trust Services
/// roots, which are in Mozilla's program, as is everything in Amazon Linux's store. `None` (the
/// SDK's default client) only if the compiled-in roots were refused, which a test rules out.
fn http_client() -> Option<aws_smithy_runtime_api::client::http::SharedHttpClient> {
    use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
    let mut roots = TrustStore::empty();
    roots.add_pem_certificate(mozilla_roots_pem());
    let context = TlsContext::builder().with_trust_store(roots).build().ok()?;
    Some(
        aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::AwsLc,
            ))
            .tls_context(context)
            .build_https(),
    )
}

/// Mozilla's root certificates (webpki-root-certs, compiled in) as one PEM bundle, the only
/// form the SDK's trust store takes. Public for `examples/roots_cost.rs`, which times it.
pub fn mozilla_roots_pem() -> Vec<u8> {
    use base64::Engine;
    let mut pem = Vec::with_capacity(webpki_root_certs::TLS_SERVER_ROOT_CERTS.len() * 2048);
    for certificate in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        let text = base64::engine::general_purpose::STANDARD.encode(certificate.as_ref());
        pem.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
        for line in text.as_bytes().chunks(64) {
            pem.extend_from_slice(line);
            pem.push(b'\n');
        }
        pem.extend_from_slice(b"-----END CERTIFICATE-----\n");
    }
    pem
}

/// An AWS SDK error, reduced to what is safe to log: its kind, the service's error code and the
/// HTTP status. Never the error's `Debug` or `DisplayErrorContext`: for a response the SDK
/// could not parse, those carry the raw body, which for `GetSecretValue` is the secret itself
/// and for `GetItem` the access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdkFailure {
    kind: &'static str,
    code: Option<String>,
    status: Option<u16>,
}

impl SdkFailure {
    pub(crate) fn of<E, R>(error: &SdkError<E, R>, status: impl Fn(&R) -> u16) -> Self
    where
        E: ProvideErrorMetadata,
    {
        let kind = match error {
            SdkError::ConstructionFailure(_) => "construction failure",
            SdkError::TimeoutError(_) => "timeout",
            SdkError::DispatchFailure(_) => "dispatch failure",
            SdkError::ResponseError(_) => "unreadable response",
            SdkError::ServiceError(_) => "service error",
            _ => "other",
        };
        // Error codes are identifiers such as `ResourceNotFoundException`; anything else is not
        // a code but text from a body we cannot vouch for.
        let code = match error {
            SdkError::ServiceError(service) => service.err().code(),
            _ => None,
        }
        .filter(|code| {
            code.len() <= 64
                && code
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'))
        })
        .map(str::to_owned);
        Self {
            kind,
            code,
            status: error.raw_response().map(status),
        }
    }
}

impl fmt::Display for SdkFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind)?;
        if let Some(code) = &self.code {
            write!(f, ", code {code}")?;
        }
        if let Some(status) = self.status {
            write!(f, ", HTTP {status}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    /// The SDK's trust store turns each PEM certificate into a root with an `expect`: every one
    /// of ours must parse, or the first AWS call would panic.
    #[test]
    fn every_compiled_in_root_reaches_the_sdks_trust_store() {
        let pem = mozilla_roots_pem();
        let certificates = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        assert_eq!(
            certificates.len(),
            webpki_root_certs::TLS_SERVER_ROOT_CERTS.len()
        );
        let mut roots = rustls::RootCertStore::empty();
        for certificate in certificates {
            roots.add(certificate).unwrap();
        }
        // Amazon Trust Services, which AWS's endpoints chain to, among them.
        assert!(roots.len() > 100);
        assert!(
            webpki_root_certs::TLS_SERVER_ROOT_CERTS
                .iter()
                .any(|c| c.windows(16).any(|w| w == b"Amazon Root CA 1"))
        );
        assert!(http_client().is_some());
    }
}
